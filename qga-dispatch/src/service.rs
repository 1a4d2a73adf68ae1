//! What a [`Session`](crate::Session) calls: the agent's commands and its policy.
//!
//! An agent implements [`Service`] on its state: `call` runs the generated
//! `dispatch` over its `Handler`, and `check` asks its [`Policy`](crate::Policy).
//! The policy lives with the handler because the handler changes it (guest-fsfreeze-*
//! enter and leave the frozen state) and reads it (guest-info reports `enabled`). A
//! plain closure is a `Service` too, one that allows everything.

use crate::arguments::Arguments;
use crate::error::Error;
use crate::reply::Reply;

/// The agent as the session sees it.
pub trait Service {
    /// Runs command `name` (known to exist and allowed) with its arguments.
    fn call(&mut self, name: &str, arguments: Arguments<'_>) -> Result<Reply, Error>;

    /// Whether `name` may run now; consulted before every call, so a change made by
    /// one command applies to the next request.
    fn check(&self, name: &str) -> Result<(), Error> {
        let _ = name;
        Ok(())
    }
}

impl<F> Service for F
where
    F: FnMut(&str, Arguments<'_>) -> Result<Reply, Error>,
{
    fn call(&mut self, name: &str, arguments: Arguments<'_>) -> Result<Reply, Error> {
        self(name, arguments)
    }
}
