//! A private libvirtd for one libvirt run, so that the machine's own libvirt state is
//! never touched: a child of ours in its own mount namespace, where folders of the
//! run's temporary folder are bind-mounted over `/etc/libvirt`, `/var/lib/libvirt`,
//! `/var/cache/libvirt`, `/var/log/libvirt` and `/run/libvirt`, and copies of
//! `/etc/passwd` and `/etc/group` that add the `libvirt-qemu` user libvirt 9.0
//! insists on. Only the QEMU driver is loaded (`LIBVIRT_DRIVER_DIR` names a folder
//! holding it alone: no network or firewall driver starts), and the host's system bus
//! and systemd folders are hidden from it (an empty folder over `/run/dbus` and
//! `/run/systemd`), so that it registers nothing with systemd-machined or a firewall
//! on a machine that runs them. Its socket is in the run's
//! folder; it is stopped by its PID, and any QEMU it left running (QEMU daemonizes
//! away from libvirtd) is killed by its pid file. [`Libvirtd`] does all of that when
//! dropped, whatever happened before.
//!
//! The bind mounts need mount points, which a machine without libvirt-daemon-system
//! lacks: those are made empty and removed again at the end. A lock file in the temp
//! folder serializes runs (they would share the mount points) and lists the ones made
//! until they are removed, so that a run killed outright has them removed by the next.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::UNAVAILABLE;

/// The daemon's folders: (name inside the run's `libvirt/` folder, where it is
/// mounted in the daemon's namespace).
const PRIVATE_DIRS: &[(&str, &str)] = &[
    ("etc", "/etc/libvirt"),
    ("lib", "/var/lib/libvirt"),
    ("cache", "/var/cache/libvirt"),
    ("log", "/var/log/libvirt"),
    ("run", "/run/libvirt"),
];

/// Host folders the daemon must not see: through them it would reach the system bus
/// (systemd-machined, firewalld) and systemd. Each, if present, gets an empty folder
/// mounted over it.
const HIDDEN_DIRS: &[&str] = &["/run/dbus", "/run/systemd"];

/// What the QEMU driver is told in the private `/etc/libvirt/qemu.conf`: QEMU runs as
/// root with no security driver, cgroups or namespaces of its own (none of which a
/// test machine's container has), and writes its output to a plain file (no virtlogd).
const QEMU_CONF: &str = r#"# The private libvirtd of `cargo xtask vm --libvirt`.
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
"#;

/// Where the QEMU driver module may be (multiarch Debian first).
const DRIVER_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver",
    "/usr/lib64/libvirt/connection-driver",
    "/usr/lib/libvirt/connection-driver",
];
const QEMU_DRIVER: &str = "libvirt_driver_qemu.so";

/// How long libvirtd may take to answer on its socket.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long libvirtd may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The running daemon. Dropping it stops it and cleans up after it.
pub struct Libvirtd {
    child: Option<Child>,
    /// The libvirtd binary.
    pub program: PathBuf,
    /// The run's `libvirt/` folder.
    pub dir: PathBuf,
    /// The daemon's read-write socket.
    pub socket: PathBuf,
    /// Mount points this run had to create on the host (removed again at the end).
    created: Vec<PathBuf>,
    /// The QEMU binary the domain runs: a pid is killed only if it is this program.
    qemu: PathBuf,
    /// The daemon's own output.
    pub log: PathBuf,
    /// Held (flock) from before the mount points are made until after they are
    /// removed: two runs at once would share them, and the first to finish would
    /// remove the second's. It also lists the mount points made, until they are
    /// removed: a run that was killed outright leaves them listed, and the next run
    /// removes them.
    lock: fs::File,
}

/// The lock file serializing libvirt runs on this machine.
const LOCK_NAME: &str = "qga-xtask-vm-libvirt.lock";

/// The mount points a run that was killed outright made and listed in the lock file
/// (only ever the folders of [`PRIVATE_DIRS`]).
fn left_by_a_killed_run(lock: &fs::File) -> Vec<PathBuf> {
    use std::io::Read;
    let mut text = String::new();
    let _ = (&*lock).read_to_string(&mut text);
    text.lines()
        .filter(|l| PRIVATE_DIRS.iter().any(|(_, target)| target == l))
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .collect()
}

/// Replaces the lock file's list of mount points made by this run.
fn list_created(lock: &fs::File, created: &[PathBuf]) {
    use std::io::{Seek, Write};
    let text: String = created
        .iter()
        .map(|p| format!("{}\n", p.display()))
        .collect();
    let mut file = lock;
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(text.as_bytes()));
}

/// Takes the machine-wide lock of libvirt runs, waiting for another run to finish.
fn lock_runs() -> Result<fs::File, String> {
    use std::os::fd::AsRawFd;
    let path = std::env::temp_dir().join(LOCK_NAME);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        eprintln!(
            "libvirt: another libvirt run holds {}; waiting",
            path.display()
        );
        // SAFETY: as above.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(format!(
                "{}: {}",
                path.display(),
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(file)
}

/// What a libvirt run needs on this machine: root (for the mount namespace),
/// `virsh`, `libvirtd` and the QEMU driver. The error starts with [`UNAVAILABLE`].
pub fn check_prerequisites() -> Result<(PathBuf, PathBuf), String> {
    let missing = |what: &str| {
        format!(
            "{UNAVAILABLE}: {what} (install libvirt-daemon-driver-qemu libvirt-daemon \
             libvirt-clients with --no-install-recommends)"
        )
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(format!(
            "{UNAVAILABLE}: the libvirt run needs root (a mount namespace for its libvirtd)"
        ));
    }
    if !super::have_program("virsh") {
        return Err(missing("no virsh"));
    }
    let libvirtd = ["/usr/sbin/libvirtd", "/usr/bin/libvirtd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| missing("no libvirtd"))?;
    let driver = DRIVER_DIRS
        .iter()
        .map(|d| Path::new(d).join(QEMU_DRIVER))
        .find(|p| p.is_file())
        .ok_or_else(|| missing("no libvirt QEMU driver"))?;
    Ok((libvirtd, driver))
}

impl Libvirtd {
    /// Sets up the private folders in `work/libvirt` and starts libvirtd there; returns
    /// once it answers on its socket. `qemu` is the QEMU binary domains will run.
    pub fn start(work: &Path, qemu: &Path) -> Result<Libvirtd, String> {
        let (libvirtd, driver) = check_prerequisites()?;
        let dir = work.join("libvirt");
        let mut daemon = Libvirtd {
            child: None,
            program: libvirtd.clone(),
            socket: dir.join("sock/libvirt-sock"),
            log: dir.join("libvirtd.log"),
            dir,
            created: Vec::new(),
            qemu: qemu.to_path_buf(),
            lock: lock_runs()?,
        };
        daemon.created = left_by_a_killed_run(&daemon.lock);
        // From here on, a failure drops `daemon`, which undoes what was done.
        daemon.spawn(&libvirtd, &driver)?;
        daemon.wait_ready()?;
        Ok(daemon)
    }

    fn spawn(&mut self, libvirtd: &Path, driver: &Path) -> Result<(), String> {
        let dir = self.dir.clone();
        for sub in [
            "etc", "lib", "cache", "log", "run", "sock", "drivers", "home", "empty",
        ] {
            mkdir(&dir.join(sub))?;
        }
        write(&dir.join("etc/qemu.conf"), QEMU_CONF)?;
        let conf = dir.join("etc/libvirtd.conf");
        write(
            &conf,
            &format!(
                "# The private libvirtd of `cargo xtask vm --libvirt`.\n\
                 unix_sock_dir = \"{}\"\n\
                 unix_sock_rw_perms = \"0700\"\n\
                 unix_sock_ro_perms = \"0700\"\n\
                 unix_sock_admin_perms = \"0700\"\n\
                 auth_unix_rw = \"none\"\n\
                 auth_unix_ro = \"none\"\n\
                 log_outputs = \"3:stderr\"\n",
                dir.join("sock").display()
            ),
        )?;
        std::os::unix::fs::symlink(driver, dir.join("drivers").join(QEMU_DRIVER))
            .map_err(|e| format!("{}: {e}", dir.join("drivers").display()))?;
        let (passwd, group) = with_libvirt_qemu_user(
            &fs::read_to_string("/etc/passwd").map_err(|e| format!("/etc/passwd: {e}"))?,
            &fs::read_to_string("/etc/group").map_err(|e| format!("/etc/group: {e}"))?,
        );
        write(&dir.join("passwd"), &passwd)?;
        write(&dir.join("group"), &group)?;

        let mut binds = Vec::new();
        for (name, target) in PRIVATE_DIRS {
            let target = Path::new(target);
            if !target.exists() {
                // A bind mount needs a mount point; the host does not have this one
                // (libvirt-daemon-system would make it). Made empty, removed at the end.
                fs::create_dir(target).map_err(|e| {
                    format!("cannot create the mount point {}: {e}", target.display())
                })?;
                self.created.push(target.to_path_buf());
                list_created(&self.lock, &self.created);
            }
            binds.push((dir.join(name), target.to_path_buf()));
        }
        for hidden in HIDDEN_DIRS {
            if Path::new(hidden).is_dir() {
                binds.push((dir.join("empty"), PathBuf::from(hidden)));
            }
        }
        binds.push((dir.join("passwd"), PathBuf::from("/etc/passwd")));
        binds.push((dir.join("group"), PathBuf::from("/etc/group")));
        let binds: Vec<(CString, CString)> = binds
            .iter()
            .map(|(from, to)| Ok((cstring(from)?, cstring(to)?)))
            .collect::<Result<_, String>>()?;

        let out =
            fs::File::create(&self.log).map_err(|e| format!("{}: {e}", self.log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(libvirtd);
        cmd.arg("-f")
            .arg(&conf)
            // Not the default /run/libvirtd.pid, which is outside the private folders.
            .arg("-p")
            .arg(dir.join("libvirtd.pid"))
            // Not cargo's environment (its LD_LIBRARY_PATH would reach QEMU too).
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LIBVIRT_DRIVER_DIR", dir.join("drivers"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        // SAFETY: the closure runs in the forked child before exec and makes only
        // async-signal-safe system calls on memory prepared before the fork.
        unsafe {
            cmd.pre_exec(move || enter_private_namespace(&binds));
        }
        let child = cmd.spawn().map_err(|e| {
            // EPERM from unshare or mount: this machine (a container without
            // CAP_SYS_ADMIN) cannot give libvirtd a namespace of its own.
            let cannot = if e.raw_os_error() == Some(libc::EPERM) {
                format!("{UNAVAILABLE}: ")
            } else {
                String::new()
            };
            format!(
                "{cannot}cannot start {} in a mount namespace of its own: {e}",
                libvirtd.display()
            )
        })?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until `virsh list` answers through the socket.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let uri = format!("qemu+unix:///system?socket={}", self.socket.display());
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!(
                    "libvirtd exited ({status}):\n{}",
                    super::tail(&fs::read_to_string(&self.log).unwrap_or_default(), 10)
                ));
            }
            if self.socket.exists() {
                let out = Command::new("virsh")
                    .args(["-c", &uri, "list", "--all"])
                    .env("HOME", self.dir.join("home"))
                    .stdin(Stdio::null())
                    .output();
                if out.is_ok_and(|o| o.status.success()) {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "libvirtd did not answer on {} in {} s",
                    self.socket.display(),
                    START_TIMEOUT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The file the domain's emulator wrapper appends its PID to.
    pub fn qemu_pid_list(&self) -> PathBuf {
        self.dir.join("qemu-pids")
    }

    /// libvirt's pid file of a running domain (inside the private `/run/libvirt`).
    pub fn domain_pid_file(&self, domain: &str) -> PathBuf {
        self.dir.join("run/qemu").join(format!("{domain}.pid"))
    }

    /// The daemon's log (its stderr), last lines, without the errors the waits for
    /// the agent cause by design ("agent is not connected" while the guest boots).
    pub fn log_tail(&self, lines: usize) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let kept: Vec<&str> = log
            .lines()
            .filter(|l| !l.contains("guest agent is not connected"))
            .collect();
        super::tail(&kept.join("\n"), lines)
    }

    /// Stops libvirtd by its PID (SIGTERM, then SIGKILL), kills any QEMU left running,
    /// and removes the mount points it had to create. Safe to call twice.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id() as libc::pid_t;
            // SAFETY: signalling our own child, which has not been reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            let deadline = Instant::now() + STOP_TIMEOUT;
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        eprintln!("libvirt: libvirtd (pid {pid}) ignored SIGTERM; killing it");
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        self.kill_leftover_qemu();
        for dir in self.created.drain(..).rev() {
            // Only if still empty: never remove what something else put there.
            if let Err(e) = fs::remove_dir(&dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    eprintln!(
                        "libvirt: could not remove the mount point {}: {e}",
                        dir.display()
                    );
                }
            }
        }
        list_created(&self.lock, &[]);
    }

    /// Kills, by the PIDs in the wrapper's list and libvirt's pid files, every process
    /// that is still our QEMU binary, and waits for it to go.
    fn kill_leftover_qemu(&self) {
        let mut pids: Vec<libc::pid_t> = fs::read_to_string(self.qemu_pid_list())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if let Ok(entries) = fs::read_dir(self.dir.join("run/qemu")) {
            for entry in entries.filter_map(Result::ok) {
                if entry.path().extension().is_some_and(|e| e == "pid") {
                    if let Ok(text) = fs::read_to_string(entry.path()) {
                        pids.extend(text.trim().parse::<libc::pid_t>().ok());
                    }
                }
            }
        }
        pids.sort_unstable();
        pids.dedup();
        for pid in pids {
            if !self.is_our_qemu(pid) {
                continue;
            }
            eprintln!("libvirt: killing leftover QEMU (pid {pid})");
            // SAFETY: a plain kill(2) of a process just checked to be our QEMU.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.is_our_qemu(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Whether `pid` runs our QEMU binary (so a recycled PID is left alone). A zombie
    /// has no executable any more: it does not count.
    fn is_our_qemu(&self, pid: libc::pid_t) -> bool {
        pid > 0
            && fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| {
                exe == self.qemu || fs::canonicalize(&self.qemu).is_ok_and(|q| q == exe)
            })
    }
}

impl Drop for Libvirtd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// In the forked child: PR_SET_PDEATHSIG (libvirtd dies with us even if we are
/// killed outright), a new mount namespace whose mounts do not propagate back, and the
/// bind mounts. Only system calls: this runs between fork and exec.
fn enter_private_namespace(binds: &[(CString, CString)]) -> std::io::Result<()> {
    let check = |rc: libc::c_int| {
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    // SAFETY: plain system calls with valid NUL-terminated strings or null pointers.
    unsafe {
        check(libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
        ))?;
        check(libc::unshare(libc::CLONE_NEWNS))?;
        check(libc::mount(
            c"none".as_ptr(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ))?;
        for (from, to) in binds {
            check(libc::mount(
                from.as_ptr(),
                to.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            ))?;
        }
    }
    Ok(())
}

/// The host's passwd and group with a `libvirt-qemu` user and group added (with an
/// id neither uses), unless they have them already.
fn with_libvirt_qemu_user(passwd: &str, group: &str) -> (String, String) {
    let has = |text: &str, name: &str| text.lines().any(|l| l.split(':').next() == Some(name));
    let ids = |text: &str, field: usize| -> Vec<u32> {
        text.lines()
            .filter_map(|l| l.split(':').nth(field)?.parse().ok())
            .collect()
    };
    let (uids, gids) = (ids(passwd, 2), ids(group, 2));
    // Debian's libvirt-qemu is 64055; otherwise the first id free in both files.
    let id = (64055..u32::MAX)
        .find(|id| !uids.contains(id) && !gids.contains(id))
        .unwrap_or(64055);
    let mut passwd = passwd.to_string();
    let mut group = group.to_string();
    for text in [&mut passwd, &mut group] {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
    }
    if !has(&passwd, "libvirt-qemu") {
        passwd.push_str(&format!(
            "libvirt-qemu:x:{id}:{id}:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin\n"
        ));
    }
    if !has(&group, "libvirt-qemu") {
        group.push_str(&format!("libvirt-qemu:x:{id}:\n"));
    }
    (passwd, group)
}

fn cstring(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{}: NUL in path", path.display()))
}

fn mkdir(path: &Path) -> Result<(), String> {
    fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_libvirt_qemu_once() {
        let (p, g) = with_libvirt_qemu_user(
            "root:x:0:0:root:/root:/bin/bash\nx:x:64055:64055::/:/bin/sh",
            "root:x:0:\n",
        );
        // 64055 is taken: the next free id, in both files.
        assert!(p.ends_with(
            "\nlibvirt-qemu:x:64056:64056:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin\n"
        ));
        assert!(g.ends_with("root:x:0:\nlibvirt-qemu:x:64056:\n"));
        let (p2, g2) = with_libvirt_qemu_user(&p, &g);
        assert_eq!((p2, g2), (p, g));
    }
}
