//! The channels to the host, and the main loop that moves bytes between a
//! channel and the protocol.
//!
//! | method | what | peers |
//! |---|---|---|
//! | virtio-serial | a virtio-serial port, `/dev/virtio-ports/...` ([`device`]) | the host, which may close and reopen its side |
//! | isa-serial | a serial line in raw mode, `/dev/ttyS0` ([`device`]) | the host |
//! | unix-listen | a listening unix socket ([`listen`]) | one client at a time |
//! | vsock-listen | a listening AF_VSOCK socket, `CID:PORT` ([`listen`]) | one client at a time |
//!
//! [`run`] serves a channel until a stop signal: it reads what the peer sends,
//! hands it to the [`Protocol`], and writes everything the protocol answers
//! before it reads again. A peer that goes away never ends the agent: a
//! socket client that disconnects (even with responses unread) is dropped and
//! the next one accepted, and every new client starts with a fresh protocol
//! state; the host closing its side of a virtio-serial port is waited out.
//! With `-r`, a channel that cannot be opened or that fails is opened again
//! every five seconds; without it, that ends the agent.

pub mod activation;
pub mod device;
pub mod listen;
mod serve;

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::daemon::config::Config;
use crate::daemon::signals::{Signals, StopReason};
pub use listen::{VsockAddr, VsockAddrError};

/// What the main loop hands the bytes it reads to: the protocol session.
///
/// The agent's implementation wraps qga-dispatch's `Session` (the framer and
/// the dispatch) and the command handlers.
pub trait Protocol {
    /// Reads `input`, any part of the stream, and appends the bytes of any
    /// responses to `output`.
    fn feed(&mut self, input: &[u8], output: &mut Vec<u8>);

    /// Whether input was held back by [`Protocol::feed`] until the output has been
    /// written (a large response is waiting): the channel then calls
    /// [`Protocol::resume`] before reading more.
    fn holds_input(&self) -> bool {
        false
    }

    /// Answers held input; called once the output has been written.
    fn resume(&mut self, _output: &mut Vec<u8>) {}

    /// A new peer (a socket client connected, or the host reopened its side of
    /// a serial channel): forget any partial message of the previous one.
    fn reset(&mut self);

    /// The agent is about to exit (a stop signal, or a channel that failed for
    /// good): the place to thaw frozen filesystems.
    fn shutdown(&mut self) {}
}

impl<P: Protocol + ?Sized> Protocol for Box<P> {
    fn feed(&mut self, input: &[u8], output: &mut Vec<u8>) {
        (**self).feed(input, output);
    }

    fn holds_input(&self) -> bool {
        (**self).holds_input()
    }

    fn resume(&mut self, output: &mut Vec<u8>) {
        (**self).resume(output);
    }

    fn reset(&mut self) {
        (**self).reset();
    }

    fn shutdown(&mut self) {
        (**self).shutdown();
    }
}

/// How long `-r` waits before opening a channel again (qemu-ga's interval).
pub const RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// The transport methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `virtio-serial`.
    VirtioSerial,
    /// `isa-serial`.
    IsaSerial,
    /// `unix-listen`.
    UnixListen,
    /// `vsock-listen`.
    VsockListen,
}

impl Method {
    /// The name used on the command line and in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::VirtioSerial => "virtio-serial",
            Method::IsaSerial => "isa-serial",
            Method::UnixListen => "unix-listen",
            Method::VsockListen => "vsock-listen",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = ChannelError;

    fn from_str(s: &str) -> Result<Method, ChannelError> {
        [
            Method::VirtioSerial,
            Method::IsaSerial,
            Method::UnixListen,
            Method::VsockListen,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
        .ok_or_else(|| ChannelError::Method(s.to_owned()))
    }
}

/// Why a channel could not be opened or served.
#[derive(Debug)]
pub enum ChannelError {
    /// An unknown method.
    Method(String),
    /// A device could not be opened or set up.
    Open(PathBuf, io::Error),
    /// A unix socket could not be set up.
    Bind(PathBuf, io::Error),
    /// The unix socket path is a live socket of another process, or not a
    /// socket at all.
    InUse(PathBuf, &'static str),
    /// A vsock address that does not parse.
    VsockAddr(VsockAddrError),
    /// A vsock socket could not be set up.
    Vsock(VsockAddr, io::Error),
    /// Reading or writing the channel failed.
    Io(io::Error),
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::Method(m) => write!(f, "unsupported channel method/type: {m}"),
            ChannelError::Open(path, e) => {
                write!(f, "error opening channel '{}': {e}", path.display())
            }
            ChannelError::Bind(path, e) => {
                write!(f, "Failed to bind socket to {}: {e}", path.display())
            }
            ChannelError::InUse(path, why) => {
                write!(f, "Failed to bind socket to {}: {why}", path.display())
            }
            ChannelError::VsockAddr(e) => e.fmt(f),
            ChannelError::Vsock(addr, e) => {
                write!(f, "Failed to listen on vsock address {addr}: {e}")
            }
            ChannelError::Io(e) => write!(f, "error reading channel: {e}"),
        }
    }
}

impl std::error::Error for ChannelError {}

/// What to open, and whether to keep trying.
#[derive(Debug)]
pub struct ChannelSpec {
    /// The method.
    pub method: Method,
    /// The device, socket path or vsock address.
    pub path: OsString,
    /// `-r`: open again after a failure.
    pub retry: bool,
    /// A listening socket inherited through systemd socket activation, used
    /// instead of `path`.
    pub activated: Option<OwnedFd>,
}

impl ChannelSpec {
    /// The channel of a configuration (after [`Config::finish`]).
    pub fn from_config(config: &Config, activated: Option<OwnedFd>) -> Result<Self, ChannelError> {
        Ok(ChannelSpec {
            method: config.method.parse()?,
            path: config.path.clone().unwrap_or_default(),
            retry: config.retry_path,
            activated,
        })
    }
}

/// An open channel.
#[derive(Debug)]
pub enum Channel {
    /// A serial device (virtio-serial or isa-serial).
    Device(device::Device),
    /// A listening socket (unix or vsock).
    Listener(listen::Listener),
}

impl Channel {
    /// Opens the channel of `spec`.
    pub fn open(spec: &ChannelSpec) -> Result<Channel, ChannelError> {
        if let Some(fd) = &spec.activated {
            return listen::Listener::inherited(fd).map(Channel::Listener);
        }
        let path = PathBuf::from(&spec.path);
        match spec.method {
            Method::VirtioSerial => device::Device::open_virtio(&path).map(Channel::Device),
            Method::IsaSerial => device::Device::open_serial(&path).map(Channel::Device),
            Method::UnixListen => listen::Listener::unix(&path).map(Channel::Listener),
            Method::VsockListen => {
                let addr: VsockAddr = spec
                    .path
                    .to_string_lossy()
                    .parse()
                    .map_err(ChannelError::VsockAddr)?;
                listen::Listener::vsock(addr).map(Channel::Listener)
            }
        }
    }

    /// Serves the channel until a stop request (`Ok`) or until it fails.
    pub fn serve<P: Protocol + ?Sized>(
        &mut self,
        protocol: &mut P,
        signals: &Signals,
    ) -> Result<StopReason, ChannelError> {
        match self {
            Channel::Device(device) => serve::device(device, protocol, signals),
            Channel::Listener(listener) => serve::listener(listener, protocol, signals),
        }
        .map_err(ChannelError::Io)
    }
}

/// The main loop: serves the channel `first` (the result of the first
/// [`Channel::open`] of `spec`), and with `spec.retry` reopens it after any
/// failure, until a stop request.
pub fn run<P: Protocol + ?Sized>(
    spec: &ChannelSpec,
    first: Result<Channel, ChannelError>,
    protocol: &mut P,
    signals: &Signals,
) -> Result<StopReason, ChannelError> {
    let mut next = Some(first);
    loop {
        let opened = next.take().unwrap_or_else(|| Channel::open(spec));
        let error = match opened {
            Ok(mut channel) => match channel.serve(protocol, signals) {
                Ok(reason) => return Ok(reason),
                Err(e) => e,
            },
            Err(e) => e,
        };
        if !spec.retry {
            return Err(error);
        }
        // Whatever the lost channel's host half-sent, or sent behind a reply that was
        // never written, is not for the host of the reopened one.
        protocol.reset();
        tracing::error!("{error}");
        tracing::warn!(
            "channel closed or unavailable, retrying in {} seconds",
            RETRY_INTERVAL.as_secs()
        );
        if let Some(reason) = serve::sleep(signals, RETRY_INTERVAL) {
            return Ok(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_parse_as_qemu_names_them() {
        for m in ["virtio-serial", "isa-serial", "unix-listen", "vsock-listen"] {
            assert_eq!(m.parse::<Method>().unwrap().as_str(), m);
        }
        let err = "foo".parse::<Method>().unwrap_err();
        assert_eq!(err.to_string(), "unsupported channel method/type: foo");
        assert!("unix-listen  ".parse::<Method>().is_err());
    }
}
