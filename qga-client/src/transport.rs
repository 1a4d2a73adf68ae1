//! The byte streams a blocking [`Client`](crate::Client) runs over.
//!
//! Any `Read + Write` carries the protocol; what a client needs beyond that is a way to
//! stop waiting, which sockets provide through their read and write timeouts. A stream
//! without timeouts (a pipe, a serial device, an in-memory buffer) is wrapped in
//! [`NoTimeout`]: calls then wait as long as it takes.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A byte stream to an agent whose reads and writes can time out.
///
/// `None` means wait forever. A client sets the timeouts before each read and write to
/// what is left of the call's time, so an implementation should make them cheap.
pub trait Transport: Read + Write {
    /// Makes reads fail with `WouldBlock` or `TimedOut` after `timeout`.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
    /// Makes writes fail with `WouldBlock` or `TimedOut` after `timeout`.
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
}

impl Transport for UnixStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_write_timeout(self, timeout)
    }
}

impl Transport for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }
}

/// A stream without timeouts, such as a pipe or a serial device: calls over it wait
/// until the agent answers or the stream ends.
#[derive(Debug)]
pub struct NoTimeout<T>(pub T);

impl<T: Read> Read for NoTimeout<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<T: Write> Write for NoTimeout<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<T: Read + Write> Transport for NoTimeout<T> {
    fn set_read_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
    fn set_write_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}
