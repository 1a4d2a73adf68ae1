//! The schema's documentation as Markdown, for rustdoc and for the manual.
//!
//! QAPI doc text is close to Markdown already; what differs is converted: `@name`
//! references become code spans, rST's ``literal`` becomes `literal`, and literal
//! blocks (after a `::`, or indented by four spaces or more) become ```` ```text ````
//! fences, so that rustdoc shows them as written and never runs them as doctests.
//! List continuation lines are indented to their item, as rustdoc's lints want.

use crate::model::{Command, Doc};

/// Section tags that never reach the output (QEMU drops them from its manual too).
const DROPPED: &[&str] = &["TODO"];

/// The rustdoc of a definition, as Markdown: its body, features, tagged sections,
/// `Since` last, and then `notes` (facts from the definition rather than its doc
/// block).
pub fn rustdoc(doc: Option<&Doc>, notes: &[String]) -> String {
    let mut parts = Vec::new();
    if let Some(doc) = doc {
        if !doc.body.is_empty() {
            parts.push(markdown(&doc.body));
        }
        if !doc.features.is_empty() {
            let list: Vec<String> = doc
                .features
                .iter()
                .map(|(name, text)| list_item(&format!("`{name}`"), text))
                .collect();
            parts.push(format!("Features:\n\n{}", list.join("\n")));
        }
        for (tag, text) in doc
            .sections
            .iter()
            .filter(|(tag, _)| tag != "Since" && !DROPPED.contains(&tag.as_str()))
        {
            parts.push(section(tag, text));
        }
    }
    parts.extend(notes.iter().cloned());
    if let Some(since) = doc.and_then(|d| d.section("Since")) {
        parts.push(format!("Since: {since}"));
    }
    comment_safe(parts.join("\n\n"))
}

/// `text` with each control character but tab and newline replaced by U+FFFD: a
/// schema's comments may hold any character, a Rust doc comment may not (a bare
/// carriage return ends the build).
fn comment_safe(text: String) -> String {
    if text
        .chars()
        .any(|c| c.is_control() && c != '\t' && c != '\n')
    {
        text.chars()
            .map(|c| match c {
                '\t' | '\n' => c,
                c if c.is_control() => char::REPLACEMENT_CHARACTER,
                c => c,
            })
            .collect()
    } else {
        text
    }
}

/// Facts about a command that its doc block does not state.
pub fn command_notes(c: &Command) -> Vec<String> {
    let mut notes = Vec::new();
    if !c.success_response {
        notes.push("No response is sent when the command succeeds.".to_owned());
    }
    if c.allow_oob {
        notes.push("Allowed out-of-band.".to_owned());
    }
    if c.allow_preconfig {
        notes.push("Allowed before the machine is configured (preconfig).".to_owned());
    }
    notes
}

/// The rustdoc of a member, an enum value or a branch: its text from the doc block.
pub fn member_rustdoc(text: Option<&str>) -> String {
    text.map(|t| comment_safe(markdown(t))).unwrap_or_default()
}

/// A tagged section as Markdown: `Tag: text`; examples are literal text.
pub fn section(tag: &str, text: &str) -> String {
    match tag {
        "" => section_body(tag, text),
        _ => labelled(&format!("{tag}:"), section_body(tag, text)),
    }
}

/// A section's text as Markdown: literal for examples.
pub fn section_body(tag: &str, text: &str) -> String {
    if tag.starts_with("Example") {
        example(text)
    } else {
        markdown(text)
    }
}

/// `label body`, or the label on a line of its own when the body starts with a
/// block (a list or a fence) that must start a line.
pub fn labelled(label: &str, body: String) -> String {
    if body.starts_with("```") || list_marker(body.lines().next().unwrap_or("")).is_some() {
        format!("{label}\n\n{body}")
    } else {
        format!("{label} {body}")
    }
}

/// `- head: text`, with the text's later lines indented under the item.
pub fn list_item(head: &str, text: &str) -> String {
    let text = markdown(text);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let mut out = if first.is_empty() {
        format!("- {head}")
    } else {
        format!("- {head}: {first}")
    };
    for line in lines {
        out.push('\n');
        if !line.is_empty() {
            out.push_str("  ");
            out.push_str(line);
        }
    }
    out
}

/// An example section: literal, unless it already marks its literal parts with `::`.
fn example(text: &str) -> String {
    if text.lines().any(|l| l.trim_end().ends_with("::")) {
        return markdown(text);
    }
    // The parser trimmed the section, and with it the first line's indentation; the
    // other lines keep theirs, which their least indented line shows.
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines
        .iter()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| indentation(l))
        .min()
        .unwrap_or(0);
    let mut out = String::from("```text\n");
    for (i, line) in lines.iter().enumerate() {
        let line = if i == 0 {
            line
        } else {
            line.get(tail..).unwrap_or("")
        };
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str("```");
    out
}

fn fence(lines: &[&str], indent: usize) -> String {
    let mut out = String::from("```text\n");
    for line in lines {
        out.push_str(line.get(indent..).unwrap_or("").trim_end());
        out.push('\n');
    }
    out.push_str("```");
    out
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The width of a list item's marker with its space (`- ` → 2, `10. ` → 4).
fn list_marker(line: &str) -> Option<usize> {
    let rest = line.trim_start();
    if rest.starts_with("- ") || rest.starts_with("* ") {
        return Some(indentation(line) + 2);
    }
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    (digits > 0 && rest[digits..].starts_with(". ")).then(|| indentation(line) + digits + 2)
}

/// QAPI doc text as Markdown.
pub fn markdown(text: &str) -> String {
    // Most texts are one plain line, which the conversion below leaves as it is.
    if !text.contains(['\n', '@', '`']) && !text.starts_with(char::is_whitespace) {
        let line = text.trim_end();
        if !line.is_empty() && !line.ends_with("::") && line != ":" {
            return line.to_owned();
        }
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::new();
    let mut after_blank = true;
    let mut literal_follows = false;
    // The continuation indent of the list item being written, until a blank line.
    let mut item: Option<usize> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() {
            if out.last().is_some_and(|l| !l.is_empty()) {
                out.push(String::new());
            }
            after_blank = true;
            item = None;
            i += 1;
            continue;
        }
        let indent = indentation(line);
        if after_blank && ((literal_follows && indent > 0) || indent >= 4) {
            let mut end = i;
            while end < lines.len()
                && (lines[end].trim().is_empty() || indentation(lines[end]) >= indent)
            {
                end += 1;
            }
            while lines[end - 1].trim().is_empty() {
                end -= 1;
            }
            out.push(fence(&lines[i..end], indent));
            after_blank = false;
            literal_follows = false;
            i = end;
            continue;
        }
        let mut text = inline(line.trim_end());
        literal_follows = text.ends_with("::");
        if literal_follows {
            text.pop();
        }
        if let Some(width) = list_marker(&text) {
            item = Some(width);
        } else if let Some(width) = item {
            text = format!("{}{}", " ".repeat(width), text.trim_start());
        }
        // A line that was only `::` introduces the block and says nothing itself.
        if text.trim() != ":" {
            out.push(text);
        }
        after_blank = false;
        i += 1;
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out.join("\n")
}

/// Inline markup: `@name` → `` `name` ``, ``` ``x`` ``` → `` `x` ``.
fn inline(line: &str) -> String {
    let line = line.replace("``", "`");
    let mut out = String::with_capacity(line.len() + 8);
    let mut chars = line.char_indices().peekable();
    let mut prev: Option<char> = None;
    while let Some((at, c)) = chars.next() {
        let rest = &line[at + c.len_utf8()..];
        let starts_name = rest.starts_with(|n: char| n.is_ascii_alphabetic() || n == '_');
        if c == '@' && starts_name && !prev.is_some_and(|p| p.is_alphanumeric() || p == '`') {
            let name: String = rest
                .chars()
                .take_while(|n| n.is_ascii_alphanumeric() || *n == '-' || *n == '_')
                .collect();
            let name = name.trim_end_matches('-');
            out.push('`');
            out.push_str(name);
            out.push('`');
            for _ in 0..name.chars().count() {
                chars.next();
            }
            prev = Some('`');
            continue;
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_literals() {
        assert_eq!(
            markdown("Reads @count bytes from @handle."),
            "Reads `count` bytes from `handle`."
        );
        assert_eq!(markdown("mail user@example.org"), "mail user@example.org");
        assert_eq!(markdown("see @guest-file-open-"), "see `guest-file-open`-");
        assert_eq!(markdown("``on`` or ``off``"), "`on` or `off`");
        // Characters of several bytes, before and after a reference.
        assert_eq!(markdown("ӑ@x é ӑ"), "ӑ@x é ӑ");
        assert_eq!(markdown("— @x —"), "— `x` —");
        for plain in [
            "a plain line",
            "ends in a colon:",
            "- an item",
            "   x",
            "x \r",
            ":",
        ] {
            let lines: Vec<&str> = plain.lines().collect();
            assert_eq!(
                markdown(plain),
                markdown(&format!("{}\n", lines.join("\n")))
            );
        }
    }

    #[test]
    fn literal_blocks_are_fenced() {
        assert_eq!(
            markdown("For example::\n\n  -> { }\n  <- { }\n\nDone."),
            "For example:\n\n```text\n-> { }\n<- { }\n```\n\nDone."
        );
        assert_eq!(
            markdown("Text\n\n    code\n      more\n\nafter"),
            "Text\n\n```text\ncode\n  more\n```\n\nafter"
        );
        assert_eq!(markdown("Look\n\n::\n\n  x"), "Look\n\n```text\nx\n```");
    }

    #[test]
    fn list_continuations_are_indented() {
        assert_eq!(
            markdown("- one\ntwo\n- three\n      four\n\nend"),
            "- one\n  two\n- three\n  four\n\nend"
        );
        assert_eq!(markdown("1. one\ntwo"), "1. one\n   two");
    }

    #[test]
    fn sections() {
        assert_eq!(section("Returns", "the @count"), "Returns: the `count`");
        assert_eq!(
            section(
                "Example",
                "-> { \"execute\": \"x\" }\n<- { \"return\": {} }"
            ),
            "Example:\n\n```text\n-> { \"execute\": \"x\" }\n<- { \"return\": {} }\n```"
        );
        assert_eq!(
            section("Example", "-> x\n    <- y\n      z"),
            "Example:\n\n```text\n-> x\n<- y\n  z\n```"
        );
        assert_eq!(section("", "plain"), "plain");
        assert_eq!(list_item("`a`", "first\nsecond"), "- `a`: first\n  second");
    }

    #[test]
    fn definition_doc() {
        let doc = Doc {
            body: "Body.".into(),
            features: vec![("deprecated".into(), "Use @other.".into())],
            sections: vec![
                ("Since".into(), "1.0".into()),
                ("Note".into(), "careful".into()),
                ("TODO".into(), "x".into()),
            ],
            ..Doc::default()
        };
        let text = rustdoc(Some(&doc), &["No response on success.".into()]);
        let expected = "Body.\n\nFeatures:\n\n- `deprecated`: Use `other`.\n\nNote: careful\n\nNo response on success.\n\nSince: 1.0";
        assert_eq!(text, expected);
    }
}
