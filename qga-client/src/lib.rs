//! Host-side client for QEMU Guest Agents.
//!
//! A [`Client`] talks to one agent over any byte stream: QEMU's chardev socket (a unix
//! socket on the host, connected to the guest's virtio-serial port), an agent listening
//! on a unix socket or on vsock, or a TCP chardev. [`AsyncClient`] is the same over
//! tokio. Both keep the stream in sync as the protocol asks: on connect, and after any
//! timeout or garbled response, they send `0xFF` and `guest-sync-delimited` with a
//! random id and throw away everything up to the matching answer.
//!
//! Both are thin loops over one core without I/O: the connection's state (the framing
//! of the agent's output, the handshake, the responses owed, what each failure means)
//! and the operations, calls and helpers alike, written once as steps.
//!
//! Calls are typed by the command descriptors of [`qga_types::commands`] (any
//! [`qga_types::Command`]): `client.call::<GuestGetHostName>(&Empty {})`; raw JSON calls
//! ([`Client::call_raw`]) reach any command. Errors are values ([`Error`]) that tell a
//! missing command from a disabled one, an unsupported one, the agent's other errors,
//! timeouts and broken connections.
//!
//! The helpers build on calls: whole-file copies in both directions
//! ([`Client::read_file`], [`Client::write_file`]), running a program and collecting
//! its output ([`Client::exec`]), and a filesystem freeze that thaws when dropped
//! ([`Client::freeze`]). [`AsyncClient`] has the same helpers over tokio's
//! `AsyncRead`/`AsyncWrite`; its freeze guard thaws explicitly, or when dropped through
//! a task it spawns ([`AsyncFreezeGuard`]).

mod address;
mod async_client;
mod client;
mod connection;
mod error;
mod framing;
mod handshake;
mod helpers;
mod message;
mod operation;
mod options;
mod transport;
mod vsock;

pub use address::{Address, AsyncStream, InvalidAddress, Stream};
pub use async_client::AsyncClient;
pub use client::Client;
pub use error::Error;
pub use helpers::exec::{ExecOutput, ExecRequest};
pub use helpers::file::{CopyOptions, Progress, MAX_CHUNK};
pub use helpers::freeze::{AsyncFreezeGuard, FreezeGuard};
pub use options::Options;
pub use transport::{NoTimeout, Transport};
pub use vsock::{AsyncVsockStream, VsockStream};

/// What every fallible call of this crate returns.
pub type Result<T, E = Error> = std::result::Result<T, E>;
