//! guest-get-fsinfo, as qemu-ga 7.2 does it on Linux.
//!
//! The mounts are the local filesystems of the mount table ([`MountTable`],
//! shared with guest-fsfreeze-* and guest-fstrim). The answer lists them in
//! the reverse of the mount table's order.
//!
//! Each mount's device is resolved through sysfs (`/sys/dev/block/MAJ:MIN`): `name`
//! is the last component of the device's sysfs path; a virtual device
//! (`/devices/virtual/block/`, e.g. device-mapper or md) is followed through its
//! `slaves`; a real device gives one [`GuestDiskAddress`] with its device node and
//! serial (as udev knows them), its PCI controller, bus type and SCSI address when
//! the driver is one qemu-ga knows (`ata_piix` → ide, `sym53c8xx` → scsi,
//! `virtio-pci` → virtio or, for virtio-scsi, scsi, `ahci` → sata, `nvme` → nvme),
//! and its CCW address on s390x. `used-bytes` and `total-bytes` come from
//! statvfs() of the mount point: used = (blocks - free) × fragment size; total =
//! used + what is available to unprivileged users; `total-bytes-privileged`
//! (QEMU 9.1) = blocks × fragment size, the reserved blocks included.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use qga_types::{
    GuestCCWAddress, GuestDiskAddress, GuestDiskBusType, GuestFilesystemInfo, GuestPCIAddress,
};

use crate::commands::error::errno_error;
use crate::commands::error::CommandError;
use crate::commands::mounts::{FsMount, MountTable};
use crate::commands::udev::Uevent;
use crate::ctype::{sign_prefix, Scanner};

/// Where guest-get-fsinfo reads from. [`FsInfoSources::default`] is the real
/// system; tests point the fields at fixtures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsInfoSources {
    /// The mount table (`/proc/self/mountinfo`, or `/proc/self/mounts`).
    pub mount_table: MountTable,
    /// The sysfs root (`/sys`).
    pub sysfs: PathBuf,
    /// udev's database of devices (`/run/udev/data`), for disk serial numbers.
    /// `None`: no udev at all, so no `dev` or `serial` (as a qemu-ga built
    /// without libudev, or whose libudev refuses a tree that is not sysfs).
    pub udev_data: Option<PathBuf>,
}

impl Default for FsInfoSources {
    fn default() -> Self {
        FsInfoSources {
            mount_table: MountTable::default(),
            sysfs: PathBuf::from("/sys"),
            udev_data: Some(PathBuf::from("/run/udev/data")),
        }
    }
}

/// guest-get-fsinfo for the real system.
pub fn get_fsinfo() -> Result<Vec<GuestFilesystemInfo>, CommandError> {
    get_fsinfo_from(&FsInfoSources::default())
}

/// guest-get-fsinfo from the given sources.
pub fn get_fsinfo_from(sources: &FsInfoSources) -> Result<Vec<GuestFilesystemInfo>, CommandError> {
    let mounts = sources.mount_table.list()?;
    let mut result = Vec::with_capacity(mounts.len());
    for mount in &mounts {
        result.push(fsinfo_for_mount(mount, sources)?);
    }
    result.reverse();
    Ok(result)
}

/// One entry of the answer.
fn fsinfo_for_mount(
    mount: &FsMount,
    sources: &FsInfoSources,
) -> Result<GuestFilesystemInfo, CommandError> {
    let devpath = sources
        .sysfs
        .join("dev/block")
        .join(format!("{}:{}", mount.devmajor, mount.devminor));
    let mut name = None;
    let mut disks = Vec::new();
    fsinfo_for_device(
        &devpath,
        &mut name,
        &mut disks,
        sources.udev_data.as_deref(),
        0,
    )?;
    let (used_bytes, total_bytes, total_bytes_privileged) =
        match rustix::fs::statvfs(&mount.dirname) {
            Ok(st) => {
                let used = st.f_blocks.wrapping_sub(st.f_bfree);
                let nonroot_total = used.wrapping_add(st.f_bavail);
                (
                    Some(used.wrapping_mul(st.f_frsize)),
                    Some(nonroot_total.wrapping_mul(st.f_frsize)),
                    Some(st.f_blocks.wrapping_mul(st.f_frsize)),
                )
            }
            Err(_) => (None, None, None),
        };
    Ok(GuestFilesystemInfo {
        name: name.unwrap_or_default(),
        mountpoint: mount.dirname.to_string_lossy().into_owned(),
        r#type: mount.devtype.clone(),
        used_bytes,
        total_bytes,
        total_bytes_privileged,
        disk: disks,
    })
}

/// The address of the disk at `devpath` (a sysfs device path, a link to one
/// will do), as guest-get-fsinfo finds it: the first disk of the walk
/// (qemu-ga's `get_disk_address()`, which guest-get-disks uses). `None` when the
/// walk finds no disk; its errors are returned.
pub fn disk_address(
    devpath: &Path,
    udev_data: Option<&Path>,
) -> Result<Option<GuestDiskAddress>, CommandError> {
    let mut name = None;
    let mut disks = Vec::new();
    fsinfo_for_device(devpath, &mut name, &mut disks, udev_data, 0)?;
    Ok(disks.into_iter().next())
}

/// Whether the device at `devpath` is a virtual one of the kernel (device-mapper,
/// md, loop, ...): its sysfs path is under `/devices/virtual/block/`.
pub fn is_virtual_device(devpath: &Path) -> io::Result<bool> {
    let syspath = fs::canonicalize(devpath)?;
    Ok(syspath
        .to_string_lossy()
        .contains("/devices/virtual/block/"))
}

fn basename(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}

/// Resolve a device's sysfs path and collect its disks (qemu-ga's
/// `build_guest_fsinfo_for_device()`); `name` is set by the first call. `depth`
/// counts the virtual devices above this one.
fn fsinfo_for_device(
    devpath: &Path,
    name: &mut Option<String>,
    disks: &mut Vec<GuestDiskAddress>,
    udev_data: Option<&Path>,
    depth: usize,
) -> Result<(), CommandError> {
    let syspath = match fs::canonicalize(devpath) {
        Ok(p) => p,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // The device may be missing from sysfs (e.g. in a container).
            name.get_or_insert_with(|| basename(devpath));
            return Ok(());
        }
        Err(e) => {
            return Err(errno_error(
                format_args!("realpath(\"{}\")", devpath.display()),
                &e,
            ))
        }
    };
    name.get_or_insert_with(|| basename(&syspath));
    let text = syspath.to_string_lossy().into_owned();
    if text.contains("/devices/virtual/block/") {
        fsinfo_for_virtual_device(&syspath, name, disks, udev_data, depth)
    } else {
        fsinfo_for_real_device(&syspath, &text, disks, udev_data)
    }
}

/// Virtual devices stacked deeper than this are not followed: real stacks
/// (partition, md, dm, dm) are a few levels deep, and a loop in `slaves` links
/// would otherwise recurse without end (qemu-ga crashes on one).
const MAX_DEVICE_DEPTH: usize = 32;

/// A virtual block device: its disks are those of its slaves, in the reverse of
/// directory order (qemu-ga prepends each).
fn fsinfo_for_virtual_device(
    syspath: &Path,
    name: &mut Option<String>,
    disks: &mut Vec<GuestDiskAddress>,
    udev_data: Option<&Path>,
    depth: usize,
) -> Result<(), CommandError> {
    if depth >= MAX_DEVICE_DEPTH {
        return Ok(());
    }
    let dirpath = syspath.join("slaves");
    let entries = match fs::read_dir(&dirpath) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(errno_error(
                format_args!("opendir(\"{}\")", dirpath.display()),
                &e,
            ))
        }
    };
    for entry in entries {
        let entry = entry
            .map_err(|e| errno_error(format_args!("readdir(\"{}\")", dirpath.display()), &e))?;
        if entry.file_type().is_ok_and(|t| t.is_symlink()) {
            fsinfo_for_device(&entry.path(), name, disks, udev_data, depth + 1)?;
        }
    }
    Ok(())
}

/// A real block device: one disk address, kept when qemu-ga would keep it (the
/// bus was recognised, or udev knows a device node or serial).
fn fsinfo_for_real_device(
    syspath: &Path,
    text: &str,
    disks: &mut Vec<GuestDiskAddress>,
    udev_data: Option<&Path>,
) -> Result<(), CommandError> {
    let mut disk = GuestDiskAddress {
        pci_controller: GuestPCIAddress {
            domain: -1,
            bus: -1,
            slot: -1,
            function: -1,
        },
        bus_type: GuestDiskBusType::Unknown,
        bus: 0,
        target: 0,
        unit: 0,
        serial: None,
        dev: None,
        ccw_address: None,
    };
    if let Some(udev_data) = udev_data {
        // libudev's view: the node from the uevent file, the serial from udev's
        // database (when not empty).
        let uevent = Uevent::read(syspath);
        disk.dev = uevent.devnode();
        disk.serial = uevent
            .property(udev_data, "ID_SERIAL")
            .filter(|s| !s.is_empty());
    }
    let has_hwinf = if text.contains("/devices/pci") {
        pci_disk(text, &mut disk)?
    } else if text.contains("/devices/css") {
        ccw_disk(text, &mut disk)
    } else if text.contains("/virtio") {
        nonpci_virtio_disk(text, &mut disk)
    } else {
        false
    };
    if has_hwinf || disk.dev.is_some() || disk.serial.is_some() {
        disks.insert(0, disk);
    }
    Ok(())
}

/// The basename of the `driver` link of the device at `path`.
fn pci_driver(path: &str) -> Option<String> {
    let target = fs::read_link(format!("{path}/driver")).ok()?;
    Some(basename(&target))
}

/// The drivers qemu-ga 7.2 knows the disks of.
const KNOWN_DRIVERS: [&str; 5] = ["ata_piix", "sym53c8xx", "virtio-pci", "ahci", "nvme"];

/// Parse "DOMAIN:BUS:SLOT.FUNCTION" (hex), returning it and the bytes used.
fn scan_pci(s: &[u8]) -> Option<([u32; 4], usize)> {
    let mut sc = Scanner::new(s);
    let domain = sc.hex()?;
    sc.literal(b':')?;
    let bus = sc.hex()?;
    sc.literal(b':')?;
    let slot = sc.hex()?;
    sc.literal(b'.')?;
    let function = sc.hex()?;
    Some(([domain, bus, slot, function], sc.pos()))
}

/// The SCSI address after "/target": "H:C:T/H:C:T:L" gives (C, T, L).
fn scan_target(s: &[u8]) -> Option<[u32; 3]> {
    let mut sc = Scanner::new(s);
    sc.unsigned()?;
    sc.literal(b':')?;
    sc.unsigned()?;
    sc.literal(b':')?;
    sc.unsigned()?;
    sc.literal(b'/')?;
    sc.unsigned()?;
    sc.literal(b':')?;
    let channel = sc.unsigned()?;
    sc.literal(b':')?;
    let target = sc.unsigned()?;
    sc.literal(b':')?;
    let lun = sc.unsigned()?;
    Some([channel, target, lun])
}

/// A disk under a PCI device (qemu-ga's `build_guest_fsinfo_for_pci_dev()`).
fn pci_disk(syspath: &str, disk: &mut GuestDiskAddress) -> Result<bool, CommandError> {
    let bytes = syspath.as_bytes();
    let Some(start) = syspath.find("/devices/pci") else {
        return Ok(false);
    };
    // "/devices/pciDDDD:BB/" then the first device's address.
    let mut p = start + 12;
    let first = {
        let mut sc = Scanner::new(&bytes[p..]);
        sc.hex()
            .and_then(|_| sc.literal(b':'))
            .and_then(|_| sc.hex())
            .and_then(|_| sc.literal(b'/'))
            .map(|_| sc.pos())
    };
    let Some((mut pci, len)) =
        first.and_then(|skip| scan_pci(&bytes[p + skip..]).map(|(pci, len)| (pci, skip + len)))
    else {
        return Ok(false);
    };
    p += len;
    // Walk down through bridges until a device with a known driver.
    let driver = loop {
        if let Some(driver) = pci_driver(&syspath[..p]) {
            if KNOWN_DRIVERS.contains(&driver.as_str()) {
                break driver;
            }
        }
        match bytes[p..].strip_prefix(b"/").and_then(scan_pci) {
            Some((next, len)) => {
                pci = next;
                p += 1 + len;
            }
            None => return Ok(false),
        }
    };

    let tgt = syspath
        .find("/target")
        .and_then(|at| scan_target(&bytes[at + 7..]));

    let (host_at, number_at, ata) = match syspath.find("/ata") {
        Some(at) => (Some(at), at + 4, true),
        None => match syspath.find("/host") {
            Some(at) => (Some(at), at + 5, false),
            None => (None, 0, false),
        },
    };
    let mut host = None;
    let mut hosts = Vec::new();
    if let Some(at) = host_at {
        if let Some(n) = Scanner::new(&bytes[number_at..]).unsigned() {
            host = Some(n);
            hosts = build_hosts(&syspath[..at], ata)?;
        }
    }

    disk.pci_controller = GuestPCIAddress {
        domain: i64::from(pci[0]),
        bus: i64::from(pci[1]),
        slot: i64::from(pci[2]),
        function: i64::from(pci[3]),
    };

    let host_index = || host.and_then(|h| hosts.iter().position(|&x| x == h));
    match driver.as_str() {
        "ata_piix" => {
            // One host per IDE bus; the unit is the target number.
            let (Some(tgt), Some(index)) = (tgt, host_index()) else {
                return Ok(false);
            };
            disk.bus_type = GuestDiskBusType::Ide;
            disk.bus = index as i64;
            disk.unit = i64::from(tgt[1]);
        }
        "sym53c8xx" => {
            let Some(tgt) = tgt else {
                return Ok(false);
            };
            disk.bus_type = GuestDiskBusType::Scsi;
            disk.unit = i64::from(tgt[1]);
        }
        "virtio-pci" => match tgt {
            // virtio-scsi: the unit is the LUN.
            Some(tgt) => {
                disk.bus_type = GuestDiskBusType::Scsi;
                disk.unit = i64::from(tgt[2]);
            }
            // virtio-blk: one disk per device.
            None => disk.bus_type = GuestDiskBusType::Virtio,
        },
        "ahci" => {
            // One host per port; the unit is the port's rank.
            let (Some(_), Some(index)) = (tgt, host_index()) else {
                return Ok(false);
            };
            disk.unit = index as i64;
            disk.bus_type = GuestDiskBusType::Sata;
        }
        _ => disk.bus_type = GuestDiskBusType::Nvme,
    }
    Ok(true)
}

/// The numbers of the `ataN` (or `hostN`) entries of a directory, at most 8 of
/// them, sorted.
fn build_hosts(dir: &str, ata: bool) -> Result<Vec<u32>, CommandError> {
    let entries =
        fs::read_dir(dir).map_err(|e| errno_error(format_args!("opendir(\"{dir}\")"), &e))?;
    let prefix: &[u8] = if ata { b"ata" } else { b"host" };
    let mut hosts = Vec::new();
    for entry in entries {
        if hosts.len() >= 8 {
            break;
        }
        let Ok(entry) = entry else {
            break;
        };
        let name = entry.file_name();
        if let Some(rest) = name.as_bytes().strip_prefix(prefix) {
            if let Some(n) = scan_c_int(rest) {
                hosts.push(n);
            }
        }
    }
    hosts.sort_unstable();
    Ok(hosts)
}

/// `%d` into an unsigned: optional white space and sign, then digits (at least
/// one); wrapping.
fn scan_c_int(s: &[u8]) -> Option<u32> {
    let (negative, pos) = sign_prefix(s);
    let n = Scanner::at(s, pos).digits(10)?;
    Some(if negative { n.wrapping_neg() } else { n })
}

/// A virtio disk not on PCI (e.g. s390x channel I/O): virtio-scsi when the path has
/// a SCSI target, virtio-blk otherwise.
fn nonpci_virtio_disk(syspath: &str, disk: &mut GuestDiskAddress) -> bool {
    if !syspath.contains("/virtio") || !syspath.contains("/block") {
        return false;
    }
    let tgt = syspath
        .find("/target")
        .and_then(|at| scan_target(&syspath.as_bytes()[at + 7..]));
    match tgt {
        Some([bus, target, unit]) => {
            disk.bus_type = GuestDiskBusType::Scsi;
            disk.bus = i64::from(bus);
            disk.target = i64::from(target);
            disk.unit = i64::from(unit);
        }
        None => disk.bus_type = GuestDiskBusType::Virtio,
    }
    true
}

/// A disk on an s390x channel subsystem: "/devices/cssN/C.S.SUBCH/X.Y.DEVNO/".
fn ccw_disk(syspath: &str, disk: &mut GuestDiskAddress) -> bool {
    let Some(at) = syspath.find("/devices/css") else {
        return false;
    };
    let mut sc = Scanner::new(&syspath.as_bytes()[at + 12..]);
    let mut next = || -> Option<[u32; 4]> {
        sc.hex()?;
        sc.literal(b'/')?;
        let cssid = sc.hex()?;
        sc.literal(b'.')?;
        let ssid = sc.hex()?;
        sc.literal(b'.')?;
        let subchno = sc.hex()?;
        sc.literal(b'/')?;
        sc.hex()?;
        sc.literal(b'.')?;
        sc.hex()?;
        sc.literal(b'.')?;
        let devno = sc.hex()?;
        Some([cssid, ssid, subchno, devno])
    };
    let Some([cssid, ssid, subchno, devno]) = next() else {
        return false;
    };
    disk.ccw_address = Some(GuestCCWAddress {
        cssid: i64::from(cssid),
        ssid: i64::from(ssid),
        subchno: i64::from(subchno),
        devno: i64::from(devno),
    });
    if syspath[at..].contains("/virtio") {
        nonpci_virtio_disk(syspath, disk);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::scan_c_int;

    #[test]
    fn percent_d_into_unsigned() {
        assert_eq!(scan_c_int(b"3"), Some(3));
        assert_eq!(scan_c_int(b"12x"), Some(12));
        assert_eq!(scan_c_int(b" \t\x0b\x0c\r\n+7"), Some(7));
        assert_eq!(scan_c_int(b"-1"), Some(u32::MAX));
        assert_eq!(scan_c_int(b"4294967297"), Some(1), "wraps");
        assert_eq!(scan_c_int(b""), None);
        assert_eq!(scan_c_int(b"-"), None, "a sign without digits");
        assert_eq!(scan_c_int(b"- 1"), None, "no space after the sign");
        assert_eq!(scan_c_int(b"x1"), None);
    }
}
