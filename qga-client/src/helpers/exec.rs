//! Running a program in the guest and collecting what it printed.
//!
//! `guest-exec` starts the program and returns its pid; `guest-exec-status` says whether
//! it has exited and, once it has, gives its exit code or signal and its captured
//! output (the agent forgets the process after that answer). The helper polls with a
//! backoff from 1 ms doubling to 100 ms, so a quick command returns quickly and a slow
//! one costs few calls. The blocking and the tokio client share the requests, the
//! reading of the status and the backoff; the tokio one sleeps on tokio's timer.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use tokio::io::{AsyncRead, AsyncWrite};

use crate::async_client::AsyncClient;
use crate::client::{Client, Expect};
use crate::error::Error;
use crate::message::decode_reply;
use crate::transport::Transport;

/// The first pause between two status polls.
const FIRST_POLL: Duration = Duration::from_millis(1);
/// The longest pause between two status polls.
const MAX_POLL: Duration = Duration::from_millis(100);

/// A program to run in the guest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecRequest {
    /// The program; the agent looks a bare name up in its PATH.
    pub path: String,
    /// Its arguments (not including the program name).
    pub args: Vec<String>,
    /// Environment variables, `NAME=VALUE`.
    pub env: Vec<String>,
    /// What to feed its standard input.
    pub input: Option<Vec<u8>>,
    /// Whether to collect its standard output and error.
    pub capture_output: bool,
    /// How long [`Client::exec`] (or [`AsyncClient::exec`]) waits for it to exit; `None`
    /// waits for ever.
    pub timeout: Option<Duration>,
}

impl ExecRequest {
    /// Runs `path`, capturing its output.
    pub fn new(path: impl Into<String>) -> ExecRequest {
        ExecRequest {
            path: path.into(),
            capture_output: true,
            ..ExecRequest::default()
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl Into<String>) -> ExecRequest {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> ExecRequest {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, name: &str, value: &str) -> ExecRequest {
        self.env.push(format!("{name}={value}"));
        self
    }

    /// Feeds `input` to the program's standard input.
    pub fn input(mut self, input: impl Into<Vec<u8>>) -> ExecRequest {
        self.input = Some(input.into());
        self
    }

    /// Gives up waiting after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> ExecRequest {
        self.timeout = Some(timeout);
        self
    }
}

/// How a program in the guest ended, and what it printed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecOutput {
    /// Its exit code, if it exited.
    pub exit_code: Option<i64>,
    /// The signal that ended it, if one did.
    pub signal: Option<i64>,
    /// Its standard output, when captured.
    pub stdout: Vec<u8>,
    /// Its standard error, when captured.
    pub stderr: Vec<u8>,
    /// Whether the agent dropped standard output past its limit (16 MiB on QEMU's).
    pub stdout_truncated: bool,
    /// Whether the agent dropped standard error past its limit.
    pub stderr_truncated: bool,
}

impl ExecOutput {
    /// Whether it exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// The status a shell would report: the exit code, or 128 plus the signal.
    pub fn status(&self) -> i64 {
        match (self.exit_code, self.signal) {
            (Some(code), _) => code,
            (None, Some(signal)) => 128 + signal,
            (None, None) => 0,
        }
    }
}

const EXEC: &str = "guest-exec";
const STATUS: &str = "guest-exec-status";

#[derive(Serialize)]
struct ExecArguments<'a> {
    path: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    arg: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    env: &'a [String],
    #[serde(rename = "input-data", skip_serializing_if = "Option::is_none")]
    input_data: Option<String>,
    #[serde(rename = "capture-output")]
    capture_output: bool,
}

impl<'a> ExecArguments<'a> {
    fn new(request: &'a ExecRequest) -> ExecArguments<'a> {
        ExecArguments {
            path: &request.path,
            arg: &request.args,
            env: &request.env,
            input_data: request.input.as_deref().map(qga_types::base64::encode),
            capture_output: request.capture_output,
        }
    }
}

#[derive(Deserialize)]
struct ExecStarted {
    pid: i64,
}

fn decode_started(bytes: &[u8]) -> Result<i64, Error> {
    decode_reply::<ExecStarted>(EXEC, bytes).map(|s| s.pid)
}

#[derive(Serialize)]
struct StatusArguments {
    pid: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ExecStatus<'a> {
    exited: bool,
    #[serde(default)]
    exitcode: Option<i64>,
    #[serde(default)]
    signal: Option<i64>,
    #[serde(default, borrow)]
    out_data: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    err_data: Option<Cow<'a, str>>,
    #[serde(default)]
    out_truncated: Option<bool>,
    #[serde(default)]
    err_truncated: Option<bool>,
}

/// Reads a `guest-exec-status` reply: `None` while the program runs.
fn decode_status(bytes: &[u8]) -> Result<Option<ExecOutput>, Error> {
    let status: ExecStatus<'_> = decode_reply(STATUS, bytes)?;
    if !status.exited {
        return Ok(None);
    }
    Ok(Some(ExecOutput {
        exit_code: status.exitcode,
        signal: status.signal,
        stdout: decode_output(STATUS, status.out_data.as_deref())?,
        stderr: decode_output(STATUS, status.err_data.as_deref())?,
        stdout_truncated: status.out_truncated.unwrap_or(false),
        stderr_truncated: status.err_truncated.unwrap_or(false),
    }))
}

/// The pauses between status polls: doubling from [`FIRST_POLL`] to [`MAX_POLL`], and
/// never past the wait's timeout.
#[derive(Debug)]
struct Backoff {
    started: Instant,
    timeout: Option<Duration>,
    pause: Duration,
}

impl Backoff {
    fn new(timeout: Option<Duration>) -> Backoff {
        Backoff {
            started: Instant::now(),
            timeout,
            pause: FIRST_POLL,
        }
    }

    /// How long to pause before the next poll, or the timeout error once the wait is
    /// over.
    fn next_pause(&mut self) -> Result<Duration, Error> {
        let mut pause = self.pause;
        if let Some(timeout) = self.timeout {
            let elapsed = self.started.elapsed();
            if elapsed >= timeout {
                return Err(Error::Timeout { timeout });
            }
            pause = pause.min(timeout - elapsed);
        }
        self.pause = (self.pause * 2).min(MAX_POLL);
        Ok(pause)
    }
}

impl<T: Transport> Client<T> {
    /// Runs a program in the guest and waits for it to end.
    pub fn exec(&mut self, request: &ExecRequest) -> Result<ExecOutput, Error> {
        let pid = self.exec_start(request)?;
        self.exec_wait(pid, request.timeout)
    }

    /// Starts a program in the guest; returns its pid.
    pub fn exec_start(&mut self, request: &ExecRequest) -> Result<i64, Error> {
        let timeout = self.options().timeout;
        let arguments = ExecArguments::new(request);
        let started = self.call_with(
            EXEC,
            Some(&arguments),
            Expect::Response,
            timeout,
            decode_started,
        )?;
        started.ok_or(Error::Disconnected)
    }

    /// Asks once whether the program `pid` has ended; `None` while it runs.
    pub fn exec_status(&mut self, pid: i64) -> Result<Option<ExecOutput>, Error> {
        let timeout = self.options().timeout;
        let arguments = StatusArguments { pid };
        let status = self.call_with(
            STATUS,
            Some(&arguments),
            Expect::Response,
            timeout,
            decode_status,
        )?;
        Ok(status.flatten())
    }

    /// Polls until the program `pid` ends, or `timeout` passes (it then keeps running).
    pub fn exec_wait(&mut self, pid: i64, timeout: Option<Duration>) -> Result<ExecOutput, Error> {
        let mut backoff = Backoff::new(timeout);
        loop {
            if let Some(output) = self.exec_status(pid)? {
                return Ok(output);
            }
            std::thread::sleep(backoff.next_pause()?);
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncClient<T> {
    /// Runs a program in the guest and waits for it to end; see [`Client::exec`].
    pub async fn exec(&mut self, request: &ExecRequest) -> Result<ExecOutput, Error> {
        let pid = self.exec_start(request).await?;
        self.exec_wait(pid, request.timeout).await
    }

    /// Starts a program in the guest; returns its pid.
    pub async fn exec_start(&mut self, request: &ExecRequest) -> Result<i64, Error> {
        let timeout = self.options().timeout;
        let arguments = ExecArguments::new(request);
        let started = self
            .call_with(
                EXEC,
                Some(&arguments),
                Expect::Response,
                timeout,
                decode_started,
            )
            .await?;
        started.ok_or(Error::Disconnected)
    }

    /// Asks once whether the program `pid` has ended; `None` while it runs.
    pub async fn exec_status(&mut self, pid: i64) -> Result<Option<ExecOutput>, Error> {
        let timeout = self.options().timeout;
        let arguments = StatusArguments { pid };
        let status = self
            .call_with(
                STATUS,
                Some(&arguments),
                Expect::Response,
                timeout,
                decode_status,
            )
            .await?;
        Ok(status.flatten())
    }

    /// Polls until the program `pid` ends, or `timeout` passes (it then keeps running).
    pub async fn exec_wait(
        &mut self,
        pid: i64,
        timeout: Option<Duration>,
    ) -> Result<ExecOutput, Error> {
        let mut backoff = Backoff::new(timeout);
        loop {
            if let Some(output) = self.exec_status(pid).await? {
                return Ok(output);
            }
            tokio::time::sleep(backoff.next_pause()?).await;
        }
    }
}

/// Decodes captured output.
fn decode_output(command: &str, data: Option<&str>) -> Result<Vec<u8>, Error> {
    match data {
        None => Ok(Vec::new()),
        Some(text) => {
            qga_types::base64::decode(text).map_err(|e| Error::Protocol(format!("{command}: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Backoff, ExecOutput, ExecRequest, MAX_POLL};
    use crate::error::Error;

    #[test]
    fn builds_requests() {
        let request = ExecRequest::new("sh")
            .args(["-c", "echo $X"])
            .env("X", "1")
            .input("in");
        assert_eq!(request.args, ["-c", "echo $X"]);
        assert_eq!(request.env, ["X=1"]);
        assert_eq!(request.input.as_deref(), Some(&b"in"[..]));
        assert!(request.capture_output);
    }

    #[test]
    fn status_like_a_shell() {
        assert_eq!(
            ExecOutput {
                exit_code: Some(3),
                ..Default::default()
            }
            .status(),
            3
        );
        assert_eq!(
            ExecOutput {
                signal: Some(9),
                ..Default::default()
            }
            .status(),
            137
        );
        assert!(ExecOutput {
            exit_code: Some(0),
            ..Default::default()
        }
        .success());
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_stops_at_the_timeout() {
        let mut backoff = Backoff::new(None);
        let pauses: Vec<u128> = (0..9)
            .map(|_| backoff.next_pause().unwrap().as_millis())
            .collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 32, 64, 100, 100]);
        assert_eq!(backoff.next_pause().unwrap(), MAX_POLL);

        let started = std::time::Instant::now();
        let mut backoff = Backoff::new(Some(Duration::from_millis(30)));
        loop {
            match backoff.next_pause() {
                Ok(pause) => {
                    // Never past the timeout.
                    assert!(pause <= Duration::from_millis(30));
                    std::thread::sleep(pause);
                }
                Err(Error::Timeout { timeout }) => {
                    assert_eq!(timeout, Duration::from_millis(30));
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
