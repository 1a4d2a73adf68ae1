//! Alternates: a Rust enum with a variant per branch, serialised as the branch's
//! value alone, deserialised by the JSON kind of the value. The schema guarantees
//! that each kind fits at most one branch, so the branch is picked by the visitor
//! method serde calls, never by trying branches in turn.

use std::borrow::Cow;

use crate::emit::context::{Context, Std};
use crate::emit::doc;
use crate::emit::names::{self, Scope};
use crate::emit::shape::{self, Attrs, Container, Expr, Item, Meta, Stmt, Struct, Variant};
use crate::model::{Alternate, Builtin, Cond, Entity, Schema, TypeRef};

/// The JSON kind of the values a branch takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    /// An integer, of any of the integer types.
    Integer,
    /// Any number, integers included.
    Number,
    Bool,
    Null,
    Object,
    Array,
}

fn kind(schema: &Schema, ty: &TypeRef) -> Kind {
    match ty {
        TypeRef::Builtin(b) => match b {
            Builtin::Str | Builtin::QType => Kind::String,
            Builtin::Number => Kind::Number,
            Builtin::Bool => Kind::Bool,
            Builtin::Null => Kind::Null,
            // The checker rejects `any` in alternates; an object is the closest kind.
            Builtin::Any => Kind::Object,
            Builtin::Int
            | Builtin::Int8
            | Builtin::Int16
            | Builtin::Int32
            | Builtin::Int64
            | Builtin::Uint8
            | Builtin::Uint16
            | Builtin::Uint32
            | Builtin::Uint64
            | Builtin::Size => Kind::Integer,
        },
        TypeRef::Named(name) => match schema.lookup(name) {
            Some(Entity::Enum(_)) => Kind::String,
            _ => Kind::Object,
        },
        TypeRef::Array(_) => Kind::Array,
    }
}

/// A branch as the visitor sees it.
struct Branch<'a> {
    variant: String,
    cond: Option<&'a Cond>,
    kind: Kind,
}

/// The enum, and its `Deserialize`.
pub fn alternate_items<'a>(cx: &Context<'a>, a: &'a Alternate) -> Vec<Item<'a>> {
    let name = names::ident(&names::type_name(&a.common.name));
    let cond = a.common.cond.as_ref();
    let mut scope = Scope::default();
    let branches: Vec<Branch<'a>> = a
        .branches
        .iter()
        .map(|b| Branch {
            variant: scope.ident(names::variant_name(&b.name)),
            cond: b.cond.as_ref(),
            kind: kind(cx.schema, &b.ty),
        })
        .collect();
    let variants = a
        .branches
        .iter()
        .zip(&branches)
        .map(|(member, branch)| Variant {
            attrs: Attrs::doc(doc::member_rustdoc(member.doc.as_deref())).cfg(branch.cond),
            name: branch.variant.clone(),
            ty: Some(cx.maybe_boxed(&a.common.name, &member.ty, cx.rust_type(&member.ty, ""))),
        })
        .collect();
    let declaration = shape::Enum {
        attrs: Attrs::doc(doc::rustdoc(a.common.doc.as_ref(), &[]))
            .cfg(cond)
            .derive(&["Debug", "Clone", "PartialEq"], cx.serde_derives(false))
            .serde(vec![Meta::Word("untagged")]),
        name: name.clone(),
        variants,
    };

    let result = cx.std(Std::Result);
    let expecting = shape::Fn {
        attrs: Attrs::default(),
        head: "fn expecting".into(),
        params: vec!["&self".into(), "f: &mut ::std::fmt::Formatter<'_>".into()],
        ret: "::std::fmt::Result".into(),
        body: Some(vec![Stmt::Expr(
            Expr::atom("f").method("write_str", vec![Expr::str(&a.common.name)]),
        )]),
    };
    let mut visitor = vec![Item::Type("Value", name.clone()), Item::Fn(expecting)];
    visitor.extend(
        visitor_methods(cx, &name, &branches)
            .into_iter()
            .map(Item::Fn),
    );
    let visitor = Container::new(
        Attrs::default(),
        "impl<'de> ::serde::de::Visitor<'de> for Visitor".to_owned(),
        visitor,
    );
    let deserialize = shape::Fn {
        attrs: Attrs::default(),
        head: "fn deserialize<D: ::serde::Deserializer<'de>>".into(),
        params: vec!["deserializer: D".into()],
        ret: format!("{result}<Self, D::Error>").into(),
        body: Some(vec![
            Stmt::Item(Item::Struct(Struct {
                attrs: Attrs::default(),
                public: false,
                name: "Visitor".to_owned(),
                fields: None,
            })),
            Stmt::Item(Item::Impl(visitor)),
            Stmt::Expr(
                Expr::atom("deserializer").method("deserialize_any", vec![Expr::atom("Visitor")]),
            ),
        ]),
    };
    let imp = Container::new(
        Attrs::default().cfg(cond),
        format!("impl<'de> {}<'de> for {name}", cx.deserialize()),
        [Item::Fn(deserialize)],
    );
    vec![Item::Enum(declaration), Item::Impl(imp)]
}

/// The visitor methods: each JSON kind goes to the one branch that takes it.
fn visitor_methods<'a>(
    cx: &Context<'_>,
    name: &str,
    branches: &[Branch<'a>],
) -> Vec<shape::Fn<'a>> {
    let result = cx.std(Std::Result);
    let find = |kind: Kind| branches.iter().find(|b| b.kind == kind);
    let variant = |branch: &Branch<'_>| Expr::atom(format!("{name}::{}", branch.variant));
    let method =
        |branch: &Branch<'a>, head: String, params: Vec<Cow<'static, str>>, error: &str, body| {
            shape::Fn {
                attrs: Attrs::default().cfg(branch.cond),
                head: head.into(),
                params,
                ret: format!("{result}<Self::Value, {error}>").into(),
                body: Some(vec![Stmt::Expr(body)]),
            }
        };
    // The branch type's own `Deserialize` over `deserializer`, which checks ranges
    // (300 is no `u8`) and enum values.
    let deserialize = |branch: &Branch<'_>, deserializer: &'static str, argument: &'static str| {
        Expr::atom(format!("{}::deserialize", cx.deserialize()))
            .call(vec![
                Expr::atom(deserializer).call(vec![Expr::atom(argument)])
            ])
            .method("map", vec![variant(branch)])
    };
    let scalar = |branch: &Branch<'a>, visit: &str, ty: &str| {
        method(
            branch,
            format!("fn {visit}<E: ::serde::de::Error>"),
            vec!["self".into(), format!("value: {ty}").into()],
            "E",
            deserialize(
                branch,
                "::serde::de::IntoDeserializer::into_deserializer",
                "value",
            ),
        )
    };
    let mut methods = Vec::new();
    if let Some(branch) = find(Kind::Integer).or_else(|| find(Kind::Number)) {
        methods.push(scalar(branch, "visit_i64", "i64"));
        methods.push(scalar(branch, "visit_u64", "u64"));
    }
    if let Some(branch) = find(Kind::Number) {
        methods.push(scalar(branch, "visit_f64", "f64"));
    }
    if let Some(branch) = find(Kind::String) {
        methods.push(scalar(branch, "visit_str", "&str"));
    }
    if let Some(branch) = find(Kind::Bool) {
        let body = Expr::atom("Ok").call(vec![variant(branch).call(vec![Expr::atom("value")])]);
        methods.push(method(
            branch,
            "fn visit_bool<E: ::serde::de::Error>".to_owned(),
            vec!["self".into(), "value: bool".into()],
            "E",
            body,
        ));
    }
    if let Some(branch) = find(Kind::Null) {
        let body = Expr::atom("Ok").call(vec![variant(branch).call(vec![Expr::atom("()")])]);
        methods.push(method(
            branch,
            "fn visit_unit<E: ::serde::de::Error>".to_owned(),
            vec!["self".into()],
            "E",
            body,
        ));
    }
    if let Some(branch) = find(Kind::Object) {
        methods.push(method(
            branch,
            "fn visit_map<A: ::serde::de::MapAccess<'de>>".to_owned(),
            vec!["self".into(), "map: A".into()],
            "A::Error",
            deserialize(
                branch,
                "::serde::de::value::MapAccessDeserializer::new",
                "map",
            ),
        ));
    }
    if let Some(branch) = find(Kind::Array) {
        methods.push(method(
            branch,
            "fn visit_seq<A: ::serde::de::SeqAccess<'de>>".to_owned(),
            vec!["self".into(), "seq: A".into()],
            "A::Error",
            deserialize(
                branch,
                "::serde::de::value::SeqAccessDeserializer::new",
                "seq",
            ),
        ));
    }
    methods
}
