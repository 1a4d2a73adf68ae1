//! The state directory: the file-handle counter, persisted in `qga.state` so that
//! handles never repeat across restarts, and the frozen flag `qga.state.isfrozen`.

use std::io;
use std::path::{Path, PathBuf};

/// The first handle a fresh state directory gives out, as QEMU's agent.
pub const FIRST_HANDLE: i64 = 1000;

/// The persisted state of one agent.
#[derive(Debug)]
pub struct State {
    dir: PathBuf,
    next_handle: i64,
}

impl State {
    /// Reads the state in `dir` (which must exist); a missing or unreadable
    /// counter starts at [`FIRST_HANDLE`].
    pub fn open(dir: &Path) -> io::Result<State> {
        if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("state directory '{}' does not exist", dir.display()),
            ));
        }
        let next_handle = std::fs::read_to_string(dir.join("qga.state"))
            .ok()
            .and_then(|text| parse_counter(&text))
            .unwrap_or(FIRST_HANDLE);
        Ok(State {
            dir: dir.to_owned(),
            next_handle,
        })
    }

    /// A new handle; the counter is on disk before the handle is returned.
    pub fn next_handle(&mut self) -> io::Result<i64> {
        let handle = self.next_handle;
        let next = handle.checked_add(1).unwrap_or(FIRST_HANDLE);
        let path = self.dir.join("qga.state");
        let temp = self.dir.join("qga.state.tmp");
        std::fs::write(&temp, format!("[general]\nfd_counter={next}\n"))?;
        std::fs::rename(&temp, &path)?;
        self.next_handle = next;
        Ok(handle)
    }

    /// Where the frozen flag lives.
    pub fn frozen_flag(&self) -> PathBuf {
        self.dir.join("qga.state.isfrozen")
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// `fd_counter=N` in the `[general]` group of QEMU's keyfile.
fn parse_counter(text: &str) -> Option<i64> {
    let mut in_general = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_general = line == "[general]";
        } else if let Some(value) = line.strip_prefix("fd_counter=").filter(|_| in_general) {
            return value.trim().parse().ok().filter(|&n: &i64| n >= 0);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_persists_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::open(dir.path()).unwrap();
        assert_eq!(state.next_handle().unwrap(), 1000);
        assert_eq!(state.next_handle().unwrap(), 1001);
        let mut again = State::open(dir.path()).unwrap();
        assert_eq!(again.next_handle().unwrap(), 1002);
        assert_eq!(parse_counter("[general]\nfd_counter=77\n"), Some(77));
        assert_eq!(parse_counter("[other]\nfd_counter=77\n"), None);
        assert!(State::open(&dir.path().join("missing")).is_err());
    }
}
