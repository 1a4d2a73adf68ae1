//! The tokio client: the connection's loop over `AsyncRead + AsyncWrite`.
//!
//! The same [`Connection`] and [`Operation`]s as the blocking client; deadlines are
//! tokio timers rather than socket timeouts, so any tokio stream works. A call whose
//! future is dropped half-way leaves the stream in an unknown state; like a timed-out
//! call, it makes the client resynchronise before its next call.
//!
//! The stream can be away for a while: a [`crate::AsyncFreezeGuard`] dropped while its
//! filesystems are still frozen lends it to a task that thaws them (a destructor
//! cannot wait). The client's next exchange waits for it to come back, so requests
//! never interleave; see [`AsyncClient::lend`].

use std::future::Future;
use std::io::ErrorKind;
use std::time::Duration;

use qga_types::Command;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::address::{Address, AsyncStream};
use crate::connection::{Connection, Exchange, Expect, Finished, Want};
use crate::error::Error;
use crate::operation::{self, Operation, Outcome, Step};
use crate::options::Options;

/// A client of one agent for tokio, over any `AsyncRead + AsyncWrite` stream.
#[derive(Debug)]
pub struct AsyncClient<T> {
    /// The stream; `None` while a task has it (see `lent`).
    io: Option<T>,
    /// Where a task that borrowed the stream gives it back, with the client it used.
    lent: Option<oneshot::Receiver<AsyncClient<T>>>,
    conn: Connection,
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
            Err(_) => return Err(connect_error(ErrorKind::TimedOut.into())),
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
            conn: Connection::new(options),
        }
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        self.conn.options()
    }

    /// Changes the time a call may take.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.conn.set_timeout(timeout);
    }

    /// The stream; `None` while a background thaw has it (any call, or
    /// [`AsyncClient::sync`], waits for it to come back).
    pub fn get_ref(&self) -> Option<&T> {
        self.io.as_ref()
    }

    /// The stream, as [`AsyncClient::get_ref`]; using it makes the client
    /// resynchronise.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.conn.desync();
        self.io.as_mut()
    }

    /// Gives the stream back; `None` while a background thaw has it.
    pub fn into_inner(self) -> Option<T> {
        self.io
    }

    /// Whether the client will resynchronise before its next call.
    pub fn needs_sync(&self) -> bool {
        self.conn.needs_sync()
    }

    /// Calls the command `C` and returns its result; see [`crate::Client::call`].
    pub async fn call<C: Command>(
        &mut self,
        arguments: &C::Arguments,
    ) -> Result<C::Returns, Error> {
        let timeout = self.options().timeout;
        self.call_with_timeout::<C>(arguments, timeout).await
    }

    /// [`AsyncClient::call`] with its own timeout.
    pub async fn call_with_timeout<C: Command>(
        &mut self,
        arguments: &C::Arguments,
        timeout: Duration,
    ) -> Result<C::Returns, Error> {
        self.perform(&mut operation::call::<C>(arguments, timeout))
            .await
    }

    /// Calls the command `C` with typed arguments and returns its result as the JSON
    /// the agent sent; see [`crate::Client::call_json`].
    pub async fn call_json<C: Command>(
        &mut self,
        arguments: &C::Arguments,
    ) -> Result<Value, Error> {
        let timeout = self.options().timeout;
        self.perform(&mut operation::call_json::<C>(arguments, timeout))
            .await
    }

    /// Calls the command `name` with JSON `arguments` and returns the JSON result.
    pub async fn call_raw(
        &mut self,
        name: &str,
        arguments: Option<&Value>,
    ) -> Result<Value, Error> {
        let timeout = self.options().timeout;
        let op = &mut operation::call_raw(name, arguments, Expect::Response, timeout);
        // It answers: the result is always there.
        Ok(self.perform(op).await?.unwrap_or(Value::Null))
    }

    /// Calls `name`, a command that does not answer on success; see
    /// [`crate::Client::call_raw_no_response`].
    pub async fn call_raw_no_response(
        &mut self,
        name: &str,
        arguments: Option<&Value>,
    ) -> Result<Option<Value>, Error> {
        let timeout = self.options().timeout;
        let op = &mut operation::call_raw(name, arguments, Expect::ErrorOnly, timeout);
        self.perform(op).await
    }

    /// Synchronises with the agent; see [`crate::Client::sync`].
    pub async fn sync(&mut self) -> Result<(), Error> {
        self.exchange(Exchange::Sync).await.map(drop)
    }

    /// Owes a thaw: the next request is preceded by one.
    pub(crate) fn owe_thaw(&mut self) {
        self.conn.owe_thaw();
    }

    /// Runs `op`, which has no local input or output.
    pub(crate) async fn perform<O: Operation>(&mut self, op: &mut O) -> O::Output {
        self.run(op, &mut tokio::io::sink(), &mut tokio::io::empty())
            .await
    }

    /// Runs `op` to its end, with `out` as its local output and `input` as its input.
    pub(crate) async fn run<O, W, R>(&mut self, op: &mut O, out: &mut W, input: &mut R) -> O::Output
    where
        O: Operation,
        W: AsyncWrite + Unpin + ?Sized,
        R: AsyncRead + Unpin + ?Sized,
    {
        let mut last = Outcome::Ok;
        loop {
            last = match op.next(last, self.conn.request()) {
                Step::Exchange(exchange) => {
                    let finished = self.exchange(exchange).await;
                    Outcome::of_exchange(op, &mut self.conn, finished)
                }
                Step::Output(bytes) => Outcome::local(out.write_all(bytes).await),
                Step::Flush => Outcome::local(out.flush().await),
                Step::Input(buf) => Outcome::read(input.read(buf).await),
                Step::Sleep(pause) => {
                    tokio::time::sleep(pause).await;
                    Outcome::Ok
                }
                Step::Done(output) => return output,
            };
        }
    }

    /// Runs one exchange: writes and reads as the connection asks, once the stream is
    /// back if it was lent.
    async fn exchange(&mut self, exchange: Exchange) -> Result<Finished, Error> {
        self.reclaim().await?;
        self.conn.begin(exchange);
        loop {
            let Some(io) = self.io.as_mut() else {
                // Cannot be: reclaim() found the stream, and only lend() takes it.
                return Err(Error::Disconnected);
            };
            match self.conn.poll(std::time::Instant::now()) {
                Want::Write(deadline) => {
                    let out = self.conn.output();
                    let write = async {
                        io.write_all(out).await?;
                        io.flush().await
                    };
                    match tokio::time::timeout_at(Instant::from_std(deadline), write).await {
                        Ok(Ok(())) => self.conn.sent(),
                        Ok(Err(e)) => self.conn.failed(e),
                        Err(_) => self.conn.failed(ErrorKind::TimedOut.into()),
                    }
                }
                Want::Read(deadline) => {
                    let read = io.read(self.conn.read_buf());
                    match tokio::time::timeout_at(Instant::from_std(deadline), read).await {
                        Ok(Ok(n)) => self.conn.filled(n),
                        // Nothing was read: read again.
                        Ok(Err(e)) if e.kind() == ErrorKind::Interrupted => {}
                        Ok(Err(e)) => self.conn.failed(e),
                        Err(_) => self.conn.failed(ErrorKind::TimedOut.into()),
                    }
                }
                Want::Done(finished) => return finished,
            }
        }
    }

    /// Waits for a lent stream to come back.
    async fn reclaim(&mut self) -> Result<(), Error> {
        if let Some(lent) = &mut self.lent {
            // Awaited by reference: a call dropped here leaves the receiver in place.
            let back = lent.await;
            self.lent = None;
            match back {
                Ok(mut borrower) => {
                    self.io = borrower.io.take();
                    // It read from the stream, not this client; and a thaw it owes
                    // is owed here.
                    self.conn.take_back(borrower.conn.thaw_owed());
                }
                // The task ended without giving the stream back (its runtime shut
                // down): the connection is gone with it.
                Err(_) => self.conn.close(),
            }
        }
        if self.io.is_none() {
            self.conn.close();
            return Err(Error::Disconnected);
        }
        Ok(())
    }

    /// Lends the stream to a task on the current tokio runtime: `task` is given a
    /// client of its own over it (which synchronises first, whatever this one left)
    /// and gives it back when done. This client's next exchange waits for it, takes
    /// the stream back and owes what the task's client still owes. False, and nothing
    /// lent, without a runtime to spawn on or a stream to lend.
    pub(crate) fn lend<F, Fut>(&mut self, task: F) -> bool
    where
        T: Send + 'static,
        F: FnOnce(AsyncClient<T>) -> Fut,
        Fut: Future<Output = AsyncClient<T>> + Send + 'static,
    {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        let Some(io) = self.io.take() else {
            return false;
        };
        let (give_back, lent) = oneshot::channel();
        let borrower = task(AsyncClient::with_options(io, self.options().clone()));
        handle.spawn(async move {
            // This client may be gone; the stream then closes here.
            let _ = give_back.send(borrower.await);
        });
        self.lent = Some(lent);
        self.conn.desync();
        true
    }
}
