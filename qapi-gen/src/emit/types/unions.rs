//! Flat unions. On the wire a union is one object: the base members, the
//! discriminator among them, and the members of the branch the discriminator
//! selects. In Rust it is a struct of the base members other than the
//! discriminator, plus a field named for the discriminator holding an enum
//! `<Union>Branch`, flattened and tagged by the discriminator: one variant per value
//! of the discriminator's enum, carrying the branch's struct when it has one.

use std::borrow::Cow;

use super::structs::{container_serde, fields};
use crate::emit::context::Context;
use crate::emit::doc;
use crate::emit::names::{self, Scope};
use crate::emit::shape::{self, Attrs, Field, Item, Meta, Struct, Variant};
use crate::model::{Member, TypeRef, Union};

/// The union's struct, then the enum of its branches.
pub fn union_items<'a>(cx: &Context<'a>, u: &'a Union) -> Vec<Item<'a>> {
    let type_name = names::type_name(&u.common.name);
    let branch_name = format!("{type_name}Branch");
    let cond = u.common.cond.as_ref();
    let discriminator = u
        .base_members
        .iter()
        .find(|m| m.name == u.discriminator)
        .expect("checked: a base member");
    let mut scope = Scope::default();
    let tag_field = scope.ident(names::field_name(&u.discriminator));
    let others: Vec<&Member> = u
        .base_members
        .iter()
        .filter(|m| m.name != u.discriminator)
        .collect();
    let mut fields = fields(cx, &u.common.name, &others, "", &mut scope);
    fields.fields.push(Field {
        attrs: Attrs::doc(doc::member_rustdoc(discriminator.doc.as_deref()))
            .serde(vec![Meta::Word("flatten")]),
        name: tag_field,
        ty: branch_name.clone(),
    });
    let base = Struct {
        attrs: Attrs::doc(doc::rustdoc(u.common.doc.as_ref(), &[]))
            .cfg(cond)
            .derive(&["Debug", "Clone", "PartialEq"], cx.serde_derives(true))
            // serde cannot refuse unknown members of a struct with a flattened field.
            .serde(container_serde(fields.rename_all, false)),
        public: true,
        name: names::ident(&type_name),
        fields: Some(fields.fields),
    };

    let values = &cx
        .schema
        .enum_named(&u.discriminator_enum)
        .expect("checked: an enum")
        .values;
    let (variants, renames) = super::enums::variants(values);
    let tag = &u.discriminator;
    let mut branch_serde = vec![Meta::Str("tag", Cow::Borrowed(tag.as_str()))];
    branch_serde.extend(
        renames
            .all
            .map(|rule| Meta::Str("rename_all", Cow::Borrowed(rule))),
    );
    let branches = values
        .iter()
        .zip(variants)
        .zip(renames.each)
        .map(|((value, name), rename)| {
            let branch = u.branches.iter().find(|b| b.value == value.name);
            let attrs = Attrs::doc(doc::member_rustdoc(value.doc.as_deref()))
                .cfg(value.cond.as_ref())
                .cfg(branch.and_then(|b| b.cond.as_ref()))
                .deprecated(&value.features)
                .serde(Vec::from_iter(
                    rename.map(|wire| Meta::Str("rename", Cow::Borrowed(wire))),
                ));
            let ty = branch.map(|b| {
                cx.maybe_boxed(
                    &u.common.name,
                    &TypeRef::Named(b.ty.clone()),
                    names::ident(&names::type_name(&b.ty)),
                )
            });
            Variant { attrs, name, ty }
        })
        .collect();
    let branch = shape::Enum {
        attrs: Attrs::doc(format!(
            "The value of `{tag}` in a [`{type_name}`], with the members of its branch."
        ))
        .cfg(cond)
        .derive(&["Debug", "Clone", "PartialEq"], cx.serde_derives(true))
        .serde(branch_serde),
        name: branch_name,
        variants: branches,
    };
    vec![Item::Struct(base), Item::Enum(branch)]
}
