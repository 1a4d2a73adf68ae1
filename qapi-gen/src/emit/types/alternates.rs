//! Alternates: a Rust enum with a variant per branch, serialised as the branch's
//! value alone, deserialised by the JSON kind of the value. The schema guarantees
//! that each kind fits at most one branch, so the branch is picked by the visitor
//! method serde calls, never by trying branches in turn.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use crate::emit::context::{Context, Std};
use crate::emit::doc;
use crate::emit::names::{self, Scope};
use crate::emit::text::{line, Text};
use crate::model::{Alternate, Builtin, Entity, Schema, TypeRef};

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
struct Branch {
    variant: Ident,
    cfg: TokenStream,
    kind: Kind,
}

pub fn alternate_item(cx: &Context<'_>, a: &Alternate) -> TokenStream {
    let name = names::ident(&names::type_name(&a.common.name));
    let doc = cx.doc(doc::rustdoc(a.common.doc.as_ref(), &[]));
    let cfg = cx.cfg(a.common.cond.as_ref());
    let top = TokenStream::new();
    let mut scope = Scope::default();
    let branches: Vec<Branch> = a
        .branches
        .iter()
        .map(|b| Branch {
            variant: scope.ident(names::variant_name(&b.name)),
            cfg: cx.cfg(b.cond.as_ref()),
            kind: kind(cx.schema, &b.ty),
        })
        .collect();
    let variants = a.branches.iter().zip(&branches).map(|(member, branch)| {
        let docs = cx.doc(doc::member_rustdoc(member.doc.as_deref()));
        let (cfg, variant) = (&branch.cfg, &branch.variant);
        let ty = cx.maybe_boxed(&a.common.name, &member.ty, cx.rust_type(&member.ty, &top));
        quote! { #docs #cfg #variant(#ty), }
    });
    let expecting = &a.common.name;
    let visits = visitor_methods(cx, &name, &branches);
    let result = cx.std(Std::Result);
    let (ser, de) = (cx.serialize(), cx.deserialize());
    quote! {
        #doc
        #cfg
        #[derive(Debug, Clone, PartialEq, #ser)]
        #[serde(untagged)]
        pub enum #name {
            #(#variants)*
        }

        #cfg
        impl<'de> #de<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> #result<Self, D::Error> {
                struct Visitor;

                impl<'de> ::serde::de::Visitor<'de> for Visitor {
                    type Value = #name;

                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(#expecting)
                    }

                    #visits
                }

                deserializer.deserialize_any(Visitor)
            }
        }
    }
}

/// The visitor methods: each JSON kind goes to the one branch that takes it.
fn visitor_methods(cx: &Context<'_>, name: &Ident, branches: &[Branch]) -> TokenStream {
    let result = cx.std(Std::Result);
    let de = cx.deserialize();
    let find = |kind: Kind| branches.iter().find(|b| b.kind == kind);
    // A scalar converted by the branch type's own `Deserialize`, which checks ranges
    // (300 is no `u8`) and enum values.
    let scalar = |branch: &Branch, method: TokenStream, ty: TokenStream| {
        let (cfg, variant) = (&branch.cfg, &branch.variant);
        quote! {
            #cfg
            fn #method<E: ::serde::de::Error>(self, value: #ty) -> #result<Self::Value, E> {
                #de::deserialize(::serde::de::IntoDeserializer::into_deserializer(value))
                    .map(#name::#variant)
            }
        }
    };
    let mut methods = Vec::new();
    if let Some(branch) = find(Kind::Integer).or_else(|| find(Kind::Number)) {
        methods.push(scalar(branch, quote! { visit_i64 }, quote! { i64 }));
        methods.push(scalar(branch, quote! { visit_u64 }, quote! { u64 }));
    }
    if let Some(branch) = find(Kind::Number) {
        methods.push(scalar(branch, quote! { visit_f64 }, quote! { f64 }));
    }
    if let Some(branch) = find(Kind::String) {
        methods.push(scalar(branch, quote! { visit_str }, quote! { &str }));
    }
    if let Some(Branch { variant, cfg, .. }) = find(Kind::Bool) {
        methods.push(quote! {
            #cfg
            fn visit_bool<E: ::serde::de::Error>(self, value: bool) -> #result<Self::Value, E> {
                Ok(#name::#variant(value))
            }
        });
    }
    if let Some(Branch { variant, cfg, .. }) = find(Kind::Null) {
        methods.push(quote! {
            #cfg
            fn visit_unit<E: ::serde::de::Error>(self) -> #result<Self::Value, E> {
                Ok(#name::#variant(()))
            }
        });
    }
    if let Some(Branch { variant, cfg, .. }) = find(Kind::Object) {
        methods.push(quote! {
            #cfg
            fn visit_map<A: ::serde::de::MapAccess<'de>>(self, map: A) -> #result<Self::Value, A::Error> {
                #de::deserialize(::serde::de::value::MapAccessDeserializer::new(map))
                    .map(#name::#variant)
            }
        });
    }
    if let Some(Branch { variant, cfg, .. }) = find(Kind::Array) {
        methods.push(quote! {
            #cfg
            fn visit_seq<A: ::serde::de::SeqAccess<'de>>(self, seq: A) -> #result<Self::Value, A::Error> {
                #de::deserialize(::serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(#name::#variant)
            }
        });
    }
    quote! { #(#methods)* }
}

/// [`alternate_item`] as text.
pub fn alternate_text(cx: &Context<'_>, a: &Alternate, indent: usize) -> Option<String> {
    let i = indent;
    let mut t = Text::new();
    let name = names::ident_text(&names::type_name(&a.common.name));
    let cfg = cx.cfg_text(a.common.cond.as_ref(), &mut t);
    let mut scope = Scope::default();
    let branches: Vec<(String, String, Kind)> = a
        .branches
        .iter()
        .map(|b| {
            (
                scope.name(names::variant_name(&b.name)),
                cx.cfg_text(b.cond.as_ref(), &mut t),
                kind(cx.schema, &b.ty),
            )
        })
        .collect();
    let result = cx.std_text(Std::Result);
    let de = cx.deserialize_text();

    t.doc(i, &doc::rustdoc(a.common.doc.as_ref(), &[]));
    t.opt(i, &cfg);
    t.derive(i, &["Debug", "Clone", "PartialEq", cx.serialize_text()]);
    line!(t, i, "#[serde(untagged)]");
    if branches.is_empty() {
        line!(t, i, "pub enum {name} {{}}");
    } else {
        line!(t, i, "pub enum {name} {{");
        for (member, (variant, cfg, _)) in a.branches.iter().zip(&branches) {
            t.doc(i + 4, &doc::member_rustdoc(member.doc.as_deref()));
            t.opt(i + 4, cfg);
            let ty = cx.maybe_boxed_text(
                &a.common.name,
                &member.ty,
                cx.rust_type_text(&member.ty, ""),
            );
            line!(t, i + 4, "{variant}({ty}),");
        }
        line!(t, i, "}}");
    }

    t.opt(i, &cfg);
    line!(t, i, "impl<'de> {de}<'de> for {name} {{");
    t.signature(
        i + 4,
        "fn deserialize<D: ::serde::Deserializer<'de>>",
        &["deserializer: D"],
        &format!(" -> {result}<Self, D::Error> {{"),
    );
    let (b, m) = (i + 8, i + 16);
    line!(t, b, "struct Visitor;");
    line!(t, b, "impl<'de> ::serde::de::Visitor<'de> for Visitor {{");
    line!(t, b + 4, "type Value = {name};");
    t.signature(
        b + 4,
        "fn expecting",
        &["&self", "f: &mut ::std::fmt::Formatter<'_>"],
        " -> ::std::fmt::Result {",
    );
    let expecting = t.lit(&a.common.name);
    line!(t, m, "f.write_str({expecting})");
    line!(t, b + 4, "}}");

    let find = |kind: Kind| branches.iter().find(|b| b.2 == kind);
    let scalar =
        |t: &mut Text, (variant, cfg, _): &(String, String, Kind), method: &str, ty: &str| {
            t.opt(b + 4, cfg);
            t.signature(
                b + 4,
                &format!("fn {method}<E: ::serde::de::Error>"),
                &["self", &format!("value: {ty}")],
                &format!(" -> {result}<Self::Value, E> {{"),
            );
            deserialize_chain(
                t,
                m,
                de,
                "::serde::de::IntoDeserializer::into_deserializer(value)",
                &name,
                variant,
            );
            line!(t, b + 4, "}}");
        };
    if let Some(branch) = find(Kind::Integer).or_else(|| find(Kind::Number)) {
        scalar(&mut t, branch, "visit_i64", "i64");
        scalar(&mut t, branch, "visit_u64", "u64");
    }
    if let Some(branch) = find(Kind::Number) {
        scalar(&mut t, branch, "visit_f64", "f64");
    }
    if let Some(branch) = find(Kind::String) {
        scalar(&mut t, branch, "visit_str", "&str");
    }
    if let Some((variant, cfg, _)) = find(Kind::Bool) {
        t.opt(b + 4, cfg);
        t.signature(
            b + 4,
            "fn visit_bool<E: ::serde::de::Error>",
            &["self", "value: bool"],
            &format!(" -> {result}<Self::Value, E> {{"),
        );
        line!(t, m, "Ok({name}::{variant}(value))");
        line!(t, b + 4, "}}");
    }
    if let Some((variant, cfg, _)) = find(Kind::Null) {
        t.opt(b + 4, cfg);
        t.signature(
            b + 4,
            "fn visit_unit<E: ::serde::de::Error>",
            &["self"],
            &format!(" -> {result}<Self::Value, E> {{"),
        );
        line!(t, m, "Ok({name}::{variant}(()))");
        line!(t, b + 4, "}}");
    }
    for (kind, method, access, arg, deserializer) in [
        (
            Kind::Object,
            "visit_map",
            "MapAccess",
            "map",
            "MapAccessDeserializer",
        ),
        (
            Kind::Array,
            "visit_seq",
            "SeqAccess",
            "seq",
            "SeqAccessDeserializer",
        ),
    ] {
        if let Some((variant, cfg, _)) = find(kind) {
            t.opt(b + 4, cfg);
            t.signature(
                b + 4,
                &format!("fn {method}<A: ::serde::de::{access}<'de>>"),
                &["self", &format!("{arg}: A")],
                &format!(" -> {result}<Self::Value, A::Error> {{"),
            );
            deserialize_chain(
                &mut t,
                m,
                de,
                &format!("::serde::de::value::{deserializer}::new({arg})"),
                &name,
                variant,
            );
            line!(t, b + 4, "}}");
        }
    }
    line!(t, b, "}}");
    line!(t, b, "deserializer.deserialize_any(Visitor)");
    line!(t, i + 4, "}}");
    line!(t, i, "}}");
    t.finish()
}

/// `De::deserialize(argument).map(Name::Variant)` as prettyplease lays it out: the
/// call alone is past the margin at the visitor's indentation, so the chain breaks.
fn deserialize_chain(
    t: &mut Text,
    indent: usize,
    de: &str,
    argument: &str,
    name: &str,
    variant: &str,
) {
    if indent + de.len() + "::deserialize()".len() + argument.len() <= super::super::text::MARGIN {
        // A layout this printer does not know; never the case at the visitor's depth.
        t.fail();
    }
    line!(t, indent, "{de}::deserialize(");
    line!(t, indent + 8, "{argument},");
    line!(t, indent + 4, ")");
    line!(t, indent + 4, ".map({name}::{variant})");
}
