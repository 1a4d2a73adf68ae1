//! Stream sockets over vsock (`AF_VSOCK`), the host-to-guest socket family of Linux.
//!
//! An agent started with `-m vsock-listen -p vsock:CID:PORT` (or `vsock:-1:PORT`, any CID)
//! is reached from the host at the guest's CID and that port. std has no vsock type, so
//! this module opens the socket itself: [`VsockStream`] for blocking use and
//! [`AsyncVsockStream`] for tokio.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use rustix::net::sockopt::{self, Timeout};
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::transport::Transport;

/// A connected vsock stream socket.
#[derive(Debug)]
pub struct VsockStream {
    fd: OwnedFd,
}

impl VsockStream {
    /// Connects to `port` on the machine with context id `cid` (the guest's CID; 2 is
    /// the host, 1 the local machine when the `vsock_loopback` module is loaded).
    pub fn connect(cid: u32, port: u32) -> io::Result<VsockStream> {
        let fd = rustix::net::socket_with(
            AddressFamily::VSOCK,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )?;
        let address = libc::sockaddr_vm {
            svm_family: libc::AF_VSOCK as libc::sa_family_t,
            svm_reserved1: 0,
            svm_port: port,
            svm_cid: cid,
            svm_zero: [0; 4],
        };
        // SAFETY: `fd` is an open socket for the duration of the call, and the pointer
        // and length describe `address`, a fully initialised sockaddr_vm that outlives it.
        let rc = unsafe {
            libc::connect(
                fd.as_raw_fd(),
                std::ptr::from_ref(&address).cast::<libc::sockaddr>(),
                size_of::<libc::sockaddr_vm>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(VsockStream { fd })
    }

    /// The same socket, registered with the current tokio runtime.
    pub fn into_async(self) -> io::Result<AsyncVsockStream> {
        rustix::io::ioctl_fionbio(&self.fd, true)?;
        // SAFETY: the AsyncFd owns the OwnedFd, which stays open, and the same
        // descriptor, until the AsyncFd is dropped; nothing else can close it.
        let fd = unsafe { AsyncFd::register(self.fd) }.map_err(|e| e.into_parts().1)?;
        Ok(AsyncVsockStream { fd })
    }
}

impl AsFd for VsockStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Read for VsockStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(rustix::io::read(&self.fd, buf)?)
    }
}

impl Write for VsockStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(rustix::io::write(&self.fd, buf)?)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for VsockStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        Ok(sockopt::set_socket_timeout(
            &self.fd,
            Timeout::Recv,
            timeout,
        )?)
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        Ok(sockopt::set_socket_timeout(
            &self.fd,
            Timeout::Send,
            timeout,
        )?)
    }
}

/// A connected vsock stream socket for tokio.
#[derive(Debug)]
pub struct AsyncVsockStream {
    fd: AsyncFd<OwnedFd>,
}

impl AsyncVsockStream {
    /// Connects to `port` at `cid` without blocking the runtime.
    pub async fn connect(cid: u32, port: u32) -> io::Result<AsyncVsockStream> {
        // A vsock connect completes or fails within the kernel's connect timeout (2 s by
        // default); doing it on the blocking pool keeps the code simple.
        let stream = tokio::task::spawn_blocking(move || VsockStream::connect(cid, port))
            .await
            .map_err(io::Error::other)??;
        stream.into_async()
    }
}

impl AsyncRead for AsyncVsockStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|fd| Ok(rustix::io::read(fd.get_ref(), &mut *unfilled)?)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for AsyncVsockStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            match guard.try_io(|fd| Ok(rustix::io::write(fd.get_ref(), buf)?)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(rustix::net::shutdown(
            self.fd.get_ref(),
            rustix::net::Shutdown::Write,
        )?))
    }
}
