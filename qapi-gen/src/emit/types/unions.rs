//! Flat unions. On the wire a union is one object: the base members, the
//! discriminator among them, and the members of the branch the discriminator
//! selects. In Rust it is a struct of the base members other than the
//! discriminator, plus a field named for the discriminator holding an enum
//! `<Union>Branch`, flattened and tagged by the discriminator: one variant per value
//! of the discriminator's enum, carrying the branch's struct when it has one.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::rename;
use super::structs::{container_serde, container_serde_text, fields, fields_text, write_fields};
use crate::emit::context::Context;
use crate::emit::doc;
use crate::emit::names::{self, Scope};
use crate::emit::text::{line, Text};
use crate::model::{Member, TypeRef, Union};

pub fn union_item(cx: &Context<'_>, u: &Union) -> TokenStream {
    let type_name = names::type_name(&u.common.name);
    let name = names::ident(&type_name);
    let branch_name = format_ident!("{type_name}Branch");
    let doc = cx.doc(doc::rustdoc(u.common.doc.as_ref(), &[]));
    let cfg = cx.cfg(u.common.cond.as_ref());
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
    let fields = fields(cx, &u.common.name, &others, &TokenStream::new(), &mut scope);
    // serde cannot refuse unknown members of a struct with a flattened field.
    let serde = container_serde(fields.rename_all, false);
    let field_tokens = fields.tokens;
    let tag_doc = cx.doc(doc::member_rustdoc(discriminator.doc.as_deref()));

    let values = &cx
        .schema
        .enum_named(&u.discriminator_enum)
        .expect("checked: an enum")
        .values;
    let mut variant_scope = Scope::default();
    let variants: Vec<_> = values
        .iter()
        .map(|v| variant_scope.ident(names::variant_name(&v.name)))
        .collect();
    let serde_names: Vec<_> = variants
        .iter()
        .zip(values)
        .map(|(v, value)| (names::serde_name(v), value.name.as_str()))
        .collect();
    let renames = rename::variants(&serde_names);
    let tag = &u.discriminator;
    let branch_serde = match renames.all {
        Some(rule) => quote! { #[serde(tag = #tag, rename_all = #rule)] },
        None => quote! { #[serde(tag = #tag)] },
    };
    let branch_variants =
        values
            .iter()
            .zip(&variants)
            .zip(&renames.each)
            .map(|((value, variant), rename)| {
                let docs = cx.doc(doc::member_rustdoc(value.doc.as_deref()));
                let value_cfg = cx.cfg(value.cond.as_ref());
                let deprecated = cx.deprecated(&value.features);
                let rename = rename
                    .as_ref()
                    .map(|wire| quote! { #[serde(rename = #wire)] });
                match u.branches.iter().find(|b| b.value == value.name) {
                    Some(branch) => {
                        let ident = names::ident(&names::type_name(&branch.ty));
                        let ty = cx.maybe_boxed(
                            &u.common.name,
                            &TypeRef::Named(branch.ty.clone()),
                            quote! { #ident },
                        );
                        let branch_cfg = cx.cfg(branch.cond.as_ref());
                        quote! { #docs #value_cfg #branch_cfg #deprecated #rename #variant(#ty), }
                    }
                    None => quote! { #docs #value_cfg #deprecated #rename #variant, },
                }
            });
    let branch_doc = cx.doc(format!(
        "The value of `{tag}` in a [`{type_name}`], with the members of its branch."
    ));
    let (ser, de) = (cx.serialize(), cx.deserialize());
    quote! {
        #doc
        #cfg
        #[derive(Debug, Clone, PartialEq, #ser, #de)]
        #serde
        pub struct #name {
            #field_tokens
            #tag_doc
            #[serde(flatten)]
            pub #tag_field: #branch_name,
        }

        #branch_doc
        #cfg
        #[derive(Debug, Clone, PartialEq, #ser, #de)]
        #branch_serde
        pub enum #branch_name {
            #(#branch_variants)*
        }
    }
}

/// [`union_item`] as text.
pub fn union_text(cx: &Context<'_>, u: &Union, indent: usize) -> Option<String> {
    let i = indent;
    let mut t = Text::new();
    let type_name = names::type_name(&u.common.name);
    let name = names::ident_text(&type_name);
    let branch_name = format!("{type_name}Branch");
    let cfg = cx.cfg_text(u.common.cond.as_ref(), &mut t);
    let discriminator = u
        .base_members
        .iter()
        .find(|m| m.name == u.discriminator)
        .expect("checked: a base member");
    let mut scope = Scope::default();
    let tag_field = scope.name(names::field_name(&u.discriminator));
    let others: Vec<&Member> = u
        .base_members
        .iter()
        .filter(|m| m.name != u.discriminator)
        .collect();
    let (rename_all, fields) = fields_text(cx, &mut t, &u.common.name, &others, "", &mut scope);
    let (ser, de) = (cx.serialize_text(), cx.deserialize_text());

    t.doc(i, &doc::rustdoc(u.common.doc.as_ref(), &[]));
    t.opt(i, &cfg);
    t.derive(i, &["Debug", "Clone", "PartialEq", ser, de]);
    container_serde_text(&mut t, i, rename_all, false);
    line!(t, i, "pub struct {name} {{");
    write_fields(&mut t, i + 4, &fields);
    t.doc(i + 4, &doc::member_rustdoc(discriminator.doc.as_deref()));
    line!(t, i + 4, "#[serde(flatten)]");
    line!(t, i + 4, "pub {tag_field}: {branch_name},");
    line!(t, i, "}}");

    let values = &cx
        .schema
        .enum_named(&u.discriminator_enum)
        .expect("checked: an enum")
        .values;
    let mut variant_scope = Scope::default();
    let variants: Vec<String> = values
        .iter()
        .map(|v| variant_scope.name(names::variant_name(&v.name)))
        .collect();
    let serde_names: Vec<_> = variants
        .iter()
        .zip(values)
        .map(|(v, value)| (names::serde_name_text(v).to_owned(), value.name.as_str()))
        .collect();
    let renames = rename::variants(&serde_names);
    let tag = &u.discriminator;
    t.doc(
        i,
        &format!("The value of `{tag}` in a [`{type_name}`], with the members of its branch."),
    );
    t.opt(i, &cfg);
    t.derive(i, &["Debug", "Clone", "PartialEq", ser, de]);
    let mut args = vec![format!("tag = {}", t.lit(tag))];
    if let Some(rule) = renames.all {
        args.push(format!("rename_all = \"{rule}\""));
    }
    t.attr_list(i, "serde", &args);
    if values.is_empty() {
        line!(t, i, "pub enum {branch_name} {{}}");
        return t.finish();
    }
    line!(t, i, "pub enum {branch_name} {{");
    for ((value, variant), rename) in values.iter().zip(&variants).zip(&renames.each) {
        t.doc(i + 4, &doc::member_rustdoc(value.doc.as_deref()));
        let value_cfg = cx.cfg_text(value.cond.as_ref(), &mut t);
        t.opt(i + 4, &value_cfg);
        let branch = u.branches.iter().find(|b| b.value == value.name);
        if let Some(branch) = branch {
            let branch_cfg = cx.cfg_text(branch.cond.as_ref(), &mut t);
            t.opt(i + 4, &branch_cfg);
        }
        let deprecated = cx.deprecated_text(&value.features, &mut t);
        t.opt(i + 4, &deprecated);
        if let Some(wire) = rename {
            let wire = t.lit(wire);
            line!(t, i + 4, "#[serde(rename = {wire})]");
        }
        match branch {
            Some(branch) => {
                let ty = cx.maybe_boxed_text(
                    &u.common.name,
                    &TypeRef::Named(branch.ty.clone()),
                    names::ident_text(&names::type_name(&branch.ty)),
                );
                line!(t, i + 4, "{variant}({ty}),");
            }
            None => line!(t, i + 4, "{variant},"),
        }
    }
    line!(t, i, "}}");
    t.finish()
}
