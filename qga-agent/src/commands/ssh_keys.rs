//! guest-ssh-get-authorized-keys, guest-ssh-add-authorized-keys and
//! guest-ssh-remove-authorized-keys (QEMU 5.2): the keys of an account's
//! `~/.ssh/authorized_keys`.
//!
//! The account is looked up with `getpwnam_r()` (its home, uid and gid). The
//! agent runs as root in a directory the user owns, so every step is taken
//! through a descriptor, never through a path a user could change under it:
//! the home is opened, then `.ssh` in it and `authorized_keys` in that with
//! `O_NOFOLLOW`, so that a symbolic link the user planted at either (to
//! `/etc/shadow`, to `/root/.ssh`) is refused rather than followed; a file that
//! is not a regular one (a FIFO would block the agent) is refused too. A new
//! file is written whole to a temporary file in `.ssh`, owned by the user and
//! mode 0600 (`fchown`/`fchmod` on its descriptor), synced, and renamed over
//! `authorized_keys`, so the file is never seen half written and a failure
//! leaves the old one as it was. A `.ssh` the agent creates is mode 0700 and
//! owned by the user; one that exists is left as it is.
//!
//! As qemu-ga: a key that starts with `#` or holds a newline is refused (before
//! the account is looked up), `invalid OpenSSH public key: 'KEY'`; get skips
//! blank lines and comments and trims each key; add appends the keys that are
//! not already lines of the file (`reset` replaces the file with the keys);
//! remove drops the lines equal to a key and keeps every other, comments
//! included; a missing file is an error for get and nothing to do for remove.
//! The error texts are qemu-ga's (GLib's inside them for reads).
//!
//! Where ours differs, on purpose:
//! - get lists the keys in the file's order (qemu-ga reverses them);
//! - an empty key is accepted and ignored: add writes nothing for it (qemu-ga
//!   writes a blank line) and remove removes nothing for it (qemu-ga drops the
//!   file's blank lines). virsh set-user-sshkeys --file sends one for the
//!   newline that ends the file, so refusing it would break libvirt;
//! - the file ends with a newline; qemu-ga writes none after the last key, and
//!   puts a blank line before the keys it appends to a file that ended with
//!   one;
//! - add fails when the existing file cannot be read for another reason than
//!   not existing (qemu-ga then writes the new keys over it, and the old ones
//!   are lost);
//! - remove does not rewrite a file it has nothing to remove from;
//! - an unknown user is `failed to lookup user 'NAME': no such user` (qemu-ga's
//!   text ends in GLib's "Success");
//! - the file's ownership error says "of 'PATH'" (qemu-ga: "of directory").

use std::ffi::{CStr, CString, OsStr};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use qga_types::GuestAuthorizedKeys;
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

use crate::commands::error::{io_error_text, CommandError};

type Result<T> = std::result::Result<T, CommandError>;

/// The directory of the keys, in the home.
const SSH_DIR: &str = ".ssh";
/// The file of the keys, in `.ssh`.
const AUTHORIZED_KEYS: &str = "authorized_keys";

/// The account whose keys are read or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The home directory, as the password database gives it.
    pub home: PathBuf,
    /// The user's uid, the owner of what the agent writes.
    pub uid: u32,
    /// The user's primary gid.
    pub gid: u32,
}

impl Account {
    /// Looks `username` up in the password database (`getpwnam_r()`).
    pub fn lookup(username: &str) -> Result<Account> {
        let failed =
            |why: String| CommandError(format!("failed to lookup user '{username}': {why}"));
        let no_such_user = || failed("no such user".into());
        let Ok(name) = CString::new(username) else {
            return Err(no_such_user());
        };
        let mut size = 4096;
        loop {
            let mut buf = vec![0 as libc::c_char; size];
            // SAFETY: zeroed is a valid bit pattern for `struct passwd`.
            let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            // SAFETY: every pointer is valid for the call; `buf` is writable for
            // its length, and `pwd`'s strings point into it afterwards.
            let rc = unsafe {
                libc::getpwnam_r(
                    name.as_ptr(),
                    &mut pwd,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                )
            };
            if rc == libc::ERANGE && size < 1 << 20 {
                size *= 4;
                continue;
            }
            if result.is_null() {
                return Err(match rc {
                    0 | libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => no_such_user(),
                    errno => failed(io_error_text(&io::Error::from_raw_os_error(errno))),
                });
            }
            // SAFETY: on success pw_dir is a NUL-terminated string in `buf`.
            let home = unsafe { CStr::from_ptr(pwd.pw_dir) };
            return Ok(Account {
                home: PathBuf::from(OsStr::from_bytes(home.to_bytes())),
                uid: pwd.pw_uid,
                gid: pwd.pw_gid,
            });
        }
    }

    fn ssh_dir(&self) -> PathBuf {
        self.home.join(SSH_DIR)
    }

    fn keys_file(&self) -> PathBuf {
        self.ssh_dir().join(AUTHORIZED_KEYS)
    }
}

/// qemu-ga's check of the keys given.
fn check_keys(keys: &[String]) -> Result<()> {
    match keys.iter().find(|k| k.starts_with('#') || k.contains('\n')) {
        Some(key) => Err(CommandError(format!("invalid OpenSSH public key: '{key}'"))),
        None => Ok(()),
    }
}

/// guest-ssh-get-authorized-keys.
pub fn get_authorized_keys(username: &str) -> Result<GuestAuthorizedKeys> {
    get_keys_of(&Account::lookup(username)?)
}

/// guest-ssh-add-authorized-keys.
pub fn add_authorized_keys(username: &str, keys: &[String], reset: bool) -> Result<()> {
    check_keys(keys)?;
    add_keys_for(&Account::lookup(username)?, keys, reset)
}

/// guest-ssh-remove-authorized-keys.
pub fn remove_authorized_keys(username: &str, keys: &[String]) -> Result<()> {
    check_keys(keys)?;
    remove_keys_for(&Account::lookup(username)?, keys)
}

/// The keys of `account`: the trimmed lines of its file that are neither blank
/// nor comments.
pub fn get_keys_of(account: &Account) -> Result<GuestAuthorizedKeys> {
    let content = read_keys_file(account)?
        .ok_or_else(|| read_error(account, &io::Error::from_raw_os_error(libc::ENOENT)))?;
    let keys = lines(&content)
        .into_iter()
        .map(|line| line.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b'))
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect();
    Ok(GuestAuthorizedKeys { keys })
}

/// Adds `keys` to the file of `account` (replaces its content with them when
/// `reset`), creating `.ssh` when there is none. The keys must have been
/// checked.
pub fn add_keys_for(account: &Account, keys: &[String], reset: bool) -> Result<()> {
    let home = open_home(account)?;
    let ssh = open_or_make_ssh_dir(account, &home)?;
    let mut file: Vec<String> = if reset {
        Vec::new()
    } else {
        match read_in(account, &ssh)? {
            Some(content) => lines(&content).into_iter().map(str::to_owned).collect(),
            None => Vec::new(),
        }
    };
    for key in keys.iter().filter(|k| !k.is_empty()) {
        if !file.contains(key) {
            file.push(key.clone());
        }
    }
    write_keys_file(account, &ssh, &file)
}

/// Removes the lines equal to one of `keys` from the file of `account`; a
/// missing file is nothing to do. The keys must have been checked.
pub fn remove_keys_for(account: &Account, keys: &[String]) -> Result<()> {
    let content = match read_keys_file(account)? {
        Some(content) => content,
        None => return Ok(()),
    };
    let all = lines(&content);
    let kept: Vec<String> = all
        .iter()
        .filter(|line| line.is_empty() || !keys.iter().any(|k| k == *line))
        .map(|line| (*line).to_owned())
        .collect();
    if kept.len() == all.len() {
        return Ok(());
    }
    let home = open_home(account)?;
    let ssh =
        open_dir_nofollow(home.as_fd(), SSH_DIR).map_err(|e| dir_error(&account.ssh_dir(), &e))?;
    write_keys_file(account, &ssh, &kept)
}

/// The lines of a file, without the empty piece after a final newline.
fn lines(content: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = content.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    lines
}

/// qemu-ga's read error: its text around GLib's.
fn read_error(account: &Account, e: &io::Error) -> CommandError {
    let path = account.keys_file();
    CommandError(format!(
        "failed to read '{}': Failed to open file \u{201c}{}\u{201d}: {}",
        path.display(),
        path.display(),
        io_error_text(e)
    ))
}

fn dir_error(path: &Path, e: &io::Error) -> CommandError {
    CommandError(format!(
        "failed to open directory '{}': {}",
        path.display(),
        io_error_text(e)
    ))
}

fn open_home(account: &Account) -> Result<OwnedFd> {
    open_home_fd(account).map_err(|e| dir_error(&account.home, &e))
}

fn open_home_fd(account: &Account) -> io::Result<OwnedFd> {
    // The home itself comes from the administrator's password database: its
    // path is followed as it is.
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    Ok(rfs::open(&account.home, flags, Mode::empty())?)
}

/// Opens directory `name` of `dir`, refusing a symbolic link (with ELOOP: the
/// kernel says ENOTDIR for one under O_DIRECTORY).
fn open_dir_nofollow(dir: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rfs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => Ok(fd),
        Err(rustix::io::Errno::NOTDIR) => {
            let is_link = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink);
            Err(io::Error::from_raw_os_error(if is_link {
                libc::ELOOP
            } else {
                libc::ENOTDIR
            }))
        }
        Err(e) => Err(e.into()),
    }
}

/// `.ssh` of the home, made (0700, owned by the user) when there is none.
fn open_or_make_ssh_dir(account: &Account, home: &OwnedFd) -> Result<OwnedFd> {
    let path = account.ssh_dir();
    match open_dir_nofollow(home.as_fd(), SSH_DIR) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => return Err(dir_error(&path, &e)),
    }
    let failed = |what: &str, e: io::Error| {
        CommandError(format!(
            "failed to {what} '{}': {}",
            path.display(),
            io_error_text(&e)
        ))
    };
    rfs::mkdirat(home, SSH_DIR, Mode::from_raw_mode(0o700))
        .map_err(|e| failed("create directory", e.into()))?;
    // Opened again without following: the user may have swapped it already.
    let fd = open_dir_nofollow(home.as_fd(), SSH_DIR).map_err(|e| failed("create directory", e))?;
    rfs::fchown(
        &fd,
        Some(rustix::process::Uid::from_raw(account.uid)),
        Some(rustix::process::Gid::from_raw(account.gid)),
    )
    .map_err(|e| failed("set ownership of directory", e.into()))?;
    rfs::fchmod(&fd, Mode::from_raw_mode(0o700))
        .map_err(|e| failed("set permissions of directory", e.into()))?;
    Ok(fd)
}

/// The content of the account's file; `None` when it (or `.ssh`) does not
/// exist.
fn read_keys_file(account: &Account) -> Result<Option<String>> {
    // Whatever stops the walk, qemu-ga's text says the file could not be opened.
    let home = open_home_fd(account).map_err(|e| read_error(account, &e))?;
    let ssh = match open_dir_nofollow(home.as_fd(), SSH_DIR) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
        Err(e) => return Err(read_error(account, &e)),
    };
    read_in(account, &ssh)
}

/// The content of `authorized_keys` in `ssh`; `None` when it does not exist.
fn read_in(account: &Account, ssh: &OwnedFd) -> Result<Option<String>> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rfs::openat(ssh, AUTHORIZED_KEYS, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(e) => return Err(read_error(account, &e.into())),
    };
    let st = rfs::fstat(&fd).map_err(|e| read_error(account, &e.into()))?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => {}
        FileType::Directory => {
            return Err(read_error(
                account,
                &io::Error::from_raw_os_error(libc::EISDIR),
            ))
        }
        _ => return Err(read_error(account, &io::Error::other("not a regular file"))),
    }
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .read_to_end(&mut bytes)
        .map_err(|e| read_error(account, &e))?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Distinguishes the temporary files of concurrent writes.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `authorized_keys` in `ssh` with `lines`, each ending with a
/// newline: a temporary file owned by the user, mode 0600, synced, renamed
/// over it. On failure the old file is left as it was.
fn write_keys_file(account: &Account, ssh: &OwnedFd, lines: &[String]) -> Result<()> {
    let path = account.keys_file();
    let failed = |what: &str, e: io::Error| {
        CommandError(format!(
            "failed to {what} '{}': {}",
            path.display(),
            io_error_text(&e)
        ))
    };
    let mut content = String::new();
    for line in lines {
        content.push_str(line);
        content.push('\n');
    }
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    // The user owns .ssh and may have made names ahead: a few more are tried.
    let mut attempts = 0;
    let (temp, fd) = loop {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!(".{AUTHORIZED_KEYS}.qga-{}-{n}", std::process::id());
        match rfs::openat(ssh, name.as_str(), flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => break (name, fd),
            Err(rustix::io::Errno::EXIST) if attempts < 100 => attempts += 1,
            Err(e) => return Err(failed("write to", e.into())),
        }
    };
    let written = (|| {
        rfs::fchown(
            &fd,
            Some(rustix::process::Uid::from_raw(account.uid)),
            Some(rustix::process::Gid::from_raw(account.gid)),
        )
        .map_err(|e| failed("set ownership of", e.into()))?;
        rfs::fchmod(&fd, Mode::from_raw_mode(0o600))
            .map_err(|e| failed("set permissions of", e.into()))?;
        let mut file = std::fs::File::from(fd);
        file.write_all(content.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| failed("write to", e))?;
        rfs::renameat(ssh, temp.as_str(), ssh, AUTHORIZED_KEYS)
            .map_err(|e| failed("write to", e.into()))
    })();
    if written.is_err() {
        let _ = rfs::unlinkat(ssh, temp.as_str(), AtFlags::empty());
        return written;
    }
    // The rename itself reaches the disk.
    let _ = rfs::fsync(ssh);
    Ok(())
}
