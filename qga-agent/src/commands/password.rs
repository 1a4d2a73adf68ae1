//! guest-set-user-password, as qemu-ga 7.2 does it on Linux: chpasswd(8) reads
//! `USERNAME:PASSWORD\n` on its standard input (never on its command line, where
//! other users could read it), with `-e` when the password is already a crypt()
//! hash.
//!
//! The checks and texts are qemu-ga's, in its order:
//! - a newline in the password: `forbidden characters in raw password`;
//! - a newline or ':' in the user name: `forbidden characters in username`
//!   (a ':' in the password is fine: chpasswd splits at the first one);
//! - no chpasswd in PATH: `cannot find 'passwd' program in PATH`;
//! - the password could not be written to it: `cannot write new account
//!   password: STRERROR`;
//! - chpasswd killed by a signal: `child process has terminated abnormally`;
//! - chpasswd exited with a non-zero status: `child process has failed to set
//!   user password`.
//!
//! chpasswd runs in a new session with standard output and error on /dev/null.
//!
//! One difference: qemu-ga handles the decoded password as a C string, so a NUL
//! byte in it cuts the password short there, silently. Here a NUL byte (in the
//! password or the user name) is refused like a newline: setting a shorter
//! password than the one asked for would be worse than an error.

use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use qga_types::commands::GuestSetUserPasswordArguments;

use crate::commands::error::errno_error;
use crate::commands::error::CommandError;
use crate::commands::helper::{spawn_helper, wait_helper, HelperExit};

/// The program guest-set-user-password runs, looked up in PATH.
pub const CHPASSWD: &str = "chpasswd";

/// glib's search path when PATH is not set (g_find_program_in_path).
const DEFAULT_SEARCH_PATH: &[u8] = b"/bin:/usr/bin:.";

/// guest-set-user-password on this system: chpasswd from PATH.
pub fn set_user_password(args: &GuestSetUserPasswordArguments) -> Result<(), CommandError> {
    let chpasswd = find_program_in_path(OsStr::new(CHPASSWD));
    set_user_password_with(chpasswd.as_deref(), args)
}

/// guest-set-user-password with the given chpasswd program (`None`: there is
/// none).
pub fn set_user_password_with(
    chpasswd: Option<&Path>,
    args: &GuestSetUserPasswordArguments,
) -> Result<(), CommandError> {
    if args.password.iter().any(|&b| b == b'\n' || b == 0) {
        return Err(CommandError("forbidden characters in raw password".into()));
    }
    if args
        .username
        .bytes()
        .any(|b| b == b'\n' || b == b':' || b == 0)
    {
        return Err(CommandError("forbidden characters in username".into()));
    }
    let Some(chpasswd) = chpasswd else {
        return Err(CommandError("cannot find 'passwd' program in PATH".into()));
    };

    let mut line = Vec::with_capacity(args.username.len() + args.password.len() + 2);
    line.extend_from_slice(args.username.as_bytes());
    line.push(b':');
    line.extend_from_slice(&args.password);
    line.push(b'\n');

    let flags: &[&OsStr] = if args.crypted {
        &[OsStr::new("-e")]
    } else {
        &[]
    };
    let mut child = spawn_helper(chpasswd, OsStr::new(CHPASSWD), flags, Stdio::piped())?;
    let written = match child.as_mut().and_then(|c| c.stdin.take()) {
        // Dropping the pipe's end closes it: chpasswd sees the end of its input.
        Some(mut stdin) => write_all(&mut stdin, &line),
        // chpasswd could not be executed: it counts as having failed.
        None => Ok(()),
    };
    line.fill(0);
    // Reap the child even when the write failed (qemu-ga leaves it a zombie).
    let exit = wait_helper(child);
    if let Err(e) = written {
        return Err(errno_error("cannot write new account password", &e));
    }
    match exit? {
        HelperExit::Signaled => Err(CommandError(
            "child process has terminated abnormally".into(),
        )),
        HelperExit::Exited(0) => Ok(()),
        HelperExit::Exited(_) => Err(CommandError(
            "child process has failed to set user password".into(),
        )),
    }
}

fn write_all(pipe: &mut impl Write, data: &[u8]) -> io::Result<()> {
    pipe.write_all(data)?;
    pipe.flush()
}

/// Where `name` is found in PATH (glib's g_find_program_in_path): a name with a
/// '/' is taken as it is; otherwise the first directory of PATH (or of
/// "/bin:/usr/bin:." when PATH is not set; an empty entry is the current
/// directory) that holds an executable regular file of that name.
pub fn find_program_in_path(name: &OsStr) -> Option<PathBuf> {
    let path = std::env::var_os("PATH");
    find_program_in(name, path.as_deref())
}

/// [`find_program_in_path`] with the given PATH value.
pub fn find_program_in(name: &OsStr, path: Option<&OsStr>) -> Option<PathBuf> {
    if name.as_bytes().contains(&b'/') {
        return is_executable_file(Path::new(name)).then(|| PathBuf::from(name));
    }
    let path = path.map_or(DEFAULT_SEARCH_PATH, OsStr::as_bytes);
    path.split(|&b| b == b':').find_map(|dir| {
        let dir = if dir.is_empty() {
            OsString::from(".")
        } else {
            OsStr::from_bytes(dir).to_owned()
        };
        let candidate = Path::new(&dir).join(name);
        is_executable_file(&candidate).then_some(candidate)
    })
}

fn is_executable_file(path: &Path) -> bool {
    path.is_file() && rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(username: &str, password: &[u8], crypted: bool) -> GuestSetUserPasswordArguments {
        GuestSetUserPasswordArguments {
            username: username.into(),
            password: password.to_vec(),
            crypted,
        }
    }

    /// A chpasswd that must never run: every test here fails before it would.
    fn never() -> Option<&'static Path> {
        Some(Path::new("/nonexistent/must-not-run"))
    }

    #[test]
    fn forbidden_characters() {
        let raw = Err(CommandError("forbidden characters in raw password".into()));
        let user = Err(CommandError("forbidden characters in username".into()));
        assert_eq!(
            set_user_password_with(never(), &args("u", b"a\nb", false)),
            raw
        );
        assert_eq!(
            set_user_password_with(never(), &args("u", b"\n", true)),
            raw
        );
        assert_eq!(
            set_user_password_with(never(), &args("u", b"a\0b", false)),
            raw
        );
        assert_eq!(
            set_user_password_with(never(), &args("a:b", b"pw", false)),
            user
        );
        assert_eq!(
            set_user_password_with(never(), &args("a\nb", b"pw", false)),
            user
        );
        assert_eq!(
            set_user_password_with(never(), &args("a\0b", b"pw", false)),
            user
        );
        // The password is checked first.
        assert_eq!(
            set_user_password_with(never(), &args("a:b", b"x\ny", false)),
            raw
        );
    }

    #[test]
    fn no_chpasswd() {
        assert_eq!(
            set_user_password_with(None, &args("root", b"secret", false)),
            Err(CommandError("cannot find 'passwd' program in PATH".into()))
        );
    }

    #[test]
    fn a_chpasswd_that_cannot_run_has_failed() {
        assert_eq!(
            set_user_password_with(
                Some(Path::new("/nonexistent/chpasswd")),
                &args("root", b"secret", false)
            ),
            Err(CommandError(
                "child process has failed to set user password".into()
            ))
        );
    }

    #[test]
    fn path_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let program = bin.join("prog");
        std::fs::write(&program, "").unwrap();
        let name = OsStr::new("prog");
        let search = |p: &Path| {
            let mut value = OsString::from("/nonexistent:");
            value.push(p);
            find_program_in(name, Some(&value))
        };
        // Not executable: not found.
        assert_eq!(search(&bin), None);
        std::fs::set_permissions(
            &program,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        assert_eq!(search(&bin), Some(program.clone()));
        // A directory of that name does not count.
        let other = dir.path().join("other");
        std::fs::create_dir_all(other.join("prog")).unwrap();
        assert_eq!(search(&other), None);
        assert_eq!(
            find_program_in(program.as_os_str(), Some(OsStr::new(""))),
            Some(program.clone())
        );
        assert_eq!(find_program_in(OsStr::new("/nonexistent/x"), None), None);
    }
}
