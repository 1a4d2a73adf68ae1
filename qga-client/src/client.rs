//! The blocking client.
//!
//! One request at a time: write it, then read frames until the response. The client
//! remembers whether the stream is known to be in sync; a new client, and one whose
//! last call timed out or read something that was not a response, resynchronises
//! before its next call (see [`crate::sync`]). Every call has a deadline; each read and
//! write is given what is left of it.

use std::io::{self, ErrorKind};
use std::ops::Range;
use std::time::{Duration, Instant};

use qga_types::Command;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::address::{Address, Stream};
use crate::error::Error;
use crate::framing::{Decoder, Frame};
use crate::message::{decode_reply, encode_request, encode_sync};
use crate::options::Options;
use crate::sync;
use crate::transport::Transport;

/// What the client knows about the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Unknown: resynchronise before the next request.
    NeedsSync,
    /// In sync: the next response read answers the next request.
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

/// A blocking client of one agent, over any [`Transport`].
#[derive(Debug)]
pub struct Client<T> {
    io: T,
    decoder: Decoder,
    /// The request being sent; reused.
    out: Vec<u8>,
    options: Options,
    state: State,
    /// Responses still to come for requests sent ahead ([`Client::send_ahead`]).
    owed: usize,
}

impl Client<Stream> {
    /// Connects to the agent at `address` and synchronises with it.
    pub fn connect(address: &Address, options: Options) -> Result<Client<Stream>, Error> {
        let stream = address
            .connect(options.timeout)
            .map_err(|source| Error::Connect {
                address: address.to_string(),
                source,
            })?;
        let mut client = Client::with_options(stream, options);
        client.sync()?;
        Ok(client)
    }
}

impl<T: Transport> Client<T> {
    /// A client over `io` with default options. It synchronises on its first call.
    pub fn new(io: T) -> Client<T> {
        Client::with_options(io, Options::default())
    }

    /// A client over `io`. It synchronises on its first call.
    pub fn with_options(io: T, options: Options) -> Client<T> {
        Client {
            io,
            decoder: Decoder::new(options.max_response),
            out: Vec::new(),
            options,
            state: State::NeedsSync,
            owed: 0,
        }
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Changes the time a call may take.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.options.timeout = timeout;
    }

    /// The stream.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// The stream; writing to it or reading from it makes the client resynchronise.
    pub fn get_mut(&mut self) -> &mut T {
        self.state = State::NeedsSync;
        &mut self.io
    }

    /// Gives the stream back.
    pub fn into_inner(self) -> T {
        self.io
    }

    /// Whether the client will resynchronise before its next call.
    pub fn needs_sync(&self) -> bool {
        self.state == State::NeedsSync
    }

    /// Calls the command `C` and returns its result.
    ///
    /// For a command that does not answer on success (`C::SUCCESS_RESPONSE` is false),
    /// silence or a closed connection within [`Options::no_response_wait`] is success,
    /// and the result is `C::Returns` read from `{}`.
    pub fn call<C: Command>(&mut self, arguments: &C::Arguments) -> Result<C::Returns, Error> {
        self.call_with_timeout::<C>(arguments, self.options.timeout)
    }

    /// [`Client::call`] with its own timeout.
    pub fn call_with_timeout<C: Command>(
        &mut self,
        arguments: &C::Arguments,
        timeout: Duration,
    ) -> Result<C::Returns, Error> {
        let expect = expect_of::<C>();
        match self.call_with(C::NAME, Some(arguments), expect, timeout, |bytes| {
            decode_reply::<C::Returns>(C::NAME, bytes)
        })? {
            Some(value) => Ok(value),
            None => silent_success::<C::Returns>(C::NAME),
        }
    }

    /// Calls the command `C` with typed arguments and returns its result as the JSON
    /// the agent sent, members the schema lacks included: for a tool that shows the
    /// agent's answers as they are. A command without a success response gives `{}`
    /// when the agent stays silent, as [`Client::call`] does.
    pub fn call_json<C: Command>(&mut self, arguments: &C::Arguments) -> Result<Value, Error> {
        let timeout = self.options.timeout;
        let expect = expect_of::<C>();
        let reply = self.call_with(C::NAME, Some(arguments), expect, timeout, |bytes| {
            decode_reply::<Value>(C::NAME, bytes)
        })?;
        Ok(reply.unwrap_or_else(|| Value::Object(serde_json::Map::new())))
    }

    /// Calls the command `name` with JSON `arguments` and returns the JSON result.
    pub fn call_raw(&mut self, name: &str, arguments: Option<&Value>) -> Result<Value, Error> {
        let timeout = self.options.timeout;
        let reply = self.call_with(name, arguments, Expect::Response, timeout, |bytes| {
            decode_reply(name, bytes)
        })?;
        // With Expect::Response, the closure's result is always there.
        Ok(reply.unwrap_or(Value::Null))
    }

    /// Calls `name`, a command that does not answer on success (guest-shutdown,
    /// guest-suspend-*), with JSON `arguments`. `None` is the usual success; an agent
    /// that answers anyway gives `Some`.
    pub fn call_raw_no_response(
        &mut self,
        name: &str,
        arguments: Option<&Value>,
    ) -> Result<Option<Value>, Error> {
        let timeout = self.options.timeout;
        self.call_with(name, arguments, Expect::ErrorOnly, timeout, |bytes| {
            decode_reply(name, bytes)
        })
    }

    /// Synchronises with the agent: sends `0xFF` and `guest-sync-delimited` with a fresh
    /// random id and drops everything up to the answer. Tries
    /// [`Options::sync_attempts`] times, each waiting [`Options::sync_timeout`].
    pub fn sync(&mut self) -> Result<(), Error> {
        let mut last = Error::Timeout {
            timeout: self.options.sync_timeout,
        };
        for _ in 0..self.options.sync_attempts.max(1) {
            match self.sync_once() {
                Ok(()) => {
                    self.state = State::Ready;
                    return Ok(());
                }
                Err(e @ Error::Timeout { .. }) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    fn sync_once(&mut self) -> Result<(), Error> {
        let timeout = self.options.sync_timeout;
        let deadline = Instant::now() + timeout;
        let id = sync::new_id();
        self.state = State::NeedsSync;
        // Whatever is buffered is stale, and so is any response still owed.
        self.owed = 0;
        self.decoder.clear();
        self.out.clear();
        encode_sync(&mut self.out, id);
        self.send(deadline, timeout)?;
        while !sync::find_reply(&mut self.decoder, id) {
            self.fill(deadline, timeout)?;
        }
        Ok(())
    }

    /// Sends a request and hands the response's bytes to `decode`. `Ok(None)` when
    /// `expect` is [`Expect::ErrorOnly`] and the agent stayed silent.
    pub(crate) fn call_with<A, O>(
        &mut self,
        name: &str,
        arguments: Option<&A>,
        expect: Expect,
        timeout: Duration,
        decode: impl FnOnce(&[u8]) -> Result<O, Error>,
    ) -> Result<Option<O>, Error>
    where
        A: Serialize + ?Sized,
    {
        self.call_encoded(
            |out| encode_request(out, name, arguments),
            expect,
            timeout,
            decode,
        )
    }

    /// [`Client::call_with`] for a request that `encode` writes itself (a file chunk is
    /// base64-encoded straight into the request).
    pub(crate) fn call_encoded<O>(
        &mut self,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), Error>,
        expect: Expect,
        timeout: Duration,
        decode: impl FnOnce(&[u8]) -> Result<O, Error>,
    ) -> Result<Option<O>, Error> {
        self.out.clear();
        encode(&mut self.out)?;
        let Some(range) = self.exchange(expect, timeout)? else {
            return Ok(None);
        };
        let result = decode(self.decoder.bytes(range));
        self.state = state_after(&result, self.state);
        result.map(Some)
    }

    /// Sends the request in `self.out` (synchronising first if needed) and reads up to
    /// its response.
    fn exchange(
        &mut self,
        expect: Expect,
        timeout: Duration,
    ) -> Result<Option<Range<usize>>, Error> {
        if self.owed > 0 {
            // A caller that sent ahead stopped (on an error) before reading every
            // response: they would be taken for this request's.
            self.state = State::NeedsSync;
        }
        self.make_ready()?;
        let wait = match expect {
            Expect::Response => timeout,
            Expect::ErrorOnly => timeout.min(self.options.no_response_wait),
        };
        let deadline = Instant::now() + wait;
        // Until a response is read, the stream's state is unknown.
        self.state = State::NeedsSync;
        self.send(deadline, timeout)?;
        self.next_response(expect, deadline, timeout)
    }

    /// Synchronises if the stream's state is unknown; fails if the agent has gone.
    fn make_ready(&mut self) -> Result<(), Error> {
        match self.state {
            State::Ready => Ok(()),
            State::NeedsSync => {
                // sync() writes its own request into `out`: keep ours aside meanwhile.
                let request = std::mem::take(&mut self.out);
                let synced = self.sync();
                self.out = request;
                synced
            }
            State::Closed => Err(Error::Disconnected),
        }
    }

    /// Sends the request `encode` writes without waiting for its response, which the
    /// caller reads with [`Client::receive`] before making any other call. Requests
    /// sent ahead are answered in order; a whole-file read keeps one in flight so that
    /// the agent reads and encodes the next chunk while this side decodes the last.
    pub(crate) fn send_ahead(
        &mut self,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), Error>,
        timeout: Duration,
    ) -> Result<(), Error> {
        self.out.clear();
        encode(&mut self.out)?;
        if self.owed == 0 {
            self.make_ready()?;
        }
        let deadline = Instant::now() + timeout;
        self.state = State::NeedsSync;
        self.send(deadline, timeout)?;
        self.state = State::Ready;
        self.owed += 1;
        Ok(())
    }

    /// Reads the response to the oldest request sent ahead and hands its bytes to
    /// `decode`.
    pub(crate) fn receive<O>(
        &mut self,
        timeout: Duration,
        decode: impl FnOnce(&[u8]) -> Result<O, Error>,
    ) -> Result<O, Error> {
        check_owed(self.owed, self.state)?;
        let deadline = Instant::now() + timeout;
        self.state = State::NeedsSync;
        let range = self
            .next_response(Expect::Response, deadline, timeout)?
            .ok_or(Error::Disconnected)?;
        self.owed -= 1;
        let result = decode(self.decoder.bytes(range));
        self.state = state_after(&result, self.state);
        result
    }

    /// Reads frames up to the next response. `Ok(None)` when `expect` is
    /// [`Expect::ErrorOnly`] and the agent stayed silent or went away.
    fn next_response(
        &mut self,
        expect: Expect,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Option<Range<usize>>, Error> {
        loop {
            if let Some(range) = buffered_response(&mut self.decoder)? {
                self.state = State::Ready;
                return Ok(Some(range));
            }
            if let Err(e) = self.fill(deadline, timeout) {
                return if silence_is_success(&e, expect) {
                    Ok(None)
                } else {
                    Err(e)
                };
            }
        }
    }

    /// Writes `self.out`, all of it, before `deadline`.
    fn send(&mut self, deadline: Instant, timeout: Duration) -> Result<(), Error> {
        let mut written = 0;
        while written < self.out.len() {
            let left = time_left(deadline, timeout)?;
            self.io.set_write_timeout(Some(left)).map_err(Error::Io)?;
            match self.io.write(&self.out[written..]) {
                Ok(0) => return Err(self.closed()),
                Ok(n) => written += n,
                Err(e) => match classify(e, timeout) {
                    Some(error) => return Err(self.failed(error)),
                    None => continue,
                },
            }
        }
        self.io.flush().map_err(|e| self.failed(Error::Io(e)))
    }

    /// Reads more of the agent's output, waiting until `deadline` at most.
    fn fill(&mut self, deadline: Instant, timeout: Duration) -> Result<(), Error> {
        loop {
            let left = time_left(deadline, timeout)?;
            self.io.set_read_timeout(Some(left)).map_err(Error::Io)?;
            match self.io.read(self.decoder.read_buf()) {
                Ok(0) => return Err(self.closed()),
                Ok(n) => {
                    self.decoder.filled(n);
                    return Ok(());
                }
                Err(e) => match classify(e, timeout) {
                    Some(error) => return Err(self.failed(error)),
                    None => continue,
                },
            }
        }
    }

    fn closed(&mut self) -> Error {
        self.state = State::Closed;
        Error::Disconnected
    }

    fn failed(&mut self, error: Error) -> Error {
        if matches!(error, Error::Disconnected) {
            self.state = State::Closed;
        }
        error
    }
}

/// The next response among the frames `decoder` holds; `None` when it needs more
/// input. Stray sentinels are skipped; other output is an error.
pub(crate) fn buffered_response(decoder: &mut Decoder) -> Result<Option<Range<usize>>, Error> {
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
pub(crate) fn silence_is_success(error: &Error, expect: Expect) -> bool {
    expect == Expect::ErrorOnly && matches!(error, Error::Timeout { .. } | Error::Disconnected)
}

/// Fails unless a response is owed to a request sent ahead and the stream is in sync.
pub(crate) fn check_owed(owed: usize, state: State) -> Result<(), Error> {
    if owed == 0 || state != State::Ready {
        return Err(Error::Protocol(
            "no response is owed to a request sent ahead".to_owned(),
        ));
    }
    Ok(())
}

/// The stream's state once a response has been decoded into `result`: out of sync if
/// the error says the stream may be.
pub(crate) fn state_after<O>(result: &Result<O, Error>, state: State) -> State {
    match result {
        Err(e) if e.desynchronises() => State::NeedsSync,
        _ => state,
    }
}

/// Whether the command `C` answers on success.
pub(crate) fn expect_of<C: Command>() -> Expect {
    if C::SUCCESS_RESPONSE {
        Expect::Response
    } else {
        Expect::ErrorOnly
    }
}

/// What is left before `deadline`, or the timeout error once nothing is.
pub(crate) fn time_left(deadline: Instant, timeout: Duration) -> Result<Duration, Error> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(Error::Timeout { timeout })
    } else {
        Ok(left)
    }
}

/// Sorts an I/O error of the stream; `None` for an interrupted call, to be retried.
pub(crate) fn classify(e: io::Error, timeout: Duration) -> Option<Error> {
    match e.kind() {
        ErrorKind::Interrupted => None,
        ErrorKind::WouldBlock | ErrorKind::TimedOut => Some(Error::Timeout { timeout }),
        ErrorKind::BrokenPipe
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::NotConnected
        | ErrorKind::UnexpectedEof => Some(Error::Disconnected),
        _ => Some(Error::Io(e)),
    }
}

/// The result of a command that succeeded without answering.
pub(crate) fn silent_success<R: DeserializeOwned>(name: &str) -> Result<R, Error> {
    serde_json::from_str("{}").map_err(|source| Error::UnexpectedReply {
        command: name.to_owned(),
        source,
    })
}

/// The start of some unexpected output, printable.
pub(crate) fn preview(bytes: &[u8]) -> String {
    const SHOWN: usize = 60;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(SHOWN)]);
    let ellipsis = if bytes.len() > SHOWN { "..." } else { "" };
    format!("{:?}{ellipsis}", text.trim_end())
}
