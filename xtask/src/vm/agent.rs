//! A tiny JSON-over-unix-socket client: the guest agent through its chardev socket
//! (with the 0xFF + guest-sync-delimited handshake), and QEMU's QMP monitor.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// An error response: `{"error": {"class": ..., "desc": ...}}`.
#[derive(Debug, Clone)]
pub struct AgentError {
    pub class: String,
    pub desc: String,
}

impl std::fmt::Display for AgentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.class, self.desc)
    }
}

/// A line-oriented JSON stream with deadlines.
struct Stream {
    sock: UnixStream,
    buf: Vec<u8>,
}

impl Stream {
    fn connect(path: &Path) -> std::io::Result<Stream> {
        Ok(Stream {
            sock: UnixStream::connect(path)?,
            buf: Vec::new(),
        })
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.sock.write_all(bytes).map_err(|e| format!("send: {e}"))
    }

    /// Reads more bytes before `deadline`; Ok(false) on timeout.
    fn fill(&mut self, deadline: Instant) -> Result<bool, String> {
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        let wait = (deadline - now).max(Duration::from_millis(1));
        self.sock
            .set_read_timeout(Some(wait))
            .map_err(|e| e.to_string())?;
        let mut chunk = [0u8; 65536];
        match self.sock.read(&mut chunk) {
            Ok(0) => Err("connection closed".to_string()),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(true),
            Err(e) => Err(format!("receive: {e}")),
        }
    }

    /// The next complete line, or None at the deadline.
    fn line(&mut self, deadline: Instant) -> Result<Option<Vec<u8>>, String> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                return Ok(Some(line));
            }
            if !self.fill(deadline)? {
                return Ok(None);
            }
        }
    }

    /// Discards input up to and including the next 0xFF byte; false at the deadline.
    fn skip_past_ff(&mut self, deadline: Instant) -> Result<bool, String> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == 0xFF) {
                self.buf.drain(..=pos);
                return Ok(true);
            }
            self.buf.clear();
            if !self.fill(deadline)? {
                return Ok(false);
            }
        }
    }
}

/// The guest agent, through QEMU's chardev socket.
pub struct Agent {
    stream: Stream,
    next_id: u64,
    /// `QGA_VM_TRACE=1`: print every request and response on stderr.
    trace: bool,
}

impl Agent {
    pub fn connect(path: &Path) -> std::io::Result<Agent> {
        let next_id = u64::from(std::process::id()) * 1000;
        Ok(Agent {
            stream: Stream::connect(path)?,
            next_id,
            trace: std::env::var_os("QGA_VM_TRACE").is_some_and(|v| !v.is_empty() && v != "0"),
        })
    }

    /// Sends 0xFF and guest-sync-delimited, then waits up to `wait` for the answer
    /// carrying this sync's id (answers to earlier syncs, and whatever preceded the
    /// 0xFF, are dropped). Ok(false) when nothing came in time.
    pub fn sync(&mut self, wait: Duration) -> Result<bool, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = vec![0xFF];
        msg.extend_from_slice(
            json!({"execute": "guest-sync-delimited", "arguments": {"id": id}})
                .to_string()
                .as_bytes(),
        );
        msg.push(b'\n');
        self.stream.send(&msg)?;
        let deadline = Instant::now() + wait;
        loop {
            if !self.stream.skip_past_ff(deadline)? {
                return Ok(false);
            }
            let Some(line) = self.stream.line(deadline)? else {
                return Ok(false);
            };
            if let Ok(v) = serde_json::from_slice::<Value>(&line) {
                if v.get("return").and_then(Value::as_u64) == Some(id) {
                    return Ok(true);
                }
            }
        }
    }

    /// Sends a command with a fresh `id` and returns its response (`return` value or
    /// error); responses with another id are skipped.
    pub fn call(
        &mut self,
        execute: &str,
        args: Option<Value>,
        timeout: Duration,
    ) -> Result<Result<Value, AgentError>, String> {
        let id = self.send(execute, args)?;
        let deadline = Instant::now() + timeout;
        loop {
            let line = self
                .stream
                .line(deadline)?
                .ok_or_else(|| format!("no response in {} s", timeout.as_secs()))?;
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_start_matches('\u{FFFD}').trim();
            if text.is_empty() {
                continue;
            }
            if self.trace {
                eprintln!("vm: <- {text}");
            }
            let v: Value = serde_json::from_str(text)
                .map_err(|e| format!("response is not JSON ({e}): {text}"))?;
            if v.get("id").and_then(Value::as_u64) != Some(id) {
                continue;
            }
            if let Some(ret) = v.get("return") {
                return Ok(Ok(ret.clone()));
            }
            if let Some(err) = v.get("error") {
                let field = |k: &str| err.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                return Ok(Err(AgentError {
                    class: field("class"),
                    desc: field("desc"),
                }));
            }
            return Err(format!("response has neither return nor error: {text}"));
        }
    }

    /// Sends a command and returns its id, without waiting (for the commands that
    /// answer nothing on success).
    pub fn send(&mut self, execute: &str, args: Option<Value>) -> Result<u64, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut req = json!({"execute": execute, "id": id});
        if let Some(args) = args {
            req["arguments"] = args;
        }
        if self.trace {
            eprintln!("vm: -> {req}");
        }
        let mut bytes = req.to_string().into_bytes();
        bytes.push(b'\n');
        self.stream.send(&bytes)?;
        Ok(id)
    }

    /// Whatever the agent writes within `wait` (complete lines), or nothing.
    pub fn pending(&mut self, wait: Duration) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + wait;
        let mut lines = Vec::new();
        while let Some(line) = self.stream.line(deadline)? {
            let text = String::from_utf8_lossy(&line).trim().to_string();
            if !text.is_empty() {
                lines.push(text);
            }
        }
        Ok(lines)
    }
}

/// QEMU's QMP monitor.
pub struct Qmp {
    stream: Stream,
}

impl Qmp {
    pub fn connect(path: &Path) -> Result<Qmp, String> {
        let stream = Stream::connect(path).map_err(|e| format!("QMP {}: {e}", path.display()))?;
        let mut qmp = Qmp { stream };
        let deadline = Instant::now() + Duration::from_secs(10);
        qmp.stream.line(deadline)?.ok_or("no QMP greeting")?;
        qmp.call("qmp_capabilities", None)?;
        Ok(qmp)
    }

    /// Runs a QMP command; events in between are skipped.
    pub fn call(&mut self, execute: &str, args: Option<Value>) -> Result<Value, String> {
        let mut req = json!({"execute": execute});
        if let Some(args) = args {
            req["arguments"] = args;
        }
        let mut bytes = req.to_string().into_bytes();
        bytes.push(b'\n');
        self.stream.send(&bytes)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let line = self
                .stream
                .line(deadline)?
                .ok_or_else(|| format!("QMP {execute}: no response"))?;
            let v: Value = serde_json::from_slice(&line).map_err(|e| format!("QMP: {e}"))?;
            if v.get("event").is_some() {
                continue;
            }
            if let Some(ret) = v.get("return") {
                return Ok(ret.clone());
            }
            return Err(format!("QMP {execute}: {v}"));
        }
    }
}

/// Standard base64 (the agent's buffers).
pub fn base64_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\n' | b'\r' => continue,
            _ => return Err(format!("invalid base64 character {:?}", char::from(c))),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}
