//! What can go wrong talking to an agent, as values.
//!
//! The agent's own errors (`{"error": {"class": ..., "desc": ...}}`) are sorted into the
//! cases a caller acts on differently: the command does not exist, it exists but is
//! disabled (by the guest's administrator, or because filesystems are frozen), it is not
//! supported on this guest, or anything else. The client's own failures follow:
//! timeouts, a closed connection, I/O errors, and replies that do not make sense.

use std::io;
use std::time::Duration;

/// An error from a call to the agent, or from a helper built on calls.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The agent does not know the command (`The command X has not been found`).
    #[error("the agent has no command {command}")]
    CommandNotFound {
        /// The command that was sent.
        command: String,
    },
    /// The agent knows the command but refuses it: blocked by its allow/block lists,
    /// or refused while filesystems are frozen (`Command X has been disabled...`).
    #[error("{desc}")]
    CommandDisabled {
        /// The command that was sent.
        command: String,
        /// The agent's text, which says why when it knows.
        desc: String,
    },
    /// The command, or what it was asked to do, is not supported on this guest
    /// (`this feature or command is not currently supported`).
    #[error("{command}: not supported by this guest")]
    Unsupported {
        /// The command that was sent.
        command: String,
    },
    /// Any other error the agent answered with.
    #[error("{command}: {desc}")]
    Agent {
        /// The command that was sent.
        command: String,
        /// The error class, `GenericError` for nearly everything.
        class: String,
        /// The agent's message.
        desc: String,
    },
    /// No (complete) answer within the time allowed; the client resynchronises before
    /// its next call.
    #[error("no answer from the agent within {}", DisplayDuration(*.timeout))]
    Timeout {
        /// The time that was allowed.
        timeout: Duration,
    },
    /// The agent, or the socket in between, closed the connection.
    #[error("the agent closed the connection")]
    Disconnected,
    /// Reading from or writing to the agent failed.
    #[error("I/O error talking to the agent: {0}")]
    Io(#[source] io::Error),
    /// Connecting to the agent failed.
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// The address, as given.
        address: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The agent sent something that is not a response: garbage, broken JSON, or a
    /// response too large to be one. The client resynchronises before its next call.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A well-formed response whose value does not have the expected shape.
    #[error("unexpected reply to {command}: {source}")]
    UnexpectedReply {
        /// The command that was sent.
        command: String,
        /// What did not match.
        #[source]
        source: serde_json::Error,
    },
    /// The arguments could not be encoded as JSON.
    #[error("cannot encode the arguments of {command}: {source}")]
    Encode {
        /// The command being sent.
        command: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The agent wrote less of a chunk than it was given (a full disk, say).
    #[error("writing {path} in the guest stopped after {written} bytes")]
    ShortWrite {
        /// The guest path.
        path: String,
        /// The bytes written in all.
        written: u64,
    },
    /// A local file or stream used by a helper failed (not the connection to the agent).
    #[error("{0}")]
    Local(#[source] io::Error),
}

/// The description QEMU gives its `QERR_UNSUPPORTED`.
const UNSUPPORTED_DESC: &str = "this feature or command is not currently supported";

impl Error {
    /// Sorts an error response of the agent to `command`.
    pub fn from_agent(command: &str, class: &str, desc: &str) -> Error {
        let command = command.to_owned();
        if desc.starts_with("Command ") && desc.contains(" has been disabled") {
            // CommandNotFound in QEMU 2.x-7.x, but match the text whatever the class.
            Error::CommandDisabled {
                command,
                desc: desc.to_owned(),
            }
        } else if class == "CommandNotFound" {
            Error::CommandNotFound { command }
        } else if desc == UNSUPPORTED_DESC || class == "Unsupported" {
            // Very old agents had a class of its own for it.
            Error::Unsupported { command }
        } else {
            Error::Agent {
                command,
                class: class.to_owned(),
                desc: desc.to_owned(),
            }
        }
    }

    /// The error class the agent answered with, if this is one of the agent's errors.
    pub fn agent_class(&self) -> Option<&str> {
        match self {
            Error::CommandNotFound { .. } | Error::CommandDisabled { .. } => {
                Some("CommandNotFound")
            }
            Error::Unsupported { .. } => Some("GenericError"),
            Error::Agent { class, .. } => Some(class),
            _ => None,
        }
    }

    /// Whether the agent answered this error (as opposed to the connection failing).
    pub fn is_agent_error(&self) -> bool {
        self.agent_class().is_some()
    }

    /// Whether this error leaves the stream in an unknown state, so that the client must
    /// resynchronise before the next call.
    pub(crate) fn desynchronises(&self) -> bool {
        matches!(
            self,
            Error::Timeout { .. } | Error::Protocol(_) | Error::Io(_)
        )
    }
}

/// Seconds, printed the way a person writes them (`3 s`, `0.25 s`).
struct DisplayDuration(Duration);

impl std::fmt::Display for DisplayDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} s", self.0.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::Error;
    use std::time::Duration;

    #[test]
    fn sorts_qemu_error_texts() {
        let e = Error::from_agent(
            "guest-foo",
            "CommandNotFound",
            "The command guest-foo has not been found",
        );
        assert!(
            matches!(&e, Error::CommandNotFound { command } if command == "guest-foo"),
            "{e:?}"
        );
        assert_eq!(e.to_string(), "the agent has no command guest-foo");

        for desc in [
            "Command guest-ping has been disabled",
            "Command guest-ping has been disabled: the command is not allowed",
            "Command guest-exec has been disabled: the agent is in frozen state",
        ] {
            let e = Error::from_agent("guest-ping", "CommandNotFound", desc);
            assert!(
                matches!(&e, Error::CommandDisabled { desc: d, .. } if d == desc),
                "{e:?}"
            );
            assert_eq!(e.to_string(), desc);
        }

        let e = Error::from_agent(
            "guest-suspend-disk",
            "GenericError",
            "this feature or command is not currently supported",
        );
        assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");

        let e = Error::from_agent(
            "guest-file-open",
            "GenericError",
            "failed to open file '/no' (mode: 'r'): No such file or directory",
        );
        assert!(
            matches!(&e, Error::Agent { class, .. } if class == "GenericError"),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "guest-file-open: failed to open file '/no' (mode: 'r'): No such file or directory"
        );
        assert!(e.is_agent_error());
    }

    #[test]
    fn timeouts_print_seconds() {
        let e = Error::Timeout {
            timeout: Duration::from_millis(250),
        };
        assert_eq!(e.to_string(), "no answer from the agent within 0.25 s");
        assert!(!e.is_agent_error());
    }
}
