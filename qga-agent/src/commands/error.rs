//! The error of a command implementation: a plain message, sent to the client as
//! `{"error": {"class": "GenericError", "desc": MESSAGE}}`. The texts are QEMU's.

use std::fmt;
use std::io;

/// A command failed; the message is what the client sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError(pub String);

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CommandError {}

impl From<io::Error> for CommandError {
    fn from(e: io::Error) -> Self {
        CommandError(e.to_string())
    }
}
