//! The QEMU Guest Agent protocol, from bytes in to bytes out.
//!
//! ```text
//! bytes ─► Framer ─► json::parse ─► Request ─► Policy ─► dispatch ─► Handler ─► response bytes
//! ```
//!
//! - [`Framer`] cuts a byte stream into messages: 0xFF resets, QEMU's limits, input
//!   split anywhere, and one error per bad message, however large.
//! - [`json::parse`] turns a message into a `serde_json::Value` with QEMU's texts for
//!   syntax errors (duplicate keys included).
//! - [`Request`] checks the envelope (`execute`, `arguments`, `id`).
//! - [`Arguments`] deserializes a command's arguments with QEMU's error texts.
//! - [`Policy`] holds the allow/block lists and the frozen-state gate.
//! - [`Reply`] and [`response`] write `{"return": ...}` / `{"error": ...}` lines.
//! - [`Session`] ties them together for one channel, calling a [`Service`]: the
//!   generated `dispatch` over the agent's `Handler`.
//!
//! This crate knows nothing of the operating system: commands are the agent's.

mod arguments;
mod command;
mod de;
mod error;
mod format;
mod framer;
pub mod json;
mod limits;
mod policy;
mod reply;
mod request;
pub mod response;
mod service;
mod session;

pub use arguments::Arguments;
pub use command::CommandInfo;
pub use error::{Error, ErrorClass};
pub use framer::{Frame, Framer};
pub use limits::Limits;
pub use policy::{Policy, FROZEN_ALLOWED};
pub use reply::{Reply, ReplyBuilder};
pub use request::{Rejected, Request};
pub use service::Service;
pub use session::Session;

#[rustfmt::skip]
mod generated;
pub use generated::*;
