//! What the agent can do, from `guest-info`.

use std::borrow::Cow;

use qga_types::commands::GuestInfo;
use qga_types::Command;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::async_client::AsyncClient;
use crate::client::Client;
use crate::connection::Call;
use crate::error::Error;
use crate::message::decode_reply;
use crate::operation::{self, Operation};
use crate::options::Options;
use crate::transport::Transport;

/// Whether the `guest-info` reply in `bytes` lists `command` as enabled. Read with
/// names borrowed, as the only thing wanted from a list of some fifty commands.
fn supports_in(bytes: &[u8], command: &str) -> Result<bool, Error> {
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
    let info: Info<'_> = decode_reply(GuestInfo::NAME, bytes)?;
    Ok(info
        .supported_commands
        .iter()
        .any(|c| c.name == command && c.enabled))
}

/// Asks whether the agent has `command` enabled.
fn supports<'a>(
    command: &'a str,
    options: &Options,
) -> impl Operation<Output = Result<bool, Error>> + 'a {
    operation::command::<GuestInfo, _>(None, Call::new(options.timeout), move |bytes: &[u8]| {
        supports_in(bytes, command)
    })
}

impl<T: Transport> Client<T> {
    /// Whether the agent has `command` and has it enabled. Asks each time: the answer
    /// changes while filesystems are frozen.
    pub fn supports(&mut self, command: &str) -> Result<bool, Error> {
        let mut op = supports(command, self.options());
        self.perform(&mut op)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncClient<T> {
    /// Whether the agent has `command` and has it enabled; see [`Client::supports`].
    pub async fn supports(&mut self, command: &str) -> Result<bool, Error> {
        let mut op = supports(command, self.options());
        self.perform(&mut op).await
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
