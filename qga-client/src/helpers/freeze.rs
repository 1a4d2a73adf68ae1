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
//!
//! The tokio client's [`AsyncFreezeGuard`] cannot thaw in its destructor, which cannot
//! wait: it thaws explicitly, or through a task its drop spawns (described there).

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::async_client::AsyncClient;
use crate::client::{Client, Expect};
use crate::error::Error;
use crate::message::decode_reply;
use crate::options::Options;
use crate::transport::Transport;

pub(crate) const FREEZE: &str = "guest-fsfreeze-freeze";
pub(crate) const FREEZE_LIST: &str = "guest-fsfreeze-freeze-list";
pub(crate) const THAW: &str = "guest-fsfreeze-thaw";

#[derive(Serialize)]
struct FreezeListArguments<'a> {
    mountpoints: &'a [&'a str],
}

/// The time a freeze is given: it syncs every filesystem first.
fn freeze_timeout(options: &Options) -> Duration {
    options.timeout.max(options.freeze_timeout)
}

/// Whether a failed freeze may have left filesystems frozen. On its own errors the
/// agent has thawed everything already; after a timeout or a garbled reply nobody
/// knows, so the caller thaws to be safe.
fn may_be_frozen(e: &Error) -> bool {
    !e.is_agent_error()
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
        self.freeze_call::<Value>(FREEZE, None)
    }

    /// Freezes the filesystems mounted at `mountpoints` (the agent ignores those that
    /// are not mountpoints).
    pub fn freeze_list(&mut self, mountpoints: &[&str]) -> Result<FreezeGuard<'_, T>, Error> {
        self.freeze_call(FREEZE_LIST, Some(&FreezeListArguments { mountpoints }))
    }

    /// Thaws every frozen filesystem; returns how many were thawed. For recovering
    /// from a freeze made elsewhere: a [`FreezeGuard`] thaws its own.
    pub fn thaw(&mut self) -> Result<i64, Error> {
        let timeout = self.options().timeout;
        self.int_call::<Value>(THAW, None, timeout)
    }

    fn freeze_call<A: Serialize>(
        &mut self,
        name: &str,
        arguments: Option<&A>,
    ) -> Result<FreezeGuard<'_, T>, Error> {
        let timeout = freeze_timeout(self.options());
        match self.int_call(name, arguments, timeout) {
            Ok(frozen) => Ok(FreezeGuard {
                client: self,
                frozen,
                thawed: false,
            }),
            Err(e) => {
                if may_be_frozen(&e) {
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

/// Filesystems frozen by [`AsyncClient::freeze`]; thawed by
/// [`AsyncFreezeGuard::thaw`], or when dropped by a task the drop spawns.
///
/// [`thaw`](AsyncFreezeGuard::thaw) is the way to end a freeze: it waits for the thaw
/// and reports how it went. A destructor cannot wait, so a guard dropped while still
/// frozen (an early return, a panic, a cancelled task) lends the client's stream to a
/// task spawned on the current tokio runtime, which thaws and then gives the stream
/// back; the client's next call waits for that first, so the thaw reaches the agent
/// before anything else the client sends. Outside a runtime nothing can be spawned:
/// the client then thaws at the start of its next call. Either way a thaw that could
/// not reach the agent (a timeout, a broken connection) stays owed and is retried by
/// the next call, and so does the thaw after a freeze call cancelled before its
/// answer. Only if the client is dropped, or the runtime shuts down, before the thaw
/// has run can the guest stay frozen, as with any client that goes away mid-freeze;
/// [`AsyncClient::thaw`] on a new connection recovers.
#[derive(Debug)]
#[must_use = "dropping the guard thaws the filesystems in the background"]
pub struct AsyncFreezeGuard<'c, T: AsyncRead + AsyncWrite + Unpin + Send + 'static> {
    client: &'c mut AsyncClient<T>,
    frozen: i64,
    thawed: bool,
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncClient<T> {
    /// Thaws every frozen filesystem; returns how many were thawed. For recovering
    /// from a freeze made elsewhere: an [`AsyncFreezeGuard`] thaws its own.
    pub async fn thaw(&mut self) -> Result<i64, Error> {
        let timeout = self.options().timeout;
        self.int_call::<Value>(THAW, None, timeout).await
    }

    async fn int_call<A: Serialize + Sync>(
        &mut self,
        name: &str,
        arguments: Option<&A>,
        timeout: Duration,
    ) -> Result<i64, Error> {
        let reply = self
            .call_with(name, arguments, Expect::Response, timeout, |b| {
                decode_reply::<i64>(name, b)
            })
            .await?;
        reply.ok_or(Error::Disconnected)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncClient<T> {
    /// Freezes every freezable filesystem of the guest.
    pub async fn freeze(&mut self) -> Result<AsyncFreezeGuard<'_, T>, Error> {
        self.freeze_call::<Value>(FREEZE, None).await
    }

    /// Freezes the filesystems mounted at `mountpoints` (the agent ignores those that
    /// are not mountpoints).
    pub async fn freeze_list(
        &mut self,
        mountpoints: &[&str],
    ) -> Result<AsyncFreezeGuard<'_, T>, Error> {
        self.freeze_call(FREEZE_LIST, Some(&FreezeListArguments { mountpoints }))
            .await
    }

    async fn freeze_call<A: Serialize + Sync + ?Sized>(
        &mut self,
        name: &str,
        arguments: Option<&A>,
    ) -> Result<AsyncFreezeGuard<'_, T>, Error> {
        let timeout = freeze_timeout(self.options());
        match self.call_freeze(name, arguments, timeout).await {
            Ok(frozen) => Ok(AsyncFreezeGuard {
                client: self,
                frozen,
                thawed: false,
            }),
            Err(e) => {
                if may_be_frozen(&e) {
                    if let Err(thaw) = self.thaw().await {
                        if may_be_frozen(&thaw) {
                            // Retried by a task, or else by the next call.
                            self.thaw_in_background();
                        }
                    }
                }
                Err(e)
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncFreezeGuard<'_, T> {
    /// How many filesystems the freeze froze.
    pub fn frozen(&self) -> i64 {
        self.frozen
    }

    /// The client, for the commands an agent runs while frozen.
    pub fn client(&mut self) -> &mut AsyncClient<T> {
        self.client
    }

    /// Thaws now; returns how many filesystems were thawed. When the thaw cannot
    /// reach the agent (a timeout, a broken connection), the error is returned and the
    /// thaw stays owed: it is retried in the background, as by a drop.
    pub async fn thaw(mut self) -> Result<i64, Error> {
        let thawed = self.client.thaw().await;
        // Settled unless the agent never answered. Should this future be dropped
        // before, the guard is dropped with it and the drop thaws.
        self.thawed = match &thawed {
            Ok(_) => true,
            Err(e) => e.is_agent_error(),
        };
        thawed
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Drop for AsyncFreezeGuard<'_, T> {
    fn drop(&mut self) {
        if !self.thawed {
            self.client.thaw_in_background();
        }
    }
}
