//! guest-get-diskstats (QEMU 7.1): the I/O counters of every block device, from
//! `/proc/diskstats`.
//!
//! Each line is "MAJOR MINOR NAME" and then as many counters as the kernel
//! keeps, read as qemu-ga's `sscanf()` reads them (up to the first that does not
//! parse, at most 17):
//! - 4 counters (partitions of kernels 2.6.0 to 2.6.24): reads, sectors read,
//!   writes, sectors written;
//! - 11 (until 4.18): reads, merged reads, sectors read, milliseconds reading,
//!   the same four for writes, I/Os in flight, milliseconds doing I/O and the
//!   weighted milliseconds;
//! - 15 (4.18): and the four of discards;
//! - 17 (5.5): and flushes with their milliseconds.
//!
//! A member is present when the kernel wrote its counter. A line with fewer
//! than four counters is skipped; a line with 5 to 10 (which no kernel writes)
//! is listed with no counters, as qemu-ga does.

use std::path::Path;

use qga_types::{GuestDiskStats, GuestDiskStatsInfo};

use crate::commands::error::{errno_error, CommandError};
use crate::ctype::Scanner;

/// The kernel's block device statistics.
pub const PROC_DISKSTATS: &str = "/proc/diskstats";

/// guest-get-diskstats on this system.
pub fn get_diskstats() -> Result<Vec<GuestDiskStatsInfo>, CommandError> {
    get_diskstats_from(Path::new(PROC_DISKSTATS))
}

/// guest-get-diskstats from a file in /proc/diskstats format.
pub fn get_diskstats_from(path: &Path) -> Result<Vec<GuestDiskStatsInfo>, CommandError> {
    let content = std::fs::read(path)
        .map_err(|e| errno_error(format_args!("open(\"{}\")", path.display()), &e))?;
    Ok(parse_diskstats(&content))
}

/// The devices of /proc/diskstats content, in its order.
pub fn parse_diskstats(content: &[u8]) -> Vec<GuestDiskStatsInfo> {
    content
        .split_inclusive(|&b| b == b'\n')
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &[u8]) -> Option<GuestDiskStatsInfo> {
    let mut sc = Scanner::new(line);
    let major = sc.ulong()?;
    let minor = sc.ulong()?;
    let (start, end) = sc.word()?;
    let name = String::from_utf8_lossy(&line[start..end]).into_owned();
    let mut v = [0u64; 17];
    let mut count = 0;
    while count < v.len() {
        match sc.ulong() {
            Some(value) => v[count] = value,
            None => break,
        }
        count += 1;
    }
    if count < 4 {
        return None;
    }
    let mut stats = GuestDiskStats {
        read_sectors: None,
        read_ios: None,
        read_merges: None,
        write_sectors: None,
        write_ios: None,
        write_merges: None,
        discard_sectors: None,
        discard_ios: None,
        discard_merges: None,
        flush_ios: None,
        read_ticks: None,
        write_ticks: None,
        discard_ticks: None,
        flush_ticks: None,
        ios_pgr: None,
        total_ticks: None,
        weight_ticks: None,
    };
    if count == 4 {
        stats.read_ios = Some(v[0]);
        stats.read_sectors = Some(v[1]);
        stats.write_ios = Some(v[2]);
        stats.write_sectors = Some(v[3]);
    }
    if count >= 11 {
        stats.read_ios = Some(v[0]);
        stats.read_merges = Some(v[1]);
        stats.read_sectors = Some(v[2]);
        stats.read_ticks = Some(v[3]);
        stats.write_ios = Some(v[4]);
        stats.write_merges = Some(v[5]);
        stats.write_sectors = Some(v[6]);
        stats.write_ticks = Some(v[7]);
        stats.ios_pgr = Some(v[8]);
        stats.total_ticks = Some(v[9]);
        stats.weight_ticks = Some(v[10]);
    }
    if count >= 15 {
        stats.discard_ios = Some(v[11]);
        stats.discard_merges = Some(v[12]);
        stats.discard_sectors = Some(v[13]);
        stats.discard_ticks = Some(v[14]);
    }
    if count >= 17 {
        stats.flush_ios = Some(v[15]);
        stats.flush_ticks = Some(v[16]);
    }
    Some(GuestDiskStatsInfo {
        name,
        major,
        minor,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_unnumbered_lines_are_skipped() {
        for line in [
            &b""[..],
            b"\n",
            b"   \n",
            b"8 0 sda 1 2 3\n",
            b"8 0\n",
            b"x 0 sda 1 2 3 4\n",
            b"8 0 sda x 1 2 3 4\n",
        ] {
            assert!(parse_diskstats(line).is_empty(), "{line:?}");
        }
    }

    #[test]
    fn counters_stop_at_the_first_that_does_not_parse() {
        let got = parse_diskstats(b"8 1 sda1 1 2 3 4 5 six 7 8 9 10 11\n");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].stats.read_ios, None, "5 counters: none kept");
        let got = parse_diskstats(b"3 1 hda1 1 2 3 4 x\n");
        assert_eq!(got[0].stats.write_sectors, Some(4));
    }
}
