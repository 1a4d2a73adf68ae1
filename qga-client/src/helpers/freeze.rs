//! Freezing guest filesystems for the length of a scope.
//!
//! [`Client::freeze`] (all freezable filesystems) and [`Client::freeze_list`] (some
//! mountpoints) return a [`FreezeGuard`] that thaws when dropped, so an early return or
//! a panic cannot leave a guest frozen. While frozen, the agent refuses most commands
//! (they come back as [`Error::CommandDisabled`]); the guard lends out its client for
//! the few that work, such as `guest-fsfreeze-status`.
//!
//! Freezing syncs every filesystem first, which can take long on a busy guest, so the
//! freeze call is given [`Options::freeze_timeout`](crate::Options::freeze_timeout) (a
//! minute by default) when that is longer than the client's timeout.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::client::{Client, Expect};
use crate::error::Error;
use crate::message::decode_reply;
use crate::transport::Transport;

#[derive(Serialize)]
struct FreezeListArguments<'a> {
    mountpoints: &'a [&'a str],
}

/// Filesystems frozen by [`Client::freeze`]; thawed when dropped or by
/// [`FreezeGuard::thaw`].
#[derive(Debug)]
#[must_use = "dropping the guard thaws the filesystems at once"]
pub struct FreezeGuard<'c, T: Transport> {
    client: &'c mut Client<T>,
    frozen: i64,
    thawed: bool,
}

impl<T: Transport> Client<T> {
    /// Freezes every freezable filesystem of the guest.
    pub fn freeze(&mut self) -> Result<FreezeGuard<'_, T>, Error> {
        self.freeze_call::<Value>("guest-fsfreeze-freeze", None)
    }

    /// Freezes the filesystems mounted at `mountpoints` (the agent ignores those that
    /// are not mountpoints).
    pub fn freeze_list(&mut self, mountpoints: &[&str]) -> Result<FreezeGuard<'_, T>, Error> {
        self.freeze_call(
            "guest-fsfreeze-freeze-list",
            Some(&FreezeListArguments { mountpoints }),
        )
    }

    /// Thaws every frozen filesystem; returns how many were thawed. For recovering
    /// from a freeze made elsewhere: a [`FreezeGuard`] thaws its own.
    pub fn thaw(&mut self) -> Result<i64, Error> {
        let timeout = self.options().timeout;
        self.int_call::<Value>("guest-fsfreeze-thaw", None, timeout)
    }

    fn freeze_call<A: Serialize>(
        &mut self,
        name: &str,
        arguments: Option<&A>,
    ) -> Result<FreezeGuard<'_, T>, Error> {
        let timeout = self.options().timeout.max(self.options().freeze_timeout);
        match self.int_call(name, arguments, timeout) {
            Ok(frozen) => Ok(FreezeGuard {
                client: self,
                frozen,
                thawed: false,
            }),
            Err(e) => {
                // On its own errors the agent has thawed everything already; after a
                // timeout or a garbled reply nobody knows, so thaw to be safe.
                if !e.is_agent_error() {
                    let _ = self.thaw();
                }
                Err(e)
            }
        }
    }

    fn int_call<A: Serialize>(
        &mut self,
        name: &str,
        arguments: Option<&A>,
        timeout: Duration,
    ) -> Result<i64, Error> {
        let reply = self.call_with(name, arguments, Expect::Response, timeout, |b| {
            decode_reply::<i64>(name, b)
        })?;
        reply.ok_or(Error::Disconnected)
    }
}

impl<T: Transport> FreezeGuard<'_, T> {
    /// How many filesystems the freeze froze.
    pub fn frozen(&self) -> i64 {
        self.frozen
    }

    /// The client, for the commands an agent runs while frozen.
    pub fn client(&mut self) -> &mut Client<T> {
        self.client
    }

    /// Thaws now; returns how many filesystems were thawed.
    pub fn thaw(mut self) -> Result<i64, Error> {
        self.thawed = true;
        self.client.thaw()
    }
}

impl<T: Transport> Drop for FreezeGuard<'_, T> {
    fn drop(&mut self) {
        if !self.thawed {
            // Nothing to report to from a drop; a failed thaw leaves the guest as an
            // explicit thaw() would have found it.
            let _ = self.client.thaw();
        }
    }
}
