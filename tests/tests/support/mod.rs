//! Running the real agent binaries (ours, and QEMU's for differential tests) on a
//! unix socket in a temp dir, and talking to them byte for byte.

#![allow(dead_code)] // each test file uses part of this module

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The workspace's target directory for this profile.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/PROFILE/deps")
        .to_owned()
}

/// Our binaries, built once per test run (a no-op when cargo already built them).
pub fn ours(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "qga-agent", "-p", "qga-client"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building qga-agent and qga failed");
    });
    bin_dir().join(name)
}

/// QEMU's agent, if installed; under CI its absence is a failure.
pub fn qemu_ga() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/sbin/qemu-ga");
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("qemu-ga is not installed (apt-get install qemu-guest-agent); CI requires the differential peer");
    }
    eprintln!("skipping: qemu-ga is not installed");
    None
}

/// An agent process serving a unix socket in its own temp dir; killed on drop.
pub struct Agent {
    pub child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
}

impl Agent {
    /// Starts `binary` with `-m unix-listen` and a private state dir and pidfile.
    pub fn start(binary: &Path, extra: &[&str]) -> Agent {
        Self::start_with_env(binary, extra, &[])
    }

    pub fn start_with_env(binary: &Path, extra: &[&str], env: &[(&str, &str)]) -> Agent {
        Self::spawn(binary, extra, env, false)
    }

    /// As `start_with_env`, with the temp dir as the agent's working directory
    /// (relative paths in requests land there, as in QEMU's own agent tests).
    pub fn start_in_dir(binary: &Path, extra: &[&str], env: &[(&str, &str)]) -> Agent {
        Self::spawn(binary, extra, env, true)
    }

    fn spawn(binary: &Path, extra: &[&str], env: &[(&str, &str)], in_dir: bool) -> Agent {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::create_dir(dir.path().join("state")).expect("state dir");
        let socket = dir.path().join("qga.sock");
        // An empty config file: neither agent may read the machine's own.
        let conf = dir.path().join("empty.conf");
        std::fs::write(&conf, "").expect("config file");
        let mut command = Command::new(binary);
        command
            .args(["-m", "unix-listen", "-p"])
            .arg(&socket)
            .arg("-t")
            .arg(dir.path().join("state"))
            .arg("-f")
            .arg(dir.path().join("qga.pid"))
            .args(extra)
            .env("QGA_CONF", &conf)
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            command.env(k, v);
        }
        if in_dir {
            command.current_dir(dir.path());
        }
        let child = command.spawn().expect("the agent starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "{} did not listen on its socket",
                binary.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Agent {
            child: Some(child),
            dir,
            socket,
        }
    }

    pub fn connect(&self) -> Conn {
        Conn::new(UnixStream::connect(&self.socket).expect("connect"))
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().expect("try_wait").is_none())
    }

    /// SIGTERM; returns the exit status, or None if it did not exit within `limit`.
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A raw connection: bytes out, newline-terminated JSON responses in.
pub struct Conn {
    pub reader: BufReader<UnixStream>,
    pub writer: UnixStream,
}

impl Conn {
    pub fn new(stream: UnixStream) -> Conn {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        Conn {
            writer: stream.try_clone().expect("clone"),
            reader: BufReader::new(stream),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
    }

    /// The next response line, without a leading 0xFF.
    pub fn recv(&mut self) -> Value {
        let mut line = Vec::new();
        self.reader
            .read_until(b'\n', &mut line)
            .expect("a response");
        let start = usize::from(line.first() == Some(&0xFF));
        serde_json::from_slice(&line[start..])
            .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&line)))
    }

    /// Sends one request and reads its response.
    pub fn call(&mut self, request: &Value) -> Value {
        self.send(request.to_string().as_bytes());
        self.recv()
    }

    /// Whether nothing arrives within `wait`.
    pub fn silent_for(&mut self, wait: Duration) -> bool {
        self.reader
            .get_ref()
            .set_read_timeout(Some(wait))
            .expect("timeout");
        let mut byte = [0u8; 1];
        let silent = match self.reader.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        };
        self.reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        silent
    }
}
