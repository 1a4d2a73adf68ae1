//! Descriptors: per command a unit struct implementing the runtime's `Command`
//! (name, success-response, argument and return types), with a `<Command>Arguments`
//! struct when the arguments are written inline; per event a unit struct with the
//! event's `NAME`, with a `<Event>Data` struct when the data is written inline.

use std::sync::Arc;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::structs::{
    container_serde, container_serde_text, fields, fields_text, write_struct_body,
};
use crate::emit::context::Context;
use crate::emit::doc;
use crate::emit::names::{self, Scope};
use crate::emit::render::{Piece, Place};
use crate::emit::text::{line, Text};
use crate::model::{Arguments, Command, Common, Event, Member, Schema, TypeRef};

/// `pub mod commands`, unless the schema has no commands.
pub fn commands<'a>(schema: &'a Schema, pieces: &mut Vec<Piece<'a>>) {
    module(schema.commands().collect(), pieces);
}

/// `pub mod events`, unless the schema has no events.
pub fn events<'a>(schema: &'a Schema, pieces: &mut Vec<Piece<'a>>) {
    module(schema.events().collect(), pieces);
}

/// A command or an event, as its module and its inline struct see it.
trait Descriptor: Sync {
    /// What follows the descriptor's name in the name of the struct of its inline
    /// members (`<Command>Arguments`, `<Event>Data`); in lower case, what that
    /// struct's doc says it holds.
    const INLINE: &'static str;
    /// Whether that struct refuses members it does not know: a command's arguments
    /// do, as QEMU's do; an event's data, which a client reads and which a later
    /// agent may extend, does not.
    const STRICT: bool;

    /// The module's head: its doc and `pub mod name {}`.
    fn head() -> TokenStream;
    /// The name, `if`, features and doc.
    fn common(&self) -> &Common;
    /// A command's arguments or an event's data.
    fn data(&self) -> Option<&Arguments>;
    /// The descriptor, then the struct of its inline members if it has one.
    fn item(&self, cx: &Context<'_>) -> TokenStream;
    /// [`Descriptor::item`] as text.
    fn text(&self, cx: &Context<'_>, indent: usize) -> Option<String>;

    /// The members, when they are written inline.
    fn inline(&self) -> Option<&[Member]> {
        match self.data() {
            Some(Arguments::Inline(members)) => Some(members),
            _ => None,
        }
    }

    /// The name of the struct of the inline members.
    fn inline_name(&self) -> String {
        format!("{}{}", names::type_name(&self.common().name), Self::INLINE)
    }
}

impl Descriptor for Command {
    const INLINE: &'static str = "Arguments";
    const STRICT: bool = true;

    fn head() -> TokenStream {
        quote! {
            /// A descriptor per command, and the argument types of commands whose
            /// arguments are written inline.
            pub mod commands {}
        }
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn data(&self) -> Option<&Arguments> {
        self.data.as_ref()
    }

    fn item(&self, cx: &Context<'_>) -> TokenStream {
        command(cx, self)
    }

    fn text(&self, cx: &Context<'_>, indent: usize) -> Option<String> {
        command_text(cx, self, indent)
    }
}

impl Descriptor for Event {
    const INLINE: &'static str = "Data";
    const STRICT: bool = false;

    fn head() -> TokenStream {
        quote! {
            /// A descriptor per event, and the data types of events whose data is
            /// written inline.
            pub mod events {}
        }
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn data(&self) -> Option<&Arguments> {
        self.data.as_ref()
    }

    fn item(&self, cx: &Context<'_>) -> TokenStream {
        event(cx, self)
    }

    fn text(&self, cx: &Context<'_>, indent: usize) -> Option<String> {
        event_text(cx, self, indent)
    }
}

/// The module of the commands' or the events' descriptors, unless there are none:
/// its head, the serde import (under the `cfg`s of the inline structs, which are
/// the module's only users of serde), a piece per descriptor, and the closing brace.
fn module<'a, D: Descriptor>(descriptors: Vec<&'a D>, pieces: &mut Vec<Piece<'a>>) {
    if descriptors.is_empty() {
        return;
    }
    pieces.push(Piece::new(Place::Open, |_| D::head()));
    let derives: Vec<_> = descriptors
        .iter()
        .filter(|d| d.inline().is_some())
        .map(|d| d.common().cond.as_ref())
        .collect();
    let derives = Arc::new(derives);
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
    for d in descriptors {
        pieces.push(
            Piece::new(Place::InMod, move |cx| d.item(cx))
                .or_text(move |cx, indent| d.text(cx, indent)),
        );
    }
    pieces.push(Piece::close());
}

/// The struct of a descriptor's inline members, or nothing when it has none.
fn inline_struct<D: Descriptor>(cx: &Context<'_>, d: &D) -> TokenStream {
    let Some(members) = d.inline() else {
        return TokenStream::new();
    };
    let common = d.common();
    let name = format_ident!("{}", d.inline_name());
    let up = quote! { super:: };
    let members: Vec<&Member> = members.iter().collect();
    let fields = fields(cx, &common.name, &members, &up, &mut Scope::default());
    let serde = container_serde(fields.rename_all, D::STRICT);
    let body = fields.tokens;
    let doc = cx.doc(inline_doc(d));
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

/// The doc of the struct of a descriptor's inline members.
fn inline_doc<D: Descriptor>(d: &D) -> String {
    let common = d.common();
    format!(
        "The {} of [`{}`] (`{}`).",
        D::INLINE.to_lowercase(),
        names::type_name(&common.name),
        common.name
    )
}

/// A descriptor's unit struct, then `imp`, its `impl`, under the same `cfg` and
/// allowed to name the struct when the struct is deprecated.
fn unit_struct(
    cx: &Context<'_>,
    common: &Common,
    name: &Ident,
    doc: String,
    imp: TokenStream,
) -> TokenStream {
    let doc = cx.doc(doc);
    let cfg = cx.cfg(common.cond.as_ref());
    let deprecated = cx.deprecated(&common.features);
    let allow = (!deprecated.is_empty()).then(|| quote! { #[allow(deprecated)] });
    quote! {
        #doc
        #cfg
        #deprecated
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        pub struct #name;

        #cfg
        #allow
        #imp
    }
}

/// A command's descriptor: its unit struct implementing the runtime's `Command`,
/// then the struct of its arguments if they are written inline.
fn command(cx: &Context<'_>, c: &Command) -> TokenStream {
    let name = names::ident(&names::type_name(&c.common.name));
    let runtime = cx.runtime();
    let up = quote! { super:: };
    let arguments = match &c.data {
        None => quote! { #runtime::Empty },
        Some(Arguments::Named(n)) => cx.rust_type(&TypeRef::Named(n.clone()), &up),
        Some(Arguments::Inline(_)) => {
            let arguments = format_ident!("{}", c.inline_name());
            quote! { #arguments }
        }
    };
    let returns = match &c.returns {
        Some(ty) => cx.rust_type(ty, &up),
        None => quote! { #runtime::Empty },
    };
    let wire = &c.common.name;
    let success = c.success_response;
    let doc = doc::rustdoc(c.common.doc.as_ref(), &doc::command_notes(c));
    let descriptor = unit_struct(
        cx,
        &c.common,
        &name,
        doc,
        quote! {
            impl #runtime::Command for #name {
                const NAME: &'static str = #wire;
                const SUCCESS_RESPONSE: bool = #success;
                type Arguments = #arguments;
                type Returns = #returns;
            }
        },
    );
    let arguments_item = inline_struct(cx, c);
    quote! {
        #descriptor

        #arguments_item
    }
}

/// An event's descriptor: its unit struct with the event's `NAME`, then the struct
/// of its data if it is written inline.
fn event(cx: &Context<'_>, e: &Event) -> TokenStream {
    // Event names are written in capitals: `SHUTDOWN` → `Shutdown`.
    let name = names::ident(&names::type_name(&e.common.name));
    let wire = &e.common.name;
    let descriptor = unit_struct(
        cx,
        &e.common,
        &name,
        event_doc(e),
        quote! {
            impl #name {
                /// The event's name on the wire.
                pub const NAME: &'static str = #wire;
            }
        },
    );
    let data_item = inline_struct(cx, e);
    quote! {
        #descriptor

        #data_item
    }
}

/// An event's doc, with a note naming the type of its data if it has data.
fn event_doc(e: &Event) -> String {
    let data_note = match &e.data {
        None => None,
        Some(Arguments::Named(n)) => Some(format!("Its data: [`super::{}`].", names::type_name(n))),
        Some(Arguments::Inline(_)) => Some(format!("Its data: [`{}`].", e.inline_name())),
    };
    doc::rustdoc(e.common.doc.as_ref(), &Vec::from_iter(data_note))
}

/// [`inline_struct`] as text.
fn inline_struct_text<D: Descriptor>(cx: &Context<'_>, t: &mut Text, indent: usize, d: &D) {
    let Some(members) = d.inline() else {
        return;
    };
    let common = d.common();
    let members: Vec<&Member> = members.iter().collect();
    let (rename_all, fields) = fields_text(
        cx,
        t,
        &common.name,
        &members,
        "super::",
        &mut Scope::default(),
    );
    t.doc(indent, &inline_doc(d));
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
    container_serde_text(t, indent, rename_all, D::STRICT);
    write_struct_body(t, indent, &d.inline_name(), &fields);
}

/// [`unit_struct`] as text, up to the `impl`, whose lines the caller writes: the
/// struct, then the attributes of the `impl`.
fn unit_struct_text(cx: &Context<'_>, t: &mut Text, i: usize, common: &Common, doc: &str) {
    let name = names::ident_text(&names::type_name(&common.name));
    let cfg = cx.cfg_text(common.cond.as_ref(), t);
    let deprecated = cx.deprecated_text(&common.features, t);
    t.doc(i, doc);
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
}

/// [`command`] as text.
fn command_text(cx: &Context<'_>, c: &Command, indent: usize) -> Option<String> {
    let i = indent;
    let mut t = Text::new();
    let name = names::ident_text(&names::type_name(&c.common.name));
    let runtime = cx.runtime_text();
    let arguments = match &c.data {
        None => format!("{runtime}::Empty"),
        Some(Arguments::Named(n)) => cx.rust_type_text(&TypeRef::Named(n.clone()), "super::"),
        Some(Arguments::Inline(_)) => c.inline_name(),
    };
    let returns = match &c.returns {
        Some(ty) => cx.rust_type_text(ty, "super::"),
        None => format!("{runtime}::Empty"),
    };
    let doc = doc::rustdoc(c.common.doc.as_ref(), &doc::command_notes(c));
    unit_struct_text(cx, &mut t, i, &c.common, &doc);
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
    inline_struct_text(cx, &mut t, i, c);
    t.finish()
}

/// [`event`] as text.
fn event_text(cx: &Context<'_>, e: &Event, indent: usize) -> Option<String> {
    let i = indent;
    let mut t = Text::new();
    let name = names::ident_text(&names::type_name(&e.common.name));
    unit_struct_text(cx, &mut t, i, &e.common, &event_doc(e));
    line!(t, i, "impl {name} {{");
    line!(t, i + 4, "/// The event's name on the wire.");
    let wire = t.lit(&e.common.name);
    line!(t, i + 4, "pub const NAME: &'static str = {wire};");
    line!(t, i, "}}");
    inline_struct_text(cx, &mut t, i, e);
    t.finish()
}
