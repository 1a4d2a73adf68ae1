//! From parsed expressions to a validated [`Schema`]: the context-free checks of
//! each expression ([`expr`]), then the checks across the schema ([`schema`]).

mod expr;
mod schema;

use std::path::Path;

use crate::error::Error;
use crate::model::Schema;
use crate::parse::{self, Parsed};

/// Reads, checks and models the schema at `path` and everything it includes.
pub fn load(path: &Path) -> Result<Schema, Error> {
    check(parse::parse_file(path)?)
}

/// The same for schema text, as if read from `path`.
pub fn load_str(path: &Path, src: &str) -> Result<Schema, Error> {
    check(parse::parse_str(path, src)?)
}

/// The same for the bytes of a schema file, UTF-8 or not.
pub fn load_bytes(path: &Path, src: &[u8]) -> Result<Schema, Error> {
    check(parse::parse_bytes(path, src)?)
}

fn check(parsed: Parsed) -> Result<Schema, Error> {
    let pragma = &parsed.pragma;
    let defs = parsed
        .exprs
        .into_iter()
        .map(|e| expr::check_expr(e, pragma))
        .collect::<Result<Vec<_>, _>>()?;
    schema::check_schema(defs, parsed.pragma, parsed.free_docs)
}
