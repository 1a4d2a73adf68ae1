//! The reference printer: a shape written as Rust source (the direct printer,
//! unbounded: nothing broken), read as tokens, parsed with syn and formatted with
//! prettyplease. prettyplease sees tokens only, so what it writes is its own layout
//! of the code the direct printer writes.
//!
//! prettyplease writes no blank lines, so an item whose shape has some (an impl, a
//! module, a trait, or a function whose body holds one) is put together from
//! prettyplease's text of its parts: its head (formatted with an empty body, whose
//! `{}` becomes `{`), the runs of items between its blank lines, and its closing
//! brace. A part inside a container is formatted inside stand-in containers (`mod W
//! { ... }`, `impl W { ... }`, `fn w() { ... }`) whose lines are then dropped, so
//! that it is laid out at its indentation: prettyplease lays out each item and
//! statement on its own, from a line of its own, so that its layout depends only on
//! its indentation.

use proc_macro2::TokenStream;

use crate::emit::context::Context;
use crate::emit::shape::{Item, Stmt};

use super::doc_lines;
use super::text::{self, Text, MARK};

/// A stand-in for the container a part is formatted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrap {
    Mod,
    Trait,
    Impl,
    Fn,
}

impl Wrap {
    fn open(self) -> &'static str {
        match self {
            Wrap::Mod => "mod W {",
            Wrap::Trait => "trait W {",
            Wrap::Impl => "impl W {",
            Wrap::Fn => "fn w() {",
        }
    }

    /// The stand-in for `item`'s body, if it has one.
    fn of(item: &Item<'_>) -> Option<Self> {
        match item {
            Item::Mod(_) => Some(Wrap::Mod),
            Item::Trait(_) => Some(Wrap::Trait),
            Item::Impl(_) => Some(Wrap::Impl),
            Item::Fn(_) => Some(Wrap::Fn),
            _ => None,
        }
    }
}

/// `item`'s text, inside `parents` (outermost first).
pub fn item(cx: &Context<'_>, item: &Item<'_>, parents: &[Wrap]) -> String {
    if !has_blanks(item) {
        return format(cx, parents, |t| t.item(0, item));
    }
    let mut out = head(cx, item, parents);
    let mut inner = parents.to_vec();
    inner.extend(Wrap::of(item));
    // Runs of parts without blank lines are formatted together.
    match item {
        Item::Impl(c) | Item::Mod(c) | Item::Trait(c) => {
            let mut run: Vec<&Item<'_>> = Vec::new();
            for member in &c.items {
                if matches!(member, Item::Blank) || has_blanks(member) {
                    flush(cx, &inner, &mut run, &mut out, |t, i| t.item(0, i));
                }
                match member {
                    Item::Blank => out.push('\n'),
                    _ if has_blanks(member) => out.push_str(&self::item(cx, member, &inner)),
                    _ => run.push(member),
                }
            }
            flush(cx, &inner, &mut run, &mut out, |t, i| t.item(0, i));
        }
        Item::Fn(f) => {
            let mut run: Vec<&Stmt<'_>> = Vec::new();
            for stmt in f.body.iter().flatten() {
                match stmt {
                    Stmt::Item(member) if has_blanks(member) => {
                        flush(cx, &inner, &mut run, &mut out, |t, s| t.stmt(0, s));
                        out.push_str(&self::item(cx, member, &inner));
                    }
                    _ => run.push(stmt),
                }
            }
            flush(cx, &inner, &mut run, &mut out, |t, s| t.stmt(0, s));
        }
        _ => unreachable!("only containers and functions hold blank lines"),
    }
    out.extend(std::iter::repeat_n(' ', 4 * parents.len()));
    out.push_str("}\n");
    out
}

/// The lines that open `item`, a container or a function, up to its `{`.
pub fn head(cx: &Context<'_>, item: &Item<'_>, parents: &[Wrap]) -> String {
    let text = format(cx, parents, |t| t.empty(item));
    match text.strip_suffix("{}\n") {
        Some(head) => format!("{head}{{\n"),
        None => panic!("qapi-gen: a head with an empty body printed as {text}"),
    }
}

/// Whether a blank line is written inside `item`.
fn has_blanks(item: &Item<'_>) -> bool {
    match item {
        Item::Impl(c) | Item::Mod(c) | Item::Trait(c) => c
            .items
            .iter()
            .any(|i| matches!(i, Item::Blank) || has_blanks(i)),
        Item::Fn(f) => f
            .body
            .iter()
            .flatten()
            .any(|s| matches!(s, Stmt::Item(i) if has_blanks(i))),
        _ => false,
    }
}

/// Formats the parts of `run`, if any, and empties it.
fn flush<T>(
    cx: &Context<'_>,
    parents: &[Wrap],
    run: &mut Vec<&T>,
    out: &mut String,
    write: impl Fn(&mut Text<'_, '_>, &T),
) {
    if run.is_empty() {
        return;
    }
    out.push_str(&format(cx, parents, |t| {
        for part in run.iter() {
            write(t, part);
        }
    }));
    run.clear();
}

/// What `write` writes, formatted by prettyplease inside `parents`, whose lines are
/// dropped.
fn format(cx: &Context<'_>, parents: &[Wrap], write: impl FnOnce(&mut Text<'_, '_>)) -> String {
    let (source, docs) = text::source(cx, |t| {
        for parent in parents {
            t.push(parent.open());
        }
        write(t);
        for _ in parents {
            t.push("}");
        }
    });
    // A bug in a backend, never in the schema: every emitter builds items.
    let tokens: TokenStream = match source.parse() {
        Ok(tokens) => tokens,
        Err(e) => panic!("qapi-gen emitted code that does not lex: {e}\n{source}"),
    };
    let file: syn::File = match syn::parse2(tokens) {
        Ok(file) => file,
        Err(e) => panic!("qapi-gen emitted code that does not parse: {e}\n{source}"),
    };
    let text = insert_docs(&docs, prettyplease::unparse(&file));
    let depth = parents.len();
    if depth == 0 {
        return text;
    }
    let start = text
        .match_indices('\n')
        .nth(depth - 1)
        .map_or(text.len(), |(i, _)| i + 1);
    let end = text[..text.len() - 1]
        .rmatch_indices('\n')
        .nth(depth - 1)
        .map_or(start, |(i, _)| i + 1);
    text[start..end.max(start)].to_owned()
}

/// `code` with each doc mark replaced by the lines of its text, as an attribute per
/// line would be written (see [`doc_lines`]). prettyplease writes a `#[doc]`
/// attribute as `///` and its text, on a line of its own at the indentation of what
/// it documents, whatever the text; only marks hold a raw `MARK`, since prettyplease
/// writes string literals escaped.
pub fn insert_docs(texts: &[String], code: String) -> String {
    if texts.is_empty() {
        return code;
    }
    let mut out = String::with_capacity(code.len() + texts.iter().map(|t| t.len()).sum::<usize>());
    for line in code.split_inclusive('\n') {
        let Some((head, index)) = line.trim_end_matches('\n').split_once(MARK) else {
            out.push_str(line);
            continue;
        };
        let indent = head
            .strip_suffix("///")
            .expect("a mark only in a doc comment");
        let text = &texts[index.parse::<usize>().expect("a mark's index")];
        doc_lines(indent.len(), text, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_are_put_back_as_prettyplease_writes_them() {
        let code = format!("    ///{MARK}0\n    pub x: u8,\n");
        assert_eq!(
            insert_docs(&["First line.  \n\n    indented\n".to_owned()], code),
            "    /// First line.\n    ///\n    ///     indented\n    pub x: u8,\n"
        );
    }
}
