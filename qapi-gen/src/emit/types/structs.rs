//! Structs, and the fields that structs, union bases and argument types share.

use std::borrow::Cow;

use super::rename;
use crate::emit::context::{Context, Std};
use crate::emit::doc;
use crate::emit::names::{self, Scope};
use crate::emit::shape::{Attrs, Field, Item, Meta, Struct};
use crate::model::{self, Builtin, Member, TypeRef};

/// Fields for members, and the `rename_all` their container needs.
pub struct Fields<'a> {
    pub rename_all: Option<&'static str>,
    pub fields: Vec<Field<'a>>,
}

/// One field per member, in order. `prefix` reaches named types (see
/// [`Context::rust_type`]); `scope` holds the names already taken in the struct.
///
/// `owner` is the type the fields belong to, whose by-value cycles need a `Box`
/// (see [`Context::boxed`]).
pub fn fields<'a>(
    cx: &Context<'_>,
    owner: &str,
    members: &[&'a Member],
    prefix: &str,
    scope: &mut Scope,
) -> Fields<'a> {
    let idents: Vec<String> = members
        .iter()
        .map(|m| scope.ident(names::field_name(&m.name)))
        .collect();
    let renames = rename::fields(&idents, members.iter().map(|m| m.name.as_str()));
    let fields = members
        .iter()
        .zip(idents)
        .zip(renames.each)
        .map(|((m, name), rename)| {
            let mut serde = Vec::new();
            if let Some(wire) = rename {
                serde.push(Meta::Str("rename", Cow::Borrowed(wire)));
            }
            let ty = field_type(cx, owner, m, prefix, &mut serde);
            let attrs = Attrs::doc(doc::member_rustdoc(m.doc.as_deref()))
                .cfg(m.cond.as_ref())
                .deprecated(&m.features)
                .serde(serde);
            Field { attrs, name, ty }
        })
        .collect();
    Fields {
        rename_all: renames.all,
        fields,
    }
}

/// A member's Rust type, and the serde attributes it needs besides a rename.
fn field_type<'a>(
    cx: &Context<'_>,
    owner: &str,
    m: &Member,
    prefix: &str,
    serde: &mut Vec<Meta<'a>>,
) -> String {
    if m.optional {
        serde.push(Meta::Word("default"));
        serde.push(Meta::Str(
            "skip_serializing_if",
            Cow::Borrowed(cx.is_none()),
        ));
    }
    let ty = if m.has_feature("base64") && m.ty == TypeRef::Builtin(Builtin::Str) {
        let module = if m.optional {
            "base64::option"
        } else {
            "base64"
        };
        let with = format!("{}::{module}", cx.runtime());
        serde.push(Meta::Str("with", Cow::Owned(with)));
        cx.generic(Std::Vec, "u8")
    } else {
        cx.maybe_boxed(owner, &m.ty, cx.rust_type(&m.ty, prefix))
    };
    if m.optional {
        cx.generic(Std::Option, &ty)
    } else {
        ty
    }
}

/// The serde arguments of a container: its `rename_all`, and whether it refuses
/// unknown members.
pub fn container_serde<'a>(
    rename_all: Option<&'static str>,
    deny_unknown_fields: bool,
) -> Vec<Meta<'a>> {
    let mut args = Vec::new();
    if let Some(rule) = rename_all {
        args.push(Meta::Str("rename_all", Cow::Borrowed(rule)));
    }
    if deny_unknown_fields {
        args.push(Meta::Word("deny_unknown_fields"));
    }
    args
}

/// A struct of `fields` with serde, its `attrs` (doc and `cfg`) first. `strict`
/// structs refuse unknown members (they are part of some command's arguments).
pub fn data_struct<'a>(
    cx: &Context<'_>,
    attrs: Attrs<'a>,
    name: String,
    fields: Fields<'a>,
    strict: bool,
) -> Item<'a> {
    Item::Struct(Struct {
        attrs: attrs
            .derive(&["Debug", "Clone", "PartialEq"], cx.serde_derives(true))
            .serde(container_serde(fields.rename_all, strict)),
        public: true,
        name,
        fields: Some(fields.fields),
    })
}

/// A struct with its base's members inline, in wire order.
pub fn struct_item<'a>(cx: &Context<'a>, s: &'a model::Struct, strict: bool) -> Item<'a> {
    let members = cx.schema.all_members(s);
    let fields = fields(cx, &s.common.name, &members, "", &mut Scope::default());
    let attrs = Attrs::doc(doc::rustdoc(s.common.doc.as_ref(), &[])).cfg(s.common.cond.as_ref());
    let name = names::ident(&names::type_name(&s.common.name));
    data_struct(cx, attrs, name, fields, strict)
}
