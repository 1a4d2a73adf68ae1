//! What the agent can do, from `guest-info`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use crate::client::{Client, Expect};
use crate::error::Error;
use crate::message::decode_reply;
use crate::transport::Transport;

/// The command that describes the agent.
pub(crate) const AGENT_INFO: &str = "guest-info";

/// Whether the `guest-info` reply in `bytes` lists `command` as enabled.
pub(crate) fn supports_in(bytes: &[u8], command: &str) -> Result<bool, Error> {
    #[derive(Deserialize)]
    struct Info<'a> {
        #[serde(borrow)]
        supported_commands: Vec<CommandInfo<'a>>,
    }
    #[derive(Deserialize)]
    struct CommandInfo<'a> {
        #[serde(borrow)]
        name: Cow<'a, str>,
        enabled: bool,
    }
    let info: Info<'_> = decode_reply(AGENT_INFO, bytes)?;
    Ok(info
        .supported_commands
        .iter()
        .any(|c| c.name == command && c.enabled))
}

impl<T: Transport> Client<T> {
    /// Whether the agent has `command` and has it enabled. Asks each time: the answer
    /// changes while filesystems are frozen.
    pub fn supports(&mut self, command: &str) -> Result<bool, Error> {
        let timeout = self.options().timeout;
        let reply =
            self.call_with::<Value, _>(AGENT_INFO, None, Expect::Response, timeout, |bytes| {
                supports_in(bytes, command)
            })?;
        Ok(reply.unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::supports_in;

    #[test]
    fn reads_enabled_commands() {
        let reply = br#"{"return": {"version": "7.2", "supported_commands": [
            {"enabled": true, "name": "guest-ping", "success-response": true},
            {"enabled": false, "name": "guest-exec", "success-response": true}]}}"#;
        assert!(supports_in(reply, "guest-ping").unwrap());
        assert!(!supports_in(reply, "guest-exec").unwrap());
        assert!(!supports_in(reply, "guest-nothing").unwrap());
    }
}
