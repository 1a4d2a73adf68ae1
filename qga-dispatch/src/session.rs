//! One channel's conversation: bytes in, responses out.
//!
//! A [`Session`] owns the stream's [`Framer`] and the command table. Each complete
//! message is parsed, checked, looked up, allowed or refused by the [`Service`]'s
//! policy, and run; its response (if any) is appended to the output. The order of
//! checks is QEMU's: JSON syntax, the envelope, whether the command exists, whether
//! it is enabled, then the command's own argument checks.
//!
//! The runtime, not the command, adds the 0xFF before guest-sync-delimited's answer,
//! and writes nothing when a command whose `success_response` is false succeeds.

use std::collections::HashMap;

use serde_json::Value;

use crate::command::CommandInfo;
use crate::error::Error;
use crate::framer::{Frame, Framer};
use crate::json;
use crate::limits::Limits;
use crate::request::{Rejected, Request};
use crate::response::{write_error, write_return, DELIMITER};
use crate::service::Service;

/// The command whose successful answer is preceded by [`DELIMITER`].
const DELIMITED: &str = "guest-sync-delimited";

/// The largest output buffer kept for the next responses once it is empty.
const OUTPUT_KEPT: usize = 1 << 20;

/// Output waiting to be written past which no further request is answered: the input
/// after it is held until the output has gone (see [`Session::feed`]).
const OUTPUT_HIGH: usize = 1 << 20;

/// The protocol state of one channel.
#[derive(Debug)]
pub struct Session {
    framer: Framer,
    table: Table,
    /// Input not looked at yet, held while a large output is waiting: `held[held_at..]`.
    held: Vec<u8>,
    held_at: usize,
}

/// The commands, by name, and how deep a message may nest.
#[derive(Debug)]
struct Table {
    commands: HashMap<&'static str, CommandInfo>,
    max_depth: usize,
}

impl Session {
    /// A session for the commands of `commands` (the generated `COMMANDS`), with
    /// QEMU's limits.
    pub fn new(commands: &'static [CommandInfo]) -> Self {
        Session::with_limits(commands, Limits::default())
    }

    /// A session with other limits.
    pub fn with_limits(commands: &'static [CommandInfo], limits: Limits) -> Self {
        Session {
            framer: Framer::new(limits),
            table: Table {
                commands: commands.iter().map(|c| (c.name, *c)).collect(),
                max_depth: limits.nesting,
            },
            held: Vec::new(),
            held_at: 0,
        }
    }

    /// Reads `input` (any part of the stream) and appends the responses to the
    /// messages it completes to `out`.
    ///
    /// Once `out` holds 1 MiB or more (a large `guest-file-read` reply, or a flood of
    /// small ones), the rest of the input is held instead of answered: the caller
    /// writes `out`, then calls [`Session::resume`] while [`Session::holds_input`],
    /// before feeding more. So however many requests a host sends ahead, the agent
    /// keeps about one large response in memory, not one per request (48 MiB reads
    /// sent ahead would otherwise pile up 64 MiB each).
    pub fn feed<S: Service + ?Sized>(&mut self, input: &[u8], out: &mut Vec<u8>, service: &mut S) {
        if self.holds_input() {
            // Behind what is held: answered in order, later.
            self.held.extend_from_slice(input);
            return self.resume(out, service);
        }
        let mut rest = input;
        self.answer(&mut rest, out, service);
        self.held.extend_from_slice(rest);
    }

    /// Whether input is held until the output has been written.
    pub fn holds_input(&self) -> bool {
        self.held_at < self.held.len()
    }

    /// Answers held input, as far as [`Session::feed`] would; call it once `out` has
    /// been written.
    pub fn resume<S: Service + ?Sized>(&mut self, out: &mut Vec<u8>, service: &mut S) {
        let held = std::mem::take(&mut self.held);
        let mut rest = &held[self.held_at..];
        self.answer(&mut rest, out, service);
        let consumed = held.len() - rest.len();
        self.held = held;
        if consumed == self.held.len() {
            self.held.clear();
            self.held_at = 0;
        } else {
            self.held_at = consumed;
        }
    }

    /// Answers the messages in `input` until it is used up or `out` is full enough;
    /// `input` is left at what was not looked at.
    fn answer<S: Service + ?Sized>(
        &mut self,
        input: &mut &[u8],
        out: &mut Vec<u8>,
        service: &mut S,
    ) {
        // The buffer of a large response that has been sent is not kept.
        if out.is_empty() && out.capacity() > OUTPUT_KEPT {
            *out = Vec::new();
        }
        while out.len() < OUTPUT_HIGH {
            match self.framer.next_frame(input) {
                Some(Frame::Message(message)) => self.table.message(message, out, service),
                Some(Frame::Error(error)) => write_error(out, &error, None),
                None => break,
            }
        }
    }

    /// Answers one complete message (already framed).
    pub fn handle_message<S: Service + ?Sized>(
        &self,
        message: &[u8],
        out: &mut Vec<u8>,
        service: &mut S,
    ) {
        self.table.message(message, out, service);
    }

    /// Answers one parsed message.
    pub fn handle_value<S: Service + ?Sized>(
        &self,
        value: Value,
        out: &mut Vec<u8>,
        service: &mut S,
    ) {
        self.table.value(value, out, service);
    }

    /// Forgets a partial message and any held input, as when a new client connects:
    /// what a dead client sent must not spoil the next one's first request.
    pub fn reset(&mut self) {
        self.framer.reset();
        self.held = Vec::new();
        self.held_at = 0;
    }

    /// Whether part of a message is waiting for the rest.
    pub fn is_pending(&self) -> bool {
        self.framer.is_pending()
    }

    /// How many bytes of a partial message are held.
    pub fn buffered_len(&self) -> usize {
        self.framer.buffered_len()
    }

    /// The command called `name`, if the agent has it.
    pub fn command(&self, name: &str) -> Option<CommandInfo> {
        self.table.commands.get(name).copied()
    }
}

impl Table {
    fn message<S: Service + ?Sized>(&self, message: &[u8], out: &mut Vec<u8>, service: &mut S) {
        match json::parse_nested(message, self.max_depth) {
            Ok(value) => self.value(value, out, service),
            // A message that is not JSON has no id to echo.
            Err(error) => write_error(out, &error, None),
        }
    }

    fn value<S: Service + ?Sized>(&self, value: Value, out: &mut Vec<u8>, service: &mut S) {
        let mut request = match Request::from_value(value) {
            Ok(request) => request,
            Err(Rejected { error, id }) => return write_error(out, &error, id.as_ref()),
        };
        let (name, arguments, id) = request.parts();
        let outcome = match self.commands.get(name) {
            None => Err(Error::command_not_found(name)),
            Some(info) => service
                .check(name)
                .and_then(|()| service.call(name, arguments))
                .map(|reply| (info, reply)),
        };
        match outcome {
            Ok((info, reply)) if info.success_response => {
                if name == DELIMITED {
                    out.push(DELIMITER);
                }
                write_return(out, reply, id);
            }
            Ok(_) => {}
            Err(error) => write_error(out, &error, id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arguments::Arguments;
    use crate::reply::Reply;

    const COMMANDS: &[CommandInfo] = &[CommandInfo {
        name: "guest-big",
        success_response: true,
    }];

    fn big(_: &str, _: Arguments<'_>) -> Result<Reply, Error> {
        Reply::new(&"x".repeat(2 * OUTPUT_KEPT))
    }

    #[test]
    fn a_large_reply_becomes_the_output_and_is_not_kept_once_sent() {
        let mut session = Session::new(COMMANDS);
        let request = br#"{"execute": "guest-big", "id": 1}"#;
        let mut out = Vec::new();
        session.feed(request, &mut out, &mut big);
        assert!(out.starts_with(b"{\"return\": \"xxx"));
        assert!(out.ends_with(b"xxx\", \"id\": 1}\n"));
        let first = out.clone();
        // Three in one read: the second waits until the first has been written, and
        // the third behind it, however much more arrives meanwhile.
        out.clear();
        session.feed(&request.repeat(3), &mut out, &mut big);
        assert_eq!(out, first);
        assert!(session.holds_input());
        session.feed(br#"{"execute": "guest-none"}"#, &mut out, &mut big);
        assert_eq!(
            out, first,
            "nothing more is answered before the output is written"
        );
        for _ in 0..2 {
            out.clear();
            session.resume(&mut out, &mut big);
            assert_eq!(out, first);
        }
        assert!(session.holds_input(), "the last request is still held");
        out.clear();
        session.resume(&mut out, &mut big);
        assert!(out.starts_with(b"{\"error\": {\"class\": \"CommandNotFound\""));
        assert!(!session.holds_input());
        // A new client does not get the answers to what the last one left.
        out.clear();
        session.feed(&request.repeat(2), &mut out, &mut big);
        session.reset();
        assert!(!session.holds_input());
        // Sent and cleared: the next response does not inherit the large buffer.
        out.clear();
        session.feed(b"{\"execute\": \"guest-none\"}", &mut out, &mut big);
        assert!(out.capacity() < OUTPUT_KEPT);
        assert!(out.starts_with(b"{\"error\": {\"class\": \"CommandNotFound\""));
    }
}
