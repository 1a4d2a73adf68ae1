//! `virsh` against the private libvirtd of a libvirt run: one domain's commands, and
//! the guest agent through `virsh qemu-agent-command` (which is how the checks set up
//! and inspect the guest, so that every request goes through libvirt's agent channel).

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::agent::{base64_decode, base64_encode};

/// How long a guest-exec'd helper may run.
const EXEC_TIMEOUT: Duration = Duration::from_secs(30);

/// One domain of the private libvirtd.
#[derive(Clone)]
pub struct Virsh {
    /// `qemu+unix:///system?socket=...`: the private daemon's socket.
    pub uri: String,
    pub domain: String,
    /// `QGA_VM_TRACE=1`: print every virsh command line and its output on stderr.
    trace: bool,
    /// Where virsh keeps its history and cache (`$HOME`), inside the run's folder.
    home: PathBuf,
}

/// The outcome of one `virsh` run that did run: its exit status, stdout and stderr.
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Virsh {
    pub fn new(socket: &std::path::Path, domain: &str, home: PathBuf) -> Virsh {
        Virsh {
            uri: format!("qemu+unix:///system?socket={}", socket.display()),
            domain: domain.to_string(),
            trace: std::env::var_os("QGA_VM_TRACE").is_some_and(|v| !v.is_empty() && v != "0"),
            home,
        }
    }

    /// Runs `virsh -c URI ARGS`, whatever its exit status.
    pub fn output<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<Output, String> {
        let shown: Vec<String> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        let out = Command::new("virsh")
            .arg("-c")
            .arg(&self.uri)
            .args(args)
            .env("HOME", &self.home)
            .env_remove("LIBVIRT_DEFAULT_URI")
            .env_remove("VIRSH_DEFAULT_CONNECT_URI")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run virsh: {e}"))?;
        let out = Output {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        };
        if self.trace {
            eprintln!(
                "libvirt: virsh {} -> {}\n{}{}",
                shown.join(" "),
                if out.success { "ok" } else { "failed" },
                out.stdout,
                out.stderr
            );
        }
        Ok(out)
    }

    /// Runs `virsh ARGS`; its stdout, or an error quoting the command and its stderr.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<String, String> {
        let out = self.output(args)?;
        if out.success {
            Ok(out.stdout)
        } else {
            let shown: Vec<String> = args
                .iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .collect();
            Err(format!("virsh {} failed: {}", shown.join(" "), out.stderr))
        }
    }

    /// `virsh COMMAND DOMAIN ARGS...`.
    pub fn dom(&self, command: &str, args: &[&str]) -> Result<String, String> {
        let mut all = vec![command, self.domain.as_str()];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// `virsh COMMAND DOMAIN ARGS...`, whatever its exit status.
    pub fn dom_output(&self, command: &str, args: &[&str]) -> Result<Output, String> {
        let mut all = vec![command, self.domain.as_str()];
        all.extend_from_slice(args);
        self.output(&all)
    }

    /// `virsh domstate DOMAIN`: `running`, `shut off`, ...
    pub fn state(&self) -> Result<String, String> {
        Ok(self.dom("domstate", &[])?.trim().to_string())
    }

    /// An agent command through `virsh qemu-agent-command`: its `return` value. An
    /// error response (which virsh reports on stderr) is an error.
    pub fn agent(&self, execute: &str, args: Option<Value>) -> Result<Value, String> {
        let mut request = json!({ "execute": execute });
        if let Some(args) = args {
            request["arguments"] = args;
        }
        let text = self
            .dom("qemu-agent-command", &[&request.to_string()])
            .map_err(|e| format!("{execute}: {e}"))?;
        let reply: Value = serde_json::from_str(text.trim())
            .map_err(|e| format!("{execute}: the reply is not JSON ({e}): {text}"))?;
        reply
            .get("return")
            .cloned()
            .ok_or_else(|| format!("{execute}: the reply has no return: {text}"))
    }

    /// Runs a shell script in the guest to completion (guest-exec and
    /// guest-exec-status); its stdout; a non-zero exit is an error.
    pub fn sh(&self, script: &str) -> Result<String, String> {
        let started = self.agent(
            "guest-exec",
            Some(json!({"path": "/bin/sh", "arg": ["-c", script], "capture-output": true})),
        )?;
        let pid = started
            .get("pid")
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("guest-exec returned {started}"))?;
        let deadline = Instant::now() + EXEC_TIMEOUT;
        loop {
            let st = self.agent("guest-exec-status", Some(json!({ "pid": pid })))?;
            if st.get("exited").and_then(Value::as_bool) == Some(true) {
                let text = |k: &str| -> Result<String, String> {
                    let b64 = st.get(k).and_then(Value::as_str).unwrap_or("");
                    Ok(String::from_utf8_lossy(&base64_decode(b64)?).into_owned())
                };
                let code = st.get("exitcode").and_then(Value::as_i64).unwrap_or(-1);
                if code != 0 {
                    return Err(format!(
                        "`{script}` exited {code} in the guest: {}",
                        text("err-data")?.trim()
                    ));
                }
                return text("out-data");
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "`{script}` still runs in the guest after {} s",
                    EXEC_TIMEOUT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A guest file's content (guest-file-open, -read, -close).
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>, String> {
        let handle = self.agent("guest-file-open", Some(json!({"path": path, "mode": "r"})))?;
        let mut data = Vec::new();
        let result = loop {
            match self.agent(
                "guest-file-read",
                Some(json!({"handle": handle, "count": 65536})),
            ) {
                Ok(r) => {
                    match base64_decode(r.get("buf-b64").and_then(Value::as_str).unwrap_or("")) {
                        Ok(bytes) => data.extend(bytes),
                        Err(e) => break Err(e),
                    }
                    if r.get("eof").and_then(Value::as_bool) != Some(false) {
                        break Ok(());
                    }
                }
                Err(e) => break Err(e),
            }
        };
        self.agent("guest-file-close", Some(json!({ "handle": handle })))?;
        result.map(|()| data)
    }

    /// Writes a guest file (guest-file-open "w", -write, -close).
    pub fn write_file(&self, path: &str, data: &[u8]) -> Result<(), String> {
        let handle = self.agent("guest-file-open", Some(json!({"path": path, "mode": "w"})))?;
        let written = self.agent(
            "guest-file-write",
            Some(json!({"handle": handle, "buf-b64": base64_encode(data)})),
        );
        self.agent("guest-file-close", Some(json!({ "handle": handle })))?;
        let count = written?.get("count").and_then(Value::as_u64).unwrap_or(0);
        if count != data.len() as u64 {
            return Err(format!("{path}: wrote {count} of {} bytes", data.len()));
        }
        Ok(())
    }
}
