//! Structs, and the fields that structs, union bases and argument types share.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::rename;
use crate::emit::context::{Context, Std};
use crate::emit::doc;
use crate::emit::names::{self, Scope};
use crate::emit::text::{cat, line, Text};
use crate::model::{Builtin, Member, Struct, TypeRef};

/// Fields for members, and the `rename_all` their container needs.
pub struct Fields {
    pub rename_all: Option<&'static str>,
    pub tokens: TokenStream,
}

/// One field per member, in order. `prefix` reaches named types (see
/// [`Context::rust_type`]); `scope` holds the names already taken in the struct.
///
/// `owner` is the type the fields belong to, whose by-value cycles need a `Box`
/// (see [`Context::boxed`]).
pub fn fields(
    cx: &Context<'_>,
    owner: &str,
    members: &[&Member],
    prefix: &TokenStream,
    scope: &mut Scope,
) -> Fields {
    let idents: Vec<Ident> = members
        .iter()
        .map(|m| scope.ident(names::field_name(&m.name)))
        .collect();
    let serde_names: Vec<(String, &str)> = idents
        .iter()
        .zip(members)
        .map(|(ident, m)| (names::serde_name(ident), m.name.as_str()))
        .collect();
    let renames = rename::fields(&serde_names);
    let tokens = members
        .iter()
        .zip(&idents)
        .zip(renames.each)
        .map(|((m, ident), rename)| {
            let (ty, mut serde) = field_type(cx, owner, m, prefix);
            if let Some(wire) = rename {
                serde.insert(0, quote! { rename = #wire });
            }
            let serde = (!serde.is_empty()).then(|| quote! { #[serde(#(#serde),*)] });
            let doc = cx.doc(doc::member_rustdoc(m.doc.as_deref()));
            let cfg = cx.cfg(m.cond.as_ref());
            let deprecated = cx.deprecated(&m.features);
            quote! {
                #doc
                #cfg
                #deprecated
                #serde
                pub #ident: #ty,
            }
        });
    Fields {
        rename_all: renames.all,
        tokens: tokens.collect(),
    }
}

/// A member's Rust type and the serde attributes it needs besides a rename.
fn field_type(
    cx: &Context<'_>,
    owner: &str,
    m: &Member,
    prefix: &TokenStream,
) -> (TokenStream, Vec<TokenStream>) {
    let option = cx.std(Std::Option);
    let mut serde = Vec::new();
    if m.optional {
        let is_none = cx.is_none_text();
        serde.push(quote! { default, skip_serializing_if = #is_none });
    }
    let ty = if m.has_feature("base64") && m.ty == TypeRef::Builtin(Builtin::Str) {
        let module = if m.optional {
            "base64::option"
        } else {
            "base64"
        };
        let with = format!("{}::{module}", cx.runtime_text());
        serde.push(quote! { with = #with });
        let vec = cx.std(Std::Vec);
        quote! { #vec<u8> }
    } else {
        cx.maybe_boxed(owner, &m.ty, cx.rust_type(&m.ty, prefix))
    };
    let ty = if m.optional {
        quote! { #option<#ty> }
    } else {
        ty
    };
    (ty, serde)
}

/// `#[serde(...)]` on a container, or nothing.
pub fn container_serde(rename_all: Option<&str>, deny_unknown_fields: bool) -> TokenStream {
    let mut args = Vec::new();
    if let Some(rule) = rename_all {
        args.push(quote! { rename_all = #rule });
    }
    if deny_unknown_fields {
        args.push(quote! { deny_unknown_fields });
    }
    if args.is_empty() {
        TokenStream::new()
    } else {
        quote! { #[serde(#(#args),*)] }
    }
}

/// A struct with its base's members inline, in wire order. `strict` structs refuse
/// unknown members (they are part of some command's arguments).
pub fn struct_item(cx: &Context<'_>, s: &Struct, strict: bool) -> TokenStream {
    let name = names::ident(&names::type_name(&s.common.name));
    let doc = cx.doc(doc::rustdoc(s.common.doc.as_ref(), &[]));
    let cfg = cx.cfg(s.common.cond.as_ref());
    let members = cx.schema.all_members(s);
    let fields = fields(
        cx,
        &s.common.name,
        &members,
        &TokenStream::new(),
        &mut Scope::default(),
    );
    let serde = container_serde(fields.rename_all, strict);
    let body = fields.tokens;
    let (ser, de) = (cx.serialize(), cx.deserialize());
    quote! {
        #doc
        #cfg
        #[derive(Debug, Clone, PartialEq, #ser, #de)]
        #serde
        pub struct #name {
            #body
        }
    }
}

/// A field as the text printer writes it.
pub struct FieldText {
    doc: String,
    cfg: String,
    deprecated: String,
    serde: Vec<String>,
    decl: String,
}

/// [`fields`] as text: the `rename_all` and the fields, to write with
/// [`write_fields`].
pub fn fields_text(
    cx: &Context<'_>,
    t: &mut Text,
    owner: &str,
    members: &[&Member],
    prefix: &str,
    scope: &mut Scope,
) -> (Option<&'static str>, Vec<FieldText>) {
    let idents: Vec<String> = members
        .iter()
        .map(|m| scope.name(names::field_name(&m.name)))
        .collect();
    let serde_names: Vec<(String, &str)> = idents
        .iter()
        .zip(members)
        .map(|(ident, m)| (names::serde_name_text(ident).to_owned(), m.name.as_str()))
        .collect();
    let renames = rename::fields(&serde_names);
    let fields = members
        .iter()
        .zip(&idents)
        .zip(renames.each)
        .map(|((m, ident), rename)| {
            let mut serde = Vec::new();
            if let Some(wire) = rename {
                serde.push(cat!("rename = ", &t.lit(&wire)));
            }
            let option = cx.std_text(Std::Option);
            if m.optional {
                serde.push("default".to_owned());
                serde.push(format!(
                    "skip_serializing_if = {}",
                    t.lit(cx.is_none_text())
                ));
            }
            let ty = if m.has_feature("base64") && m.ty == TypeRef::Builtin(Builtin::Str) {
                let module = if m.optional {
                    "base64::option"
                } else {
                    "base64"
                };
                let with = format!("{}::{module}", cx.runtime_text());
                serde.push(format!("with = {}", t.lit(&with)));
                format!("{}<u8>", cx.std_text(Std::Vec))
            } else {
                cx.maybe_boxed_text(owner, &m.ty, cx.rust_type_text(&m.ty, prefix))
            };
            let ty = if m.optional {
                cat!(option, "<", &ty, ">")
            } else {
                ty
            };
            FieldText {
                doc: doc::member_rustdoc(m.doc.as_deref()),
                cfg: cx.cfg_text(m.cond.as_ref(), t),
                deprecated: cx.deprecated_text(&m.features, t),
                serde,
                decl: cat!("pub ", ident, ": ", &ty, ","),
            }
        })
        .collect();
    (renames.all, fields)
}

pub fn write_fields(t: &mut Text, indent: usize, fields: &[FieldText]) {
    for f in fields {
        t.doc(indent, &f.doc);
        t.opt(indent, &f.cfg);
        t.opt(indent, &f.deprecated);
        if !f.serde.is_empty() {
            t.attr_list(indent, "serde", &f.serde);
        }
        line!(t, indent, "{}", f.decl);
    }
}

/// [`container_serde`] as text.
pub fn container_serde_text(
    t: &mut Text,
    indent: usize,
    rename_all: Option<&str>,
    deny_unknown_fields: bool,
) {
    let mut args = Vec::new();
    if let Some(rule) = rename_all {
        args.push(format!("rename_all = \"{rule}\""));
    }
    if deny_unknown_fields {
        args.push("deny_unknown_fields".to_owned());
    }
    if !args.is_empty() {
        t.attr_list(indent, "serde", &args);
    }
}

/// `pub struct Name { fields }`, or `pub struct Name {}`.
pub fn write_struct_body(t: &mut Text, indent: usize, name: &str, fields: &[FieldText]) {
    if fields.is_empty() {
        line!(t, indent, "pub struct {name} {{}}");
    } else {
        line!(t, indent, "pub struct {name} {{");
        write_fields(t, indent + 4, fields);
        line!(t, indent, "}}");
    }
}

/// [`struct_item`] as text.
pub fn struct_text(cx: &Context<'_>, s: &Struct, strict: bool, indent: usize) -> Option<String> {
    let mut t = Text::new();
    let name = names::ident_text(&names::type_name(&s.common.name));
    t.doc(indent, &doc::rustdoc(s.common.doc.as_ref(), &[]));
    let cfg = cx.cfg_text(s.common.cond.as_ref(), &mut t);
    t.opt(indent, &cfg);
    let members = cx.schema.all_members(s);
    let (rename_all, fields) = fields_text(
        cx,
        &mut t,
        &s.common.name,
        &members,
        "",
        &mut Scope::default(),
    );
    t.derive(
        indent,
        &[
            "Debug",
            "Clone",
            "PartialEq",
            cx.serialize_text(),
            cx.deserialize_text(),
        ],
    );
    container_serde_text(&mut t, indent, rename_all, strict);
    write_struct_body(&mut t, indent, &name, &fields);
    t.finish()
}
