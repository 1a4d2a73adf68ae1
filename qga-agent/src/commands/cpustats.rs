//! guest-get-cpustats (QEMU 7.1): how each processor spent its time, from the
//! `cpuN` lines of `/proc/stat`.
//!
//! As qemu-ga reads them (its `sscanf("%s %lu %lu ...")` of each line):
//! - the summary line `cpu` and every line not starting with `cpu` are skipped,
//!   and so are blank lines;
//! - a `cpuN` line with fewer than four numbers ends the list there (qemu-ga
//!   logs that the format is not what it knows, and answers with the
//!   processors before it);
//! - the numbers are taken up to the first that does not parse, at most ten:
//!   user, nice, system, idle, then iowait (Linux 2.5.41), irq and softirq
//!   (2.6.0), steal (2.6.11), guest (2.6.24), guest_nice (2.6.33); a member is
//!   present when its number is;
//! - each is in clock ticks, given in milliseconds: ticks × 1000 / CLK_TCK,
//!   in unsigned 64-bit arithmetic;
//! - `cpu` is the number after "cpu", read as C's `atoi` does.
//!
//! One difference: a line of exactly six numbers (irq without softirq, which
//! no kernel writes) gives `irq` only, where qemu-ga also sends a `softirq`
//! read from uninitialised memory.

use std::path::Path;

use qga_types::{GuestCpuStats, GuestCpuStatsBranch, GuestLinuxCpuStats};

use crate::commands::error::{errno_error, CommandError};
use crate::ctype::{sign_prefix, Scanner};

/// The kernel's processor statistics.
pub const PROC_STAT: &str = "/proc/stat";

/// guest-get-cpustats on this system.
pub fn get_cpustats() -> Result<Vec<GuestCpuStats>, CommandError> {
    get_cpustats_from(Path::new(PROC_STAT), clock_ticks_per_second())
}

/// The kernel's clock tick rate, `sysconf(_SC_CLK_TCK)` (100 on most systems).
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// guest-get-cpustats from a file in /proc/stat format, with `ticks` clock
/// ticks per second.
pub fn get_cpustats_from(path: &Path, ticks: u64) -> Result<Vec<GuestCpuStats>, CommandError> {
    let content = std::fs::read(path)
        .map_err(|e| errno_error(format_args!("open(\"{}\")", path.display()), &e))?;
    Ok(parse_stat(&content, ticks))
}

/// The processors of /proc/stat content.
pub fn parse_stat(content: &[u8], ticks: u64) -> Vec<GuestCpuStats> {
    let mut cpus = Vec::new();
    for line in content.split_inclusive(|&b| b == b'\n') {
        let mut sc = Scanner::new(line);
        let Some((start, end)) = sc.word() else {
            continue;
        };
        let name = &line[start..end];
        let Some(number) = name.strip_prefix(b"cpu").filter(|n| !n.is_empty()) else {
            continue;
        };
        let mut values = [0u64; 10];
        let mut count = 0;
        while count < values.len() {
            match sc.ulong() {
                Some(v) => values[count] = v,
                None => break,
            }
            count += 1;
        }
        if count < 4 {
            tracing::warn!("Parsing cpu stat from {PROC_STAT} failed, see \"man proc\"");
            break;
        }
        let ms = |i: usize| (i < count).then(|| values[i].wrapping_mul(1000) / ticks);
        cpus.push(GuestCpuStats {
            r#type: GuestCpuStatsBranch::Linux(GuestLinuxCpuStats {
                cpu: i64::from(atoi(number)),
                user: values[0].wrapping_mul(1000) / ticks,
                nice: values[1].wrapping_mul(1000) / ticks,
                system: values[2].wrapping_mul(1000) / ticks,
                idle: values[3].wrapping_mul(1000) / ticks,
                iowait: ms(4),
                irq: ms(5),
                softirq: ms(6),
                steal: ms(7),
                guest: ms(8),
                guestnice: ms(9),
            }),
        });
    }
    cpus
}

/// C's `atoi`: white space, a sign, decimal digits, as a `long` cut to an `int`;
/// 0 without digits.
fn atoi(s: &[u8]) -> i32 {
    let (negative, start) = sign_prefix(s);
    let mut value: i64 = 0;
    for &c in s[start..].iter().take_while(|c| c.is_ascii_digit()) {
        value = value.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    let value = if negative {
        value.wrapping_neg()
    } else {
        value
    };
    // strtol's long, then atoi's cast to int: the low 32 bits.
    value as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(stats: &GuestCpuStats) -> &GuestLinuxCpuStats {
        let GuestCpuStatsBranch::Linux(linux) = &stats.r#type;
        linux
    }

    #[test]
    fn atoi_as_c() {
        assert_eq!(atoi(b"12"), 12);
        assert_eq!(atoi(b"7x"), 7);
        assert_eq!(atoi(b"x"), 0);
        assert_eq!(atoi(b"-3"), -3);
        assert_eq!(atoi(b"4294967297"), 1, "long cut to int");
    }

    #[test]
    fn ticks_become_milliseconds() {
        let cpus = parse_stat(b"cpu0 1 2 3 4 5 6 7 8 9 10\n", 100);
        let c = linux(&cpus[0]);
        assert_eq!(
            (c.cpu, c.user, c.nice, c.system, c.idle),
            (0, 10, 20, 30, 40)
        );
        assert_eq!(
            (c.iowait, c.irq, c.softirq, c.steal, c.guest, c.guestnice),
            (Some(50), Some(60), Some(70), Some(80), Some(90), Some(100))
        );
        // 250 Hz: 3 ticks are 12 ms; 1 tick at 300 Hz rounds down.
        assert_eq!(linux(&parse_stat(b"cpu1 3 0 0 0\n", 250)[0]).user, 12);
        assert_eq!(linux(&parse_stat(b"cpu1 1 0 0 0\n", 300)[0]).user, 3);
        // Unsigned 64-bit arithmetic, as qemu-ga's.
        let huge = format!("cpu2 {} 0 0 0\n", u64::MAX / 10);
        let expected = (u64::MAX / 10).wrapping_mul(1000) / 100;
        assert_eq!(linux(&parse_stat(huge.as_bytes(), 100)[0]).user, expected);
    }
}
