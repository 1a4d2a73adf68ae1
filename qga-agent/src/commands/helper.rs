//! Running a helper program the way qemu-ga runs its helpers: shutdown(8),
//! hwclock (guest-set-time), chpasswd (guest-set-user-password) and the
//! fsfreeze hook all start and end this way, so the rule lives in one place.

use std::ffi::OsStr;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::commands::error::{errno_error, CommandError};

/// How a helper program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HelperExit {
    /// It exited with this status. A program that could not be executed counts
    /// as status 1, as qemu-ga's child does `_exit(EXIT_FAILURE)` then.
    Exited(i32),
    /// A signal ended it.
    Signaled,
}

/// Starts `program` (by its path, never looked up in PATH) with `argv0` and
/// `args` the way qemu-ga starts its helpers: in a new session (setsid), with
/// standard output and error on /dev/null and standard input as given. The
/// agent's own descriptors are close-on-exec, so none reaches the program.
///
/// `Ok(None)`: the program could not be executed (to be counted as status 1).
/// `Err`: no process could be created at all (`failed to create child process`).
pub(crate) fn spawn_helper(
    program: &Path,
    argv0: &OsStr,
    args: &[&OsStr],
    stdin: Stdio,
) -> Result<Option<Child>, CommandError> {
    let mut command = Command::new(program);
    command
        .arg0(argv0)
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: the closure runs in the forked child before exec and only calls
    // setsid(), which is async-signal-safe; its failure (already a session
    // leader) is ignored, as qemu-ga ignores it.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    match command.spawn() {
        Ok(child) => Ok(Some(child)),
        // fork() itself failed: there is no child to report a status.
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::ENOMEM)) => {
            Err(errno_error("failed to create child process", &e))
        }
        Err(_) => Ok(None),
    }
}

/// Waits for a helper started by [`spawn_helper`] (`None` is the program that
/// could not be executed).
pub(crate) fn wait_helper(child: Option<Child>) -> Result<HelperExit, CommandError> {
    let Some(mut child) = child else {
        return Ok(HelperExit::Exited(1));
    };
    let status = loop {
        match child.wait() {
            Ok(status) => break status,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(errno_error(
                    format!("failed to wait for child (pid: {})", child.id()),
                    &e,
                ))
            }
        }
    };
    Ok(match status.code() {
        Some(code) => HelperExit::Exited(code),
        None => HelperExit::Signaled,
    })
}

/// [`spawn_helper`] with standard input on /dev/null, then [`wait_helper`].
pub(crate) fn run_helper(
    program: &Path,
    argv0: &OsStr,
    args: &[&OsStr],
) -> Result<HelperExit, CommandError> {
    wait_helper(spawn_helper(program, argv0, args, Stdio::null())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_that_cannot_be_executed_are_status_1() {
        assert_eq!(
            run_helper(Path::new("/nonexistent/helper"), OsStr::new("helper"), &[]),
            Ok(HelperExit::Exited(1))
        );
    }
}
