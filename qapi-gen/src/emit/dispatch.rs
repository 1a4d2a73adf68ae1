//! The dispatch backend: a `Handler` trait with a method per command, the command
//! table `COMMANDS`, and `dispatch`, which routes a request to its method. Commands
//! with `'gen': false` are left out: their server side is written by hand.
//!
//! The code refers to the runtime of the crate it lands in (`crate::Error`,
//! `crate::CommandInfo`, `crate::Arguments`, `crate::Reply`) and to the generated
//! types through `Options::types`; docs/CONVENTIONS.md has the contract.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::context::{Context, Std};
use super::doc;
use super::names;
use super::render::{Piece, Place};
use super::text::{line, Text, MARGIN};
use crate::model::{Arguments, Command, Schema, TypeRef};

/// The whole dispatch file, as pieces: the trait, a piece per method, then the table
/// and the function.
pub fn pieces(schema: &Schema) -> Vec<Piece<'_>> {
    let commands: Vec<&Command> = schema.commands().filter(|c| c.gen).collect();
    let mut pieces = vec![Piece::new(Place::Open, |_| {
        quote! {
            /// What an agent implements: a method per command of the schema, called with
            /// the command's parsed arguments.
            pub trait Handler {}
        }
    })];
    for &c in &commands {
        pieces.push(
            Piece::new(Place::InTrait, move |cx| method(cx, c))
                .or_text(move |cx, indent| method_text(cx, c, indent)),
        );
    }
    pieces.push(Piece::close());
    let commands = std::sync::Arc::new(commands);
    let weight = commands.len();
    let table = commands.clone();
    let text_table = commands.clone();
    pieces.push(
        Piece::weighing(Place::Top, weight / 4, move |cx| commands_table(cx, &table))
            .or_text(move |cx, indent| commands_table_text(cx, &text_table, indent)),
    );
    let text_commands = commands.clone();
    pieces.push(
        Piece::weighing(Place::Top, weight, move |cx| dispatch_fn(cx, &commands))
            .or_text(move |cx, indent| dispatch_fn_text(cx, &text_commands, indent)),
    );
    pieces
}

/// `COMMANDS`.
fn commands_table(cx: &Context<'_>, commands: &[&Command]) -> TokenStream {
    let table = commands.iter().map(|c| {
        let name = &c.common.name;
        let success = c.success_response;
        let cfg = cx.cfg(c.common.cond.as_ref());
        quote! { #cfg crate::CommandInfo { name: #name, success_response: #success } }
    });
    quote! {
        /// Every command, in schema order, with whether it answers on success.
        pub const COMMANDS: &[crate::CommandInfo] = &[#(#table),*];
    }
}

/// `dispatch`.
fn dispatch_fn(cx: &Context<'_>, commands: &[&Command]) -> TokenStream {
    let arms = commands.iter().map(|c| arm(cx, c));
    let result = cx.std(Std::Result);
    // Calling a deprecated command's method is what dispatching it means.
    let deprecated = commands
        .iter()
        .any(|c| !cx.deprecated(&c.common.features).is_empty());
    let allow = deprecated.then(|| quote! { #[allow(deprecated)] });
    quote! {
        /// Runs command `name` on `handler` with its arguments parsed as the schema
        /// says; the reply holds the serialized return value.
        #allow
        pub fn dispatch<H: Handler + ?Sized>(
            handler: &mut H,
            name: &str,
            arguments: crate::Arguments<'_>,
        ) -> #result<crate::Reply, crate::Error> {
            match name {
                #(#arms)*
                _ => Err(crate::Error::command_not_found(name)),
            }
        }
    }
}

fn method(cx: &Context<'_>, c: &Command) -> TokenStream {
    let name = names::ident(&names::method_name(&c.common.name));
    let doc = cx.doc(doc::rustdoc(c.common.doc.as_ref(), &doc::command_notes(c)));
    let cfg = cx.cfg(c.common.cond.as_ref());
    let deprecated = cx.deprecated(&c.common.features);
    let types = cx.types();
    let prefix = quote! { #types:: };
    let result = cx.std(Std::Result);
    let returns = match &c.returns {
        Some(ty) => cx.rust_type(ty, &prefix),
        None => quote! { () },
    };
    let arguments = match &c.data {
        None => TokenStream::new(),
        Some(Arguments::Named(n)) => {
            let ty = cx.rust_type(&TypeRef::Named(n.clone()), &prefix);
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
        fn #name(&mut self #arguments) -> #result<#returns, crate::Error>;
    }
}

fn arm(cx: &Context<'_>, c: &Command) -> TokenStream {
    let wire = &c.common.name;
    let name = names::ident(&names::method_name(wire));
    let cfg = cx.cfg(c.common.cond.as_ref());
    match (&c.data, &c.returns) {
        (Some(_), Some(_)) => quote! {
            #cfg
            #wire => crate::Reply::new(&handler.#name(arguments.parse()?)?),
        },
        (Some(_), None) => quote! {
            #cfg
            #wire => {
                handler.#name(arguments.parse()?)?;
                Ok(crate::Reply::empty())
            }
        },
        (None, Some(_)) => quote! {
            #cfg
            #wire => {
                arguments.empty()?;
                crate::Reply::new(&handler.#name()?)
            }
        },
        (None, None) => quote! {
            #cfg
            #wire => {
                arguments.empty()?;
                handler.#name()?;
                Ok(crate::Reply::empty())
            }
        },
    }
}

/// [`commands_table`] as text.
fn commands_table_text(cx: &Context<'_>, commands: &[&Command], indent: usize) -> Option<String> {
    let i = indent;
    let mut t = Text::new();
    line!(
        t,
        i,
        "/// Every command, in schema order, with whether it answers on success."
    );
    if commands.is_empty() {
        line!(t, i, "pub const COMMANDS: &[crate::CommandInfo] = &[];");
        return t.finish();
    }
    line!(t, i, "pub const COMMANDS: &[crate::CommandInfo] = &[");
    for c in commands {
        let cfg = cx.cfg_text(c.common.cond.as_ref(), &mut t);
        t.opt(i + 4, &cfg);
        line!(t, i + 4, "crate::CommandInfo {{");
        let name = t.lit(&c.common.name);
        line!(t, i + 8, "name: {name},");
        line!(t, i + 8, "success_response: {},", c.success_response);
        line!(t, i + 4, "}},");
    }
    line!(t, i, "];");
    t.finish()
}

/// [`dispatch_fn`] as text.
fn dispatch_fn_text(cx: &Context<'_>, commands: &[&Command], indent: usize) -> Option<String> {
    let i = indent;
    let mut t = Text::new();
    let result = cx.std_text(Std::Result);
    line!(
        t,
        i,
        "/// Runs command `name` on `handler` with its arguments parsed as the schema"
    );
    line!(
        t,
        i,
        "/// says; the reply holds the serialized return value."
    );
    if commands
        .iter()
        .any(|c| c.common.features.iter().any(|f| f.name == "deprecated"))
    {
        line!(t, i, "#[allow(deprecated)]");
    }
    t.signature(
        i,
        "pub fn dispatch<H: Handler + ?Sized>",
        &[
            "handler: &mut H",
            "name: &str",
            "arguments: crate::Arguments<'_>",
        ],
        &format!(" -> {result}<crate::Reply, crate::Error> {{"),
    );
    let a = i + 8;
    line!(t, i + 4, "match name {{");
    for c in commands {
        let wire = t.lit(&c.common.name);
        let name = names::ident_text(&names::method_name(&c.common.name));
        let cfg = cx.cfg_text(c.common.cond.as_ref(), &mut t);
        t.opt(a, &cfg);
        match (&c.data, &c.returns) {
            (Some(_), Some(_)) => {
                let call = format!("crate::Reply::new(&handler.{name}(arguments.parse()?)?)");
                // The comma after the arm may run past the margin.
                if a + wire.len() + 4 + call.len() <= MARGIN {
                    t.line_then(a, format_args!("{wire} => {call}"), ",");
                } else {
                    line!(t, a, "{wire} => {{");
                    line!(t, a + 4, "{call}");
                    line!(t, a, "}}");
                }
            }
            (Some(_), None) => {
                line!(t, a, "{wire} => {{");
                line!(t, a + 4, "handler.{name}(arguments.parse()?)?;");
                line!(t, a + 4, "Ok(crate::Reply::empty())");
                line!(t, a, "}}");
            }
            (None, Some(_)) => {
                line!(t, a, "{wire} => {{");
                line!(t, a + 4, "arguments.empty()?;");
                line!(t, a + 4, "crate::Reply::new(&handler.{name}()?)");
                line!(t, a, "}}");
            }
            (None, None) => {
                line!(t, a, "{wire} => {{");
                line!(t, a + 4, "arguments.empty()?;");
                line!(t, a + 4, "handler.{name}()?;");
                line!(t, a + 4, "Ok(crate::Reply::empty())");
                line!(t, a, "}}");
            }
        }
    }
    line!(t, a, "_ => Err(crate::Error::command_not_found(name)),");
    line!(t, i + 4, "}}");
    line!(t, i, "}}");
    t.finish()
}

/// [`method`] as text.
fn method_text(cx: &Context<'_>, c: &Command, indent: usize) -> Option<String> {
    let i = indent;
    let mut t = Text::new();
    let types = cx.types_text();
    if types.is_empty() {
        return None;
    }
    let prefix = format!("{types}::");
    let name = names::ident_text(&names::method_name(&c.common.name));
    let result = cx.std_text(Std::Result);
    let returns = match &c.returns {
        Some(ty) => cx.rust_type_text(ty, &prefix),
        None => "()".to_owned(),
    };
    let arguments = match &c.data {
        None => None,
        Some(Arguments::Named(n)) => Some(format!(
            "arguments: {}",
            cx.rust_type_text(&TypeRef::Named(n.clone()), &prefix)
        )),
        Some(Arguments::Inline(_)) => Some(format!(
            "arguments: {types}::commands::{}Arguments",
            names::type_name(&c.common.name)
        )),
    };
    t.doc(
        i,
        &doc::rustdoc(c.common.doc.as_ref(), &doc::command_notes(c)),
    );
    let cfg = cx.cfg_text(c.common.cond.as_ref(), &mut t);
    t.opt(i, &cfg);
    let deprecated = cx.deprecated_text(&c.common.features, &mut t);
    t.opt(i, &deprecated);
    let mut params = vec!["&mut self"];
    params.extend(arguments.as_deref());
    t.signature(
        i,
        &format!("fn {name}"),
        &params,
        &format!(" -> {result}<{returns}, crate::Error>;"),
    );
    t.finish()
}
