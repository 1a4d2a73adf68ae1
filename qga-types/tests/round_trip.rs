//! Every response shape of the manual and of QEMU's agent (7.2, as observed)
//! deserializes into the generated type and serializes back to the same JSON.

use qga_types::commands;
use qga_types::Command;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// `value` survives a trip through the `Returns` type of command `C`.
fn round_trip<C: Command>(value: Value) {
    round_trip_as::<C::Returns>(C::NAME, value);
}

fn round_trip_as<T: Serialize + DeserializeOwned>(what: &str, value: Value) {
    let typed: T = serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(serde_json::to_value(&typed).unwrap(), value, "{what}");
}

#[test]
fn scalar_returns() {
    round_trip::<commands::GuestSync>(json!(12345));
    round_trip::<commands::GuestSyncDelimited>(json!(-7));
    round_trip::<commands::GuestGetTime>(json!(1_795_863_280_016_311_000_i64));
    round_trip::<commands::GuestFileOpen>(json!(1000));
    round_trip::<commands::GuestFsfreezeStatus>(json!("thawed"));
    round_trip::<commands::GuestFsfreezeStatus>(json!("frozen"));
    round_trip::<commands::GuestFsfreezeFreeze>(json!(2));
    round_trip::<commands::GuestSetVcpus>(json!(1));
}

#[test]
fn empty_returns() {
    round_trip::<commands::GuestPing>(json!({}));
    round_trip::<commands::GuestFileClose>(json!({}));
    round_trip::<commands::GuestSetTime>(json!({}));
}

#[test]
fn info() {
    round_trip::<commands::GuestInfo>(json!({
        "version": "7.2.22",
        "supported_commands": [
            {"enabled": true, "name": "guest-ping", "success-response": true},
            {"enabled": false, "name": "guest-shutdown", "success-response": false}
        ]
    }));
}

#[test]
fn files() {
    round_trip::<commands::GuestFileRead>(json!({"count": 5, "buf-b64": "aGVsbG8=", "eof": true}));
    round_trip::<commands::GuestFileRead>(json!({"count": 0, "buf-b64": "", "eof": true}));
    round_trip::<commands::GuestFileWrite>(json!({"count": 5, "eof": false}));
    round_trip::<commands::GuestFileSeek>(json!({"position": 1048576, "eof": false}));
    let read: qga_types::GuestFileRead =
        serde_json::from_value(json!({"count": 5, "buf-b64": "aGVsbG8=", "eof": true})).unwrap();
    assert_eq!(read.buf_b64, b"hello");
}

#[test]
fn filesystems() {
    round_trip::<commands::GuestGetFsinfo>(json!([{
        "name": "vda",
        "mountpoint": "/",
        "type": "ext4",
        "used-bytes": 13860741120_u64,
        "total-bytes": 97572749312_u64,
        "disk": [{
            "pci-controller": {"domain": 0, "bus": 0, "slot": 2, "function": 0},
            "bus-type": "virtio", "bus": 0, "target": 0, "unit": 0, "dev": "/dev/vda"
        }]
    }]));
    round_trip::<commands::GuestGetFsinfo>(json!([{
        "name": "sda1", "mountpoint": "/data", "type": "xfs",
        "disk": [{
            "pci-controller": {"domain": 0, "bus": 0, "slot": 4, "function": 0},
            "bus-type": "scsi", "bus": 0, "target": 1, "unit": 0, "serial": "QM00002",
            "dev": "/dev/sda1"
        }, {
            "pci-controller": {"domain": 0, "bus": 0, "slot": 0, "function": 0},
            "bus-type": "unknown", "bus": 0, "target": 0, "unit": 0,
            "ccw-address": {"cssid": 254, "ssid": 0, "subchno": 1, "devno": 2}
        }]
    }]));
    round_trip::<commands::GuestFstrim>(json!({"paths": [
        {"path": "/", "trimmed": 123456, "minimum": 0},
        {"path": "/boot", "error": "Operation not supported"}
    ]}));
}

#[test]
fn network() {
    round_trip::<commands::GuestNetworkGetInterfaces>(json!([
        {
            "name": "lo",
            "hardware-address": "00:00:00:00:00:00",
            "ip-addresses": [
                {"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8},
                {"ip-address-type": "ipv6", "ip-address": "::1", "prefix": 128}
            ],
            "statistics": {
                "rx-bytes": 3193, "rx-packets": 29, "rx-errs": 0, "rx-dropped": 0,
                "tx-bytes": 3193, "tx-packets": 29, "tx-errs": 0, "tx-dropped": 0
            }
        },
        {"name": "ifb0", "hardware-address": "b2:00:33:04:64:fa"}
    ]));
}

#[test]
fn processors_and_memory() {
    round_trip::<commands::GuestGetVcpus>(json!([
        {"logical-id": 1, "online": true, "can-offline": true},
        {"logical-id": 0, "online": true, "can-offline": false}
    ]));
    round_trip::<commands::GuestGetMemoryBlocks>(json!([
        {"phys-index": 188, "online": true, "can-offline": true},
        {"phys-index": 0, "online": true}
    ]));
    round_trip::<commands::GuestGetMemoryBlockInfo>(json!({"size": 134217728}));
    round_trip::<commands::GuestSetMemoryBlocks>(json!([
        {"phys-index": 3, "response": "success"},
        {"phys-index": 4, "response": "operation-failed", "error-code": 16},
        {"phys-index": 5, "response": "operation-not-supported"}
    ]));
}

#[test]
fn exec() {
    round_trip::<commands::GuestExec>(json!({"pid": 4242}));
    round_trip::<commands::GuestExecStatus>(json!({"exited": false}));
    round_trip::<commands::GuestExecStatus>(json!({
        "exited": true, "exitcode": 3,
        "out-data": "b3V0Cg==", "err-data": "ZXJyCg==",
        "out-truncated": false, "err-truncated": false
    }));
    round_trip::<commands::GuestExecStatus>(json!({"exited": true, "signal": 9}));
}

#[test]
fn host_information() {
    round_trip::<commands::GuestGetHostName>(json!({"host-name": "vm"}));
    round_trip::<commands::GuestGetTimezone>(json!({"zone": "UTC", "offset": 0}));
    round_trip::<commands::GuestGetTimezone>(json!({"offset": 3600}));
    round_trip::<commands::GuestGetUsers>(json!([]));
    round_trip::<commands::GuestGetUsers>(json!([{"user": "root", "login-time": 1795863280.5}]));
    round_trip::<commands::GuestGetOsinfo>(json!({
        "name": "Debian GNU/Linux", "kernel-release": "6.1.0-28-amd64", "version": "12 (bookworm)",
        "pretty-name": "Debian GNU/Linux 12 (bookworm)", "version-id": "12",
        "kernel-version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)",
        "machine": "x86_64", "id": "debian"
    }));
}

#[test]
fn arguments() {
    round_trip_as::<<commands::GuestFileSeek as Command>::Arguments>(
        "guest-file-seek (int)",
        json!({"handle": 1000, "offset": 5, "whence": 0}),
    );
    round_trip_as::<<commands::GuestFileSeek as Command>::Arguments>(
        "guest-file-seek (name)",
        json!({"handle": 1000, "offset": -5, "whence": "end"}),
    );
    round_trip_as::<<commands::GuestExec as Command>::Arguments>(
        "guest-exec",
        json!({"path": "sh", "arg": ["-c", "cat"], "env": ["A=1"], "input-data": "aGk=", "capture-output": true}),
    );
    round_trip_as::<<commands::GuestSetVcpus as Command>::Arguments>(
        "guest-set-vcpus",
        json!({"vcpus": [{"logical-id": 1, "online": false}]}),
    );
    round_trip_as::<<commands::GuestSetUserPassword as Command>::Arguments>(
        "guest-set-user-password",
        json!({"username": "root", "password": "c2VjcmV0", "crypted": false}),
    );
    round_trip_as::<<commands::GuestPing as Command>::Arguments>("guest-ping", json!({}));
}

#[test]
fn arguments_refuse_unknown_members_and_returns_accept_them() {
    let unknown_argument = serde_json::from_value::<<commands::GuestFileClose as Command>::Arguments>(
        json!({"handle": 1000, "bogus": 1}),
    );
    assert!(unknown_argument.is_err());
    let newer_agent: qga_types::GuestFileWrite =
        serde_json::from_value(json!({"count": 1, "eof": false, "added-later": true})).unwrap();
    assert_eq!(newer_agent.count, 1);
}

#[test]
fn alternates_pick_by_json_kind() {
    use qga_types::{GuestFileWhence, QGASeek};
    assert_eq!(
        serde_json::from_value::<GuestFileWhence>(json!(2)).unwrap(),
        GuestFileWhence::Value(2)
    );
    assert_eq!(
        serde_json::from_value::<GuestFileWhence>(json!("cur")).unwrap(),
        GuestFileWhence::Name(QGASeek::Cur)
    );
    assert!(serde_json::from_value::<GuestFileWhence>(json!("CUR")).is_err());
    assert!(serde_json::from_value::<GuestFileWhence>(json!(true)).is_err());
    assert!(serde_json::from_value::<GuestFileWhence>(json!({"set": 1})).is_err());
}

#[test]
fn enums_know_their_wire_names() {
    use qga_types::GuestFsfreezeStatus;
    assert_eq!(GuestFsfreezeStatus::ALL.len(), 2);
    assert_eq!(GuestFsfreezeStatus::Frozen.to_string(), "frozen");
    assert_eq!(
        "thawed".parse::<GuestFsfreezeStatus>().unwrap(),
        GuestFsfreezeStatus::Thawed
    );
    assert!("melted".parse::<GuestFsfreezeStatus>().is_err());
}

#[test]
fn descriptors() {
    assert_eq!(commands::GuestShutdown::NAME, "guest-shutdown");
    const { assert!(!commands::GuestShutdown::SUCCESS_RESPONSE) };
    const { assert!(!commands::GuestSuspendRam::SUCCESS_RESPONSE) };
    const { assert!(commands::GuestPing::SUCCESS_RESPONSE) };
}

/// What QEMU's agent sends for the commands and members it gained after the
/// manual (7.2 as observed where it has them, 10.2's schema for the others).
#[test]
fn shapes_added_after_the_manual() {
    use qga_types::*;
    round_trip::<commands::GuestGetFsinfo>(json!([{
        "name": "vda", "mountpoint": "/", "type": "ext4",
        "used-bytes": 36728811520_u64, "total-bytes": 97572749312_u64,
        "total-bytes-privileged": 102687436800_u64, "disk": []
    }]));
    round_trip_as::<Vec<GuestDiskInfo>>(
        "disks",
        json!([
            {"name": "/dev/vda1", "partition": true, "dependencies": ["/dev/vda"]},
            {
                "name": "/dev/vda", "partition": false, "dependencies": [],
                "address": {
                    "pci-controller": {"domain": 0, "bus": 0, "slot": 2, "function": 0},
                    "bus-type": "virtio", "bus": 0, "target": 0, "unit": 0, "dev": "/dev/vda"
                }
            },
            {"name": "/dev/dm-0", "partition": false, "dependencies": ["/dev/sda2"], "alias": "vg0-root"},
            {
                "name": "/dev/nvme0n1", "partition": false, "dependencies": [],
                "smart": {
                    "type": "nvme", "critical-warning": 0, "temperature": 310,
                    "available-spare": 100, "available-spare-threshold": 10, "percentage-used": 0,
                    "data-units-read-lo": 1234, "data-units-read-hi": 0,
                    "data-units-written-lo": 99, "data-units-written-hi": 0,
                    "host-read-commands-lo": 5, "host-read-commands-hi": 0,
                    "host-write-commands-lo": 6, "host-write-commands-hi": 0,
                    "controller-busy-time-lo": 0, "controller-busy-time-hi": 0,
                    "power-cycles-lo": 1, "power-cycles-hi": 0,
                    "power-on-hours-lo": 2, "power-on-hours-hi": 0,
                    "unsafe-shutdowns-lo": 0, "unsafe-shutdowns-hi": 0,
                    "media-errors-lo": 0, "media-errors-hi": 0,
                    "number-of-error-log-entries-lo": 0,
                    "number-of-error-log-entries-hi": 18446744073709551615_u64
                }
            }
        ]),
    );
    let disks: Vec<GuestDiskInfo> = serde_json::from_value(json!([{
        "name": "/dev/nvme0n1", "partition": false, "smart": {"type": "nvme",
            "critical-warning": 1, "temperature": 300, "available-spare": 1,
            "available-spare-threshold": 1, "percentage-used": 1,
            "data-units-read-lo": 0, "data-units-read-hi": 0, "data-units-written-lo": 0,
            "data-units-written-hi": 0, "host-read-commands-lo": 0, "host-read-commands-hi": 0,
            "host-write-commands-lo": 0, "host-write-commands-hi": 0,
            "controller-busy-time-lo": 0, "controller-busy-time-hi": 0, "power-cycles-lo": 0,
            "power-cycles-hi": 0, "power-on-hours-lo": 0, "power-on-hours-hi": 0,
            "unsafe-shutdowns-lo": 0, "unsafe-shutdowns-hi": 0, "media-errors-lo": 0,
            "media-errors-hi": 0, "number-of-error-log-entries-lo": 0,
            "number-of-error-log-entries-hi": 0}
    }]))
    .unwrap();
    let Some(GuestDiskSmart {
        r#type: GuestDiskSmartBranch::Nvme(smart),
    }) = &disks[0].smart
    else {
        panic!("{:?}", disks[0].smart);
    };
    assert_eq!(smart.temperature, 300);

    round_trip_as::<Vec<GuestDiskStatsInfo>>(
        "diskstats",
        json!([
            {"name": "vda", "major": 254, "minor": 0, "stats": {
                "read-ios": 110955, "read-merges": 11419, "read-sectors": 14646306,
                "read-ticks": 761814, "write-ios": 37923, "write-merges": 143310,
                "write-sectors": 69207576, "write-ticks": 1093634, "ios-pgr": 0,
                "total-ticks": 92148, "weight-ticks": 1909155, "discard-ios": 43477,
                "discard-merges": 62, "discard-sectors": 20687560, "discard-ticks": 43557,
                "flush-ios": 950, "flush-ticks": 10149
            }},
            {"name": "hda1", "major": 3, "minor": 1, "stats": {
                "read-ios": 1, "read-sectors": 2, "write-ios": 3, "write-sectors": 4
            }}
        ]),
    );
    round_trip_as::<Vec<GuestCpuStats>>(
        "cpustats",
        json!([
            {"type": "linux", "cpu": 0, "user": 1137300, "nice": 0, "system": 128230,
             "idle": 303500, "iowait": 22000, "irq": 0, "softirq": 540, "steal": 14900,
             "guest": 0, "guestnice": 0},
            {"type": "linux", "cpu": 1, "user": 1, "nice": 2, "system": 3, "idle": 4}
        ]),
    );
    let cpus: Vec<GuestCpuStats> = serde_json::from_value(
        json!([{"type": "linux", "cpu": 3, "user": 1, "nice": 2, "system": 3, "idle": 4}]),
    )
    .unwrap();
    let GuestCpuStatsBranch::Linux(cpu) = &cpus[0].r#type;
    assert_eq!((cpu.cpu, cpu.iowait), (3, None));
    assert!(serde_json::from_value::<GuestCpuStats>(json!({"type": "windows", "cpu": 0})).is_err());

    round_trip_as::<GuestLoadAverage>(
        "load",
        json!({"load1m": 0.52, "load5m": 1.0, "load15m": 0.0}),
    );
    round_trip_as::<Vec<GuestNetworkRoute>>(
        "routes",
        json!([
            {"iface": "eth0", "destination": "0.0.0.0", "gateway": "192.0.2.1", "mask": "0.0.0.0",
             "metric": 0, "flags": 3, "refcnt": 0, "use": 0, "mtu": 0, "window": 0, "irtt": 0,
             "version": 4},
            {"iface": "eth0", "destination": "fd00::", "desprefixlen": "64", "source": "::",
             "srcprefixlen": "0", "nexthop": "::", "metric": 256, "flags": 1, "refcnt": 0,
             "use": 0, "version": 6}
        ]),
    );
    round_trip_as::<GuestAuthorizedKeys>("ssh keys", json!({"keys": ["ssh-ed25519 AAAAC3Nz k@h"]}));
}

#[test]
fn capture_output_is_a_flag_or_a_mode() {
    use qga_types::{GuestExecCaptureOutput, GuestExecCaptureOutputMode};
    assert_eq!(
        serde_json::from_value::<GuestExecCaptureOutput>(json!(true)).unwrap(),
        GuestExecCaptureOutput::Flag(true)
    );
    for mode in GuestExecCaptureOutputMode::ALL {
        let value = json!(mode.as_str());
        let parsed = serde_json::from_value::<GuestExecCaptureOutput>(value.clone()).unwrap();
        assert_eq!(parsed, GuestExecCaptureOutput::Mode(*mode));
        assert_eq!(serde_json::to_value(parsed).unwrap(), value);
    }
    assert_eq!(
        GuestExecCaptureOutputMode::ALL
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>(),
        ["none", "stdout", "stderr", "separated", "merged"]
    );
    let wrong = serde_json::from_value::<GuestExecCaptureOutput>(json!(1)).unwrap_err();
    assert!(
        wrong
            .to_string()
            .contains("expected GuestExecCaptureOutput"),
        "{wrong}"
    );
    assert!(serde_json::from_value::<GuestExecCaptureOutput>(json!("both")).is_err());
}
