//! The dispatch backend: a `Handler` trait with a method per command, the command
//! table `COMMANDS`, and `dispatch`, which routes a request to its method. Commands
//! with `'gen': false` are left out: their server side is written by hand.
//!
//! The code refers to the runtime of the crate it lands in (`crate::Error`,
//! `crate::CommandInfo`, `crate::Arguments`, `crate::Reply`) and to the generated
//! types through `Options::types`; docs/CONVENTIONS.md has the contract.

use super::context::{Context, Std};
use super::doc;
use super::names;
use super::render::{Piece, Place};
use super::shape::{Arm, Attrs, Const, Container, Expr, Fn, Item, Stmt};
use crate::model::{Arguments, Command, Schema, TypeRef};

/// The whole dispatch file, as pieces: the trait, a piece per method, then the table
/// and the function.
pub fn pieces(schema: &Schema) -> Vec<Piece<'_>> {
    let commands: Vec<&Command> = schema.commands().filter(|c| c.gen).collect();
    let mut pieces = vec![Piece::new(Place::Open, |_| {
        let doc = "What an agent implements: a method per command of the schema, called with\n\
                   the command's parsed arguments.";
        vec![Item::Trait(Container::new(
            Attrs::doc(doc.to_owned()),
            "pub trait Handler".to_owned(),
            [],
        ))]
    })];
    for &c in &commands {
        pieces.push(Piece::new(Place::InTrait, move |cx| vec![method(cx, c)]));
    }
    let commands = std::sync::Arc::new(commands);
    let weight = commands.len();
    let table = commands.clone();
    pieces.push(Piece::weighing(Place::Top, weight / 4, move |_| {
        vec![commands_table(&table)]
    }));
    pieces.push(Piece::weighing(Place::Top, weight, move |cx| {
        vec![dispatch_fn(cx, &commands)]
    }));
    pieces
}

/// `COMMANDS`.
fn commands_table<'a>(commands: &[&'a Command]) -> Item<'a> {
    let table = commands
        .iter()
        .map(|c| {
            let info = Expr::Struct(
                "crate::CommandInfo".to_owned(),
                vec![
                    ("name", Expr::str(&c.common.name)),
                    (
                        "success_response",
                        Expr::atom(if c.success_response { "true" } else { "false" }),
                    ),
                ],
            );
            (c.common.cond.as_ref(), info)
        })
        .collect();
    Item::Const(Const {
        attrs: Attrs::doc(
            "Every command, in schema order, with whether it answers on success.".to_owned(),
        ),
        public: true,
        name: "COMMANDS",
        ty: "&[crate::CommandInfo]".to_owned(),
        value: Expr::Slice(table),
    })
}

/// `dispatch`.
fn dispatch_fn<'a>(cx: &Context<'_>, commands: &[&'a Command]) -> Item<'a> {
    let mut arms: Vec<Arm<'a>> = commands.iter().map(|c| arm(c)).collect();
    arms.push(Arm {
        cfg: None,
        pat: Expr::atom("_"),
        body: Expr::atom("Err").call(vec![
            Expr::atom("crate::Error::command_not_found").call(vec![Expr::atom("name")])
        ]),
    });
    // Calling a deprecated command's method is what dispatching it means.
    let deprecated = commands.iter().any(|c| c.common.has_feature("deprecated"));
    let doc = "Runs command `name` on `handler` with its arguments parsed as the schema\n\
               says; the reply holds the serialized return value.";
    Item::Fn(Fn {
        attrs: Attrs::doc(doc.to_owned()).allow_deprecated(deprecated),
        head: "pub fn dispatch<H: Handler + ?Sized>".into(),
        params: vec![
            "handler: &mut H".into(),
            "name: &str".into(),
            "arguments: crate::Arguments<'_>".into(),
        ],
        ret: format!("{}<crate::Reply, crate::Error>", cx.std(Std::Result)).into(),
        body: Some(vec![Stmt::Expr(Expr::Match(
            Box::new(Expr::atom("name")),
            arms,
        ))]),
    })
}

fn method<'a>(cx: &Context<'_>, c: &'a Command) -> Item<'a> {
    let types = cx.types();
    let prefix = format!("{types}::");
    let returns = match &c.returns {
        Some(ty) => cx.rust_type(ty, &prefix),
        None => "()".to_owned(),
    };
    let mut params = vec!["&mut self".into()];
    match &c.data {
        None => {}
        Some(Arguments::Named(n)) => params.push(
            format!(
                "arguments: {}",
                cx.rust_type(&TypeRef::Named(n.clone()), &prefix)
            )
            .into(),
        ),
        Some(Arguments::Inline(_)) => params.push(
            format!(
                "arguments: {types}::commands::{}Arguments",
                names::type_name(&c.common.name)
            )
            .into(),
        ),
    }
    Item::Fn(Fn {
        attrs: Attrs::doc(doc::rustdoc(c.common.doc.as_ref(), &doc::command_notes(c)))
            .cfg(c.common.cond.as_ref())
            .deprecated(&c.common.features),
        head: format!("fn {}", names::ident(&names::method_name(&c.common.name))).into(),
        params,
        ret: format!("{}<{returns}, crate::Error>", cx.std(Std::Result)).into(),
        body: None,
    })
}

/// The arm that calls a command's method: with the parsed arguments or after
/// checking there are none, replying with the value it returns or with nothing.
fn arm(c: &Command) -> Arm<'_> {
    let method = names::ident(&names::method_name(&c.common.name));
    let call = |args| Expr::atom("handler").method(method.clone(), args).try_();
    let parsed = || vec![Expr::atom("arguments").method("parse", vec![]).try_()];
    let reply = |value: Expr<'static>| Expr::atom("crate::Reply::new").call(vec![value.by_ref()]);
    let empty = || Expr::atom("Ok").call(vec![Expr::atom("crate::Reply::empty").call(vec![])]);
    let no_arguments = || Stmt::Semi(Expr::atom("arguments").method("empty", vec![]).try_());
    let body = match (&c.data, &c.returns) {
        (Some(_), Some(_)) => reply(call(parsed())),
        (Some(_), None) => Expr::Block(vec![Stmt::Semi(call(parsed())), Stmt::Expr(empty())]),
        (None, Some(_)) => Expr::Block(vec![no_arguments(), Stmt::Expr(reply(call(vec![])))]),
        (None, None) => Expr::Block(vec![
            no_arguments(),
            Stmt::Semi(call(vec![])),
            Stmt::Expr(empty()),
        ]),
    };
    Arm {
        cfg: c.common.cond.as_ref(),
        pat: Expr::str(&c.common.name),
        body,
    }
}
