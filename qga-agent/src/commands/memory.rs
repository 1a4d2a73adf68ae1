//! guest-get-memory-blocks, guest-get-memory-block-info and
//! guest-set-memory-blocks, through sysfs (`/sys/devices/system/memory`), as
//! qemu-ga 7.2 does on Linux.
//!
//! A block is online when its `state` file starts with `online`; it can be taken
//! offline when its `removable` file exists and does not start with `0`. A block
//! without a `state` file (old kernels) is online and cannot be taken offline.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use qga_types::{
    GuestMemoryBlock, GuestMemoryBlockInfo, GuestMemoryBlockResponse, GuestMemoryBlockResponseType,
};

use crate::commands::error::errno_error;
use crate::commands::error::CommandError;
use crate::ctype::sign_prefix;

/// The sysfs directory of the memory blocks.
pub const SYSFS_MEMORY_DIR: &str = "/sys/devices/system/memory";

/// guest-get-memory-blocks for the real system.
pub fn get_memory_blocks() -> Result<Vec<GuestMemoryBlock>, CommandError> {
    get_memory_blocks_in(Path::new(SYSFS_MEMORY_DIR))
}

/// guest-get-memory-block-info for the real system.
pub fn get_memory_block_info() -> Result<GuestMemoryBlockInfo, CommandError> {
    get_memory_block_info_in(Path::new(SYSFS_MEMORY_DIR))
}

/// guest-set-memory-blocks for the real system. Changes the machine: only for a
/// guest.
pub fn set_memory_blocks(
    blocks: &[GuestMemoryBlock],
) -> Result<Vec<GuestMemoryBlockResponse>, CommandError> {
    set_memory_blocks_in(Path::new(SYSFS_MEMORY_DIR), blocks)
}

/// The errno of an I/O error (0 when it has none).
fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// The directory of one block, as qemu-ga names it in its messages.
fn block_dir(memory_dir: &Path, phys_index: u64) -> String {
    // qemu-ga prints the index as a signed 64-bit number.
    format!("{}/memory{}/", memory_dir.display(), phys_index as i64)
}

fn open_dir(path: &str) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(path)
}

/// A failed read of a sysfs file: the message qemu-ga reports, and the errno it
/// looks at afterwards (0 for an empty file).
struct ReadError {
    error: CommandError,
    errno: i32,
}

/// Read up to `size` bytes from the start of `dir/name` (qemu-ga's
/// `ga_read_sysfs_file()`); an empty file is an error.
fn read_sysfs(dir: &str, name: &str, size: usize) -> Result<Vec<u8>, ReadError> {
    let file = File::open(format!("{dir}/{name}")).map_err(|e| ReadError {
        error: errno_error(format_args!("open sysfs file \"{name}\""), &e),
        errno: errno_of(&e),
    })?;
    let mut buf = vec![0u8; size];
    match file.read_at(&mut buf, 0) {
        Ok(0) => Err(ReadError {
            error: CommandError(format!("pread sysfs file \"{name}\": unexpected EOF")),
            errno: 0,
        }),
        Ok(n) => {
            buf.truncate(n);
            Ok(buf)
        }
        Err(e) => Err(ReadError {
            error: errno_error(format_args!("pread sysfs file \"{name}\""), &e),
            errno: errno_of(&e),
        }),
    }
}

/// guest-get-memory-blocks from a given memory directory: one entry per
/// `memoryN` directory, in directory order (as qemu-ga: not sorted). No memory
/// directory at all gives an empty list; an existing one without blocks is an
/// error.
pub fn get_memory_blocks_in(memory_dir: &Path) -> Result<Vec<GuestMemoryBlock>, CommandError> {
    let entries = match std::fs::read_dir(memory_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(errno_error(
                format_args!("Can't open directory\"{}/\"", memory_dir.display()),
                &e,
            ))
        }
    };
    let mut blocks = Vec::new();
    for entry in entries {
        let Ok(entry) = entry else {
            break;
        };
        let name = entry.file_name();
        let Some(rest) = name.as_encoded_bytes().strip_prefix(b"memory") else {
            continue;
        };
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let mut block = GuestMemoryBlock {
            phys_index: scan_u64(rest),
            online: false,
            can_offline: Some(false),
        };
        read_block(memory_dir, &mut block)?;
        blocks.push(block);
    }
    if blocks.is_empty() {
        return Err(CommandError(
            "guest reported zero memory blocks!".to_string(),
        ));
    }
    Ok(blocks)
}

/// C's `strtoul(s, NULL, 10)`: optional white space and sign, then the digits;
/// 0 when there are none.
fn scan_u64(s: &[u8]) -> u64 {
    let (negative, mut i) = sign_prefix(s);
    let mut value: u64 = 0;
    let mut overflow = false;
    while let Some(d) = s.get(i).filter(|c| c.is_ascii_digit()) {
        match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
        i += 1;
    }
    if overflow {
        u64::MAX
    } else if negative {
        value.wrapping_neg()
    } else {
        value
    }
}

fn read_block(memory_dir: &Path, block: &mut GuestMemoryBlock) -> Result<(), CommandError> {
    let dirpath = block_dir(memory_dir, block.phys_index);
    open_dir(&dirpath).map_err(|e| errno_error(format_args!("open(\"{dirpath}\")"), &e))?;
    let state = match read_sysfs(&dirpath, "state", 10) {
        Ok(state) => state,
        Err(e) if e.errno == libc::ENOENT => {
            block.online = true;
            block.can_offline = Some(false);
            return Ok(());
        }
        Err(e) => return Err(e.error),
    };
    block.online = state.starts_with(b"online");
    block.can_offline = Some(match read_sysfs(&dirpath, "removable", 1) {
        Ok(removable) => removable[0] != b'0',
        Err(e) if e.errno == libc::ENOENT => false,
        Err(e) => return Err(e.error),
    });
    Ok(())
}

/// guest-set-memory-blocks on a given memory directory: one response per entry, in
/// order; every entry is tried. The responses are those of qemu-ga 7.2:
/// - no memory directory: `operation-not-supported` with the errno;
/// - no such block: `not-found` (errno ENOENT); another failure to open it:
///   `operation-failed` with the errno;
/// - a block without a `state` file: to take it offline, `operation-not-supported`;
///   to bring it online, `success` (it always is) — with `error-code` ENOENT, as
///   qemu-ga sends;
/// - `state` unreadable: `operation-failed` with the errno (0 for an empty file);
/// - already in the requested state: `success`; otherwise `online` or `offline` is
///   written to `state`: `success`, or `operation-failed` with the errno.
pub fn set_memory_blocks_in(
    memory_dir: &Path,
    blocks: &[GuestMemoryBlock],
) -> Result<Vec<GuestMemoryBlockResponse>, CommandError> {
    Ok(blocks
        .iter()
        .map(|block| {
            let (response, error_code) = write_block(memory_dir, block);
            GuestMemoryBlockResponse {
                phys_index: block.phys_index,
                response,
                error_code: error_code.map(i64::from),
            }
        })
        .collect())
}

fn write_block(
    memory_dir: &Path,
    block: &GuestMemoryBlock,
) -> (GuestMemoryBlockResponseType, Option<i32>) {
    use GuestMemoryBlockResponseType::{NotFound, OperationFailed, OperationNotSupported, Success};

    if let Err(e) = std::fs::read_dir(memory_dir) {
        // qemu-ga leaves the response at its zero value (success) for any errno
        // but ENOENT, with the errno as error-code.
        let errno = errno_of(&e);
        let response = if errno == libc::ENOENT {
            OperationNotSupported
        } else {
            Success
        };
        return (response, Some(errno));
    }
    let dirpath = block_dir(memory_dir, block.phys_index);
    if let Err(e) = open_dir(&dirpath) {
        let errno = errno_of(&e);
        let response = if errno == libc::ENOENT {
            NotFound
        } else {
            OperationFailed
        };
        return (response, Some(errno));
    }
    let state = match read_sysfs(&dirpath, "state", 10) {
        Ok(state) => state,
        Err(e) if e.errno == libc::ENOENT => {
            let response = if block.online {
                Success
            } else {
                OperationNotSupported
            };
            return (response, Some(e.errno));
        }
        Err(e) => return (OperationFailed, Some(e.errno)),
    };
    if block.online == state.starts_with(b"online") {
        return (Success, None);
    }
    let new_state: &[u8] = if block.online { b"online" } else { b"offline" };
    let written = OpenOptions::new()
        .write(true)
        .open(format!("{dirpath}/state"))
        .and_then(|file| file.write_at(new_state, 0));
    match written {
        Ok(_) => (Success, None),
        Err(e) => (OperationFailed, Some(errno_of(&e))),
    }
}

/// guest-get-memory-block-info from a given memory directory: the block size,
/// read as hexadecimal from `block_size_bytes`.
pub fn get_memory_block_info_in(memory_dir: &Path) -> Result<GuestMemoryBlockInfo, CommandError> {
    let dirpath = format!("{}/", memory_dir.display());
    open_dir(&dirpath).map_err(|e| errno_error(format_args!("open(\"{dirpath}\")"), &e))?;
    let text = read_sysfs(&dirpath, "block_size_bytes", 20).map_err(|e| e.error)?;
    Ok(GuestMemoryBlockInfo {
        size: scan_hex_i64(&text) as u64,
    })
}

/// C's `strtol(s, NULL, 16)`: optional white space, sign and `0x`, then hex
/// digits; 0 when there are none; saturating.
fn scan_hex_i64(s: &[u8]) -> i64 {
    let (negative, mut i) = sign_prefix(s);
    if s.get(i) == Some(&b'0')
        && matches!(s.get(i + 1), Some(b'x' | b'X'))
        && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        i += 2;
    }
    let mut value: i128 = 0;
    while let Some(d) = s.get(i).and_then(|c| char::from(*c).to_digit(16)) {
        value = (value * 16 + i128::from(d)).min(i128::from(i64::MAX) + 1);
        i += 1;
    }
    let value = if negative { -value } else { value };
    value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

#[cfg(test)]
mod tests {
    use super::{scan_hex_i64, scan_u64};

    #[test]
    fn strtoul_base_10() {
        assert_eq!(scan_u64(b"123"), 123);
        assert_eq!(scan_u64(b" \t\x0b\x0c\r\n+42x"), 42);
        assert_eq!(scan_u64(b"-1"), u64::MAX);
        assert_eq!(scan_u64(b""), 0);
        assert_eq!(scan_u64(b"x1"), 0);
        assert_eq!(scan_u64(b"99999999999999999999999"), u64::MAX);
    }

    #[test]
    fn strtol_base_16() {
        assert_eq!(scan_hex_i64(b"8000000\n"), 0x800_0000);
        assert_eq!(scan_hex_i64(b" 0X1f"), 0x1f);
        assert_eq!(scan_hex_i64(b"-0x10"), -16);
        assert_eq!(scan_hex_i64(b"0x"), 0, "no hex digit after 0x: just the 0");
        assert_eq!(scan_hex_i64(b"fffffffffffffffffff"), i64::MAX);
        assert_eq!(scan_hex_i64(b"-fffffffffffffffffff"), i64::MIN);
    }
}
