//! Operations built from several calls: file copies, running a program, freezing.
//!
//! They speak to the agent with the commands' wire names and small private wire
//! structs of their own: a file chunk is read with its base64 text borrowed from the
//! response and decoded straight into a reused buffer, which the generated types
//! (owning `Vec<u8>`s) would not allow.

pub(crate) mod exec;
pub(crate) mod file;
pub(crate) mod freeze;
pub(crate) mod info;
