//! One agent under test: a process serving a unix socket in its own temp dir.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use qga_client::{Address, Client, Options, Stream};

/// How long an agent is given to answer its first request.
const START_LIMIT: Duration = Duration::from_secs(10);

/// A call's timeout: a 48 MiB read through a slow agent takes seconds.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// The search path systemd gives a service, the agents' only variable besides their
/// config file's: they run as in a guest, not with the environment (and the long
/// PATH) of whoever runs the benchmark.
const SERVICE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// An agent binary and the name it is shown under.
#[derive(Debug, Clone)]
pub struct Flavor {
    pub name: &'static str,
    pub binary: PathBuf,
}

/// A running agent; killed (by its pid) and its directory removed on drop.
pub struct Agent {
    child: Child,
    socket: PathBuf,
    dir: tempfile::TempDir,
    conf: PathBuf,
}

impl Agent {
    /// Spawns `flavor` and returns without waiting for it.
    pub fn spawn(flavor: &Flavor) -> Result<Agent, String> {
        let dir = tempfile::Builder::new()
            .prefix("qga-bench-")
            .tempdir()
            .map_err(|e| format!("cannot create a temp dir: {e}"))?;
        let state = dir.path().join("state");
        std::fs::create_dir(&state).map_err(|e| format!("cannot create the state dir: {e}"))?;
        // An empty config file: neither agent may read the machine's own.
        let conf = dir.path().join("empty.conf");
        std::fs::write(&conf, "").map_err(|e| format!("cannot write the config file: {e}"))?;
        let socket = dir.path().join("qga.sock");
        let child = Command::new(&flavor.binary)
            .args(["-m", "unix-listen", "-p"])
            .arg(&socket)
            .arg("-t")
            .arg(&state)
            .arg("-f")
            .arg(dir.path().join("qga.pid"))
            .env_clear()
            .env("PATH", SERVICE_PATH)
            .env("QGA_CONF", &conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", flavor.binary.display()))?;
        Ok(Agent {
            child,
            socket,
            dir,
            conf,
        })
    }

    /// The agent's environment, which the programs it runs inherit.
    pub fn environment(&self) -> Vec<(String, String)> {
        vec![
            ("PATH".to_owned(), SERVICE_PATH.to_owned()),
            (
                "QGA_CONF".to_owned(),
                self.conf.to_string_lossy().into_owned(),
            ),
        ]
    }

    /// Spawns `flavor` and waits for its answer to a first `guest-ping`.
    pub fn start(flavor: &Flavor) -> Result<Agent, String> {
        let mut agent = Agent::spawn(flavor)?;
        agent
            .first_ping()
            .map_err(|e| format!("{}: {e}", flavor.name))?;
        Ok(agent)
    }

    /// Connects as soon as the agent listens (retrying every 100 µs), sends one
    /// `guest-ping` and reads its answer.
    pub fn first_ping(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let mut stream = loop {
            match UnixStream::connect(&self.socket) {
                Ok(stream) => break stream,
                Err(e) => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        return Err(format!("the agent exited ({status}) before listening"));
                    }
                    if started.elapsed() > START_LIMIT {
                        return Err(format!("the agent did not listen: {e}"));
                    }
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
        };
        stream
            .set_read_timeout(Some(START_LIMIT))
            .map_err(|e| e.to_string())?;
        stream
            .write_all(b"{\"execute\":\"guest-ping\"}\n")
            .map_err(|e| format!("cannot send the first ping: {e}"))?;
        let mut answer = Vec::new();
        let mut buf = [0u8; 256];
        while !answer.contains(&b'\n') {
            match stream.read(&mut buf) {
                Ok(0) => return Err("the agent closed the connection".into()),
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e) => return Err(format!("no answer to the first ping: {e}")),
            }
        }
        if !answer.windows(8).any(|w| w == b"\"return\"") {
            return Err(format!(
                "unexpected answer to the first ping: {}",
                String::from_utf8_lossy(&answer)
            ));
        }
        Ok(())
    }

    /// A client connected (and synchronised) to the agent.
    pub fn client(&self) -> Result<Client<Stream>, String> {
        let options = Options::default().with_timeout(CALL_TIMEOUT);
        Client::connect(&Address::Unix(self.socket.clone()), options).map_err(|e| e.to_string())
    }

    /// A raw connection to the agent's socket.
    pub fn raw(&self) -> Result<UnixStream, String> {
        let stream = UnixStream::connect(&self.socket).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(CALL_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(CALL_TIMEOUT)))
            .map_err(|e| e.to_string())?;
        Ok(stream)
    }

    /// The unix socket the agent listens on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The agent's private directory (files written by the benchmark go there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A `Vm*` field of `/proc/PID/status`, in bytes.
    pub fn memory(&self, field: &str) -> Result<u64, String> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|value| value.trim().strip_suffix("kB"))
            .and_then(|kb| kb.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| format!("no {field} in {path}"))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // Child::kill signals this child's pid (SIGKILL), nothing else.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
