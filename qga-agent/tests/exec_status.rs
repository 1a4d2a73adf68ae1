//! guest-exec-status on the real agent: a status asked once the program has
//! exited, and its output has been written, says `exited: true`, with all of
//! the output, the first time it is asked.
//!
//! The test sees the exit itself, not through the agent: each program waits on
//! a FIFO of the test's before it writes and exits, so that the test can take a
//! pidfd on it while it surely runs, and then waits until that pidfd says it
//! has ended. No status is asked before that.

use std::ffi::CString;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use qga_types::GuestExecStatus;
use serde_json::{json, Value};

const AGENT: &str = env!("CARGO_BIN_EXE_qga-agent");

/// How long anything here may take before the test fails.
const LIMIT: Duration = Duration::from_secs(30);

/// Our agent on a unix socket in a temp dir; killed by its pid on drop.
struct Agent {
    child: Child,
    reader: BufReader<UnixStream>,
    stream: UnixStream,
    dir: tempfile::TempDir,
}

impl Agent {
    fn start() -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("qga.sock");
        let mut child = Command::new(AGENT)
            .args(["-m", "unix-listen", "-p"])
            .arg(&socket)
            .arg("-t")
            .arg(dir.path().join("state"))
            .env("QGA_CONF", dir.path().join("none.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + LIMIT;
        let stream = loop {
            match UnixStream::connect(&socket) {
                Ok(stream) => break stream,
                Err(e) => {
                    if Instant::now() > deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        panic!("the agent never listened: {e}");
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        };
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        Agent {
            child,
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
            dir,
        }
    }

    fn call(&mut self, name: &str, arguments: Value) -> Value {
        let request = json!({ "execute": name, "arguments": arguments });
        writeln!(self.stream, "{request}").unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    }

    /// A FIFO in the agent's directory, for a program to wait on.
    fn fifo(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        let c = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        path
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pidfd on `pid`, which must be running.
fn pidfd(pid: i64) -> OwnedFd {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    assert!(
        fd >= 0,
        "pidfd_open({pid}): {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a descriptor just returned, owned by nothing else.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Waits until the process of `pidfd` has exited (reaped by the agent or not).
fn wait_exit(pidfd: &OwnedFd) {
    let mut fds = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one initialised pollfd.
    let n = unsafe { libc::poll(&mut fds, 1, LIMIT.as_millis() as libc::c_int) };
    assert_eq!(n, 1, "the program did not end");
}

/// Lets the program waiting on `fifo` go: opens the FIFO for writing (which
/// waits for the program to open it) and closes it.
fn release(fifo: &Path) {
    drop(std::fs::OpenOptions::new().write(true).open(fifo).unwrap());
}

/// Runs `script` under sh (with the FIFO as `$0`), gated on the FIFO; waits
/// for its exit from outside the agent; then asks its status once. Returns the
/// pid and the status.
fn status_after_exit(
    agent: &mut Agent,
    fifo: &Path,
    script: &str,
    capture: bool,
) -> (i64, GuestExecStatus) {
    let gated = format!("cat \"$0\" >/dev/null; {script}");
    let started = agent.call(
        "guest-exec",
        json!({
            "path": "sh",
            "arg": ["-c", gated, fifo],
            "capture-output": capture,
        }),
    );
    let pid = started["return"]["pid"].as_i64().expect("a pid");
    let exit = pidfd(pid);
    release(fifo);
    wait_exit(&exit);
    let answer = agent.call("guest-exec-status", json!({ "pid": pid }));
    let status = serde_json::from_value(answer["return"].clone())
        .unwrap_or_else(|e| panic!("{answer}: {e}"));
    (pid, status)
}

#[test]
fn a_status_asked_after_the_exit_says_exited() {
    let mut agent = Agent::start();
    let fifo = agent.fifo("gate");
    let (pid, status) = status_after_exit(
        &mut agent,
        &fifo,
        "printf marker; printf oops >&2; exit 3",
        true,
    );
    assert_eq!(
        status,
        GuestExecStatus {
            exited: true,
            exitcode: Some(3),
            signal: None,
            out_data: Some(b"marker".to_vec()),
            err_data: Some(b"oops".to_vec()),
            out_truncated: Some(false),
            err_truncated: Some(false),
        }
    );
    // Reported once: the pid is forgotten.
    let again = agent.call("guest-exec-status", json!({ "pid": pid }));
    assert_eq!(again["error"]["desc"], "Invalid parameter 'pid'", "{again}");
}

#[test]
fn every_time_and_without_capture() {
    let mut agent = Agent::start();
    let fifo = agent.fifo("gate");
    for round in 0..100 {
        let capture = round % 2 == 0;
        let (_, status) = status_after_exit(&mut agent, &fifo, "exit 0", capture);
        assert!(status.exited, "round {round}: {status:?}");
        assert_eq!(status.exitcode, Some(0), "round {round}: {status:?}");
    }
}

#[test]
fn output_larger_than_a_pipe_is_all_there_at_the_first_status() {
    // The program can only exit once the agent has read most of it.
    let mut agent = Agent::start();
    let fifo = agent.fifo("gate");
    let (_, status) = status_after_exit(
        &mut agent,
        &fifo,
        "head -c 1048576 /dev/zero; head -c 300000 /dev/zero >&2",
        true,
    );
    assert!(status.exited);
    assert_eq!(status.exitcode, Some(0));
    assert_eq!(status.out_data.map(|d| d.len()), Some(1 << 20));
    assert_eq!(status.err_data.map(|d| d.len()), Some(300_000));
    assert_eq!(status.out_truncated, Some(false));
}
