//! Operations built from several calls: file copies, running a program, freezing.
//!
//! Each module implements its operation for both clients, [`crate::Client`] and
//! [`crate::AsyncClient`], around the same pieces: the requests, the decoding of the
//! replies, the bookkeeping (progress, end of copy, poll backoff, when to thaw). Only
//! the waiting differs.
//!
//! They speak to the agent with the commands' wire names and small private wire
//! structs of their own: a file chunk is read with its base64 text borrowed from the
//! response and decoded straight into a reused buffer, which the generated types
//! (owning `Vec<u8>`s) would not allow.

pub(crate) mod exec;
pub(crate) mod file;
pub(crate) mod freeze;
pub(crate) mod info;
