//! guest-get-load (QEMU 10.0): the load averages over 1, 5 and 15 minutes.
//!
//! qemu-ga calls glibc's `getloadavg()`, which reads the first three numbers of
//! `/proc/loadavg`; this module reads the same file itself, so that tests can
//! give it a fixture. A file that cannot be read, or that does not start with
//! three numbers, is `cannot query load average: REASON` (qemu-ga's text).

use std::path::Path;

use qga_types::GuestLoadAverage;

use crate::commands::error::{io_error_text, CommandError};

/// Where the kernel publishes the load averages.
pub const LOADAVG: &str = "/proc/loadavg";

/// guest-get-load on this system.
pub fn get_load() -> Result<GuestLoadAverage, CommandError> {
    get_load_from(Path::new(LOADAVG))
}

/// guest-get-load from a loadavg file.
pub fn get_load_from(path: &Path) -> Result<GuestLoadAverage, CommandError> {
    let failed = |why: String| CommandError(format!("cannot query load average: {why}"));
    let text = std::fs::read(path).map_err(|e| failed(io_error_text(&e)))?;
    parse_loadavg(&text).ok_or_else(|| {
        failed(format!(
            "{} does not start with three load averages",
            path.display()
        ))
    })
}

/// The three averages at the start of loadavg content ("0.52 0.58 0.59 2/345
/// 12345"); `None` unless there are three finite numbers.
pub fn parse_loadavg(text: &[u8]) -> Option<GuestLoadAverage> {
    let mut numbers = text
        .split(u8::is_ascii_whitespace)
        .filter(|word| !word.is_empty())
        .map(|word| {
            let number = std::str::from_utf8(word).ok()?.parse::<f64>().ok()?;
            number.is_finite().then_some(number)
        });
    Some(GuestLoadAverage {
        load1m: numbers.next()??,
        load5m: numbers.next()??,
        load15m: numbers.next()??,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_numbers_then_anything() {
        let load = parse_loadavg(b"0.52 1.00 12.25 2/345 12345\n").unwrap();
        assert_eq!((load.load1m, load.load5m, load.load15m), (0.52, 1.0, 12.25));
        let load = parse_loadavg(b"0.00 0.00 0.00").unwrap();
        assert_eq!(load.load15m, 0.0);
        assert!(
            parse_loadavg(b"1 2 3 \xff").is_some(),
            "the rest is not read"
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            &b""[..],
            b"\n",
            b"0.52 0.58",
            b"0.52 x 0.59",
            b"nan 1 2",
            b"inf 1 2",
            b"1 2 \xff",
        ] {
            assert!(parse_loadavg(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn errors_name_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("loadavg");
        assert_eq!(
            get_load_from(&missing).unwrap_err().0,
            "cannot query load average: No such file or directory"
        );
        std::fs::write(&missing, "busy\n").unwrap();
        assert_eq!(
            get_load_from(&missing).unwrap_err().0,
            format!(
                "cannot query load average: {} does not start with three load averages",
                missing.display()
            )
        );
        std::fs::write(&missing, "3.5 2.25 1.125 1/2 3\n").unwrap();
        assert_eq!(get_load_from(&missing).unwrap().load15m, 1.125);
    }
}
