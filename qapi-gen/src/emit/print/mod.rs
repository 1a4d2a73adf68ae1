//! The printers of a [shape](super::shape): Rust text from the typed description
//! of the items a backend emits.
//!
//! - [`text`], the direct printer: writes each item as prettyplease lays out its
//!   tokens. This is the fast path, used for every output.
//! - [`pretty`], the reference: the direct printer's text of the item, unbounded
//!   (never broken), read as tokens, parsed with syn and formatted with
//!   prettyplease. tests/printer.rs holds the direct printer to it, byte for byte.
//!
//! Neither decides anything about the code: both write what the shape says.
//!
//! The direct printer knows prettyplease's layout for the shapes the backends emit,
//! and where a line runs past prettyplease's margin, the broken layouts of
//! signatures, attribute lists, `cfg` predicates, arrays, struct literals, method
//! chains and match arms. Where it cannot be sure to write what prettyplease would
//! (a line still too long, a broken layout it does not know, a `cfg` predicate
//! from the caller's `Options::cfg_map`, a path in the options with generic
//! arguments), it gives up on the item, a top-level item or an item of a module or
//! trait, and that item alone is formatted with the reference printer
//! (`render.rs`). `Options::reference_printer` formats every item that way.

pub mod pretty;
pub mod text;

/// The column prettyplease keeps lines within (its `MARGIN`).
pub const MARGIN: usize = 89;

/// Appends a string literal of value `s` as proc-macro2 writes it (the token text
/// that prettyplease prints), so that both printers write the same escapes.
pub fn write_str_lit(s: &str, out: &mut String) {
    if s.bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&proc_macro2::Literal::string(s).to_string());
    }
}

/// A doc comment for Markdown `text` at `indent`: `///` and a line of the text,
/// without trailing spaces, per line, as prettyplease writes `#[doc = " line"]`
/// (`#[doc = ""]` for an empty line); nothing for no text. Doc lines are never
/// broken, whatever their length.
pub fn doc_lines(indent: usize, text: &str, out: &mut String) {
    for line in text.lines() {
        out.extend(std::iter::repeat_n(' ', indent));
        out.push_str("///");
        if !line.is_empty() {
            out.push(' ');
            out.push_str(line);
            out.truncate(out.trim_end_matches(' ').len());
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_are_escaped_as_proc_macro2_escapes_them() {
        for s in [
            "plain",
            "a \"quote\"",
            "back\\slash",
            "tab\there",
            "é",
            "\u{1}0",
        ] {
            let mut out = String::new();
            write_str_lit(s, &mut out);
            assert_eq!(out, proc_macro2::Literal::string(s).to_string());
        }
    }
}
