//! guest-get-disks (QEMU 5.2): every block device of the guest, disks and their
//! partitions, as qemu-ga 10.2 lists them on Linux.
//!
//! The disks are the entries of `/sys/block` (links to the devices), except
//! those whose `size` is 0 (empty loop devices, drives without a medium) or
//! cannot be read, and those without a device node. For each disk:
//! - `name` is its device node (`/dev/` + the `DEVNAME` of its uevent file, as
//!   libudev gives it);
//! - `alias` is the device-mapper name: udev's `DM_NAME` property, or, where
//!   udev has no database entry for the device, the kernel's `dm/name` in
//!   sysfs (qemu-ga asks udev only, so a guest without udev gets no alias from
//!   it);
//! - `address` is where the disk is attached, found by the same walk as
//!   guest-get-fsinfo's ([`fsinfo::disk_address`]), for devices that are not
//!   virtual ones of the kernel; a walk that fails leaves it out;
//! - `dependencies` lists the device nodes of the entries of its `slaves`
//!   directory (the devices a device-mapper or md device is built on), and is
//!   `[]` when the directory exists but is empty; absent without one;
//! - `smart` is the SMART / Health Information log page of an NVMe disk
//!   ([`nvme`]), read from its controller's device node (`/dev/nvme0` for
//!   `nvme0n1`), or from the disk's own node when the controller has none
//!   (a multipath head); absent when it cannot be read.
//!
//! Each partition is a directory of its disk named after it with a number
//! (`vda1`) or `p` and a number (`nvme0n1p1`), listed with `partition: true`
//! and its disk's node as its only dependency.
//!
//! The order is qemu-ga's, which builds the list by prepending: the reverse of
//! the directory order of the disks, each disk's partitions (in reverse) before
//! it.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use qga_types::{
    GuestDiskBusType, GuestDiskInfo, GuestDiskSmart, GuestDiskSmartBranch, GuestNVMeSmart,
};

use crate::commands::error::{errno_error, CommandError};
use crate::commands::udev::{self, Uevent};
use crate::commands::{fsinfo, nvme};

/// Reads the NVMe health log of a device node (the ioctl, or a stand-in in
/// tests).
pub type SmartReader = fn(device: &Path) -> Option<GuestNVMeSmart>;

/// Where guest-get-disks reads from. [`DiskSources::default`] is the real
/// system; tests point the fields at fixtures.
#[derive(Debug, Clone)]
pub struct DiskSources {
    /// The sysfs root (`/sys`).
    pub sysfs: PathBuf,
    /// udev's database (`/run/udev/data`), for serials and device-mapper names;
    /// `None` for no udev.
    pub udev_data: Option<PathBuf>,
    /// How the NVMe health log is read.
    pub smart: SmartReader,
}

impl Default for DiskSources {
    fn default() -> Self {
        DiskSources {
            sysfs: PathBuf::from("/sys"),
            udev_data: Some(PathBuf::from("/run/udev/data")),
            smart: nvme::smart,
        }
    }
}

/// guest-get-disks on this system.
pub fn get_disks() -> Result<Vec<GuestDiskInfo>, CommandError> {
    get_disks_from(&DiskSources::default())
}

/// guest-get-disks from the given sources.
pub fn get_disks_from(sources: &DiskSources) -> Result<Vec<GuestDiskInfo>, CommandError> {
    let block = sources.sysfs.join("block");
    let entries = fs::read_dir(&block).map_err(|e| {
        errno_error(
            format_args!("Can't open directory \"{}\"", block.display()),
            &e,
        )
    })?;
    let mut list = Vec::new();
    for entry in entries {
        let Ok(entry) = entry else { break };
        if !entry.file_type().is_ok_and(|t| t.is_symlink()) {
            continue;
        }
        let disk_dir = entry.path();
        match fs::read(disk_dir.join("size")) {
            Ok(size) if size != b"0\n" => {}
            _ => continue,
        }
        let Some(disk) = disk_info(&disk_dir, sources) else {
            continue;
        };
        let node = disk.name.clone();
        list.push(disk);
        list.extend(partitions(&disk_dir, entry.file_name().as_bytes(), &node));
    }
    list.reverse();
    Ok(list)
}

/// One disk; `None` when it has no device node.
fn disk_info(disk_dir: &Path, sources: &DiskSources) -> Option<GuestDiskInfo> {
    let uevent = Uevent::read(disk_dir);
    let name = uevent.devnode()?;
    let udev_data = sources.udev_data.as_deref();
    let alias = device_mapper_name(disk_dir, &uevent, udev_data);
    let address = match fsinfo::is_virtual_device(disk_dir) {
        Ok(false) => fsinfo::disk_address(disk_dir, udev_data).unwrap_or_else(|e| {
            tracing::debug!("failed to get device info, ignoring error: {e}");
            None
        }),
        Ok(true) => None,
        Err(e) => {
            tracing::debug!("failed to check disk path, ignoring error: {e}");
            None
        }
    };
    let dependencies = dependencies(disk_dir);
    let smart = match &address {
        Some(address) if address.bus_type == GuestDiskBusType::Nvme => {
            let device = nvme_controller_node(disk_dir).unwrap_or_else(|| PathBuf::from(&name));
            (sources.smart)(&device).map(|smart| GuestDiskSmart {
                r#type: GuestDiskSmartBranch::Nvme(smart),
            })
        }
        _ => None,
    };
    Some(GuestDiskInfo {
        name,
        partition: false,
        dependencies,
        address,
        alias,
        smart,
    })
}

/// The device-mapper name: udev's `DM_NAME` when udev has an entry for the
/// device (empty meaning none), else the kernel's `dm/name`.
fn device_mapper_name(
    disk_dir: &Path,
    uevent: &Uevent,
    udev_data: Option<&Path>,
) -> Option<String> {
    let from_udev = udev_data.and_then(|db| uevent.property(db, "DM_NAME"));
    let name = match from_udev {
        Some(name) => name,
        None => {
            let text = fs::read_to_string(disk_dir.join("dm/name")).ok()?;
            text.trim_end_matches('\n').to_owned()
        }
    };
    (!name.is_empty()).then_some(name)
}

/// The nodes of the devices in `slaves`, in the reverse of directory order;
/// `None` when the directory cannot be opened.
fn dependencies(disk_dir: &Path) -> Option<Vec<String>> {
    let entries = match fs::read_dir(disk_dir.join("slaves")) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::debug!(
                "failed to list entries in {}/slaves: {e}",
                disk_dir.display()
            );
            return None;
        }
    };
    let mut nodes: Vec<String> = entries
        .map_while(Result::ok)
        .filter_map(|entry| udev::devnode(&entry.path()))
        .collect();
    nodes.reverse();
    Some(nodes)
}

/// The partitions of the disk at `disk_dir` named `disk_name` (node
/// `disk_node`), in the reverse of directory order.
fn partitions(disk_dir: &Path, disk_name: &[u8], disk_node: &str) -> Vec<GuestDiskInfo> {
    let Ok(entries) = fs::read_dir(disk_dir) else {
        return Vec::new();
    };
    let mut found: Vec<GuestDiskInfo> = entries
        .map_while(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|entry| is_partition_name(disk_name, entry.file_name().as_bytes()))
        .filter_map(|entry| {
            let name = udev::devnode(&entry.path());
            if name.is_none() {
                tracing::debug!("no device node for {}", entry.path().display());
            }
            Some(GuestDiskInfo {
                name: name?,
                partition: true,
                dependencies: Some(vec![disk_node.to_owned()]),
                address: None,
                alias: None,
                smart: None,
            })
        })
        .collect();
    found.reverse();
    found
}

/// `<disk>N...` or `<disk>pN...`: the names qemu-ga takes for partitions.
fn is_partition_name(disk: &[u8], entry: &[u8]) -> bool {
    let Some(rest) = entry.strip_prefix(disk) else {
        return false;
    };
    let digit_at = |i: usize| rest.get(i).is_some_and(u8::is_ascii_digit);
    digit_at(0) || (rest.first() == Some(&b'p') && digit_at(1))
}

/// The device node of the NVMe controller of the namespace at `disk_dir`:
/// its `device` is the controller (`nvme0`), whose uevent names the character
/// device. `None` when the `device` has no node (a multipath head's is the
/// subsystem).
fn nvme_controller_node(disk_dir: &Path) -> Option<PathBuf> {
    udev::devnode(&disk_dir.join("device")).map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::is_partition_name;

    #[test]
    fn partition_names() {
        assert!(is_partition_name(b"vda", b"vda1"));
        assert!(is_partition_name(b"sda", b"sda15"));
        assert!(is_partition_name(b"nvme0n1", b"nvme0n1p1"));
        assert!(is_partition_name(b"mmcblk0", b"mmcblk0p2"));
        assert!(!is_partition_name(b"vda", b"vdb1"));
        assert!(!is_partition_name(b"vda", b"vda"));
        assert!(!is_partition_name(b"vda", b"vdap"));
        assert!(!is_partition_name(b"vda", b"queue"));
        assert!(!is_partition_name(b"nvme0n1", b"nvme0n1px"));
    }
}
