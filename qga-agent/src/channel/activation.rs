//! systemd socket activation, as qemu-ga supports it: when `LISTEN_PID` is
//! this process and `LISTEN_FDS` is 1, descriptor 3 is the listening socket,
//! and the method follows from its address family (unix-listen or
//! vsock-listen); `-m` and `-p` are then ignored.

use std::fmt;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};

use rustix::net::{getsockname, AddressFamily};

use super::Method;

/// The first descriptor systemd passes.
const FIRST_FD: i32 = 3;

/// Why the inherited socket cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivationError {
    /// More than one socket was passed.
    TooMany(u32),
    /// The socket is neither a unix nor a vsock socket.
    Unsupported,
}

impl fmt::Display for ActivationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActivationError::TooMany(n) => {
                write!(
                    f,
                    "socket activation passed {n} sockets; the agent listens on one only"
                )
            }
            ActivationError::Unsupported => write!(f, "unsupported listen fd type"),
        }
    }
}

impl std::error::Error for ActivationError {}

/// How many sockets systemd passed to this process (0 without activation).
pub fn passed_sockets(listen_pid: Option<&str>, listen_fds: Option<&str>) -> u32 {
    let ours = listen_pid
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        .is_some_and(|pid| pid == std::process::id());
    if !ours {
        return 0;
    }
    listen_fds.and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

/// The activated socket and its method, if the agent was socket-activated.
/// The `LISTEN_*` variables are removed from the environment so that
/// guest-exec's children do not see them.
pub fn take() -> Result<Option<(OwnedFd, Method)>, ActivationError> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    let count = passed_sockets(pid.as_deref(), fds.as_deref());
    for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(name);
    }
    match count {
        0 => Ok(None),
        1 => {
            // SAFETY: only fcntl is called on the number, to see whether it is
            // open at all before taking it over.
            let borrowed = unsafe { BorrowedFd::borrow_raw(FIRST_FD) };
            if rustix::io::fcntl_getfd(borrowed).is_err() {
                return Err(ActivationError::Unsupported);
            }
            // SAFETY: descriptor 3 is open, and systemd passed it to this
            // process for it to own.
            let fd = unsafe { OwnedFd::from_raw_fd(FIRST_FD) };
            let _ = rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC);
            let method = match getsockname(&fd).map(|addr| addr.address_family()) {
                Ok(AddressFamily::UNIX) => Method::UnixListen,
                Ok(AddressFamily::VSOCK) => Method::VsockListen,
                _ => return Err(ActivationError::Unsupported),
            };
            Ok(Some((fd, method)))
        }
        n => Err(ActivationError::TooMany(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sockets_passed_to_this_process_count() {
        let me = std::process::id().to_string();
        assert_eq!(passed_sockets(Some(&me), Some("1")), 1);
        assert_eq!(passed_sockets(Some(&me), Some("2")), 2);
        assert_eq!(passed_sockets(Some("1"), Some("1")), 0);
        assert_eq!(passed_sockets(None, Some("1")), 0);
        assert_eq!(passed_sockets(Some(&me), None), 0);
        assert_eq!(passed_sockets(Some(&me), Some("x")), 0);
    }
}
