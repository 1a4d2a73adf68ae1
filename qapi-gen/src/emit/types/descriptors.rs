//! Descriptors: per command a unit struct implementing the runtime's `Command`
//! (name, success-response, argument and return types), with a `<Command>Arguments`
//! struct when the arguments are written inline; per event a unit struct with the
//! event's `NAME`, with a `<Event>Data` struct when the data is written inline.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::structs::{container_serde, fields};
use crate::emit::context::Context;
use crate::emit::doc;
use crate::emit::names::{self, Scope};
use crate::emit::render::{Piece, Place};
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
    pieces.push(Piece::new(Place::InMod, move |cx| {
        cx.serde_use(derives.iter().copied())
    }));
    for c in schema.commands() {
        pieces.push(Piece::new(Place::InMod, move |cx| command(cx, c)));
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
    pieces.push(Piece::new(Place::InMod, move |cx| {
        cx.serde_use(derives.iter().copied())
    }));
    for e in schema.events() {
        pieces.push(Piece::new(Place::InMod, move |cx| event(cx, e)));
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
