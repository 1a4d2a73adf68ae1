//! Where an agent is, and opening a stream to it.
//!
//! Written as text an address is `unix:PATH`, `vsock:CID:PORT` or `tcp:HOST:PORT`; a
//! string without one of these prefixes is a unix socket path, the common case: QEMU's
//! `-chardev socket,path=...,server=on` for a guest's virtio-serial port, or an agent
//! run with `-m unix-listen`.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::transport::Transport;
use crate::vsock::{AsyncVsockStream, VsockStream};

/// The address of an agent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// A unix socket.
    Unix(PathBuf),
    /// A vsock port of a guest.
    Vsock {
        /// The guest's context id.
        cid: u32,
        /// The port the agent listens on.
        port: u32,
    },
    /// A TCP port (QEMU's chardev socket with `host=` and `port=`).
    Tcp {
        /// A host name or IP address (an IPv6 address without brackets).
        host: String,
        /// The port.
        port: u16,
    },
}

/// Text that is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address '{text}': {why}")]
pub struct InvalidAddress {
    text: String,
    why: &'static str,
}

impl FromStr for Address {
    type Err = InvalidAddress;

    fn from_str(text: &str) -> Result<Address, InvalidAddress> {
        let invalid = |why| InvalidAddress {
            text: text.to_owned(),
            why,
        };
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(invalid("the path is empty"));
            }
            Ok(Address::Unix(path.into()))
        } else if let Some(rest) = text.strip_prefix("vsock:") {
            let (cid, port) = rest
                .split_once(':')
                .ok_or_else(|| invalid("expected vsock:CID:PORT"))?;
            let cid = cid
                .parse()
                .map_err(|_| invalid("the CID is not a number"))?;
            let port = port
                .parse()
                .map_err(|_| invalid("the port is not a number"))?;
            Ok(Address::Vsock { cid, port })
        } else if let Some(rest) = text.strip_prefix("tcp:") {
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| invalid("expected tcp:HOST:PORT"))?;
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            if host.is_empty() {
                return Err(invalid("the host is empty"));
            }
            let port = port
                .parse()
                .map_err(|_| invalid("the port is not a number"))?;
            Ok(Address::Tcp {
                host: host.to_owned(),
                port,
            })
        } else if text.is_empty() {
            Err(invalid("the path is empty"))
        } else {
            Ok(Address::Unix(text.into()))
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "{}", path.display()),
            Address::Vsock { cid, port } => write!(f, "vsock:{cid}:{port}"),
            Address::Tcp { host, port } if host.contains(':') => write!(f, "tcp:[{host}]:{port}"),
            Address::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
        }
    }
}

impl Address {
    /// Opens a blocking stream to the agent, giving up on a TCP connect after `timeout`.
    pub fn connect(&self, timeout: Duration) -> io::Result<Stream> {
        match self {
            Address::Unix(path) => Ok(Stream::Unix(UnixStream::connect(path)?)),
            Address::Vsock { cid, port } => Ok(Stream::Vsock(VsockStream::connect(*cid, *port)?)),
            Address::Tcp { host, port } => {
                let mut last =
                    io::Error::new(io::ErrorKind::NotFound, "the host name has no address");
                for address in (host.as_str(), *port).to_socket_addrs()? {
                    match TcpStream::connect_timeout(&address, timeout) {
                        Ok(stream) => {
                            // Requests are small and answered one by one: send each at once.
                            stream.set_nodelay(true)?;
                            return Ok(Stream::Tcp(stream));
                        }
                        Err(e) => last = e,
                    }
                }
                Err(last)
            }
        }
    }

    /// Opens a stream to the agent for tokio.
    pub async fn connect_async(&self) -> io::Result<AsyncStream> {
        match self {
            Address::Unix(path) => Ok(AsyncStream::Unix(
                tokio::net::UnixStream::connect(path).await?,
            )),
            Address::Vsock { cid, port } => Ok(AsyncStream::Vsock(
                AsyncVsockStream::connect(*cid, *port).await?,
            )),
            Address::Tcp { host, port } => {
                let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                stream.set_nodelay(true)?;
                Ok(AsyncStream::Tcp(stream))
            }
        }
    }
}

/// A blocking stream to an agent, of whichever kind its [`Address`] named.
#[derive(Debug)]
pub enum Stream {
    /// A unix socket.
    Unix(UnixStream),
    /// A TCP connection.
    Tcp(TcpStream),
    /// A vsock connection.
    Vsock(VsockStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
            Stream::Vsock(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
            Stream::Vsock(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
            Stream::Vsock(s) => s.flush(),
        }
    }
}

impl Transport for Stream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => Transport::set_read_timeout(s, timeout),
            Stream::Tcp(s) => Transport::set_read_timeout(s, timeout),
            Stream::Vsock(s) => s.set_read_timeout(timeout),
        }
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => Transport::set_write_timeout(s, timeout),
            Stream::Tcp(s) => Transport::set_write_timeout(s, timeout),
            Stream::Vsock(s) => s.set_write_timeout(timeout),
        }
    }
}

/// A tokio stream to an agent, of whichever kind its [`Address`] named.
#[derive(Debug)]
pub enum AsyncStream {
    /// A unix socket.
    Unix(tokio::net::UnixStream),
    /// A TCP connection.
    Tcp(tokio::net::TcpStream),
    /// A vsock connection.
    Vsock(AsyncVsockStream),
}

impl AsyncRead for AsyncStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AsyncStream::Unix(s) => Pin::new(s).poll_read(cx, buf),
            AsyncStream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            AsyncStream::Vsock(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for AsyncStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            AsyncStream::Unix(s) => Pin::new(s).poll_write(cx, buf),
            AsyncStream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            AsyncStream::Vsock(s) => Pin::new(s).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AsyncStream::Unix(s) => Pin::new(s).poll_flush(cx),
            AsyncStream::Tcp(s) => Pin::new(s).poll_flush(cx),
            AsyncStream::Vsock(s) => Pin::new(s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AsyncStream::Unix(s) => Pin::new(s).poll_shutdown(cx),
            AsyncStream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            AsyncStream::Vsock(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Address;

    #[test]
    fn parses_and_prints_addresses() {
        for (text, address, shown) in [
            (
                "/run/qga.sock",
                Address::Unix("/run/qga.sock".into()),
                "/run/qga.sock",
            ),
            (
                "unix:rel/qga.sock",
                Address::Unix("rel/qga.sock".into()),
                "rel/qga.sock",
            ),
            (
                "vsock:3:1234",
                Address::Vsock { cid: 3, port: 1234 },
                "vsock:3:1234",
            ),
            (
                "tcp:localhost:4444",
                Address::Tcp {
                    host: "localhost".into(),
                    port: 4444,
                },
                "tcp:localhost:4444",
            ),
            (
                "tcp:[::1]:4444",
                Address::Tcp {
                    host: "::1".into(),
                    port: 4444,
                },
                "tcp:[::1]:4444",
            ),
        ] {
            assert_eq!(text.parse::<Address>().unwrap(), address, "{text}");
            assert_eq!(address.to_string(), shown);
        }
    }

    #[test]
    fn refuses_malformed_addresses() {
        for text in [
            "",
            "unix:",
            "vsock:3",
            "vsock:x:1",
            "vsock:3:-1",
            "tcp:host",
            "tcp::1",
            "tcp:host:99999",
        ] {
            let e = text.parse::<Address>().unwrap_err();
            assert!(
                e.to_string()
                    .starts_with(&format!("invalid address '{text}'")),
                "{e}"
            );
        }
    }
}
