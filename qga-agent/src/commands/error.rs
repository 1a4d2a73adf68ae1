//! The error of a command implementation: a plain message, sent to the client as
//! `{"error": {"class": "GenericError", "desc": MESSAGE}}`. The texts are QEMU's.

use std::ffi::CStr;
use std::fmt;
use std::io;

/// The text of QEMU's QERR_UNSUPPORTED.
pub const UNSUPPORTED: &str = "this feature or command is not currently supported";

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

/// The text of an errno value, as C's `strerror()` gives it (no "(os error N)").
pub fn strerror(errno: i32) -> String {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: the buffer is valid for its length; the XSI strerror_r writes a
    // NUL-terminated string into it (truncated if need be) or fails.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return format!("Unknown error {errno}");
    }
    // SAFETY: on success the buffer holds a NUL-terminated string.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// The text of an I/O error, as C's `strerror()` gives it.
pub fn io_error_text(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(errno) => strerror(errno),
        None => err.to_string(),
    }
}

/// QEMU's `error_setg_errno()`: "MESSAGE: STRERROR".
pub fn errno_error(message: impl fmt::Display, err: &io::Error) -> CommandError {
    CommandError(format!("{message}: {}", io_error_text(err)))
}
