//! The commands that change the system: fsfreeze, fstrim, set-time, shutdown,
//! suspend and set-user-password, with fake programs (their unit tests, in the
//! modules, cover what needs none).
//!
//! Nothing here touches this machine: every program these commands run is a fake
//! script in a temp dir that records its arguments, standard input and session,
//! and the clock is a recording fake. The only real effect is on an ext4 image
//! that a test makes and loop-mounts itself (as root): FIFREEZE, FITHAW and
//! FITRIM reach it through a mount table that lists that image alone. Those tests
//! say they are skipped when the image cannot be mounted (not root, no loop
//! device), and fail instead when the CI environment variable is set.

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use qga_agent::commands::clock::{set_time, RecordingClock};
use qga_agent::commands::error::{CommandError, UNSUPPORTED};
use qga_agent::commands::fsfreeze::{Freezer, FreezerConfig, FROZEN_STATE_FILE};
use qga_agent::commands::fstrim::fstrim_in;
use qga_agent::commands::mounts::MountTable;
use qga_agent::commands::password::set_user_password_with;
use qga_agent::commands::power::{Power, SuspendMode};
use qga_types::commands::GuestSetUserPasswordArguments;
use qga_types::{GuestFilesystemTrimResult, GuestFsfreezeStatus};

fn err<T>(text: &str) -> Result<T, CommandError> {
    Err(CommandError(text.into()))
}

// ---------------------------------------------------------------------------
// Fake programs

/// A fake program: a shell script that appends, per call, its arguments (each
/// in brackets) to `argv`, its standard input to `stdin`, and to `info` whether
/// it leads its own session and where its standard streams go; then runs
/// `tail` (e.g. `exit 3`).
struct Fake {
    path: PathBuf,
    argv: PathBuf,
    stdin: PathBuf,
    info: PathBuf,
}

impl Fake {
    fn new(dir: &Path, name: &str, tail: &str) -> Fake {
        let fake = Fake {
            path: dir.join(name),
            argv: dir.join(format!("{name}.argv")),
            stdin: dir.join(format!("{name}.stdin")),
            info: dir.join(format!("{name}.info")),
        };
        let script = format!(
            "#!/bin/sh\n\
             for a in \"$@\"; do printf '[%s]' \"$a\"; done >> '{argv}'\n\
             echo >> '{argv}'\n\
             cat >> '{stdin}'\n\
             sid=$(cut -d' ' -f6 /proc/$$/stat)\n\
             if [ \"$sid\" = \"$$\" ]; then leader=yes; else leader=no; fi\n\
             echo \"leader=$leader in=$(readlink /proc/$$/fd/0) out=$(readlink /proc/$$/fd/1) err=$(readlink /proc/$$/fd/2)\" >> '{info}'\n\
             {tail}\n",
            argv = fake.argv.display(),
            stdin = fake.stdin.display(),
            info = fake.info.display(),
        );
        install_script(dir, name, &script);
        fake
    }

    /// One line per call: the arguments, each in brackets.
    fn calls(&self) -> Vec<String> {
        match fs::read_to_string(&self.argv) {
            Ok(text) => text.lines().map(str::to_owned).collect(),
            Err(_) => Vec::new(),
        }
    }

    fn stdin(&self) -> Vec<u8> {
        fs::read(&self.stdin).unwrap_or_default()
    }

    fn info(&self) -> Vec<String> {
        match fs::read_to_string(&self.info) {
            Ok(text) => text.lines().map(str::to_owned).collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// Writes an executable script. It is written to a side file and copied into
/// place by install(1), so that this process never holds the script open for
/// writing: a fork by another test thread would inherit that descriptor, and
/// executing the script would then fail with ETXTBSY.
fn install_script(dir: &Path, name: &str, script: &str) {
    let source = dir.join(format!("{name}.source"));
    fs::write(&source, script).unwrap();
    let status = Command::new("install")
        .arg("-m")
        .arg("0755")
        .arg(&source)
        .arg(dir.join(name))
        .status()
        .unwrap();
    assert!(status.success(), "install {name}");
}

/// What a helper run the qemu-ga way sees: its own session, /dev/null for
/// output and error, and `stdin` as its input.
fn detached(stdin: &str) -> String {
    format!("leader=yes in={stdin} out=/dev/null err=/dev/null")
}

// ---------------------------------------------------------------------------
// guest-shutdown

fn power_with_shutdown(shutdown: &Fake) -> Power {
    Power {
        shutdown: shutdown.path.clone(),
        ..Power::default()
    }
}

#[test]
fn shutdown_modes() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new(dir.path(), "shutdown", "exit 0");
    let power = power_with_shutdown(&fake);
    assert_eq!(power.shutdown(None), Ok(()));
    assert_eq!(power.shutdown(Some("powerdown")), Ok(()));
    assert_eq!(power.shutdown(Some("halt")), Ok(()));
    assert_eq!(power.shutdown(Some("reboot")), Ok(()));
    assert_eq!(
        power.shutdown(Some("suspend")),
        err("mode is invalid (valid values are: halt|powerdown|reboot")
    );
    assert_eq!(
        fake.calls(),
        [
            "[-h][-P][+0][hypervisor initiated shutdown]",
            "[-h][-P][+0][hypervisor initiated shutdown]",
            "[-h][-H][+0][hypervisor initiated shutdown]",
            "[-h][-r][+0][hypervisor initiated shutdown]",
        ]
    );
    assert_eq!(fake.info(), vec![detached("/dev/null"); 4]);
}

#[test]
fn shutdown_failures() {
    let dir = tempfile::tempdir().unwrap();
    let failing = Fake::new(dir.path(), "failing", "exit 1");
    assert_eq!(
        power_with_shutdown(&failing).shutdown(Some("reboot")),
        err("child process has failed to shutdown")
    );
    let killed = Fake::new(dir.path(), "killed", "kill -9 $$");
    assert_eq!(
        power_with_shutdown(&killed).shutdown(None),
        err("child process has terminated abnormally")
    );
    assert_eq!(killed.calls().len(), 1);
}

// ---------------------------------------------------------------------------
// guest-suspend-*

/// Fakes for every suspend method, none of them usable until told.
struct SuspendFakes {
    dir: tempfile::TempDir,
    power: Power,
}

impl SuspendFakes {
    fn new() -> SuspendFakes {
        let dir = tempfile::tempdir().unwrap();
        let missing = |name: &str| dir.path().join("missing").join(name);
        let power = Power {
            shutdown: missing("shutdown"),
            systemctl: missing("systemctl"),
            pm_is_supported: missing("pm-is-supported"),
            pm_hibernate: missing("pm-hibernate"),
            pm_suspend: missing("pm-suspend"),
            pm_suspend_hybrid: missing("pm-suspend-hybrid"),
            sys_power_state: missing("state"),
        };
        SuspendFakes { dir, power }
    }

    fn fake(&self, name: &str, tail: &str) -> Fake {
        Fake::new(self.dir.path(), name, tail)
    }

    /// A fake `/sys/power/state` listing `states`.
    fn sysfs(&mut self, states: &str) -> PathBuf {
        let path = self.dir.path().join("state");
        fs::write(&path, states).unwrap();
        self.power.sys_power_state = path.clone();
        path
    }
}

const NOT_SUPPORTED: &str = "the requested suspend mode is not supported by the guest";

#[test]
fn suspend_through_systemd() {
    let mut s = SuspendFakes::new();
    // `systemctl status UNIT` says 3 (exists, not running); the verb succeeds.
    let systemctl = s.fake(
        "systemctl",
        "case \"$1\" in status) exit 3;; *) exit 0;; esac",
    );
    let pm = s.fake("pm-is-supported", "exit 0");
    s.power.systemctl = systemctl.path.clone();
    s.power.pm_is_supported = pm.path.clone();
    assert_eq!(s.power.suspend(SuspendMode::Disk), Ok(()));
    assert_eq!(s.power.suspend(SuspendMode::Ram), Ok(()));
    assert_eq!(s.power.suspend(SuspendMode::Hybrid), Ok(()));
    assert_eq!(
        systemctl.calls(),
        [
            "[status][systemd-hibernate]",
            "[hibernate]",
            "[status][systemd-suspend]",
            "[suspend]",
            "[status][systemd-hybrid-sleep]",
            "[hybrid-sleep]",
        ]
    );
    // Not a detached session: run as glib's g_spawn_sync runs it.
    assert!(systemctl.info()[0].starts_with("leader=no in=/dev/null out=/dev/null"));
    assert!(pm.calls().is_empty());
}

#[test]
fn suspend_through_pm_utils_when_systemd_lacks_the_unit() {
    let mut s = SuspendFakes::new();
    // 4: no such unit. 0: running, which qemu-ga does not count either.
    let systemctl = s.fake(
        "systemctl",
        "case \"$2\" in systemd-suspend) exit 0;; *) exit 4;; esac",
    );
    let pm = s.fake("pm-is-supported", "exit 0");
    let hibernate = s.fake("pm-hibernate", "exit 0");
    let suspend = s.fake("pm-suspend", "exit 0");
    let hybrid = s.fake("pm-suspend-hybrid", "exit 0");
    s.power.systemctl = systemctl.path.clone();
    s.power.pm_is_supported = pm.path.clone();
    s.power.pm_hibernate = hibernate.path.clone();
    s.power.pm_suspend = suspend.path.clone();
    s.power.pm_suspend_hybrid = hybrid.path.clone();
    assert_eq!(s.power.suspend(SuspendMode::Disk), Ok(()));
    assert_eq!(s.power.suspend(SuspendMode::Ram), Ok(()));
    assert_eq!(s.power.suspend(SuspendMode::Hybrid), Ok(()));
    assert_eq!(
        systemctl.calls(),
        [
            "[status][systemd-hibernate]",
            "[status][systemd-suspend]",
            "[status][systemd-hybrid-sleep]",
        ]
    );
    assert_eq!(
        pm.calls(),
        ["[--hibernate]", "[--suspend]", "[--suspend-hybrid]"]
    );
    assert_eq!(hibernate.calls(), [""]);
    assert_eq!(suspend.calls(), [""]);
    assert_eq!(hybrid.calls(), [""]);
}

#[test]
fn suspend_through_sysfs() {
    let mut s = SuspendFakes::new();
    // pm-is-supported says 1: not supported.
    let pm = s.fake("pm-is-supported", "exit 1");
    s.power.pm_is_supported = pm.path.clone();
    let state = s.sysfs("freeze mem disk\n");
    assert_eq!(s.power.suspend(SuspendMode::Ram), Ok(()));
    // sysfs is written without truncation, as the kernel's file wants.
    assert!(fs::read_to_string(&state).unwrap().starts_with("mem"));
    let state = s.sysfs("freeze mem disk\n");
    assert_eq!(s.power.suspend(SuspendMode::Disk), Ok(()));
    assert!(fs::read_to_string(&state).unwrap().starts_with("disk"));
    // sysfs has no hybrid.
    s.sysfs("freeze mem disk\n");
    assert_eq!(s.power.suspend(SuspendMode::Hybrid), err(NOT_SUPPORTED));
    // Only the first 31 bytes are looked at.
    s.sysfs(&format!("{}mem", " ".repeat(40)));
    assert_eq!(s.power.suspend(SuspendMode::Ram), err(NOT_SUPPORTED));
    s.sysfs("freeze disk");
    assert_eq!(s.power.suspend(SuspendMode::Ram), err(NOT_SUPPORTED));
    assert_eq!(pm.calls().len(), 5);
}

#[test]
fn suspend_unsupported_or_failing() {
    let s = SuspendFakes::new();
    for mode in [SuspendMode::Disk, SuspendMode::Ram, SuspendMode::Hybrid] {
        assert_eq!(s.power.suspend(mode), err(NOT_SUPPORTED));
    }

    // systemd supports it but fails, and nothing else is there: its error.
    let mut s = SuspendFakes::new();
    let systemctl = s.fake(
        "systemctl",
        "case \"$1\" in status) exit 3;; *) exit 1;; esac",
    );
    s.power.systemctl = systemctl.path.clone();
    assert_eq!(
        s.power.suspend(SuspendMode::Ram),
        err("the helper program 'systemctl suspend' returned an unexpected exit status code (1)")
    );

    // ... and when pm-utils is there but fails too: pm-utils' error.
    let pm = s.fake("pm-is-supported", "exit 0");
    s.power.pm_is_supported = pm.path.clone();
    assert_eq!(
        s.power.suspend(SuspendMode::Ram),
        err("the helper program 'pm-suspend' was not found")
    );
    let hibernate = s.fake("pm-hibernate", "exit 2");
    s.power.pm_hibernate = hibernate.path.clone();
    assert_eq!(
        s.power.suspend(SuspendMode::Disk),
        err("the helper program 'pm-hibernate' returned an unexpected exit status code (2)")
    );

    // ... and when sysfs works, the guest sleeps after all.
    s.sysfs("mem");
    assert_eq!(s.power.suspend(SuspendMode::Ram), Ok(()));
}

// ---------------------------------------------------------------------------
// guest-set-time

#[test]
fn set_time_runs_hwclock() {
    let dir = tempfile::tempdir().unwrap();
    let hwclock = Fake::new(dir.path(), "hwclock", "exit 0");
    let mut clock = RecordingClock::new(&hwclock.path);
    assert_eq!(
        set_time(&mut clock, Some(1_700_000_000_500_000_000)),
        Ok(())
    );
    assert_eq!(set_time(&mut clock, None), Ok(()));
    assert_eq!(clock.calls, [(1_700_000_000, 500_000_000)]);
    assert_eq!(hwclock.calls(), ["[-w]", "[-s]"]);
    assert_eq!(hwclock.info(), vec![detached("/dev/null"); 2]);
}

#[test]
fn set_time_failures() {
    let dir = tempfile::tempdir().unwrap();
    let hwclock = Fake::new(dir.path(), "hwclock", "exit 1");
    let mut clock = RecordingClock::new(&hwclock.path);
    let failed = err("hwclock failed to set hardware clock to system time");
    assert_eq!(
        set_time(&mut clock, Some(1_700_000_000_000_000_000)),
        failed
    );
    assert_eq!(set_time(&mut clock, None), failed);

    let killed = Fake::new(dir.path(), "killed", "kill -9 $$");
    let mut clock = RecordingClock::new(&killed.path);
    assert_eq!(
        set_time(&mut clock, None),
        err("child process has terminated abnormally")
    );

    // The clock is not touched when the time is invalid or hwclock is missing.
    let mut clock = RecordingClock::new(&hwclock.path);
    assert_eq!(
        set_time(&mut clock, Some(-86_400_000_000_000 * 2)),
        err("Invalid time: Invalid argument")
    );
    let mut clock = RecordingClock::new(dir.path().join("no-hwclock"));
    assert_eq!(
        set_time(&mut clock, Some(1_700_000_000_000_000_000)),
        err(UNSUPPORTED)
    );
    assert!(clock.calls.is_empty());

    // Not executable: unsupported too.
    let plain = dir.path().join("plain");
    fs::write(&plain, "#!/bin/sh\n").unwrap();
    let mut clock = RecordingClock::new(&plain);
    assert_eq!(set_time(&mut clock, None), err(UNSUPPORTED));
}

// ---------------------------------------------------------------------------
// guest-set-user-password

fn password_args(username: &str, password: &[u8], crypted: bool) -> GuestSetUserPasswordArguments {
    GuestSetUserPasswordArguments {
        username: username.into(),
        password: password.to_vec(),
        crypted,
    }
}

#[test]
fn chpasswd_reads_the_password_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let chpasswd = Fake::new(dir.path(), "chpasswd", "exit 0");
    let program = Some(chpasswd.path.as_path());
    assert_eq!(
        set_user_password_with(
            program,
            &password_args("alice", b"s3cret:with colon", false)
        ),
        Ok(())
    );
    let hash = b"$6$salt$hash/with.dots";
    assert_eq!(
        set_user_password_with(program, &password_args("bob", hash, true)),
        Ok(())
    );
    // Any byte but newline and NUL goes through as it is.
    assert_eq!(
        set_user_password_with(program, &password_args("carol", b"\xff\xfe \t", false)),
        Ok(())
    );
    // The password never reaches the command line.
    assert_eq!(chpasswd.calls(), ["", "[-e]", ""]);
    let mut expected = b"alice:s3cret:with colon\nbob:".to_vec();
    expected.extend_from_slice(hash);
    expected.extend_from_slice(b"\ncarol:\xff\xfe \t\n");
    assert_eq!(chpasswd.stdin(), expected);
    let info = chpasswd.info();
    assert_eq!(info.len(), 3);
    assert!(info[0].starts_with("leader=yes in=pipe:"), "{}", info[0]);
    assert!(
        info[0].ends_with(" out=/dev/null err=/dev/null"),
        "{}",
        info[0]
    );
}

#[test]
fn chpasswd_failures() {
    let dir = tempfile::tempdir().unwrap();
    let failing = Fake::new(dir.path(), "failing", "exit 1");
    assert_eq!(
        set_user_password_with(Some(&failing.path), &password_args("root", b"pw", false)),
        err("child process has failed to set user password")
    );
    let killed = Fake::new(dir.path(), "killed", "kill -9 $$");
    assert_eq!(
        set_user_password_with(Some(&killed.path), &password_args("root", b"pw", true)),
        err("child process has terminated abnormally")
    );
    // Refused before chpasswd runs.
    let never = Fake::new(dir.path(), "never", "exit 0");
    assert_eq!(
        set_user_password_with(Some(&never.path), &password_args("ro:ot", b"pw", false)),
        err("forbidden characters in username")
    );
    assert_eq!(
        set_user_password_with(Some(&never.path), &password_args("root", b"p\nw", false)),
        err("forbidden characters in raw password")
    );
    assert!(never.calls().is_empty());
}

// ---------------------------------------------------------------------------
// The fsfreeze hook (over an empty mount table: nothing is frozen)

fn hook_freezer(dir: &Path, hook: &Path) -> Freezer {
    let mountinfo = dir.join("mountinfo");
    fs::write(&mountinfo, "").unwrap();
    Freezer::new(FreezerConfig {
        mount_table: MountTable {
            mountinfo,
            mounts: dir.join("no-mounts"),
        },
        state_dir: dir.to_path_buf(),
        hook: Some(hook.to_path_buf()),
    })
}

#[test]
fn hook_runs_on_freeze_and_thaw() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Fake::new(dir.path(), "hook", "exit 0");
    let mut freezer = hook_freezer(dir.path(), &hook.path);
    // Nothing to freeze: 0, and the thaw hook does not run.
    assert_eq!(freezer.freeze(), Ok(0));
    assert_eq!(hook.calls(), ["[freeze]"]);
    // A thaw always runs it.
    assert_eq!(freezer.thaw(), Ok(0));
    assert_eq!(hook.calls(), ["[freeze]", "[thaw]"]);
    assert_eq!(hook.info(), vec![detached("/dev/null"); 2]);
    // The cleanup at exit does nothing when thawed.
    assert_eq!(freezer.cleanup(), Ok(()));
    assert_eq!(hook.calls().len(), 2);
}

#[test]
fn hook_failures() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Fake::new(
        dir.path(),
        "hook",
        "case \"$1\" in freeze) exit 2;; thaw) exit 3;; esac",
    );
    let mut freezer = hook_freezer(dir.path(), &hook.path);
    assert_eq!(
        freezer.freeze(),
        err("fsfreeze hook has failed with status 2")
    );
    assert!(!freezer.is_frozen());
    assert!(!dir.path().join(FROZEN_STATE_FILE).exists());
    assert_eq!(
        freezer.thaw(),
        err("fsfreeze hook has failed with status 3")
    );
    assert!(!freezer.is_frozen());

    let killed = Fake::new(dir.path(), "killed", "kill -9 $$");
    let mut freezer = hook_freezer(dir.path(), &killed.path);
    assert_eq!(
        freezer.freeze(),
        err("fsfreeze hook has terminated abnormally")
    );

    let plain = dir.path().join("plain-hook");
    fs::write(&plain, "#!/bin/sh\n").unwrap();
    let mut freezer = hook_freezer(dir.path(), &plain);
    assert_eq!(
        freezer.freeze(),
        Err(CommandError(format!(
            "can't access fsfreeze hook '{}': Permission denied",
            plain.display()
        )))
    );
}

// ---------------------------------------------------------------------------
// A loop-mounted ext4 image of the test's own

/// An ext4 image in a temp dir, loop-mounted on `mnt`. Dropping it thaws the
/// filesystem (whatever a failed test left), unmounts it and removes the lot.
struct LoopFs {
    dir: tempfile::TempDir,
    mnt: PathBuf,
    /// Its line of /proc/self/mountinfo.
    line: String,
}

/// Skips a test that needs the loop image (fails it under CI).
fn skip(reason: &str) -> Option<LoopFs> {
    if std::env::var_os("CI").is_some() {
        panic!("cannot run the loop-image test under CI: {reason}");
    }
    eprintln!("skipped: {reason}");
    None
}

fn run(program: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl LoopFs {
    fn new() -> Option<LoopFs> {
        if !rustix::process::geteuid().is_root() {
            return skip("mounting a loop image needs root");
        }
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let img = base.join("fs.img");
        let mnt = base.join("mnt");
        fs::create_dir(&mnt).unwrap();
        let steps = [
            (
                "truncate",
                vec!["-s".as_ref(), "64M".as_ref(), img.as_os_str()],
            ),
            (
                "mkfs.ext4",
                vec!["-q".as_ref(), "-F".as_ref(), img.as_os_str()],
            ),
            (
                "mount",
                vec![
                    "-o".as_ref(),
                    "loop".as_ref(),
                    img.as_os_str(),
                    mnt.as_os_str(),
                ],
            ),
        ];
        for (program, args) in &steps {
            if let Err(reason) = run(program, args) {
                return skip(&reason);
            }
        }
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let wanted = mnt.to_str().unwrap();
        let line = mountinfo
            .lines()
            .find(|l| l.split(' ').nth(4) == Some(wanted))
            .map(str::to_owned);
        let fs = LoopFs {
            dir,
            mnt,
            line: line.unwrap_or_default(),
        };
        assert!(
            fs.line.contains(" - ext4 "),
            "the image's mount is not in the mount table: {:?}",
            fs.line
        );
        Some(fs)
    }

    fn mountpoint(&self) -> String {
        self.mnt.to_str().unwrap().to_owned()
    }

    /// A mount table with these lines (the image's, and made-up ones).
    fn table(&self, lines: &[&str]) -> MountTable {
        let path = self.dir.path().join("mountinfo");
        let mut text = String::new();
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        fs::write(&path, text).unwrap();
        MountTable {
            mountinfo: path,
            mounts: self.dir.path().join("no-mounts"),
        }
    }

    /// A mount table line for a mount point that does not exist.
    fn missing_line(&self) -> (String, PathBuf) {
        let missing = self.dir.path().join("missing");
        (
            format!(
                "990 1 7:250 / {} rw - ext4 /dev/loop250 rw",
                missing.display()
            ),
            missing,
        )
    }

    fn freezer(&self, table: MountTable, hook: Option<PathBuf>) -> Freezer {
        let state_dir = self.dir.path().join("state");
        fs::create_dir_all(&state_dir).unwrap();
        Freezer::new(FreezerConfig {
            mount_table: table,
            state_dir,
            hook,
        })
    }

    /// Writes a file on the image and syncs it, in a thread; the receiver gets
    /// whether that worked once it is done.
    fn write_in_background(&self, name: &str) -> mpsc::Receiver<bool> {
        let path = self.mnt.join(name);
        let (done, result) = mpsc::channel();
        thread::spawn(move || {
            let written = fs::write(&path, b"written while frozen?")
                .and_then(|()| File::open(&path)?.sync_all())
                .is_ok();
            let _ = done.send(written);
        });
        result
    }
}

/// FITHAW until it fails: what LoopFs's drop does before unmounting.
fn thaw_directly(dir: &Path) -> usize {
    let fithaw = rustix::ioctl::opcode::read_write::<libc::c_int>(b'X', 120);
    let Ok(file) = File::open(dir) else {
        return 0;
    };
    let mut thawed = 0;
    // SAFETY: the descriptor is open; FITHAW reads no argument.
    while unsafe { libc::ioctl(file.as_raw_fd(), fithaw as libc::Ioctl, 0) } == 0 {
        thawed += 1;
    }
    thawed
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        thaw_directly(&self.mnt);
        for _ in 0..50 {
            if run("umount", &[self.mnt.as_os_str()]).is_ok() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        let _ = run("umount", &["-l".as_ref(), self.mnt.as_os_str()]);
    }
}

#[test]
fn freeze_list_holds_writers_until_thaw() {
    let Some(fs) = LoopFs::new() else { return };
    let hook = Fake::new(fs.dir.path(), "hook", "exit 0");
    let mut freezer = fs.freezer(fs.table(&[&fs.line]), Some(hook.path.clone()));
    let changes = Arc::new(Mutex::new(Vec::new()));
    let seen = changes.clone();
    freezer.set_observer(Box::new(move |frozen| seen.lock().unwrap().push(frozen)));

    assert_eq!(freezer.freeze_list(Some(&[fs.mountpoint()])), Ok(1));
    assert_eq!(freezer.status(), GuestFsfreezeStatus::Frozen);
    assert!(freezer.state_file().exists());
    assert_eq!(*changes.lock().unwrap(), [true]);
    assert_eq!(hook.calls(), ["[freeze]"]);

    let written = fs.write_in_background("held");
    assert_eq!(
        written.recv_timeout(Duration::from_millis(500)),
        Err(mpsc::RecvTimeoutError::Timeout),
        "a write went through while frozen"
    );

    assert_eq!(freezer.thaw(), Ok(1));
    assert_eq!(written.recv_timeout(Duration::from_secs(30)), Ok(true));
    assert_eq!(freezer.status(), GuestFsfreezeStatus::Thawed);
    assert!(!freezer.state_file().exists());
    assert_eq!(*changes.lock().unwrap(), [true, false]);
    assert_eq!(hook.calls(), ["[freeze]", "[thaw]"]);

    // Nothing is left to thaw.
    assert_eq!(freezer.thaw(), Ok(0));
    assert_eq!(thaw_directly(&fs.mnt), 0);
}

#[test]
fn freeze_list_ignores_paths_that_are_not_mount_points() {
    let Some(fs) = LoopFs::new() else { return };
    let mut freezer = fs.freezer(fs.table(&[&fs.line]), None);
    let list = [
        fs.dir.path().join("missing").display().to_string(),
        format!("{}/", fs.mountpoint()),
        fs.mnt.join(".").display().to_string(),
    ];
    assert_eq!(freezer.freeze_list(Some(&list)), Ok(0));
    assert_eq!(freezer.freeze_list(Some(&[])), Ok(0));
    assert_eq!(freezer.status(), GuestFsfreezeStatus::Thawed);
    assert!(!freezer.state_file().exists());
    assert_eq!(thaw_directly(&fs.mnt), 0);
}

#[test]
fn freeze_all_and_cleanup_at_exit() {
    let Some(fs) = LoopFs::new() else { return };
    // Listed twice (as when mounted twice): the second FIFREEZE is EBUSY, which
    // is skipped, not counted.
    let mut freezer = fs.freezer(fs.table(&[&fs.line, &fs.line]), None);
    assert_eq!(freezer.freeze(), Ok(1));
    assert!(freezer.is_frozen());
    // Refused while frozen.
    assert!(freezer.freeze().is_err());

    // An agent started again finds the state file and is frozen too.
    let again = Freezer::new(freezer.config().clone());
    assert_eq!(again.status(), GuestFsfreezeStatus::Frozen);

    let written = fs.write_in_background("held");
    assert!(written.recv_timeout(Duration::from_millis(300)).is_err());
    assert_eq!(freezer.cleanup(), Ok(()));
    assert_eq!(written.recv_timeout(Duration::from_secs(30)), Ok(true));
    assert_eq!(freezer.status(), GuestFsfreezeStatus::Thawed);
    assert!(!freezer.state_file().exists());
}

#[test]
fn a_failed_freeze_thaws_what_it_froze() {
    let Some(fs) = LoopFs::new() else { return };
    let hook = Fake::new(fs.dir.path(), "hook", "exit 0");
    let (missing_line, missing) = fs.missing_line();
    // Walked in reverse: the image is frozen first, then the missing mount point
    // fails.
    let mut freezer = fs.freezer(
        fs.table(&[&missing_line, &fs.line]),
        Some(hook.path.clone()),
    );
    assert_eq!(
        freezer.freeze(),
        Err(CommandError(format!(
            "failed to open {}: No such file or directory",
            missing.display()
        )))
    );
    assert_eq!(freezer.status(), GuestFsfreezeStatus::Thawed);
    assert!(!freezer.state_file().exists());
    assert_eq!(hook.calls(), ["[freeze]", "[thaw]"]);
    let written = fs.write_in_background("free");
    assert_eq!(written.recv_timeout(Duration::from_secs(30)), Ok(true));
    assert_eq!(thaw_directly(&fs.mnt), 0);
}

#[test]
fn fstrim_on_the_image() {
    let Some(fs) = LoopFs::new() else { return };
    let (missing_line, missing) = fs.missing_line();
    let table = fs.table(&[&missing_line, &fs.line]);
    let failed_open = GuestFilesystemTrimResult {
        path: missing.display().to_string(),
        trimmed: None,
        minimum: None,
        error: Some("failed to open: No such file or directory".into()),
    };

    let response = fstrim_in(&table, None).unwrap();
    assert_eq!(response.paths.len(), 2);
    let image = &response.paths[0];
    assert_eq!(image.path, fs.mountpoint());
    assert_eq!(image.error, None);
    assert!(image.trimmed.is_some_and(|t| t >= 0), "{image:?}");
    assert!(image.minimum.is_some_and(|m| m >= 0), "{image:?}");
    assert_eq!(response.paths[1], failed_open);

    let response = fstrim_in(&table, Some(65536)).unwrap();
    let image = &response.paths[0];
    assert_eq!(image.error, None, "{image:?}");
    assert!(image.minimum.is_some_and(|m| m >= 65536), "{image:?}");

    // More than a block group: ext4 refuses it.
    let response = fstrim_in(&table, Some(1 << 30)).unwrap();
    assert_eq!(
        response.paths[0].error.as_deref(),
        Some("failed to trim: Invalid argument")
    );
    assert_eq!(response.paths[0].trimmed, None);
}
