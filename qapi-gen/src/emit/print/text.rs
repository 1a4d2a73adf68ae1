//! The direct printer: a shape written as text, laid out as prettyplease lays out its
//! tokens (see the module docs of `print` for where it gives up).
//!
//! A line is written as it would be on one line and measured; when it is too long,
//! it is taken back and written in the broken layout prettyplease gives it.
//! Unbounded ([`source`]), the printer breaks nothing and gives up on nothing: what
//! it writes is the Rust source the reference printer reads back as tokens.

use std::borrow::Cow;

use crate::emit::context::Context;
use crate::emit::shape::{Arm, Attr, Attrs, Container, Expr, Item, Meta, Stmt};
use crate::model::Cond;

use super::{doc_lines, write_str_lit, MARGIN};

/// Starts the text of the `#[doc]` attribute that stands for a doc comment kept
/// aside in [`source`].
pub const MARK: char = '\u{1}';

/// Appends `item` at `indent` to `out` and returns true, or returns false, with `out`
/// as it was, when the text might differ from prettyplease's.
pub fn item(cx: &Context<'_>, item: &Item<'_>, indent: usize, out: &mut String) -> bool {
    write(cx, out, |t| t.item(indent, item))
}

/// The lines that open a module or trait, up to its `{`, as [`item`] appends them.
pub fn head(cx: &Context<'_>, container: &Container<'_>, indent: usize, out: &mut String) -> bool {
    write(cx, out, |t| {
        t.attrs(indent, &container.attrs);
        t.line(indent, &[&container.head, " {"]);
    })
}

fn write(cx: &Context<'_>, out: &mut String, f: impl FnOnce(&mut Text<'_, '_>)) -> bool {
    if !cx.plain_paths {
        return false;
    }
    let start = out.len();
    let mut t = Text {
        cx,
        out: std::mem::take(out),
        ok: true,
        docs: None,
    };
    f(&mut t);
    *out = t.out;
    if !t.ok {
        out.truncate(start);
    }
    t.ok
}

/// What `f` writes unbounded, as Rust source, with each doc comment kept aside: the
/// source holds `#[doc = "\u{1}N"]` for doc `N` of the list instead, so that syn and
/// prettyplease never read the documentation, which is a good part of a file.
pub fn source(cx: &Context<'_>, f: impl FnOnce(&mut Text<'_, '_>)) -> (String, Vec<String>) {
    let mut t = Text {
        cx,
        out: String::new(),
        ok: true,
        docs: Some(Vec::new()),
    };
    f(&mut t);
    (t.out, t.docs.unwrap_or_default())
}

/// Rust text being written, with whether it is still what prettyplease would write.
pub struct Text<'c, 'a> {
    cx: &'c Context<'a>,
    out: String,
    ok: bool,
    /// Unbounded, the doc comments kept aside (see [`source`]).
    docs: Option<Vec<String>>,
}

impl Text<'_, '_> {
    /// `item` with an empty body: `head {}`, the lines that open it when it has one.
    pub fn empty(&mut self, item: &Item<'_>) {
        match item {
            Item::Impl(c) | Item::Mod(c) | Item::Trait(c) => {
                self.attrs(0, &c.attrs);
                self.line(0, &[&c.head, " {}"]);
            }
            Item::Fn(f) => {
                self.attrs(0, &f.attrs);
                self.signature(0, &f.head, &f.params, &f.ret, " {}");
            }
            _ => self.item(0, item),
        }
    }

    /// Starts a line at `indent`; returns where it starts.
    fn begin(&mut self, indent: usize) -> usize {
        let start = self.out.len();
        self.out.extend(std::iter::repeat_n(' ', indent));
        start
    }

    /// Appends `s` as it is.
    pub fn push(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// Whether the line started at `start` is still within the margin (always,
    /// unbounded).
    fn fits(&self, start: usize) -> bool {
        self.docs.is_some() || self.out.len() - start <= MARGIN
    }

    /// Ends the line started at `start`; one past the margin gives up (prettyplease
    /// would break it).
    fn end(&mut self, start: usize) {
        self.end_then(start, "");
    }

    /// Ends the line with `tail`, which prettyplease lets run past the margin (the
    /// comma after a match arm).
    fn end_then(&mut self, start: usize, tail: &str) {
        if !self.fits(start) {
            self.ok = false;
        }
        self.out.push_str(tail);
        self.out.push('\n');
    }

    /// A line of `parts`.
    fn line(&mut self, indent: usize, parts: &[&str]) {
        let start = self.begin(indent);
        for part in parts {
            self.push(part);
        }
        self.end(start);
    }

    /// The one-line form of an expression, appended; spaced as prettyplease spaces
    /// a line it does not break (`a.b(c, d)`, `|value| value.as_str() == s`,
    /// `&[#[cfg(x)] Self::A, Self::B]`).
    fn flat(&mut self, e: &Expr<'_>) {
        match e {
            Expr::Atom(text) => self.push(text),
            Expr::Str(value) => write_str_lit(value, &mut self.out),
            Expr::Call(callee, args) => {
                self.flat(callee);
                self.flat_args(args);
            }
            Expr::Method(receiver, method, args) => {
                self.flat(receiver);
                self.push(".");
                self.push(method);
                self.flat_args(args);
            }
            Expr::Ref(e) => {
                self.push("&");
                self.flat(e);
            }
            Expr::Try(e) => {
                self.flat(e);
                self.push("?");
            }
            Expr::Closure(params, body) => {
                self.push(params);
                self.push(" ");
                self.flat(body);
            }
            Expr::Eq(left, right) => {
                self.flat(left);
                self.push(" == ");
                self.flat(right);
            }
            Expr::Slice(elements) => {
                self.push("&[");
                self.joined(elements, |t, (cond, element)| {
                    if let Some(cond) = cond {
                        t.push("#[cfg(");
                        t.predicate(cond);
                        t.push(")] ");
                    }
                    t.flat(element);
                });
                self.push("]");
            }
            Expr::Struct(path, fields) => {
                self.push(path);
                self.push(" {");
                for (n, (name, value)) in fields.iter().enumerate() {
                    self.push(if n > 0 { ", " } else { " " });
                    self.push(name);
                    self.push(": ");
                    self.flat(value);
                }
                self.push(if fields.is_empty() { "}" } else { " }" });
            }
            // Never on one line: written so only as source for the reference.
            Expr::Match(..) | Expr::Block(_) => {
                self.ok = false;
                self.expr(0, &[], e, "");
            }
        }
    }

    /// `(args)`, on one line.
    fn flat_args(&mut self, args: &[Expr<'_>]) {
        self.push("(");
        self.joined(args, Self::flat);
        self.push(")");
    }

    /// `items`, each written by `each`, separated by `, `.
    fn joined<T>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Self, T),
    ) {
        for (n, item) in items.into_iter().enumerate() {
            if n > 0 {
                self.push(", ");
            }
            each(self, item);
        }
    }

    /// A `cfg` predicate as prettyplease writes it, appended.
    fn predicate(&mut self, cond: &Cond) {
        self.ok &= self.cx.cfg.write(cond, &mut self.out);
    }

    /// An item at indentation `i`.
    pub fn item(&mut self, i: usize, item: &Item<'_>) {
        match item {
            Item::Blank => self.out.push('\n'),
            Item::Use(attrs, tree) => {
                self.attrs(i, attrs);
                self.line(i, &["use ", tree, ";"]);
            }
            Item::Struct(s) => {
                self.attrs(i, &s.attrs);
                let head = if s.public { "pub struct " } else { "struct " };
                match &s.fields {
                    None => self.line(i, &[head, &s.name, ";"]),
                    Some(fields) if fields.is_empty() => self.line(i, &[head, &s.name, " {}"]),
                    Some(fields) => {
                        self.line(i, &[head, &s.name, " {"]);
                        for f in fields {
                            self.attrs(i + 4, &f.attrs);
                            self.line(i + 4, &["pub ", &f.name, ": ", &f.ty, ","]);
                        }
                        self.line(i, &["}"]);
                    }
                }
            }
            Item::Enum(e) => {
                self.attrs(i, &e.attrs);
                if e.variants.is_empty() {
                    self.line(i, &["pub enum ", &e.name, " {}"]);
                    return;
                }
                self.line(i, &["pub enum ", &e.name, " {"]);
                for v in &e.variants {
                    self.attrs(i + 4, &v.attrs);
                    match &v.ty {
                        Some(ty) => self.line(i + 4, &[&v.name, "(", ty, "),"]),
                        None => self.line(i + 4, &[&v.name, ","]),
                    }
                }
                self.line(i, &["}"]);
            }
            Item::Impl(c) | Item::Mod(c) | Item::Trait(c) => {
                self.attrs(i, &c.attrs);
                if c.items.is_empty() {
                    self.line(i, &[&c.head, " {}"]);
                    return;
                }
                self.line(i, &[&c.head, " {"]);
                for item in &c.items {
                    self.item(i + 4, item);
                }
                self.line(i, &["}"]);
            }
            Item::Const(c) => {
                self.attrs(i, &c.attrs);
                let public = if c.public { "pub " } else { "" };
                self.expr(
                    i,
                    &[public, "const ", c.name, ": ", &c.ty, " = "],
                    &c.value,
                    ";",
                );
            }
            Item::Type(name, ty) => self.line(i, &["type ", name, " = ", ty, ";"]),
            Item::Fn(f) => {
                self.attrs(i, &f.attrs);
                let tail = match &f.body {
                    None => ";",
                    Some(body) if body.is_empty() => " {}",
                    Some(_) => " {",
                };
                self.signature(i, &f.head, &f.params, &f.ret, tail);
                if let Some(body) = f.body.as_ref().filter(|b| !b.is_empty()) {
                    for stmt in body {
                        self.stmt(i + 4, stmt);
                    }
                    self.line(i, &["}"]);
                }
            }
        }
    }

    /// `head(params) -> ret` and `tail` (` {` or `;`): on one line, or with a
    /// parameter per line when that is too long.
    fn signature(&mut self, i: usize, head: &str, params: &[Cow<'_, str>], ret: &str, tail: &str) {
        let arrow = if ret.is_empty() { "" } else { " -> " };
        let start = self.begin(i);
        self.push(head);
        self.push("(");
        self.joined(params, |t, param| t.push(param));
        self.push(")");
        self.push(arrow);
        self.push(ret);
        self.push(tail);
        if self.fits(start) || params.is_empty() {
            return self.end(start);
        }
        self.out.truncate(start);
        self.line(i, &[head, "("]);
        for param in params {
            self.line(i + 4, &[param, ","]);
        }
        self.line(i, &[")", arrow, ret, tail]);
    }

    /// A statement at indentation `i`.
    pub fn stmt(&mut self, i: usize, stmt: &Stmt<'_>) {
        match stmt {
            Stmt::Item(item) => self.item(i, item),
            Stmt::Semi(e) => self.expr(i, &[], e, ";"),
            Stmt::Expr(e) => self.expr(i, &[], e, ""),
        }
    }

    /// `lead`, the expression and `tail`, starting a line at `i`.
    fn expr(&mut self, i: usize, lead: &[&str], e: &Expr<'_>, tail: &str) {
        let start = self.begin(i);
        for part in lead {
            self.push(part);
        }
        match e {
            Expr::Match(scrutinee, arms) => {
                self.push("match ");
                self.flat(scrutinee);
                if arms.is_empty() {
                    self.push(" {}");
                    self.push(tail);
                    return self.end(start);
                }
                self.push(" {");
                self.end(start);
                for arm in arms {
                    self.arm(i + 4, arm);
                }
                self.line(i, &["}", tail]);
            }
            Expr::Block(stmts) => {
                self.push("{");
                self.end(start);
                for stmt in stmts {
                    self.stmt(i + 4, stmt);
                }
                self.line(i, &["}", tail]);
            }
            _ => {
                let flat_start = self.out.len();
                self.flat(e);
                let flat_len = self.out.len() - flat_start;
                self.push(tail);
                let fits = self.fits(start);
                match e {
                    _ if self.docs.is_some() => self.end(start),
                    // prettyplease keeps a struct literal on one line only while it
                    // is short (`end_with_max_width(34)`); near that width this
                    // printer is not sure of the measure.
                    Expr::Struct(path, fields) if flat_len > 40 => {
                        self.out.truncate(flat_start);
                        self.push(path);
                        self.push(" {");
                        self.end(start);
                        for (name, value) in fields {
                            self.expr(i + 4, &[name, ": "], value, ",");
                        }
                        self.line(i, &["}", tail]);
                    }
                    Expr::Struct(..) => {
                        self.ok = false;
                        self.end(start);
                    }
                    _ if fits => self.end(start),
                    Expr::Slice(elements) => {
                        self.out.truncate(flat_start);
                        self.push("&[");
                        self.end(start);
                        for (cond, element) in elements {
                            if let Some(cond) = cond {
                                self.cfg(i + 4, cond);
                            }
                            self.expr(i + 4, &[], element, ",");
                        }
                        self.line(i, &["]", tail]);
                    }
                    Expr::Method(..) if lead.is_empty() => {
                        self.out.truncate(start);
                        self.chain(i, e, tail);
                    }
                    // A call too long for its line: each argument on a line further
                    // in (the dispatch arm of a command with a long name).
                    Expr::Call(callee, args) if lead.is_empty() && !args.is_empty() => {
                        self.out.truncate(flat_start);
                        self.flat(callee);
                        self.push("(");
                        self.end(start);
                        for arg in args {
                            self.expr(i + 4, &[], arg, ",");
                        }
                        self.line(i, &[")", tail]);
                    }
                    // A layout this printer does not know.
                    _ => {
                        self.ok = false;
                        self.end(start);
                    }
                }
            }
        }
    }

    /// A method chain too long for its line, at the start of a statement: the
    /// receiver, then each call on a line further in. A receiver that is a call too
    /// long for the line has its arguments further in again.
    fn chain(&mut self, i: usize, e: &Expr<'_>, tail: &str) {
        let mut calls = Vec::new();
        let mut receiver = e;
        while let Expr::Method(inner, method, args) = receiver {
            calls.push((method, args));
            receiver = inner;
        }
        // prettyplease keeps the first call on the line of a short variable.
        if matches!(receiver, Expr::Atom(a) if a.len() <= 4 && !a.contains(':')) {
            self.ok = false;
        }
        let start = self.begin(i);
        self.flat(receiver);
        match receiver {
            _ if self.fits(start) => self.end(start),
            Expr::Call(callee, args) => {
                self.out.truncate(start + i);
                self.flat(callee);
                self.push("(");
                self.end(start);
                for arg in args {
                    self.expr(i + 8, &[], arg, ",");
                }
                self.line(i + 4, &[")"]);
            }
            _ => {
                self.ok = false;
                self.end(start);
            }
        }
        for (n, (method, args)) in calls.iter().rev().enumerate() {
            let tail = if n + 1 == calls.len() { tail } else { "" };
            let start = self.begin(i + 4);
            self.push(".");
            self.push(method);
            self.flat_args(args);
            self.push(tail);
            if self.fits(start) {
                self.end(start);
                continue;
            }
            match args.as_slice() {
                // A closure alone stays on the line of the call it is passed to; a
                // call it makes has its arguments further in.
                [Expr::Closure(params, body)] => match &**body {
                    Expr::Call(callee, args) => {
                        self.out.truncate(start + i + 4);
                        self.push(".");
                        self.push(method);
                        self.push("(");
                        self.push(params);
                        self.push(" ");
                        self.flat(callee);
                        self.push("(");
                        self.end(start);
                        for arg in args {
                            self.expr(i + 8, &[], arg, ",");
                        }
                        self.line(i + 4, &["))", tail]);
                    }
                    _ => self.end(start),
                },
                _ => self.end(start),
            }
        }
    }

    /// `pattern => body,`, or the body in a block of its own when that is too long.
    fn arm(&mut self, i: usize, arm: &Arm<'_>) {
        if let Some(cond) = arm.cfg {
            self.cfg(i, cond);
        }
        // prettyplease writes a block of one expression as the expression.
        let body = match &arm.body {
            Expr::Block(stmts) => match stmts.as_slice() {
                [Stmt::Expr(e)] => e,
                _ => &arm.body,
            },
            body => body,
        };
        let start = self.begin(i);
        self.flat(&arm.pat);
        self.push(" => ");
        if let Expr::Block(stmts) = body {
            self.push("{");
            self.end(start);
            for stmt in stmts {
                self.stmt(i + 4, stmt);
            }
            self.line(i, &["}"]);
            return;
        }
        let body_start = self.out.len();
        self.flat(body);
        if self.fits(start) {
            return self.end_then(start, ",");
        }
        self.out.truncate(body_start);
        self.push("{");
        self.end(start);
        self.expr(i + 4, &[], body, "");
        self.line(i, &["}"]);
    }

    fn attrs(&mut self, i: usize, attrs: &Attrs<'_>) {
        match &mut self.docs {
            Some(docs) if !attrs.doc.is_empty() => {
                let mark = format!("{MARK}{}", docs.len());
                docs.push(attrs.doc.clone());
                self.push("#[doc = ");
                write_str_lit(&mark, &mut self.out);
                self.push("]\n");
            }
            _ => doc_lines(i, &attrs.doc, &mut self.out),
        }
        for attr in &attrs.list {
            match attr {
                Attr::Cfg(cond) => self.cfg(i, cond),
                Attr::Deprecated(None) => self.line(i, &["#[deprecated]"]),
                Attr::Deprecated(Some(cond)) => {
                    let start = self.begin(i);
                    self.push("#[cfg_attr(");
                    self.predicate(cond);
                    self.push(", deprecated)]");
                    self.end(start);
                }
                Attr::AllowDeprecated => self.line(i, &["#[allow(deprecated)]"]),
                Attr::Derive(traits, serde) => {
                    let names = traits.iter().chain(serde.iter());
                    self.attr_list(i, "derive", names, |t, name| t.push(name));
                }
                Attr::Serde(args) => self.attr_list(i, "serde", args.iter(), |t, arg| match arg {
                    Meta::Word(word) => t.push(word),
                    Meta::Str(name, value) => {
                        t.push(name);
                        t.push(" = ");
                        write_str_lit(value, &mut t.out);
                    }
                }),
            }
        }
    }

    /// `#[cfg(predicate)]`, broken as prettyplease breaks it when too long.
    fn cfg(&mut self, i: usize, cond: &Cond) {
        let start = self.begin(i);
        self.push("#[cfg(");
        let predicate_start = self.out.len();
        self.predicate(cond);
        let predicate_end = self.out.len();
        self.push(")]");
        if self.fits(start) {
            return self.end(start);
        }
        let predicate = self.out[predicate_start..predicate_end].to_owned();
        self.out.truncate(predicate_start);
        self.end(start);
        self.broken_predicate(i + 4, &predicate, "");
        self.line(i, &[")]"]);
    }

    /// A `cfg` predicate followed by `tail` (a comma or nothing): on one line when it
    /// fits, else `op(`, each operand a line further in, and `)`.
    fn broken_predicate(&mut self, i: usize, predicate: &str, tail: &str) {
        if i + predicate.len() + tail.len() <= MARGIN {
            self.line(i, &[predicate, tail]);
            return;
        }
        let Some((op, args)) = predicate
            .split_once('(')
            .filter(|(op, _)| matches!(*op, "all" | "any" | "not"))
            .and_then(|(op, rest)| Some((op, rest.strip_suffix(')')?)))
        else {
            // A name too long for the line: a layout this printer does not know.
            self.ok = false;
            self.line(i, &[predicate, tail]);
            return;
        };
        self.line(i, &[op, "("]);
        let args = split_operands(args);
        for (n, arg) in args.iter().enumerate() {
            let comma = if n + 1 < args.len() { "," } else { "" };
            self.broken_predicate(i + 4, arg, comma);
        }
        self.line(i, &[")", tail]);
    }

    /// `#[name(arg, arg)]`, or with an argument per line when that is too long.
    fn attr_list<T>(
        &mut self,
        i: usize,
        name: &str,
        args: impl Iterator<Item = T> + Clone,
        each: impl Fn(&mut Self, T),
    ) {
        let count = args.clone().count();
        let start = self.begin(i);
        self.push("#[");
        self.push(name);
        self.push("(");
        self.joined(args.clone(), &each);
        self.push(")]");
        if self.fits(start) || count < 2 {
            return self.end(start);
        }
        self.out.truncate(start);
        self.line(i, &["#[", name, "("]);
        for (n, arg) in args.enumerate() {
            let start = self.begin(i + 4);
            each(self, arg);
            if n + 1 < count {
                self.push(",");
            }
            self.end(start);
        }
        self.line(i, &[")]"]);
    }
}

/// The operands of a predicate list `a, b(c, d), e`: split at the commas outside
/// parentheses and string literals.
fn split_operands(list: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    let (mut quoted, mut escaped) = (false, false);
    for (i, b) in list.bytes().enumerate() {
        if quoted {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => quoted = true,
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                out.push(list[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(list[start..].trim());
    out
}
