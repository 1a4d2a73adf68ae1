//! The blocking client: the connection's loop over a [`Transport`].
//!
//! Everything the protocol decides (the handshake, the owed responses and thaw, what a
//! failure means) is the [`Connection`]'s; everything a call or a helper decides is
//! its [`Operation`]'s. What is left here is the waiting: each write and read is given
//! what is left of its deadline as the socket's timeout.

use std::io::{self, ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use qga_types::Command;
use serde_json::Value;

use crate::address::{Address, Stream};
use crate::connection::{Connection, Exchange, Expect, Finished, Want};
use crate::error::Error;
use crate::operation::{self, Operation, Outcome, Step};
use crate::options::Options;
use crate::transport::Transport;

/// A blocking client of one agent, over any [`Transport`].
///
/// A new client, and one whose last call timed out or read something that was not a
/// response, synchronises before its next call (see [`Client::sync`]). Every call has
/// a deadline.
#[derive(Debug)]
pub struct Client<T> {
    io: T,
    conn: Connection,
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

    /// The stream.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// The stream; writing to it or reading from it makes the client resynchronise.
    pub fn get_mut(&mut self) -> &mut T {
        self.conn.desync();
        &mut self.io
    }

    /// Gives the stream back.
    pub fn into_inner(self) -> T {
        self.io
    }

    /// Whether the client will resynchronise before its next call.
    pub fn needs_sync(&self) -> bool {
        self.conn.needs_sync()
    }

    /// Calls the command `C` and returns its result.
    ///
    /// For a command that does not answer on success (`C::SUCCESS_RESPONSE` is false),
    /// silence or a closed connection within [`Options::no_response_wait`] is success,
    /// and the result is `C::Returns` read from `{}`.
    pub fn call<C: Command>(&mut self, arguments: &C::Arguments) -> Result<C::Returns, Error> {
        self.call_with_timeout::<C>(arguments, self.options().timeout)
    }

    /// [`Client::call`] with its own timeout.
    pub fn call_with_timeout<C: Command>(
        &mut self,
        arguments: &C::Arguments,
        timeout: Duration,
    ) -> Result<C::Returns, Error> {
        self.perform(&mut operation::call::<C>(arguments, timeout))
    }

    /// Calls the command `C` with typed arguments and returns its result as the JSON
    /// the agent sent, members the schema lacks included: for a tool that shows the
    /// agent's answers as they are. A command without a success response gives `{}`
    /// when the agent stays silent, as [`Client::call`] does.
    pub fn call_json<C: Command>(&mut self, arguments: &C::Arguments) -> Result<Value, Error> {
        let timeout = self.options().timeout;
        self.perform(&mut operation::call_json::<C>(arguments, timeout))
    }

    /// Calls the command `name` with JSON `arguments` and returns the JSON result.
    pub fn call_raw(&mut self, name: &str, arguments: Option<&Value>) -> Result<Value, Error> {
        let timeout = self.options().timeout;
        let op = &mut operation::call_raw(name, arguments, Expect::Response, timeout);
        // It answers: the result is always there.
        Ok(self.perform(op)?.unwrap_or(Value::Null))
    }

    /// Calls `name`, a command that does not answer on success (guest-shutdown,
    /// guest-suspend-*), with JSON `arguments`. `None` is the usual success; an agent
    /// that answers anyway gives `Some`.
    pub fn call_raw_no_response(
        &mut self,
        name: &str,
        arguments: Option<&Value>,
    ) -> Result<Option<Value>, Error> {
        let timeout = self.options().timeout;
        self.perform(&mut operation::call_raw(
            name,
            arguments,
            Expect::ErrorOnly,
            timeout,
        ))
    }

    /// Synchronises with the agent: sends `0xFF` and `guest-sync-delimited` with a fresh
    /// random id and drops everything up to the answer. Tries
    /// [`Options::sync_attempts`] times, each waiting [`Options::sync_timeout`].
    pub fn sync(&mut self) -> Result<(), Error> {
        self.exchange(Exchange::Sync).map(drop)
    }

    /// Runs `op`, which has no local input or output.
    pub(crate) fn perform<O: Operation>(&mut self, op: &mut O) -> O::Output {
        self.run(op, &mut io::sink(), &mut io::empty())
    }

    /// Runs `op` to its end, with `out` as its local output and `input` as its input.
    pub(crate) fn run<O, W, R>(&mut self, op: &mut O, out: &mut W, input: &mut R) -> O::Output
    where
        O: Operation,
        W: Write + ?Sized,
        R: Read + ?Sized,
    {
        let mut last = Outcome::Ok;
        loop {
            last = match op.next(last, self.conn.request()) {
                Step::Exchange(exchange) => {
                    let finished = self.exchange(exchange);
                    Outcome::of_exchange(op, &mut self.conn, finished)
                }
                Step::Output(bytes) => Outcome::local(out.write_all(bytes)),
                Step::Flush => Outcome::local(out.flush()),
                Step::Input(buf) => Outcome::read(input.read(buf)),
                Step::Sleep(pause) => {
                    std::thread::sleep(pause);
                    Outcome::Ok
                }
                Step::Done(output) => return output,
            };
        }
    }

    /// Runs one exchange: writes and reads as the connection asks.
    fn exchange(&mut self, exchange: Exchange) -> Result<Finished, Error> {
        self.conn.begin(exchange);
        loop {
            match self.conn.poll(Instant::now()) {
                Want::Write(deadline) => {
                    match write_all(&mut self.io, self.conn.output(), deadline) {
                        Ok(()) => self.conn.sent(),
                        Err(e) => self.conn.failed(e),
                    }
                }
                Want::Read(deadline) => match read(&mut self.io, self.conn.read_buf(), deadline) {
                    Ok(n) => self.conn.filled(n),
                    Err(e) => self.conn.failed(e),
                },
                Want::Done(finished) => return finished,
            }
        }
    }
}

/// Writes all of `bytes` and flushes them before `deadline`.
fn write_all<T: Transport>(io: &mut T, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
    while !bytes.is_empty() {
        io.set_write_timeout(Some(time_left(deadline)?))?;
        match io.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    io.flush()
}

/// Reads once into `buf`, waiting until `deadline` at most.
fn read<T: Transport>(io: &mut T, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
    loop {
        io.set_read_timeout(Some(time_left(deadline)?))?;
        match io.read(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}

/// What is left before `deadline`; a timeout once nothing is.
fn time_left(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(ErrorKind::TimedOut.into())
    } else {
        Ok(left)
    }
}
