//! What every Rust emitter needs besides the item it emits: the schema, the paths the
//! generated code refers to, `cfg` predicates, and how to spell a type.

use std::collections::{HashMap, HashSet};

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};

use super::cond::CfgMap;
use super::doc::Docs;
use super::names;
use super::text::{cat, line, Text};
use super::Options;
use crate::model::{Arguments, Builtin, Cond, Entity, Feature, Schema, TypeRef};

/// Standard types the generated code names; a schema may define a type of the same
/// name (QEMU's QMP schema has a `String`), and then they are spelt out in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Std {
    String,
    Vec,
    Option,
    Result,
    Box,
}

impl Std {
    fn short(self) -> &'static str {
        match self {
            Std::String => "String",
            Std::Vec => "Vec",
            Std::Option => "Option",
            Std::Result => "Result",
            Std::Box => "Box",
        }
    }

    fn full_text(self) -> &'static str {
        match self {
            Std::String => "::std::string::String",
            Std::Vec => "::std::vec::Vec",
            Std::Option => "::std::option::Option",
            Std::Result => "::std::result::Result",
            Std::Box => "::std::boxed::Box",
        }
    }

    fn full(self) -> TokenStream {
        match self {
            Std::String => quote! { ::std::string::String },
            Std::Vec => quote! { ::std::vec::Vec },
            Std::Option => quote! { ::std::option::Option },
            Std::Result => quote! { ::std::result::Result },
            Std::Box => quote! { ::std::boxed::Box },
        }
    }
}

/// What the backends need to know about the whole schema: computed once per
/// generated file set and shared by the threads that build and format the pieces.
#[derive(Debug)]
pub struct Shared {
    /// Rust names of every type the backends generate, to spot clashes with [`Std`].
    generated: HashSet<String>,
    /// For each type, the types it holds by value (not through an array), directly
    /// or transitively: a type that holds itself needs a `Box` somewhere.
    holds: HashMap<String, HashSet<String>>,
}

impl Shared {
    pub fn new(schema: &Schema) -> Self {
        let mut generated: HashSet<String> = HashSet::new();
        for entity in &schema.entities {
            let name = names::type_name(entity.name());
            match entity {
                Entity::Command(c) if matches!(c.data, Some(Arguments::Inline(_))) => {
                    generated.insert(format!("{name}Arguments"));
                }
                Entity::Event(e) if matches!(e.data, Some(Arguments::Inline(_))) => {
                    generated.insert(format!("{name}Data"));
                }
                Entity::Union(_) => {
                    generated.insert(format!("{name}Branch"));
                }
                _ => {}
            }
            generated.insert(name);
        }
        Shared {
            generated,
            holds: holds(schema),
        }
    }
}

/// Everything an emitter needs. The tokens it holds tie it to one thread: each thread
/// that builds pieces has its own, over the same [`Shared`].
pub struct Context<'a> {
    pub schema: &'a Schema,
    runtime: syn::Path,
    types: syn::Path,
    cfg: CfgMap,
    shared: &'a Shared,
    /// The doc comments of the piece being built.
    pub docs: Docs,
    /// See [`Context::runtime_text`] and [`Context::is_none_text`].
    runtime_text: String,
    /// See [`Context::types_text`].
    types_text: String,
    is_none_text: String,
}

fn path(what: &str, text: &str) -> syn::Path {
    match syn::parse_str(text) {
        Ok(path) => path,
        Err(e) => panic!("Options::{what}: `{text}` is not a Rust path: {e}"),
    }
}

/// A path as prettyplease prints it, when it is only names and `::` (the text
/// printer gives up on anything else: see [`Context::types_text`]).
fn path_text(path: &syn::Path) -> String {
    let text = path.to_token_stream().to_string().replace(' ', "");
    if path.segments.iter().all(|s| s.arguments.is_none()) {
        text
    } else {
        String::new()
    }
}

impl<'a> Context<'a> {
    /// # Panics
    /// When `options` holds a path or predicate that is not Rust syntax.
    pub fn new(schema: &'a Schema, options: &Options, shared: &'a Shared) -> Self {
        let runtime = path("runtime", &options.runtime);
        let mut cx = Context {
            schema,
            runtime_text: path_text(&runtime),
            runtime,
            types_text: String::new(),
            types: path("types", &options.types),
            cfg: CfgMap::new(&options.cfg_map),
            shared,
            docs: Docs::default(),
            is_none_text: String::new(),
        };
        cx.types_text = path_text(&cx.types);
        cx.is_none_text = format!(
            "{}::is_none",
            cx.std(Std::Option).to_string().replace(' ', "")
        );
        cx
    }

    /// The doc comment for Markdown `text` (nothing for no text).
    pub fn doc(&self, text: String) -> TokenStream {
        self.docs.attr(text)
    }

    /// `ty` in a `Box` when [`Context::boxed`] says so.
    pub fn maybe_boxed(&self, owner: &str, ty: &TypeRef, tokens: TokenStream) -> TokenStream {
        if self.boxed(owner, ty) {
            let boxed = self.std(Std::Box);
            quote! { #boxed<#tokens> }
        } else {
            tokens
        }
    }

    /// Whether a member of type `ty` in type `owner` is boxed: when `ty` holds
    /// `owner` by value, the Rust types would otherwise contain themselves.
    pub fn boxed(&self, owner: &str, ty: &TypeRef) -> bool {
        match ty {
            TypeRef::Named(name) => {
                name == owner
                    || self
                        .shared
                        .holds
                        .get(name)
                        .is_some_and(|held| held.contains(owner))
            }
            _ => false,
        }
    }

    /// The support crate of the generated types (`crate`).
    pub fn runtime(&self) -> TokenStream {
        self.runtime.to_token_stream()
    }

    /// The same as text, for serde's `with = "..."`.
    pub fn runtime_text(&self) -> &str {
        &self.runtime_text
    }

    /// The crate of the generated types, as the dispatch code reaches it (`qga_types`).
    pub fn types(&self) -> TokenStream {
        self.types.to_token_stream()
    }

    /// The crate of the generated types as text, for the text printer (empty when
    /// it is a path the printer does not write: it gives up on it).
    pub fn types_text(&self) -> &str {
        &self.types_text
    }

    /// [`Context::std`] as text.
    pub fn std_text(&self, ty: Std) -> &'static str {
        if self.shared.generated.contains(ty.short()) {
            ty.full_text()
        } else {
            ty.short()
        }
    }

    /// [`Context::serialize`] as text.
    pub fn serialize_text(&self) -> &'static str {
        if self.serde_imported() {
            "Serialize"
        } else {
            "::serde::Serialize"
        }
    }

    /// [`Context::deserialize`] as text.
    pub fn deserialize_text(&self) -> &'static str {
        if self.serde_imported() {
            "Deserialize"
        } else {
            "::serde::Deserialize"
        }
    }

    /// [`Context::cfg`] as text (empty for no condition).
    pub fn cfg_text(&self, cond: Option<&Cond>, t: &mut Text) -> String {
        let Some(cond) = cond else {
            return String::new();
        };
        let mut out = String::with_capacity(48);
        out.push_str("#[cfg(");
        if !self.cfg.write_predicate(cond, &mut out) {
            t.fail();
        }
        out.push_str(")]");
        out
    }

    /// [`Context::deprecated`] as text (empty when not deprecated).
    pub fn deprecated_text(&self, features: &[Feature], t: &mut Text) -> String {
        match features.iter().find(|f| f.name == "deprecated") {
            None => String::new(),
            Some(Feature { cond: None, .. }) => "#[deprecated]".to_owned(),
            Some(Feature {
                cond: Some(cond), ..
            }) => match self.cfg.predicate_text(cond) {
                Some(predicate) => format!("#[cfg_attr({predicate}, deprecated)]"),
                None => {
                    t.fail();
                    String::new()
                }
            },
        }
    }

    /// [`Context::serde_use`] as text lines.
    pub fn serde_use_text<'c>(
        &self,
        t: &mut Text,
        indent: usize,
        conds: impl IntoIterator<Item = Option<&'c Cond>>,
    ) {
        if !self.serde_imported() {
            return;
        }
        let mut predicates: Vec<String> = Vec::new();
        for cond in conds {
            match cond {
                None => {
                    line!(t, indent, "use serde::{{Deserialize, Serialize}};");
                    return;
                }
                Some(cond) => match self.cfg.predicate_text(cond) {
                    Some(p) => predicates.push(p),
                    None => return t.fail(),
                },
            }
        }
        predicates.dedup();
        match predicates.as_slice() {
            [] => {}
            [one] => line!(t, indent, "#[cfg({one})]"),
            many => line!(t, indent, "#[cfg(any({}))]", many.join(", ")),
        }
        if !predicates.is_empty() {
            line!(t, indent, "use serde::{{Deserialize, Serialize}};");
        }
    }

    /// [`Context::rust_type`] as text; `prefix` is empty, `super::` or the types
    /// crate and `::`.
    pub fn rust_type_text(&self, ty: &TypeRef, prefix: &str) -> String {
        match ty {
            TypeRef::Builtin(b) => match b {
                Builtin::Str => self.std_text(Std::String).to_owned(),
                Builtin::Number => "f64".to_owned(),
                Builtin::Int | Builtin::Int64 => "i64".to_owned(),
                Builtin::Int8 => "i8".to_owned(),
                Builtin::Int16 => "i16".to_owned(),
                Builtin::Int32 => "i32".to_owned(),
                Builtin::Uint8 => "u8".to_owned(),
                Builtin::Uint16 => "u16".to_owned(),
                Builtin::Uint32 => "u32".to_owned(),
                Builtin::Uint64 | Builtin::Size => "u64".to_owned(),
                Builtin::Bool => "bool".to_owned(),
                Builtin::Null => "()".to_owned(),
                Builtin::Any => "::serde_json::Value".to_owned(),
                Builtin::QType => cat!(prefix, "QType"),
            },
            TypeRef::Named(name) => cat!(prefix, &names::ident_text(&names::type_name(name))),
            TypeRef::Array(element) => cat!(
                self.std_text(Std::Vec),
                "<",
                &self.rust_type_text(element, prefix),
                ">"
            ),
        }
    }

    /// [`Context::maybe_boxed`] as text.
    pub fn maybe_boxed_text(&self, owner: &str, ty: &TypeRef, text: String) -> String {
        if self.boxed(owner, ty) {
            cat!(self.std_text(Std::Box), "<", &text, ">")
        } else {
            text
        }
    }

    /// A standard type, in full when the schema has a type of the same name.
    pub fn std(&self, ty: Std) -> TokenStream {
        if self.shared.generated.contains(ty.short()) {
            ty.full()
        } else {
            let ident = proc_macro2::Ident::new(ty.short(), proc_macro2::Span::call_site());
            quote! { #ident }
        }
    }

    /// Whether the generated file imports serde's `Serialize` and `Deserialize`
    /// (unless the schema has types of those names).
    fn serde_imported(&self) -> bool {
        !self.shared.generated.contains("Serialize")
            && !self.shared.generated.contains("Deserialize")
    }

    /// `use serde::{Deserialize, Serialize};` for a module whose items that use
    /// them have conditions `conds` (`None` for an unconditional item): under the
    /// condition that keeps at least one of them, so that it is never unused.
    pub fn serde_use<'c>(&self, conds: impl IntoIterator<Item = Option<&'c Cond>>) -> TokenStream {
        if !self.serde_imported() {
            return TokenStream::new();
        }
        let mut predicates: Vec<String> = Vec::new();
        for cond in conds {
            match cond {
                None => return quote! { use serde::{Deserialize, Serialize}; },
                Some(cond) => predicates.push(self.cfg.predicate(cond).to_string()),
            }
        }
        predicates.dedup();
        let predicates: Vec<TokenStream> = predicates
            .iter()
            .map(|p| p.parse().expect("printed tokens parse"))
            .collect();
        match predicates.as_slice() {
            [] => TokenStream::new(),
            [one] => quote! { #[cfg(#one)] use serde::{Deserialize, Serialize}; },
            many => quote! { #[cfg(any(#(#many),*))] use serde::{Deserialize, Serialize}; },
        }
    }

    /// The `Serialize` trait and derive.
    pub fn serialize(&self) -> TokenStream {
        if self.serde_imported() {
            quote! { Serialize }
        } else {
            quote! { ::serde::Serialize }
        }
    }

    /// The `Deserialize` trait and derive.
    pub fn deserialize(&self) -> TokenStream {
        if self.serde_imported() {
            quote! { Deserialize }
        } else {
            quote! { ::serde::Deserialize }
        }
    }

    /// `Option::is_none` as text, for serde's `skip_serializing_if`.
    pub fn is_none_text(&self) -> &str {
        &self.is_none_text
    }

    /// `#[cfg(...)]` for an optional condition.
    pub fn cfg(&self, cond: Option<&Cond>) -> TokenStream {
        match cond {
            Some(cond) => {
                let predicate = self.cfg.predicate(cond);
                quote! { #[cfg(#predicate)] }
            }
            None => TokenStream::new(),
        }
    }

    /// `#[deprecated]` when the features include `deprecated`, as a `cfg_attr` when
    /// the feature is conditional.
    pub fn deprecated(&self, features: &[Feature]) -> TokenStream {
        match features.iter().find(|f| f.name == "deprecated") {
            None => TokenStream::new(),
            Some(Feature { cond: None, .. }) => quote! { #[deprecated] },
            Some(Feature {
                cond: Some(cond), ..
            }) => {
                let predicate = self.cfg.predicate(cond);
                quote! { #[cfg_attr(#predicate, deprecated)] }
            }
        }
    }

    /// The Rust type of a reference; named types are reached through `prefix`
    /// (nothing at the top of the types file, `super::` from its modules,
    /// `qga_types::` from the dispatch file).
    pub fn rust_type(&self, ty: &TypeRef, prefix: &TokenStream) -> TokenStream {
        match ty {
            TypeRef::Builtin(b) => match b {
                Builtin::Str => self.std(Std::String),
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
                let vec = self.std(Std::Vec);
                let element = self.rust_type(element, prefix);
                quote! { #vec<#element> }
            }
        }
    }
}

/// What each type holds by value, transitively (see [`Context::boxed`]).
fn holds(schema: &Schema) -> HashMap<String, HashSet<String>> {
    let named = |ty: &TypeRef| match ty {
        TypeRef::Named(name) => Some(name.clone()),
        _ => None,
    };
    let direct: HashMap<&str, Vec<String>> = schema
        .entities
        .iter()
        .map(|entity| {
            let held: Vec<String> = match entity {
                Entity::Struct(s) => schema
                    .all_members(s)
                    .iter()
                    .filter_map(|m| named(&m.ty))
                    .collect(),
                Entity::Union(u) => {
                    let base = u.base_members.iter().filter_map(|m| named(&m.ty));
                    base.chain(u.branches.iter().map(|b| b.ty.clone()))
                        .collect()
                }
                Entity::Alternate(a) => a.branches.iter().filter_map(|m| named(&m.ty)).collect(),
                _ => Vec::new(),
            };
            (entity.name(), held)
        })
        .collect();
    direct
        .keys()
        .map(|&start| {
            let mut seen: HashSet<String> = HashSet::new();
            let mut stack: Vec<&str> = vec![start];
            while let Some(name) = stack.pop() {
                for next in direct.get(name).into_iter().flatten() {
                    if seen.insert(next.clone()) {
                        stack.push(next);
                    }
                }
            }
            (start.to_owned(), seen)
        })
        .collect()
}
