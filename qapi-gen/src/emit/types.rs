//! The types backend: a Rust type with serde for every struct, enum, union and
//! alternate, and a descriptor for every command and event.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::common::{cfg_attr, doc_attrs, doc_for, rust_type, uses_qtype};
use super::names;
use super::Options;
use crate::model::{Alternate, Arguments, Builtin, Command, Entity, Enum, Event, Member, Schema, Struct, TypeRef, Union};

/// The whole types file.
pub fn types(schema: &Schema, options: &Options) -> TokenStream {
    let top = TokenStream::new();
    let strict = argument_types(schema);
    let mut items = Vec::new();
    let needs_qtype = schema.entities.iter().any(|e| match e {
        Entity::Struct(s) => s.members.iter().any(|m| uses_qtype(&m.ty)),
        Entity::Alternate(a) => a.branches.iter().any(|m| uses_qtype(&m.ty)),
        Entity::Command(c) => {
            let in_arguments = match &c.data {
                Some(Arguments::Inline(ms)) => ms.iter().any(|m| uses_qtype(&m.ty)),
                _ => false,
            };
            in_arguments || c.returns.as_ref().is_some_and(uses_qtype)
        }
        _ => false,
    });
    if needs_qtype {
        items.push(qtype(options));
    }
    for entity in &schema.entities {
        items.push(match entity {
            Entity::Struct(s) => struct_item(schema, options, s, &top, strict.contains(&s.common.name)),
            Entity::Enum(e) => enum_item(options, e),
            Entity::Union(u) => union_item(schema, options, u),
            Entity::Alternate(a) => alternate_item(schema, a),
            Entity::Command(_) | Entity::Event(_) => continue,
        });
    }
    let commands: Vec<_> = schema.commands().map(|c| command_items(schema, options, c)).collect();
    let events: Vec<_> = schema.events().map(|e| event_items(schema, options, e)).collect();
    let commands = (!commands.is_empty()).then(|| {
        quote! {
            /// A descriptor per command, and the argument types of commands whose
            /// arguments are written inline.
            pub mod commands {
                #(#commands)*
            }
        }
    });
    let events = (!events.is_empty()).then(|| {
        quote! {
            /// A descriptor per event, and the data types of events whose data is
            /// written inline.
            pub mod events {
                #(#events)*
            }
        }
    });
    quote! {
        #(#items)*
        #commands
        #events
    }
}

fn deprecated(features: &[crate::model::Feature]) -> TokenStream {
    if features.iter().any(|f| f.name == "deprecated") {
        quote! { #[deprecated] }
    } else {
        TokenStream::new()
    }
}

/// One field of a struct, with its serde attributes.
fn field(schema: &Schema, options: &Options, m: &Member, prefix: &TokenStream) -> TokenStream {
    let name = names::ident(&names::snake_name(&m.name));
    let wire = &m.name;
    let doc = m.doc.as_deref().map(doc_attrs).unwrap_or_default();
    let cfg = cfg_attr(m.cond.as_ref());
    let deprecated = deprecated(&m.features);
    let base64 = m.has_feature("base64") && m.ty == TypeRef::Builtin(Builtin::Str);
    let (ty, serde) = match (base64, m.optional) {
        (true, false) => {
            let with = format!("{}::base64", options.runtime_path);
            (quote! { Vec<u8> }, quote! { #[serde(rename = #wire, with = #with)] })
        }
        (true, true) => {
            let with = format!("{}::base64::option", options.runtime_path);
            (
                quote! { Option<Vec<u8>> },
                quote! { #[serde(rename = #wire, default, skip_serializing_if = "Option::is_none", with = #with)] },
            )
        }
        (false, false) => (rust_type(schema, &m.ty, prefix), quote! { #[serde(rename = #wire)] }),
        (false, true) => {
            let ty = rust_type(schema, &m.ty, prefix);
            (quote! { Option<#ty> }, quote! { #[serde(rename = #wire, default, skip_serializing_if = "Option::is_none")] })
        }
    };
    quote! {
        #doc
        #cfg
        #deprecated
        #serde
        pub #name: #ty,
    }
}

/// The types that command arguments are made of. Like QEMU's input visitor, their
/// deserialisation refuses members it does not know; everything else a client
/// reads from an agent accepts members added by later versions.
fn argument_types(schema: &Schema) -> std::collections::HashSet<String> {
    fn visit(schema: &Schema, ty: &TypeRef, seen: &mut std::collections::HashSet<String>) {
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
                    Some(Entity::Alternate(a)) => a.branches.iter().for_each(|b| visit(schema, &b.ty, seen)),
                    Some(Entity::Union(u)) => {
                        u.base_members.iter().for_each(|m| visit(schema, &m.ty, seen));
                        for b in &u.branches {
                            visit(schema, &TypeRef::Named(b.ty.clone()), seen);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for c in schema.commands() {
        match &c.data {
            Some(Arguments::Inline(members)) => members.iter().for_each(|m| visit(schema, &m.ty, &mut seen)),
            Some(Arguments::Named(name)) => visit(schema, &TypeRef::Named(name.clone()), &mut seen),
            None => {}
        }
    }
    seen
}

fn strictness(strict: bool) -> TokenStream {
    if strict {
        quote! { #[serde(deny_unknown_fields)] }
    } else {
        TokenStream::new()
    }
}

fn struct_item(schema: &Schema, options: &Options, s: &Struct, prefix: &TokenStream, strict: bool) -> TokenStream {
    let strictness = strictness(strict);
    let name = names::ident(&names::type_name(&s.common.name));
    let doc = doc_for(s.common.doc.as_ref());
    let cfg = cfg_attr(s.common.cond.as_ref());
    let fields = schema.all_members(s).into_iter().map(|m| field(schema, options, m, prefix));
    quote! {
        #doc
        #cfg
        #[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
        #strictness
        pub struct #name {
            #(#fields)*
        }
    }
}

fn enum_item(options: &Options, e: &Enum) -> TokenStream {
    let name = names::ident(&names::type_name(&e.common.name));
    let doc = doc_for(e.common.doc.as_ref());
    let cfg = cfg_attr(e.common.cond.as_ref());
    let runtime = options.runtime();
    let variants: Vec<_> = e.values.iter().map(|v| names::ident(&names::variant_name(&v.name))).collect();
    let wires: Vec<_> = e.values.iter().map(|v| v.name.as_str()).collect();
    let cfgs: Vec<_> = e.values.iter().map(|v| cfg_attr(v.cond.as_ref())).collect();
    let docs: Vec<_> = e.values.iter().map(|v| v.doc.as_deref().map(doc_attrs).unwrap_or_default()).collect();
    let deprecations: Vec<_> = e.values.iter().map(|v| deprecated(&v.features)).collect();
    let wire_name = &e.common.name;
    quote! {
        #doc
        #cfg
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        pub enum #name {
            #(#docs #cfgs #deprecations #[serde(rename = #wires)] #variants,)*
        }

        #cfg
        impl #name {
            /// Every value, in schema order.
            pub const ALL: &'static [#name] = &[#(#cfgs #name::#variants),*];

            /// The value's name on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    #(#cfgs #name::#variants => #wires,)*
                }
            }
        }

        #cfg
        impl ::std::fmt::Display for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #cfg
        impl ::std::str::FromStr for #name {
            type Err = #runtime::InvalidEnumValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    #(#cfgs #wires => Ok(#name::#variants),)*
                    _ => Err(#runtime::InvalidEnumValue::new(#wire_name, s)),
                }
            }
        }
    }
}

fn qtype(options: &Options) -> TokenStream {
    let e = Enum {
        common: crate::model::Common {
            name: "QType".into(),
            cond: None,
            features: Vec::new(),
            doc: Some(crate::model::Doc {
                body: "The JSON kind of a value (QEMU's built-in QType).".into(),
                ..Default::default()
            }),
            info: crate::model::Info { file: Default::default(), line: 0, col: 0 },
        },
        prefix: Some("QTYPE".into()),
        values: ["none", "qnull", "qnum", "qstring", "qdict", "qlist", "qbool"]
            .into_iter()
            .map(|n| crate::model::EnumValue { name: n.into(), cond: None, features: Vec::new(), doc: None })
            .collect(),
    };
    enum_item(options, &e)
}

/// A flat union: the common members, plus the branch selected by the discriminator.
fn union_item(schema: &Schema, options: &Options, u: &Union) -> TokenStream {
    let type_name = names::type_name(&u.common.name);
    let name = names::ident(&type_name);
    let branch_name = format_ident!("{}Branch", type_name);
    let doc = doc_for(u.common.doc.as_ref());
    let cfg = cfg_attr(u.common.cond.as_ref());
    let top = TokenStream::new();
    let fields = u
        .base_members
        .iter()
        .filter(|m| m.name != u.discriminator)
        .map(|m| field(schema, options, m, &top));
    let discriminator = &u.discriminator;
    let enum_values = &schema.enum_named(&u.discriminator_enum).expect("checked: an enum").values;
    let variants = enum_values.iter().map(|v| {
        let variant = names::ident(&names::variant_name(&v.name));
        let wire = &v.name;
        let value_cfg = cfg_attr(v.cond.as_ref());
        match u.branches.iter().find(|b| b.value == v.name) {
            Some(b) => {
                let ty = names::ident(&names::type_name(&b.ty));
                let branch_cfg = cfg_attr(b.cond.as_ref());
                quote! { #value_cfg #branch_cfg #[serde(rename = #wire)] #variant(#ty), }
            }
            None => quote! { #value_cfg #[serde(rename = #wire)] #variant, },
        }
    });
    let branch_doc = format!(" The members that depend on `{discriminator}`.");
    quote! {
        #doc
        #cfg
        #[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
        pub struct #name {
            #(#fields)*
            /// The branch selected by the discriminator, with its members.
            #[serde(flatten)]
            pub branch: #branch_name,
        }

        #[doc = #branch_doc]
        #cfg
        #[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(tag = #discriminator)]
        pub enum #branch_name {
            #(#variants)*
        }
    }
}

/// The JSON kinds a type accepts, as visitor methods of an alternate.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Int,
    Number,
    Bool,
    Null,
    Object,
    Array,
}

fn kind_of(schema: &Schema, ty: &TypeRef) -> Kind {
    match ty {
        TypeRef::Builtin(b) => match b {
            Builtin::Str | Builtin::QType => Kind::Str,
            Builtin::Number => Kind::Number,
            Builtin::Bool => Kind::Bool,
            Builtin::Null => Kind::Null,
            Builtin::Any => Kind::Object,
            _ => Kind::Int,
        },
        TypeRef::Named(n) => match schema.lookup(n) {
            Some(Entity::Enum(_)) => Kind::Str,
            _ => Kind::Object,
        },
        TypeRef::Array(_) => Kind::Array,
    }
}

fn alternate_item(schema: &Schema, a: &Alternate) -> TokenStream {
    let type_name = names::type_name(&a.common.name);
    let name = names::ident(&type_name);
    let doc = doc_for(a.common.doc.as_ref());
    let cfg = cfg_attr(a.common.cond.as_ref());
    let top = TokenStream::new();
    let variants: Vec<_> = a.branches.iter().map(|b| names::ident(&names::variant_name(&b.name))).collect();
    let tys: Vec<_> = a.branches.iter().map(|b| rust_type(schema, &b.ty, &top)).collect();
    let docs: Vec<_> = a.branches.iter().map(|b| b.doc.as_deref().map(doc_attrs).unwrap_or_default()).collect();
    let cfgs: Vec<_> = a.branches.iter().map(|b| cfg_attr(b.cond.as_ref())).collect();
    let kinds: Vec<_> = a.branches.iter().map(|b| kind_of(schema, &b.ty)).collect();
    let find = |k: Kind| kinds.iter().position(|&x| x == k);
    let mut visits = Vec::new();
    let expecting = a.branches.iter().map(|b| b.name.as_str()).collect::<Vec<_>>().join(" or ");
    let expecting = format!("one of the alternatives of {}: {expecting}", a.common.name);
    let number_or_int = find(Kind::Int).or(find(Kind::Number));
    if let Some(i) = number_or_int {
        let (v, c) = (&variants[i], &cfgs[i]);
        visits.push(quote! {
            #c
            fn visit_i64<E: ::serde::de::Error>(self, value: i64) -> Result<Self::Value, E> {
                ::serde::Deserialize::deserialize(value.into_deserializer()).map(#name::#v)
            }
            #c
            fn visit_u64<E: ::serde::de::Error>(self, value: u64) -> Result<Self::Value, E> {
                ::serde::Deserialize::deserialize(value.into_deserializer()).map(#name::#v)
            }
        });
    }
    if let Some(i) = find(Kind::Number) {
        let (v, c) = (&variants[i], &cfgs[i]);
        visits.push(quote! {
            #c
            fn visit_f64<E: ::serde::de::Error>(self, value: f64) -> Result<Self::Value, E> {
                ::serde::Deserialize::deserialize(value.into_deserializer()).map(#name::#v)
            }
        });
    }
    if let Some(i) = find(Kind::Str) {
        let (v, c) = (&variants[i], &cfgs[i]);
        visits.push(quote! {
            #c
            fn visit_str<E: ::serde::de::Error>(self, value: &str) -> Result<Self::Value, E> {
                ::serde::Deserialize::deserialize(value.into_deserializer()).map(#name::#v)
            }
        });
    }
    if let Some(i) = find(Kind::Bool) {
        let (v, c) = (&variants[i], &cfgs[i]);
        visits.push(quote! {
            #c
            fn visit_bool<E: ::serde::de::Error>(self, value: bool) -> Result<Self::Value, E> {
                Ok(#name::#v(value))
            }
        });
    }
    if let Some(i) = find(Kind::Null) {
        let (v, c) = (&variants[i], &cfgs[i]);
        visits.push(quote! {
            #c
            fn visit_unit<E: ::serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(#name::#v(()))
            }
        });
    }
    if let Some(i) = find(Kind::Object) {
        let (v, c) = (&variants[i], &cfgs[i]);
        visits.push(quote! {
            #c
            fn visit_map<A: ::serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                ::serde::Deserialize::deserialize(::serde::de::value::MapAccessDeserializer::new(map)).map(#name::#v)
            }
        });
    }
    if let Some(i) = find(Kind::Array) {
        let (v, c) = (&variants[i], &cfgs[i]);
        visits.push(quote! {
            #c
            fn visit_seq<A: ::serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                ::serde::Deserialize::deserialize(::serde::de::value::SeqAccessDeserializer::new(seq)).map(#name::#v)
            }
        });
    }
    let uses_into = find(Kind::Int).or(find(Kind::Number)).or(find(Kind::Str)).is_some();
    let import = uses_into.then(|| quote! { use ::serde::de::IntoDeserializer as _; });
    quote! {
        #doc
        #cfg
        #[derive(Debug, Clone, PartialEq, ::serde::Serialize)]
        #[serde(untagged)]
        pub enum #name {
            #(#docs #cfgs #variants(#tys),)*
        }

        /// Picks the branch by the JSON kind of the value, as QEMU does: the schema
        /// guarantees that no two branches accept the same kind.
        #cfg
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;

                impl<'de> ::serde::de::Visitor<'de> for Visitor {
                    type Value = #name;

                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(#expecting)
                    }

                    #(#visits)*
                }

                #import
                deserializer.deserialize_any(Visitor)
            }
        }
    }
}

/// A command's descriptor, and its argument struct when the arguments are inline.
fn command_items(schema: &Schema, options: &Options, c: &Command) -> TokenStream {
    let type_name = names::type_name(&c.common.name);
    let name = names::ident(&type_name);
    let doc = doc_for(c.common.doc.as_ref());
    let cfg = cfg_attr(c.common.cond.as_ref());
    let deprecated = deprecated(&c.common.features);
    let runtime = options.runtime();
    let wire = &c.common.name;
    let success = c.success_response;
    let up = quote! { super:: };
    let (arguments, arguments_item) = match &c.data {
        None => (quote! { #runtime::Empty }, TokenStream::new()),
        Some(Arguments::Named(n)) => (rust_type(schema, &TypeRef::Named(n.clone()), &up), TokenStream::new()),
        Some(Arguments::Inline(members)) => {
            let args = format_ident!("{}Arguments", type_name);
            let fields = members.iter().map(|m| field(schema, options, m, &up));
            let args_doc = format!(" The arguments of `{wire}`.");
            let item = quote! {
                #[doc = #args_doc]
                #cfg
                #[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
                #[serde(deny_unknown_fields)]
                pub struct #args {
                    #(#fields)*
                }
            };
            (quote! { #args }, item)
        }
    };
    let returns = match &c.returns {
        Some(ty) => rust_type(schema, ty, &up),
        None => quote! { #runtime::Empty },
    };
    quote! {
        #doc
        #cfg
        #deprecated
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct #name;

        #cfg
        #[allow(deprecated)]
        impl #runtime::Command for #name {
            const NAME: &'static str = #wire;
            const SUCCESS_RESPONSE: bool = #success;
            type Arguments = #arguments;
            type Returns = #returns;
        }

        #arguments_item
    }
}

/// An event's descriptor, and its data struct when the data is inline.
fn event_items(schema: &Schema, options: &Options, e: &Event) -> TokenStream {
    let type_name = names::type_name(&e.common.name.to_ascii_lowercase());
    let name = names::ident(&type_name);
    let doc = doc_for(e.common.doc.as_ref());
    let cfg = cfg_attr(e.common.cond.as_ref());
    let wire = &e.common.name;
    let up = quote! { super:: };
    let data_item = match &e.data {
        Some(Arguments::Inline(members)) => {
            let data = format_ident!("{}Data", type_name);
            let fields = members.iter().map(|m| field(schema, options, m, &up));
            let data_doc = format!(" The data of `{wire}`.");
            quote! {
                #[doc = #data_doc]
                #cfg
                #[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
                pub struct #data {
                    #(#fields)*
                }
            }
        }
        _ => TokenStream::new(),
    };
    quote! {
        #doc
        #cfg
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct #name;

        #cfg
        impl #name {
            /// The event's name on the wire.
            pub const NAME: &'static str = #wire;
        }

        #data_item
    }
}
