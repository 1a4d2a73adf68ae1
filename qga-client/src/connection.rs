//! The client's side of one connection, without I/O.
//!
//! A [`Connection`] holds everything a client knows about its stream: the decoder of
//! the agent's output, whether the stream is in step (a new connection, and one whose
//! last exchange timed out or read something that was not a response, is not), how
//! many responses are owed to requests sent ahead, the handshake in progress, and a
//! thaw owed by a freeze given up half-way. A driver starts an [`Exchange`] with
//! [`Connection::begin`] and then does what [`Connection::poll`] asks: write
//! [`Connection::output`] and report [`Connection::sent`], or read into
//! [`Connection::read_buf`] and report [`Connection::filled`]; an I/O error or an
//! expired deadline goes to [`Connection::failed`]. The connection decides the rest:
//! the handshake first when the stream is not in step (retried as
//! [`Options::sync_attempts`] says), the owed thaw before the next request, when a
//! command's silence is its success, and what each failure means.
//!
//! The blocking [`Client`](crate::Client) and the tokio
//! [`AsyncClient`](crate::AsyncClient) are each one such loop over their own stream.

use std::io::{self, ErrorKind};
use std::ops::Range;
use std::time::{Duration, Instant};

use qga_types::commands::GuestFsfreezeThaw;
use qga_types::Command;

use crate::error::Error;
use crate::framing::{Decoder, Frame};
use crate::handshake;
use crate::message::{decode, encode};
use crate::options::Options;

/// What the connection knows about the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Unknown: resynchronise before the next request.
    NeedsSync,
    /// In step: the next response read answers the oldest request not yet answered.
    Ready,
    /// The agent closed the connection.
    Closed,
}

/// Whether a request has a response to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// The agent always answers.
    Response,
    /// The agent answers only on failure (guest-shutdown, guest-suspend-*).
    ErrorOnly,
}

impl Expect {
    /// Whether the command `C` answers on success.
    pub(crate) fn of<C: Command>() -> Expect {
        if C::SUCCESS_RESPONSE {
            Expect::Response
        } else {
            Expect::ErrorOnly
        }
    }
}

/// A request sent and waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Call {
    pub(crate) expect: Expect,
    /// How long the call may take, from sending the request to the end of the response.
    pub(crate) timeout: Duration,
    /// Whether the request freezes filesystems: until it is answered, a thaw is owed
    /// (a freeze given up half-way may have frozen the guest with nobody to thaw it).
    pub(crate) freeze: bool,
}

impl Call {
    /// A call answered on success too.
    pub(crate) fn new(timeout: Duration) -> Call {
        Call {
            expect: Expect::Response,
            timeout,
            freeze: false,
        }
    }

    /// A call of the command `C`.
    pub(crate) fn of<C: Command>(timeout: Duration) -> Call {
        Call {
            expect: Expect::of::<C>(),
            ..Call::new(timeout)
        }
    }
}

/// One exchange with the agent, as a driver asks the connection for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exchange {
    /// The handshake (it also comes first, unasked, whenever the stream is not in step).
    Sync,
    /// Send the request in [`Connection::request`] and wait for its response.
    Call(Call),
    /// Send the request in [`Connection::request`] without waiting: its response is
    /// read by a later [`Exchange::Receive`]. Requests sent ahead are answered in
    /// order; a whole-file read keeps one in flight so that the agent reads and
    /// encodes the next chunk while this side decodes the last.
    SendAhead { timeout: Duration },
    /// Wait for the response to the oldest request sent ahead.
    Receive { timeout: Duration },
}

/// How an exchange ended well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finished {
    /// The response is in [`Connection::response`] until the next exchange.
    Response,
    /// A command that answers only on failure stayed silent, or the guest went away:
    /// its success.
    Silent,
    /// The request was sent ahead.
    Sent,
    /// The stream is in step.
    Synced,
}

/// What the connection needs from its driver next.
#[derive(Debug)]
pub(crate) enum Want {
    /// Write all of [`Connection::output`] and flush it before the deadline, then
    /// call [`Connection::sent`].
    Write(Instant),
    /// Read once into [`Connection::read_buf`] before the deadline, then call
    /// [`Connection::filled`].
    Read(Instant),
    /// The exchange is over.
    Done(Result<Finished, Error>),
}

/// Who a request being sent or answered is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    /// The driver's exchange.
    Asked(Exchange),
    /// The owed thaw, before the driver's exchange.
    Thaw(Exchange),
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// No exchange is running.
    Idle,
    /// An exchange about to start: the next poll sees to what must come first.
    Start(Exchange),
    /// A handshake attempt to start (`attempt` counts from 0), before `then` (`None`:
    /// the handshake was asked for).
    Resync {
        attempt: u32,
        then: Option<Exchange>,
    },
    /// A handshake attempt: its request being written, or its answer awaited.
    Sync {
        id: i64,
        attempt: u32,
        deadline: Instant,
        sent: bool,
        then: Option<Exchange>,
    },
    /// A request being written: the driver's, in `out`, or the thaw, in `own`.
    Send { job: Job, deadline: Instant },
    /// A response being awaited.
    Wait { job: Job, deadline: Instant },
}

/// The state of one connection to an agent; see the module's documentation.
#[derive(Debug)]
pub(crate) struct Connection {
    options: Options,
    decoder: Decoder,
    /// The driver's request; reused.
    out: Vec<u8>,
    /// The connection's own requests (the handshake, the owed thaw), kept apart so
    /// that the driver's request waits in `out` meanwhile.
    own: Vec<u8>,
    state: State,
    phase: Phase,
    /// How the last exchange ended, until the next poll reports it.
    over: Option<Result<Finished, Error>>,
    /// Responses still to come for requests sent ahead.
    owed: usize,
    /// Filesystems may be frozen with nobody to thaw them: thaw before the next request.
    thaw_owed: bool,
    /// The last response, in the decoder's buffer.
    response: Range<usize>,
}

impl Connection {
    /// A connection not yet in step: its first exchange begins with the handshake.
    pub(crate) fn new(options: Options) -> Connection {
        Connection {
            decoder: Decoder::new(options.max_response),
            options,
            out: Vec::new(),
            own: Vec::new(),
            state: State::NeedsSync,
            phase: Phase::Idle,
            over: None,
            owed: 0,
            thaw_owed: false,
            response: 0..0,
        }
    }

    /// The options in force.
    pub(crate) fn options(&self) -> &Options {
        &self.options
    }

    /// Changes the time a call may take.
    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.options.timeout = timeout;
    }

    /// Whether the next exchange begins with the handshake.
    pub(crate) fn needs_sync(&self) -> bool {
        self.state == State::NeedsSync
    }

    /// Forgets what is known about the stream, which someone else used (or replaced):
    /// the next exchange begins with the handshake.
    pub(crate) fn desync(&mut self) {
        self.state = State::NeedsSync;
    }

    /// Takes the stream back from another connection that used it meanwhile (a
    /// background thaw): what this one had read is stale, and a thaw the other still
    /// owes is owed here.
    pub(crate) fn take_back(&mut self, thaw_owed: bool) {
        self.decoder.clear();
        self.state = State::NeedsSync;
        self.thaw_owed |= thaw_owed;
    }

    /// The stream is gone.
    pub(crate) fn close(&mut self) {
        self.state = State::Closed;
    }

    /// Whether a thaw is owed.
    pub(crate) fn thaw_owed(&self) -> bool {
        self.thaw_owed
    }

    /// Owes a thaw: the next request is preceded by one.
    pub(crate) fn owe_thaw(&mut self) {
        self.thaw_owed = true;
    }

    /// The buffer for the request of the next exchange, empty.
    pub(crate) fn request(&mut self) -> &mut Vec<u8> {
        self.out.clear();
        &mut self.out
    }

    /// Starts `exchange`. One that was running is given up (its driver stopped
    /// waiting for it), which leaves the stream out of step.
    pub(crate) fn begin(&mut self, exchange: Exchange) {
        if !matches!(self.phase, Phase::Idle) || self.over.take().is_some() {
            self.desync();
        }
        self.phase = Phase::Start(exchange);
    }

    /// What the driver should do next.
    pub(crate) fn poll(&mut self, now: Instant) -> Want {
        loop {
            match self.phase {
                Phase::Idle => {
                    return Want::Done(self.over.take().unwrap_or_else(|| {
                        Err(Error::Protocol(
                            "no exchange with the agent was begun".to_owned(),
                        ))
                    }))
                }
                Phase::Start(exchange) => self.start(exchange, now),
                Phase::Resync { attempt, then } => self.start_sync(attempt, then, now),
                Phase::Sync {
                    sent: false,
                    deadline,
                    ..
                }
                | Phase::Send { deadline, .. } => return Want::Write(deadline),
                Phase::Sync {
                    id,
                    deadline,
                    then,
                    sent: true,
                    ..
                } => {
                    if !handshake::find_reply(&mut self.decoder, id) {
                        return Want::Read(deadline);
                    }
                    self.state = State::Ready;
                    match then {
                        Some(exchange) => self.phase = Phase::Start(exchange),
                        None => self.finish(Ok(Finished::Synced)),
                    }
                }
                Phase::Wait { job, deadline } => match buffered_response(&mut self.decoder) {
                    Ok(None) => return Want::Read(deadline),
                    Ok(Some(range)) => {
                        self.state = State::Ready;
                        self.response = range;
                        self.answered(job);
                    }
                    Err(e) => self.end(Some(job), Err(e)),
                },
            }
        }
    }

    /// The bytes to write for [`Want::Write`].
    pub(crate) fn output(&self) -> &[u8] {
        match self.phase {
            Phase::Send {
                job: Job::Asked(_), ..
            } => &self.out,
            _ => &self.own,
        }
    }

    /// Reports that [`Connection::output`] was written.
    pub(crate) fn sent(&mut self) {
        match self.phase {
            Phase::Sync { ref mut sent, .. } => *sent = true,
            Phase::Send {
                job: Job::Asked(Exchange::SendAhead { .. }),
                ..
            } => {
                self.state = State::Ready;
                self.owed += 1;
                self.finish(Ok(Finished::Sent));
            }
            Phase::Send { job, deadline } => {
                if let Job::Asked(Exchange::Call(Call { freeze: true, .. })) = job {
                    self.thaw_owed = true;
                }
                self.phase = Phase::Wait { job, deadline };
            }
            _ => {}
        }
    }

    /// Free space to read the agent's output into, for [`Want::Read`].
    pub(crate) fn read_buf(&mut self) -> &mut [u8] {
        self.decoder.read_buf()
    }

    /// Reports that `n` bytes were read into [`Connection::read_buf`]; 0 is the end
    /// of the stream.
    pub(crate) fn filled(&mut self, n: usize) {
        if n == 0 {
            self.failed(ErrorKind::UnexpectedEof.into());
        } else {
            self.decoder.filled(n);
        }
    }

    /// Reports that writing or reading failed, or that the deadline passed
    /// ([`ErrorKind::TimedOut`]).
    pub(crate) fn failed(&mut self, error: io::Error) {
        let (timeout, job) = match self.phase {
            Phase::Sync { .. } => (self.options.sync_timeout, None),
            Phase::Send { job, .. } | Phase::Wait { job, .. } => (self.timeout_of(job), Some(job)),
            // No I/O was asked for.
            Phase::Idle | Phase::Start(_) | Phase::Resync { .. } => return,
        };
        let error = classify(error, timeout);
        if matches!(error, Error::Disconnected) {
            self.state = State::Closed;
        }
        if let Phase::Sync { attempt, then, .. } = self.phase {
            if matches!(error, Error::Timeout { .. })
                && attempt + 1 < self.options.sync_attempts.max(1)
            {
                self.phase = Phase::Resync {
                    attempt: attempt + 1,
                    then,
                };
                return;
            }
        }
        let silent = match (&self.phase, job) {
            (Phase::Wait { .. }, Some(Job::Asked(Exchange::Call(call)))) => {
                silence_is_success(&error, call.expect)
            }
            _ => false,
        };
        if silent {
            self.end(job, Ok(Finished::Silent));
        } else {
            self.end(job, Err(error));
        }
    }

    /// The response of an exchange that ended with [`Finished::Response`].
    pub(crate) fn response(&self) -> &[u8] {
        self.decoder.bytes(self.response.clone())
    }

    /// Reports how the response was read: an error that says the stream may be out of
    /// step (broken JSON, say) leaves it so.
    pub(crate) fn decoded<O>(&mut self, result: &Result<O, Error>) {
        if let Err(e) = result {
            if e.desynchronises() && self.state == State::Ready {
                self.state = State::NeedsSync;
            }
        }
    }

    /// Starts the driver's exchange, or what must come before it.
    fn start(&mut self, exchange: Exchange, now: Instant) {
        let deadline = |timeout: Duration| now + timeout;
        match exchange {
            Exchange::Sync => self.start_sync(0, None, now),
            Exchange::Call(call) => {
                if self.owed > 0 {
                    // A caller that sent ahead stopped (on an error) before reading
                    // every response: they would be taken for this request's.
                    self.state = State::NeedsSync;
                }
                if self.prepared(exchange, now) {
                    let wait = match call.expect {
                        Expect::Response => call.timeout,
                        Expect::ErrorOnly => call.timeout.min(self.options.no_response_wait),
                    };
                    self.send(Job::Asked(exchange), deadline(wait));
                }
            }
            Exchange::SendAhead { timeout } => {
                if self.owed > 0 || self.prepared(exchange, now) {
                    self.send(Job::Asked(exchange), deadline(timeout));
                }
            }
            Exchange::Receive { timeout } => {
                if self.owed == 0 || self.state != State::Ready {
                    self.finish(Err(Error::Protocol(
                        "no response is owed to a request sent ahead".to_owned(),
                    )));
                } else {
                    // Until the response is read, the stream's state is unknown.
                    self.state = State::NeedsSync;
                    self.phase = Phase::Wait {
                        job: Job::Asked(exchange),
                        deadline: deadline(timeout),
                    };
                }
            }
        }
    }

    /// Whether the stream is ready for the request of `exchange`; if not, starts what
    /// must come first: the handshake, or the owed thaw.
    fn prepared(&mut self, exchange: Exchange, now: Instant) -> bool {
        match self.state {
            State::Closed => {
                self.finish(Err(Error::Disconnected));
                false
            }
            State::NeedsSync => {
                self.start_sync(0, Some(exchange), now);
                false
            }
            State::Ready if self.thaw_owed => {
                self.own.clear();
                // Cannot fail: the request has no arguments.
                encode::<GuestFsfreezeThaw>(&mut self.own, None).expect("a thaw encodes");
                self.send(Job::Thaw(exchange), now + self.options.timeout);
                false
            }
            State::Ready => true,
        }
    }

    fn send(&mut self, job: Job, deadline: Instant) {
        // Until a response is read, the stream's state is unknown.
        self.state = State::NeedsSync;
        self.phase = Phase::Send { job, deadline };
    }

    /// Starts handshake attempt `attempt` (from 0), before `then`.
    fn start_sync(&mut self, attempt: u32, then: Option<Exchange>, now: Instant) {
        let id = handshake::new_id();
        self.state = State::NeedsSync;
        // Whatever is buffered is stale, and so is any response still owed.
        self.owed = 0;
        self.decoder.clear();
        self.own.clear();
        handshake::encode_sync(&mut self.own, id);
        self.phase = Phase::Sync {
            id,
            attempt,
            deadline: now + self.options.sync_timeout,
            sent: false,
            then,
        };
    }

    /// Ends the exchange with `result`; `job` is what it was doing (`None`: the
    /// handshake).
    fn end(&mut self, job: Option<Job>, result: Result<Finished, Error>) {
        if let Some(Job::Asked(Exchange::Call(Call { freeze: true, .. }))) = job {
            // Answered or failed, not given up: the caller deals with the outcome.
            self.thaw_owed = false;
        }
        self.finish(result);
    }

    /// Ends the exchange with `result`, which the next poll reports.
    fn finish(&mut self, result: Result<Finished, Error>) {
        self.phase = Phase::Idle;
        self.over = Some(result);
    }

    /// What follows the response to `job`.
    fn answered(&mut self, job: Job) {
        let then = match job {
            Job::Asked(exchange) => {
                if let Exchange::Receive { .. } = exchange {
                    self.owed -= 1;
                }
                return self.end(Some(job), Ok(Finished::Response));
            }
            Job::Thaw(then) => then,
        };
        let thawed = decode::<GuestFsfreezeThaw>(self.response());
        self.decoded(&thawed);
        match thawed {
            // The agent answered: a retry could do no more.
            Err(e) if !e.is_agent_error() => self.finish(Err(e)),
            _ => {
                self.thaw_owed = false;
                self.phase = Phase::Start(then);
            }
        }
    }

    /// The timeout that a deadline of `job` stands for, as its error reports it.
    fn timeout_of(&self, job: Job) -> Duration {
        match job {
            Job::Asked(Exchange::Call(call)) => call.timeout,
            Job::Asked(Exchange::SendAhead { timeout } | Exchange::Receive { timeout }) => timeout,
            Job::Asked(Exchange::Sync) => self.options.sync_timeout,
            Job::Thaw(_) => self.options.timeout,
        }
    }
}

/// The next response among the frames `decoder` holds; `None` when it needs more
/// input. Stray sentinels are skipped; other output is an error.
fn buffered_response(decoder: &mut Decoder) -> Result<Option<Range<usize>>, Error> {
    loop {
        match decoder.next_frame() {
            Ok(Some(Frame::Message(range))) => return Ok(Some(range)),
            // A stray sentinel from the agent resets nothing we need.
            Ok(Some(Frame::Sentinel)) => {}
            Ok(Some(Frame::Garbage(range))) => {
                return Err(Error::Protocol(format!(
                    "unexpected output from the agent: {}",
                    preview(decoder.bytes(range))
                )))
            }
            Err(too_large) => {
                return Err(Error::Protocol(format!(
                    "a response longer than {} bytes",
                    too_large.limit
                )))
            }
            Ok(None) => return Ok(None),
        }
    }
}

/// Whether `error`, met while waiting for a response, is how a command answers when
/// it succeeds: silence, or the guest going away, for those without a success response.
fn silence_is_success(error: &Error, expect: Expect) -> bool {
    expect == Expect::ErrorOnly && matches!(error, Error::Timeout { .. } | Error::Disconnected)
}

/// Sorts an I/O error of the stream (or its deadline passing, as
/// [`ErrorKind::TimedOut`]) into the client's errors.
fn classify(e: io::Error, timeout: Duration) -> Error {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => Error::Timeout { timeout },
        ErrorKind::BrokenPipe
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::NotConnected
        | ErrorKind::UnexpectedEof
        | ErrorKind::WriteZero => Error::Disconnected,
        _ => Error::Io(e),
    }
}

/// The start of some unexpected output, printable.
fn preview(bytes: &[u8]) -> String {
    const SHOWN: usize = 60;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(SHOWN)]);
    let ellipsis = if bytes.len() > SHOWN { "..." } else { "" };
    format!("{:?}{ellipsis}", text.trim_end())
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;
    use std::time::{Duration, Instant};

    use serde_json::Value;

    use super::{Call, Connection, Exchange, Expect, Finished, Want};
    use crate::error::Error;
    use crate::options::Options;

    const STRAY_FF: &[u8] =
        b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\uFFFD'\"}}\n";

    fn options() -> Options {
        Options {
            timeout: Duration::from_secs(5),
            sync_timeout: Duration::from_secs(2),
            sync_attempts: 2,
            no_response_wait: Duration::from_secs(1),
            ..Options::default()
        }
    }

    fn call() -> Exchange {
        Exchange::Call(Call::new(Duration::from_secs(5)))
    }

    /// The bytes the connection wants written (and reports them written).
    fn written(conn: &mut Connection) -> Vec<u8> {
        match conn.poll(Instant::now()) {
            Want::Write(_) => {}
            other => panic!("wants {other:?}, not a write"),
        }
        let bytes = conn.output().to_vec();
        conn.sent();
        bytes
    }

    /// The request the connection wants written, as JSON (after any 0xFF).
    fn request(conn: &mut Connection) -> Value {
        let bytes = written(conn);
        let json = bytes.strip_prefix(b"\xff").unwrap_or(&bytes);
        serde_json::from_slice(json).unwrap()
    }

    /// Checks that the connection wants to read, and feeds it `bytes`.
    fn feed(conn: &mut Connection, bytes: &[u8]) {
        match conn.poll(Instant::now()) {
            Want::Read(_) => {}
            other => panic!("wants {other:?}, not a read"),
        }
        conn.read_buf()[..bytes.len()].copy_from_slice(bytes);
        conn.filled(bytes.len());
    }

    fn done(conn: &mut Connection) -> Result<Finished, Error> {
        match conn.poll(Instant::now()) {
            Want::Done(result) => result,
            other => panic!("wants {other:?}, not done"),
        }
    }

    /// Reads the handshake's request and answers it as the agent does.
    fn handshake(conn: &mut Connection) -> i64 {
        let sync = written(conn);
        assert_eq!(sync[0], 0xFF, "the handshake starts with a sentinel");
        let sync: Value = serde_json::from_slice(&sync[1..]).unwrap();
        assert_eq!(sync["execute"], "guest-sync-delimited");
        let id = sync["arguments"]["id"].as_i64().unwrap();
        let mut answer = STRAY_FF.to_vec();
        answer.push(0xFF);
        answer.extend(format!("{{\"return\": {id}}}\n").as_bytes());
        feed(conn, &answer);
        id
    }

    /// Begins `exchange` with a request for the command `name`.
    fn begin(conn: &mut Connection, name: &str, exchange: Exchange) {
        crate::message::encode_request::<Value>(conn.request(), name, None).unwrap();
        conn.begin(exchange);
    }

    fn assert_timeout(result: Result<Finished, Error>, seconds: u64) {
        let e = result.unwrap_err();
        assert!(
            matches!(e, Error::Timeout { timeout } if timeout == Duration::from_secs(seconds)),
            "{e:?}"
        );
    }

    /// Runs a call of `name` to its response, which it returns.
    fn exchange(conn: &mut Connection, name: &str, answer: &[u8]) -> Result<Finished, Error> {
        begin(conn, name, call());
        assert_eq!(request(conn)["execute"], name);
        feed(conn, answer);
        done(conn)
    }

    #[test]
    fn the_first_call_comes_after_the_handshake_and_stale_output_is_skipped() {
        let mut conn = Connection::new(options());
        assert!(conn.needs_sync());
        begin(&mut conn, "guest-ping", call());
        let sync = written(&mut conn);
        let id: Value = serde_json::from_slice(&sync[1..]).unwrap();
        let id = id["arguments"]["id"].as_i64().unwrap();
        // A late answer of an earlier session, the complaint about the 0xFF, then
        // the answer in two pieces.
        feed(&mut conn, b"{\"return\": {\"host-name\": \"old\"}}\n");
        feed(&mut conn, STRAY_FF);
        feed(&mut conn, format!("\u{ff}{{\"return\": {id}").as_bytes());
        feed(&mut conn, b"}\n");
        assert_eq!(request(&mut conn)["execute"], "guest-ping");
        assert!(conn.needs_sync(), "unknown until the response is read");
        feed(&mut conn, b"{\"return\": {}}\n");
        assert_eq!(done(&mut conn).unwrap(), Finished::Response);
        assert_eq!(conn.response(), b"{\"return\": {}}");
        assert!(!conn.needs_sync());
        // In step now: the next call goes straight out.
        assert!(exchange(&mut conn, "guest-ping", b"{\"return\": {}}").is_ok());
    }

    #[test]
    fn the_handshake_is_retried_with_a_new_id_and_then_given_up() {
        let mut conn = Connection::new(options());
        conn.begin(Exchange::Sync);
        let first = request(&mut conn)["arguments"]["id"].as_i64().unwrap();
        conn.failed(ErrorKind::TimedOut.into());
        let second = request(&mut conn)["arguments"]["id"].as_i64().unwrap();
        assert_ne!(first, second);
        // The late answer to the first is not the second's.
        feed(
            &mut conn,
            format!("\u{ff}{{\"return\": {first}}}\n").as_bytes(),
        );
        conn.failed(ErrorKind::TimedOut.into());
        assert_timeout(done(&mut conn), 2);
        // Another error ends the handshake at once.
        conn.begin(Exchange::Sync);
        written(&mut conn);
        conn.filled(0);
        assert!(matches!(done(&mut conn), Err(Error::Disconnected)));
    }

    #[test]
    fn a_timeout_or_garbage_puts_the_stream_out_of_step() {
        let mut conn = Connection::new(options());
        conn.begin(Exchange::Sync);
        handshake(&mut conn);
        assert_eq!(done(&mut conn).unwrap(), Finished::Synced);

        begin(&mut conn, "guest-ping", call());
        request(&mut conn);
        conn.failed(ErrorKind::WouldBlock.into());
        assert_timeout(done(&mut conn), 5);
        assert!(conn.needs_sync());

        conn.begin(call());
        handshake(&mut conn);
        request(&mut conn);
        feed(&mut conn, b"hello\n");
        assert!(matches!(done(&mut conn), Err(Error::Protocol(_))));
        assert!(conn.needs_sync());
    }

    #[test]
    fn silence_is_the_success_of_commands_that_answer_only_on_failure() {
        let shutdown = Exchange::Call(Call {
            expect: Expect::ErrorOnly,
            ..Call::new(Duration::from_secs(5))
        });
        let mut conn = Connection::new(options());
        let encode = |conn: &mut Connection| {
            crate::message::encode_request::<Value>(conn.request(), "guest-shutdown", None).unwrap()
        };
        encode(&mut conn);
        conn.begin(shutdown);
        handshake(&mut conn);
        let Want::Write(deadline) = conn.poll(Instant::now()) else {
            panic!()
        };
        // It waits for an error no longer than `no_response_wait`.
        assert!(deadline <= Instant::now() + Duration::from_secs(1));
        conn.sent();
        conn.failed(ErrorKind::TimedOut.into());
        assert_eq!(done(&mut conn).unwrap(), Finished::Silent);
        assert!(conn.needs_sync());

        encode(&mut conn);
        conn.begin(shutdown);
        handshake(&mut conn);
        request(&mut conn);
        conn.filled(0);
        assert_eq!(done(&mut conn).unwrap(), Finished::Silent);
        // The guest has gone: nothing more is sent.
        conn.begin(call());
        assert!(matches!(done(&mut conn), Err(Error::Disconnected)));

        // A failure to send is a failure.
        let mut conn = Connection::new(options());
        encode(&mut conn);
        conn.begin(shutdown);
        handshake(&mut conn);
        conn.poll(Instant::now());
        conn.failed(ErrorKind::BrokenPipe.into());
        assert!(matches!(done(&mut conn), Err(Error::Disconnected)));
    }

    #[test]
    fn responses_to_requests_sent_ahead_come_in_order() {
        let ahead = Exchange::SendAhead {
            timeout: Duration::from_secs(5),
        };
        let receive = Exchange::Receive {
            timeout: Duration::from_secs(5),
        };
        let mut conn = Connection::new(options());
        conn.begin(receive);
        assert!(matches!(done(&mut conn), Err(Error::Protocol(_))));
        for n in 1..=2 {
            crate::message::encode_request(conn.request(), "guest-file-read", Some(&n)).unwrap();
            conn.begin(ahead);
            if n == 1 {
                handshake(&mut conn);
            }
            assert_eq!(request(&mut conn)["arguments"], n);
            assert_eq!(done(&mut conn).unwrap(), Finished::Sent);
        }
        conn.begin(receive);
        feed(&mut conn, b"{\"return\": 1}\n{\"return\": 2}\n");
        assert_eq!(done(&mut conn).unwrap(), Finished::Response);
        assert_eq!(conn.response(), b"{\"return\": 1}");
        conn.begin(receive);
        assert_eq!(done(&mut conn).unwrap(), Finished::Response);
        assert_eq!(conn.response(), b"{\"return\": 2}");

        // A call while a response is owed would take it for its own: it resyncs.
        begin(&mut conn, "guest-file-read", ahead);
        request(&mut conn);
        assert_eq!(done(&mut conn).unwrap(), Finished::Sent);
        assert!(!conn.needs_sync());
        begin(&mut conn, "guest-ping", call());
        handshake(&mut conn);
        assert_eq!(request(&mut conn)["execute"], "guest-ping");
    }

    #[test]
    fn a_freeze_given_up_half_way_is_thawed_before_the_next_request() {
        let freeze = Exchange::Call(Call {
            freeze: true,
            ..Call::new(Duration::from_secs(60))
        });
        let mut conn = Connection::new(options());
        begin(&mut conn, "guest-fsfreeze-freeze", freeze);
        handshake(&mut conn);
        request(&mut conn);
        assert!(conn.thaw_owed());
        // The driver stops waiting (a cancelled future) and starts another call.
        begin(&mut conn, "guest-ping", call());
        handshake(&mut conn);
        assert_eq!(request(&mut conn)["execute"], "guest-fsfreeze-thaw");
        feed(&mut conn, b"{\"return\": 1}\n");
        assert_eq!(request(&mut conn)["execute"], "guest-ping");
        assert!(!conn.thaw_owed());
        feed(&mut conn, b"{\"return\": {}}\n");
        assert_eq!(done(&mut conn).unwrap(), Finished::Response);

        // An answered freeze owes nothing, even an error.
        assert!(exchange(&mut conn, "guest-fsfreeze-freeze", b"{\"return\": 2}").is_ok());
        assert!(!conn.thaw_owed());

        // A thaw that times out stays owed, and fails the call it came before.
        conn.owe_thaw();
        begin(&mut conn, "guest-ping", call());
        assert_eq!(request(&mut conn)["execute"], "guest-fsfreeze-thaw");
        conn.failed(ErrorKind::TimedOut.into());
        assert_timeout(done(&mut conn), 5);
        assert!(conn.thaw_owed());
        // An agent's refusal settles it.
        conn.begin(call());
        handshake(&mut conn);
        assert_eq!(request(&mut conn)["execute"], "guest-fsfreeze-thaw");
        feed(
            &mut conn,
            b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"not frozen\"}}\n",
        );
        assert_eq!(request(&mut conn)["execute"], "guest-ping");
        assert!(!conn.thaw_owed());
    }

    #[test]
    fn a_response_that_does_not_decode_may_put_the_stream_out_of_step() {
        let mut conn = Connection::new(options());
        conn.begin(Exchange::Sync);
        handshake(&mut conn);
        done(&mut conn).unwrap();
        conn.decoded::<()>(&Err(Error::from_agent("x", "GenericError", "no")));
        assert!(!conn.needs_sync());
        conn.decoded::<()>(&Err(Error::Protocol("bad base64".into())));
        assert!(conn.needs_sync());
    }

    #[test]
    fn another_user_of_the_stream_makes_it_resync() {
        let mut conn = Connection::new(options());
        conn.begin(Exchange::Sync);
        handshake(&mut conn);
        done(&mut conn).unwrap();
        conn.desync();
        assert!(conn.needs_sync());
        conn.begin(Exchange::Sync);
        handshake(&mut conn);
        done(&mut conn).unwrap();
        conn.take_back(true);
        assert!(conn.needs_sync() && conn.thaw_owed());
        conn.close();
        conn.begin(call());
        assert!(matches!(done(&mut conn), Err(Error::Disconnected)));
    }
}
