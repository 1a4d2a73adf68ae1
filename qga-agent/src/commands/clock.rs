//! guest-set-time, as qemu-ga 7.2 does it on Linux.
//!
//! 1. hwclock(8) must be executable (`/sbin/hwclock`), or the command is
//!    `this feature or command is not currently supported`, with or without
//!    `time`.
//! 2. With `time` (nanoseconds since the epoch): its date, in the agent's local
//!    time zone, must fall in the years 1970 to 2069, or the command is `Invalid
//!    time: ...`; then the system clock is set (`Failed to set time to guest:
//!    STRERROR` when the kernel refuses), and `hwclock -w` copies it to the RTC.
//!    Without `time`, `hwclock -s` sets the system clock from the RTC.
//! 3. hwclock runs in a new session with its standard streams on /dev/null;
//!    killed by a signal it is `child process has terminated abnormally`; a
//!    non-zero exit status is `hwclock failed to set hardware clock to system
//!    time` (whichever the direction).
//!
//! The seconds are the nanoseconds divided by 10^9, rounded toward zero, and the
//! rest is the nanoseconds (negative for a negative `time` that is not a whole
//! second, which the kernel refuses).
//!
//! Differences from qemu-ga, none visible to a sensible client:
//! - qemu-ga appends whatever `errno` happened to hold to `Invalid time` (it is
//!   not set by the check); here the text is always `Invalid time: Invalid
//!   argument`;
//! - qemu-ga sets the clock with settimeofday(), to the microsecond; here
//!   clock_settime(CLOCK_REALTIME) keeps the nanoseconds;
//! - qemu-ga checks for hwclock once and remembers the answer until it exits;
//!   here it is checked on every call;
//! - qemu-ga's `Time N is too large` cannot happen with a 64-bit time_t, and does
//!   not exist here.
//!
//! The clock itself is behind the [`Clock`] trait, so that tests never set the
//! real one.

use std::ffi::OsStr;
use std::io;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};

use crate::commands::error::errno_error;
use crate::commands::error::CommandError;
use crate::commands::error::UNSUPPORTED;
use crate::commands::helper::{run_helper, HelperExit};

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// What guest-set-time changes: the system clock, and the program that copies
/// it to or from the hardware clock.
pub trait Clock {
    /// Sets the system clock (CLOCK_REALTIME) to `seconds` and `nanoseconds`
    /// after the epoch.
    fn set_realtime(&mut self, seconds: i64, nanoseconds: i64) -> io::Result<()>;

    /// The hwclock(8) program.
    fn hwclock(&self) -> &Path;
}

/// The real clock: clock_settime(CLOCK_REALTIME) and `/sbin/hwclock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemClock {
    /// The hwclock(8) program.
    pub hwclock: PathBuf,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock {
            hwclock: PathBuf::from("/sbin/hwclock"),
        }
    }
}

impl Clock for SystemClock {
    fn set_realtime(&mut self, seconds: i64, nanoseconds: i64) -> io::Result<()> {
        let time = rustix::time::Timespec {
            tv_sec: seconds,
            tv_nsec: nanoseconds,
        };
        rustix::time::clock_settime(rustix::time::ClockId::Realtime, time).map_err(io::Error::from)
    }

    fn hwclock(&self) -> &Path {
        &self.hwclock
    }
}

/// guest-set-time on this system.
pub fn set_system_time(time: Option<i64>) -> Result<(), CommandError> {
    set_time(&mut SystemClock::default(), time)
}

/// guest-set-time with the given clock.
pub fn set_time<C: Clock + ?Sized>(clock: &mut C, time: Option<i64>) -> Result<(), CommandError> {
    if rustix::fs::access(clock.hwclock(), rustix::fs::Access::EXEC_OK).is_err() {
        return Err(CommandError(UNSUPPORTED.into()));
    }

    if let Some(time) = time {
        let seconds = time / NANOS_PER_SECOND;
        let nanoseconds = time % NANOS_PER_SECOND;
        if !matches!(local_year(seconds), Some(1970..=2069)) {
            return Err(errno_error(
                "Invalid time",
                &io::Error::from_raw_os_error(libc::EINVAL),
            ));
        }
        clock
            .set_realtime(seconds, nanoseconds)
            .map_err(|e| errno_error("Failed to set time to guest", &e))?;
    }

    let direction = if time.is_some() { "-w" } else { "-s" };
    match run_helper(
        clock.hwclock(),
        OsStr::new("hwclock"),
        &[OsStr::new(direction)],
    )? {
        HelperExit::Signaled => Err(CommandError(
            "child process has terminated abnormally".into(),
        )),
        HelperExit::Exited(0) => Ok(()),
        HelperExit::Exited(_) => Err(CommandError(
            "hwclock failed to set hardware clock to system time".into(),
        )),
    }
}

/// The year of `seconds` after the epoch in the local time zone (glib's
/// g_date_set_time_t, which qemu-ga uses), or `None` when it cannot be told.
fn local_year(seconds: i64) -> Option<i64> {
    let time = libc::time_t::try_from(seconds).ok()?;
    let mut tm = MaybeUninit::<libc::tm>::zeroed();
    // SAFETY: both pointers are valid for the call; localtime_r() fills `tm` when
    // it returns non-null.
    let result = unsafe { libc::localtime_r(&time, tm.as_mut_ptr()) };
    if result.is_null() {
        return None;
    }
    // SAFETY: localtime_r() succeeded, so `tm` is initialised (it was zeroed
    // before, too).
    let tm = unsafe { tm.assume_init() };
    Some(i64::from(tm.tm_year) + 1900)
}

/// A clock for tests: it records what it is asked to set instead of setting
/// anything, refuses what the kernel would refuse (EINVAL for nanoseconds
/// outside 0..10^9 or a negative time), and names a hwclock that tests provide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingClock {
    /// Every (seconds, nanoseconds) asked for, accepted or not.
    pub calls: Vec<(i64, i64)>,
    /// The hwclock program tests provide.
    pub hwclock: PathBuf,
    /// When set, every call fails with this errno.
    pub fail_with: Option<i32>,
}

impl RecordingClock {
    /// A clock that records and whose hwclock is `hwclock`.
    pub fn new(hwclock: impl Into<PathBuf>) -> Self {
        RecordingClock {
            calls: Vec::new(),
            hwclock: hwclock.into(),
            fail_with: None,
        }
    }
}

impl Clock for RecordingClock {
    fn set_realtime(&mut self, seconds: i64, nanoseconds: i64) -> io::Result<()> {
        self.calls.push((seconds, nanoseconds));
        if let Some(errno) = self.fail_with {
            return Err(io::Error::from_raw_os_error(errno));
        }
        if seconds < 0 || !(0..NANOS_PER_SECOND).contains(&nanoseconds) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        Ok(())
    }

    fn hwclock(&self) -> &Path {
        &self.hwclock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_hwclock_is_unsupported_and_sets_nothing() {
        let mut clock = RecordingClock::new("/nonexistent/hwclock");
        for time in [None, Some(1_700_000_000_000_000_000), Some(-1)] {
            assert_eq!(
                set_time(&mut clock, time),
                Err(CommandError(UNSUPPORTED.into()))
            );
        }
        assert!(clock.calls.is_empty());
    }

    /// A hwclock that does nothing and succeeds, or fails.
    const TRUE: &str = "/bin/true";
    const FALSE: &str = "/bin/false";

    fn invalid() -> Result<(), CommandError> {
        Err(CommandError("Invalid time: Invalid argument".into()))
    }

    #[test]
    fn times_outside_1970_to_2069_are_invalid() {
        let mut clock = RecordingClock::new(TRUE);
        let day = 86_400 * NANOS_PER_SECOND;
        for time in [
            -2 * day,
            i64::MIN,
            i64::MAX,
            3_155_760_000 * NANOS_PER_SECOND + 2 * day,
        ] {
            assert_eq!(set_time(&mut clock, Some(time)), invalid(), "{time}");
        }
        assert!(clock.calls.is_empty());
    }

    #[test]
    fn the_clock_gets_seconds_and_nanoseconds() {
        let mut clock = RecordingClock::new(TRUE);
        assert_eq!(
            set_time(&mut clock, Some(1_700_000_000_123_456_789)),
            Ok(())
        );
        assert_eq!(
            set_time(
                &mut clock,
                Some(3_155_760_000 * NANOS_PER_SECOND - 86_400 * NANOS_PER_SECOND)
            ),
            Ok(())
        );
        assert_eq!(
            clock.calls,
            [(1_700_000_000, 123_456_789), (3_155_673_600, 0)]
        );
    }

    #[test]
    fn refusals_of_the_kernel_are_reported() {
        // -1 ns: 0 seconds and -1 nanoseconds, which the kernel refuses.
        let mut clock = RecordingClock::new(TRUE);
        assert_eq!(
            set_time(&mut clock, Some(-1)),
            Err(CommandError(
                "Failed to set time to guest: Invalid argument".into()
            ))
        );
        assert_eq!(clock.calls, [(0, -1)]);
        clock.fail_with = Some(libc::EPERM);
        assert_eq!(
            set_time(&mut clock, Some(1_700_000_000_000_000_000)),
            Err(CommandError(
                "Failed to set time to guest: Operation not permitted".into()
            ))
        );
    }

    #[test]
    fn without_time_only_hwclock_runs() {
        let mut clock = RecordingClock::new(TRUE);
        assert_eq!(set_time(&mut clock, None), Ok(()));
        assert!(clock.calls.is_empty());
    }

    #[test]
    fn a_failing_hwclock() {
        let failed = Err(CommandError(
            "hwclock failed to set hardware clock to system time".into(),
        ));
        let mut clock = RecordingClock::new(FALSE);
        assert_eq!(set_time(&mut clock, None), failed);
        assert_eq!(
            set_time(&mut clock, Some(1_700_000_000_000_000_000)),
            failed
        );
        assert_eq!(clock.calls, [(1_700_000_000, 0)]);
    }

    #[test]
    fn years_are_checked_in_local_time() {
        let day = 86_400;
        assert_eq!(
            local_year(0).map(|y| (1969..=1970).contains(&y)),
            Some(true)
        );
        assert_eq!(local_year(2 * day), Some(1970));
        assert_eq!(local_year(-2 * day), Some(1969));
        // 2070-01-01 00:00:00 UTC is 3155760000.
        assert_eq!(local_year(3_155_760_000 + 2 * day), Some(2070));
        assert_eq!(local_year(3_155_760_000 - 2 * day), Some(2069));
    }
}
