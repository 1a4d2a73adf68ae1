//! The daemon as a whole: the real binary's command line and `-D` (compared
//! byte for byte with qemu-ga's when it is installed), its unix-listen
//! channel, the state file, `-d` with its pid file, signals, and the
//! descriptors it leaves to children.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const AGENT: &str = env!("CARGO_BIN_EXE_qga-agent");

/// QEMU's agent, when installed. Under CI a missing one is a failure.
fn qemu_ga() -> Option<PathBuf> {
    let path =
        PathBuf::from(std::env::var_os("QEMU_GA").unwrap_or_else(|| "/usr/sbin/qemu-ga".into()));
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "qemu-ga is not installed ({}), and CI=true",
        path.display()
    );
    eprintln!("skipped: qemu-ga is not installed");
    None
}

/// Runs `binary` with `args`, the config file `conf`, no stdin.
fn run(binary: &Path, conf: &Path, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .env("QGA_CONF", conf)
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDS")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn dump_conf_is_byte_for_byte_qemu_gas() {
    let Some(qemu) = qemu_ga() else { return };
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("qemu-ga.conf");
    // Never let either agent touch the default pid file: QEMU's removes it
    // after `-D -d`.
    let pid = dir.path().join("pid");
    let pid = pid.to_str().unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("", &["-D"]),
        (
            "[general]\nblock-rpcs=guest-ping;guest-info\nverbose=true\ndaemon=false\n\
             method=unix-listen\npath=/tmp/x.sock\nlogfile=/tmp/log\npidfile=/tmp/pid\n\
             statedir=/tmp\nfsfreeze-hook=/etc/hook\nretry-path=true\n",
            &["-D"],
        ),
        (
            "[general]\nblock-rpcs=guest-ping;guest-info\n",
            &["-D", "-b", "guest-exec,guest-sync", "-m", "isa-serial"],
        ),
        (
            "[general]\nblock-rpcs=a,b\n",
            &["-D", "-b", "a", "-b", "b,c", "--block-rpcs=d"],
        ),
        ("", &["-D", "-F"]),
        ("", &["-D", "-F/x/hook"]),
        ("", &["-D", "--fsfreeze-hook", "/x"]),
        ("", &["-D", "--fsfreeze-hook="]),
        ("", &["-D", "-m", "unix-listen"]),
        ("", &["-D", "-m", "vsock-listen", "-p", "3:1234"]),
        ("", &["-D", "-m", "foo", "-p", "x"]),
        ("", &["-D", "-vdr", "-f", pid]),
        ("", &["-D", "-p", " lead\\x\ttab\n x", "-l", "\\ x"]),
        ("", &["-D", "--meth=unix-listen", "--pa", "/s", "--dump"]),
        ("", &["-D", "-b", ""]),
        ("", &["-D", "-b", "a,,b,"]),
        ("", &["-D", "--", "-v"]),
        ("", &["-D", "x", "-v", "-", "y"]),
        ("[general]\nmethod = unix-listen  \npath=/a\n", &["-D"]),
        ("[general]\nmethod=unix-listen\n", &["-D"]),
        ("[general]\npath=\\s\\s x\\t\\n\\r\\\\\n", &["-D"]),
        ("[general]\nverbose=1\ndaemon=true \n", &["-D", "-f", pid]),
        ("[general]\nverbose=0\nretry-path=1\n", &["-D"]),
        ("[general]\nverbose=yes\n", &["-D"]),
        ("[general]\nverbose=\n", &["-D"]),
        ("path=/x\n[general]\n", &["-D"]),
        ("[general]\nbogus line\n", &["-D"]),
        ("[]\n", &["-D"]),
        ("[general]\nblacklist=a\nblock-rpcs=b\n", &["-D"]),
        (
            "[other]\npath=/o\n[general]\npath=/g\n[general]\nlogfile=/l\npath=/g2\n",
            &["-D"],
        ),
        (
            "  # comment\n\n[general]  \n\tpath\t=\t/t \r\npath[de]=/de\nk ey=v\n",
            &["-D"],
        ),
        ("[general]\npath=a\\qb\n", &["-D"]),
        (
            "[general]\nstatedir=\npidfile=\nlogfile=\nfsfreeze-hook=\n",
            &["-D"],
        ),
        (
            "[general]\npath=/cli\n",
            &["-D", "-p", "/cli2", "-t", "/st", "-l", "/lg"],
        ),
        ("", &["-D", "--p=x"]),
        ("", &["-D", "--verbose=1"]),
        ("", &["-D", "-l"]),
        ("", &["-D", "-x"]),
        ("", &["-D", "-h"]),
        ("", &["-D", "-V"]),
    ];
    for (config, args) in cases {
        std::fs::write(&conf, config).unwrap();
        let theirs = run(&qemu, &conf, args);
        let ours = run(Path::new(AGENT), &conf, args);
        let what = format!("config {config:?}, arguments {args:?}");
        assert_eq!(ours.status.success(), theirs.status.success(), "{what}");
        if theirs.status.success() && !args.contains(&"-h") && !args.contains(&"-V") {
            assert_eq!(text(&ours.stdout), text(&theirs.stdout), "{what}");
        }
    }
    // The extension: an allow list is dumped after the block list.
    std::fs::write(&conf, "[general]\nallow-rpcs=guest-ping,guest-info\n").unwrap();
    let ours = run(Path::new(AGENT), &conf, &["-D", "-a", "guest-sync"]);
    assert!(
        text(&ours.stdout).ends_with("block-rpcs=\nallow-rpcs=guest-info,guest-ping,guest-sync\n")
    );
}

#[test]
fn command_list_help_version_and_usage_errors() {
    let conf = Path::new("/nonexistent/qemu-ga.conf");
    let names: String = qga_dispatch::COMMANDS
        .iter()
        .map(|c| format!("{}\n", c.name))
        .collect();
    for args in [
        &["-b", "help"][..],
        &["-a", "?"],
        &["-b", "a", "--block-rpcs=help", "-x"],
    ] {
        let out = run(Path::new(AGENT), conf, args);
        assert!(out.status.success(), "{args:?}");
        assert_eq!(text(&out.stdout), names, "{args:?}");
    }

    let help = run(Path::new(AGENT), conf, &["-D", "--help"]);
    assert!(help.status.success());
    assert!(text(&help.stdout).starts_with(&format!("Usage: {AGENT} [-m <method> -p <path>]")));
    let version = run(Path::new(AGENT), conf, &["-V"]);
    assert!(text(&version.stdout).starts_with("QEMU Guest Agent "));

    for (args, message) in [
        (&["-x"][..], "invalid option -- 'x'"),
        (&["--bogus=1"], "unrecognized option '--bogus=1'"),
        (&["-l"], "option requires an argument -- 'l'"),
        (
            &["--p=x"],
            "option '--p=x' is ambiguous; possibilities: '--pidfile' '--path'",
        ),
    ] {
        let out = run(Path::new(AGENT), conf, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("{AGENT}: {message}\n")),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!(
                "Unknown option, try '{AGENT} --help' for more information."
            )),
            "{stderr}"
        );
    }
    let out = run(Path::new(AGENT), conf, &["-m", "unix-listen"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("must specify a path for this channel"));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.conf");
    std::fs::write(&bad, "[general]\nverbose=yes\n").unwrap();
    let out = run(Path::new(AGENT), &bad, &["-D"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(&format!(
        "error loading configuration from path: {}, ",
        bad.display()
    )));
}

/// `-c`/`--config` (QEMU 9.1): the file it names is read instead of QGA_CONF's,
/// wherever the option is on the line, and must exist.
#[test]
fn config_option_names_the_file_which_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let env_conf = dir.path().join("env.conf");
    std::fs::write(&env_conf, "[general]\nmethod=isa-serial\n").unwrap();
    let named = dir.path().join("named.conf");
    std::fs::write(&named, "[general]\nmethod=unix-listen\npath=/named.sock\n").unwrap();
    let named_arg = named.to_str().unwrap();
    for args in [
        &["-D", "-c", named_arg][..],
        &["-c", named_arg, "-D"],
        &["-Dc", named_arg],
        &["-D", &format!("--config={named_arg}")],
    ] {
        let out = run(Path::new(AGENT), &env_conf, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let dump = text(&out.stdout);
        assert!(
            dump.contains("method=unix-listen\npath=/named.sock\n"),
            "{args:?}: {dump}"
        );
    }
    // Without -c, QGA_CONF's file.
    let out = run(Path::new(AGENT), &env_conf, &["-D"]);
    assert!(text(&out.stdout).contains("method=isa-serial\n"));
    // A missing file named by -c is an error, even before -h would act; a
    // missing QGA_CONF file is none.
    let missing = dir.path().join("missing.conf");
    let missing_arg = missing.to_str().unwrap();
    for args in [&["-D", "-c", missing_arg][..], &["-h", "-c", missing_arg]] {
        let out = run(Path::new(AGENT), &env_conf, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains(&format!(
                "error loading configuration from path: {missing_arg}, No such file or directory"
            )),
            "{}",
            text(&out.stderr)
        );
    }
    assert!(run(Path::new(AGENT), &missing, &["-D"]).status.success());
}

/// `--blacklist` (7.2's old name of `--block-rpcs`, gone in 9.1) still works,
/// with a warning; so does the config key of that name.
#[test]
fn blacklist_still_works_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("qga.conf");
    std::fs::write(&conf, "").unwrap();
    let out = run(Path::new(AGENT), &conf, &["-D", "--blacklist=guest-ping"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("block-rpcs=guest-ping\n"));
    assert!(text(&out.stderr).contains("warning: option '--blacklist' is deprecated"));
    std::fs::write(&conf, "[general]\nblacklist=guest-info\n").unwrap();
    let out = run(Path::new(AGENT), &conf, &["-D"]);
    assert!(text(&out.stdout).contains("block-rpcs=guest-info\n"));
    assert!(
        text(&out.stderr).contains("'blacklist'"),
        "{}",
        text(&out.stderr)
    );
}

/// Our agent on a unix socket in a temp dir, in the foreground.
struct Agent {
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
    socket: PathBuf,
}

impl Agent {
    fn start(extra: &[&str]) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        Agent::start_in(dir, extra)
    }

    fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Agent {
        let socket = dir.path().join("qga.sock");
        let child = Command::new(AGENT)
            .args(["-m", "unix-listen", "-p"])
            .arg(&socket)
            .arg("-t")
            .arg(dir.path().join("state"))
            .args(extra)
            .env("QGA_CONF", dir.path().join("none.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let agent = Agent {
            child: Some(child),
            dir: Some(dir),
            socket,
        };
        agent.wait_for_socket();
        agent
    }

    fn wait_for_socket(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&self.socket).is_err() {
            assert!(Instant::now() < deadline, "the agent never listened");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().unwrap().path()
    }

    /// Stops it (SIGKILL) and hands over its directory.
    fn into_dir(mut self) -> tempfile::TempDir {
        self.kill();
        self.dir.take().unwrap()
    }

    fn connect(&self) -> Client {
        let stream = UnixStream::connect(&self.socket).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        }
    }

    fn alive(&mut self) -> bool {
        self.child.as_mut().unwrap().try_wait().unwrap().is_none()
    }

    /// SIGTERM, and how long the agent took to exit, with its status.
    fn terminate(&mut self) -> (std::process::ExitStatus, Duration) {
        let mut child = self.child.take().unwrap();
        signal(child.id() as i32, libc::SIGTERM);
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (status, start.elapsed());
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the agent ignored SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Ends it without its shutdown (no thaw at exit).
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signal(pid: i32, signal: libc::c_int) {
    // SAFETY: kill(2) on a process this test started.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

struct Client {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Client {
    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn recv(&mut self) -> Value {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    fn call(&mut self, request: &Value) -> Value {
        self.send(request.to_string().as_bytes());
        self.recv()
    }
}

#[test]
fn clients_one_after_another_and_the_faults_qemu_ga_has() {
    let mut agent = Agent::start(&[]);
    let ping = json!({"execute": "guest-ping"});
    assert_eq!(agent.connect().call(&ping), json!({"return": {}}));

    // Clients that leave with their answers unread (qemu-ga exits on this).
    for _ in 0..5 {
        let mut rude = agent.connect();
        for _ in 0..200 {
            rude.send(br#"{"execute": "guest-info"}"#);
        }
    }
    // A client that dies halfway through a request (qemu-ga hands the rest
    // of it to the next client).
    agent.connect().send(br#"{"execute": "guest-sync", "argu"#);
    std::thread::sleep(Duration::from_millis(100));
    assert!(agent.alive());
    let mut next = agent.connect();
    assert_eq!(next.call(&ping), json!({"return": {}}));
    assert_eq!(
        next.call(&json!({"execute": "guest-sync", "arguments": {"id": 7}})),
        json!({"return": 7})
    );
    drop(next);

    // A second agent on the same live socket refuses to start.
    let out = Command::new(AGENT)
        .args(["-m", "unix-listen", "-p"])
        .arg(&agent.socket)
        .arg("-t")
        .arg(agent.dir().join("state2"))
        .env("QGA_CONF", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("another process is listening on it"));
    assert_eq!(agent.connect().call(&ping), json!({"return": {}}));

    let (status, took) = agent.terminate();
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(!agent.socket.exists(), "the socket file is removed");
}

fn open_file(agent: &Agent) -> Value {
    let path = agent.dir().join("file");
    std::fs::write(&path, "x").unwrap();
    agent
        .connect()
        .call(&json!({"execute": "guest-file-open", "arguments": {"path": path}}))
}

#[test]
fn file_handles_never_repeat_across_restarts() {
    let mut agent = Agent::start(&[]);
    assert_eq!(open_file(&agent), json!({"return": 1000}));
    assert_eq!(open_file(&agent), json!({"return": 1001}));
    let state = agent.dir().join("state/qga.state");
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        "[global]\nfd_counter=1002\n"
    );
    assert!(agent.terminate().0.success());
    let agent = Agent::start_in(agent.into_dir(), &[]);
    assert_eq!(open_file(&agent), json!({"return": 1002}));
    drop(agent);

    // A state file qemu-ga wrote.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("state")).unwrap();
    std::fs::write(
        dir.path().join("state/qga.state"),
        "[global]\nfd_counter=5000\n",
    )
    .unwrap();
    let agent = Agent::start_in(dir, &[]);
    assert_eq!(open_file(&agent), json!({"return": 5000}));
}

#[test]
fn a_frozen_marker_at_start_up_means_frozen() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("state")).unwrap();
    std::fs::write(dir.path().join("state/qga.state.isfrozen"), "").unwrap();
    let log = dir.path().join("agent.log");
    let log_arg = log.to_str().unwrap().to_owned();
    let mut agent = Agent::start_in(dir, &["-v", "-l", &log_arg]);
    let mut c = agent.connect();
    assert_eq!(
        c.call(&json!({"execute": "guest-fsfreeze-status"})),
        json!({"return": "frozen"})
    );
    let refused = c.call(&json!({"execute": "guest-get-host-name"}));
    assert_eq!(refused["error"]["class"], "CommandNotFound", "{refused}");
    // The log file waits for the thaw: a write could hang on a frozen filesystem.
    assert!(!log.exists());
    // No SIGTERM: the agent would thaw this machine's filesystems at exit.
    agent.kill();
}

#[test]
fn without_a_device_the_agent_fails_or_retries_with_r() {
    let dir = tempfile::tempdir().unwrap();
    let device = dir.path().join("no-such-port");
    let args = |retry: bool| {
        let mut command = Command::new(AGENT);
        command
            .args(["-m", "virtio-serial", "-p"])
            .arg(&device)
            .arg("-t")
            .arg(dir.path().join("state"))
            .env("QGA_CONF", "/nonexistent")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if retry {
            command.arg("-r").stderr(Stdio::null());
        }
        command
    };
    let out = args(false).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(&format!(
        "error opening channel '{}': No such file or directory",
        device.display()
    )));

    let mut child = args(true).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "-r keeps trying");
    signal(child.id() as i32, libc::SIGTERM);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "SIGTERM ends the retry wait"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(status.success());
}

/// Makes this test process the reaper of the daemons its children leave.
fn become_subreaper() {
    // SAFETY: prctl with integer arguments.
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) },
        0
    );
}

/// Waits for a daemon (reparented to this process) to exit.
fn wait_daemon(pid: i32, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: waitpid on a child of this process (a subreaper).
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The fds of `pid` (above the standard streams) without `O_CLOEXEC`.
fn inheritable_fds(pid: i32) -> Vec<(String, String)> {
    let mut leaks = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fdinfo")).unwrap() {
        let entry = entry.unwrap();
        let fd = entry.file_name().to_string_lossy().into_owned();
        if fd.parse::<i32>().unwrap() <= 2 {
            continue;
        }
        let Ok(info) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
            .unwrap();
        if flags & libc::O_CLOEXEC as u32 == 0 {
            let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            leaks.push((fd, target));
        }
    }
    leaks
}

#[test]
fn daemon_pidfile_lock_descriptors_and_sigterm() {
    become_subreaper();
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("agent.pid");
    let socket = dir.path().join("qga.sock");
    let log = dir.path().join("agent.log");
    let daemon = |socket: &Path| {
        Command::new(AGENT)
            .args(["-d", "-m", "unix-listen", "-p"])
            .arg(socket)
            .arg("-t")
            .arg(dir.path().join("state"))
            .arg("-f")
            .arg(&pidfile)
            .arg("-l")
            .arg(&log)
            .env("QGA_CONF", "/nonexistent")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // The parent exits 0 once the daemon is up.
    let out = daemon(&socket);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(qga_agent::daemon::pidfile::is_locked(&pidfile).unwrap());
    let mut client = UnixStream::connect(&socket).unwrap();
    client.write_all(br#"{"execute": "guest-ping"}"#).unwrap();
    let mut answer = String::new();
    BufReader::new(client.try_clone().unwrap())
        .read_line(&mut answer)
        .unwrap();
    assert_eq!(answer, "{\"return\": {}}\n");

    // Every descriptor it has, the client connection included, is
    // close-on-exec; SIGPIPE is ignored; it is a session leader in /.
    assert_eq!(inheritable_fds(pid), []);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let ignored = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .map(|m| u64::from_str_radix(m.trim(), 16).unwrap())
        .unwrap();
    assert_ne!(ignored & (1 << (libc::SIGPIPE - 1)), 0);
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        Path::new("/")
    );
    // SAFETY: getsid on a pid.
    assert_eq!(unsafe { libc::getsid(pid) }, pid);

    // A second daemon with the same pid file refuses, and says why.
    let second = daemon(&dir.path().join("other.sock"));
    assert_eq!(second.status.code(), Some(1));
    assert!(
        text(&second.stderr).contains("Cannot lock pid file"),
        "{}",
        text(&second.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap(),
        format!("{pid}\n")
    );

    drop(client);
    let start = Instant::now();
    signal(pid, libc::SIGTERM);
    assert_eq!(wait_daemon(pid, Duration::from_secs(5)), Some(0));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(!pidfile.exists(), "the pid file is removed");
    assert!(!socket.exists(), "the socket file is removed");
}

/// QEMU 10.0: `-d` detaches only once the channel is open, so a channel that
/// cannot be opened is a failed start the caller sees (qemu-ga 7.2's parent
/// has exited 0 by then); with `-r` (QEMU 10.2) it is retried instead, in the
/// background.
#[test]
fn daemon_detaches_only_once_the_channel_is_open() {
    become_subreaper();
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("agent.pid");
    let socket = dir.path().join("missing-dir/qga.sock");
    let daemon = |retry: bool| {
        let mut command = Command::new(AGENT);
        command
            .args(["-d", "-m", "unix-listen", "-p"])
            .arg(&socket)
            .arg("-t")
            .arg(dir.path().join("state"))
            .arg("-f")
            .arg(&pidfile)
            .env("QGA_CONF", "/nonexistent")
            .stdin(Stdio::null());
        if retry {
            command.arg("-r");
        }
        command.output().unwrap()
    };
    let out = daemon(false);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Failed to bind socket"),
        "{}",
        text(&out.stderr)
    );
    assert!(!pidfile.exists(), "no daemon is left behind");

    // With -r it detaches, retries, and serves once the channel can be opened.
    let out = daemon(true);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::fs::create_dir(socket.parent().unwrap()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut client = loop {
        if let Ok(client) = UnixStream::connect(&socket) {
            break client;
        }
        assert!(Instant::now() < deadline, "the channel was never retried");
        std::thread::sleep(Duration::from_millis(100));
    };
    client.write_all(br#"{"execute": "guest-ping"}"#).unwrap();
    let mut answer = String::new();
    BufReader::new(client.try_clone().unwrap())
        .read_line(&mut answer)
        .unwrap();
    assert_eq!(answer, "{\"return\": {}}\n");
    drop(client);
    signal(pid, libc::SIGTERM);
    assert_eq!(wait_daemon(pid, Duration::from_secs(5)), Some(0));
}

#[test]
fn vsock_listen_binds_or_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let run_with = |address: &str| {
        Command::new(AGENT)
            .args(["-m", "vsock-listen", "-p", address, "-t"])
            .arg(dir.path().join("state"))
            .env("QGA_CONF", "/nonexistent")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    for (address, error) in [
        ("bad", "error parsing address 'bad'"),
        ("1:x", "Failed to parse port 'x'"),
    ] {
        let out = run_with(address).wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{address}");
        assert!(text(&out.stderr).contains(error), "{}", text(&out.stderr));
    }

    // Any CID, a port of our own: listening needs only the vsock family.
    let port = 20000 + std::process::id() % 20000;
    let mut child = run_with(&format!("4294967295:{port}"));
    std::thread::sleep(Duration::from_millis(300));
    if let Some(status) = child.try_wait().unwrap() {
        let out = child.wait_with_output().unwrap();
        let stderr = text(&out.stderr);
        assert!(
            !status.success() && stderr.contains("Failed to listen on vsock address"),
            "{stderr}"
        );
        eprintln!("skipped: no vsock here: {stderr}");
        return;
    }
    signal(child.id() as i32, libc::SIGTERM);
    assert!(child.wait().unwrap().success());
}

/// Runs the agent as systemd would with one socket: `listener` as
/// descriptor 3, `LISTEN_PID` and `LISTEN_FDS` set.
fn activated(listener: &std::os::unix::net::UnixListener, args: &[&str]) -> Command {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let fd = listener.as_raw_fd();
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\"")
        .arg(AGENT)
        .args(args)
        .env("QGA_CONF", "/nonexistent")
        .stdin(Stdio::null());
    // SAFETY: only dup2/fcntl, async-signal-safe, between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let r = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}

#[test]
fn socket_activation_takes_the_inherited_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("activated.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();

    let dump = activated(&listener, &["-D", "-m", "vsock-listen"])
        .output()
        .unwrap();
    assert!(dump.status.success(), "{}", text(&dump.stderr));
    let dump = text(&dump.stdout);
    assert!(
        dump.contains("\nmethod=unix-listen\n") && !dump.contains("\npath="),
        "{dump}"
    );

    let state = dir.path().join("state");
    let mut child = activated(&listener, &["-t", state.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(listener);
    let stream = UnixStream::connect(&path).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut client = Client {
        reader: BufReader::new(stream.try_clone().unwrap()),
        stream,
    };
    assert_eq!(
        client.call(&json!({"execute": "guest-ping"})),
        json!({"return": {}})
    );
    drop(client);
    signal(child.id() as i32, libc::SIGTERM);
    assert!(child.wait().unwrap().success());
    assert!(
        path.exists(),
        "a socket the agent did not create is left alone"
    );
}
