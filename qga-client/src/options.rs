//! How long a client waits, and for what.

use std::time::Duration;

/// Timeouts and limits of a client. `Options::default()` suits an interactive tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// How long a call may take, from sending the request to the end of the response.
    pub timeout: Duration,
    /// How long one sync attempt waits for its answer.
    pub sync_timeout: Duration,
    /// How many sync attempts are made before giving up (at least one is).
    pub sync_attempts: u32,
    /// How long a command that does not answer on success (guest-shutdown,
    /// guest-suspend-*) is given to answer with an error; silence or a closed
    /// connection after that is success.
    pub no_response_wait: Duration,
    /// The least time a filesystem freeze is given (it syncs every filesystem first);
    /// the call timeout applies when it is longer.
    pub freeze_timeout: Duration,
    /// The largest response accepted, in bytes. A 48 MiB file read (the agent's
    /// maximum) is about 64 MiB of base64.
    pub max_response: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            timeout: Duration::from_secs(10),
            sync_timeout: Duration::from_secs(3),
            sync_attempts: 3,
            no_response_wait: Duration::from_secs(1),
            freeze_timeout: Duration::from_secs(60),
            max_response: 128 << 20,
        }
    }
}

impl Options {
    /// These options with a different call timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Options {
        self.timeout = timeout;
        self
    }
}
