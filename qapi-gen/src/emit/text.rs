//! The direct printer: Rust items written as text, laid out as prettyplease lays out
//! the same tokens, for the shapes the backends emit.
//!
//! Building tokens, parsing them with syn and printing them with prettyplease is most
//! of the cost of generating a large schema, so each emitter also has a text form
//! that writes what prettyplease would write. That layout is fixed for the code the
//! backends emit except where a line runs past prettyplease's margin: there
//! prettyplease breaks it. The text forms write the broken layouts they know
//! (signatures, attribute lists, long arrays, match arms); a line still too long,
//! or anything else they are not sure of (a `cfg` from the caller's map, a string
//! that needs escapes), makes [`Text::finish`] give `None`, and the piece is built
//! and formatted the reference way, with quote and prettyplease
//! (`render::format_chunk`). `Options::reference_printer` formats everything that
//! way; tests/printer.rs checks that both give the same text, on every golden case
//! and on schemas whose names run across the margin.

use std::fmt::{self, Write as _};

/// The column prettyplease keeps lines within (its `MARGIN`).
pub const MARGIN: usize = 89;

/// Rust text being written, with whether it is still what prettyplease would write.
#[derive(Debug, Default)]
pub struct Text {
    out: String,
    ok: bool,
}

/// Strings joined into one, allocated once: `cat!(a, "::", b)`. Cheaper than
/// `format!` on the hot paths of the printer.
macro_rules! cat {
    ($($part:expr),+ $(,)?) => {{
        let parts: &[&str] = &[$($part),+];
        let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        for part in parts {
            out.push_str(part);
        }
        out
    }};
}
pub(crate) use cat;

/// Writes a line at an indentation: `line!(t, indent, "format", args...)`.
macro_rules! line {
    ($t:expr, $indent:expr, $($arg:tt)*) => {
        $t.line($indent, format_args!($($arg)*))
    };
}
pub(crate) use line;

impl Text {
    pub fn new() -> Self {
        Text {
            out: String::with_capacity(1024),
            ok: true,
        }
    }

    /// The text, or `None` when it may differ from prettyplease's.
    pub fn finish(self) -> Option<String> {
        self.ok.then_some(self.out)
    }

    /// Gives up: the piece goes to prettyplease.
    pub fn fail(&mut self) {
        self.ok = false;
    }

    /// A line; one past the margin gives up (prettyplease would break it).
    pub fn line(&mut self, indent: usize, args: fmt::Arguments<'_>) {
        self.line_then(indent, args, "");
    }

    /// A line ending in `tail`, which prettyplease lets run past the margin (the
    /// comma after a match arm).
    pub fn line_then(&mut self, indent: usize, args: fmt::Arguments<'_>, tail: &str) {
        let start = self.out.len();
        self.indent(indent);
        // Writing into a String cannot fail.
        let _ = self.out.write_fmt(args);
        if self.out.len() - start > MARGIN {
            self.ok = false;
        }
        self.out.push_str(tail);
        self.out.push('\n');
    }

    /// A line unless `text` is empty (an absent attribute). A `#[cfg(...)]` too
    /// long for one line is broken as prettyplease breaks it.
    pub fn opt(&mut self, indent: usize, text: &str) {
        if text.is_empty() {
            return;
        }
        match text
            .strip_prefix("#[cfg(")
            .and_then(|t| t.strip_suffix(")]"))
        {
            Some(predicate) if indent + text.len() > MARGIN => {
                line!(self, indent, "#[cfg(");
                self.predicate(indent + 4, predicate, "");
                line!(self, indent, ")]");
            }
            _ => line!(self, indent, "{text}"),
        }
    }

    /// A `cfg` predicate followed by `tail` (a comma or nothing): on one line when it
    /// fits, else `op(`, each operand a line further in, and `)`.
    fn predicate(&mut self, indent: usize, predicate: &str, tail: &str) {
        if indent + predicate.len() + tail.len() <= MARGIN {
            line!(self, indent, "{predicate}{tail}");
            return;
        }
        let Some((op, args)) = predicate
            .split_once('(')
            .filter(|(op, _)| matches!(*op, "all" | "any" | "not"))
            .and_then(|(op, rest)| Some((op, rest.strip_suffix(')')?)))
        else {
            // A name too long for the line: a layout this printer does not know.
            self.fail();
            line!(self, indent, "{predicate}{tail}");
            return;
        };
        line!(self, indent, "{op}(");
        let args = split_operands(args);
        for (i, arg) in args.iter().enumerate() {
            self.predicate(indent + 4, arg, if i + 1 < args.len() { "," } else { "" });
        }
        line!(self, indent, "){tail}");
    }

    fn indent(&mut self, indent: usize) {
        self.out.extend(std::iter::repeat_n(' ', indent));
    }

    /// A doc comment for Markdown `text`, as `Docs::insert` writes it; nothing for
    /// no text. Doc lines are never broken, whatever their length.
    pub fn doc(&mut self, indent: usize, text: &str) {
        for line in text.lines() {
            self.indent(indent);
            self.out.push_str("///");
            if !line.is_empty() {
                self.out.push(' ');
                self.out.push_str(line);
                self.out.truncate(self.out.trim_end_matches(' ').len());
            }
            self.out.push('\n');
        }
    }

    /// `#[name(arg, arg)]`, or with an argument per line when that is too long.
    pub fn attr_list(&mut self, indent: usize, name: &str, args: &[String]) {
        let len = indent + name.len() + 5 + args.iter().map(|a| a.len() + 2).sum::<usize>() - 2;
        if len <= MARGIN || args.len() < 2 {
            line!(self, indent, "#[{name}({})]", args.join(", "));
        } else {
            line!(self, indent, "#[{name}(");
            for (i, arg) in args.iter().enumerate() {
                let comma = if i + 1 < args.len() { "," } else { "" };
                line!(self, indent + 4, "{arg}{comma}");
            }
            line!(self, indent, ")]");
        }
    }

    /// `#[derive(...)]`.
    pub fn derive(&mut self, indent: usize, traits: &[&str]) {
        let args: Vec<String> = traits.iter().map(|&t| t.to_owned()).collect();
        self.attr_list(indent, "derive", &args);
    }

    /// A function signature `head(params) tail` (`tail` is ` -> T {` or ` -> T;`):
    /// on one line, or with a parameter per line when that is too long.
    pub fn signature(&mut self, indent: usize, head: &str, params: &[&str], tail: &str) {
        let len = indent
            + head.len()
            + 2
            + params.iter().map(|p| p.len() + 2).sum::<usize>()
            + tail.len()
            - if params.is_empty() { 0 } else { 2 };
        if len <= MARGIN || params.is_empty() {
            line!(self, indent, "{head}({}){tail}", params.join(", "));
        } else {
            line!(self, indent, "{head}(");
            for param in params {
                line!(self, indent + 4, "{param},");
            }
            line!(self, indent, "){tail}");
        }
    }

    /// A string literal as prettyplease prints the token quote makes for it; a
    /// string that needs escapes gives up.
    pub fn lit(&mut self, s: &str) -> String {
        if !s
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
        {
            self.ok = false;
        }
        cat!("\"", s, "\"")
    }
}

/// The operands of a predicate list `a, b(c, d), e`: split at the commas outside
/// parentheses (names are plain: no commas or parentheses inside quotes).
fn split_operands(list: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, b) in list.bytes().enumerate() {
        match b {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_past_the_margin_give_up() {
        let mut t = Text::new();
        line!(t, 4, "{}", "x".repeat(85));
        assert!(t.ok);
        line!(t, 4, "{}", "x".repeat(86));
        assert_eq!(t.finish(), None);
    }

    #[test]
    fn signatures_and_attributes_break_when_too_long() {
        let mut t = Text::new();
        t.signature(0, "fn f", &["a: u8", "b: u8"], " -> u8;");
        t.signature(80, "fn g", &["self"], " {");
        t.attr_list(0, "serde", &["default".into()]);
        let long = "x".repeat(40);
        t.attr_list(4, "serde", &[long.clone(), long.clone()]);
        assert_eq!(
            t.out,
            format!(
                "fn f(a: u8, b: u8) -> u8;\n{0}fn g(\n{0}    self,\n{0}) {{\n#[serde(default)]\n    #[serde(\n        {1},\n        {1}\n    )]\n",
                " ".repeat(80),
                long
            )
        );
    }
}
