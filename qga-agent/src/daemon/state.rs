//! The state directory (`-t`): the file-handle counter in `qga.state`, and the
//! frozen-state marker `qga.state.isfrozen`.
//!
//! `qga.state` is a key file as qemu-ga writes it, `[global]` `fd_counter=N`,
//! N being the next handle guest-file-open gives out (1000 at first). Each
//! handle is reserved before use: the counter past it is written (to a
//! temporary file, synced, then renamed over the old one) before the handle is
//! returned, so no handle is ever given twice, across restarts and crashes
//! alike. A missing file starts the counter at 1000 and is written at once (so
//! that a state directory the agent cannot write to is found at start-up);
//! an unreadable one stops the agent (qemu-ga does the same), rather than risk
//! giving out old handles again.
//!
//! `qga.state.isfrozen` exists while the agent has the guest's filesystems
//! frozen; an agent that starts and finds it starts in the frozen state (the
//! fsfreeze commands create and remove it).

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::keyfile::{KeyFile, Writer};

/// The counter's file in the state directory.
pub const STATE_FILE: &str = "qga.state";
/// The frozen-state marker in the state directory; the freezer writes it.
pub use crate::commands::fsfreeze::FROZEN_STATE_FILE as FROZEN_FILE;
/// The counter's group and key.
const GROUP: &str = "global";
const KEY: &str = "fd_counter";
/// The first handle.
pub const FIRST_HANDLE: i64 = 1000;

/// Why the state directory could not be used.
#[derive(Debug)]
pub enum StateError {
    /// The directory could not be created.
    Dir(PathBuf, io::Error),
    /// A file could not be examined.
    Access(PathBuf, io::Error),
    /// `qga.state` could not be read.
    Read(PathBuf, String),
    /// `qga.state` could not be written.
    Write(PathBuf, io::Error),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Dir(path, e) => {
                write!(
                    f,
                    "unable to create state directory {}: {e}",
                    path.display()
                )
            }
            StateError::Access(path, e) => {
                write!(
                    f,
                    "unable to access state file at path {}: {e}",
                    path.display()
                )
            }
            StateError::Read(path, e) => write!(
                f,
                "error loading persistent state from path: {}, {e} (remove the file to start \
                 the handle counter over)",
                path.display()
            ),
            StateError::Write(path, e) => {
                write!(
                    f,
                    "failed to write persistent state to {}: {e}",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for StateError {}

/// Whether `<dir>/qga.state.isfrozen` exists: a previous agent left the
/// filesystems frozen.
pub fn is_frozen(dir: &Path) -> Result<bool, StateError> {
    let path = dir.join(FROZEN_FILE);
    match fs::symlink_metadata(&path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StateError::Access(path, e)),
    }
}

/// The state directory and the persisted file-handle counter.
#[derive(Debug)]
pub struct State {
    dir: PathBuf,
    next: i64,
}

impl State {
    /// Opens the state directory `dir` (created, mode 0700, when missing) and
    /// loads the counter, or starts it at 1000 when `qga.state` does not exist
    /// (writing the file at once, unless `frozen`: the directory may be on a
    /// frozen filesystem).
    pub fn open(dir: &Path, frozen: bool) -> Result<State, StateError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| StateError::Dir(dir.to_owned(), e))?;
        let mut state = State {
            dir: dir.to_owned(),
            next: FIRST_HANDLE,
        };
        let path = state.state_file();
        let data = match fs::read(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !frozen {
                    state
                        .persist(FIRST_HANDLE)
                        .map_err(|e| StateError::Write(path, e))?;
                }
                return Ok(state);
            }
            Err(e) => return Err(StateError::Access(path, e)),
        };
        let keys =
            KeyFile::parse(&data).map_err(|e| StateError::Read(path.clone(), e.to_string()))?;
        state.next = match keys.integer(GROUP, KEY) {
            // As qemu-ga: a file without the key starts over.
            None => FIRST_HANDLE,
            Some(Ok(next)) => next,
            Some(Err(e)) => return Err(StateError::Read(path, e.to_string())),
        };
        Ok(state)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<statedir>/qga.state`.
    pub fn state_file(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// The handle the next call to [`State::next_handle`] returns.
    pub fn peek(&self) -> i64 {
        self.next
    }

    /// Reserves and returns the next handle: the counter past it is on disk
    /// before the handle is returned. On error nothing is reserved (and the
    /// handle will be offered again).
    pub fn next_handle(&mut self) -> io::Result<i64> {
        let handle = self.next;
        let after = handle
            .checked_add(1)
            .ok_or_else(|| io::Error::other("file handle counter exhausted"))?;
        self.persist(after)?;
        self.next = after;
        Ok(handle)
    }

    /// Writes `next` to the file atomically.
    fn persist(&self, next: i64) -> io::Result<()> {
        let mut writer = Writer::new(GROUP);
        writer.integer(KEY, next);
        let path = self.state_file();
        let temp = self.dir.join(format!("{STATE_FILE}.tmp"));
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&temp)?;
        let written = file
            .write_all(&writer.into_bytes())
            .and_then(|()| file.sync_all())
            .and_then(|()| fs::rename(&temp, &path));
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_1000_and_writes_qemu_format() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path(), false).unwrap();
        assert_eq!(state.peek(), 1000);
        assert_eq!(
            fs::read_to_string(dir.path().join(STATE_FILE)).unwrap(),
            "[global]\nfd_counter=1000\n"
        );
    }

    #[test]
    fn handles_are_reserved_before_use_and_survive_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::open(dir.path(), false).unwrap();
        assert_eq!(state.next_handle().unwrap(), 1000);
        assert_eq!(
            fs::read_to_string(state.state_file()).unwrap(),
            "[global]\nfd_counter=1001\n"
        );
        assert_eq!(state.next_handle().unwrap(), 1001);
        drop(state);
        let mut again = State::open(dir.path(), false).unwrap();
        assert_eq!(again.next_handle().unwrap(), 1002);
        assert!(!dir.path().join("qga.state.tmp").exists());
    }

    #[test]
    fn reads_qemu_ga_state() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(STATE_FILE), "[global]\nfd_counter=4242\n").unwrap();
        let mut state = State::open(dir.path(), false).unwrap();
        assert_eq!(state.next_handle().unwrap(), 4242);
        // A file without the key starts over, as qemu-ga's.
        fs::write(dir.path().join(STATE_FILE), "[global]\n").unwrap();
        assert_eq!(State::open(dir.path(), false).unwrap().peek(), 1000);
    }

    #[test]
    fn a_corrupt_state_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["fd_counter=5\n", "[global]\nfd_counter=abc\n"] {
            fs::write(dir.path().join(STATE_FILE), bad).unwrap();
            assert!(
                matches!(State::open(dir.path(), false), Err(StateError::Read(..))),
                "{bad}"
            );
        }
    }

    #[test]
    fn frozen_start_does_not_write() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_frozen(dir.path()).unwrap());
        fs::write(dir.path().join(FROZEN_FILE), "").unwrap();
        assert!(is_frozen(dir.path()).unwrap());
        let state = State::open(dir.path(), true).unwrap();
        assert_eq!(state.peek(), 1000);
        assert!(!dir.path().join(STATE_FILE).exists());
    }

    #[test]
    fn a_failed_write_reserves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let state_dir = dir.path().join("state");
        let mut state = State::open(&state_dir, false).unwrap();
        fs::remove_dir_all(&state_dir).unwrap();
        assert!(state.next_handle().is_err());
        assert_eq!(state.peek(), 1000);
    }

    #[test]
    fn the_directory_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        let state = State::open(&nested, false).unwrap();
        assert!(state.dir().is_dir());
    }
}
