//! No descriptor of the agent reaches the programs guest-exec starts.
//!
//! Everything the agent opens is close-on-exec (Rust's standard library opens
//! files, sockets and pipes that way, and the channel code asks for it
//! explicitly). What the agent inherited from whoever started it (beyond the
//! standard streams) is marked close-on-exec at start-up too.

use std::io;
use std::os::fd::{BorrowedFd, RawFd};

use rustix::io::{fcntl_getfd, fcntl_setfd, FdFlags};

/// The descriptors this process has open, from `/proc/self/fd`.
pub fn open_fds() -> io::Result<Vec<RawFd>> {
    let mut fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    Ok(fds)
}

/// Marks every descriptor above the standard streams close-on-exec.
pub fn cloexec_inherited() -> io::Result<()> {
    for fd in open_fds()? {
        if fd <= 2 {
            continue;
        }
        // SAFETY: only fcntl is called on the number; one that was closed
        // meanwhile (the directory listing's own) fails with EBADF, ignored.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        if let Ok(flags) = fcntl_getfd(fd) {
            let _ = fcntl_setfd(fd, flags | FdFlags::CLOEXEC);
        }
    }
    Ok(())
}

/// The descriptors above the standard streams that a child would inherit.
pub fn inheritable() -> io::Result<Vec<RawFd>> {
    Ok(open_fds()?
        .into_iter()
        .filter(|&fd| fd > 2)
        .filter(|&fd| {
            // SAFETY: as above.
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            matches!(fcntl_getfd(fd), Ok(flags) if !flags.contains(FdFlags::CLOEXEC))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, OwnedFd};

    #[test]
    fn inherited_descriptors_are_marked() {
        // A descriptor without close-on-exec, as a careless parent leaves one.
        let (read, _write) = rustix::pipe::pipe().unwrap();
        let read: OwnedFd = read;
        assert!(inheritable().unwrap().contains(&read.as_raw_fd()));
        cloexec_inherited().unwrap();
        assert!(!inheritable().unwrap().contains(&read.as_raw_fd()));
    }
}
