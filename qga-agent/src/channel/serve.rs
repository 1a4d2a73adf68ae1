//! The loops that serve a channel: read what arrives, hand it to the protocol,
//! write back everything it answered before reading again, and watch the stop
//! pipe all the while.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;
use rustix::net::{accept_with, send, SendFlags, SocketFlags};
use rustix::time::Timespec;

use super::device::Device;
use super::listen::Listener;
use super::Protocol;
use crate::daemon::signals::{Signals, StopReason};

/// How much is read at once.
const READ_SIZE: usize = 64 * 1024;
/// The first wait when the host has closed its side of a serial channel
/// (qemu-ga waits 100 ms each time), and the longest.
const HANGUP_WAIT_FIRST: Duration = Duration::from_millis(100);
const HANGUP_WAIT_MAX: Duration = Duration::from_millis(500);
/// The wait after accept(2) ran out of descriptors or memory.
const ACCEPT_RETRY_WAIT: Duration = Duration::from_millis(100);

/// What kind of stream is served: it decides what a hang-up means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A socket client: hanging up ends the connection.
    Client,
    /// A serial device: the host closing its side is waited out.
    Device,
}

/// How serving a stream ended.
enum End {
    Stopped(StopReason),
    /// The client went away.
    Closed,
}

fn timespec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: d.as_secs() as _,
        tv_nsec: d.subsec_nanos() as _,
    }
}

/// Polls the stop pipe and `fd` (if any) for `events`; `None` while
/// interrupted. Returns the stop request, if one came, and `fd`'s events.
fn wait(
    signals: &Signals,
    fd: Option<BorrowedFd<'_>>,
    events: PollFlags,
    timeout: Option<Duration>,
) -> io::Result<(Option<StopReason>, PollFlags)> {
    let timeout = timeout.map(timespec);
    let mut fds = Vec::with_capacity(2);
    fds.push(PollFd::from_borrowed_fd(signals.fd(), PollFlags::IN));
    if let Some(fd) = fd {
        fds.push(PollFd::from_borrowed_fd(fd, events));
    }
    match poll(&mut fds, timeout.as_ref()) {
        Ok(_) => {}
        Err(Errno::INTR) => return Ok((signals.pending(), PollFlags::empty())),
        Err(e) => return Err(e.into()),
    }
    let stop = (!fds[0].revents().is_empty()).then(|| signals.reason());
    let revents = fds.get(1).map_or(PollFlags::empty(), |fd| fd.revents());
    Ok((stop, revents))
}

/// Sleeps for `duration` unless a stop request comes first (returned).
pub(super) fn sleep(signals: &Signals, duration: Duration) -> Option<StopReason> {
    match wait(signals, None, PollFlags::empty(), Some(duration)) {
        Ok((stop, _)) => stop.or_else(|| signals.pending()),
        Err(_) => signals.pending(),
    }
}

/// Serves a serial device until a stop request, or until it fails.
pub(super) fn device<P: Protocol + ?Sized>(
    device: &mut Device,
    protocol: &mut P,
    signals: &Signals,
) -> io::Result<StopReason> {
    tracing::debug!(
        "serving {} channel {}",
        device.method(),
        device.path().display()
    );
    match stream(device.fd(), Kind::Device, protocol, signals)? {
        End::Stopped(reason) => Ok(reason),
        End::Closed => unreachable!("a device hang-up is waited out"),
    }
}

/// Serves a listening socket, one client at a time, until a stop request, or
/// until accepting fails for good.
pub(super) fn listener<P: Protocol + ?Sized>(
    listener: &mut Listener,
    protocol: &mut P,
    signals: &Signals,
) -> io::Result<StopReason> {
    loop {
        let (stop, revents) = wait(signals, Some(listener.fd()), PollFlags::IN, None)?;
        if let Some(reason) = stop {
            return Ok(reason);
        }
        if revents.contains(PollFlags::NVAL) {
            return Err(Errno::BADF.into());
        }
        if revents.is_empty() {
            continue;
        }
        match accept_with(listener.fd(), SocketFlags::CLOEXEC | SocketFlags::NONBLOCK) {
            Ok(client) => {
                tracing::debug!("client connected");
                protocol.reset();
                match stream(client.as_fd(), Kind::Client, protocol, signals)? {
                    End::Stopped(reason) => return Ok(reason),
                    End::Closed => tracing::debug!("client disconnected"),
                }
            }
            Err(Errno::AGAIN | Errno::INTR | Errno::CONNABORTED | Errno::PROTO | Errno::PERM) => {}
            Err(e @ (Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM)) => {
                tracing::warn!("error accepting a connection: {e}");
                if let Some(reason) = sleep(signals, ACCEPT_RETRY_WAIT) {
                    return Ok(reason);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The state of one served stream.
struct Stream<'a, P: ?Sized> {
    fd: BorrowedFd<'a>,
    kind: Kind,
    protocol: &'a mut P,
    /// Responses not written yet: `out[sent..]`.
    out: Vec<u8>,
    sent: usize,
    /// Set while the host has its side of a device closed: how long to wait
    /// before looking again.
    hung_up: Option<Duration>,
}

/// What a read or write did.
enum Progress {
    /// Go on.
    Continue,
    /// Nothing to read now (EAGAIN).
    Idle,
    /// The peer is gone (a client), or has closed its side (a device).
    HungUp,
}

impl<P: Protocol + ?Sized> Stream<'_, P> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<Progress> {
        match rustix::io::read(self.fd, &mut *buf) {
            Ok(0) => Ok(Progress::HungUp),
            Ok(n) => {
                if self.hung_up.take().is_some() {
                    tracing::debug!("host side of the channel open again");
                }
                tracing::trace!(count = n, "read data");
                self.protocol.feed(&buf[..n], &mut self.out);
                self.sent = 0;
                self.write()
            }
            Err(Errno::AGAIN | Errno::INTR) => Ok(Progress::Idle),
            Err(e) => self.failed(e),
        }
    }

    /// Writes as much of the pending output as the stream takes now; once all of it
    /// is written, answers any input the protocol held back meanwhile.
    fn write(&mut self) -> io::Result<Progress> {
        loop {
            while self.sent < self.out.len() {
                let pending = &self.out[self.sent..];
                let written = match self.kind {
                    // No SIGPIPE even if it were not ignored.
                    Kind::Client => send(self.fd, pending, SendFlags::NOSIGNAL),
                    Kind::Device => rustix::io::write(self.fd, pending),
                };
                match written {
                    Ok(n) => self.sent += n,
                    Err(Errno::AGAIN) => return Ok(Progress::Continue),
                    Err(Errno::INTR) => {}
                    Err(e) => return self.failed(e),
                }
            }
            self.out.clear();
            self.sent = 0;
            if !self.protocol.holds_input() {
                return Ok(Progress::Continue);
            }
            self.protocol.resume(&mut self.out);
        }
    }

    /// A read or write error: the end of a client; for a device, an error (the
    /// device went away) unless it only says the host is not there.
    fn failed(&mut self, e: Errno) -> io::Result<Progress> {
        match self.kind {
            Kind::Client => {
                tracing::debug!("client connection error: {e}");
                Ok(Progress::HungUp)
            }
            Kind::Device if e == Errno::PIPE || e == Errno::CONNRESET => Ok(Progress::HungUp),
            Kind::Device => Err(e.into()),
        }
    }

    /// The host closed its side of the device: what it sent half of and what
    /// it did not read are dropped, and the device is looked at again later,
    /// less and less often.
    fn device_hung_up(&mut self) {
        let wait = match self.hung_up {
            None => {
                tracing::debug!("host side of the channel closed");
                self.protocol.reset();
                self.out.clear();
                self.sent = 0;
                HANGUP_WAIT_FIRST
            }
            Some(wait) => (wait * 2).min(HANGUP_WAIT_MAX),
        };
        self.hung_up = Some(wait);
    }
}

/// Serves one stream until a stop request or until the client goes away.
fn stream<P: Protocol + ?Sized>(
    fd: BorrowedFd<'_>,
    kind: Kind,
    protocol: &mut P,
    signals: &Signals,
) -> io::Result<End> {
    let mut buf = vec![0u8; READ_SIZE];
    let mut s = Stream {
        fd,
        kind,
        protocol,
        out: Vec::new(),
        sent: 0,
        hung_up: None,
    };
    loop {
        if let Some(pause) = s.hung_up {
            if let Some(reason) = sleep(signals, pause) {
                return Ok(End::Stopped(reason));
            }
            // Look without waiting: data (the host is back), end of file
            // (still closed), or an error (the device is gone).
            match s.read(&mut buf)? {
                Progress::HungUp => s.device_hung_up(),
                // The host is connected but quiet.
                Progress::Idle => s.hung_up = None,
                Progress::Continue => {}
            }
            continue;
        }
        let writing = s.sent < s.out.len();
        let events = if writing {
            PollFlags::OUT
        } else {
            PollFlags::IN
        };
        let (stop, revents) = wait(signals, Some(fd), events, None)?;
        if let Some(reason) = stop {
            return Ok(End::Stopped(reason));
        }
        if revents.contains(PollFlags::NVAL) {
            return Err(Errno::BADF.into());
        }
        let progress = if writing && revents.contains(PollFlags::OUT) {
            s.write()?
        } else if !writing && revents.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
            // Read even on a hang-up: data may still be waiting before it.
            match s.read(&mut buf)? {
                Progress::Idle if !revents.contains(PollFlags::IN) => Progress::HungUp,
                progress => progress,
            }
        } else if revents.intersects(PollFlags::HUP | PollFlags::ERR) {
            Progress::HungUp
        } else {
            Progress::Continue
        };
        if let Progress::HungUp = progress {
            match kind {
                Kind::Client => return Ok(End::Closed),
                Kind::Device => s.device_hung_up(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::listen::Listener;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::os::unix::net::UnixStream;
    use std::sync::{Arc, Mutex};
    use std::thread;

    /// Answers every complete line with `echo: LINE`; remembers what it saw.
    #[derive(Default)]
    struct LineEcho {
        partial: Vec<u8>,
        resets: usize,
        log: Arc<Mutex<Vec<String>>>,
    }

    impl Protocol for LineEcho {
        fn feed(&mut self, input: &[u8], output: &mut Vec<u8>) {
            for &b in input {
                if b == b'\n' {
                    let line = String::from_utf8_lossy(&self.partial).into_owned();
                    output.extend_from_slice(format!("echo: {line}\n").as_bytes());
                    self.log.lock().unwrap().push(line);
                    self.partial.clear();
                } else {
                    self.partial.push(b);
                }
            }
        }

        fn reset(&mut self) {
            self.resets += 1;
            self.partial.clear();
        }
    }

    /// Serves `listener` with a [`LineEcho`] on a thread; returns the stopper
    /// and the thread, which returns the protocol.
    fn serve_unix(
        mut listener: Listener,
        log: Arc<Mutex<Vec<String>>>,
    ) -> (
        crate::daemon::signals::Stopper,
        thread::JoinHandle<(io::Result<StopReason>, usize)>,
    ) {
        let signals = Signals::new().unwrap();
        let stopper = signals.stopper();
        let handle = thread::spawn(move || {
            let mut protocol = LineEcho {
                log,
                ..LineEcho::default()
            };
            let result = super::listener(&mut listener, &mut protocol, &signals);
            (result, protocol.resets)
        });
        (stopper, handle)
    }

    fn line(reader: &mut BufReader<UnixStream>) -> String {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        line
    }

    #[test]
    fn clients_one_after_another_each_with_a_fresh_session() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (stopper, handle) = serve_unix(Listener::unix(&path).unwrap(), log.clone());

        // A client that dies halfway through a message.
        let mut first = UnixStream::connect(&path).unwrap();
        first.write_all(b"hello\nhalf a mess").unwrap();
        let mut reader = BufReader::new(first.try_clone().unwrap());
        assert_eq!(line(&mut reader), "echo: hello\n");
        drop(reader);
        drop(first);

        // The next one's first message is its own.
        let second = UnixStream::connect(&path).unwrap();
        (&second).write_all(b"ping\n").unwrap();
        let mut reader = BufReader::new(second);
        assert_eq!(line(&mut reader), "echo: ping\n");

        stopper.stop();
        let (result, resets) = handle.join().unwrap();
        assert_eq!(result.unwrap(), StopReason::Requested);
        assert_eq!(resets, 2);
        assert_eq!(*log.lock().unwrap(), ["hello", "ping"]);
    }

    #[test]
    fn a_client_gone_with_responses_unread_does_not_end_the_loop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (stopper, handle) = serve_unix(Listener::unix(&path).unwrap(), log.clone());

        // Megabytes of answers, none read: the agent's writes fail with EPIPE
        // or ECONNRESET once the client is gone.
        let mut rude = UnixStream::connect(&path).unwrap();
        let burst = "x".repeat(1000) + "\n";
        for _ in 0..200 {
            if rude.write_all(burst.as_bytes()).is_err() {
                break;
            }
        }
        drop(rude);
        // And one that closes right after asking.
        let mut quick = UnixStream::connect(&path).unwrap();
        quick.write_all(b"q\n").unwrap();
        drop(quick);

        let polite = UnixStream::connect(&path).unwrap();
        (&polite).write_all(b"still there?\n").unwrap();
        let mut reader = BufReader::new(polite);
        assert_eq!(line(&mut reader), "echo: still there?\n");

        stopper.stop();
        assert_eq!(handle.join().unwrap().0.unwrap(), StopReason::Requested);
    }

    #[test]
    fn a_client_that_half_closes_still_gets_its_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let (stopper, handle) = serve_unix(Listener::unix(&path).unwrap(), Arc::default());
        let mut client = UnixStream::connect(&path).unwrap();
        client.write_all(b"a\nb\n").unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut all = String::new();
        client.read_to_string(&mut all).unwrap();
        assert_eq!(all, "echo: a\necho: b\n");
        stopper.stop();
        handle.join().unwrap().0.unwrap();
    }

    #[test]
    fn a_stop_request_ends_a_connection_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let (stopper, handle) = serve_unix(Listener::unix(&path).unwrap(), Arc::default());
        let client = UnixStream::connect(&path).unwrap();
        (&client).write_all(b"x\n").unwrap();
        let mut reader = BufReader::new(client);
        assert_eq!(line(&mut reader), "echo: x\n");
        stopper.stop();
        assert_eq!(handle.join().unwrap().0.unwrap(), StopReason::Requested);
    }

    #[test]
    fn a_device_whose_host_hangs_up_is_waited_out_with_a_fresh_session() {
        use rustix::net::{socketpair, AddressFamily, SocketType};
        let (agent_side, host_side) = socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )
        .unwrap();
        let host = UnixStream::from(host_side);
        host.set_nonblocking(false).unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let signals = Signals::new().unwrap();
        let stopper = signals.stopper();
        let seen = log.clone();
        let handle = thread::spawn(move || {
            let mut protocol = LineEcho {
                log: seen,
                ..LineEcho::default()
            };
            let end = stream(agent_side.as_fd(), Kind::Device, &mut protocol, &signals);
            (
                end.map(|end| matches!(end, End::Stopped(_))),
                protocol.resets,
            )
        });
        (&host).write_all(b"one\npart of a mess").unwrap();
        let mut reader = BufReader::new(host.try_clone().unwrap());
        assert_eq!(line(&mut reader), "echo: one\n");
        // The host closes its side: reads see end of file, again and again.
        host.shutdown(std::net::Shutdown::Write).unwrap();
        thread::sleep(Duration::from_millis(400));
        assert!(!handle.is_finished(), "a hang-up does not end a device");
        stopper.stop();
        let (stopped, resets) = handle.join().unwrap();
        assert!(stopped.unwrap());
        assert_eq!(resets, 1, "the half message is dropped once");
        assert_eq!(*log.lock().unwrap(), ["one"]);
    }

    /// A pseudo-terminal pair: the agent's side is the serial "device".
    fn pty() -> (std::fs::File, std::path::PathBuf) {
        // SAFETY: the libc pty calls are used as documented; the master
        // descriptor is owned by the returned File.
        unsafe {
            let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
            assert!(master >= 0);
            assert_eq!(libc::grantpt(master), 0);
            assert_eq!(libc::unlockpt(master), 0);
            let mut name = [0 as libc::c_char; 128];
            assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
            let path = std::ffi::CStr::from_ptr(name.as_ptr())
                .to_str()
                .unwrap()
                .into();
            (std::os::fd::FromRawFd::from_raw_fd(master), path)
        }
    }

    #[test]
    fn a_serial_line_is_raw_and_served() {
        let (master, slave) = pty();
        let mut device = Device::open_serial(&slave).unwrap();
        let tio = rustix::termios::tcgetattr(device.fd()).unwrap();
        assert!(tio.local_modes.is_empty());
        assert!(tio.output_modes.is_empty());
        assert!(!tio.input_modes.contains(rustix::termios::InputModes::ICRNL));

        let signals = Signals::new().unwrap();
        let stopper = signals.stopper();
        let handle = thread::spawn(move || {
            let mut protocol = LineEcho::default();
            super::device(&mut device, &mut protocol, &signals)
        });
        // Raw mode: the carriage return arrives as it was sent.
        (&master).write_all(b"one\rtwo\n").unwrap();
        let mut reader = BufReader::new(master);
        let mut answer = Vec::new();
        reader.read_until(b'\n', &mut answer).unwrap();
        assert_eq!(answer, b"echo: one\rtwo\n");
        stopper.stop();
        assert_eq!(handle.join().unwrap().unwrap(), StopReason::Requested);
    }
}
