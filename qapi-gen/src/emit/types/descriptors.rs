//! Descriptors: per command a unit struct implementing the runtime's `Command`
//! (name, success-response, argument and return types), with a `<Command>Arguments`
//! struct when the arguments are written inline; per event a unit struct with the
//! event's `NAME`, with a `<Event>Data` struct when the data is written inline.

use super::structs::{data_struct, fields};
use crate::emit::context::Context;
use crate::emit::doc;
use crate::emit::names::{self, Scope};
use crate::emit::render::{Piece, Place};
use crate::emit::shape::{Attrs, Const, Container, Expr, Item, Struct};
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
    /// The module's name, and its doc.
    const MODULE: (&'static str, &'static str);

    /// The name, `if`, features and doc.
    fn common(&self) -> &Common;
    /// A command's arguments or an event's data.
    fn data(&self) -> Option<&Arguments>;
    /// The descriptor, then the struct of its inline members if it has one.
    fn items<'a>(&'a self, cx: &Context<'a>) -> Vec<Item<'a>>;

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
    const MODULE: (&'static str, &'static str) = (
        "commands",
        "A descriptor per command, and the argument types of commands whose\n\
         arguments are written inline.",
    );

    fn common(&self) -> &Common {
        &self.common
    }

    fn data(&self) -> Option<&Arguments> {
        self.data.as_ref()
    }

    fn items<'a>(&'a self, cx: &Context<'a>) -> Vec<Item<'a>> {
        command(cx, self)
    }
}

impl Descriptor for Event {
    const INLINE: &'static str = "Data";
    const STRICT: bool = false;
    const MODULE: (&'static str, &'static str) = (
        "events",
        "A descriptor per event, and the data types of events whose data is\n\
         written inline.",
    );

    fn common(&self) -> &Common {
        &self.common
    }

    fn data(&self) -> Option<&Arguments> {
        self.data.as_ref()
    }

    fn items<'a>(&'a self, cx: &Context<'a>) -> Vec<Item<'a>> {
        event(cx, self)
    }
}

/// The module of the commands' or the events' descriptors, unless there are none:
/// its head, the serde import (under the `cfg`s of the inline structs, which are
/// the module's only users of serde), then a piece per descriptor.
fn module<'a, D: Descriptor>(descriptors: Vec<&'a D>, pieces: &mut Vec<Piece<'a>>) {
    if descriptors.is_empty() {
        return;
    }
    pieces.push(Piece::new(Place::Open, |_| {
        let (name, doc) = D::MODULE;
        vec![Item::Mod(Container::new(
            Attrs::doc(doc.to_owned()),
            format!("pub mod {name}"),
            [],
        ))]
    }));
    let derives: Vec<_> = descriptors
        .iter()
        .filter(|d| d.inline().is_some())
        .map(|d| d.common().cond.as_ref())
        .collect();
    pieces.push(Piece::new(Place::InMod, move |cx| {
        Vec::from_iter(cx.serde_use(derives.iter().copied()))
    }));
    for d in descriptors {
        pieces.push(Piece::new(Place::InMod, move |cx| d.items(cx)));
    }
}

/// The struct of a descriptor's inline members, if it has them.
fn inline_struct<'a, D: Descriptor>(cx: &Context<'a>, d: &'a D) -> Option<Item<'a>> {
    let members: Vec<&Member> = d.inline()?.iter().collect();
    let common = d.common();
    let fields = fields(cx, &common.name, &members, "super::", &mut Scope::default());
    let doc = format!(
        "The {} of [`{}`] (`{}`).",
        D::INLINE.to_lowercase(),
        names::type_name(&common.name),
        common.name
    );
    let attrs = Attrs::doc(doc).cfg(common.cond.as_ref());
    Some(data_struct(cx, attrs, d.inline_name(), fields, D::STRICT))
}

/// A descriptor's unit struct, its impl (`head` and `items`) under the same `cfg`
/// and allowed to name the struct when the struct is deprecated, then the struct of
/// its inline members.
fn descriptor<'a, D: Descriptor>(
    cx: &Context<'a>,
    d: &'a D,
    doc: String,
    head: String,
    items: Vec<Item<'a>>,
) -> Vec<Item<'a>> {
    let common = d.common();
    let cond = common.cond.as_ref();
    let attrs = Attrs::doc(doc)
        .cfg(cond)
        .deprecated(&common.features)
        .derive(
            &[
                "Debug",
                "Clone",
                "Copy",
                "Default",
                "PartialEq",
                "Eq",
                "Hash",
            ],
            &[],
        );
    let allow = attrs.deprecates();
    let unit = Struct {
        attrs,
        public: true,
        name: names::ident(&names::type_name(&common.name)),
        fields: None,
    };
    let imp = Container::new(
        Attrs::default().cfg(cond).allow_deprecated(allow),
        head,
        items,
    );
    let mut items = vec![Item::Struct(unit), Item::Impl(imp)];
    items.extend(inline_struct(cx, d));
    items
}

/// A command's descriptor: its unit struct implementing the runtime's `Command`,
/// then the struct of its arguments if they are written inline.
fn command<'a>(cx: &Context<'a>, c: &'a Command) -> Vec<Item<'a>> {
    let name = names::ident(&names::type_name(&c.common.name));
    let runtime = cx.runtime();
    let arguments = match &c.data {
        None => format!("{runtime}::Empty"),
        Some(Arguments::Named(n)) => cx.rust_type(&TypeRef::Named(n.clone()), "super::"),
        Some(Arguments::Inline(_)) => c.inline_name(),
    };
    let returns = match &c.returns {
        Some(ty) => cx.rust_type(ty, "super::"),
        None => format!("{runtime}::Empty"),
    };
    let constant = |name, ty: &str, value| {
        Item::Const(Const {
            attrs: Attrs::default(),
            public: false,
            name,
            ty: ty.to_owned(),
            value,
        })
    };
    let items = vec![
        constant("NAME", "&'static str", Expr::str(&c.common.name)),
        constant(
            "SUCCESS_RESPONSE",
            "bool",
            Expr::atom(if c.success_response { "true" } else { "false" }),
        ),
        Item::Type("Arguments", arguments),
        Item::Type("Returns", returns),
    ];
    let doc = doc::rustdoc(c.common.doc.as_ref(), &doc::command_notes(c));
    descriptor(
        cx,
        c,
        doc,
        format!("impl {runtime}::Command for {name}"),
        items,
    )
}

/// An event's descriptor: its unit struct with the event's `NAME`, then the struct
/// of its data if it is written inline.
fn event<'a>(cx: &Context<'a>, e: &'a Event) -> Vec<Item<'a>> {
    // Event names are written in capitals: `SHUTDOWN` → `Shutdown`.
    let name = names::ident(&names::type_name(&e.common.name));
    let data_note = match &e.data {
        None => None,
        Some(Arguments::Named(n)) => Some(format!("Its data: [`super::{}`].", names::type_name(n))),
        Some(Arguments::Inline(_)) => Some(format!("Its data: [`{}`].", e.inline_name())),
    };
    let doc = doc::rustdoc(e.common.doc.as_ref(), &Vec::from_iter(data_note));
    let items = vec![Item::Const(Const {
        attrs: Attrs::doc("The event's name on the wire.".to_owned()),
        public: true,
        name: "NAME",
        ty: "&'static str".to_owned(),
        value: Expr::str(&e.common.name),
    })];
    descriptor(cx, e, doc, format!("impl {name}"), items)
}
