//! `-d`: detaching from the terminal and the parent.
//!
//! The process forks; the child starts a new session, moves to `/`, sets the
//! umask to 077 (as qemu-ga) and carries on starting up. Unlike qemu-ga, whose
//! parent exits at once, the parent waits until the child says it is ready
//! (its pid file taken, its state loaded, its channel open or being retried)
//! and exits 0, or reaps the child and exits 1 when it fails before that:
//! whoever started the agent learns that it did not start, and its errors
//! still reach the terminal. The child's standard streams go to /dev/null only
//! once it is ready.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;

use rustix::pipe::{pipe_with, PipeFlags};

/// The child's promise to tell the parent when it is up. Dropping it without
/// [`Readiness::ready`] tells the parent that start-up failed.
#[derive(Debug)]
pub struct Readiness {
    pipe: Option<OwnedFd>,
}

impl Readiness {
    /// For an agent that did not daemonize: there is nobody to tell.
    pub fn foreground() -> Self {
        Readiness { pipe: None }
    }

    /// Whether the agent daemonized.
    pub fn is_daemon(&self) -> bool {
        self.pipe.is_some()
    }

    /// Points the standard streams at /dev/null and lets the parent exit 0.
    pub fn ready(mut self) -> io::Result<()> {
        let Some(pipe) = self.pipe.take() else {
            return Ok(());
        };
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")?;
        rustix::stdio::dup2_stdin(&null)?;
        rustix::stdio::dup2_stdout(&null)?;
        rustix::stdio::dup2_stderr(&null)?;
        rustix::io::write(&pipe, b"R")?;
        Ok(())
    }
}

/// Forks. Returns in the child; the parent waits for the child's readiness and
/// exits, never returning.
pub fn daemonize() -> io::Result<Readiness> {
    let (read, write) = pipe_with(PipeFlags::CLOEXEC)?;
    // SAFETY: the agent is single-threaded when it daemonizes (start-up, before
    // any thread is spawned), so the child may run anything.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        drop(write);
        let mut status = [0u8; 1];
        let ready = matches!(File::from(read).read(&mut status), Ok(1));
        if !ready {
            // The child failed and is exiting: reap it rather than leave an
            // orphan to init.
            // SAFETY: waitpid on our own child.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        }
        std::process::exit(if ready { 0 } else { 1 });
    }
    drop(read);
    rustix::process::setsid()?;
    rustix::process::chdir("/")?;
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    Ok(Readiness { pipe: Some(write) })
}
