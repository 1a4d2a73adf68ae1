//! qga-agent: the guest agent daemon, a drop-in replacement for qemu-ga.
//!
//! Glue: the daemon ([`qga_agent::daemon::run`]) runs the main loop over a
//! [`Protocol`] made of qga-dispatch's `Session` (framing, parsing, policy,
//! responses) and the [`Agent`] (the command handlers).

use std::process::ExitCode;

use qga_agent::agent::Agent;
use qga_agent::{Protocol, Startup};
use qga_dispatch::Session;

/// The names of the agent's commands, for `-b help`/`-a help` and to check the
/// block and allow lists.
fn command_names() -> Vec<&'static str> {
    Agent::commands().iter().map(|c| c.name).collect()
}

/// The protocol session over the agent's commands.
struct Wired {
    session: Session,
    agent: Agent,
}

impl Wired {
    fn new(startup: Startup<'_>) -> Wired {
        let config = startup.config;
        let agent = Agent::new(
            startup.state,
            &config.allowed_rpcs().unwrap_or_default(),
            &config.blocked_rpcs(),
            config.fsfreeze_hook.clone(),
            startup.freeze_watch.observer(),
        );
        Wired {
            session: Session::new(Agent::commands()),
            agent,
        }
    }
}

impl Protocol for Wired {
    fn feed(&mut self, input: &[u8], output: &mut Vec<u8>) {
        self.session.feed(input, output, &mut self.agent);
    }

    fn holds_input(&self) -> bool {
        self.session.holds_input()
    }

    fn resume(&mut self, output: &mut Vec<u8>) {
        self.session.resume(output, &mut self.agent);
    }

    fn reset(&mut self) {
        self.session.reset();
    }

    fn shutdown(&mut self) {
        // Whatever ends the agent, it leaves no frozen filesystem behind.
        self.agent.cleanup();
    }
}

fn main() -> ExitCode {
    qga_agent::daemon::run::main(&command_names(), Wired::new)
}
