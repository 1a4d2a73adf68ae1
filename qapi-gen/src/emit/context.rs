//! What every Rust emitter needs besides the item it emits: the schema, the paths the
//! generated code refers to, `cfg` predicates, and how to spell a type. The
//! decisions about spelling are made here, once, for both printers.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use quote::ToTokens;

use super::cond::CfgMap;
use super::names;
use super::shape::{Attr, Attrs, Item};
use super::Options;
use crate::model::{Arguments, Builtin, Cond, Entity, Schema, TypeRef};

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

    fn full(self) -> &'static str {
        match self {
            Std::String => "::std::string::String",
            Std::Vec => "::std::vec::Vec",
            Std::Option => "::std::option::Option",
            Std::Result => "::std::result::Result",
            Std::Box => "::std::boxed::Box",
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

/// Everything an emitter and a printer need: the schema, the options as the
/// generated code spells them, and the [`Shared`] facts. Shared by every thread.
#[derive(Debug)]
pub struct Context<'a> {
    pub schema: &'a Schema,
    /// How conditions become `cfg` predicates.
    pub cfg: CfgMap,
    shared: &'a Shared,
    /// [`Options::runtime`] as the generated code spells it.
    runtime: String,
    /// [`Options::types`] as the generated code spells it.
    types: String,
    /// Whether the paths of the options are names and `::` only, which the text
    /// printer writes as prettyplease does; when not, everything is formatted with
    /// prettyplease.
    pub plain_paths: bool,
}

/// A path from the options, as its tokens print, with whether it is names and `::`
/// only (then without spaces, as prettyplease writes it).
fn path(what: &str, text: &str) -> (String, bool) {
    let path: syn::Path = match syn::parse_str(text) {
        Ok(path) => path,
        Err(e) => panic!("Options::{what}: `{text}` is not a Rust path: {e}"),
    };
    let tokens = path.to_token_stream().to_string();
    if path.segments.iter().all(|s| s.arguments.is_none()) {
        (tokens.replace(' ', ""), true)
    } else {
        (tokens, false)
    }
}

impl<'a> Context<'a> {
    /// # Panics
    /// When `options` holds a path or predicate that is not Rust syntax.
    pub fn new(schema: &'a Schema, options: &Options, shared: &'a Shared) -> Self {
        let (runtime, plain_runtime) = path("runtime", &options.runtime);
        let (types, plain_types) = path("types", &options.types);
        Context {
            schema,
            cfg: CfgMap::new(&options.cfg_map),
            shared,
            runtime,
            types,
            plain_paths: plain_runtime && plain_types,
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

    /// `ty` (the Rust type of `model`, a member of `owner`) in a `Box` when
    /// [`Context::boxed`] says so.
    pub fn maybe_boxed(&self, owner: &str, model: &TypeRef, ty: String) -> String {
        if self.boxed(owner, model) {
            self.generic(Std::Box, &ty)
        } else {
            ty
        }
    }

    /// `Std<ty>`: `Option<u8>`.
    pub fn generic(&self, std: Std, ty: &str) -> String {
        let std = self.std(std);
        let mut out = String::with_capacity(std.len() + ty.len() + 2);
        out.push_str(std);
        out.push('<');
        out.push_str(ty);
        out.push('>');
        out
    }

    /// The support crate of the generated types (`crate`).
    pub fn runtime(&self) -> &str {
        &self.runtime
    }

    /// The crate of the generated types, as the dispatch code reaches it (`qga_types`).
    pub fn types(&self) -> &str {
        &self.types
    }

    /// A standard type, in full when the schema has a type of the same name.
    pub fn std(&self, ty: Std) -> &'static str {
        if self.shared.generated.contains(ty.short()) {
            ty.full()
        } else {
            ty.short()
        }
    }

    /// Whether the generated file imports serde's `Serialize` and `Deserialize`
    /// (unless the schema has types of those names).
    fn serde_imported(&self) -> bool {
        !self.shared.generated.contains("Serialize")
            && !self.shared.generated.contains("Deserialize")
    }

    /// The `Deserialize` trait.
    pub fn deserialize(&self) -> &'static str {
        if self.serde_imported() {
            "Deserialize"
        } else {
            "::serde::Deserialize"
        }
    }

    /// `Option::is_none`, for serde's `skip_serializing_if`.
    pub fn is_none(&self) -> &'static str {
        if self.std(Std::Option) == Std::Option.short() {
            "Option::is_none"
        } else {
            "::std::option::Option::is_none"
        }
    }

    /// The serde traits a generated type derives: `Serialize`, and `Deserialize`
    /// unless it deserialises by hand.
    pub fn serde_derives(&self, deserialize: bool) -> &'static [&'static str] {
        match (self.serde_imported(), deserialize) {
            (true, true) => &["Serialize", "Deserialize"],
            (true, false) => &["Serialize"],
            (false, true) => &["::serde::Serialize", "::serde::Deserialize"],
            (false, false) => &["::serde::Serialize"],
        }
    }

    /// `use serde::{Deserialize, Serialize};` for a module whose items that use
    /// them have conditions `conds` (`None` for an unconditional item): under the
    /// condition that keeps at least one of them, so that it is never unused.
    pub fn serde_use<'c>(
        &self,
        conds: impl IntoIterator<Item = Option<&'c Cond>>,
    ) -> Option<Item<'c>> {
        if !self.serde_imported() {
            return None;
        }
        const TREE: &str = "serde::{Deserialize, Serialize}";
        // Conditions that give the same predicate are one.
        let mut kept: Vec<(&Cond, String)> = Vec::new();
        for cond in conds {
            let Some(cond) = cond else {
                return Some(Item::Use(Attrs::default(), TREE));
            };
            let mut predicate = String::new();
            self.cfg.write(cond, &mut predicate);
            if kept.last().is_none_or(|(_, last)| *last != predicate) {
                kept.push((cond, predicate));
            }
        }
        let cond = match kept.as_slice() {
            [] => return None,
            [(one, _)] => Cow::Borrowed(*one),
            many => Cow::Owned(Cond::Any(many.iter().map(|(c, _)| (*c).clone()).collect())),
        };
        let attrs = Attrs {
            doc: String::new(),
            list: vec![Attr::Cfg(cond)],
        };
        Some(Item::Use(attrs, TREE))
    }

    /// The Rust type of a reference; named types are reached through `prefix`
    /// (nothing at the top of the types file, `super::` from its modules,
    /// `qga_types::` from the dispatch file).
    pub fn rust_type(&self, ty: &TypeRef, prefix: &str) -> String {
        match ty {
            TypeRef::Builtin(b) => match b {
                Builtin::Str => self.std(Std::String).to_owned(),
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
                Builtin::QType => format!("{prefix}QType"),
            },
            TypeRef::Named(name) => {
                let mut out = prefix.to_owned();
                out.push_str(&names::ident(&names::type_name(name)));
                out
            }
            TypeRef::Array(element) => self.generic(Std::Vec, &self.rust_type(element, prefix)),
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
