//! The channels: a virtio-serial or isa-serial device, a unix socket or a vsock
//! socket. Bytes in go to a fresh protocol session per connection; responses go
//! back; a client that disappears never ends the agent.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::Duration;

use qga_dispatch::{Service, Session};

use crate::agent::Agent;
use crate::options::{Method, Options};
use crate::signals;

/// Why serving stopped.
#[derive(Debug)]
pub enum Stop {
    /// SIGTERM or SIGINT.
    Signal,
}

/// Waits until `fd` is readable; `Ok(false)` when a terminating signal arrived.
fn wait_readable(fd: BorrowedFd<'_>) -> io::Result<bool> {
    loop {
        if signals::terminating() {
            return Ok(false);
        }
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, 1000) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n > 0 {
            return Ok(true);
        }
    }
}

/// Serves one connection until it ends; `Ok(false)` on a terminating signal.
fn serve_stream<S: Read + Write + AsFd>(
    stream: &mut S,
    agent: &mut Agent,
    hangup_is_end: bool,
) -> io::Result<bool> {
    let mut session = Session::new(Agent::commands());
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    loop {
        if !wait_readable(stream.as_fd())? {
            return Ok(false);
        }
        let n = match stream.read(&mut buf) {
            Ok(0) if hangup_is_end => return Ok(true),
            // A serial port whose host side is closed reads as end of file over and
            // over: wait for the host to come back, and forget any partial message.
            Ok(0) => {
                session.reset();
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Ok(n) => n,
            Err(e)
                if e.kind() == io::ErrorKind::Interrupted
                    || e.kind() == io::ErrorKind::WouldBlock =>
            {
                continue
            }
            Err(e) if hangup_is_end => {
                tracing::debug!("connection ended: {e}");
                return Ok(true);
            }
            Err(e) => return Err(e),
        };
        out.clear();
        session.feed(&buf[..n], &mut out, agent as &mut dyn Service);
        if !out.is_empty() {
            if let Err(e) = stream.write_all(&out).and_then(|()| stream.flush()) {
                // The client went away with responses unread: drop it, keep serving.
                tracing::debug!("client gone: {e}");
                if hangup_is_end {
                    return Ok(true);
                }
            }
        }
    }
}

fn open_device(path: &Path, retry: bool) -> io::Result<File> {
    loop {
        match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
            .open(path)
        {
            Ok(file) => return Ok(file),
            Err(e) if retry && !signals::terminating() => {
                tracing::warn!("cannot open channel '{}': {e}; retrying", path.display());
                std::thread::sleep(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Puts a serial line in raw mode, as QEMU's agent does for isa-serial.
fn make_raw(file: &File) -> io::Result<()> {
    let mut termios = rustix::termios::tcgetattr(file)?;
    termios.make_raw();
    rustix::termios::tcsetattr(file, rustix::termios::OptionalActions::Now, &termios)?;
    Ok(())
}

fn vsock_listener(address: &str) -> io::Result<OwnedFd> {
    let invalid = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid vsock address '{address}', expected CID:PORT"),
        )
    };
    let (cid, port) = address.split_once(':').ok_or_else(invalid)?;
    let cid: i64 = cid.parse().map_err(|_| invalid())?;
    let port: u32 = port.parse().map_err(|_| invalid())?;
    // SAFETY: plain socket calls on a descriptor we own; the address struct is
    // zeroed and then filled in.
    unsafe {
        let fd = libc::socket(libc::AF_VSOCK, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_vm = std::mem::zeroed();
        addr.svm_family = libc::AF_VSOCK as libc::sa_family_t;
        addr.svm_cid = cid as u32; // -1 is VMADDR_CID_ANY
        addr.svm_port = port;
        let len = size_of::<libc::sockaddr_vm>() as libc::socklen_t;
        if libc::bind(
            fd.as_raw_fd(),
            &addr as *const _ as *const libc::sockaddr,
            len,
        ) < 0
            || libc::listen(fd.as_raw_fd(), 1) < 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(fd)
    }
}

fn vsock_accept(listener: &OwnedFd) -> io::Result<File> {
    // SAFETY: accept4 on our listening descriptor; the result is a new owned fd.
    let fd = unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: accept4 returned a fresh descriptor that nothing else owns.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Serves the configured channel until a terminating signal.
pub fn serve(options: &Options, agent: &mut Agent) -> io::Result<Stop> {
    let path = options
        .path
        .clone()
        .unwrap_or_else(|| options.method.default_path().to_owned());
    match options.method {
        Method::VirtioSerial | Method::IsaSerial => loop {
            let mut device = open_device(Path::new(&path), options.retry_path)?;
            if options.method == Method::IsaSerial {
                make_raw(&device)?;
            }
            tracing::info!("listening on {path}");
            match serve_stream(&mut device, agent, false) {
                Ok(false) => return Ok(Stop::Signal),
                Ok(true) => {}
                Err(e) if options.retry_path => {
                    tracing::warn!("channel '{path}' failed: {e}; reopening")
                }
                Err(e) => return Err(e),
            }
        },
        Method::UnixListen => {
            let socket = Path::new(&path);
            if std::fs::symlink_metadata(socket)
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
            {
                std::fs::remove_file(socket)?;
            }
            let listener = UnixListener::bind(socket)?;
            tracing::info!("listening on {path}");
            loop {
                if !wait_readable(listener.as_fd())? {
                    return Ok(Stop::Signal);
                }
                let Ok((mut stream, _)) = listener.accept() else {
                    continue;
                };
                // One client at a time, as QEMU's agent; each starts with a fresh session.
                if !serve_stream(&mut stream, agent, true)? {
                    return Ok(Stop::Signal);
                }
            }
        }
        Method::VsockListen => {
            let listener = vsock_listener(&path)?;
            tracing::info!("listening on vsock {path}");
            loop {
                if !wait_readable(listener.as_fd())? {
                    return Ok(Stop::Signal);
                }
                let Ok(mut stream) = vsock_accept(&listener) else {
                    continue;
                };
                if !serve_stream(&mut stream, agent, true)? {
                    return Ok(Stop::Signal);
                }
            }
        }
    }
}
