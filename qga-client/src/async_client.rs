//! The tokio client: the blocking client's protocol, over `AsyncRead + AsyncWrite`.
//!
//! Deadlines are tokio timers rather than socket timeouts, so any tokio stream works.
//! A call whose future is dropped half-way leaves the stream in an unknown state; like
//! a timed-out call, it makes the client resynchronise before its next call.

use std::time::Duration;

use qga_types::Command;
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::address::{Address, AsyncStream};
use crate::client::{classify, expect_of, preview, silent_success, Expect, State};
use crate::error::Error;
use crate::framing::{Decoder, Frame};
use crate::helpers::info::{supports_in, AGENT_INFO};
use crate::message::{decode_reply, encode_request, encode_sync};
use crate::options::Options;
use crate::sync;

/// A client of one agent for tokio, over any `AsyncRead + AsyncWrite` stream.
#[derive(Debug)]
pub struct AsyncClient<T> {
    io: T,
    decoder: Decoder,
    out: Vec<u8>,
    options: Options,
    state: State,
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
            io,
            decoder: Decoder::new(options.max_response),
            out: Vec::new(),
            options,
            state: State::NeedsSync,
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

    /// The stream; using it makes the client resynchronise.
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
        self.decoder.clear();
        self.out.clear();
        encode_sync(&mut self.out, id);
        self.send(deadline, timeout).await?;
        loop {
            loop {
                match self.decoder.next_frame() {
                    Ok(Some(Frame::Message(range))) => {
                        if sync::is_reply(self.decoder.bytes(range), id) {
                            return Ok(());
                        }
                    }
                    Ok(Some(Frame::Sentinel | Frame::Garbage(_))) | Err(_) => {}
                    Ok(None) => break,
                }
            }
            self.fill(deadline, timeout).await?;
        }
    }

    async fn call_with<A, O>(
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
        self.out.clear();
        encode_request(&mut self.out, name, arguments)?;
        let Some(range) = self.exchange(expect, timeout).await? else {
            return Ok(None);
        };
        let result = decode(self.decoder.bytes(range));
        if let Err(e) = &result {
            if e.desynchronises() {
                self.state = State::NeedsSync;
            }
        }
        result.map(Some)
    }

    async fn exchange(
        &mut self,
        expect: Expect,
        timeout: Duration,
    ) -> Result<Option<std::ops::Range<usize>>, Error> {
        match self.state {
            State::Ready => {}
            State::NeedsSync => {
                let request = std::mem::take(&mut self.out);
                let synced = self.sync().await;
                self.out = request;
                synced?;
            }
            State::Closed => return Err(Error::Disconnected),
        }
        let wait = match expect {
            Expect::Response => timeout,
            Expect::ErrorOnly => timeout.min(self.options.no_response_wait),
        };
        let deadline = Instant::now() + wait;
        self.state = State::NeedsSync;
        self.send(deadline, timeout).await?;
        loop {
            match self.decoder.next_frame() {
                Ok(Some(Frame::Message(range))) => {
                    self.state = State::Ready;
                    return Ok(Some(range));
                }
                Ok(Some(Frame::Sentinel)) => continue,
                Ok(Some(Frame::Garbage(range))) => {
                    return Err(Error::Protocol(format!(
                        "unexpected output from the agent: {}",
                        preview(self.decoder.bytes(range))
                    )))
                }
                Err(too_large) => {
                    return Err(Error::Protocol(format!(
                        "a response longer than {} bytes",
                        too_large.limit
                    )))
                }
                Ok(None) => {}
            }
            match (self.fill(deadline, timeout).await, expect) {
                (Ok(()), _) => {}
                (Err(Error::Timeout { .. } | Error::Disconnected), Expect::ErrorOnly) => {
                    return Ok(None)
                }
                (Err(e), _) => return Err(e),
            }
        }
    }

    async fn send(&mut self, deadline: Instant, timeout: Duration) -> Result<(), Error> {
        let write = async {
            self.io.write_all(&self.out).await?;
            self.io.flush().await
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
            let read =
                tokio::time::timeout_at(deadline, self.io.read(self.decoder.read_buf())).await;
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
