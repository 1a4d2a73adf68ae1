//! The types backend: a Rust type with serde for every struct, enum, union and
//! alternate, in schema order, then a descriptor per command (module `commands`) and
//! per event (module `events`).

mod alternates;
mod descriptors;
mod enums;
mod rename;
mod structs;
mod unions;

use std::collections::HashSet;

use super::render::{Piece, Place};
use crate::model::{Arguments, Builtin, Entity, Schema, TypeRef};

/// The whole types file, as pieces: the serde import, `QType` when the schema uses
/// it, an item or a few per type in schema order, then the `commands` and `events`
/// modules.
pub fn pieces(schema: &Schema) -> Vec<Piece<'_>> {
    let strict = argument_types(schema);
    let qtype = type_refs(schema).any(uses_qtype);
    let conds: Vec<_> = schema
        .entities
        .iter()
        .filter(|e| !matches!(e, Entity::Command(_) | Entity::Event(_)))
        .map(|e| e.common().cond.as_ref())
        .collect();
    let mut pieces = vec![Piece::new(Place::Top, move |cx| {
        let uses = qtype
            .then_some(None)
            .into_iter()
            .chain(conds.iter().copied());
        Vec::from_iter(cx.serde_use(uses))
    })];
    if qtype {
        pieces.push(Piece::new(Place::Top, enums::qtype));
    }
    for entity in &schema.entities {
        pieces.push(match entity {
            Entity::Struct(s) => {
                let strict = strict.contains(&s.common.name);
                Piece::new(Place::Top, move |cx| {
                    vec![structs::struct_item(cx, s, strict)]
                })
            }
            Entity::Enum(e) => Piece::new(Place::Top, move |cx| enums::enum_items(cx, e)),
            Entity::Union(u) => Piece::new(Place::Top, move |cx| unions::union_items(cx, u)),
            Entity::Alternate(a) => {
                Piece::new(Place::Top, move |cx| alternates::alternate_items(cx, a))
            }
            Entity::Command(_) | Entity::Event(_) => continue,
        });
    }
    descriptors::commands(schema, &mut pieces);
    descriptors::events(schema, &mut pieces);
    pieces
}

/// Every type reference of the schema.
fn type_refs(schema: &Schema) -> impl Iterator<Item = &TypeRef> {
    schema.entities.iter().flat_map(|entity| {
        let refs: Vec<&TypeRef> = match entity {
            Entity::Struct(s) => s.members.iter().map(|m| &m.ty).collect(),
            Entity::Union(u) => u.base_members.iter().map(|m| &m.ty).collect(),
            Entity::Alternate(a) => a.branches.iter().map(|m| &m.ty).collect(),
            Entity::Command(c) => {
                let mut refs: Vec<&TypeRef> = match &c.data {
                    Some(Arguments::Inline(members)) => members.iter().map(|m| &m.ty).collect(),
                    _ => Vec::new(),
                };
                refs.extend(&c.returns);
                refs
            }
            Entity::Event(e) => match &e.data {
                Some(Arguments::Inline(members)) => members.iter().map(|m| &m.ty).collect(),
                _ => Vec::new(),
            },
            Entity::Enum(_) => Vec::new(),
        };
        refs
    })
}

fn uses_qtype(ty: &TypeRef) -> bool {
    match ty {
        TypeRef::Builtin(b) => *b == Builtin::QType,
        TypeRef::Array(element) => uses_qtype(element),
        TypeRef::Named(_) => false,
    }
}

/// The types that command arguments are made of. Like QEMU's input visitor, their
/// deserialisation refuses members it does not know; the types only a client reads
/// accept members that a later agent may add.
fn argument_types(schema: &Schema) -> HashSet<String> {
    fn visit(schema: &Schema, ty: &TypeRef, seen: &mut HashSet<String>) {
        match ty {
            TypeRef::Builtin(_) => {}
            TypeRef::Array(element) => visit(schema, element, seen),
            TypeRef::Named(name) => {
                if !seen.insert(name.clone()) {
                    return;
                }
                match schema.lookup(name) {
                    Some(Entity::Struct(s)) => {
                        for m in schema.all_members(s) {
                            visit(schema, &m.ty, seen);
                        }
                    }
                    Some(Entity::Alternate(a)) => {
                        a.branches.iter().for_each(|b| visit(schema, &b.ty, seen))
                    }
                    Some(Entity::Union(u)) => {
                        u.base_members
                            .iter()
                            .for_each(|m| visit(schema, &m.ty, seen));
                        for b in &u.branches {
                            visit(schema, &TypeRef::Named(b.ty.clone()), seen);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    let mut seen = HashSet::new();
    for c in schema.commands() {
        match &c.data {
            Some(Arguments::Inline(members)) => {
                members.iter().for_each(|m| visit(schema, &m.ty, &mut seen))
            }
            Some(Arguments::Named(name)) => visit(schema, &TypeRef::Named(name.clone()), &mut seen),
            None => {}
        }
    }
    seen
}
