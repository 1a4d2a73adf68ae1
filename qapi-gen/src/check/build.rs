//! From checked definitions to the [`model`](crate::model): types as the model
//! refers to them, member docs taken from the doc comments that describe them, a
//! union's base members resolved through its named base.

use super::expr::{Def, DefKind, RawData, RawMember, RawType};
use super::resolve::Resolved;
use crate::model::{self, Common, Doc, Entity, Member, Pragma, Schema};

/// The model of the checked definitions; `docs` holds each one's doc.
pub fn build(
    defs: &[Def],
    resolved: &Resolved<'_>,
    docs: Vec<Option<Doc>>,
    pragma: Pragma,
    free_docs: Vec<(usize, Doc)>,
) -> Schema {
    let entities = defs
        .iter()
        .enumerate()
        .map(|(index, def)| build_def(index, def, &docs, resolved))
        .collect();
    Schema::new(entities, pragma, free_docs)
}

fn member(m: &RawMember, doc: Option<&Doc>, resolved: &Resolved<'_>) -> Member {
    Member {
        doc: doc.and_then(|d| d.member(&m.name)).map(str::to_owned),
        ty: resolved.raw_type_ref(&m.ty),
        name: m.name.clone(),
        optional: m.optional,
        cond: m.cond.clone(),
        features: m.features.clone(),
    }
}

fn build_def(index: usize, def: &Def, docs: &[Option<Doc>], resolved: &Resolved<'_>) -> Entity {
    let doc = docs[index].as_ref();
    let members = |ms: &[RawMember]| {
        ms.iter()
            .map(|m| member(m, doc, resolved))
            .collect::<Vec<_>>()
    };
    let data = |d: &Option<RawData>| match d {
        None => None,
        Some(RawData::Inline(ms)) if ms.is_empty() => None,
        Some(RawData::Inline(ms)) => Some(model::Arguments::Inline(members(ms))),
        Some(RawData::Named(n)) => Some(model::Arguments::Named(n.clone())),
    };
    let common = Common {
        name: def.name.clone(),
        cond: def.cond.clone(),
        features: def.features.clone(),
        doc: doc.cloned(),
        info: model::Info {
            file: def.info.file.clone(),
            line: def.info.line,
            col: def.info.col.unwrap_or(1),
        },
    };
    match &def.kind {
        DefKind::Enum { values, prefix } => Entity::Enum(model::Enum {
            common,
            prefix: prefix.clone(),
            values: values
                .iter()
                .map(|v| model::EnumValue {
                    doc: doc.and_then(|d| d.member(&v.name)).map(str::to_owned),
                    ..v.clone()
                })
                .collect(),
        }),
        DefKind::Struct { base, members: ms } => Entity::Struct(model::Struct {
            common,
            base: base.clone(),
            members: members(ms),
        }),
        DefKind::Union {
            base,
            discriminator,
            branches,
        } => {
            // Each base member with the doc of the definition that declares it.
            let base_members: Vec<Member> = resolved
                .all_members(index)
                .into_iter()
                .map(|(m, owner)| {
                    let owner_doc = match owner {
                        Some(owner) => docs[owner].as_ref(),
                        None => doc,
                    };
                    member(m, owner_doc, resolved)
                })
                .collect();
            let base_name = match base {
                RawData::Inline(_) => None,
                RawData::Named(n) => Some(n.clone()),
            };
            let tag = base_members
                .iter()
                .find(|m| m.name == *discriminator)
                .expect("checked: the discriminator is a base member");
            let discriminator_enum = match &tag.ty {
                model::TypeRef::Named(name) => name.clone(),
                model::TypeRef::Builtin(b @ model::Builtin::QType) => b.name().to_owned(),
                _ => unreachable!("checked: the discriminator is of an enum type"),
            };
            Entity::Union(model::Union {
                common,
                base_name,
                discriminator_enum,
                discriminator: discriminator.clone(),
                base_members,
                branches: branches
                    .iter()
                    .map(|b| model::Branch {
                        value: b.name.clone(),
                        ty: match &b.ty {
                            RawType::Name(n) | RawType::Array(n) => n.clone(),
                        },
                        cond: b.cond.clone(),
                    })
                    .collect(),
            })
        }
        DefKind::Alternate { branches } => Entity::Alternate(model::Alternate {
            common,
            branches: members(branches),
        }),
        DefKind::Command {
            data: d,
            returns,
            flags,
        } => Entity::Command(model::Command {
            common,
            data: data(d),
            boxed: flags.boxed,
            returns: returns.as_ref().map(|r| resolved.raw_type_ref(r)),
            success_response: flags.success_response,
            gen: flags.gen,
            allow_oob: flags.allow_oob,
            allow_preconfig: flags.allow_preconfig,
            coroutine: flags.coroutine,
        }),
        DefKind::Event { data: d, boxed } => Entity::Event(model::Event {
            common,
            data: data(d),
            boxed: *boxed,
        }),
    }
}
