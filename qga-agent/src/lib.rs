//! qga-agent: a guest agent for Linux that speaks the QEMU Guest Agent protocol.
//!
//! The binary is thin glue: [`options`] reads qemu-ga's command line and config
//! file, [`state`] keeps the handle counter and frozen flag, [`channel`] serves the
//! chosen transport, and [`agent`] implements the generated `Handler` over the
//! [`commands`], one module per area.

pub mod agent;
pub mod channel;
pub mod commands;
pub mod logging;
pub mod options;
pub mod signals;
pub mod state;
