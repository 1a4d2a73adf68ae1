//! The tokio client: the blocking client's protocol, over `AsyncRead + AsyncWrite`.
//!
//! Deadlines are tokio timers rather than socket timeouts, so any tokio stream works.
//! A call whose future is dropped half-way leaves the stream in an unknown state; like
//! a timed-out call, it makes the client resynchronise before its next call.
//!
//! The stream can be away for a while: a [`crate::AsyncFreezeGuard`] dropped while its
//! filesystems are still frozen lends it to a task that thaws them (a destructor
//! cannot wait). The client's next call waits for it to come back, so requests never
//! interleave; see [`crate::AsyncFreezeGuard`].

use std::time::Duration;

use qga_types::{Command, Empty};
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::address::{Address, AsyncStream};
use crate::client::{
    buffered_response, check_owed, classify, expect_of, silence_is_success, silent_success,
    state_after, Expect, State,
};
use crate::error::Error;
use crate::framing::Decoder;
use crate::helpers::freeze::THAW;
use crate::helpers::info::{supports_in, AGENT_INFO};
use crate::message::{decode_reply, encode_request, encode_sync};
use crate::options::Options;
use crate::sync;

/// A client of one agent for tokio, over any `AsyncRead + AsyncWrite` stream.
#[derive(Debug)]
pub struct AsyncClient<T> {
    /// The stream; `None` while a background thaw has it (see `lent`).
    io: Option<T>,
    /// Where a background thaw gives the stream back, with whether a thaw is still
    /// owed (it could not reach the agent).
    lent: Option<oneshot::Receiver<(T, bool)>>,
    /// Filesystems a dropped freeze guard left frozen: thaw before the next call.
    thaw_owed: bool,
    decoder: Decoder,
    out: Vec<u8>,
    options: Options,
    state: State,
    /// Responses still to come for requests sent ahead ([`AsyncClient::send_ahead`]).
    owed: usize,
}

impl AsyncClient<AsyncStream> {
    /// Connects to the agent at `address` and synchronises with it.
    pub async fn connect(
        address: &Address,
        options: Options,
    ) -> Result<AsyncClient<AsyncStream>, Error> {
        let connect_error = |source| Error::Connect {
            address: address.to_string(),
            source,
        };
        let stream = match tokio::time::timeout(options.timeout, address.connect_async()).await {
            Ok(stream) => stream.map_err(connect_error)?,
            Err(_) => return Err(connect_error(std::io::ErrorKind::TimedOut.into())),
        };
        let mut client = AsyncClient::with_options(stream, options);
        client.sync().await?;
        Ok(client)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncClient<T> {
    /// A client over `io` with default options. It synchronises on its first call.
    pub fn new(io: T) -> AsyncClient<T> {
        AsyncClient::with_options(io, Options::default())
    }

    /// A client over `io`. It synchronises on its first call.
    pub fn with_options(io: T, options: Options) -> AsyncClient<T> {
        AsyncClient {
            io: Some(io),
            lent: None,
            thaw_owed: false,
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

    /// The stream; `None` while a background thaw has it (any call, or
    /// [`AsyncClient::sync`], waits for it to come back).
    pub fn get_ref(&self) -> Option<&T> {
        self.io.as_ref()
    }

    /// The stream, as [`AsyncClient::get_ref`]; using it makes the client
    /// resynchronise.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.state = State::NeedsSync;
        self.io.as_mut()
    }

    /// Gives the stream back; `None` while a background thaw has it.
    pub fn into_inner(self) -> Option<T> {
        self.io
    }

    /// Whether the client will resynchronise before its next call.
    pub fn needs_sync(&self) -> bool {
        self.state == State::NeedsSync
    }

    /// Calls the command `C` and returns its result; see [`crate::Client::call`].
    pub async fn call<C: Command>(
        &mut self,
        arguments: &C::Arguments,
    ) -> Result<C::Returns, Error> {
        let timeout = self.options.timeout;
        self.call_with_timeout::<C>(arguments, timeout).await
    }

    /// [`AsyncClient::call`] with its own timeout.
    pub async fn call_with_timeout<C: Command>(
        &mut self,
        arguments: &C::Arguments,
        timeout: Duration,
    ) -> Result<C::Returns, Error> {
        let expect = expect_of::<C>();
        let reply = self
            .call_with(C::NAME, Some(arguments), expect, timeout, |bytes| {
                decode_reply::<C::Returns>(C::NAME, bytes)
            })
            .await?;
        match reply {
            Some(value) => Ok(value),
            None => silent_success::<C::Returns>(C::NAME),
        }
    }

    /// Calls the command `C` with typed arguments and returns its result as the JSON
    /// the agent sent; see [`crate::Client::call_json`].
    pub async fn call_json<C: Command>(
        &mut self,
        arguments: &C::Arguments,
    ) -> Result<Value, Error> {
        let timeout = self.options.timeout;
        let reply = self
            .call_with(C::NAME, Some(arguments), expect_of::<C>(), timeout, |b| {
                decode_reply::<Value>(C::NAME, b)
            })
            .await?;
        Ok(reply.unwrap_or_else(|| Value::Object(serde_json::Map::new())))
    }

    /// Calls the command `name` with JSON `arguments` and returns the JSON result.
    pub async fn call_raw(
        &mut self,
        name: &str,
        arguments: Option<&Value>,
    ) -> Result<Value, Error> {
        let timeout = self.options.timeout;
        let reply = self
            .call_with(name, arguments, Expect::Response, timeout, |b| {
                decode_reply(name, b)
            })
            .await?;
        Ok(reply.unwrap_or(Value::Null))
    }

    /// Calls `name`, a command that does not answer on success; see
    /// [`crate::Client::call_raw_no_response`].
    pub async fn call_raw_no_response(
        &mut self,
        name: &str,
        arguments: Option<&Value>,
    ) -> Result<Option<Value>, Error> {
        let timeout = self.options.timeout;
        self.call_with(name, arguments, Expect::ErrorOnly, timeout, |b| {
            decode_reply(name, b)
        })
        .await
    }

    /// Whether the agent has `command` and has it enabled (from `guest-info`).
    pub async fn supports(&mut self, command: &str) -> Result<bool, Error> {
        let timeout = self.options.timeout;
        let reply = self
            .call_with::<Value, _>(AGENT_INFO, None, Expect::Response, timeout, |bytes| {
                supports_in(bytes, command)
            })
            .await?;
        Ok(reply.unwrap_or(false))
    }

    /// Synchronises with the agent; see [`crate::Client::sync`].
    pub async fn sync(&mut self) -> Result<(), Error> {
        self.reclaim().await?;
        let mut last = Error::Timeout {
            timeout: self.options.sync_timeout,
        };
        for _ in 0..self.options.sync_attempts.max(1) {
            match self.sync_once().await {
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

    async fn sync_once(&mut self) -> Result<(), Error> {
        let timeout = self.options.sync_timeout;
        let deadline = Instant::now() + timeout;
        let id = sync::new_id();
        self.state = State::NeedsSync;
        // Whatever is buffered is stale, and so is any response still owed.
        self.owed = 0;
        self.decoder.clear();
        self.out.clear();
        encode_sync(&mut self.out, id);
        self.send(deadline, timeout).await?;
        while !sync::find_reply(&mut self.decoder, id) {
            self.fill(deadline, timeout).await?;
        }
        Ok(())
    }

    /// Sends a request and hands the response's bytes to `decode`; see
    /// `Client::call_with`.
    pub(crate) async fn call_with<A, O>(
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
        .await
    }

    /// [`AsyncClient::call_with`] for a request that `encode` writes itself.
    pub(crate) async fn call_encoded<O>(
        &mut self,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), Error>,
        expect: Expect,
        timeout: Duration,
        decode: impl FnOnce(&[u8]) -> Result<O, Error>,
    ) -> Result<Option<O>, Error> {
        self.settle().await?;
        self.out.clear();
        encode(&mut self.out)?;
        let Some(range) = self.exchange(expect, timeout).await? else {
            return Ok(None);
        };
        let result = decode(self.decoder.bytes(range));
        self.state = state_after(&result, self.state);
        result.map(Some)
    }

    /// Calls `name`, a freeze answered by a count. A freeze cancelled half-way may have
    /// frozen the guest with no guard to thaw it, so until the agent has answered, a
    /// thaw is owed: the next call would thaw first.
    pub(crate) async fn call_freeze<A: Serialize + ?Sized>(
        &mut self,
        name: &str,
        arguments: Option<&A>,
        timeout: Duration,
    ) -> Result<i64, Error> {
        self.settle().await?;
        self.out.clear();
        encode_request(&mut self.out, name, arguments)?;
        self.thaw_owed = true;
        let result = match self.exchange(Expect::Response, timeout).await {
            Ok(Some(range)) => decode_reply::<i64>(name, self.decoder.bytes(range)),
            Ok(None) => Err(Error::Disconnected),
            Err(e) => Err(e),
        };
        // Not cancelled: the caller deals with the outcome.
        self.thaw_owed = false;
        self.state = state_after(&result, self.state);
        result
    }

    /// Waits for a lent stream to come back.
    async fn reclaim(&mut self) -> Result<(), Error> {
        if let Some(lent) = &mut self.lent {
            // Awaited by reference: a call dropped here leaves the receiver in place.
            let back = lent.await;
            self.lent = None;
            match back {
                Ok((io, owed)) => {
                    self.io = Some(io);
                    self.thaw_owed |= owed;
                    // The thaw's client read from the stream, not this one.
                    self.decoder.clear();
                    self.state = State::NeedsSync;
                }
                // The task ended without giving the stream back (its runtime shut
                // down): the connection is gone with it.
                Err(_) => self.state = State::Closed,
            }
        }
        if self.io.is_none() {
            self.state = State::Closed;
            return Err(Error::Disconnected);
        }
        Ok(())
    }

    /// Gets the stream back if it is lent, and thaws if a thaw is owed.
    async fn settle(&mut self) -> Result<(), Error> {
        self.reclaim().await?;
        if self.thaw_owed {
            let timeout = self.options.timeout;
            self.out.clear();
            encode_request::<Empty>(&mut self.out, THAW, None)?;
            let thawed = match self.exchange(Expect::Response, timeout).await {
                Ok(Some(range)) => decode_reply::<i64>(THAW, self.decoder.bytes(range)).map(drop),
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            match thawed {
                // The agent answered: a retry could do no more.
                Ok(()) => self.thaw_owed = false,
                Err(e) if e.is_agent_error() => self.thaw_owed = false,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Lends the stream to a task on the current tokio runtime that thaws the guest's
    /// filesystems; without a runtime, the next call thaws first.
    pub(crate) fn thaw_in_background(&mut self)
    where
        T: Send + 'static,
    {
        let handle = match tokio::runtime::Handle::try_current() {
            Ok(handle) if self.io.is_some() => handle,
            _ => {
                self.thaw_owed = true;
                return;
            }
        };
        let Some(io) = self.io.take() else { return };
        let (give_back, lent) = oneshot::channel();
        let options = self.options.clone();
        handle.spawn(async move {
            // A client of its own: it synchronises first, whatever this one left.
            let mut client = AsyncClient::with_options(io, options);
            let owed = match client.thaw().await {
                Ok(_) => false,
                Err(e) => !e.is_agent_error(),
            };
            if let Some(io) = client.io.take() {
                // The client may be gone; the stream then closes here.
                let _ = give_back.send((io, owed));
            }
        });
        self.lent = Some(lent);
        self.state = State::NeedsSync;
    }

    async fn exchange(
        &mut self,
        expect: Expect,
        timeout: Duration,
    ) -> Result<Option<std::ops::Range<usize>>, Error> {
        if self.owed > 0 {
            // A copy that sent ahead stopped (on an error, or dropped) before reading
            // every response: they would be taken for this request's.
            self.state = State::NeedsSync;
        }
        self.make_ready().await?;
        let wait = match expect {
            Expect::Response => timeout,
            Expect::ErrorOnly => timeout.min(self.options.no_response_wait),
        };
        let deadline = Instant::now() + wait;
        self.state = State::NeedsSync;
        self.send(deadline, timeout).await?;
        self.next_response(expect, deadline, timeout).await
    }

    /// Synchronises if the stream's state is unknown; fails if the agent has gone.
    async fn make_ready(&mut self) -> Result<(), Error> {
        match self.state {
            State::Ready => Ok(()),
            State::NeedsSync => {
                let request = std::mem::take(&mut self.out);
                let synced = self.sync().await;
                self.out = request;
                synced
            }
            State::Closed => Err(Error::Disconnected),
        }
    }

    /// Sends the request `encode` writes without waiting for its response; see
    /// `Client::send_ahead`.
    pub(crate) async fn send_ahead(
        &mut self,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), Error>,
        timeout: Duration,
    ) -> Result<(), Error> {
        if self.owed == 0 {
            self.settle().await?;
        }
        self.out.clear();
        encode(&mut self.out)?;
        if self.owed == 0 {
            self.make_ready().await?;
        }
        let deadline = Instant::now() + timeout;
        self.state = State::NeedsSync;
        self.send(deadline, timeout).await?;
        self.state = State::Ready;
        self.owed += 1;
        Ok(())
    }

    /// Reads the response to the oldest request sent ahead and hands its bytes to
    /// `decode`.
    pub(crate) async fn receive<O>(
        &mut self,
        timeout: Duration,
        decode: impl FnOnce(&[u8]) -> Result<O, Error>,
    ) -> Result<O, Error> {
        check_owed(self.owed, self.state)?;
        let deadline = Instant::now() + timeout;
        self.state = State::NeedsSync;
        let range = self
            .next_response(Expect::Response, deadline, timeout)
            .await?
            .ok_or(Error::Disconnected)?;
        self.owed -= 1;
        let result = decode(self.decoder.bytes(range));
        self.state = state_after(&result, self.state);
        result
    }

    /// Reads frames up to the next response; see `Client::next_response`.
    async fn next_response(
        &mut self,
        expect: Expect,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Option<std::ops::Range<usize>>, Error> {
        loop {
            if let Some(range) = buffered_response(&mut self.decoder)? {
                self.state = State::Ready;
                return Ok(Some(range));
            }
            if let Err(e) = self.fill(deadline, timeout).await {
                return if silence_is_success(&e, expect) {
                    Ok(None)
                } else {
                    Err(e)
                };
            }
        }
    }

    async fn send(&mut self, deadline: Instant, timeout: Duration) -> Result<(), Error> {
        let Some(io) = self.io.as_mut() else {
            return Err(self.failed(Error::Disconnected));
        };
        let out = &self.out;
        let write = async {
            io.write_all(out).await?;
            io.flush().await
        };
        let result = match tokio::time::timeout_at(deadline, write).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => classify(e, timeout)
                .unwrap_or_else(|| Error::Io(std::io::ErrorKind::Interrupted.into())),
            Err(_) => Error::Timeout { timeout },
        };
        Err(self.failed(result))
    }

    async fn fill(&mut self, deadline: Instant, timeout: Duration) -> Result<(), Error> {
        loop {
            let Some(io) = self.io.as_mut() else {
                return Err(self.failed(Error::Disconnected));
            };
            let read = tokio::time::timeout_at(deadline, io.read(self.decoder.read_buf())).await;
            let error = match read {
                Ok(Ok(0)) => Error::Disconnected,
                Ok(Ok(n)) => {
                    self.decoder.filled(n);
                    return Ok(());
                }
                Ok(Err(e)) => match classify(e, timeout) {
                    Some(error) => error,
                    None => continue,
                },
                Err(_) => Error::Timeout { timeout },
            };
            return Err(self.failed(error));
        }
    }

    fn failed(&mut self, error: Error) -> Error {
        if matches!(error, Error::Disconnected) {
            self.state = State::Closed;
        }
        error
    }
}
