//! The mount table: the local filesystems guest-get-fsinfo lists and
//! guest-fsfreeze-* and guest-fstrim walk, read as qemu-ga's
//! `build_fs_mount_list()` reads it.
//!
//! The mounts come from /proc/self/mountinfo (or, when that cannot be opened,
//! /proc/self/mounts). Every mount whose device has major number 0 is left out
//! (proc, sysfs, tmpfs, overlay, NFS, CIFS and every other virtual or network
//! filesystem), except btrfs, whose real device is found by stat()ing its source.
//! As qemu-ga 10.0 and later, a device mounted more than once is kept at its
//! first mount only. One module, so that the three commands agree on what a
//! filesystem is.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::commands::error::CommandError;
use crate::ctype::Scanner;

/// Where the mounted filesystems are listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountTable {
    /// The mount table in mountinfo format (`/proc/self/mountinfo`).
    pub mountinfo: PathBuf,
    /// The mount table in fstab format, read when `mountinfo` cannot be
    /// (`/proc/self/mounts`).
    pub mounts: PathBuf,
}

impl Default for MountTable {
    fn default() -> Self {
        MountTable {
            mountinfo: PathBuf::from("/proc/self/mountinfo"),
            mounts: PathBuf::from("/proc/self/mounts"),
        }
    }
}

impl MountTable {
    /// The local filesystems, in the table's order (qemu-ga's
    /// build_fs_mount_list()): from `mountinfo`, or from `mounts` when
    /// `mountinfo` cannot be opened.
    pub fn list(&self) -> Result<Vec<FsMount>, CommandError> {
        let mounts = match fs::read(&self.mountinfo) {
            Ok(content) => parse_mountinfo(&content),
            Err(_) => match fs::read(&self.mounts) {
                Ok(content) => parse_mounts(&content),
                Err(_) => {
                    return Err(CommandError(format!(
                        "failed to open mtab file: '{}'",
                        self.mounts.display()
                    )))
                }
            },
        };
        Ok(first_mount_of_each_device(mounts))
    }
}

/// Each device once, at its first mount (QEMU 10.0): a filesystem mounted
/// twice (a bind mount of part of it, a second btrfs subvolume) is listed,
/// frozen and trimmed once. Mounts whose device is unknown (0:0, from the
/// fallback table) are all kept: they are not known to be the same (qemu-ga
/// keeps only the first of them).
pub fn first_mount_of_each_device(mounts: Vec<FsMount>) -> Vec<FsMount> {
    let mut seen = std::collections::HashSet::new();
    mounts
        .into_iter()
        .filter(|m| (m.devmajor, m.devminor) == (0, 0) || seen.insert((m.devmajor, m.devminor)))
        .collect()
}

/// One mounted local filesystem (qemu-ga's `FsMount`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsMount {
    /// The mount point, with the mount table's octal escapes decoded.
    pub dirname: PathBuf,
    /// The filesystem type.
    pub devtype: String,
    /// The device's major number.
    pub devmajor: u32,
    /// The device's minor number.
    pub devminor: u32,
}

/// The local filesystems of mountinfo content. Lines that do not have the fields
/// qemu-ga needs are skipped; mounts with major number 0 are skipped unless they are
/// btrfs and their source is a block device.
pub fn parse_mountinfo(content: &[u8]) -> Vec<FsMount> {
    let mut mounts = Vec::new();
    for line in content.split_inclusive(|&b| b == b'\n') {
        let Some(fields) = scan_mountinfo_line(line) else {
            continue;
        };
        let (mut devmajor, mut devminor) = (fields.major, fields.minor);
        if devmajor == 0 {
            // btrfs reports major number 0: take the device's.
            if fields.fstype != b"btrfs" {
                continue;
            }
            match dev_major_minor(Path::new(std::ffi::OsStr::from_bytes(&fields.source))) {
                DevNumber::Block(major, minor) => {
                    devmajor = major;
                    devminor = minor;
                }
                DevNumber::Directory | DevNumber::Other => continue,
            }
        }
        mounts.push(FsMount {
            dirname: PathBuf::from(std::ffi::OsStr::from_bytes(&fields.mountpoint)),
            devtype: String::from_utf8_lossy(&fields.fstype).into_owned(),
            devmajor,
            devminor,
        });
    }
    mounts
}

struct MountinfoFields {
    major: u32,
    minor: u32,
    mountpoint: Vec<u8>,
    fstype: Vec<u8>,
    source: Vec<u8>,
}

/// qemu-ga's reading of a mountinfo line, "ID PARENT MAJ:MIN ROOT MOUNTPOINT
/// OPTIONS... - TYPE SOURCE SUPEROPTIONS": the mount point must be followed by at
/// least one character, and so must the source.
fn scan_mountinfo_line(line: &[u8]) -> Option<MountinfoFields> {
    let mut sc = Scanner::new(line);
    sc.unsigned()?;
    sc.unsigned()?;
    let major = sc.unsigned()?;
    sc.literal(b':')?;
    let minor = sc.unsigned()?;
    sc.word()?;
    let (dir_s, dir_e) = sc.word()?;
    if dir_e >= line.len() {
        return None;
    }
    let dash = find(&line[dir_e..], b" - ")? + dir_e;
    let mut sc = Scanner::new(&line[dash..]);
    sc.skip_space();
    sc.literal(b'-')?;
    let (type_s, type_e) = sc.word()?;
    let (dev_s, dev_e) = sc.word()?;
    if dash + dev_e >= line.len() {
        return None;
    }
    let tail = &line[dash..];
    Some(MountinfoFields {
        major,
        minor,
        mountpoint: decode_mntname(&line[dir_s..dir_e]),
        fstype: tail[type_s..type_e].to_vec(),
        source: decode_mntname(&tail[dev_s..dev_e]),
    })
}

/// The first occurrence of `needle` in `haystack` (C's `strstr`).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The mount table's escapes: `\\` is a backslash, `\ooo` (first digit 0-3) an
/// octal byte; any other backslash stays.
fn decode_mntname(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    let mut i = 0;
    while i < name.len() {
        let c = name[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
        } else if name.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if let (Some(a @ b'0'..=b'3'), Some(b @ b'0'..=b'7'), Some(d @ b'0'..=b'7')) =
            (name.get(i + 1), name.get(i + 2), name.get(i + 3))
        {
            out.push((a - b'0') * 64 + (b - b'0') * 8 + (d - b'0'));
            i += 4;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

enum DevNumber {
    Block(u32, u32),
    Directory,
    Other,
}

/// What a mount source is: a block device (with its numbers), a directory (a bind
/// mount), or anything else (including a path that cannot be stat()ed).
fn dev_major_minor(path: &Path) -> DevNumber {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => DevNumber::Directory,
        Ok(m) if m.file_type().is_block_device() => {
            let rdev = m.rdev();
            DevNumber::Block(libc::major(rdev), libc::minor(rdev))
        }
        _ => DevNumber::Other,
    }
}

/// The local filesystems of /proc/self/mounts content (qemu-ga's fallback): sources
/// that start with `/`, not smbfs or cifs, not bind mounts of a directory; the
/// device numbers of the source (0:0 when it is not a block device).
pub fn parse_mounts(content: &[u8]) -> Vec<FsMount> {
    let mut mounts = Vec::new();
    for line in content.split(|&b| b == b'\n') {
        let mut fields = line
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|f| !f.is_empty());
        let (Some(source), Some(dir), Some(fstype)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if source.starts_with(b"#") {
            continue;
        }
        let source = decode_mntname(source);
        if source.first() != Some(&b'/') || fstype == b"smbfs" || fstype == b"cifs" {
            continue;
        }
        let (devmajor, devminor) =
            match dev_major_minor(Path::new(std::ffi::OsStr::from_bytes(&source))) {
                DevNumber::Directory => continue,
                DevNumber::Block(major, minor) => (major, minor),
                DevNumber::Other => (0, 0),
            };
        mounts.push(FsMount {
            dirname: PathBuf::from(std::ffi::OsStr::from_bytes(&decode_mntname(dir))),
            devtype: String::from_utf8_lossy(fstype).into_owned(),
            devmajor,
            devminor,
        });
    }
    mounts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(dir: &str, major: u32, minor: u32) -> FsMount {
        FsMount {
            dirname: PathBuf::from(dir),
            devtype: "ext4".into(),
            devmajor: major,
            devminor: minor,
        }
    }

    #[test]
    fn each_device_once_at_its_first_mount() {
        let mounts = vec![
            mount("/", 254, 0),
            mount("/data", 8, 1),
            mount("/srv", 254, 0),
            mount("/a", 0, 0),
            mount("/b", 0, 0),
            mount("/data/sub", 8, 1),
            mount("/boot", 254, 1),
        ];
        let kept: Vec<String> = first_mount_of_each_device(mounts)
            .iter()
            .map(|m| m.dirname.display().to_string())
            .collect();
        assert_eq!(kept, ["/", "/data", "/a", "/b", "/boot"]);
    }
}
