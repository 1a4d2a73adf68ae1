//! The SMART / Health Information log page of an NVMe controller, for
//! guest-get-disks' `smart` member: the admin command Get Log Page (opcode
//! 02h) for log identifier 02h, sent with the `NVME_IOCTL_ADMIN_CMD` ioctl, and
//! the decoding of the 512-byte page it returns (NVMe Base Specification,
//! "SMART / Health Information (Log Identifier 02h)"), which tests give
//! fixtures.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use qga_types::GuestNVMeSmart;

/// The size of the log page.
pub const SMART_LOG_SIZE: usize = 512;

/// The admin command Get Log Page.
const GET_LOG_PAGE: u8 = 0x02;
/// Log identifier 02h: SMART / Health Information.
const LOG_SMART: u32 = 0x02;
/// Retain Asynchronous Event: reading the log does not clear a pending event.
const RETAIN_ASYNC_EVENT: u32 = 1 << 15;
/// The controller as a whole, not one namespace.
const NSID_ALL: u32 = 0xffff_ffff;

/// The kernel's `struct nvme_passthru_cmd` (alias `nvme_admin_cmd`).
#[repr(C)]
#[derive(Debug, Default)]
struct AdminCommand {
    opcode: u8,
    flags: u8,
    rsvd1: u16,
    nsid: u32,
    cdw2: u32,
    cdw3: u32,
    metadata: u64,
    addr: u64,
    metadata_len: u32,
    data_len: u32,
    cdw10: u32,
    cdw11: u32,
    cdw12: u32,
    cdw13: u32,
    cdw14: u32,
    cdw15: u32,
    timeout_ms: u32,
    result: u32,
}

/// `_IOWR('N', 0x41, struct nvme_admin_cmd)`.
const NVME_IOCTL_ADMIN_CMD: rustix::ioctl::Opcode =
    rustix::ioctl::opcode::read_write::<AdminCommand>(b'N', 0x41);

/// Reads the log page of the controller (or namespace) device node `device`.
pub fn read_smart_log(device: &Path) -> io::Result<[u8; SMART_LOG_SIZE]> {
    let file = File::open(device)?;
    let mut page = [0u8; SMART_LOG_SIZE];
    // Number of dwords to transfer, minus one, in the upper half of CDW10.
    let dwords = (SMART_LOG_SIZE as u32 / 4) - 1;
    let mut command = AdminCommand {
        opcode: GET_LOG_PAGE,
        nsid: NSID_ALL,
        addr: page.as_mut_ptr() as u64,
        data_len: SMART_LOG_SIZE as u32,
        cdw10: LOG_SMART | RETAIN_ASYNC_EVENT | (dwords << 16),
        ..AdminCommand::default()
    };
    // SAFETY: the descriptor is open for the call; `command` is a valid
    // `struct nvme_passthru_cmd` whose data buffer, `page`, is writable for
    // `data_len` bytes and outlives the call.
    let rc = unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            NVME_IOCTL_ADMIN_CMD as libc::Ioctl,
            std::ptr::from_mut(&mut command),
        )
    };
    match rc {
        -1 => Err(io::Error::last_os_error()),
        // A positive value is the command's NVMe status: it failed.
        0 => Ok(page),
        status => Err(io::Error::other(format!("NVMe status {status:#x}"))),
    }
}

/// The health information of the log page of `device`, or `None` when it
/// cannot be read (no such node, not NVMe, not allowed).
pub fn smart(device: &Path) -> Option<GuestNVMeSmart> {
    match read_smart_log(device) {
        Ok(page) => Some(decode_smart_log(&page)),
        Err(e) => {
            tracing::debug!("failed to get smart: {}: {e}", device.display());
            None
        }
    }
}

/// The members of a log page. The 128-bit counters are little-endian and come
/// as their low and high 64 bits.
pub fn decode_smart_log(page: &[u8; SMART_LOG_SIZE]) -> GuestNVMeSmart {
    let u64_at = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&page[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    // The counters start at byte 32, 16 bytes each, in this order.
    let lo = |index: usize| u64_at(32 + 16 * index);
    let hi = |index: usize| u64_at(32 + 16 * index + 8);
    GuestNVMeSmart {
        critical_warning: i64::from(page[0]),
        temperature: i64::from(u16::from_le_bytes([page[1], page[2]])),
        available_spare: i64::from(page[3]),
        available_spare_threshold: i64::from(page[4]),
        percentage_used: i64::from(page[5]),
        data_units_read_lo: lo(0),
        data_units_read_hi: hi(0),
        data_units_written_lo: lo(1),
        data_units_written_hi: hi(1),
        host_read_commands_lo: lo(2),
        host_read_commands_hi: hi(2),
        host_write_commands_lo: lo(3),
        host_write_commands_hi: hi(3),
        controller_busy_time_lo: lo(4),
        controller_busy_time_hi: hi(4),
        power_cycles_lo: lo(5),
        power_cycles_hi: hi(5),
        power_on_hours_lo: lo(6),
        power_on_hours_hi: hi(6),
        unsafe_shutdowns_lo: lo(7),
        unsafe_shutdowns_hi: hi(7),
        media_errors_lo: lo(8),
        media_errors_hi: hi(8),
        number_of_error_log_entries_lo: lo(9),
        number_of_error_log_entries_hi: hi(9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_is_the_kernels_struct() {
        assert_eq!(size_of::<AdminCommand>(), 72);
        // _IOWR('N', 0x41, 72 bytes) on the usual ioctl encoding.
        if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
            assert_eq!(NVME_IOCTL_ADMIN_CMD as u64, 0xc048_4e41);
        }
    }

    #[test]
    fn decodes_every_field_at_its_offset() {
        let mut page = [0u8; SMART_LOG_SIZE];
        page[0] = 0x05;
        page[1..3].copy_from_slice(&310u16.to_le_bytes());
        page[3] = 97;
        page[4] = 10;
        page[5] = 3;
        page[6] = 0xee; // the endurance group summary, not reported
        for counter in 0..10u64 {
            let at = 32 + 16 * counter as usize;
            page[at..at + 8].copy_from_slice(&(1000 + counter).to_le_bytes());
            page[at + 8..at + 16].copy_from_slice(&counter.to_le_bytes());
        }
        // The warning temperature time right after the counters is not reported.
        page[192..196].copy_from_slice(&u32::MAX.to_le_bytes());
        let smart = decode_smart_log(&page);
        assert_eq!(smart.critical_warning, 5);
        assert_eq!(smart.temperature, 310);
        assert_eq!(
            (
                smart.available_spare,
                smart.available_spare_threshold,
                smart.percentage_used
            ),
            (97, 10, 3)
        );
        assert_eq!(
            (smart.data_units_read_lo, smart.data_units_read_hi),
            (1000, 0)
        );
        assert_eq!(
            (smart.data_units_written_lo, smart.data_units_written_hi),
            (1001, 1)
        );
        assert_eq!(
            (smart.host_read_commands_lo, smart.host_read_commands_hi),
            (1002, 2)
        );
        assert_eq!(
            (smart.host_write_commands_lo, smart.host_write_commands_hi),
            (1003, 3)
        );
        assert_eq!(
            (smart.controller_busy_time_lo, smart.controller_busy_time_hi),
            (1004, 4)
        );
        assert_eq!((smart.power_cycles_lo, smart.power_cycles_hi), (1005, 5));
        assert_eq!(
            (smart.power_on_hours_lo, smart.power_on_hours_hi),
            (1006, 6)
        );
        assert_eq!(
            (smart.unsafe_shutdowns_lo, smart.unsafe_shutdowns_hi),
            (1007, 7)
        );
        assert_eq!((smart.media_errors_lo, smart.media_errors_hi), (1008, 8));
        assert_eq!(
            (
                smart.number_of_error_log_entries_lo,
                smart.number_of_error_log_entries_hi
            ),
            (1009, 9)
        );
    }

    #[test]
    fn a_node_that_is_not_nvme_gives_nothing() {
        assert!(smart(Path::new("/nonexistent/nvme0")).is_none());
        // /dev/null refuses the ioctl.
        assert!(read_smart_log(Path::new("/dev/null")).is_err());
    }
}
