//! Flat unions. On the wire a union is one object: the base members, the
//! discriminator among them, and the members of the branch the discriminator
//! selects. In Rust it is a struct of the base members other than the
//! discriminator, plus a field named for the discriminator holding an enum
//! `<Union>Branch`, flattened and tagged by the discriminator: one variant per value
//! of the discriminator's enum, carrying the branch's struct when it has one.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::rename;
use super::structs::{container_serde, fields};
use crate::emit::context::Context;
use crate::emit::doc;
use crate::emit::names::{self, Scope};
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
