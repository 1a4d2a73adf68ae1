//! Pieces every Rust backend uses: documentation, conditions, type references.

use proc_macro2::TokenStream;
use quote::quote;

use super::names;
use crate::model::{Builtin, Cond, Doc, Schema, TypeRef};

/// `#[doc]` attributes for a text, one per line.
pub fn doc_attrs(text: &str) -> TokenStream {
    let lines = text.lines().map(|l| format!(" {l}").trim_end().to_owned());
    quote! { #(#[doc = #lines])* }
}

/// Rustdoc for a definition: its body, then `Returns` and `Since` when present.
pub fn doc_for(doc: Option<&Doc>) -> TokenStream {
    let Some(doc) = doc else { return TokenStream::new() };
    let mut text = doc.body.clone();
    for (tag, body) in &doc.sections {
        if tag == "Since" {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        if tag.is_empty() {
            text.push_str(body);
        } else {
            text.push_str(&format!("{tag}: {body}"));
        }
    }
    if let Some(since) = doc.section("Since") {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&format!("Since: {since}"));
    }
    doc_attrs(&text)
}

/// The cfg predicate for a condition: a name becomes a cargo feature
/// (`CONFIG_LINUX` → `feature = "config-linux"`).
pub fn cfg_predicate(cond: &Cond) -> TokenStream {
    match cond {
        Cond::Name(name) => {
            let feature = name.to_ascii_lowercase().replace('_', "-");
            quote! { feature = #feature }
        }
        Cond::All(conds) => {
            let inner = conds.iter().map(cfg_predicate);
            quote! { all(#(#inner),*) }
        }
        Cond::Any(conds) => {
            let inner = conds.iter().map(cfg_predicate);
            quote! { any(#(#inner),*) }
        }
        Cond::Not(cond) => {
            let inner = cfg_predicate(cond);
            quote! { not(#inner) }
        }
    }
}

/// `#[cfg(...)]` for an optional condition.
pub fn cfg_attr(cond: Option<&Cond>) -> TokenStream {
    match cond {
        Some(cond) => {
            let predicate = cfg_predicate(cond);
            quote! { #[cfg(#predicate)] }
        }
        None => TokenStream::new(),
    }
}

/// The Rust type of a reference; named types are reached through `prefix`
/// (empty at the top level, `super::` from a submodule).
pub fn rust_type(schema: &Schema, ty: &TypeRef, prefix: &TokenStream) -> TokenStream {
    let _ = schema;
    match ty {
        TypeRef::Builtin(b) => match b {
            Builtin::Str => quote! { String },
            Builtin::Number => quote! { f64 },
            Builtin::Int | Builtin::Int64 => quote! { i64 },
            Builtin::Int8 => quote! { i8 },
            Builtin::Int16 => quote! { i16 },
            Builtin::Int32 => quote! { i32 },
            Builtin::Uint8 => quote! { u8 },
            Builtin::Uint16 => quote! { u16 },
            Builtin::Uint32 => quote! { u32 },
            Builtin::Uint64 | Builtin::Size => quote! { u64 },
            Builtin::Bool => quote! { bool },
            Builtin::Null => quote! { () },
            Builtin::Any => quote! { ::serde_json::Value },
            Builtin::QType => quote! { #prefix QType },
        },
        TypeRef::Named(name) => {
            let ident = names::ident(&names::type_name(name));
            quote! { #prefix #ident }
        }
        TypeRef::Array(element) => {
            let element = rust_type(schema, element, prefix);
            quote! { Vec<#element> }
        }
    }
}

/// Whether a type reference uses the built-in `QType`.
pub fn uses_qtype(ty: &TypeRef) -> bool {
    match ty {
        TypeRef::Builtin(Builtin::QType) => true,
        TypeRef::Array(element) => uses_qtype(element),
        _ => false,
    }
}
