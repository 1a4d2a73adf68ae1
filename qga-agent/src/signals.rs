//! SIGTERM and SIGINT end the agent cleanly: the handler only sets a flag, and the
//! channels, which wait in poll(2) without SA_RESTART, see it when poll is
//! interrupted. SIGPIPE is ignored: a client that goes away is a write error.

use std::sync::atomic::{AtomicBool, Ordering};

static TERMINATE: AtomicBool = AtomicBool::new(false);

extern "C" fn on_terminate(_signal: libc::c_int) {
    TERMINATE.store(true, Ordering::SeqCst);
}

/// Installs the handlers.
pub fn install() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe; the
    // sigaction struct is fully initialised before use.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_terminate as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        action.sa_flags = 0; // no SA_RESTART: poll must return EINTR
        libc::sigaction(libc::SIGTERM, &action, std::ptr::null_mut());
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// Whether a terminating signal has arrived.
pub fn terminating() -> bool {
    TERMINATE.load(Ordering::SeqCst)
}
