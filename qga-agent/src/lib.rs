//! qga-agent: a guest agent for Linux that speaks the QEMU Guest Agent protocol.
//!
//! The daemon: [`cli`] and [`config`] read qemu-ga's command line and config
//! file, [`state`] keeps the handle counter and knows the frozen flag,
//! [`channel`] serves the chosen transport through the main loop, [`logging`],
//! [`signals`], [`pidfile`] and [`daemonize`] do what their names say, and
//! [`daemon`] runs them in order. [`agent`] implements the generated `Handler`
//! over the [`commands`], one module per area. The binary is glue between the
//! two.

pub mod agent;
pub mod channel;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod daemonize;
pub mod fds;
pub mod freeze_watch;
pub mod logging;
pub mod pidfile;
pub mod signals;
pub mod state;

pub use channel::Protocol;
pub use daemon::Startup;
