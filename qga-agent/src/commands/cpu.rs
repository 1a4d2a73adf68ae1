//! guest-get-vcpus and guest-set-vcpus, through sysfs
//! (`/sys/devices/system/cpu/cpuN/online`), as qemu-ga 7.2 does on Linux.
//!
//! A processor whose directory has no `online` file (usually cpu0) is online and
//! cannot be taken offline; otherwise the first byte of `online` tells its state
//! (anything but `0` is online) and it can be taken offline.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use qga_types::GuestLogicalProcessor;

use crate::commands::error::errno_error;
use crate::commands::error::CommandError;

/// The sysfs directory of the processors.
pub const SYSFS_CPU_DIR: &str = "/sys/devices/system/cpu";

/// guest-get-vcpus for the real system.
pub fn get_vcpus() -> Result<Vec<GuestLogicalProcessor>, CommandError> {
    get_vcpus_in(Path::new(SYSFS_CPU_DIR))
}

/// guest-set-vcpus for the real system. Changes the machine: only for a guest.
pub fn set_vcpus(vcpus: &[GuestLogicalProcessor]) -> Result<i64, CommandError> {
    set_vcpus_in(Path::new(SYSFS_CPU_DIR), vcpus)
}

/// guest-get-vcpus from a given cpu directory: one entry per `cpuN` entry, in
/// directory order (as qemu-ga: not sorted), each with `can-offline`.
pub fn get_vcpus_in(cpu_dir: &Path) -> Result<Vec<GuestLogicalProcessor>, CommandError> {
    let entries = std::fs::read_dir(cpu_dir).map_err(|e| {
        errno_error(
            format_args!("failed to list entries: {}", cpu_dir.display()),
            &e,
        )
    })?;
    let mut vcpus = Vec::new();
    for entry in entries {
        let Ok(entry) = entry else {
            break;
        };
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_prefix("cpu"))
            .and_then(scan_i64)
        else {
            continue;
        };
        let mut vcpu = GuestLogicalProcessor {
            logical_id: id,
            online: false,
            can_offline: Some(false),
        };
        read_vcpu(cpu_dir, &mut vcpu)?;
        vcpus.push(vcpu);
    }
    Ok(vcpus)
}

/// guest-set-vcpus on a given cpu directory: applies the entries in order and
/// stops at the first failure. Returns how many were applied; the error only when
/// the first one fails. Bringing online a processor without an `online` file
/// succeeds (it is always online); taking it offline fails.
pub fn set_vcpus_in(cpu_dir: &Path, vcpus: &[GuestLogicalProcessor]) -> Result<i64, CommandError> {
    let mut processed = 0i64;
    for vcpu in vcpus {
        if let Err(e) = write_vcpu(cpu_dir, vcpu) {
            if processed == 0 {
                return Err(e);
            }
            break;
        }
        processed += 1;
    }
    Ok(processed)
}

/// Parse the number after "cpu" as C's `%ld` does: optional white space and sign,
/// then at least one digit; what follows the digits is ignored.
fn scan_i64(s: &str) -> Option<i64> {
    let s = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    let value = digits[..end].parse::<i64>().unwrap_or(i64::MAX);
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// The directory of one processor, as qemu-ga names it in its messages (with a
/// trailing slash).
fn vcpu_dir(cpu_dir: &Path, id: i64) -> String {
    format!("{}/cpu{}/", cpu_dir.display(), id)
}

/// Open the processor's directory, as qemu-ga does first (so that a missing
/// processor fails with `open("DIR/cpuN/")`).
fn open_vcpu_dir(dirpath: &str) -> Result<File, CommandError> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dirpath)
        .map_err(|e| errno_error(format_args!("open(\"{dirpath}\")"), &e))
}

/// The first byte of the `online` file; an error at end of file.
fn read_status(file: &File, path: &str) -> Result<u8, CommandError> {
    let mut status = [0u8; 1];
    match file.read_at(&mut status, 0) {
        Ok(0) => Err(CommandError(format!("pread(\"{path}\"): unexpected EOF"))),
        Ok(_) => Ok(status[0]),
        Err(e) => Err(errno_error(format_args!("pread(\"{path}\")"), &e)),
    }
}

fn read_vcpu(cpu_dir: &Path, vcpu: &mut GuestLogicalProcessor) -> Result<(), CommandError> {
    let dirpath = vcpu_dir(cpu_dir, vcpu.logical_id);
    open_vcpu_dir(&dirpath)?;
    let path = format!("{dirpath}/online");
    match File::open(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            vcpu.online = true;
            vcpu.can_offline = Some(false);
        }
        Err(e) => return Err(errno_error(format_args!("open(\"{path}\")"), &e)),
        Ok(file) => {
            let status = read_status(&file, &path)?;
            vcpu.online = status != b'0';
            vcpu.can_offline = Some(true);
        }
    }
    Ok(())
}

fn write_vcpu(cpu_dir: &Path, vcpu: &GuestLogicalProcessor) -> Result<(), CommandError> {
    let dirpath = vcpu_dir(cpu_dir, vcpu.logical_id);
    open_vcpu_dir(&dirpath)?;
    let path = format!("{dirpath}/online");
    let file = match OpenOptions::new().read(true).write(true).open(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if vcpu.online {
                // Always online: re-onlining it succeeds.
                return Ok(());
            }
            return Err(CommandError(format!(
                "logical processor #{} can't be offlined",
                vcpu.logical_id
            )));
        }
        Err(e) => return Err(errno_error(format_args!("open(\"{path}\")"), &e)),
        Ok(file) => file,
    };
    let status = read_status(&file, &path)?;
    if vcpu.online != (status != b'0') {
        let new = if vcpu.online { b"1" } else { b"0" };
        file.write_at(new, 0)
            .map_err(|e| errno_error(format_args!("pwrite(\"{path}\")"), &e))?;
    }
    Ok(())
}
