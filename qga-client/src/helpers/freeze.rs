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
//! minute by default) when that is longer than the client's timeout. A freeze that
//! fails without a clear answer (a timeout, a garbled reply) may have frozen the guest
//! all the same, so it is thawed to be safe: [`Freeze`], the operation both clients
//! run.
//!
//! The tokio client's [`AsyncFreezeGuard`] cannot thaw in its destructor, which cannot
//! wait: it thaws explicitly, or through a task its drop spawns (described there).

use std::time::Duration;

use qga_types::commands::{
    GuestFsfreezeFreeze, GuestFsfreezeFreezeList, GuestFsfreezeFreezeListArguments,
    GuestFsfreezeThaw,
};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::async_client::AsyncClient;
use crate::client::Client;
use crate::connection::{Call, Exchange};
use crate::error::Error;
use crate::message::{decode, encode};
use crate::operation::{command, send, Operation, Outcome, Step};
use crate::options::Options;
use crate::transport::Transport;

/// Whether a failed freeze (or thaw) may have left filesystems frozen. On its own
/// errors the agent has thawed everything already; after a timeout or a garbled reply
/// nobody knows, so the caller thaws to be safe.
fn may_be_frozen(e: &Error) -> bool {
    !e.is_agent_error()
}

/// Thaws every frozen filesystem; how many were thawed.
fn thaw(options: &Options) -> impl Operation<Output = Result<i64, Error>> {
    command::<GuestFsfreezeThaw, _>(
        None,
        Call::new(options.timeout),
        decode::<GuestFsfreezeThaw>,
    )
}

/// Where a [`Freeze`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Start,
    /// Freezing.
    Freezing,
    /// Thawing after a freeze that failed without a clear answer.
    Thawing,
}

/// Freezes filesystems (all, or those at some mountpoints); after a failure that
/// leaves it unknown whether they froze, thaws them.
pub(crate) struct Freeze<'m> {
    /// `None`: every freezable filesystem.
    mountpoints: Option<&'m [&'m str]>,
    stage: Stage,
    frozen: i64,
    /// The freeze's error, kept while thawing.
    error: Option<Error>,
    /// Whether that thaw failed without a clear answer too.
    thaw_failed: bool,
    timeout: Duration,
    /// The time the freeze is given: it syncs every filesystem first.
    freeze_timeout: Duration,
}

impl<'m> Freeze<'m> {
    pub(crate) fn new(mountpoints: Option<&'m [&'m str]>, options: &Options) -> Freeze<'m> {
        Freeze {
            mountpoints,
            stage: Stage::Start,
            frozen: 0,
            error: None,
            thaw_failed: false,
            timeout: options.timeout,
            freeze_timeout: options.timeout.max(options.freeze_timeout),
        }
    }

    /// Whether the freeze failed and so did the thaw after it, for want of an answer:
    /// the guest may still be frozen.
    pub(crate) fn thaw_failed(&self) -> bool {
        self.thaw_failed
    }

    fn freeze(&self, request: &mut Vec<u8>) -> Result<Step<'static, Result<i64, Error>>, Error> {
        let call = Exchange::Call(Call {
            freeze: true,
            ..Call::new(self.freeze_timeout)
        });
        match self.mountpoints {
            None => {
                encode::<GuestFsfreezeFreeze>(request, None)?;
                Ok(Step::Exchange(call))
            }
            Some(mountpoints) => {
                let arguments = GuestFsfreezeFreezeListArguments {
                    mountpoints: Some(mountpoints.iter().map(|&m| m.to_owned()).collect()),
                };
                send::<GuestFsfreezeFreezeList, _>(request, &arguments, call)
            }
        }
    }
}

impl Operation for Freeze<'_> {
    type Output = Result<i64, Error>;

    fn next(&mut self, last: Outcome, request: &mut Vec<u8>) -> Step<'_, Self::Output> {
        match (self.stage, last) {
            (Stage::Start, _) => {
                self.stage = Stage::Freezing;
                self.freeze(request).unwrap_or_else(|e| Step::Done(Err(e)))
            }
            (Stage::Freezing, Outcome::Failed(e)) if may_be_frozen(&e) => {
                self.stage = Stage::Thawing;
                self.error = Some(e);
                match encode::<GuestFsfreezeThaw>(request, None) {
                    Ok(()) => Step::Exchange(Exchange::Call(Call::new(self.timeout))),
                    Err(thaw) => {
                        self.thaw_failed = true;
                        Step::Done(Err(self.error.take().unwrap_or(thaw)))
                    }
                }
            }
            (Stage::Freezing, Outcome::Failed(e)) => Step::Done(Err(e)),
            (Stage::Freezing, _) => Step::Done(Ok(self.frozen)),
            (Stage::Thawing, last) => {
                self.thaw_failed = matches!(&last, Outcome::Failed(e) if may_be_frozen(e));
                // Set when the thaw began.
                Step::Done(Err(self.error.take().expect("the freeze's error")))
            }
        }
    }

    fn reply(&mut self, response: Option<&[u8]>) -> Result<(), Error> {
        // Both commands answer: `None` (silence) does not come.
        let Some(bytes) = response else {
            return Ok(());
        };
        match self.stage {
            Stage::Freezing if self.mountpoints.is_some() => {
                self.frozen = decode::<GuestFsfreezeFreezeList>(bytes)?;
            }
            Stage::Freezing => self.frozen = decode::<GuestFsfreezeFreeze>(bytes)?,
            Stage::Thawing => drop(decode::<GuestFsfreezeThaw>(bytes)?),
            Stage::Start => {}
        }
        Ok(())
    }
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
        self.freeze_with(None)
    }

    /// Freezes the filesystems mounted at `mountpoints` (the agent ignores those that
    /// are not mountpoints).
    pub fn freeze_list(&mut self, mountpoints: &[&str]) -> Result<FreezeGuard<'_, T>, Error> {
        self.freeze_with(Some(mountpoints))
    }

    /// Thaws every frozen filesystem; returns how many were thawed. For recovering
    /// from a freeze made elsewhere: a [`FreezeGuard`] thaws its own.
    pub fn thaw(&mut self) -> Result<i64, Error> {
        let mut op = thaw(self.options());
        self.perform(&mut op)
    }

    fn freeze_with(&mut self, mountpoints: Option<&[&str]>) -> Result<FreezeGuard<'_, T>, Error> {
        let mut op = Freeze::new(mountpoints, self.options());
        // A thaw after a failed freeze that failed too is as far as a blocking client
        // can go: it has nothing to retry it with.
        let frozen = self.perform(&mut op)?;
        Ok(FreezeGuard {
            client: self,
            frozen,
            thawed: false,
        })
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
        let mut op = thaw(self.options());
        self.perform(&mut op).await
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncClient<T> {
    /// Freezes every freezable filesystem of the guest.
    pub async fn freeze(&mut self) -> Result<AsyncFreezeGuard<'_, T>, Error> {
        self.freeze_with(None).await
    }

    /// Freezes the filesystems mounted at `mountpoints` (the agent ignores those that
    /// are not mountpoints).
    pub async fn freeze_list(
        &mut self,
        mountpoints: &[&str],
    ) -> Result<AsyncFreezeGuard<'_, T>, Error> {
        self.freeze_with(Some(mountpoints)).await
    }

    async fn freeze_with(
        &mut self,
        mountpoints: Option<&[&str]>,
    ) -> Result<AsyncFreezeGuard<'_, T>, Error> {
        let mut op = Freeze::new(mountpoints, self.options());
        let frozen = self.perform(&mut op).await;
        if op.thaw_failed() {
            // Retried by a task, or else by the next call.
            thaw_in_background(self);
        }
        Ok(AsyncFreezeGuard {
            client: self,
            frozen: frozen?,
            thawed: false,
        })
    }
}

/// Lends the client's stream to a task on the current tokio runtime that thaws the
/// guest's filesystems; without a runtime, the client's next call thaws first. A thaw
/// the task cannot get through stays owed, and the client's next call retries it.
fn thaw_in_background<T>(client: &mut AsyncClient<T>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let lent = client.lend(|mut borrower| async move {
        if let Err(e) = borrower.thaw().await {
            if may_be_frozen(&e) {
                borrower.owe_thaw();
            }
        }
        borrower
    });
    if !lent {
        client.owe_thaw();
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
            Err(e) => !may_be_frozen(e),
        };
        thawed
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Drop for AsyncFreezeGuard<'_, T> {
    fn drop(&mut self) {
        if !self.thawed {
            thaw_in_background(self.client);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::Freeze;
    use crate::error::Error;
    use crate::operation::tests::{answer, Script};
    use crate::options::Options;

    #[test]
    fn freezes_and_thaws_only_when_it_may_have_frozen() {
        let options = Options::default();
        let mut script = Script::new(vec![answer(json!(3))]);
        let mut op = Freeze::new(Some(&["/a", "/b"]), &options);
        assert_eq!(script.run(&mut op).unwrap(), 3);
        assert_eq!(
            script.log,
            [r#"{"execute":"guest-fsfreeze-freeze-list","arguments":{"mountpoints":["/a","/b"]}}"#]
        );

        let timeout = || {
            Err(Error::Timeout {
                timeout: Duration::from_secs(60),
            })
        };
        let mut script = Script::new(vec![timeout(), answer(json!(2))]);
        let mut op = Freeze::new(None, &options);
        assert!(matches!(script.run(&mut op), Err(Error::Timeout { .. })));
        assert_eq!(
            script.log,
            [
                r#"{"execute":"guest-fsfreeze-freeze"}"#,
                r#"{"execute":"guest-fsfreeze-thaw"}"#
            ]
        );
        assert!(!op.thaw_failed());

        let mut op = Freeze::new(None, &options);
        assert!(Script::new(vec![timeout(), timeout()])
            .run(&mut op)
            .is_err());
        assert!(op.thaw_failed());

        let refused = br#"{"error": {"class": "GenericError", "desc": "no fs"}}"#.to_vec();
        let mut script = Script::new(vec![Ok(Some(refused))]);
        let mut op = Freeze::new(None, &options);
        assert!(matches!(script.run(&mut op), Err(Error::Agent { .. })));
        assert_eq!(script.log.len(), 1, "the agent's refusal is not thawed");
    }
}
