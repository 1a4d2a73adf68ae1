//! What the daemon does when the guest's filesystems are frozen and thawed:
//! the fsfreeze commands report each change to a [`FreezeWatch`].
//!
//! Frozen: the log stops writing to files (see [`crate::daemon::logging`]). Thawed:
//! the log resumes, opening its file if the agent started frozen, and a
//! daemon that started frozen takes its pid file only now (writing it earlier
//! could have blocked on a frozen filesystem), as qemu-ga does.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::daemon::logging::LogControl;
use crate::daemon::pidfile::Pidfile;

/// The daemon's pid file: taken, waiting for a thaw, or none.
#[derive(Debug, Default)]
pub enum PidfileSlot {
    /// No pid file (the agent runs in the foreground).
    #[default]
    None,
    /// To be taken on thaw.
    Deferred(PathBuf),
    /// Taken.
    Held(Pidfile),
}

/// Watches the frozen state for the daemon. Clones share their state.
#[derive(Debug, Clone)]
pub struct FreezeWatch {
    log: LogControl,
    pidfile: Arc<Mutex<PidfileSlot>>,
}

impl FreezeWatch {
    /// A watch over `log` and the pid file in `pidfile`.
    pub fn new(log: LogControl, pidfile: PidfileSlot) -> Self {
        FreezeWatch {
            log,
            pidfile: Arc::new(Mutex::new(pidfile)),
        }
    }

    /// The frozen state changed.
    pub fn set_frozen(&self, frozen: bool) {
        self.log.set_frozen(frozen);
        if frozen {
            return;
        }
        let mut slot = self.pidfile.lock().unwrap_or_else(|e| e.into_inner());
        if let PidfileSlot::Deferred(path) = &*slot {
            *slot = match Pidfile::create(path) {
                Ok(pidfile) => PidfileSlot::Held(pidfile),
                Err(e) => {
                    tracing::warn!("{e}");
                    PidfileSlot::None
                }
            };
        }
    }

    /// The watch as the callback the fsfreeze code takes
    /// (`commands::fsfreeze::FrozenObserver`).
    pub fn observer(&self) -> Box<dyn FnMut(bool) + Send> {
        let watch = self.clone();
        Box::new(move |frozen| watch.set_frozen(frozen))
    }

    /// Removes the pid file, if one was taken (at exit).
    pub fn release_pidfile(&self) {
        let mut slot = self.pidfile.lock().unwrap_or_else(|e| e.into_inner());
        *slot = PidfileSlot::None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deferred_pidfile_is_taken_on_thaw_and_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.pid");
        let watch = FreezeWatch::new(LogControl::stderr(), PidfileSlot::Deferred(path.clone()));
        let mut observer = watch.observer();
        observer(true);
        assert!(!path.exists());
        observer(false);
        assert!(path.exists());
        watch.release_pidfile();
        assert!(!path.exists());
    }
}
