//! The daemon: everything the agent is besides its commands.
//!
//! [`config`] reads qemu-ga's config file and [`cli`] its command line (and
//! applies it over the file's values); [`run`] takes the steps between `main`
//! and the main loop in qemu-ga's order; [`logging`], [`signals`],
//! [`pidfile`] and [`daemonize`] do what their names say; [`fds`] keeps
//! inherited descriptors from guest-exec's children; [`state`] is the state
//! directory (the handle counter and the frozen marker), and [`freeze_watch`]
//! tells the log and the pid file when the frozen state changes. The channel
//! the daemon serves is [`crate::channel`]; the commands it answers are
//! [`crate::commands`], reached through [`crate::agent`].

pub mod cli;
pub mod config;
pub mod daemonize;
pub mod fds;
pub mod freeze_watch;
pub mod logging;
pub mod pidfile;
pub mod run;
pub mod signals;
pub mod state;
