//! guest-get-disks on a fixture sysfs tree ([`fixtures::disks_tree`]): every
//! kind of disk, partitions, device-mapper dependencies and aliases, the NVMe
//! health log (through a stand-in for the ioctl), the devices left out, the
//! order and the errors.

// Each test crate uses some of the fixtures.
#[allow(dead_code)]
mod fixtures;

use std::path::{Path, PathBuf};

use qga_agent::commands::disks::{self, DiskSources};
use qga_agent::commands::nvme;
use qga_types::GuestNVMeSmart;
use serde_json::{json, Value};

/// A log page with a recognisable temperature and error count.
fn smart_page() -> [u8; nvme::SMART_LOG_SIZE] {
    let mut page = [0u8; nvme::SMART_LOG_SIZE];
    page[1..3].copy_from_slice(&318u16.to_le_bytes());
    page[3] = 100;
    page[4] = 10;
    page[176..184].copy_from_slice(&7u64.to_le_bytes());
    page
}

/// The ioctl's stand-in: the controller of the fixture, and nothing else.
fn fake_smart(device: &Path) -> Option<GuestNVMeSmart> {
    (device == Path::new("/dev/nvme0")).then(|| nvme::decode_smart_log(&smart_page()))
}

struct Tree {
    _dir: tempfile::TempDir,
    sys: PathBuf,
    udev: PathBuf,
}

fn tree() -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("sys");
    let udev = dir.path().join("udev");
    fixtures::disks_tree(&sys, &udev);
    Tree {
        _dir: dir,
        sys,
        udev,
    }
}

fn sources(tree: &Tree) -> DiskSources {
    DiskSources {
        sysfs: tree.sys.clone(),
        udev_data: Some(tree.udev.clone()),
        smart: fake_smart,
    }
}

fn get(sources: &DiskSources) -> Vec<Value> {
    let disks = disks::get_disks_from(sources).unwrap();
    serde_json::to_value(disks)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn by_name<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list:?}"))
}

fn pci(slot: i64) -> Value {
    json!({"domain": 0, "bus": 0, "slot": slot, "function": 0})
}

#[test]
fn every_kind_of_disk() {
    let t = tree();
    let list = get(&sources(&t));
    let names: Vec<&str> = list.iter().map(|d| d["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "/dev/dm-0",
            "/dev/nvme0n1",
            "/dev/nvme0n1p1",
            "/dev/sda",
            "/dev/vda",
            "/dev/vda1",
            "/dev/vda2"
        ],
        "size 0, no node, no size and non-links are left out"
    );

    assert_eq!(
        by_name(&list, "/dev/vda"),
        &json!({"name": "/dev/vda", "partition": false, "dependencies": [],
                "address": {"pci-controller": pci(2), "bus-type": "virtio", "bus": 0,
                            "target": 0, "unit": 0, "dev": "/dev/vda"}})
    );
    for part in ["/dev/vda1", "/dev/vda2"] {
        assert_eq!(
            by_name(&list, part),
            &json!({"name": part, "partition": true, "dependencies": ["/dev/vda"]})
        );
    }
    assert_eq!(
        by_name(&list, "/dev/sda"),
        &json!({"name": "/dev/sda", "partition": false, "dependencies": [],
                "address": {"pci-controller": pci(3), "bus-type": "scsi", "bus": 0,
                            "target": 0, "unit": 3, "dev": "/dev/sda",
                            "serial": "0QEMU_QEMU_HARDDISK_drive-scsi0"}})
    );
    let nvme = by_name(&list, "/dev/nvme0n1");
    assert_eq!(nvme["address"]["bus-type"], "nvme");
    assert_eq!(nvme["address"]["pci-controller"], pci(4));
    assert_eq!(nvme["dependencies"], json!([]));
    assert_eq!(nvme["smart"]["type"], "nvme");
    assert_eq!(nvme["smart"]["temperature"], 318);
    assert_eq!(nvme["smart"]["available-spare"], 100);
    assert_eq!(nvme["smart"]["number-of-error-log-entries-lo"], 7);
    assert_eq!(
        by_name(&list, "/dev/nvme0n1p1"),
        &json!({"name": "/dev/nvme0n1p1", "partition": true, "dependencies": ["/dev/nvme0n1"]})
    );
    // A virtual device: no address; its slaves, in reverse directory order.
    let dm = by_name(&list, "/dev/dm-0");
    assert_eq!(dm["alias"], "vg0-root", "from sysfs: udev has no entry");
    assert!(dm.get("address").is_none() && dm.get("smart").is_none());
    let mut slaves: Vec<String> = std::fs::read_dir(t.sys.join(fixtures::DM0).join("slaves"))
        .unwrap()
        .map(|e| format!("/dev/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    slaves.reverse();
    assert_eq!(dm["dependencies"], json!(slaves));
    assert_eq!(slaves.len(), 2);
}

#[test]
fn order_is_qemus() {
    let t = tree();
    let list = get(&sources(&t));
    let names: Vec<&str> = list.iter().map(|d| d["name"].as_str().unwrap()).collect();
    // The disks in the reverse of block/'s directory order...
    let mut disks: Vec<String> = std::fs::read_dir(t.sys.join("block"))
        .unwrap()
        .map(|e| format!("/dev/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|n| names.contains(&n.as_str()))
        .collect();
    disks.reverse();
    let listed: Vec<&str> = list
        .iter()
        .filter(|d| d["partition"] == false)
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, disks);
    // ...each one's partitions right before it.
    for (i, d) in list.iter().enumerate() {
        if d["partition"] == true {
            let disk = d["dependencies"][0].as_str().unwrap();
            let next_disk = list[i..].iter().find(|d| d["partition"] == false).unwrap();
            assert_eq!(next_disk["name"], disk, "{names:?}");
        }
    }
}

#[test]
fn aliases_smart_and_udev() {
    let t = tree();
    // udev's name wins over the kernel's; an empty one means none.
    std::fs::write(t.udev.join("b253:0"), "E:DM_NAME=from-udev\n").unwrap();
    assert_eq!(
        by_name(&get(&sources(&t)), "/dev/dm-0")["alias"],
        "from-udev"
    );
    std::fs::write(t.udev.join("b253:0"), "E:DM_NAME=\n").unwrap();
    assert!(by_name(&get(&sources(&t)), "/dev/dm-0")
        .get("alias")
        .is_none());
    // Without udev: the kernel's name, and addresses without dev or serial.
    let without = DiskSources {
        udev_data: None,
        ..sources(&t)
    };
    let list = get(&without);
    assert_eq!(by_name(&list, "/dev/dm-0")["alias"], "vg0-root");
    let sda = by_name(&list, "/dev/sda");
    assert!(sda["address"].get("serial").is_none() && sda["address"].get("dev").is_none());
    // A log page that cannot be read: no smart, the disk is still listed.
    let no_smart = DiskSources {
        smart: |_| None,
        ..sources(&t)
    };
    assert!(by_name(&get(&no_smart), "/dev/nvme0n1")
        .get("smart")
        .is_none());
    // Without its controller's node, the namespace's own is asked.
    std::fs::write(
        t.sys.join(fixtures::NVME0N1).join("../uevent"),
        "MAJOR=239\nMINOR=0\n",
    )
    .unwrap();
    let own_node = DiskSources {
        smart: |device| {
            (device == Path::new("/dev/nvme0n1")).then(|| nvme::decode_smart_log(&smart_page()))
        },
        ..sources(&t)
    };
    assert_eq!(
        by_name(&get(&own_node), "/dev/nvme0n1")["smart"]["temperature"],
        318
    );
}

#[test]
fn without_slaves_no_dependencies_and_errors() {
    let t = tree();
    std::fs::remove_dir(t.sys.join(fixtures::SDA).join("slaves")).unwrap();
    assert!(by_name(&get(&sources(&t)), "/dev/sda")
        .get("dependencies")
        .is_none());
    // Only a missing block/ fails the command.
    std::fs::remove_dir_all(t.sys.join("block")).unwrap();
    let error = disks::get_disks_from(&sources(&t)).unwrap_err();
    assert_eq!(
        error.0,
        format!(
            "Can't open directory \"{}\": No such file or directory",
            t.sys.join("block").display()
        )
    );
    std::fs::create_dir(t.sys.join("block")).unwrap();
    assert!(disks::get_disks_from(&sources(&t)).unwrap().is_empty());
}

#[test]
fn disks_of_this_machine() {
    let list = disks::get_disks().unwrap();
    let non_empty = std::fs::read_dir("/sys/block")
        .unwrap()
        .filter(|e| {
            let size = std::fs::read_to_string(e.as_ref().unwrap().path().join("size"));
            size.is_ok_and(|s| s != "0\n")
        })
        .count();
    assert_eq!(list.iter().filter(|d| !d.partition).count(), non_empty);
    assert!(list.iter().all(|d| d.name.starts_with("/dev/")));
}
