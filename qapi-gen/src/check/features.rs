//! The limit on a schema's features: 64 distinct names, `deprecated` and
//! `unstable` (which every schema has) included, as QEMU's generated code keeps
//! them in a 64-bit mask.

use std::collections::HashSet;

use super::expr::{Def, DefKind, RawData};
use crate::error::Error;
use crate::model::Feature;

const MAX_FEATURES: usize = 64;

/// Counts feature names in QEMU's order (each definition's own, then those of its
/// values or inline members) and reports the first one past the limit, at the
/// definition that brings it.
pub fn check_count(defs: &[Def]) -> Result<(), Error> {
    let mut names: HashSet<&str> = HashSet::from(["deprecated", "unstable"]);
    for def in defs {
        let mut add = |features| add(&mut names, features, def);
        add(&def.features)?;
        match &def.kind {
            DefKind::Enum { values, .. } => {
                for v in values {
                    add(&v.features)?;
                }
            }
            DefKind::Struct { members, .. }
            | DefKind::Union {
                base: RawData::Inline(members),
                ..
            }
            | DefKind::Command {
                data: Some(RawData::Inline(members)),
                ..
            }
            | DefKind::Event {
                data: Some(RawData::Inline(members)),
                ..
            } => {
                for m in members {
                    add(&m.features)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn add<'d>(names: &mut HashSet<&'d str>, features: &'d [Feature], def: &Def) -> Result<(), Error> {
    for f in features {
        if names.len() == MAX_FEATURES && !names.contains(f.name.as_str()) {
            return Err(Error::at(
                &def.info,
                "Maximum of 64 schema features is permitted",
            ));
        }
        names.insert(&f.name);
    }
    Ok(())
}
