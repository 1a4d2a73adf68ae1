//! qapi-gen: from a QAPI schema to Rust.
//!
//! The pipeline follows QEMU's own `scripts/qapi`: [`parse`] reads the schema language
//! (a pest grammar) into expressions with source positions and their doc comments,
//! resolving includes and pragmas; [`check`] enforces every rule of the language, as
//! QEMU 10.2 defines it, and builds the typed [`model`]; the [`emit`] backends turn
//! the model into formatted Rust (types and serde, command descriptors, a dispatch
//! table) and a reference manual.
//!
//! [`load`] is the front door: the CLI and `cargo xtask regen` both read a schema
//! through it, then hand the model to [`generate`] (every output, by file name).
//!
//! # From a build script
//!
//! Another project generates the types of its own schema at build time, into
//! `OUT_DIR`, over qga-types' runtime (`qapi-gen/build-example` in this repository is
//! such a crate, tested). Its `build.rs`:
//!
//! ```no_run
//! use std::path::{Path, PathBuf};
//!
//! let schema_path = Path::new("schema.json");
//! println!("cargo::rerun-if-changed={}", schema_path.display());
//! let schema = qapi_gen::load(schema_path).unwrap_or_else(|e| panic!("{e}"));
//! let options = qapi_gen::emit::Options {
//!     // The generated code names `Command`, `Empty`, `InvalidEnumValue` and the
//!     // `base64` serde module under this path (`crate` by default).
//!     runtime: "qga_types".into(),
//!     source: qapi_gen::source_name(schema_path),
//!     ..Default::default()
//! };
//! let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
//! for (name, text) in qapi_gen::generate(&schema, &options) {
//!     if name == qapi_gen::TYPES {
//!         std::fs::write(out.join(name), text).unwrap();
//!     }
//! }
//! ```
//!
//! and the module that holds the types (the crate depends on `qga-types` and `serde`):
//!
//! ```ignore
//! #[rustfmt::skip]
//! pub mod types {
//!     include!(concat!(env!("OUT_DIR"), "/types.rs"));
//! }
//! ```
//!
//! The CLI does the same with `qapi-gen SCHEMA -o DIR --runtime qga_types`.

pub mod check;
pub mod emit;
mod error;
pub mod model;
pub mod parse;

use std::path::Path;

pub use error::{Error, SourceInfo};

/// Reads, checks and models the schema at `path` and everything it includes.
pub fn load(path: &Path) -> Result<model::Schema, Error> {
    check::check(parse::parse_file(path)?)
}

/// The same for schema text, as if read from `path`.
pub fn load_str(path: &Path, src: &str) -> Result<model::Schema, Error> {
    check::check(parse::parse_str(path, src)?)
}

/// The same for the bytes of a schema file, UTF-8 or not.
pub fn load_bytes(path: &Path, src: &[u8]) -> Result<model::Schema, Error> {
    check::check(parse::parse_bytes(path, src)?)
}

/// Every output generated from `schema`, each with its file name: [`TYPES`],
/// [`DISPATCH`] and [`MANUAL`].
///
/// # Panics
/// When `options` holds a path or a `cfg` predicate that is not Rust syntax.
pub fn generate(schema: &model::Schema, options: &emit::Options) -> Vec<(&'static str, String)> {
    emit::generate_all(schema, options)
}

/// How the outputs' headers name the schema they come from: its file name.
pub fn source_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// The file name of the generated types.
pub const TYPES: &str = "types.rs";
/// The file name of the generated dispatch table.
pub const DISPATCH: &str = "dispatch.rs";
/// The file name of the generated reference manual.
pub const MANUAL: &str = "reference.md";
