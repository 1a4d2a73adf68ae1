//! qapi-gen: from a QAPI schema to Rust.
//!
//! The pipeline follows QEMU's own `scripts/qapi`: [`parse`] reads the schema language
//! (a pest grammar) into expressions with source positions and their doc blocks,
//! resolving includes and pragmas; [`check`] enforces every rule of the language and
//! builds the typed [`model`]; the [`emit`] backends turn the model into formatted Rust
//! (types and serde, command descriptors, a dispatch table) and a reference manual.

pub mod check;
pub mod emit;
mod error;
pub mod model;
pub mod parse;

pub use check::load;
pub use error::{Error, SourceInfo};
