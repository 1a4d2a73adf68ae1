//! From parsed expressions to a validated [`Schema`], in QEMU's order: the
//! context-free checks of each expression ([`expr`]), then the checks across the
//! schema ([`resolve`]) with each definition's doc comment connected as it is
//! checked ([`docs`]), the docs' own checks, the schema's feature count
//! ([`features`]); then the model is built ([`build`]).

mod build;
mod docs;
mod expr;
mod features;
mod resolve;

use crate::error::Error;
use crate::model::Schema;
use crate::parse::Parsed;

/// Checks what was parsed and builds its model.
pub fn check(parsed: Parsed) -> Result<Schema, Error> {
    let pragma = parsed.pragma;
    let mut defs = parsed
        .exprs
        .into_iter()
        .map(|e| expr::check_expr(e, &pragma))
        .collect::<Result<Vec<_>, _>>()?;
    let comments: Vec<_> = defs.iter_mut().map(|d| d.doc.take()).collect();
    let mut docs = docs::Docs::new(&pragma.documentation_exceptions, &comments);
    let resolved = resolve::resolve(&defs, &pragma.command_returns_exceptions, &mut docs)?;
    docs.check()?;
    features::check_count(&defs)?;
    let models = comments
        .into_iter()
        .map(|c| c.map(|c| c.into_model()))
        .collect();
    let schema = build::build(&defs, &resolved, models, pragma.clone(), parsed.free_docs);
    Ok(schema)
}
