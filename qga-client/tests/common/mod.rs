//! Fake agents for the tests: a [`Peer`] that a test scripts step by step, and
//! [`serve`], which answers requests through a handler function like an agent would.
//! Both read requests as a stream of JSON objects, reset on `0xFF` and, like QEMU's
//! agent, answer a `0xFF` with a parse-error line.
#![allow(dead_code)] // Each test file uses its own part of this module.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use qga_types::{Command, Empty};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What QEMU's agent writes when it reads a 0xFF byte.
pub const STRAY_FF: &[u8] = b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\uFFFD'\"}}\n";

/// The agent's side of a connection, driven by a test.
pub struct Peer {
    pub stream: UnixStream,
    buf: Vec<u8>,
    /// How many 0xFF bytes the client has sent.
    pub sentinels: usize,
    /// Whether to answer a 0xFF with QEMU's error line.
    pub complain_about_ff: bool,
}

impl Peer {
    pub fn new(stream: UnixStream) -> Peer {
        Peer {
            stream,
            buf: Vec::new(),
            sentinels: 0,
            complain_about_ff: true,
        }
    }

    /// The next request, or `None` when the client has closed the connection.
    pub fn next_request(&mut self) -> Option<Value> {
        loop {
            let limit = self
                .buf
                .iter()
                .position(|&b| b == 0xFF)
                .unwrap_or(self.buf.len());
            let (request, used) = parse_first(&self.buf[..limit]);
            if let Some(request) = request {
                self.buf.drain(..used);
                return Some(request);
            }
            if limit < self.buf.len() {
                // Like the agent: a 0xFF drops the partial input before it.
                self.buf.drain(..=limit);
                self.sentinels += 1;
                if self.complain_about_ff {
                    self.send(STRAY_FF);
                }
                continue;
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        // The client may be gone; the tests check what it saw.
        let _ = self.stream.write_all(bytes);
    }

    pub fn reply(&mut self, value: Value) {
        self.send(format!("{}\n", json!({ "return": value })).as_bytes());
    }

    pub fn error(&mut self, class: &str, desc: &str) {
        self.send(format!("{}\n", json!({ "error": { "class": class, "desc": desc } })).as_bytes());
    }

    /// Reads a request that must be `guest-sync-delimited`; returns its id.
    pub fn read_sync(&mut self) -> i64 {
        let request = self.next_request().expect("a sync request");
        assert_eq!(request["execute"], "guest-sync-delimited", "{request}");
        request["arguments"]["id"].as_i64().expect("an integer id")
    }

    /// Answers a sync as the agent does: 0xFF, then the response.
    pub fn answer_sync(&mut self, id: i64) {
        let mut bytes = vec![0xFF];
        bytes.extend_from_slice(format!("{}\n", json!({ "return": id })).as_bytes());
        self.send(&bytes);
    }

    /// Reads a sync request and answers it.
    pub fn sync(&mut self) -> i64 {
        let id = self.read_sync();
        self.answer_sync(id);
        id
    }

    /// Reads a request that must be `name`; returns its arguments.
    pub fn expect(&mut self, name: &str) -> Value {
        let request = self
            .next_request()
            .unwrap_or_else(|| panic!("no {name} request"));
        assert_eq!(request["execute"], name, "{request}");
        request.get("arguments").cloned().unwrap_or(Value::Null)
    }
}

/// The first complete JSON value in `bytes` and the bytes it used.
fn parse_first(bytes: &[u8]) -> (Option<Value>, usize) {
    let mut values = serde_json::Deserializer::from_slice(bytes).into_iter::<Value>();
    match values.next() {
        Some(Ok(value)) => (Some(value), values.byte_offset()),
        _ => (None, 0),
    }
}

/// A connected pair: the client's end, and a thread running `script` on the peer's end.
pub fn scripted(script: impl FnOnce(Peer) + Send + 'static) -> (UnixStream, JoinHandle<()>) {
    let (client, agent) = UnixStream::pair().unwrap();
    let thread = std::thread::spawn(move || script(Peer::new(agent)));
    (client, thread)
}

/// What a handler answers to a request.
pub enum Answer {
    Return(Value),
    Error(&'static str, String),
    /// Nothing at all (a command without a success response).
    Silent,
    /// These bytes, as they are.
    Raw(Vec<u8>),
}

/// Answers requests on `stream` until the client leaves: syncs itself, the rest through
/// `handler`.
pub fn serve(stream: UnixStream, handler: &mut dyn FnMut(&str, &Value) -> Answer) {
    let mut peer = Peer::new(stream);
    while let Some(request) = peer.next_request() {
        let name = request["execute"].as_str().unwrap_or_default().to_owned();
        let arguments = request.get("arguments").cloned().unwrap_or(json!({}));
        if name == "guest-sync-delimited" {
            peer.answer_sync(arguments["id"].as_i64().unwrap());
            continue;
        }
        match handler(&name, &arguments) {
            Answer::Return(value) => peer.reply(value),
            Answer::Error(class, desc) => peer.error(class, &desc),
            Answer::Silent => {}
            Answer::Raw(bytes) => peer.send(&bytes),
        }
    }
}

/// A fake agent listening on a unix socket at `path`, one thread per connection, all
/// sharing one [`FakeGuest`].
pub fn listen(path: &Path, guest: Arc<Mutex<FakeGuest>>) -> JoinHandle<()> {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let guest = guest.clone();
            std::thread::spawn(move || {
                serve(stream, &mut |name, arguments| {
                    guest.lock().unwrap().handle(name, arguments)
                });
            });
        }
    })
}

/// A guest in memory: files, programs with canned results, a host name, a freeze state.
#[derive(Default)]
pub struct FakeGuest {
    pub files: HashMap<String, Vec<u8>>,
    pub host_name: String,
    /// Open handles: path, position, writable.
    handles: HashMap<i64, (String, usize, bool)>,
    next_handle: i64,
    /// Program name → (exit code, stdout, stderr); the program sees its input here.
    pub programs: HashMap<String, (i64, Vec<u8>, Vec<u8>)>,
    pub exec_inputs: Vec<Vec<u8>>,
    pub exec_env: Vec<Vec<String>>,
    /// How many status polls a program needs before it has exited.
    pub exec_polls: usize,
    processes: HashMap<i64, (usize, String)>,
    /// Every command received, in order.
    pub log: Vec<String>,
    /// Every request received, in order: its command and its arguments (`{}` when it
    /// had none).
    pub requests: Vec<(String, Value)>,
    /// Fail the n-th guest-file-read (counting from 1), if set.
    pub fail_read: Option<usize>,
    reads: usize,
    pub frozen: bool,
    /// Each account's authorized SSH keys; an account missing here does not exist.
    pub ssh_keys: HashMap<String, Vec<String>>,
}

impl FakeGuest {
    pub fn new() -> FakeGuest {
        FakeGuest {
            host_name: "fake-guest".into(),
            next_handle: 1000,
            ..FakeGuest::default()
        }
    }

    pub fn handle(&mut self, name: &str, a: &Value) -> Answer {
        self.log.push(name.to_owned());
        self.requests.push((name.to_owned(), a.clone()));
        let generic = |desc: String| Answer::Error("GenericError", desc);
        match name {
            "guest-ping" => Answer::Return(json!({})),
            "guest-info" => Answer::Return(json!({"version": "fake", "supported_commands": [
                {"name": "guest-ping", "enabled": true, "success-response": true},
                {"name": "guest-shutdown", "enabled": true, "success-response": false},
                {"name": "guest-fstrim", "enabled": false, "success-response": true}]})),
            "guest-get-host-name" => Answer::Return(json!({ "host-name": self.host_name })),
            "guest-file-open" => {
                let path = a["path"].as_str().unwrap().to_owned();
                let mode = a["mode"].as_str().unwrap_or("r");
                let writable = mode.starts_with('w');
                if writable {
                    self.files.insert(path.clone(), Vec::new());
                } else if !self.files.contains_key(&path) {
                    return generic(format!(
                        "failed to open file '{path}' (mode: '{mode}'): No such file or directory"
                    ));
                }
                self.next_handle += 1;
                self.handles.insert(self.next_handle, (path, 0, writable));
                Answer::Return(json!(self.next_handle))
            }
            "guest-file-read" => {
                self.reads += 1;
                if self.fail_read == Some(self.reads) {
                    return generic("Input/output error".into());
                }
                let handle = a["handle"].as_i64().unwrap();
                let count = a["count"].as_u64().unwrap_or(4096) as usize;
                let Some((path, position, _)) = self.handles.get_mut(&handle) else {
                    return generic(format!("handle '{handle}' has not been found"));
                };
                let data = &self.files[path.as_str()];
                let end = (*position + count).min(data.len());
                let chunk = data[*position..end].to_vec();
                *position = end;
                let eof = end == data.len() && chunk.len() < count;
                Answer::Return(
                    json!({"count": chunk.len(), "buf-b64": qga_types::base64::encode(&chunk), "eof": eof}),
                )
            }
            "guest-file-write" => {
                let handle = a["handle"].as_i64().unwrap();
                let data = qga_types::base64::decode(a["buf-b64"].as_str().unwrap()).unwrap();
                let Some((path, _, true)) = self.handles.get(&handle) else {
                    return generic(format!("handle '{handle}' has not been found"));
                };
                self.files
                    .get_mut(path.as_str())
                    .unwrap()
                    .extend_from_slice(&data);
                Answer::Return(json!({"count": data.len(), "eof": false}))
            }
            "guest-file-seek" => {
                let handle = a["handle"].as_i64().unwrap();
                let Some((path, position, _)) = self.handles.get_mut(&handle) else {
                    return generic(format!("handle '{handle}' has not been found"));
                };
                let size = self.files[path.as_str()].len() as i64;
                let base = match &a["whence"] {
                    w if w == 0 || w == "set" => 0,
                    w if w == 1 || w == "cur" => *position as i64,
                    _ => size,
                };
                *position = (base + a["offset"].as_i64().unwrap()) as usize;
                Answer::Return(json!({"position": *position, "eof": false}))
            }
            "guest-file-close" => match self.handles.remove(&a["handle"].as_i64().unwrap()) {
                Some(_) => Answer::Return(json!({})),
                None => generic(format!("handle '{}' has not been found", a["handle"])),
            },
            "guest-exec" => {
                let path = a["path"].as_str().unwrap().to_owned();
                if !self.programs.contains_key(&path) {
                    return generic(format!("Guest agent command failed, error was 'Failed to execute child process “{path}” (No such file or directory)'"));
                }
                let input = a["input-data"]
                    .as_str()
                    .map(|t| qga_types::base64::decode(t).unwrap())
                    .unwrap_or_default();
                self.exec_inputs.push(input);
                let env = a["env"]
                    .as_array()
                    .map(|e| e.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
                    .unwrap_or_default();
                self.exec_env.push(env);
                let pid = 4000 + self.processes.len() as i64;
                self.processes.insert(pid, (self.exec_polls, path));
                Answer::Return(json!({ "pid": pid }))
            }
            "guest-exec-status" => {
                let pid = a["pid"].as_i64().unwrap();
                let Some((polls, path)) = self.processes.get_mut(&pid) else {
                    return generic("Invalid parameter 'pid'".into());
                };
                if *polls > 0 {
                    *polls -= 1;
                    return Answer::Return(json!({"exited": false}));
                }
                let (code, out, err) = self.programs[path.as_str()].clone();
                self.processes.remove(&pid);
                Answer::Return(json!({"exited": true, "exitcode": code,
                    "out-data": qga_types::base64::encode(&out), "err-data": qga_types::base64::encode(&err)}))
            }
            "guest-fsfreeze-status" => {
                Answer::Return(json!(if self.frozen { "frozen" } else { "thawed" }))
            }
            "guest-fsfreeze-freeze" | "guest-fsfreeze-freeze-list" => {
                self.frozen = true;
                Answer::Return(json!(2))
            }
            "guest-fsfreeze-thaw" => {
                let thawed = if self.frozen { 2 } else { 0 };
                self.frozen = false;
                Answer::Return(json!(thawed))
            }
            "guest-file-flush" => match self.handles.get(&a["handle"].as_i64().unwrap()) {
                Some(_) => Answer::Return(json!({})),
                None => generic(format!("handle '{}' has not been found", a["handle"])),
            },
            "guest-get-time" => Answer::Return(json!(1_700_000_000_123_456_789_i64)),
            "guest-set-time" => Answer::Return(json!({})),
            "guest-get-timezone" => Answer::Return(json!({"zone": "CET", "offset": 3600})),
            "guest-get-osinfo" => Answer::Return(json!({
                "id": "debian", "name": "Debian GNU/Linux",
                "pretty-name": "Debian GNU/Linux 12 (bookworm)", "version-id": "12",
                "kernel-release": "6.1.0-13-amd64", "machine": "x86_64",
                // A member the schema does not have: shown all the same.
                "x-extra": "yes"})),
            "guest-get-users" => Answer::Return(json!([
                {"user": "root", "login-time": 1_700_000_000.5},
                {"user": "bob", "domain": "CORP", "login-time": 0.0}])),
            "guest-network-get-interfaces" => Answer::Return(json!([
                {"name": "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": [
                    {"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8}],
                 "statistics": {"rx-bytes": 10, "rx-packets": 1, "rx-errs": 0, "rx-dropped": 0,
                    "tx-bytes": 20, "tx-packets": 2, "tx-errs": 0, "tx-dropped": 0}},
                {"name": "eth0"}])),
            "guest-get-vcpus" => Answer::Return(json!([
                {"logical-id": 1, "online": false, "can-offline": true},
                {"logical-id": 0, "online": true, "can-offline": false}])),
            "guest-get-fsinfo" => Answer::Return(json!([
                {"name": "vda1", "mountpoint": "/", "type": "ext4",
                 "used-bytes": 1_073_741_824_u64, "total-bytes": 4_294_967_296_u64,
                 "disk": [{"dev": "/dev/vda1", "bus-type": "virtio", "bus": 0, "target": 0,
                    "unit": 0, "pci-controller":
                        {"domain": 0, "bus": 0, "slot": 4, "function": 0}}]}])),
            "guest-get-memory-blocks" => Answer::Return(json!([
                {"phys-index": 2, "online": true, "can-offline": false},
                {"phys-index": 1, "online": false}])),
            "guest-get-memory-block-info" => Answer::Return(json!({"size": 134_217_728})),
            "guest-fstrim" => Answer::Return(json!({"paths": [
                {"path": "/", "trimmed": 1_048_576, "minimum": 0},
                {"path": "/boot", "error": "Operation not supported"}]})),
            "guest-get-disks" => Answer::Return(json!([
                {"name": "/dev/vda", "partition": false, "dependencies": [],
                 "address": {"bus-type": "virtio", "bus": 0, "target": 0, "unit": 0,
                    "dev": "/dev/vda", "serial": "SN1",
                    "pci-controller": {"domain": 0, "bus": 0, "slot": 4, "function": 0}}},
                {"name": "/dev/vda1", "partition": true, "dependencies": ["/dev/vda"]},
                {"name": "/dev/dm-0", "partition": false, "alias": "vg0-root",
                 "dependencies": ["/dev/vda1", "/dev/vdb"]},
                {"name": "/dev/nvme0n1", "partition": false,
                 "address": {"bus-type": "nvme", "bus": 0, "target": 0, "unit": 0,
                    "pci-controller": {"domain": -1, "bus": -1, "slot": -1, "function": -1}},
                 "smart": {"type": "nvme", "critical-warning": 0, "temperature": 310,
                    "percentage-used": 3, "available-spare": 100}}])),
            "guest-get-diskstats" => Answer::Return(json!([
                {"name": "vda", "major": 254, "minor": 0, "stats": {
                    "read-sectors": 2048, "read-ios": 10, "read-merges": 1,
                    "write-sectors": 4_194_304, "write-ios": 20, "write-merges": 2,
                    "discard-sectors": 0, "discard-ios": 0, "flush-ios": 5, "ios-pgr": 1,
                    "total-ticks": 100}},
                // An old kernel's counters: no discards, no flushes.
                {"name": "vdb", "major": 254, "minor": 16, "stats": {
                    "read-sectors": 1, "read-ios": 1, "write-ios": 0}}])),
            "guest-get-cpustats" => Answer::Return(json!([
                {"type": "linux", "cpu": 1, "user": 300, "nice": 0, "system": 100, "idle": 600},
                {"type": "linux", "cpu": 0, "user": 6000, "nice": 100, "system": 1000,
                 "idle": 2500, "iowait": 200, "irq": 0, "softirq": 100, "steal": 100,
                 "guest": 0, "guestnice": 0}])),
            "guest-get-load" => {
                Answer::Return(json!({"load1m": 0.5, "load5m": 1.25, "load15m": 2.0}))
            }
            "guest-network-get-route" => Answer::Return(json!([
                {"iface": "eth0", "destination": "0.0.0.0", "gateway": "192.0.2.1",
                 "mask": "0.0.0.0", "metric": 0, "irtt": 0, "flags": 3, "refcnt": 0,
                 "use": 0, "window": 0, "mtu": 0, "version": 4},
                {"iface": "eth0", "destination": "192.0.2.0", "gateway": "0.0.0.0",
                 "mask": "255.255.255.0", "metric": 100, "flags": 1, "version": 4},
                {"iface": "eth0", "destination": "fd00::", "desprefixlen": "64",
                 "source": "::", "srcprefixlen": "0", "nexthop": "::", "metric": 256,
                 "flags": 1, "refcnt": 1, "use": 0, "version": 6}])),
            "guest-ssh-get-authorized-keys"
            | "guest-ssh-add-authorized-keys"
            | "guest-ssh-remove-authorized-keys" => {
                let user = a["username"].as_str().unwrap_or_default();
                let Some(keys) = self.ssh_keys.get_mut(user) else {
                    return generic(format!("failed to lookup user '{user}': no such user"));
                };
                let given: Vec<String> = a["keys"]
                    .as_array()
                    .map(|k| k.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
                    .unwrap_or_default();
                match name {
                    "guest-ssh-add-authorized-keys" => {
                        if a["reset"] == true {
                            keys.clear();
                        }
                        for key in given {
                            if !keys.contains(&key) {
                                keys.push(key);
                            }
                        }
                    }
                    "guest-ssh-remove-authorized-keys" => keys.retain(|k| !given.contains(k)),
                    _ => return Answer::Return(json!({ "keys": keys })),
                }
                Answer::Return(json!({}))
            }
            "guest-shutdown"
            | "guest-suspend-ram"
            | "guest-suspend-disk"
            | "guest-suspend-hybrid" => Answer::Silent,
            _ => Answer::Error(
                "CommandNotFound",
                format!("The command {name} has not been found"),
            ),
        }
    }
}

/// Test descriptors, standing in for the generated ones.
pub mod commands {
    use super::*;

    pub struct GuestPing;
    impl Command for GuestPing {
        const NAME: &'static str = "guest-ping";
        const SUCCESS_RESPONSE: bool = true;
        type Arguments = Empty;
        type Returns = Empty;
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct GuestHostName {
        #[serde(rename = "host-name")]
        pub host_name: String,
    }

    pub struct GuestGetHostName;
    impl Command for GuestGetHostName {
        const NAME: &'static str = "guest-get-host-name";
        const SUCCESS_RESPONSE: bool = true;
        type Arguments = Empty;
        type Returns = GuestHostName;
    }

    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    pub struct GuestShutdownArguments {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mode: Option<String>,
    }

    pub struct GuestShutdown;
    impl Command for GuestShutdown {
        const NAME: &'static str = "guest-shutdown";
        const SUCCESS_RESPONSE: bool = false;
        type Arguments = GuestShutdownArguments;
        type Returns = Empty;
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct GuestSyncArguments {
        pub id: i64,
    }

    pub struct GuestSync;
    impl Command for GuestSync {
        const NAME: &'static str = "guest-sync";
        const SUCCESS_RESPONSE: bool = true;
        type Arguments = GuestSyncArguments;
        type Returns = i64;
    }
}

/// Options with short waits, so that timeout tests are quick.
pub fn quick_options() -> qga_client::Options {
    qga_client::Options {
        timeout: Duration::from_millis(300),
        sync_timeout: Duration::from_millis(300),
        sync_attempts: 2,
        no_response_wait: Duration::from_millis(100),
        ..qga_client::Options::default()
    }
}

/// A peer that checks a whole-file read keeps one `guest-file-read` ahead: the second
/// read must arrive before the first is answered, and each answer is followed by the
/// next read. The file is `abcdef` in chunks of 4 (`abcd`, then `ef` with `eof`, then
/// the read past the end). A second copy then fails on its first chunk: the read sent
/// ahead of it stays unanswered by the client, whose next call (the close) must first
/// resynchronise rather than take that answer for its own.
pub fn pipelined_reads(mut peer: Peer) {
    peer.sync();
    let read = |peer: &mut Peer| {
        let arguments = peer.expect("guest-file-read");
        assert_eq!(arguments, json!({"handle": 7, "count": 4}));
    };
    assert_eq!(peer.expect("guest-file-open")["path"], "/f");
    peer.reply(json!(7));
    read(&mut peer);
    read(&mut peer);
    peer.reply(json!({"count": 4, "buf-b64": "YWJjZA==", "eof": false}));
    read(&mut peer);
    peer.reply(json!({"count": 2, "buf-b64": "ZWY=", "eof": true}));
    peer.reply(json!({"count": 0, "buf-b64": "", "eof": true}));
    peer.expect("guest-file-close");
    peer.reply(json!({}));

    peer.expect("guest-file-open");
    peer.reply(json!(7));
    read(&mut peer);
    read(&mut peer);
    peer.error("GenericError", "Input/output error");
    peer.reply(json!({"count": 4, "buf-b64": "YWJjZA==", "eof": false}));
    // The close comes after a resynchronisation, which skips that stale answer.
    peer.sync();
    peer.expect("guest-file-close");
    peer.reply(json!({}));
    assert!(peer.next_request().is_none(), "the client is done");
}
