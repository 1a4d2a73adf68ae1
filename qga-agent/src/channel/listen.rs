//! The listening channels: a unix socket (`unix-listen`) or an AF_VSOCK socket
//! (`vsock-listen`, address `CID:PORT`), serving one client at a time (the
//! backlog is one, as qemu-ga's).
//!
//! A unix socket path left over from an earlier agent is replaced, as qemu-ga
//! does; unlike qemu-ga, one that another process still listens on, or a path
//! that is not a socket, is left alone and the channel fails. The socket file
//! is removed when the channel closes (if it is still ours).

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rustix::net::{
    bind, listen, socket_with, AddressFamily, SocketAddrUnix, SocketFlags, SocketType,
};

use super::ChannelError;

/// How many connections may wait while one is served.
const BACKLOG: i32 = 1;

/// A listening socket.
#[derive(Debug)]
pub struct Listener {
    fd: OwnedFd,
    /// The unix socket file this listener created: removed on drop if it
    /// still is the same file (device and inode).
    socket_file: Option<(PathBuf, u64, u64)>,
}

impl Listener {
    /// Listens on a unix socket at `path`.
    pub fn unix(path: &Path) -> Result<Listener, ChannelError> {
        let bind_error = |e: io::Error| ChannelError::Bind(path.to_owned(), e);
        clear_stale_socket(path)?;
        let addr = SocketAddrUnix::new(path).map_err(|e| bind_error(e.into()))?;
        let fd = socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )
        .map_err(|e| bind_error(e.into()))?;
        bind(&fd, &addr).map_err(|e| bind_error(e.into()))?;
        let meta = std::fs::symlink_metadata(path).map_err(bind_error)?;
        let listener = Listener {
            fd,
            socket_file: Some((path.to_owned(), meta.dev(), meta.ino())),
        };
        listen(&listener.fd, BACKLOG).map_err(|e| bind_error(e.into()))?;
        Ok(listener)
    }

    /// Listens on a vsock address.
    pub fn vsock(addr: VsockAddr) -> Result<Listener, ChannelError> {
        let error = |e: io::Error| ChannelError::Vsock(addr, e);
        // SAFETY: socket(2) with constant arguments; the result is checked and
        // owned from then on.
        let raw = unsafe {
            libc::socket(
                libc::AF_VSOCK,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        };
        if raw < 0 {
            return Err(error(io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a new descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let sockaddr = libc::sockaddr_vm {
            svm_family: libc::AF_VSOCK as libc::sa_family_t,
            svm_reserved1: 0,
            svm_port: addr.port,
            svm_cid: addr.cid,
            svm_zero: [0; 4],
        };
        // SAFETY: the address is a valid sockaddr_vm of the size given.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sockaddr as *const libc::sockaddr_vm).cast(),
                size_of::<libc::sockaddr_vm>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(error(io::Error::last_os_error()));
        }
        listen(&fd, BACKLOG).map_err(|e| error(e.into()))?;
        Ok(Listener {
            fd,
            socket_file: None,
        })
    }

    /// Listens on a socket inherited through socket activation (a duplicate of
    /// it, so that the channel can be opened again).
    pub fn inherited(fd: &OwnedFd) -> Result<Listener, ChannelError> {
        let io_error = |e: rustix::io::Errno| ChannelError::Io(e.into());
        let fd = rustix::io::fcntl_dupfd_cloexec(fd, 3).map_err(io_error)?;
        let flags = rustix::fs::fcntl_getfl(&fd).map_err(io_error)?;
        rustix::fs::fcntl_setfl(&fd, flags | rustix::fs::OFlags::NONBLOCK).map_err(io_error)?;
        Ok(Listener {
            fd,
            socket_file: None,
        })
    }

    /// The listening descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some((path, dev, ino)) = &self.socket_file {
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                if meta.dev() == *dev && meta.ino() == *ino {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }
}

/// Removes a socket file left at `path` by an agent that is gone.
fn clear_stale_socket(path: &Path) -> Result<(), ChannelError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ChannelError::Bind(path.to_owned(), e)),
    };
    if !meta.file_type().is_socket() {
        return Err(ChannelError::InUse(
            path.to_owned(),
            "the path exists and is not a socket",
        ));
    }
    if UnixStream::connect(path).is_ok() {
        return Err(ChannelError::InUse(
            path.to_owned(),
            "another process is listening on it",
        ));
    }
    std::fs::remove_file(path).map_err(|e| ChannelError::Bind(path.to_owned(), e))
}

/// A vsock address, `CID:PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VsockAddr {
    /// The context id (4294967295, `VMADDR_CID_ANY`, for any).
    pub cid: u32,
    /// The port.
    pub port: u32,
}

impl fmt::Display for VsockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.cid, self.port)
    }
}

/// Why a vsock address does not parse; the texts are qemu-ga's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VsockAddrError {
    /// Not `CID:PORT`.
    Address(String),
    /// The CID is not a number.
    Cid(String),
    /// The port is not a number.
    Port(String),
}

impl fmt::Display for VsockAddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VsockAddrError::Address(s) => write!(f, "error parsing address '{s}'"),
            VsockAddrError::Cid(s) => write!(f, "Failed to parse cid '{s}'"),
            VsockAddrError::Port(s) => write!(f, "Failed to parse port '{s}'"),
        }
    }
}

impl std::error::Error for VsockAddrError {}

impl FromStr for VsockAddr {
    type Err = VsockAddrError;

    fn from_str(s: &str) -> Result<VsockAddr, VsockAddrError> {
        let (cid, port) = s
            .split_once(':')
            .filter(|(cid, port)| !cid.is_empty() && !port.is_empty() && !port.contains(','))
            .ok_or_else(|| VsockAddrError::Address(s.to_owned()))?;
        let number = |text: &str| {
            text.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| text.parse::<u32>().ok())
                .flatten()
        };
        Ok(VsockAddr {
            cid: number(cid).ok_or_else(|| VsockAddrError::Cid(cid.to_owned()))?,
            port: number(port).ok_or_else(|| VsockAddrError::Port(port.to_owned()))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vsock_addresses() {
        assert_eq!("3:1234".parse(), Ok(VsockAddr { cid: 3, port: 1234 }));
        assert_eq!(
            "4294967295:1".parse::<VsockAddr>().unwrap().cid,
            libc::VMADDR_CID_ANY
        );
        for (text, error) in [
            ("bad", "error parsing address 'bad'"),
            (":1", "error parsing address ':1'"),
            ("1:", "error parsing address '1:'"),
            ("1:x", "Failed to parse port 'x'"),
            ("x:1", "Failed to parse cid 'x'"),
            ("-1:1", "Failed to parse cid '-1'"),
            ("1:99999999999", "Failed to parse port '99999999999'"),
        ] {
            assert_eq!(
                text.parse::<VsockAddr>().unwrap_err().to_string(),
                error,
                "{text}"
            );
        }
    }

    #[test]
    fn a_unix_socket_is_created_replaced_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qga.sock");
        let live = Listener::unix(&path).unwrap();
        // Another process's live socket: refused, and left in place.
        assert!(matches!(
            Listener::unix(&path),
            Err(ChannelError::InUse(..))
        ));
        assert!(path.exists());
        drop(live);
        assert!(!path.exists());

        // A stale socket (nobody listens on it any more): replaced.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let listener = Listener::unix(&path).unwrap();
        assert!(UnixStream::connect(&path).is_ok());
        drop(listener);
        assert!(!path.exists());
    }

    #[test]
    fn a_path_that_is_not_a_socket_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        std::fs::write(&path, "keep").unwrap();
        assert!(matches!(
            Listener::unix(&path),
            Err(ChannelError::InUse(..))
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep");
    }

    #[test]
    fn a_missing_directory_is_a_bind_error() {
        let err = Listener::unix(Path::new("/nonexistent/dir/s")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Failed to bind socket to /nonexistent/dir/s: "),
            "{err}"
        );
    }

    #[test]
    fn listening_descriptors_are_close_on_exec() {
        let dir = tempfile::tempdir().unwrap();
        let listener = Listener::unix(&dir.path().join("s")).unwrap();
        let flags = rustix::io::fcntl_getfd(listener.fd()).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
    }
}
