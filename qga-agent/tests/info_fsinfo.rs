//! guest-get-fsinfo against a fixture: a mountinfo file and a sysfs tree in a temp
//! dir with virtio-blk, virtio-scsi, IDE, SATA and NVMe (behind a bridge) disks,
//! a device-mapper volume over two disks, s390x CCW and virtio-mmio disks, an
//! unknown driver, a loop device and a device missing from sysfs.

// Each test crate uses some of the fixtures.
#[allow(dead_code)]
mod fixtures;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use fixtures::{block_device, pci_driver as driver};
use qga_agent::commands::fsinfo::{self, FsInfoSources};
use qga_agent::commands::mounts::{self, FsMount, MountTable};
use serde_json::{json, Value};

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    sources: FsInfoSources,
}

/// The sysfs tree, the udev database and the mount points.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let sys = root.join("sys");
    fs::create_dir_all(sys.join("dev/block")).unwrap();
    let udev = root.join("udev");
    fs::create_dir_all(&udev).unwrap();

    // virtio-blk at 0000:00:02.0, partitions vda1 and vda2.
    driver(&sys, "devices/pci0000:00/0000:00:02.0", "virtio-pci");
    let vda = "devices/pci0000:00/0000:00:02.0/virtio0/block/vda";
    block_device(&sys, vda, 254, 0, "vda");
    block_device(&sys, &format!("{vda}/vda1"), 254, 1, "vda1");
    block_device(&sys, &format!("{vda}/vda2"), 254, 2, "vda2");

    // virtio-scsi at 0000:00:03.0: host2, channel 0, target 1, LUN 3; with a serial.
    driver(&sys, "devices/pci0000:00/0000:00:03.0", "virtio-pci");
    let sdb = "devices/pci0000:00/0000:00:03.0/virtio1/host2/target2:0:1/2:0:1:3/block/sdb";
    block_device(&sys, sdb, 8, 16, "sdb");
    fs::write(
        udev.join("b8:16"),
        "S:disk/by-id/scsi-0QEMU_QEMU_HARDDISK_drive-scsi0\nE:ID_TYPE=disk\nE:ID_SERIAL=0QEMU_QEMU_HARDDISK_drive-scsi0\n",
    )
    .unwrap();
    // An empty serial is no serial.
    fs::write(udev.join("b254:1"), "E:ID_SERIAL=\n").unwrap();

    // IDE (ata_piix) at 0000:00:01.1: ports ata1 and ata2; the disk on ata2,
    // target 1.
    driver(&sys, "devices/pci0000:00/0000:00:01.1", "ata_piix");
    fs::create_dir_all(sys.join("devices/pci0000:00/0000:00:01.1/ata1")).unwrap();
    let sdc = "devices/pci0000:00/0000:00:01.1/ata2/host1/target1:0:1/1:0:1:0/block/sdc";
    block_device(&sys, sdc, 8, 32, "sdc");

    // AHCI at 0000:00:1f.2: ports ata3, ata4, ata5; the disk on ata5.
    driver(&sys, "devices/pci0000:00/0000:00:1f.2", "ahci");
    fs::create_dir_all(sys.join("devices/pci0000:00/0000:00:1f.2/ata3")).unwrap();
    fs::create_dir_all(sys.join("devices/pci0000:00/0000:00:1f.2/ata4")).unwrap();
    let sdd = "devices/pci0000:00/0000:00:1f.2/ata5/host4/target4:0:0/4:0:0:0/block/sdd";
    block_device(&sys, sdd, 8, 48, "sdd");

    // NVMe at 0000:01:00.0 behind the bridge 0000:00:1c.0.
    driver(&sys, "devices/pci0000:00/0000:00:1c.0", "pcieport");
    driver(&sys, "devices/pci0000:00/0000:00:1c.0/0000:01:00.0", "nvme");
    let nvme = "devices/pci0000:00/0000:00:1c.0/0000:01:00.0/nvme/nvme0/nvme0n1";
    block_device(&sys, nvme, 259, 0, "nvme0n1");

    // A driver qemu-ga does not know: kept for its device node, without address.
    driver(&sys, "devices/pci0000:00/0000:00:06.0", "foo_hba");
    block_device(
        &sys,
        "devices/pci0000:00/0000:00:06.0/block/xda",
        202,
        0,
        "xda",
    );

    // s390x: a virtio disk on a channel subsystem.
    block_device(
        &sys,
        "devices/css0/0.0.0002/0.0.0003/virtio1/block/vdc",
        252,
        32,
        "vdc",
    );
    // virtio-mmio.
    block_device(
        &sys,
        "devices/platform/a000.virtio_mmio/virtio2/block/vde",
        252,
        64,
        "vde",
    );

    // device-mapper over vda2 and sdb.
    let dm = "devices/virtual/block/dm-0";
    block_device(&sys, dm, 253, 0, "dm-0");
    fs::create_dir_all(sys.join(dm).join("slaves")).unwrap();
    symlink(
        "../../../../pci0000:00/0000:00:02.0/virtio0/block/vda/vda2",
        sys.join(dm).join("slaves/vda2"),
    )
    .unwrap();
    symlink(
        format!("../../../../{}", sdb.trim_start_matches("devices/")),
        sys.join(dm).join("slaves/sdb"),
    )
    .unwrap();
    // A loop device: virtual, no slaves.
    block_device(&sys, "devices/virtual/block/loop0", 7, 0, "loop0");

    Fixture {
        sources: FsInfoSources {
            mount_table: MountTable {
                mountinfo: root.join("mountinfo"),
                mounts: root.join("mounts"),
            },
            sysfs: sys,
            udev_data: Some(udev),
        },
        root,
        _tmp: tmp,
    }
}

/// A mount point under the fixture, created, with its mountinfo spelling (octal
/// escapes for space, tab, newline and backslash).
fn mount_point(root: &Path, name: &str) -> (String, String) {
    let dir = root.join("mnt").join(name);
    fs::create_dir_all(&dir).unwrap();
    let plain = dir.to_str().unwrap().to_string();
    let escaped = plain
        .replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('\t', "\\011")
        .replace('\n', "\\012");
    (plain, escaped)
}

fn disk(pci: [i64; 4], bus_type: &str, bus: i64, target: i64, unit: i64) -> Value {
    json!({
        "pci-controller": {"domain": pci[0], "bus": pci[1], "slot": pci[2], "function": pci[3]},
        "bus-type": bus_type,
        "bus": bus,
        "target": target,
        "unit": unit,
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

const NO_PCI: [i64; 4] = [-1, -1, -1, -1];

#[test]
fn fsinfo_from_fixture() {
    let fx = fixture();
    let names = [
        "root",
        "scsi disk",
        "ide",
        "sata",
        "nvme",
        "xda",
        "ccw",
        "mmio",
        "lvm",
        "loop",
        "gone",
        "proc",
        "nfs",
        "btrfs",
    ];
    let m: Vec<(String, String)> = names.iter().map(|n| mount_point(&fx.root, n)).collect();
    let mountinfo = format!(
        "21 1 254:1 / {} rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro\n\
         22 21 8:16 / {} rw - xfs /dev/sdb rw\n\
         23 21 8:32 / {} rw - ext2 /dev/sdc rw\n\
         24 21 8:48 / {} rw - ext4 /dev/sdd rw\n\
         25 21 259:0 / {} rw - ext4 /dev/nvme0n1 rw\n\
         26 21 202:0 / {} rw - ext4 /dev/xda rw\n\
         27 21 252:32 / {} rw - ext4 /dev/vdc rw\n\
         28 21 252:64 / {} rw - ext4 /dev/vde rw\n\
         29 21 253:0 / {} rw - ext4 /dev/mapper/vg-root rw\n\
         30 21 7:0 / {} rw - squashfs /dev/loop0 ro\n\
         31 21 9:9 / {} rw - ext4 /dev/md9 rw\n\
         32 21 0:21 / {} rw - proc proc rw\n\
         33 21 0:44 / {} rw - nfs4 server:/export rw,vers=4.2\n\
         34 21 0:45 / {} rw - btrfs /no/such/device rw\n\
         35 21 0:46 / /sys rw - sysfs sysfs rw\n\
         36 21 254:1\n\
         37 21 254:1 / /no/separator rw\n",
        m[0].1,
        m[1].1,
        m[2].1,
        m[3].1,
        m[4].1,
        m[5].1,
        m[6].1,
        m[7].1,
        m[8].1,
        m[9].1,
        m[10].1,
        m[11].1,
        m[12].1,
        m[13].1,
    );
    fs::write(&fx.sources.mount_table.mountinfo, mountinfo).unwrap();

    let got = fsinfo::get_fsinfo_from(&fx.sources).unwrap();
    let mut got = serde_json::to_value(&got).unwrap();
    // Sizes: present, and as statvfs gives them.
    let st = rustix::fs::statvfs(m[0].0.as_str()).unwrap();
    let used = (st.f_blocks - st.f_bfree) * st.f_frsize;
    let total = (st.f_blocks - st.f_bfree + st.f_bavail) * st.f_frsize;
    let privileged = st.f_blocks * st.f_frsize;
    for fs in got.as_array_mut().unwrap() {
        let fs = fs.as_object_mut().unwrap();
        let u = fs.remove("used-bytes").expect("used-bytes");
        let t = fs.remove("total-bytes").expect("total-bytes");
        let p = fs
            .remove("total-bytes-privileged")
            .expect("total-bytes-privileged");
        // The temp dir's filesystem may change a little between the calls.
        let near = |a: u64, b: u64| a.abs_diff(b) <= 64 << 20;
        assert!(near(u.as_u64().unwrap(), used), "{u} vs {used}");
        assert!(near(t.as_u64().unwrap(), total), "{t} vs {total}");
        // The size of the filesystem itself does not move.
        assert_eq!(p.as_u64().unwrap(), privileged);
        assert!(p.as_u64().unwrap() >= t.as_u64().unwrap(), "{p} < {t}");
    }

    let virtio_pci = [0, 0, 2, 0];
    let scsi_disk = with(
        disk([0, 0, 3, 0], "scsi", 0, 0, 3),
        "serial",
        json!("0QEMU_QEMU_HARDDISK_drive-scsi0"),
    );
    let scsi_disk = with(scsi_disk, "dev", json!("/dev/sdb"));
    let entry = |name: &str, mp: &str, ty: &str, disks: Value| json!({"name": name, "mountpoint": mp, "type": ty, "disk": disks});
    let expected = json!([
        entry("loop0", &m[9].0, "squashfs", json!([])),
        entry(
            "dm-0",
            &m[8].0,
            "ext4",
            // One per slave, in the reverse of directory order.
            Value::Null
        ),
        entry(
            "vde",
            &m[7].0,
            "ext4",
            json!([with(
                disk(NO_PCI, "virtio", 0, 0, 0),
                "dev",
                json!("/dev/vde")
            )])
        ),
        entry(
            "vdc",
            &m[6].0,
            "ext4",
            json!([with(
                with(disk(NO_PCI, "virtio", 0, 0, 0), "dev", json!("/dev/vdc")),
                "ccw-address",
                json!({"cssid": 0, "ssid": 0, "subchno": 2, "devno": 3})
            )])
        ),
        entry(
            "xda",
            &m[5].0,
            "ext4",
            json!([with(
                disk(NO_PCI, "unknown", 0, 0, 0),
                "dev",
                json!("/dev/xda")
            )])
        ),
        entry(
            "nvme0n1",
            &m[4].0,
            "ext4",
            json!([with(
                disk([0, 1, 0, 0], "nvme", 0, 0, 0),
                "dev",
                json!("/dev/nvme0n1")
            )])
        ),
        entry(
            "sdd",
            &m[3].0,
            "ext4",
            json!([with(
                disk([0, 0, 0x1f, 2], "sata", 0, 0, 2),
                "dev",
                json!("/dev/sdd")
            )])
        ),
        entry(
            "sdc",
            &m[2].0,
            "ext2",
            json!([with(
                disk([0, 0, 1, 1], "ide", 1, 0, 1),
                "dev",
                json!("/dev/sdc")
            )])
        ),
        entry("sdb", &m[1].0, "xfs", json!([scsi_disk.clone()])),
        entry(
            "vda1",
            &m[0].0,
            "ext4",
            json!([with(
                disk(virtio_pci, "virtio", 0, 0, 0),
                "dev",
                json!("/dev/vda1")
            )])
        ),
    ]);
    // The mount whose device is not in sysfs: its name is "MAJ:MIN", no disk.
    let gone = entry("9:9", &m[10].0, "ext4", json!([]));

    let got = got.as_array().unwrap();
    assert_eq!(got.len(), 11, "{got:#?}");
    assert_eq!(got[0], gone);
    for (i, want) in expected.as_array().unwrap().iter().enumerate() {
        if want["name"] == "dm-0" {
            continue;
        }
        assert_eq!(&got[i + 1], want, "entry {}", i + 1);
    }

    // dm-0: the disks of its slaves, in the reverse of directory order.
    let dm = &got[2];
    assert_eq!(dm["name"], "dm-0");
    let vda2 = with(
        disk(virtio_pci, "virtio", 0, 0, 0),
        "dev",
        json!("/dev/vda2"),
    );
    let mut slaves: Vec<String> =
        fs::read_dir(fx.sources.sysfs.join("devices/virtual/block/dm-0/slaves"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
    slaves.reverse();
    let want: Vec<Value> = slaves
        .iter()
        .map(|s| {
            if s == "vda2" {
                vda2.clone()
            } else {
                scsi_disk.clone()
            }
        })
        .collect();
    assert_eq!(dm["disk"], Value::Array(want));
}

#[test]
fn fsinfo_errors_and_fallback() {
    let fx = fixture();
    let (plain, escaped) = mount_point(&fx.root, "root");

    // A sysfs link that cannot be resolved: the whole command fails.
    symlink("1:1", fx.sources.sysfs.join("dev/block/1:1")).unwrap();
    fs::write(
        &fx.sources.mount_table.mountinfo,
        format!("21 1 1:1 / {escaped} rw - ext4 /dev/x rw\n"),
    )
    .unwrap();
    assert_eq!(
        fsinfo::get_fsinfo_from(&fx.sources).unwrap_err().0,
        format!(
            "realpath(\"{}/dev/block/1:1\"): Too many levels of symbolic links",
            fx.sources.sysfs.display()
        )
    );

    // No mountinfo: /proc/self/mounts format, then an error when neither opens.
    fs::remove_file(&fx.sources.mount_table.mountinfo).unwrap();
    assert_eq!(
        fsinfo::get_fsinfo_from(&fx.sources).unwrap_err().0,
        format!(
            "failed to open mtab file: '{}'",
            fx.sources.mount_table.mounts.display()
        )
    );
    let bind_source = fx.root.join("bind-source");
    fs::create_dir(&bind_source).unwrap();
    fs::write(
        &fx.sources.mount_table.mounts,
        format!(
            "proc /proc proc rw 0 0\n\
             /dev/no-such-disk {escaped} ext4 rw 0 0\n\
             //server/share /mnt/smb cifs rw 0 0\n\
             /srv/share /mnt/smb2 smbfs rw 0 0\n\
             {} /mnt/bind none rw,bind 0 0\n",
            bind_source.display()
        ),
    )
    .unwrap();
    let got = fsinfo::get_fsinfo_from(&fx.sources).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].name, "0:0");
    assert_eq!(got[0].mountpoint, plain);
    assert_eq!(got[0].r#type, "ext4");
    assert!(got[0].disk.is_empty());
    assert!(got[0].used_bytes.is_some() && got[0].total_bytes.is_some());
    assert!(got[0].total_bytes_privileged >= got[0].total_bytes);
}

#[test]
fn mountinfo_parsing() {
    let content = b"36 35 98:0 /mnt1 /mnt/parent\\040dir rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
        37 35 8:1 / /a\\134b\\011c\\\\d\\9 rw - ext4 /dev/sd\\141 rw\n\
        38 35 0:30 / /proc rw - proc proc rw\n\
        39 35 0:31 / /btrfs rw - btrfs /nonexistent rw\n\
        40 35 8:2 / /last rw - vfat /dev/sda2";
    let mounts = mounts::parse_mountinfo(content);
    assert_eq!(
        mounts,
        vec![
            FsMount {
                dirname: PathBuf::from("/mnt/parent dir"),
                devtype: "ext3".into(),
                devmajor: 98,
                devminor: 0,
            },
            FsMount {
                dirname: PathBuf::from("/a\\b\tc\\d\\9"),
                devtype: "ext4".into(),
                devmajor: 8,
                devminor: 1,
            },
        ]
    );
}

#[test]
fn real_fsinfo_reads() {
    // Read-only: the real mount table and sysfs.
    let got = fsinfo::get_fsinfo().unwrap();
    for fs in &got {
        assert!(!fs.name.is_empty());
        assert!(!fs.mountpoint.is_empty());
    }
    let mounts = MountTable::default().list().unwrap();
    assert_eq!(mounts.len(), got.len());
}

#[test]
fn slaves_loop_ends() {
    let fx = fixture();
    let (plain, escaped) = mount_point(&fx.root, "looped");
    // dm-1 lists itself as its own slave (qemu-ga would recurse until it crashes).
    let dm = "devices/virtual/block/dm-1";
    fs::create_dir_all(fx.sources.sysfs.join(dm).join("slaves")).unwrap();
    fs::write(
        fx.sources.sysfs.join(dm).join("uevent"),
        "MAJOR=253\nMINOR=1\nDEVNAME=dm-1\n",
    )
    .unwrap();
    symlink("../../dm-1", fx.sources.sysfs.join(dm).join("slaves/dm-1")).unwrap();
    symlink(
        format!("../../{dm}"),
        fx.sources.sysfs.join("dev/block/253:1"),
    )
    .unwrap();
    fs::write(
        &fx.sources.mount_table.mountinfo,
        format!("21 1 253:1 / {escaped} rw - ext4 /dev/mapper/x rw\n"),
    )
    .unwrap();
    let got = fsinfo::get_fsinfo_from(&fx.sources).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].name, "dm-1");
    assert_eq!(got[0].mountpoint, plain);
    assert!(got[0].disk.is_empty());
}

/// QEMU 10.0: a device mounted twice (a bind mount of a directory of it, a
/// second btrfs subvolume) is listed once, at its first mount; fsfreeze and
/// fstrim walk the same list.
#[test]
fn a_device_mounted_twice_is_listed_once() {
    let fx = fixture();
    let (first, first_escaped) = mount_point(&fx.root, "first");
    let (second, second_escaped) = mount_point(&fx.root, "second");
    let (other, other_escaped) = mount_point(&fx.root, "other");
    fs::write(
        &fx.sources.mount_table.mountinfo,
        format!(
            "21 1 254:1 / {first_escaped} rw - ext4 /dev/vda1 rw\n\
             22 1 8:16 / {other_escaped} rw - xfs /dev/sdb rw\n\
             23 1 254:1 /srv {second_escaped} rw - ext4 /dev/vda1 rw\n\
             24 1 8:16 /sub {second_escaped}/x rw - xfs /dev/sdb rw\n"
        ),
    )
    .unwrap();
    let got = fsinfo::get_fsinfo_from(&fx.sources).unwrap();
    let listed: Vec<(&str, &str)> = got
        .iter()
        .map(|f| (f.name.as_str(), f.mountpoint.as_str()))
        .collect();
    assert_eq!(listed, [("sdb", other.as_str()), ("vda1", first.as_str())]);
    assert!(!listed.iter().any(|(_, m)| m.starts_with(&second)));
    let table = fx.sources.mount_table.list().unwrap();
    assert_eq!(table.len(), 2);
    assert_eq!(table[0].dirname, Path::new(&first));
}
