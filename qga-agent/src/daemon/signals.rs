//! SIGTERM and SIGINT, turned into a readable pipe that the main loop polls.
//!
//! The handler only writes the signal's number to a non-blocking pipe (an
//! async-signal-safe call); the main loop sees the pipe readable and stops
//! between two reads, so a signal can never catch the agent halfway through
//! its own work (qemu-ga quits its main loop from the handler itself, and can
//! deadlock). SIGPIPE is ignored: a client that goes away makes writes fail
//! with EPIPE instead of killing the agent.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use rustix::pipe::{pipe_with, PipeFlags};

/// The write end of the pipe of the installed [`Signals`] (-1: none).
static PIPE: AtomicI32 = AtomicI32::new(-1);

/// The signals that stop the agent.
pub const STOP_SIGNALS: [libc::c_int; 2] = [libc::SIGTERM, libc::SIGINT];

/// Why the main loop was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A signal, by number.
    Signal(i32),
    /// [`Stopper::stop`].
    Requested,
}

/// The read end of the stop pipe: readable once a stop signal has arrived (or
/// [`Stopper::stop`] was called).
#[derive(Debug)]
pub struct Signals {
    read: OwnedFd,
    write: Arc<OwnedFd>,
}

/// Asks the main loop to stop, from any thread.
#[derive(Debug, Clone)]
pub struct Stopper {
    write: Arc<OwnedFd>,
}

/// The byte [`Stopper::stop`] writes (no signal has number 0).
const REQUESTED: u8 = 0;

impl Stopper {
    /// Makes the main loop stop, as a stop signal would.
    pub fn stop(&self) {
        // A full pipe already holds a stop request.
        let _ = rustix::io::write(&*self.write, &[REQUESTED]);
    }
}

extern "C" fn on_stop_signal(signal: libc::c_int) {
    let fd = PIPE.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    // SAFETY: errno is saved and restored around write(2), which is
    // async-signal-safe; the buffer is a local byte; `fd` is the pipe's write
    // end, which stays open while it is installed.
    unsafe {
        let errno = libc::__errno_location();
        let saved = *errno;
        let byte = signal as u8;
        libc::write(fd, (&byte as *const u8).cast(), 1);
        *errno = saved;
    }
}

fn sigaction(signal: libc::c_int, handler: libc::sighandler_t) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is valid (empty mask, no flags); the handler
    // is either SIG_IGN or `on_stop_signal`, which only does async-signal-safe
    // work.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Ignores SIGPIPE (also done by [`Signals::install`]).
pub fn ignore_sigpipe() -> io::Result<()> {
    sigaction(libc::SIGPIPE, libc::SIG_IGN)
}

impl Signals {
    /// A stop pipe with no signal attached yet.
    pub fn new() -> io::Result<Self> {
        let (read, write) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        Ok(Signals {
            read,
            write: Arc::new(write),
        })
    }

    /// Routes SIGTERM and SIGINT to this pipe and ignores SIGPIPE. For the
    /// process's lifetime: the pipe's write end is kept open from then on.
    pub fn install(&self) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        // The handler may run at any time from now on, so the descriptor must
        // never be closed: leak one reference.
        std::mem::forget(Arc::clone(&self.write));
        PIPE.store(self.write.as_raw_fd(), Ordering::Relaxed);
        for signal in STOP_SIGNALS {
            sigaction(
                signal,
                on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            )?;
        }
        ignore_sigpipe()
    }

    /// A handle that stops the main loop as a signal would.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            write: Arc::clone(&self.write),
        }
    }

    /// The descriptor to poll for reading.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// The stop request waiting, if any (it stays pending: every later call
    /// sees it too, so nested loops all stop).
    pub fn pending(&self) -> Option<StopReason> {
        let mut fds = [rustix::event::PollFd::new(
            &self.read,
            rustix::event::PollFlags::IN,
        )];
        let zero = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        match rustix::event::poll(&mut fds, Some(&zero)) {
            Ok(n) if n > 0 => Some(self.reason()),
            _ => None,
        }
    }

    /// Why the pipe is readable. Reads one byte and writes it back, so that the
    /// request stays pending.
    pub fn reason(&self) -> StopReason {
        let mut byte = [REQUESTED];
        match rustix::io::read(&self.read, &mut byte) {
            Ok(1) => {
                let _ = rustix::io::write(&*self.write, &byte);
                match byte[0] {
                    REQUESTED => StopReason::Requested,
                    signal => StopReason::Signal(signal.into()),
                }
            }
            _ => StopReason::Requested,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_request_stays_pending() {
        let signals = Signals::new().unwrap();
        assert_eq!(signals.pending(), None);
        signals.stopper().stop();
        assert_eq!(signals.pending(), Some(StopReason::Requested));
        assert_eq!(signals.pending(), Some(StopReason::Requested));
    }

    #[test]
    fn stopper_works_from_another_thread() {
        let signals = Signals::new().unwrap();
        let stopper = signals.stopper();
        std::thread::spawn(move || stopper.stop()).join().unwrap();
        assert_eq!(signals.pending(), Some(StopReason::Requested));
    }
}
