//! Running a program in the guest and collecting what it printed.
//!
//! `guest-exec` starts the program and returns its pid; `guest-exec-status` says whether
//! it has exited and, once it has, gives its exit code or signal and its captured
//! output (the agent forgets the process after that answer). The helper polls with a
//! backoff from 1 ms doubling to 100 ms, so a quick command returns quickly and a slow
//! one costs few calls. [`Exec`] is that as an operation, which both clients run; each
//! pauses on its own clock.

use std::time::{Duration, Instant};

use qga_types::commands::{
    GuestExec, GuestExecArguments, GuestExecStatus, GuestExecStatusArguments,
};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::async_client::AsyncClient;
use crate::client::Client;
use crate::connection::{Call, Exchange};
use crate::error::Error;
use crate::message::decode;
use crate::operation::{command, send, Operation, Outcome, Step};
use crate::options::Options;
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

/// The `guest-exec` arguments for `request`.
fn arguments(request: &ExecRequest) -> GuestExecArguments {
    let listed = |items: &[String]| (!items.is_empty()).then(|| items.to_vec());
    GuestExecArguments {
        path: request.path.clone(),
        arg: listed(&request.args),
        env: listed(&request.env),
        input_data: request.input.clone(),
        // The flag form: true is "separated", as every agent since 2.5 reads it.
        capture_output: Some(qga_types::GuestExecCaptureOutput::Flag(
            request.capture_output,
        )),
    }
}

/// Reads a `guest-exec-status` reply: `None` while the program runs.
fn decode_status(bytes: &[u8]) -> Result<Option<ExecOutput>, Error> {
    let status = decode::<GuestExecStatus>(bytes)?;
    if !status.exited {
        return Ok(None);
    }
    Ok(Some(ExecOutput {
        exit_code: status.exitcode,
        signal: status.signal,
        stdout: status.out_data.unwrap_or_default(),
        stderr: status.err_data.unwrap_or_default(),
        stdout_truncated: status.out_truncated.unwrap_or(false),
        stderr_truncated: status.err_truncated.unwrap_or(false),
    }))
}

/// Starts a program; its pid.
fn start(request: &ExecRequest, options: &Options) -> impl Operation<Output = Result<i64, Error>> {
    command::<GuestExec, _>(
        Some(arguments(request)),
        Call::new(options.timeout),
        |bytes: &[u8]| decode::<GuestExec>(bytes).map(|started| started.pid),
    )
}

/// Asks once whether a program has ended.
fn status(
    pid: i64,
    options: &Options,
) -> impl Operation<Output = Result<Option<ExecOutput>, Error>> {
    command::<GuestExecStatus, _>(
        Some(GuestExecStatusArguments { pid }),
        Call::new(options.timeout),
        decode_status,
    )
}

/// Where an [`Exec`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Start,
    /// Starting the program.
    Starting,
    /// Asking whether it has ended.
    Polling,
    /// Pausing before the next poll.
    Pausing,
}

/// Runs a program (or waits for one started before) until it ends.
pub(crate) struct Exec<'r> {
    request: Option<&'r ExecRequest>,
    stage: Stage,
    pid: i64,
    /// How long to wait for the program to end; `None`: for ever.
    wait: Option<Duration>,
    backoff: Option<Backoff>,
    output: Option<ExecOutput>,
    timeout: Duration,
}

impl<'r> Exec<'r> {
    /// Starts `request` and waits for it to end.
    pub(crate) fn run(request: &'r ExecRequest, options: &Options) -> Exec<'r> {
        Exec::new(Some(request), 0, request.timeout, options)
    }

    /// Waits for the program `pid` to end, up to `wait`.
    pub(crate) fn wait(pid: i64, wait: Option<Duration>, options: &Options) -> Exec<'r> {
        Exec::new(None, pid, wait, options)
    }

    fn new(
        request: Option<&'r ExecRequest>,
        pid: i64,
        wait: Option<Duration>,
        options: &Options,
    ) -> Exec<'r> {
        Exec {
            request,
            stage: Stage::Start,
            pid,
            wait,
            backoff: None,
            output: None,
            timeout: options.timeout,
        }
    }

    fn call(&self) -> Exchange {
        Exchange::Call(Call::new(self.timeout))
    }

    /// The step that asks whether the program has ended.
    fn poll(&mut self, request: &mut Vec<u8>) -> Step<'static, Result<ExecOutput, Error>> {
        self.stage = Stage::Polling;
        // The wait starts with the first poll.
        let wait = self.wait;
        self.backoff.get_or_insert_with(|| Backoff::new(wait));
        let arguments = GuestExecStatusArguments { pid: self.pid };
        send::<GuestExecStatus, _>(request, &arguments, self.call())
            .unwrap_or_else(|e| Step::Done(Err(e)))
    }
}

impl Operation for Exec<'_> {
    type Output = Result<ExecOutput, Error>;

    fn next(&mut self, last: Outcome, request: &mut Vec<u8>) -> Step<'_, Self::Output> {
        if let Outcome::Failed(e) = last {
            return Step::Done(Err(e));
        }
        match self.stage {
            Stage::Start => match self.request {
                Some(program) => {
                    self.stage = Stage::Starting;
                    send::<GuestExec, _>(request, &arguments(program), self.call())
                        .unwrap_or_else(|e| Step::Done(Err(e)))
                }
                None => self.poll(request),
            },
            Stage::Starting | Stage::Pausing => self.poll(request),
            Stage::Polling => {
                if let Some(output) = self.output.take() {
                    return Step::Done(Ok(output));
                }
                let wait = self.wait;
                let backoff = self.backoff.get_or_insert_with(|| Backoff::new(wait));
                match backoff.next_pause() {
                    Ok(pause) => {
                        self.stage = Stage::Pausing;
                        Step::Sleep(pause)
                    }
                    Err(e) => Step::Done(Err(e)),
                }
            }
        }
    }

    fn reply(&mut self, response: Option<&[u8]>) -> Result<(), Error> {
        // Both commands answer: `None` (silence) does not come.
        let Some(bytes) = response else {
            return Ok(());
        };
        match self.stage {
            Stage::Starting => self.pid = decode::<GuestExec>(bytes)?.pid,
            Stage::Polling => self.output = decode_status(bytes)?,
            Stage::Start | Stage::Pausing => {}
        }
        Ok(())
    }
}

impl<T: Transport> Client<T> {
    /// Runs a program in the guest and waits for it to end.
    pub fn exec(&mut self, request: &ExecRequest) -> Result<ExecOutput, Error> {
        let mut op = Exec::run(request, self.options());
        self.perform(&mut op)
    }

    /// Starts a program in the guest; returns its pid.
    pub fn exec_start(&mut self, request: &ExecRequest) -> Result<i64, Error> {
        let mut op = start(request, self.options());
        self.perform(&mut op)
    }

    /// Asks once whether the program `pid` has ended; `None` while it runs.
    pub fn exec_status(&mut self, pid: i64) -> Result<Option<ExecOutput>, Error> {
        let mut op = status(pid, self.options());
        self.perform(&mut op)
    }

    /// Polls until the program `pid` ends, or `timeout` passes (it then keeps running).
    pub fn exec_wait(&mut self, pid: i64, timeout: Option<Duration>) -> Result<ExecOutput, Error> {
        let mut op = Exec::wait(pid, timeout, self.options());
        self.perform(&mut op)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncClient<T> {
    /// Runs a program in the guest and waits for it to end; see [`Client::exec`].
    pub async fn exec(&mut self, request: &ExecRequest) -> Result<ExecOutput, Error> {
        let mut op = Exec::run(request, self.options());
        self.perform(&mut op).await
    }

    /// Starts a program in the guest; returns its pid.
    pub async fn exec_start(&mut self, request: &ExecRequest) -> Result<i64, Error> {
        let mut op = start(request, self.options());
        self.perform(&mut op).await
    }

    /// Asks once whether the program `pid` has ended; `None` while it runs.
    pub async fn exec_status(&mut self, pid: i64) -> Result<Option<ExecOutput>, Error> {
        let mut op = status(pid, self.options());
        self.perform(&mut op).await
    }

    /// Polls until the program `pid` ends, or `timeout` passes (it then keeps running).
    pub async fn exec_wait(
        &mut self,
        pid: i64,
        timeout: Option<Duration>,
    ) -> Result<ExecOutput, Error> {
        let mut op = Exec::wait(pid, timeout, self.options());
        self.perform(&mut op).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::{Backoff, Exec, ExecOutput, ExecRequest, MAX_POLL};
    use crate::error::Error;
    use crate::operation::tests::{answer, Script};
    use crate::options::Options;

    #[test]
    fn runs_a_program_and_polls_until_it_ends() {
        let mut script = Script::new(vec![
            answer(json!({"pid": 40})),
            answer(json!({"exited": false})),
            answer(
                json!({"exited": true, "exitcode": 3, "out-data": "aGk=", "err-truncated": true}),
            ),
        ]);
        let request = ExecRequest::new("sh").args(["-c", "x"]).input("in");
        let mut op = Exec::run(&request, &Options::default());
        let output = script.run(&mut op).unwrap();
        assert_eq!(output.exit_code, Some(3));
        assert_eq!(output.stdout, b"hi");
        assert!(output.stderr.is_empty() && output.stderr_truncated);
        let status = r#"{"execute":"guest-exec-status","arguments":{"pid":40}}"#;
        assert_eq!(
            script.log,
            [
                r#"{"execute":"guest-exec","arguments":{"path":"sh","arg":["-c","x"],"input-data":"aW4=","capture-output":true}}"#,
                status,
                "sleep",
                status,
            ]
        );

        let bad = answer(json!({"exited": true, "out-data": "!!"}));
        let mut op = Exec::wait(40, None, &Options::default());
        let e = Script::new(vec![bad]).run(&mut op).unwrap_err();
        assert!(matches!(e, Error::UnexpectedReply { .. }), "{e:?}");
    }

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
