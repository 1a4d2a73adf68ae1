//! Which commands may run: the allow and block lists, and the frozen-state gate.
//!
//! - No list: everything may run.
//! - An allow list (`--allow-rpcs`) makes the default "no": only the listed commands.
//! - A block list (`--block-rpcs`) refuses its commands, allowed or not.
//! - While the guest's filesystems are frozen, only [`FROZEN_ALLOWED`] run, whatever
//!   the lists say (a log write or a stat could hang on a frozen filesystem, and the
//!   host must always be able to thaw).
//!
//! Refusals are `CommandNotFound` with QEMU's texts. Whether a command exists is not
//! the policy's business: the session answers unknown names first.

use std::collections::BTreeSet;

use crate::error::Error;

/// The commands that run while the filesystems are frozen.
pub const FROZEN_ALLOWED: &[&str] = &[
    "guest-ping",
    "guest-info",
    "guest-sync",
    "guest-sync-delimited",
    "guest-fsfreeze-status",
    "guest-fsfreeze-thaw",
];

/// The allow/block lists and the frozen state of an agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    allowed: Option<BTreeSet<String>>,
    blocked: BTreeSet<String>,
    frozen: bool,
}

impl Policy {
    /// Everything allowed, not frozen.
    pub fn new() -> Self {
        Policy::default()
    }

    /// Adds commands to the allow list; from the first call on, commands not on it
    /// are refused.
    pub fn allow<I, S>(&mut self, names: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed
            .get_or_insert_with(BTreeSet::new)
            .extend(names.into_iter().map(Into::into));
    }

    /// Adds commands to the block list.
    pub fn block<I, S>(&mut self, names: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.blocked.extend(names.into_iter().map(Into::into));
    }

    /// Enters or leaves the frozen state.
    pub fn set_frozen(&mut self, frozen: bool) {
        self.frozen = frozen;
    }

    /// Whether the agent is in the frozen state.
    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// Whether `name` may run now, or the error that refuses it.
    pub fn check(&self, name: &str) -> Result<(), Error> {
        if self.frozen {
            return if FROZEN_ALLOWED.contains(&name) {
                Ok(())
            } else {
                Err(Error::frozen(name))
            };
        }
        let allowed = self
            .allowed
            .as_ref()
            .is_none_or(|allowed| allowed.contains(name));
        if allowed && !self.blocked.contains(name) {
            Ok(())
        } else {
            Err(Error::disabled(name))
        }
    }

    /// Whether `name` may run now: the `enabled` member of guest-info.
    pub fn enabled(&self, name: &str) -> bool {
        self.check(name).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_by_default() {
        let policy = Policy::new();
        assert!(policy.enabled("guest-exec") && policy.enabled("anything"));
    }

    #[test]
    fn allow_list_switches_default_to_deny_and_block_wins() {
        let mut policy = Policy::new();
        policy.allow(["guest-ping", "guest-info"]);
        policy.block(["guest-info"]);
        assert!(policy.enabled("guest-ping"));
        assert_eq!(
            policy.check("guest-info").unwrap_err().desc,
            "Command guest-info has been disabled"
        );
        assert_eq!(
            policy.check("guest-exec").unwrap_err(),
            Error::disabled("guest-exec")
        );
        let mut nothing = Policy::new();
        nothing.allow(Vec::<String>::new());
        assert!(!nothing.enabled("guest-ping"));
    }

    #[test]
    fn frozen_overrides_both_lists() {
        let mut policy = Policy::new();
        policy.block(["guest-fsfreeze-thaw", "guest-exec"]);
        policy.set_frozen(true);
        assert!(policy.is_frozen());
        assert!(policy.enabled("guest-fsfreeze-thaw"));
        assert_eq!(
            policy.check("guest-exec").unwrap_err().desc,
            "Command guest-exec has been disabled: the agent is in frozen state"
        );
        assert_eq!(
            policy.check("guest-file-open").unwrap_err(),
            Error::frozen("guest-file-open")
        );
        for name in FROZEN_ALLOWED {
            assert!(policy.enabled(name), "{name}");
        }
        policy.set_frozen(false);
        assert!(!policy.enabled("guest-fsfreeze-thaw"));
        assert!(policy.enabled("guest-file-open"));
    }
}
