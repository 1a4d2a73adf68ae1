//! Fixture files and trees shared by the info_* tests: a utmp file, and sysfs
//! trees of processors and memory blocks (never the real sysfs).

use std::fs;
use std::path::Path;

pub const USER_PROCESS: i16 = 7;
pub const LOGIN_PROCESS: i16 = 6;
pub const DEAD_PROCESS: i16 = 8;

/// One glibc utmp record (384 bytes) with the fields guest-get-users reads.
fn utmp_record(ut_type: i16, user: &[u8], sec: i32, usec: i32) -> Vec<u8> {
    let mut r = vec![0u8; 384];
    r[0..2].copy_from_slice(&ut_type.to_ne_bytes());
    r[4..8].copy_from_slice(&1234i32.to_ne_bytes());
    r[8..13].copy_from_slice(b"pts/0");
    r[44..44 + user.len()].copy_from_slice(user);
    r[76..85].copy_from_slice(b"localhost");
    r[340..344].copy_from_slice(&sec.to_ne_bytes());
    r[344..348].copy_from_slice(&usec.to_ne_bytes());
    r
}

/// A utmp file: users with several sessions, other record types, a 32-byte name
/// without a terminator, and a trailing partial record.
pub fn utmp_fixture() -> Vec<u8> {
    let mut data = Vec::new();
    data.extend(utmp_record(2, b"reboot", 1_700_000_000, 0)); // BOOT_TIME
    data.extend(utmp_record(USER_PROCESS, b"alice", 1_700_000_100, 500_000));
    data.extend(utmp_record(LOGIN_PROCESS, b"LOGIN", 1_700_000_050, 0));
    data.extend(utmp_record(USER_PROCESS, b"bob", 1_700_000_200, 250));
    data.extend(utmp_record(USER_PROCESS, b"alice", 1_700_000_090, 250_000));
    data.extend(utmp_record(DEAD_PROCESS, b"carol", 1_600_000_000, 0));
    data.extend(utmp_record(USER_PROCESS, b"alice", 1_700_000_300, 0));
    data.extend(utmp_record(USER_PROCESS, &[b'x'; 32], 1_700_000_400, 1));
    data.extend(vec![0u8; 100]);
    data
}

/// A sysfs cpu directory: cpu0 without `online` (cannot go offline), cpu1 online,
/// cpu2 offline, cpu10 online, and the entries that are not processors.
pub fn cpu_tree(dir: &Path) {
    fs::create_dir_all(dir.join("cpu0/topology")).unwrap();
    for (cpu, state) in [("cpu1", "1\n"), ("cpu2", "0\n"), ("cpu10", "1\n")] {
        fs::create_dir_all(dir.join(cpu)).unwrap();
        fs::write(dir.join(cpu).join("online"), state).unwrap();
    }
    for other in ["cpufreq", "cpuidle", "hotplug", "power", "vulnerabilities"] {
        fs::create_dir_all(dir.join(other)).unwrap();
    }
    for (file, content) in [
        ("online", "0-1,10\n"),
        ("offline", "2\n"),
        ("possible", "0-15\n"),
        ("present", "0-2,10\n"),
        ("kernel_max", "8191\n"),
    ] {
        fs::write(dir.join(file), content).unwrap();
    }
}

/// A sysfs memory directory with 128 MiB blocks: memory0 online and removable,
/// memory1 offline and not removable, memory2 online without `removable`,
/// memory3 without `state` (an old kernel), memory32 online and removable, and
/// the entries that are not blocks.
pub fn memory_tree(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("block_size_bytes"), "8000000\n").unwrap();
    fs::write(dir.join("auto_online_blocks"), "offline\n").unwrap();
    fs::write(dir.join("memory_hotplug_file"), "x\n").unwrap();
    fs::create_dir_all(dir.join("power")).unwrap();
    let blocks: [(&str, Option<&str>, Option<&str>); 5] = [
        ("memory0", Some("online\n"), Some("1\n")),
        ("memory1", Some("offline\n"), Some("0\n")),
        ("memory2", Some("online\n"), None),
        ("memory3", None, None),
        ("memory32", Some("online\n"), Some("1\n")),
    ];
    for (name, state, removable) in blocks {
        let block = dir.join(name);
        fs::create_dir_all(&block).unwrap();
        fs::write(block.join("phys_index"), "00000000\n").unwrap();
        if let Some(state) = state {
            fs::write(block.join("state"), state).unwrap();
        }
        if let Some(removable) = removable {
            fs::write(block.join("removable"), removable).unwrap();
        }
    }
}

/// os-release contents for guest-get-osinfo: quoting, escaping and key-file
/// corner cases. info_host has what qemu-ga reports for each; info_differential
/// sends each to qemu-ga and to ours.
pub fn os_release_samples() -> Vec<&'static [u8]> {
    vec![
        b"ID=debian\nNAME=\"Debian GNU/Linux\"\n",
        b"NAME='single quoted value'\n",
        b"NAME=unquoted value; more\n",
        b"NAME=a;b c\n",
        b"NAME=\"esc \\\" \\$ \\` \\\\ \\n \\x end\" trailing\n",
        b"NAME=\"unterminated\n",
        b"NAME=\"abc\\\n",
        b"NAME=\"a\\\"\n",
        b"NAME=\"\n",
        b"NAME=\"a\\\\\"\n",
        b"NAME=\n",
        b"NAME=\"\"\n",
        b"  NAME  =   spaced  \n",
        b"NAME = \"x y\" \n",
        b"NAME=  \"q\"\n",
        b"NAME=\"x\"y\n",
        b"NAME=\"a\"\"b\"\n",
        b"NAME=x=y\n",
        b"NAME=a\tb\n",
        b"NAME=\t x\n",
        b"NAME=a\rb\n",
        b"NAME=x\r\r\n",
        b"NAME=\"x\\ty\"\n",
        b"NAME=x # c\n",
        b"NAME=\"a\"\nNAME=\"b\"\n",
        b"# comment\n\nNAME=x\r\nID=y\r\n",
        b"NAME=x\n ID =z\n",
        b"NAME=x\n\tID=y\n",
        b"NAME=x\n\x0bID=y\n",
        b"NAME=x\nID=y\\\n",
        b"NAME=x\nID=",
        b"NAME=x\n[other]\nID=y\n",
        b"NAME=x\n[os-release]\nID=q\n",
        b"[os-release]\nNAME=x\n",
        b"NAME=x\n[ok] \nID=y",
        b"NAME=x\n[a=b]\nID=y\n",
        "NAME=x\n[é]\nID=y\n".as_bytes(),
        b"NAME=x\n[a b]\nID=y\n",
        b"NAME=x\n[a]\t \n[os-release]\nID=y\n",
        "NAME=x\nNAME[\u{663}]=1\n".as_bytes(),
        "NAME=x\nNAME[²]=1\n".as_bytes(),
        "NAME=x\nK\u{301}=1\n".as_bytes(),
        b"NAME[de]=x\nID=y\n",
        b"NAME[]=x\nID=y\n",
        b"NAME[de@x.y-z_1]=x\nID=y\n",
        "NAME[dé]=1\nID=z\n".as_bytes(),
        b"K EY=1\nNAME=x\n",
        b"K\tEY=1\nNAME=x\n",
        b"NAME=x\n\x01=2\nID=y\n",
        "\u{feff}NAME=x\nID=y\n".as_bytes(),
        "NAME=été\n".as_bytes(),
        b"NAME=x\x00\nID=y\n",
        b"",
        b"\n",
        b"VERSION_ID=\"12\"\nVARIANT=a\nVARIANT_ID=b\nPRETTY_NAME=p\nVERSION=v\n",
        b"NAME=x\ngarbage line\n",
        b"NAME[d e]=x\nID=y\n",
        b"NAME[de]x=1\nID=z\n",
        b"A]B=1\nID=y\n",
        b" =x\nID=y\n",
        b"NAME=x\n=y\n",
        b"NAME=x\nID",
        b"NAME=x\n[bad[\nID=y",
        b"NAME=x\n[]\nID=y\n",
        b"NAME=x\n[a]=b\nID=y\n",
        b"NAME=x\n[os-release]x\nID=y\n",
        b"NAME=x\n[a]b]\nID=y\n",
        b"NAME=x\n[a[b]\nID=y\n",
        b"NAME=x\n[a]\x01\nID=y\n",
        "NAME=x\nNAME[a\u{301}]=1\n".as_bytes(),
        b"NAME=x\n[gr\x01p]\nID=y\n",
        b"NAME=\xff\n",
    ]
}

/// A block device's sysfs directory (`sys/path`) with its uevent and dev files.
pub fn block_node(sys: &Path, path: &str, major: u32, minor: u32, name: &str) {
    let dir = sys.join(path);
    fs::create_dir_all(&dir).unwrap();
    let uevent = if name.is_empty() {
        format!("MAJOR={major}\nMINOR={minor}\nDEVTYPE=disk\n")
    } else {
        format!("MAJOR={major}\nMINOR={minor}\nDEVNAME={name}\nDEVTYPE=disk\n")
    };
    fs::write(dir.join("uevent"), uevent).unwrap();
    fs::write(dir.join("dev"), format!("{major}:{minor}\n")).unwrap();
}

/// [`block_node`], and the `sys/dev/block/MAJ:MIN` link to it.
pub fn block_device(sys: &Path, path: &str, major: u32, minor: u32, name: &str) {
    block_node(sys, path, major, minor, name);
    let links = sys.join("dev/block");
    fs::create_dir_all(&links).unwrap();
    std::os::unix::fs::symlink(
        format!("../../{path}"),
        links.join(format!("{major}:{minor}")),
    )
    .unwrap();
}

/// Give the PCI device `sys/device` a driver (only the link's last component is
/// read; its target need not exist).
pub fn pci_driver(sys: &Path, device: &str, driver: &str) {
    let dir = sys.join(device);
    fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(
        format!("../../../bus/pci/drivers/{driver}"),
        dir.join("driver"),
    )
    .unwrap();
}

/// Builds a sysfs tree (and udev database) in which device MAJ:MIN is one kind of
/// disk.
pub type DiskScenario = fn(sys: &Path, udev: &Path, major: u32, minor: u32);

/// One sysfs tree per kind of disk guest-get-fsinfo recognises (or not).
pub fn disk_scenarios() -> Vec<(&'static str, DiskScenario)> {
    vec![
        ("virtio-blk partition", |sys, _, ma, mi| {
            pci_driver(sys, "devices/pci0000:00/0000:00:02.0", "virtio-pci");
            let vda = "devices/pci0000:00/0000:00:02.0/virtio0/block/vda";
            block_node(sys, vda, 254, 0, "vda");
            block_device(sys, &format!("{vda}/vda1"), ma, mi, "vda1");
        }),
        ("virtio-scsi with serial", |sys, udev, ma, mi| {
            pci_driver(sys, "devices/pci0000:00/0000:00:03.0", "virtio-pci");
            block_device(
                sys,
                "devices/pci0000:00/0000:00:03.0/virtio1/host2/target2:0:1/2:0:1:3/block/sdb",
                ma,
                mi,
                "sdb",
            );
            fs::write(
                udev.join(format!("b{ma}:{mi}")),
                "E:ID_TYPE=disk\nE:ID_SERIAL=0QEMU_QEMU_HARDDISK_drive-scsi0\n",
            )
            .unwrap();
        }),
        ("ide", |sys, _, ma, mi| {
            pci_driver(sys, "devices/pci0000:00/0000:00:01.1", "ata_piix");
            fs::create_dir_all(sys.join("devices/pci0000:00/0000:00:01.1/ata1")).unwrap();
            block_device(
                sys,
                "devices/pci0000:00/0000:00:01.1/ata2/host1/target1:0:1/1:0:1:0/block/sdc",
                ma,
                mi,
                "sdc",
            );
        }),
        ("ide without target", |sys, _, ma, mi| {
            pci_driver(sys, "devices/pci0000:00/0000:00:01.1", "ata_piix");
            block_device(
                sys,
                "devices/pci0000:00/0000:00:01.1/ata2/host1/block/sdc",
                ma,
                mi,
                "sdc",
            );
        }),
        ("sata", |sys, _, ma, mi| {
            pci_driver(sys, "devices/pci0000:00/0000:00:1f.2", "ahci");
            for port in ["ata3", "ata4", "ata10"] {
                fs::create_dir_all(sys.join("devices/pci0000:00/0000:00:1f.2").join(port)).unwrap();
            }
            block_device(
                sys,
                "devices/pci0000:00/0000:00:1f.2/ata5/host4/target4:0:0/4:0:0:0/block/sdd",
                ma,
                mi,
                "sdd",
            );
        }),
        ("lsi scsi", |sys, _, ma, mi| {
            pci_driver(sys, "devices/pci0000:00/0000:00:05.0", "sym53c8xx");
            block_device(
                sys,
                "devices/pci0000:00/0000:00:05.0/host0/target0:0:2/0:0:2:0/block/sde",
                ma,
                mi,
                "sde",
            );
        }),
        ("nvme behind a bridge", |sys, _, ma, mi| {
            pci_driver(sys, "devices/pci0000:00/0000:00:1c.0", "pcieport");
            pci_driver(sys, "devices/pci0000:00/0000:00:1c.0/0000:01:00.0", "nvme");
            block_device(
                sys,
                "devices/pci0000:00/0000:00:1c.0/0000:01:00.0/nvme/nvme0/nvme0n1",
                ma,
                mi,
                "nvme0n1",
            );
        }),
        ("unknown driver", |sys, _, ma, mi| {
            pci_driver(sys, "devices/pci0000:00/0000:00:06.0", "foo_hba");
            block_device(
                sys,
                "devices/pci0000:00/0000:00:06.0/block/xda",
                ma,
                mi,
                "xda",
            );
        }),
        ("unknown driver, no node", |sys, _, ma, mi| {
            pci_driver(sys, "devices/pci0000:00/0000:00:06.0", "foo_hba");
            block_device(sys, "devices/pci0000:00/0000:00:06.0/block/xda", ma, mi, "");
        }),
        ("ccw", |sys, _, ma, mi| {
            block_device(
                sys,
                "devices/css0/0.0.0002/0.0.0003/virtio1/block/vdc",
                ma,
                mi,
                "vdc",
            );
        }),
        ("virtio-mmio", |sys, _, ma, mi| {
            block_device(
                sys,
                "devices/platform/a000.virtio_mmio/virtio2/block/vde",
                ma,
                mi,
                "vde",
            );
        }),
        ("platform disk", |sys, _, ma, mi| {
            block_device(
                sys,
                "devices/platform/mmc0/block/mmcblk0",
                ma,
                mi,
                "mmcblk0",
            );
        }),
        ("device-mapper", |sys, udev, ma, mi| {
            pci_driver(sys, "devices/pci0000:00/0000:00:02.0", "virtio-pci");
            let vda2 = "devices/pci0000:00/0000:00:02.0/virtio0/block/vda/vda2";
            block_node(sys, vda2, 254, 2, "vda2");
            pci_driver(sys, "devices/pci0000:00/0000:00:03.0", "virtio-pci");
            let sdb = "devices/pci0000:00/0000:00:03.0/virtio1/host2/target2:0:0/2:0:0:1/block/sdb";
            block_node(sys, sdb, 8, 16, "sdb");
            fs::write(udev.join("b8:16"), "E:ID_SERIAL=serial-b\n").unwrap();
            let dm = "devices/virtual/block/dm-0";
            block_device(sys, dm, ma, mi, "dm-0");
            fs::create_dir_all(sys.join(dm).join("slaves")).unwrap();
            for (name, target) in [("vda2", vda2), ("sdb", sdb)] {
                std::os::unix::fs::symlink(
                    format!("../../../../{}", target.trim_start_matches("devices/")),
                    sys.join(dm).join("slaves").join(name),
                )
                .unwrap();
            }
        }),
        ("loop", |sys, _, ma, mi| {
            block_device(sys, "devices/virtual/block/loop0", ma, mi, "loop0");
        }),
        ("not in sysfs", |sys, _, _, _| {
            fs::create_dir_all(sys.join("dev/block")).unwrap();
        }),
    ]
}
