//! guest-fsfreeze-freeze, guest-fsfreeze-freeze-list, guest-fsfreeze-thaw and
//! guest-fsfreeze-status, as qemu-ga 7.2 does them on Linux.
//!
//! A [`Freezer`] holds the frozen state. The filesystems are those of the mount
//! table as guest-get-fsinfo lists them ([`MountTable`]: local filesystems only,
//! no network or virtual ones). A freeze:
//! 1. runs the fsfreeze hook, if one is configured, with the argument `freeze`;
//! 2. reads the mount table;
//! 3. enters the frozen state: tells the observer (so that the agent stops writing
//!    its log) and creates `<statedir>/qga.state.isfrozen` (before any filesystem
//!    is frozen, since the state directory may be on one of them);
//! 4. walks the mounts in the reverse of their order in the table (a filesystem
//!    mounted on another is frozen before it) and, for each one that is listed
//!    (every one, without a list; a listed path that is not a mount point is
//!    ignored, as the manual says and qemu-ga 7.2 does), opens its mount point
//!    and freezes it (FIFREEZE). EOPNOTSUPP (the filesystem cannot be frozen)
//!    and EBUSY (already frozen by someone else) are skipped and not
//!    counted; any other failure, or a mount point that cannot be opened, stops
//!    the walk with `failed to freeze MOUNTPOINT: STRERROR` (or `failed to open
//!    MOUNTPOINT: STRERROR`), and everything is thawed as by
//!    guest-fsfreeze-thaw;
//! 5. when nothing was frozen, leaves the frozen state again (without running
//!    the hook with `thaw`); otherwise returns the count, the state stays frozen.
//!
//! A thaw walks every mount of the table, in order, and issues FITHAW until it
//! fails (a filesystem frozen n times needs n thaws), counting each filesystem
//! that thawed at least once; mount points that cannot be opened are skipped.
//! It then leaves the frozen state (removing the state file) and runs the hook
//! with `thaw`. A thaw runs even when the agent did not freeze anything, so it
//! also thaws what a previous agent left frozen.
//!
//! The hook (`-F`/`--fsfreeze-hook`) must be executable, or the command fails
//! with `can't access fsfreeze hook 'PATH': STRERROR`; it runs with the argument
//! `freeze` or `thaw`, in a new session, its standard streams on /dev/null; a
//! non-zero exit status is `fsfreeze hook has failed with status N`, a signal
//! `fsfreeze hook has terminated abnormally`. A failed `freeze` hook fails the
//! freeze before anything is frozen; a failed `thaw` hook fails the thaw after
//! the filesystems were thawed.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use qga_types::GuestFsfreezeStatus;

use crate::commands::error::errno_error;
use crate::commands::error::CommandError;
use crate::commands::helper::{run_helper, HelperExit};
use crate::commands::mounts::{FsMount, MountTable};

/// The name of the state file in the state directory: it exists while the
/// filesystems are frozen, so that an agent started again knows.
pub const FROZEN_STATE_FILE: &str = "qga.state.isfrozen";

/// What a [`Freezer`] works with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezerConfig {
    /// The filesystems.
    pub mount_table: MountTable,
    /// The agent's state directory (`-t`/`--statedir`), which holds
    /// [`FROZEN_STATE_FILE`].
    pub state_dir: PathBuf,
    /// The fsfreeze hook, when one is configured.
    pub hook: Option<PathBuf>,
}

/// Called with `true` when the agent enters the frozen state (before any
/// filesystem is frozen) and `false` when it leaves it (after they are thawed).
pub type FrozenObserver = Box<dyn FnMut(bool) + Send>;

/// The frozen state and the commands that change it.
pub struct Freezer {
    config: FreezerConfig,
    frozen: bool,
    observer: Option<FrozenObserver>,
}

impl std::fmt::Debug for Freezer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Freezer")
            .field("config", &self.config)
            .field("frozen", &self.frozen)
            .finish_non_exhaustive()
    }
}

/// The two arguments of the hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HookArg {
    Freeze,
    Thaw,
}

impl HookArg {
    fn as_str(self) -> &'static str {
        match self {
            HookArg::Freeze => "freeze",
            HookArg::Thaw => "thaw",
        }
    }
}

impl Freezer {
    /// A freezer; it starts frozen when the state file exists (a previous agent
    /// exited with the filesystems frozen), as qemu-ga does.
    pub fn new(config: FreezerConfig) -> Self {
        let frozen = config.state_dir.join(FROZEN_STATE_FILE).exists();
        Freezer {
            config,
            frozen,
            observer: None,
        }
    }

    /// Sets what is told when the frozen state changes (see [`FrozenObserver`]).
    pub fn set_observer(&mut self, observer: FrozenObserver) {
        self.observer = Some(observer);
    }

    /// The configuration.
    pub fn config(&self) -> &FreezerConfig {
        &self.config
    }

    /// `<statedir>/qga.state.isfrozen`.
    pub fn state_file(&self) -> PathBuf {
        self.config.state_dir.join(FROZEN_STATE_FILE)
    }

    /// Whether the agent is in the frozen state.
    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// guest-fsfreeze-status.
    pub fn status(&self) -> GuestFsfreezeStatus {
        if self.frozen {
            GuestFsfreezeStatus::Frozen
        } else {
            GuestFsfreezeStatus::Thawed
        }
    }

    /// guest-fsfreeze-freeze: every filesystem.
    pub fn freeze(&mut self) -> Result<i64, CommandError> {
        self.freeze_list(None)
    }

    /// guest-fsfreeze-freeze-list: the filesystems mounted on `mountpoints`
    /// (compared byte for byte with the mount table's paths), or every one when
    /// `None`. Returns how many were frozen.
    ///
    /// In the frozen state this fails without doing anything (the agent refuses
    /// the command before it gets here; qemu-ga would carry on, and could leave
    /// the frozen state with the filesystems still frozen).
    pub fn freeze_list(&mut self, mountpoints: Option<&[String]>) -> Result<i64, CommandError> {
        if self.frozen {
            return Err(CommandError(
                "the filesystems are already frozen: thaw them first".into(),
            ));
        }
        tracing::info!("guest-fsfreeze called");
        self.run_hook(HookArg::Freeze)?;
        let mounts = self.config.mount_table.list()?;

        self.set_frozen();
        match freeze_mounts(&mounts, mountpoints) {
            Ok(0) => {
                self.unset_frozen();
                Ok(0)
            }
            Ok(count) => Ok(count),
            Err(e) => {
                // As qemu-ga: thaw everything, ignoring how that goes.
                let _ = self.thaw();
                Err(e)
            }
        }
    }

    /// guest-fsfreeze-thaw: thaws every filesystem of the table, leaves the
    /// frozen state and runs the hook. Returns how many filesystems were thawed.
    pub fn thaw(&mut self) -> Result<i64, CommandError> {
        let mounts = self.config.mount_table.list()?;
        let count = thaw_mounts(&mounts);
        self.unset_frozen();
        self.run_hook(HookArg::Thaw)?;
        Ok(count)
    }

    /// What the agent does when it exits (SIGTERM included): when frozen, thaw.
    /// Returns the thaw's error, which qemu-ga logs as `failed to clean up frozen
    /// filesystems: ...`.
    pub fn cleanup(&mut self) -> Result<(), CommandError> {
        if self.frozen {
            self.thaw()?;
        }
        Ok(())
    }

    /// Enters the frozen state: the observer first, then the state file
    /// (qemu-ga only warns when it cannot be created).
    fn set_frozen(&mut self) {
        if self.frozen {
            return;
        }
        if let Some(observer) = self.observer.as_mut() {
            observer(true);
        }
        self.frozen = true;
        let path = self.state_file();
        let created = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path);
        if let Err(e) = created {
            tracing::warn!(
                "unable to create {}, fsfreeze may not function properly: {e}",
                path.display()
            );
        }
    }

    /// Leaves the frozen state: the observer first, then the state file goes.
    fn unset_frozen(&mut self) {
        if !self.frozen {
            return;
        }
        if let Some(observer) = self.observer.as_mut() {
            observer(false);
        }
        self.frozen = false;
        let path = self.state_file();
        if let Err(e) = fs::remove_file(&path) {
            tracing::warn!(
                "unable to delete {}, fsfreeze may not function properly: {e}",
                path.display()
            );
        }
    }

    /// Runs the hook, when there is one, with `arg`.
    fn run_hook(&self, arg: HookArg) -> Result<(), CommandError> {
        let Some(hook) = self.config.hook.as_deref() else {
            return Ok(());
        };
        if let Err(e) = rustix::fs::access(hook, rustix::fs::Access::EXEC_OK) {
            return Err(errno_error(
                format!("can't access fsfreeze hook '{}'", hook.display()),
                &io::Error::from(e),
            ));
        }
        tracing::info!("executing fsfreeze hook with arg '{}'", arg.as_str());
        let args = [std::ffi::OsStr::new(arg.as_str())];
        match run_helper(hook, hook.as_os_str(), &args)? {
            HelperExit::Exited(0) => Ok(()),
            HelperExit::Exited(status) => Err(CommandError(format!(
                "fsfreeze hook has failed with status {status}"
            ))),
            HelperExit::Signaled => Err(CommandError(
                "fsfreeze hook has terminated abnormally".into(),
            )),
        }
    }
}

/// The freezing walk (step 4 above): the count, or the first error.
fn freeze_mounts(mounts: &[FsMount], mountpoints: Option<&[String]>) -> Result<i64, CommandError> {
    let mut count = 0;
    for mount in mounts.iter().rev() {
        let dirname = mount.dirname.as_os_str().as_bytes();
        if let Some(list) = mountpoints {
            if !list.iter().any(|m| m.as_bytes() == dirname) {
                continue;
            }
        }
        let dir = File::open(&mount.dirname)
            .map_err(|e| errno_error(format!("failed to open {}", mount.dirname.display()), &e))?;
        match fs_ioctl(&dir, FIFREEZE) {
            Ok(()) => count += 1,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EBUSY)) => {}
            Err(e) => {
                return Err(errno_error(
                    format!("failed to freeze {}", mount.dirname.display()),
                    &e,
                ))
            }
        }
    }
    Ok(count)
}

/// The thawing walk: how many filesystems thawed at least once.
fn thaw_mounts(mounts: &[FsMount]) -> i64 {
    let mut count = 0;
    for mount in mounts {
        let Ok(dir) = File::open(&mount.dirname) else {
            continue;
        };
        let mut thawed = false;
        while fs_ioctl(&dir, FITHAW).is_ok() {
            thawed = true;
        }
        if thawed {
            count += 1;
        }
    }
    count
}

/// `_IOWR('X', 119, int)`: freeze the filesystem of the open file.
const FIFREEZE: rustix::ioctl::Opcode = rustix::ioctl::opcode::read_write::<libc::c_int>(b'X', 119);
/// `_IOWR('X', 120, int)`: thaw it.
const FITHAW: rustix::ioctl::Opcode = rustix::ioctl::opcode::read_write::<libc::c_int>(b'X', 120);

/// FIFREEZE or FITHAW on the filesystem of `file` (the argument is unused).
fn fs_ioctl(file: &File, request: rustix::ioctl::Opcode) -> io::Result<()> {
    // SAFETY: the descriptor is open for the duration of the call; FIFREEZE and
    // FITHAW read no argument.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), request as libc::Ioctl, 0) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A freezer over an empty mount table, so that nothing is ever frozen.
    fn empty_freezer(dir: &Path, hook: Option<PathBuf>) -> Freezer {
        let mountinfo = dir.join("mountinfo");
        fs::write(&mountinfo, "").unwrap();
        Freezer::new(FreezerConfig {
            mount_table: MountTable {
                mountinfo,
                mounts: dir.join("no-mounts"),
            },
            state_dir: dir.to_path_buf(),
            hook,
        })
    }

    #[test]
    fn nothing_to_freeze_stays_thawed() {
        let dir = tempfile::tempdir().unwrap();
        let mut freezer = empty_freezer(dir.path(), None);
        let changes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = changes.clone();
        freezer.set_observer(Box::new(move |frozen| seen.lock().unwrap().push(frozen)));
        assert_eq!(freezer.status(), GuestFsfreezeStatus::Thawed);
        assert_eq!(freezer.freeze(), Ok(0));
        assert_eq!(freezer.status(), GuestFsfreezeStatus::Thawed);
        assert!(!freezer.state_file().exists());
        // The state was entered for the walk, then left.
        assert_eq!(*changes.lock().unwrap(), [true, false]);
        assert_eq!(freezer.thaw(), Ok(0));
        assert_eq!(freezer.cleanup(), Ok(()));
    }

    #[test]
    fn a_state_file_left_behind_means_frozen() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FROZEN_STATE_FILE), "").unwrap();
        let mut freezer = empty_freezer(dir.path(), None);
        assert!(freezer.is_frozen());
        assert_eq!(freezer.status(), GuestFsfreezeStatus::Frozen);
        assert!(freezer.freeze().is_err());
        assert_eq!(freezer.cleanup(), Ok(()));
        assert_eq!(freezer.status(), GuestFsfreezeStatus::Thawed);
        assert!(!dir.path().join(FROZEN_STATE_FILE).exists());
    }

    #[test]
    fn an_unreadable_table_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut freezer = Freezer::new(FreezerConfig {
            mount_table: MountTable {
                mountinfo: dir.path().join("none"),
                mounts: dir.path().join("none-either"),
            },
            state_dir: dir.path().to_path_buf(),
            hook: None,
        });
        let expected = Err(CommandError(format!(
            "failed to open mtab file: '{}'",
            dir.path().join("none-either").display()
        )));
        assert_eq!(freezer.freeze(), expected);
        assert!(!freezer.is_frozen());
        assert_eq!(freezer.thaw(), expected);
    }

    #[test]
    fn a_hook_that_cannot_run() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing-hook");
        let mut freezer = empty_freezer(dir.path(), Some(missing.clone()));
        assert_eq!(
            freezer.freeze(),
            Err(CommandError(format!(
                "can't access fsfreeze hook '{}': No such file or directory",
                missing.display()
            )))
        );
        assert!(!freezer.is_frozen());
    }

    #[test]
    fn ioctl_numbers() {
        assert_eq!(FIFREEZE as u64 & 0xffff, 0x5877);
        assert_eq!(FITHAW as u64 & 0xffff, 0x5878);
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        {
            assert_eq!(FIFREEZE as u64, 0xc004_5877);
            assert_eq!(FITHAW as u64, 0xc004_5878);
        }
    }
}
