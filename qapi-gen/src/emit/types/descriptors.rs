//! Descriptors: per command a unit struct implementing the runtime's `Command`
//! (name, success-response, argument and return types), with a `<Command>Arguments`
//! struct when the arguments are written inline; per event a unit struct with the
//! event's `NAME`, with a `<Event>Data` struct when the data is written inline.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::structs::{
    container_serde, container_serde_text, fields, fields_text, write_struct_body,
};
use crate::emit::context::Context;
use crate::emit::doc;
use crate::emit::names::{self, Scope};
use crate::emit::render::{Piece, Place};
use crate::emit::text::{line, Text};
use crate::model::{Arguments, Command, Common, Event, Member, Schema};

/// `pub mod commands`, unless the schema has no commands.
pub fn commands<'a>(schema: &'a Schema, pieces: &mut Vec<Piece<'a>>) {
    if schema.commands().next().is_none() {
        return;
    }
    pieces.push(Piece::new(Place::Open, |_| {
        quote! {
            /// A descriptor per command, and the argument types of commands whose
            /// arguments are written inline.
            pub mod commands {}
        }
    }));
    let derives: Vec<_> = schema
        .commands()
        .filter(|c| matches!(c.data, Some(Arguments::Inline(_))))
        .map(|c| c.common.cond.as_ref())
        .collect();
    let derives = std::sync::Arc::new(derives);
    let text_derives = derives.clone();
    pieces.push(
        Piece::new(Place::InMod, move |cx| {
            cx.serde_use(derives.iter().copied())
        })
        .or_text(move |cx, indent| {
            let mut t = Text::new();
            cx.serde_use_text(&mut t, indent, text_derives.iter().copied());
            t.finish()
        }),
    );
    for c in schema.commands() {
        pieces.push(
            Piece::new(Place::InMod, move |cx| command(cx, c))
                .or_text(move |cx, indent| command_text(cx, c, indent)),
        );
    }
    pieces.push(Piece::close());
}

/// `pub mod events`, unless the schema has no events.
pub fn events<'a>(schema: &'a Schema, pieces: &mut Vec<Piece<'a>>) {
    if schema.events().next().is_none() {
        return;
    }
    pieces.push(Piece::new(Place::Open, |_| {
        quote! {
            /// A descriptor per event, and the data types of events whose data is
            /// written inline.
            pub mod events {}
        }
    }));
    let derives: Vec<_> = schema
        .events()
        .filter(|e| matches!(e.data, Some(Arguments::Inline(_))))
        .map(|e| e.common.cond.as_ref())
        .collect();
    let derives = std::sync::Arc::new(derives);
    let text_derives = derives.clone();
    pieces.push(
        Piece::new(Place::InMod, move |cx| {
            cx.serde_use(derives.iter().copied())
        })
        .or_text(move |cx, indent| {
            let mut t = Text::new();
            cx.serde_use_text(&mut t, indent, text_derives.iter().copied());
            t.finish()
        }),
    );
    for e in schema.events() {
        pieces.push(
            Piece::new(Place::InMod, move |cx| event(cx, e))
                .or_text(move |cx, indent| event_text(cx, e, indent)),
        );
    }
    pieces.push(Piece::close());
}

/// A struct of inline members: a command's arguments, which refuse unknown members
/// as QEMU does (`strict`), or an event's data, which a client reads and which a
/// later agent may extend.
fn inline_struct(
    cx: &Context<'_>,
    name: &proc_macro2::Ident,
    common: &Common,
    members: &[Member],
    what: &str,
    strict: bool,
) -> TokenStream {
    let up = quote! { super:: };
    let members: Vec<&Member> = members.iter().collect();
    let fields = fields(cx, &common.name, &members, &up, &mut Scope::default());
    let serde = container_serde(fields.rename_all, strict);
    let body = fields.tokens;
    let descriptor = names::type_name(&common.name);
    let doc = cx.doc(format!(
        "The {what} of [`{descriptor}`] (`{}`).",
        common.name
    ));
    let cfg = cx.cfg(common.cond.as_ref());
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

fn command(cx: &Context<'_>, c: &Command) -> TokenStream {
    let type_name = names::type_name(&c.common.name);
    let name = names::ident(&type_name);
    let doc = cx.doc(doc::rustdoc(c.common.doc.as_ref(), &doc::command_notes(c)));
    let cfg = cx.cfg(c.common.cond.as_ref());
    let deprecated = cx.deprecated(&c.common.features);
    let allow = (!deprecated.is_empty()).then(|| quote! { #[allow(deprecated)] });
    let runtime = cx.runtime();
    let up = quote! { super:: };
    let (arguments, arguments_item) = match &c.data {
        None => (quote! { #runtime::Empty }, TokenStream::new()),
        Some(Arguments::Named(n)) => (
            cx.rust_type(&crate::model::TypeRef::Named(n.clone()), &up),
            TokenStream::new(),
        ),
        Some(Arguments::Inline(members)) => {
            let arguments = format_ident!("{type_name}Arguments");
            let item = inline_struct(cx, &arguments, &c.common, members, "arguments", true);
            (quote! { #arguments }, item)
        }
    };
    let returns = match &c.returns {
        Some(ty) => cx.rust_type(ty, &up),
        None => quote! { #runtime::Empty },
    };
    let wire = &c.common.name;
    let success = c.success_response;
    quote! {
        #doc
        #cfg
        #deprecated
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        pub struct #name;

        #cfg
        #allow
        impl #runtime::Command for #name {
            const NAME: &'static str = #wire;
            const SUCCESS_RESPONSE: bool = #success;
            type Arguments = #arguments;
            type Returns = #returns;
        }

        #arguments_item
    }
}

fn event(cx: &Context<'_>, e: &Event) -> TokenStream {
    // Event names are written in capitals: `SHUTDOWN` → `Shutdown`.
    let type_name = names::type_name(&e.common.name);
    let name = names::ident(&type_name);
    let (data_note, data_item) = match &e.data {
        None => (None, TokenStream::new()),
        Some(Arguments::Named(n)) => (
            Some(format!("Its data: [`super::{}`].", names::type_name(n))),
            TokenStream::new(),
        ),
        Some(Arguments::Inline(members)) => {
            let data = format_ident!("{type_name}Data");
            let item = inline_struct(cx, &data, &e.common, members, "data", false);
            (Some(format!("Its data: [`{data}`].")), item)
        }
    };
    let doc = cx.doc(doc::rustdoc(
        e.common.doc.as_ref(),
        &Vec::from_iter(data_note),
    ));
    let cfg = cx.cfg(e.common.cond.as_ref());
    let deprecated = cx.deprecated(&e.common.features);
    let allow = (!deprecated.is_empty()).then(|| quote! { #[allow(deprecated)] });
    let wire = &e.common.name;
    quote! {
        #doc
        #cfg
        #deprecated
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        pub struct #name;

        #cfg
        #allow
        impl #name {
            /// The event's name on the wire.
            pub const NAME: &'static str = #wire;
        }

        #data_item
    }
}

/// [`inline_struct`] as text: `<Command>Arguments`, strict, for `what` =
/// "arguments", `<Event>Data` for "data".
fn inline_struct_text(
    cx: &Context<'_>,
    t: &mut Text,
    indent: usize,
    common: &Common,
    members: &[Member],
    what: &str,
) {
    let strict = what == "arguments";
    let suffix = if strict { "Arguments" } else { "Data" };
    let name = format!("{}{suffix}", names::type_name(&common.name));
    let members: Vec<&Member> = members.iter().collect();
    let (rename_all, fields) = fields_text(
        cx,
        t,
        &common.name,
        &members,
        "super::",
        &mut Scope::default(),
    );
    let descriptor = names::type_name(&common.name);
    t.doc(
        indent,
        &format!("The {what} of [`{descriptor}`] (`{}`).", common.name),
    );
    let cfg = cx.cfg_text(common.cond.as_ref(), t);
    t.opt(indent, &cfg);
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
    container_serde_text(t, indent, rename_all, strict);
    write_struct_body(t, indent, &name, &fields);
}

/// [`command`] as text.
fn command_text(cx: &Context<'_>, c: &Command, indent: usize) -> Option<String> {
    let i = indent;
    let mut t = Text::new();
    let type_name = names::type_name(&c.common.name);
    let name = names::ident_text(&type_name);
    let cfg = cx.cfg_text(c.common.cond.as_ref(), &mut t);
    let deprecated = cx.deprecated_text(&c.common.features, &mut t);
    let runtime = cx.runtime_text();
    let arguments = match &c.data {
        None => format!("{runtime}::Empty"),
        Some(Arguments::Named(n)) => {
            cx.rust_type_text(&crate::model::TypeRef::Named(n.clone()), "super::")
        }
        Some(Arguments::Inline(_)) => format!("{type_name}Arguments"),
    };
    let returns = match &c.returns {
        Some(ty) => cx.rust_type_text(ty, "super::"),
        None => format!("{runtime}::Empty"),
    };
    t.doc(
        i,
        &doc::rustdoc(c.common.doc.as_ref(), &doc::command_notes(c)),
    );
    t.opt(i, &cfg);
    t.opt(i, &deprecated);
    line!(
        t,
        i,
        "#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]"
    );
    line!(t, i, "pub struct {name};");
    t.opt(i, &cfg);
    if !deprecated.is_empty() {
        line!(t, i, "#[allow(deprecated)]");
    }
    line!(t, i, "impl {runtime}::Command for {name} {{");
    let wire = t.lit(&c.common.name);
    line!(t, i + 4, "const NAME: &'static str = {wire};");
    line!(
        t,
        i + 4,
        "const SUCCESS_RESPONSE: bool = {};",
        c.success_response
    );
    line!(t, i + 4, "type Arguments = {arguments};");
    line!(t, i + 4, "type Returns = {returns};");
    line!(t, i, "}}");
    if let Some(Arguments::Inline(members)) = &c.data {
        inline_struct_text(cx, &mut t, i, &c.common, members, "arguments");
    }
    t.finish()
}

/// [`event`] as text.
fn event_text(cx: &Context<'_>, e: &Event, indent: usize) -> Option<String> {
    let i = indent;
    let mut t = Text::new();
    let type_name = names::type_name(&e.common.name);
    let name = names::ident_text(&type_name);
    let data_note = match &e.data {
        None => None,
        Some(Arguments::Named(n)) => Some(format!("Its data: [`super::{}`].", names::type_name(n))),
        Some(Arguments::Inline(_)) => Some(format!("Its data: [`{type_name}Data`].")),
    };
    let cfg = cx.cfg_text(e.common.cond.as_ref(), &mut t);
    let deprecated = cx.deprecated_text(&e.common.features, &mut t);
    t.doc(
        i,
        &doc::rustdoc(e.common.doc.as_ref(), &Vec::from_iter(data_note)),
    );
    t.opt(i, &cfg);
    t.opt(i, &deprecated);
    line!(
        t,
        i,
        "#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]"
    );
    line!(t, i, "pub struct {name};");
    t.opt(i, &cfg);
    if !deprecated.is_empty() {
        line!(t, i, "#[allow(deprecated)]");
    }
    line!(t, i, "impl {name} {{");
    line!(t, i + 4, "/// The event's name on the wire.");
    let wire = t.lit(&e.common.name);
    line!(t, i + 4, "pub const NAME: &'static str = {wire};");
    line!(t, i, "}}");
    if let Some(Arguments::Inline(members)) = &e.data {
        inline_struct_text(cx, &mut t, i, &e.common, members, "data");
    }
    t.finish()
}
