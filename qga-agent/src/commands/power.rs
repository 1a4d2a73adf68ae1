//! guest-shutdown and guest-suspend-{disk,ram,hybrid}, as qemu-ga 7.2 does them on
//! Linux. shutdown(8) runs as every helper program does ([`crate::commands::helper`]);
//! the suspend programs run as glib's `g_spawn_sync` runs them (here).
//!
//! Every program and file is a field of [`Power`], so that tests can point them
//! at fakes; [`Power::default`] is the real system.
//!
//! guest-shutdown runs `/sbin/shutdown -h -P|-H|-r +0 "hypervisor initiated
//! shutdown"` (powerdown, halt, reboot; powerdown when `mode` is absent) in a
//! new session with its standard streams on /dev/null, and waits for it.
//!
//! guest-suspend-* try, in turn:
//! 1. systemd: supported when `systemctl status systemd-hibernate|systemd-suspend|
//!    systemd-hybrid-sleep` exits with 1, 2 or 3 (the unit exists); then
//!    `systemctl hibernate|suspend|hybrid-sleep`;
//! 2. pm-utils: supported when `pm-is-supported --hibernate|--suspend|
//!    --suspend-hybrid` exits with 0; then `pm-hibernate|pm-suspend|
//!    pm-suspend-hybrid`;
//! 3. sysfs: supported when `/sys/power/state` lists `disk` (hibernate) or `mem`
//!    (suspend to RAM); then that word is written to it. There is none for hybrid.
//!
//! The programs are looked up in PATH, with standard output and error on
//! /dev/null. A method that succeeds ends the command (with no response: the
//! guest is asleep); one that is not supported, or fails, passes on to the next.
//! When none is supported the error is `the requested suspend mode is not
//! supported by the guest`; when some were supported but all failed, it is the
//! last failure.
//!
//! Where this differs from qemu-ga 7.2, which the manual's "If suspend ... is not
//! supported, Unsupported" decides: 7.2 returns success without suspending when
//! systemd does not support the mode and there is no `pm-is-supported` (or when
//! `systemctl` is absent altogether), and QEMU 8 returns success when a
//! supported method failed and no later one is supported. Here an unsupported
//! mode is always an error, and so is a failed one.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::commands::error::CommandError;
use crate::commands::error::{errno_error, io_error_text};
use crate::commands::helper::{run_helper, HelperExit};

/// The argument guest-shutdown passes to shutdown(8) as the message.
pub const SHUTDOWN_MESSAGE: &str = "hypervisor initiated shutdown";

/// The programs and files guest-shutdown and guest-suspend-* use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Power {
    /// shutdown(8), run by its absolute path (`/sbin/shutdown`).
    pub shutdown: PathBuf,
    /// systemd's `systemctl` (a bare name is looked up in PATH).
    pub systemctl: PathBuf,
    /// pm-utils' `pm-is-supported`.
    pub pm_is_supported: PathBuf,
    /// pm-utils' `pm-hibernate`.
    pub pm_hibernate: PathBuf,
    /// pm-utils' `pm-suspend`.
    pub pm_suspend: PathBuf,
    /// pm-utils' `pm-suspend-hybrid`.
    pub pm_suspend_hybrid: PathBuf,
    /// The kernel's sleep states (`/sys/power/state`).
    pub sys_power_state: PathBuf,
}

impl Default for Power {
    fn default() -> Self {
        Power {
            shutdown: PathBuf::from("/sbin/shutdown"),
            systemctl: PathBuf::from("systemctl"),
            pm_is_supported: PathBuf::from("pm-is-supported"),
            pm_hibernate: PathBuf::from("pm-hibernate"),
            pm_suspend: PathBuf::from("pm-suspend"),
            pm_suspend_hybrid: PathBuf::from("pm-suspend-hybrid"),
            sys_power_state: PathBuf::from("/sys/power/state"),
        }
    }
}

/// What guest-suspend-* asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SuspendMode {
    /// guest-suspend-disk: hibernate.
    Disk,
    /// guest-suspend-ram: suspend to RAM.
    Ram,
    /// guest-suspend-hybrid: save to disk, then suspend to RAM.
    Hybrid,
}

impl SuspendMode {
    /// The systemd unit whose status tells whether systemd can do it.
    fn systemd_unit(self) -> &'static str {
        match self {
            SuspendMode::Disk => "systemd-hibernate",
            SuspendMode::Ram => "systemd-suspend",
            SuspendMode::Hybrid => "systemd-hybrid-sleep",
        }
    }

    /// The systemctl verb that does it.
    fn systemctl_verb(self) -> &'static str {
        match self {
            SuspendMode::Disk => "hibernate",
            SuspendMode::Ram => "suspend",
            SuspendMode::Hybrid => "hybrid-sleep",
        }
    }

    /// The option of pm-is-supported that asks about it.
    fn pm_option(self) -> &'static str {
        match self {
            SuspendMode::Disk => "--hibernate",
            SuspendMode::Ram => "--suspend",
            SuspendMode::Hybrid => "--suspend-hybrid",
        }
    }

    /// The pm-utils program's name, as the error texts give it.
    fn pm_name(self) -> &'static str {
        match self {
            SuspendMode::Disk => "pm-hibernate",
            SuspendMode::Ram => "pm-suspend",
            SuspendMode::Hybrid => "pm-suspend-hybrid",
        }
    }

    /// The word for `/sys/power/state`; none for hybrid.
    fn sysfs_state(self) -> Option<&'static str> {
        match self {
            SuspendMode::Disk => Some("disk"),
            SuspendMode::Ram => Some("mem"),
            SuspendMode::Hybrid => None,
        }
    }
}

impl Power {
    /// guest-shutdown. `mode` is "powerdown" (the default), "halt" or "reboot".
    /// `Ok` means shutdown(8) accepted the request; the command then sends no
    /// response.
    pub fn shutdown(&self, mode: Option<&str>) -> Result<(), CommandError> {
        let flag = match mode {
            None | Some("powerdown") => "-P",
            Some("halt") => "-H",
            Some("reboot") => "-r",
            Some(_) => {
                // (sic: QEMU's text has no closing parenthesis)
                return Err(CommandError(
                    "mode is invalid (valid values are: halt|powerdown|reboot".into(),
                ));
            }
        };
        tracing::info!("guest-shutdown called, mode: {}", mode.unwrap_or("(null)"));
        let args = ["-h", flag, "+0", SHUTDOWN_MESSAGE].map(OsStr::new);
        match run_helper(&self.shutdown, OsStr::new("shutdown"), &args)? {
            HelperExit::Signaled => Err(CommandError(
                "child process has terminated abnormally".into(),
            )),
            HelperExit::Exited(0) => Ok(()),
            HelperExit::Exited(_) => {
                Err(CommandError("child process has failed to shutdown".into()))
            }
        }
    }

    /// guest-suspend-disk, guest-suspend-ram or guest-suspend-hybrid. `Ok` means
    /// the guest went to sleep and woke up again (or the method returned at
    /// once); the command then sends no response.
    pub fn suspend(&self, mode: SuspendMode) -> Result<(), CommandError> {
        let mut last_failure = None;

        if self.systemd_supports(mode) {
            match self.systemd_suspend(mode) {
                Ok(()) => return Ok(()),
                Err(e) => last_failure = Some(e),
            }
        }
        if self.pmutils_supports(mode) {
            match self.pmutils_suspend(mode) {
                Ok(()) => return Ok(()),
                Err(e) => last_failure = Some(e),
            }
        }
        if self.sysfs_supports(mode) {
            match self.sysfs_suspend(mode) {
                Ok(()) => return Ok(()),
                Err(e) => last_failure = Some(e),
            }
        }
        Err(last_failure.unwrap_or_else(|| {
            CommandError("the requested suspend mode is not supported by the guest".into())
        }))
    }

    /// `systemctl status UNIT` exits with an LSB status: 1 to 3 mean the unit
    /// exists (3, not running, is the usual answer), 4 that it does not.
    fn systemd_supports(&self, mode: SuspendMode) -> bool {
        let args = ["status", mode.systemd_unit()].map(OsStr::new);
        matches!(run_search_path(&self.systemctl, &args), Ok(Some(1..=3)))
    }

    fn systemd_suspend(&self, mode: SuspendMode) -> Result<(), CommandError> {
        let verb = mode.systemctl_verb();
        match run_search_path(&self.systemctl, &[OsStr::new(verb)])? {
            Some(0) => Ok(()),
            None => Err(CommandError(format!(
                "the helper program 'systemctl {verb}' was not found"
            ))),
            Some(status) => Err(CommandError(format!(
                "the helper program 'systemctl {verb}' returned an unexpected exit status code ({status})"
            ))),
        }
    }

    /// `pm-is-supported OPTION` exits with 0 when the mode is supported. (Any
    /// other answer, or failing to run it, is qemu-ga's error, which it drops.)
    fn pmutils_supports(&self, mode: SuspendMode) -> bool {
        let args = [OsStr::new(mode.pm_option())];
        matches!(run_search_path(&self.pm_is_supported, &args), Ok(Some(0)))
    }

    fn pmutils_suspend(&self, mode: SuspendMode) -> Result<(), CommandError> {
        let program = match mode {
            SuspendMode::Disk => &self.pm_hibernate,
            SuspendMode::Ram => &self.pm_suspend,
            SuspendMode::Hybrid => &self.pm_suspend_hybrid,
        };
        let name = mode.pm_name();
        match run_search_path(program, &[])? {
            Some(0) => Ok(()),
            None => Err(CommandError(format!(
                "the helper program '{name}' was not found"
            ))),
            Some(status) => Err(CommandError(format!(
                "the helper program '{name}' returned an unexpected exit status code ({status})"
            ))),
        }
    }

    /// Whether the first 31 bytes of `/sys/power/state` contain the mode's word
    /// (qemu-ga reads no more).
    fn sysfs_supports(&self, mode: SuspendMode) -> bool {
        let Some(word) = mode.sysfs_state() else {
            return false;
        };
        let Ok(file) = File::open(&self.sys_power_state) else {
            return false;
        };
        let mut buf = Vec::with_capacity(31);
        if file.take(31).read_to_end(&mut buf).is_err() || buf.is_empty() {
            return false;
        }
        buf.windows(word.len()).any(|w| w == word.as_bytes())
    }

    /// Writes the mode's word to `/sys/power/state` (opened for writing, not
    /// truncated, as sysfs wants) from a forked child in its own session with
    /// its standard streams on /dev/null, as qemu-ga does, and waits for it; the
    /// write returns once the guest has woken up. The agent itself never writes
    /// the file, so none of its descriptors (the channel) is in the writer.
    fn sysfs_suspend(&self, mode: SuspendMode) -> Result<(), CommandError> {
        let failed = || CommandError("child process has failed to suspend".into());
        let word = mode.sysfs_state().ok_or_else(failed)?;
        let path = std::ffi::CString::new(self.sys_power_state.as_os_str().as_bytes())
            .map_err(|_| failed())?;
        let null = c"/dev/null";
        // SAFETY: between fork and _exit the child calls only async-signal-safe
        // functions (setsid, open, dup2, close, write, _exit) on data prepared
        // before the fork.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            unsafe {
                libc::setsid();
                let fd = libc::open(null.as_ptr(), libc::O_RDWR);
                if fd >= 0 {
                    for target in 0..3 {
                        libc::dup2(fd, target);
                    }
                    if fd > 2 {
                        libc::close(fd);
                    }
                }
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    libc::_exit(libc::EXIT_FAILURE);
                }
                if libc::write(fd, word.as_ptr().cast(), word.len()) < 0 {
                    libc::_exit(libc::EXIT_FAILURE);
                }
                libc::_exit(libc::EXIT_SUCCESS);
            }
        }
        if pid < 0 {
            return Err(errno_error(
                "failed to create child process",
                &io::Error::last_os_error(),
            ));
        }
        let mut status = 0;
        loop {
            // SAFETY: waits for the child just forked, into a local.
            if unsafe { libc::waitpid(pid, &mut status, 0) } >= 0 {
                break;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(errno_error(
                    format!("failed to wait for child (pid: {pid})"),
                    &e,
                ));
            }
        }
        if !libc::WIFEXITED(status) {
            return Err(CommandError(
                "child process has terminated abnormally".into(),
            ));
        }
        if libc::WEXITSTATUS(status) != 0 {
            return Err(failed());
        }
        Ok(())
    }
}

/// guest-shutdown on this system.
pub fn shutdown(mode: Option<&str>) -> Result<(), CommandError> {
    Power::default().shutdown(mode)
}

/// guest-suspend-* on this system.
pub fn suspend(mode: SuspendMode) -> Result<(), CommandError> {
    Power::default().suspend(mode)
}

/// Runs `program` (looked up in PATH when it has no '/') as qemu-ga's
/// suspend helpers run (glib's g_spawn_sync): standard output and error on
/// /dev/null, in the agent's session. Standard input is /dev/null too (qemu-ga
/// lets the program inherit the agent's).
///
/// `Ok(Some(status))`: its exit status (0 when a signal ended it: qemu-ga takes
/// WEXITSTATUS of any wait status). `Ok(None)`: there is no such program.
/// `Err`: it could not be started for another reason.
fn run_search_path(program: &Path, args: &[&OsStr]) -> Result<Option<i32>, CommandError> {
    let spawned = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CommandError(format!(
                "failed to create child process, error 'Failed to execute child process “{}” ({})'",
                program.display(),
                io_error_text(&e)
            )))
        }
    };
    let status = loop {
        match child.wait() {
            Ok(status) => break status,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(CommandError(format!(
                    "failed to create child process, error '{}'",
                    io_error_text(&e)
                )))
            }
        }
    };
    Ok(Some(status.code().unwrap_or_else(|| {
        // WEXITSTATUS of a status that is not an exit: its bits 8..15, 0 for a
        // signal.
        (status.into_raw() >> 8) & 0xff
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_mode_is_refused_before_anything_runs() {
        let power = Power {
            shutdown: PathBuf::from("/nonexistent/must-not-run"),
            ..Power::default()
        };
        for mode in ["foo", "", "Powerdown", "poweroff"] {
            assert_eq!(
                power.shutdown(Some(mode)),
                Err(CommandError(
                    "mode is invalid (valid values are: halt|powerdown|reboot".into()
                ))
            );
        }
    }

    #[test]
    fn a_missing_shutdown_counts_as_status_1() {
        let power = Power {
            shutdown: PathBuf::from("/nonexistent/shutdown"),
            ..Power::default()
        };
        assert_eq!(
            power.shutdown(None),
            Err(CommandError("child process has failed to shutdown".into()))
        );
    }

    #[test]
    fn nothing_available_is_unsupported() {
        let power = Power {
            shutdown: PathBuf::from("/nonexistent/shutdown"),
            systemctl: PathBuf::from("/nonexistent/systemctl"),
            pm_is_supported: PathBuf::from("/nonexistent/pm-is-supported"),
            pm_hibernate: PathBuf::from("/nonexistent/pm-hibernate"),
            pm_suspend: PathBuf::from("/nonexistent/pm-suspend"),
            pm_suspend_hybrid: PathBuf::from("/nonexistent/pm-suspend-hybrid"),
            sys_power_state: PathBuf::from("/nonexistent/state"),
        };
        for mode in [SuspendMode::Disk, SuspendMode::Ram, SuspendMode::Hybrid] {
            assert_eq!(
                power.suspend(mode),
                Err(CommandError(
                    "the requested suspend mode is not supported by the guest".into()
                ))
            );
        }
    }

    #[test]
    fn a_missing_search_path_program_is_none() {
        assert_eq!(
            run_search_path(Path::new("/nonexistent/helper"), &[]),
            Ok(None)
        );
    }
}
