//! The error a command or the protocol answers with: `{"class": ..., "desc": ...}`.
//!
//! QMP errors carry a class (almost always `GenericError`) and a human-readable
//! description. Clients match on the class and show the description, so the texts
//! below are QEMU's, word for word.

use std::fmt;

/// The `class` member of an error response (QAPI's `QapiErrorClass`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Everything that is not one of the others.
    GenericError,
    /// The command is unknown, disabled, or refused while frozen.
    CommandNotFound,
    /// A device exists but is not active (QMP only; kept for completeness).
    DeviceNotActive,
    /// A device does not exist (QMP only; kept for completeness).
    DeviceNotFound,
    /// KVM lacks a capability (QMP only; kept for completeness).
    KVMMissingCap,
}

impl ErrorClass {
    /// The class's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::GenericError => "GenericError",
            ErrorClass::CommandNotFound => "CommandNotFound",
            ErrorClass::DeviceNotActive => "DeviceNotActive",
            ErrorClass::DeviceNotFound => "DeviceNotFound",
            ErrorClass::KVMMissingCap => "KVMMissingCap",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error response: what went wrong, in QEMU's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{desc}")]
pub struct Error {
    /// The error's class.
    pub class: ErrorClass,
    /// The text shown to the user.
    pub desc: String,
}

impl Error {
    /// An error of any class.
    pub fn new(class: ErrorClass, desc: impl Into<String>) -> Self {
        Error {
            class,
            desc: desc.into(),
        }
    }

    /// A `GenericError`, the class of nearly every error.
    pub fn generic(desc: impl Into<String>) -> Self {
        Error::new(ErrorClass::GenericError, desc)
    }

    /// `name` is not a command of this agent.
    pub fn command_not_found(name: &str) -> Self {
        Error::new(
            ErrorClass::CommandNotFound,
            format!("The command {name} has not been found"),
        )
    }

    /// `name` is disabled by the allow or block list.
    pub fn disabled(name: &str) -> Self {
        Error::new(
            ErrorClass::CommandNotFound,
            format!("Command {name} has been disabled"),
        )
    }

    /// `name` may not run while the guest's filesystems are frozen.
    pub fn frozen(name: &str) -> Self {
        Error::new(
            ErrorClass::CommandNotFound,
            format!("Command {name} has been disabled: the agent is in frozen state"),
        )
    }

    /// The command or one of its options is not supported here (QEMU's
    /// `QERR_UNSUPPORTED`).
    pub fn unsupported() -> Self {
        Error::generic("this feature or command is not currently supported")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_qemus() {
        assert_eq!(
            Error::command_not_found("guest-foo").desc,
            "The command guest-foo has not been found"
        );
        assert_eq!(
            Error::disabled("guest-ping").desc,
            "Command guest-ping has been disabled"
        );
        assert_eq!(
            Error::frozen("guest-exec").to_string(),
            "Command guest-exec has been disabled: the agent is in frozen state"
        );
        assert_eq!(
            Error::unsupported().desc,
            "this feature or command is not currently supported"
        );
        assert_eq!(Error::frozen("x").class, ErrorClass::CommandNotFound);
        assert_eq!(Error::generic("x").class.as_str(), "GenericError");
    }
}
