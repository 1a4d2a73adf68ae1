//! The pid file of a daemonized agent (`-d`, `-f`), locked as qemu-ga locks
//! it.
//!
//! The file is opened (created mode 0600) and locked with `lockf(F_TLOCK)`, a
//! POSIX record lock, which also conflicts with the lock of a running qemu-ga;
//! a lock held elsewhere means another agent runs, and this one refuses to
//! start. Once locked, the path is checked to still name the file that was
//! locked (another agent may have removed it meanwhile), then the file is
//! truncated and gets the pid and a newline. The descriptor stays open, and
//! the lock held, until the agent exits and removes the file.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A locked pid file, removed when dropped.
#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
    file: File,
}

/// Why the pid file could not be taken.
#[derive(Debug)]
pub enum PidfileError {
    /// It could not be opened.
    Open(PathBuf, io::Error),
    /// Another process holds its lock.
    Locked(PathBuf, io::Error),
    /// It could not be written.
    Write(PathBuf, io::Error),
}

impl fmt::Display for PidfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PidfileError::Open(path, e) => {
                write!(f, "Cannot open pid file {}: {e}", path.display())
            }
            PidfileError::Locked(path, e) => write!(
                f,
                "Cannot lock pid file {}: {e} (is another agent running?)",
                path.display()
            ),
            PidfileError::Write(path, e) => {
                write!(f, "Failed to write pid file {}: {e}", path.display())
            }
        }
    }
}

impl std::error::Error for PidfileError {}

fn same_file(file: &File, path: &Path) -> io::Result<bool> {
    let opened = file.metadata()?;
    match std::fs::metadata(path) {
        Ok(named) => Ok(opened.dev() == named.dev() && opened.ino() == named.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

impl Pidfile {
    /// Creates and locks the pid file at `path` and writes this process's id.
    pub fn create(path: &Path) -> Result<Pidfile, PidfileError> {
        let open_error = |e| PidfileError::Open(path.to_owned(), e);
        loop {
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .mode(0o600)
                .custom_flags(libc::O_NOCTTY)
                .open(path)
                .map_err(open_error)?;
            // SAFETY: lockf on a descriptor this function owns.
            if unsafe { libc::lockf(file.as_raw_fd(), libc::F_TLOCK, 0) } != 0 {
                return Err(PidfileError::Locked(
                    path.to_owned(),
                    io::Error::last_os_error(),
                ));
            }
            // Another agent may have removed the file between our open and
            // lock; then the lock is on a file nobody sees: start over.
            if !same_file(&file, path).map_err(open_error)? {
                continue;
            }
            let mut pidfile = Pidfile {
                path: path.to_owned(),
                file,
            };
            pidfile.write_pid().map_err(|e| {
                let _ = std::fs::remove_file(path);
                PidfileError::Write(path.to_owned(), e)
            })?;
            return Ok(pidfile);
        }
    }

    fn write_pid(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        let line = format!("{}\n", std::process::id());
        (&self.file).write_all(line.as_bytes())
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the file (and releases the lock).
    pub fn remove(self) {
        // Drop does it.
    }
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        // Only while it is still ours: never remove another agent's pid file.
        if same_file(&self.file, &self.path).unwrap_or(false) {
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::warn!("unable to remove pid file {}: {e}", self.path.display());
            }
        }
    }
}

/// Whether a pid file at `path` is locked by a process (another agent).
pub fn is_locked(path: &Path) -> io::Result<bool> {
    let file = OpenOptions::new().write(true).open(path)?;
    // SAFETY: lockf F_TEST on a descriptor this function owns.
    let r = unsafe { libc::lockf(file.as_raw_fd(), libc::F_TEST, 0) };
    Ok(r != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn written_locked_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.pid");
        let pidfile = Pidfile::create(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(pidfile.path(), path);
        pidfile.remove();
        assert!(!path.exists());
    }

    #[test]
    fn a_stale_file_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.pid");
        std::fs::write(&path, "999999999\nleftover\n").unwrap();
        let _pidfile = Pidfile::create(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
    }

    #[test]
    fn a_file_that_is_no_longer_ours_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.pid");
        let pidfile = Pidfile::create(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "other\n").unwrap();
        drop(pidfile);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "other\n");
    }

    #[test]
    fn a_missing_directory_is_an_open_error() {
        let err = Pidfile::create(Path::new("/nonexistent/dir/agent.pid")).unwrap_err();
        assert!(matches!(err, PidfileError::Open(..)), "{err}");
    }
}
