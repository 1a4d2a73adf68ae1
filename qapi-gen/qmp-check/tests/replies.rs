//! QMP replies and events as QEMU writes them (written here from QEMU 10.2's schema),
//! each read into the type qapi-gen generated for it and written back: the JSON that
//! comes out is the JSON that went in.

#![cfg(qmp_schema)]

use qapi_gen_qmp_check::qmp;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

fn round_trip<T: DeserializeOwned + Serialize + std::fmt::Debug>(json: &str) -> T {
    let sent: Value = serde_json::from_str(json).expect("valid JSON");
    let typed: T = serde_json::from_value(sent.clone())
        .unwrap_or_else(|e| panic!("{json} as {}: {e}", std::any::type_name::<T>()));
    let back = serde_json::to_value(&typed).expect("serializes");
    assert_eq!(back, sent, "{typed:?}");
    typed
}

#[test]
fn query_version_status_kvm_name_uuid() {
    let v: qmp::VersionInfo = round_trip(
        r#"{"qemu": {"micro": 50, "minor": 2, "major": 10}, "package": "v10.2.0-1-g75fdca41"}"#,
    );
    assert_eq!(v.qemu.major, 10);
    let s: qmp::StatusInfo = round_trip(r#"{"status": "running", "running": true}"#);
    assert_eq!(s.status, qmp::RunState::Running);
    round_trip::<qmp::StatusInfo>(r#"{"status": "postmigrate", "running": false}"#);
    round_trip::<qmp::KvmInfo>(r#"{"enabled": false, "present": true}"#);
    round_trip::<qmp::NameInfo>(r#"{"name": "guest0"}"#);
    round_trip::<qmp::NameInfo>(r#"{}"#);
    round_trip::<qmp::UuidInfo>(r#"{"UUID": "550e8400-e29b-41d4-a716-446655440000"}"#);
}

#[test]
fn query_cpus_fast_a_flat_union_on_the_target() {
    let cpus: Vec<qmp::CpuInfoFast> = round_trip(
        r#"[
            {"thread-id": 25627, "props": {"core-id": 0, "thread-id": 0, "socket-id": 0},
             "qom-type": "qemu64-x86_64-cpu", "qom-path": "/machine/unattached/device[0]",
             "cpu-index": 0, "target": "x86_64"},
            {"thread-id": 25628, "qom-type": "host-s390x-cpu",
             "qom-path": "/machine/unattached/device[1]", "cpu-index": 1,
             "target": "s390x", "cpu-state": "operating", "dedicated": false}
        ]"#,
    );
    assert!(matches!(cpus[0].target, qmp::CpuInfoFastBranch::X86_64));
    assert!(matches!(cpus[1].target, qmp::CpuInfoFastBranch::S390x(_)));
}

#[test]
fn query_machines() {
    round_trip::<Vec<qmp::MachineInfo>>(
        r#"[{"hotpluggable-cpus": true, "name": "pc-q35-10.2", "numa-mem-supported": false,
             "default-cpu-type": "qemu64-x86_64-cpu", "acpi": true, "cpu-max": 4096,
             "deprecated": false, "default-ram-id": "pc.ram", "alias": "q35",
             "is-default": false},
            {"hotpluggable-cpus": false, "name": "none", "numa-mem-supported": false,
             "acpi": false, "cpu-max": 1, "deprecated": false}]"#,
    );
}

#[test]
fn query_block_with_a_union_inside_a_recursive_struct() {
    let blocks: Vec<qmp::BlockInfo> = round_trip(
        r##"[{"io-status": "ok", "device": "drive-virtio0", "locked": false, "removable": false,
             "qdev": "/machine/peripheral/virtio0/virtio-backend", "type": "unknown",
             "inserted": {
                "iops_rd": 0, "detect_zeroes": "off", "iops_wr": 0, "ro": false,
                "node-name": "#block143", "backing_file_depth": 1, "drv": "qcow2",
                "iops": 0, "bps_wr": 0, "write_threshold": 0, "encrypted": false,
                "bps": 0, "bps_rd": 0, "active": true,
                "cache": {"no-flush": false, "direct": false, "writeback": true},
                "file": "disk.qcow2", "backing_file": "base.qcow2",
                "children": [{"child": "file", "node-name": "#block029"}],
                "image": {
                    "virtual-size": 10737418240, "filename": "disk.qcow2",
                    "cluster-size": 65536, "format": "qcow2", "actual-size": 200704,
                    "dirty-flag": false, "backing-filename": "base.qcow2",
                    "format-specific": {"type": "qcow2", "data": {
                        "compat": "1.1", "compression-type": "zlib",
                        "lazy-refcounts": false, "refcount-bits": 16, "corrupt": false,
                        "extended-l2": false}},
                    "backing-image": {"virtual-size": 10737418240, "filename": "base.qcow2",
                                      "format": "raw"}
                }
             }}]"##,
    );
    let image = &blocks[0].inserted.as_ref().expect("inserted").image;
    assert!(
        image.backing_image.is_some(),
        "a struct that holds itself, boxed"
    );
    assert!(matches!(
        image.format_specific.as_ref().map(|f| &f.r#type),
        Some(qmp::ImageInfoSpecificBranch::Qcow2(_))
    ));
}

#[test]
fn blockdev_add_an_alternate_holding_a_union() {
    let options: qmp::BlockdevOptions = round_trip(
        r#"{"driver": "qcow2", "node-name": "disk0",
            "file": {"driver": "file", "filename": "disk.qcow2"}}"#,
    );
    assert_eq!(options.node_name.as_deref(), Some("disk0"));
    // The same member naming a node instead of defining one.
    round_trip::<qmp::BlockdevOptions>(r#"{"driver": "qcow2", "file": "file0"}"#);
    // An unknown driver is no branch of the union.
    let e = serde_json::from_str::<qmp::BlockdevOptions>(r#"{"driver": "floppy-of-doom"}"#);
    assert!(e.is_err());
}

#[test]
fn events_with_data() {
    round_trip::<qmp::events::ShutdownData>(r#"{"guest": true, "reason": "guest-shutdown"}"#);
    round_trip::<qmp::events::BlockJobCompletedData>(
        r#"{"type": "stream", "device": "virtio0", "len": 10737418240,
            "offset": 10737418240, "speed": 0}"#,
    );
    assert_eq!(qmp::events::Shutdown::NAME, "SHUTDOWN");
}

#[test]
fn command_descriptors_name_the_wire() {
    use qga_types::Command;
    assert_eq!(<qmp::commands::QueryBlock as Command>::NAME, "query-block");
    assert_eq!(
        <qmp::commands::QueryCpusFast as Command>::NAME,
        "query-cpus-fast"
    );
}
