//! The dispatch backend: a `Handler` trait with a method per command, the command
//! table, and the function that routes a request to its method.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::common::{cfg_attr, doc_for, rust_type};
use super::names;
use super::Options;
use crate::model::{Arguments, Command, Schema, TypeRef};

/// The whole dispatch file.
pub fn dispatch(schema: &Schema, options: &Options) -> TokenStream {
    let commands: Vec<&Command> = schema.commands().filter(|c| c.gen).collect();
    let types = options.types();
    let methods = commands.iter().map(|c| method(schema, &types, c));
    let table = commands.iter().map(|c| {
        let name = &c.common.name;
        let success = c.success_response;
        let cfg = cfg_attr(c.common.cond.as_ref());
        quote! { #cfg crate::CommandInfo { name: #name, success_response: #success }, }
    });
    let arms = commands.iter().map(|c| arm(c));
    quote! {
        /// What an agent implements: one method per command of the schema.
        pub trait Handler {
            #(#methods)*
        }

        /// Every command, in schema order, with whether it answers on success.
        pub const COMMANDS: &[crate::CommandInfo] = &[#(#table)*];

        /// Runs command `name` on `handler` with its arguments parsed as the schema
        /// says; the reply is the serialized return value.
        #[allow(deprecated)]
        pub fn dispatch<H: Handler + ?Sized>(
            handler: &mut H,
            name: &str,
            arguments: crate::Arguments<'_>,
        ) -> Result<crate::Reply, crate::Error> {
            match name {
                #(#arms)*
                _ => Err(crate::Error::command_not_found(name)),
            }
        }
    }
}

fn method(schema: &Schema, types: &TokenStream, c: &Command) -> TokenStream {
    let name = names::ident(&names::snake_name(&c.common.name));
    let doc = doc_for(c.common.doc.as_ref());
    let cfg = cfg_attr(c.common.cond.as_ref());
    let deprecated = if c.common.has_feature("deprecated") { quote! { #[deprecated] } } else { TokenStream::new() };
    let prefix = quote! { #types :: };
    let returns = match &c.returns {
        Some(ty) => rust_type(schema, ty, &prefix),
        None => quote! { () },
    };
    let arguments = match &c.data {
        None => TokenStream::new(),
        Some(Arguments::Named(n)) => {
            let ty = rust_type(schema, &TypeRef::Named(n.clone()), &prefix);
            quote! { , arguments: #ty }
        }
        Some(Arguments::Inline(_)) => {
            let ty = format_ident!("{}Arguments", names::type_name(&c.common.name));
            quote! { , arguments: #types::commands::#ty }
        }
    };
    quote! {
        #doc
        #cfg
        #deprecated
        fn #name(&mut self #arguments) -> Result<#returns, crate::Error>;
    }
}

fn arm(c: &Command) -> TokenStream {
    let wire = &c.common.name;
    let name = names::ident(&names::snake_name(wire));
    let cfg = cfg_attr(c.common.cond.as_ref());
    let call = match &c.data {
        None => quote! { { arguments.empty()?; handler.#name()? } },
        Some(_) => quote! { handler.#name(arguments.parse()?)? },
    };
    let reply = match &c.returns {
        Some(_) => quote! { crate::Reply::new(&#call) },
        None => quote! { { #call; Ok(crate::Reply::empty()) } },
    };
    quote! { #cfg #wire => #reply, }
}
