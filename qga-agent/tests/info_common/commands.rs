//! The command modules under test, compiled into each info_* test crate: the
//! agent is a binary crate, so the tests include the module files themselves.
//! `crate::commands::error::CommandError` resolves as it does in the agent.

#[path = "../../src/commands/error.rs"]
pub mod error;

#[path = "../../src/commands/ctype.rs"]
pub mod ctype;

#[path = "../../src/commands/host.rs"]
pub mod host;

#[path = "../../src/commands/network.rs"]
pub mod network;

#[path = "../../src/commands/cpu.rs"]
pub mod cpu;

#[path = "../../src/commands/memory.rs"]
pub mod memory;

#[path = "../../src/commands/fsinfo.rs"]
pub mod fsinfo;
