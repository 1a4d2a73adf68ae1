//! What a client does for a caller, as steps without I/O.
//!
//! A call, and each helper built from several (a file copy, running a program, a
//! freeze), is an [`Operation`]: it says what to do next, a [`Step`], and is told how
//! that went, an [`Outcome`]; the response to an exchange is handed to
//! [`Operation::reply`] to read. Each client runs every operation in one loop of its
//! own (`Client::run`, `AsyncClient::run`), which does the I/O the steps ask for:
//! exchanges with the agent through the [`Connection`], the local output and input,
//! the pauses. So a helper is written once for both clients, and tested by feeding it
//! replies.

use std::io;
use std::time::Duration;

use qga_types::Command;
use serde_json::Value;

use crate::connection::{Call, Connection, Exchange, Expect, Finished};
use crate::error::Error;
use crate::message::{decode, decode_reply, encode, encode_request};

/// What an operation asks its client to do next.
#[derive(Debug)]
pub(crate) enum Step<'a, T> {
    /// Run this exchange with the agent: the request it sends is what the operation
    /// wrote into the buffer [`Operation::next`] was given; the response it receives
    /// goes to [`Operation::reply`].
    Exchange(Exchange),
    /// Write all of these bytes to the local output.
    Output(&'a [u8]),
    /// Flush the local output.
    Flush,
    /// Read once from the local input into this buffer ([`Outcome::Read`] says how
    /// much).
    Input(&'a mut [u8]),
    /// Pause for so long.
    Sleep(Duration),
    /// The operation is over, with this result.
    Done(T),
}

/// How the last step went.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Well (or there was none yet: the operation starts).
    Ok,
    /// An [`Step::Input`] read this many bytes; 0 is the end of the input.
    Read(usize),
    /// It failed: the exchange, the local output or input ([`Error::Local`]), or the
    /// reading of the response.
    Failed(Error),
}

impl Outcome {
    /// The outcome of local output.
    pub(crate) fn local(result: io::Result<()>) -> Outcome {
        match result {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::Failed(Error::Local(e)),
        }
    }

    /// The outcome of local input.
    pub(crate) fn read(result: io::Result<usize>) -> Outcome {
        match result {
            Ok(n) => Outcome::Read(n),
            Err(e) => Outcome::Failed(Error::Local(e)),
        }
    }

    /// The outcome of an exchange, once `op` has read its response, if there was one;
    /// the connection learns whether that left the stream in doubt.
    pub(crate) fn of_exchange<O: Operation + ?Sized>(
        op: &mut O,
        conn: &mut Connection,
        exchange: Result<Finished, Error>,
    ) -> Outcome {
        let read = match exchange {
            Ok(Finished::Response) => op.reply(Some(conn.response())),
            Ok(Finished::Silent) => op.reply(None),
            Ok(Finished::Sent | Finished::Synced) => Ok(()),
            // The connection has drawn its own conclusions.
            Err(e) => return Outcome::Failed(e),
        };
        conn.decoded(&read);
        match read {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::Failed(e),
        }
    }
}

/// Something a client does for its caller, as steps; see the module's documentation.
pub(crate) trait Operation {
    /// What the caller gets.
    type Output;

    /// The next step, given how the last went. A step that sends a request writes it
    /// into `request` (empty).
    fn next(&mut self, last: Outcome, request: &mut Vec<u8>) -> Step<'_, Self::Output>;

    /// Reads the response to the last exchange; `None` when a command that answers
    /// only on failure stayed silent. An error returned here is the step's
    /// [`Outcome::Failed`].
    fn reply(&mut self, response: Option<&[u8]>) -> Result<(), Error>;
}

/// One request and the reading of its response.
struct Single<E, D, S, R> {
    /// Writes the request; `None` once it has.
    encode: Option<E>,
    call: Call,
    /// Reads the response.
    decode: D,
    /// The result when the command stayed silent.
    silent: S,
    result: Option<R>,
}

impl<E, D, S, R> Single<E, D, S, R>
where
    E: FnOnce(&mut Vec<u8>) -> Result<(), Error>,
    D: FnMut(&[u8]) -> Result<R, Error>,
    S: FnMut() -> Result<R, Error>,
{
    /// The request `encode` writes, sent as `call`; its response read by `decode`, and
    /// silence (when `call` allows it) meaning what `silent` says.
    fn new(encode: E, call: Call, decode: D, silent: S) -> Self {
        Single {
            encode: Some(encode),
            call,
            decode,
            silent,
            result: None,
        }
    }
}

impl<E, D, S, R> Operation for Single<E, D, S, R>
where
    E: FnOnce(&mut Vec<u8>) -> Result<(), Error>,
    D: FnMut(&[u8]) -> Result<R, Error>,
    S: FnMut() -> Result<R, Error>,
{
    type Output = Result<R, Error>;

    fn next(&mut self, last: Outcome, request: &mut Vec<u8>) -> Step<'_, Result<R, Error>> {
        if let Some(encode) = self.encode.take() {
            return match encode(request) {
                Ok(()) => Step::Exchange(Exchange::Call(self.call)),
                Err(e) => Step::Done(Err(e)),
            };
        }
        match (last, self.result.take()) {
            (Outcome::Failed(e), _) => Step::Done(Err(e)),
            (_, Some(value)) => Step::Done(Ok(value)),
            // Cannot be: a call ends with a response or with silence, and both were
            // read into `result`.
            (_, None) => Step::Done(Err(Error::Disconnected)),
        }
    }

    fn reply(&mut self, response: Option<&[u8]>) -> Result<(), Error> {
        self.result = Some(match response {
            Some(bytes) => (self.decode)(bytes)?,
            None => (self.silent)()?,
        });
        Ok(())
    }
}

/// The command `C` with `arguments`, its result typed. A command that does not
/// answer on success gives `C::Returns` read from `{}` when it stays silent.
pub(crate) fn call<C: Command>(
    arguments: &C::Arguments,
    timeout: Duration,
) -> impl Operation<Output = Result<C::Returns, Error>> + use<'_, C> {
    Single::new(
        move |out: &mut Vec<u8>| encode::<C>(out, Some(arguments)),
        Call::of::<C>(timeout),
        decode::<C>,
        silent_success::<C>,
    )
}

/// The command `C` with typed arguments, its result as the JSON the agent sent; `{}`
/// when a command without a success response stays silent.
pub(crate) fn call_json<C: Command>(
    arguments: &C::Arguments,
    timeout: Duration,
) -> impl Operation<Output = Result<Value, Error>> + use<'_, C> {
    Single::new(
        move |out: &mut Vec<u8>| encode::<C>(out, Some(arguments)),
        Call::of::<C>(timeout),
        |bytes: &[u8]| decode_reply::<Value>(C::NAME, bytes),
        || Ok(Value::Object(serde_json::Map::new())),
    )
}

/// The command `name` with JSON `arguments`: its JSON result, or `None` when
/// `expect` allows silence and the agent stayed silent.
pub(crate) fn call_raw<'a>(
    name: &'a str,
    arguments: Option<&'a Value>,
    expect: Expect,
    timeout: Duration,
) -> impl Operation<Output = Result<Option<Value>, Error>> + 'a {
    Single::new(
        move |out: &mut Vec<u8>| encode_request(out, name, arguments),
        Call {
            expect,
            ..Call::new(timeout)
        },
        move |bytes: &[u8]| decode_reply::<Value>(name, bytes).map(Some),
        || Ok(None),
    )
}

/// The command `C`, a command that answers, with `arguments` (`None`: without an
/// `arguments` member, as QEMU's own tools send commands that take none), its
/// response read by `decode`.
pub(crate) fn command<C: Command, R>(
    arguments: Option<C::Arguments>,
    call: Call,
    decode: impl FnMut(&[u8]) -> Result<R, Error>,
) -> impl Operation<Output = Result<R, Error>> {
    Single::new(
        move |out: &mut Vec<u8>| encode::<C>(out, arguments.as_ref()),
        call,
        decode,
        // It answers: silence is a timeout, never this.
        || Err(Error::Disconnected),
    )
}

/// The step that sends the command `C` with `arguments` as `exchange` (a call, or a
/// request sent ahead), its request written into `request`; the error when the
/// arguments do not encode.
pub(crate) fn send<C: Command, T>(
    request: &mut Vec<u8>,
    arguments: &C::Arguments,
    exchange: Exchange,
) -> Result<Step<'static, T>, Error> {
    encode::<C>(request, Some(arguments))?;
    Ok(Step::Exchange(exchange))
}

/// The result of the command `C` when it succeeded without answering: `C::Returns`
/// read from `{}`.
fn silent_success<C: Command>() -> Result<C::Returns, Error> {
    serde_json::from_str("{}").map_err(|source| Error::UnexpectedReply {
        command: C::NAME.to_owned(),
        source,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    //! Running an operation against canned replies, with no client and no socket.

    use std::time::Duration;

    use qga_types::commands::{GuestGetHostName, GuestShutdown, GuestShutdownArguments};
    use qga_types::Empty;
    use serde_json::{json, Value};

    use super::{call, call_json, call_raw, Operation, Outcome, Step};
    use crate::connection::{Exchange, Expect};
    use crate::error::Error;

    /// What an operation did, step by step, against canned answers.
    #[derive(Debug, Default)]
    pub(crate) struct Script {
        /// The answer to each exchange that reads one, in order: the response, `None`
        /// for silence, or how it failed.
        pub(crate) replies: Vec<Result<Option<Vec<u8>>, Error>>,
        /// The local input, read in pieces of at most `input_piece` bytes.
        pub(crate) input: Vec<u8>,
        pub(crate) input_piece: usize,
        /// What the operation did: each request as JSON, `ahead` for those sent ahead,
        /// `receive`, `output N`, `flush`, `input N`, `sleep`.
        pub(crate) log: Vec<String>,
        /// What it wrote to the local output.
        pub(crate) output: Vec<u8>,
    }

    impl Script {
        pub(crate) fn new(replies: Vec<Result<Option<Vec<u8>>, Error>>) -> Script {
            Script {
                replies,
                input_piece: usize::MAX,
                ..Script::default()
            }
        }

        /// Runs `op` to its end.
        pub(crate) fn run<O: Operation>(&mut self, op: &mut O) -> O::Output {
            let mut replies = std::mem::take(&mut self.replies).into_iter();
            let mut request = Vec::new();
            let mut last = Outcome::Ok;
            loop {
                request.clear();
                let step = op.next(last, &mut request);
                last = match step {
                    Step::Exchange(exchange) => {
                        let text = String::from_utf8_lossy(&request).into_owned();
                        match exchange {
                            Exchange::SendAhead { .. } => {
                                self.log.push(format!("ahead {text}"));
                                continue_with(Ok(None), op, false)
                            }
                            Exchange::Receive { .. } => {
                                self.log.push("receive".to_owned());
                                let reply = replies.next().expect("a reply for every receive");
                                continue_with(reply, op, true)
                            }
                            Exchange::Call(_) => {
                                self.log.push(text);
                                let reply = replies.next().expect("a reply for every call");
                                continue_with(reply, op, true)
                            }
                            Exchange::Sync => continue_with(Ok(None), op, false),
                        }
                    }
                    Step::Output(bytes) => {
                        self.log.push(format!("output {}", bytes.len()));
                        self.output.extend_from_slice(bytes);
                        Outcome::Ok
                    }
                    Step::Flush => {
                        self.log.push("flush".to_owned());
                        Outcome::Ok
                    }
                    Step::Input(buf) => {
                        let n = buf.len().min(self.input.len()).min(self.input_piece);
                        buf[..n].copy_from_slice(&self.input[..n]);
                        self.input.drain(..n);
                        self.log.push(format!("input {n}"));
                        Outcome::Read(n)
                    }
                    Step::Sleep(_) => {
                        self.log.push("sleep".to_owned());
                        Outcome::Ok
                    }
                    Step::Done(output) => {
                        assert!(replies.next().is_none(), "replies left over");
                        return output;
                    }
                };
            }
        }
    }

    /// The outcome of an exchange answered by `reply` (`answers`: whether the exchange
    /// reads one).
    fn continue_with<O: Operation>(
        reply: Result<Option<Vec<u8>>, Error>,
        op: &mut O,
        answers: bool,
    ) -> Outcome {
        let read = match reply {
            Ok(response) if answers => op.reply(response.as_deref()),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        match read {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::Failed(e),
        }
    }

    pub(crate) fn answer(value: Value) -> Result<Option<Vec<u8>>, Error> {
        Ok(Some(json!({ "return": value }).to_string().into_bytes()))
    }

    #[test]
    fn a_typed_call_sends_its_arguments_and_reads_its_result() {
        let mut script = Script::new(vec![answer(json!({"host-name": "g", "x": 1}))]);
        let mut op = call::<GuestGetHostName>(&Empty {}, Duration::from_secs(1));
        assert_eq!(script.run(&mut op).unwrap().host_name, "g");
        assert_eq!(
            script.log,
            [r#"{"execute":"guest-get-host-name","arguments":{}}"#]
        );

        let mut script = Script::new(vec![answer(json!({"host-name": "g", "x": 1}))]);
        let mut op = call_json::<GuestGetHostName>(&Empty {}, Duration::from_secs(1));
        assert_eq!(
            script.run(&mut op).unwrap(),
            json!({"host-name": "g", "x": 1})
        );
    }

    #[test]
    fn silence_and_errors() {
        let arguments = GuestShutdownArguments { mode: None };
        let mut op = call::<GuestShutdown>(&arguments, Duration::from_secs(1));
        assert_eq!(Script::new(vec![Ok(None)]).run(&mut op).unwrap(), Empty {});

        let mut op = call_raw("guest-shutdown", None, Expect::ErrorOnly, Duration::ZERO);
        assert_eq!(Script::new(vec![Ok(None)]).run(&mut op).unwrap(), None);

        let refused = br#"{"error": {"class": "GenericError", "desc": "no"}}"#.to_vec();
        let mut op = call_raw("guest-x", None, Expect::Response, Duration::ZERO);
        let e = Script::new(vec![Ok(Some(refused))])
            .run(&mut op)
            .unwrap_err();
        assert!(matches!(e, Error::Agent { .. }), "{e:?}");

        let mut op = call_raw("guest-x", None, Expect::Response, Duration::ZERO);
        let e = Script::new(vec![Err(Error::Disconnected)])
            .run(&mut op)
            .unwrap_err();
        assert!(matches!(e, Error::Disconnected), "{e:?}");
    }
}
