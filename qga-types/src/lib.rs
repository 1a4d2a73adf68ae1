//! Types of the QEMU Guest Agent protocol, generated from `qga-schema.json`.
//!
//! Every struct, enum and alternate of the schema is a Rust type here with serde
//! (de)serialisation matching the wire exactly; every command has a descriptor in
//! [`commands`] implementing [`Command`]. The generated code lives in `generated.rs`
//! (`cargo xtask regen` rewrites it); this file holds the small hand-written support
//! it relies on.

pub mod base64;
mod command;
mod enum_value;

pub use command::{Command, Empty};
pub use enum_value::InvalidEnumValue;

// prettyplease lays the generated code out, not rustfmt: `cargo fmt` leaves it alone.
#[rustfmt::skip]
mod generated;
pub use generated::*;
