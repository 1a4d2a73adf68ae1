//! What libudev tells qemu-ga about a block device, read from the same places
//! without libudev: its device node, from the `DEVNAME` of the device's
//! `uevent` file in sysfs, and its properties (`ID_SERIAL`, `DM_NAME`), from
//! udev's database entry `b<MAJOR>:<MINOR>` (`/run/udev/data`). Shared by
//! guest-get-fsinfo (a disk's node and serial) and guest-get-disks (the nodes
//! of disks, partitions and dependencies, and device-mapper names).

use std::fs;
use std::path::Path;

/// The `KEY=value` lines of a device's uevent file that libudev reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uevent {
    /// `DEVNAME`: the node's name under /dev (or an absolute path).
    pub devname: Option<String>,
    /// `MAJOR`.
    pub major: Option<String>,
    /// `MINOR`.
    pub minor: Option<String>,
}

impl Uevent {
    /// The uevent file of the device at `syspath` (a link to it will do);
    /// empty when there is none.
    pub fn read(syspath: &Path) -> Uevent {
        let text = fs::read_to_string(syspath.join("uevent")).unwrap_or_default();
        let mut uevent = Uevent::default();
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("DEVNAME=") {
                uevent.devname = Some(v.to_owned());
            } else if let Some(v) = line.strip_prefix("MAJOR=") {
                uevent.major = Some(v.to_owned());
            } else if let Some(v) = line.strip_prefix("MINOR=") {
                uevent.minor = Some(v.to_owned());
            }
        }
        uevent
    }

    /// The device node, as `udev_device_get_devnode()` gives it: `/dev/` and
    /// `DEVNAME`.
    pub fn devnode(&self) -> Option<String> {
        self.devname.as_ref().map(|name| {
            if name.starts_with('/') {
                name.clone()
            } else {
                format!("/dev/{name}")
            }
        })
    }

    /// The last value of property `key` in the device's entry of udev's
    /// database `udev_data`, if any.
    pub fn property(&self, udev_data: &Path, key: &str) -> Option<String> {
        let (major, minor) = (self.major.as_ref()?, self.minor.as_ref()?);
        let db = fs::read_to_string(udev_data.join(format!("b{major}:{minor}"))).ok()?;
        let prefix = format!("E:{key}=");
        db.lines()
            .filter_map(|l| l.strip_prefix(prefix.as_str()))
            .next_back()
            .map(str::to_owned)
    }
}

/// The device node of the device at `syspath`.
pub fn devnode(syspath: &Path) -> Option<String> {
    Uevent::read(syspath).devnode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_and_properties() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("dm-0");
        fs::create_dir(&dev).unwrap();
        assert_eq!(devnode(&dev), None);
        fs::write(
            dev.join("uevent"),
            "MAJOR=253\nMINOR=0\nDEVNAME=dm-0\nDEVTYPE=disk\n",
        )
        .unwrap();
        let uevent = Uevent::read(&dev);
        assert_eq!(uevent.devnode().as_deref(), Some("/dev/dm-0"));
        let db = dir.path().join("data");
        fs::create_dir(&db).unwrap();
        assert_eq!(uevent.property(&db, "DM_NAME"), None);
        fs::write(
            db.join("b253:0"),
            "S:mapper/vg0-root\nE:DM_NAME=old\nE:DM_NAME=vg0-root\nE:DM_UUID=x\n",
        )
        .unwrap();
        assert_eq!(uevent.property(&db, "DM_NAME").as_deref(), Some("vg0-root"));
        assert_eq!(uevent.property(&db, "DM"), None);
        fs::write(dev.join("uevent"), "DEVNAME=/dev/odd\n").unwrap();
        assert_eq!(devnode(&dev).as_deref(), Some("/dev/odd"));
    }
}
