//! guest-fstrim, as qemu-ga 7.2 does it on Linux.
//!
//! Every local filesystem of the mount table (the same list guest-fsfreeze-*
//! and guest-get-fsinfo use) is trimmed with FITRIM over its whole range, with
//! `minimum` (0 when absent) as the shortest extent worth discarding. The answer
//! has one entry per filesystem, in the reverse of the table's order:
//! - `{path, trimmed, minimum}`: the bytes discarded and the minimum extent the
//!   filesystem actually used (it may round `minimum` up);
//! - `{path, error: "failed to open: STRERROR"}`: the mount point could not be
//!   opened;
//! - `{path, error: "trim not supported"}`: FITRIM failed with EOPNOTSUPP (the
//!   filesystem or its device cannot discard) or ENOTTY (no FITRIM at all, e.g.
//!   a CD-ROM);
//! - `{path, error: "failed to trim: STRERROR"}`: any other failure (EINVAL for
//!   a `minimum` larger than the filesystem allows, EROFS, ...).
//!
//! Only a mount table that cannot be read fails the whole command. A negative
//! `minimum` is passed on as the unsigned number it is in two's complement, as
//! qemu-ga does (filesystems refuse it with EINVAL).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use qga_types::{GuestFilesystemTrimResponse, GuestFilesystemTrimResult};

use crate::commands::error::io_error_text;
use crate::commands::error::CommandError;
use crate::commands::mounts::MountTable;

/// The kernel's `struct fstrim_range`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct FstrimRange {
    start: u64,
    len: u64,
    minlen: u64,
}

/// `_IOWR('X', 121, struct fstrim_range)`.
const FITRIM: rustix::ioctl::Opcode = rustix::ioctl::opcode::read_write::<FstrimRange>(b'X', 121);

/// guest-fstrim on this system.
pub fn fstrim(minimum: Option<i64>) -> Result<GuestFilesystemTrimResponse, CommandError> {
    fstrim_in(&MountTable::default(), minimum)
}

/// guest-fstrim over the filesystems of `table`.
pub fn fstrim_in(
    table: &MountTable,
    minimum: Option<i64>,
) -> Result<GuestFilesystemTrimResponse, CommandError> {
    tracing::info!("guest-fstrim called");
    let mounts = table.list()?;
    let mut paths = Vec::with_capacity(mounts.len());
    for mount in mounts.iter().rev() {
        let mut result = GuestFilesystemTrimResult {
            path: mount.dirname.to_string_lossy().into_owned(),
            trimmed: None,
            minimum: None,
            error: None,
        };
        match File::open(&mount.dirname) {
            Err(e) => result.error = Some(format!("failed to open: {}", io_error_text(&e))),
            Ok(dir) => {
                let mut range = FstrimRange {
                    start: 0,
                    len: u64::MAX,
                    // Two's complement, as qemu-ga's assignment to a __u64.
                    minlen: minimum.unwrap_or(0) as u64,
                };
                match fitrim(&dir, &mut range) {
                    Ok(()) => {
                        result.minimum = Some(range.minlen as i64);
                        result.trimmed = Some(range.len as i64);
                    }
                    Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTTY | libc::EOPNOTSUPP)) => {
                        result.error = Some("trim not supported".into());
                    }
                    Err(e) => {
                        result.error = Some(format!("failed to trim: {}", io_error_text(&e)));
                    }
                }
            }
        }
        paths.push(result);
    }
    Ok(GuestFilesystemTrimResponse { paths })
}

/// FITRIM on the filesystem of `file`; the kernel updates `range` with what it
/// did (`len`: bytes trimmed, `minlen`: the minimum it used).
fn fitrim(file: &File, range: &mut FstrimRange) -> io::Result<()> {
    // SAFETY: the descriptor is open for the duration of the call, and `range`
    // is a valid, writable `struct fstrim_range`.
    let rc = unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            FITRIM as libc::Ioctl,
            std::ptr::from_mut(range),
        )
    };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn table(dir: &Path, mountinfo: &str) -> MountTable {
        let path = dir.join("mountinfo");
        std::fs::write(&path, mountinfo).unwrap();
        MountTable {
            mountinfo: path,
            mounts: dir.join("no-mounts"),
        }
    }

    #[test]
    fn ioctl_number() {
        assert_eq!(size_of::<FstrimRange>(), 24);
        assert_eq!(FITRIM as u64 & 0xffff, 0x5879);
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        assert_eq!(FITRIM as u64, 0xc018_5879);
    }

    #[test]
    fn no_filesystems_no_results() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            fstrim_in(&table(dir.path(), ""), Some(0)),
            Ok(GuestFilesystemTrimResponse { paths: vec![] })
        );
    }

    #[test]
    fn mount_points_that_cannot_be_opened_are_reported_each() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let mountinfo = format!(
            "40 1 7:90 / {} rw - ext4 /dev/loop90 rw\n41 1 7:91 / {} rw - ext4 /dev/loop91 rw\n",
            a.display(),
            b.display()
        );
        let failed = |p: &Path| GuestFilesystemTrimResult {
            path: p.display().to_string(),
            trimmed: None,
            minimum: None,
            error: Some("failed to open: No such file or directory".into()),
        };
        assert_eq!(
            fstrim_in(&table(dir.path(), &mountinfo), None),
            Ok(GuestFilesystemTrimResponse {
                paths: vec![failed(&b), failed(&a)]
            })
        );
    }

    #[test]
    fn an_unreadable_table_fails_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let table = MountTable {
            mountinfo: dir.path().join("none"),
            mounts: dir.path().join("none-either"),
        };
        assert_eq!(
            fstrim_in(&table, None),
            Err(CommandError(format!(
                "failed to open mtab file: '{}'",
                dir.path().join("none-either").display()
            )))
        );
    }
}
