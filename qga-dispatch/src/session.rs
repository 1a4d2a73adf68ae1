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

use crate::response::{write_error, write_return, DELIMITER};
use crate::{json, CommandInfo, Error, Frame, Framer, Limits, Rejected, Request, Service};

/// The command whose successful answer is preceded by [`DELIMITER`].
const DELIMITED: &str = "guest-sync-delimited";

/// The largest output buffer kept for the next responses once it is empty.
const OUTPUT_KEPT: usize = 1 << 20;

/// The protocol state of one channel.
#[derive(Debug)]
pub struct Session {
    framer: Framer,
    table: Table,
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
        }
    }

    /// Reads `input` (any part of the stream) and appends the responses to every
    /// message it completes to `out`.
    pub fn feed<S: Service + ?Sized>(&mut self, input: &[u8], out: &mut Vec<u8>, service: &mut S) {
        // The buffer of a large response that has been sent is not kept.
        if out.is_empty() && out.capacity() > OUTPUT_KEPT {
            *out = Vec::new();
        }
        let mut input = input;
        while let Some(frame) = self.framer.next_frame(&mut input) {
            match frame {
                Frame::Message(message) => self.table.message(message, out, service),
                Frame::Error(error) => write_error(out, &error, None),
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

    /// Forgets a partial message, as when a new client connects: what a dead client
    /// half-sent must not spoil the next one's first request.
    pub fn reset(&mut self) {
        self.framer.reset();
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
    use crate::{Arguments, Reply};

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
        // Two in one read: the second is appended to the first.
        out.clear();
        session.feed(&[&request[..], &request[..]].concat(), &mut out, &mut big);
        assert_eq!(out, [&first[..], &first[..]].concat());
        // Sent and cleared: the next response does not inherit the large buffer.
        out.clear();
        session.feed(b"{\"execute\": \"guest-none\"}", &mut out, &mut big);
        assert!(out.capacity() < OUTPUT_KEPT);
        assert!(out.starts_with(b"{\"error\": {\"class\": \"CommandNotFound\""));
    }
}
