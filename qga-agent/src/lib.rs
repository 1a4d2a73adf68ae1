//! qga-agent: a guest agent for Linux that speaks the QEMU Guest Agent protocol.
//!
//! Three rooms and a hall between them: [`daemon`] is the process (its
//! configuration, start-up, log, signals, pid file and state directory),
//! [`channel`] the transport it serves through the main loop, and
//! [`commands`] the command implementations, one module per area;
//! [`agent`] implements the generated `Handler` over the commands.
//! Two readers of qemu-ga's text formats sit at the top, because the daemon
//! and the commands both use them: [`keyfile`], GLib's key file format (the
//! config file, the state file), and [`ctype`], the C library's reading of
//! white space and numbers (the key file, sysfs, the mount table). The binary is glue between the
//! daemon and the agent.

pub mod agent;
pub mod channel;
pub mod commands;
pub mod ctype;
pub mod daemon;
pub mod keyfile;

pub use channel::Protocol;
pub use daemon::run::Startup;
