//! Documentation comments: a `##` block read line by line into its sections, with
//! the layout rules of QEMU 10.2's parser and its messages at its places.
//!
//! A block that starts with `# @SYMBOL:` documents that definition: an intro, then
//! member descriptions (`@name: text`, continuation lines indented), a `Features:`
//! line and feature descriptions, and tagged sections (`Returns:`, `Errors:`,
//! `Since:`, `TODO:`) or plain paragraphs. Any other block is free-form text. The
//! lines themselves must be at most 70 characters with two spaces between sentences
//! (see [`style`](super::style)), except inside literal blocks.

use super::style;
use super::{DocBlock, DocLine};
use crate::error::{Error, SourceInfo};
use crate::model::Doc;

/// What a section of a doc comment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The intro, or a paragraph of text after the descriptions.
    Plain,
    Member,
    Feature,
    Returns,
    Errors,
    Since,
    Todo,
}

impl Kind {
    /// The section's word in messages (`text required after 'Member:'`).
    fn word(self) -> &'static str {
        match self {
            Kind::Plain => "Plain",
            Kind::Member => "Member",
            Kind::Feature => "Feature",
            Kind::Returns => "Returns",
            Kind::Errors => "Errors",
            Kind::Since => "Since",
            Kind::Todo => "Todo",
        }
    }

    /// Its tag in the model's sections (`""` for plain paragraphs).
    fn tag(self) -> &'static str {
        match self {
            Kind::Returns => "Returns",
            Kind::Errors => "Errors",
            Kind::Since => "Since",
            Kind::Todo => "TODO",
            Kind::Plain | Kind::Member | Kind::Feature => "",
        }
    }
}

/// One section: its kind, the name it describes (members and features), its text,
/// and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub kind: Kind,
    pub name: String,
    pub text: String,
    pub line: u32,
}

/// A parsed doc comment, with the places its checks point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocComment {
    /// Where the block starts (its `##` line).
    pub info: SourceInfo,
    /// The definition documented; `None` for free-form documentation.
    pub symbol: Option<String>,
    /// Every section in order; the first is the intro (possibly empty).
    pub sections: Vec<Section>,
}

impl DocComment {
    /// The place of line `line` of the block's file.
    pub fn at(&self, line: u32) -> SourceInfo {
        SourceInfo {
            line,
            col: None,
            ..self.info.clone()
        }
    }

    /// The first section of kind `kind`.
    pub fn section(&self, kind: Kind) -> Option<&Section> {
        self.sections.iter().find(|s| s.kind == kind)
    }

    /// The description of member `name` or feature `name`.
    pub fn described(&self, kind: Kind, name: &str) -> bool {
        self.sections
            .iter()
            .any(|s| s.kind == kind && s.name == name)
    }

    /// The model's view: intro, descriptions, then the other sections in order.
    pub fn into_model(self) -> Doc {
        let mut doc = Doc {
            symbol: self.symbol,
            ..Doc::default()
        };
        for (i, s) in self.sections.into_iter().enumerate() {
            match s.kind {
                Kind::Plain if i == 0 => doc.body = s.text,
                Kind::Member => doc.members.push((s.name, s.text)),
                Kind::Feature => doc.features.push((s.name, s.text)),
                kind => doc.sections.push((kind.tag().to_owned(), s.text)),
            }
        }
        doc
    }

    /// Ends the comment: surrounding blank lines go, and every section but plain
    /// ones needs text.
    pub fn end(&mut self) -> Result<(), Error> {
        for s in &mut self.sections {
            let text = s.text.trim_matches('\n');
            if text.len() != s.text.len() {
                s.text = text.to_owned();
            }
        }
        match self
            .sections
            .iter()
            .find(|s| s.kind != Kind::Plain && s.text.is_empty())
        {
            Some(s) => Err(Error::at(
                &self.at(s.line),
                format!("text required after '{}:'", s.kind.word()),
            )),
            None => Ok(()),
        }
    }
}

/// Whether `c` is whitespace as Python's `str.isspace` (and so the `\s` of QEMU's
/// patterns) has it.
pub(super) fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\u{1c}'..=' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// How many whitespace characters `line` starts with, and their length in bytes.
fn leading_space(line: &str) -> (usize, usize) {
    let rest = line.trim_start_matches(is_space);
    let bytes = line.len() - rest.len();
    (line[..bytes].chars().count(), bytes)
}

/// `@NAME: ` at the start of `line`: the name, and the rest of the line.
fn at_name_colon(line: &str) -> Option<(&str, &str)> {
    let after = line.strip_prefix('@')?;
    let colon = after.find(':')?;
    Some((&after[..colon], after[colon + 1..].trim_start_matches(' ')))
}

/// A tag at the start of `line` (not followed by `::`, which is rST markup), and
/// the rest of the line.
fn tag(line: &str) -> Option<(&str, &str)> {
    const WORDS: [&str; 8] = [
        "Returns", "Errors", "Since", "Notes", "Note", "Examples", "Example", "TODO",
    ];
    WORDS.iter().find_map(|word| {
        let after = line.strip_prefix(word)?;
        if after.starts_with("::") {
            return None;
        }
        let rest = after.strip_prefix(':')?;
        Some((*word, rest.trim_start_matches(' ')))
    })
}

/// The lines of a block as QEMU's lexer hands them to its doc parser, one at a time.
struct Lines<'a> {
    block: &'a DocBlock,
    /// The current line, an index into `block.lines`.
    pos: usize,
    info: &'a SourceInfo,
    /// The error the block ends with when it is not closed.
    unclosed: Option<&'a Error>,
    /// Inside a `::` literal block (or a qmp-example), where the style rules are
    /// off; and its indentation, once known.
    literal: bool,
    literal_indent: usize,
}

impl<'a> Lines<'a> {
    fn current(&self) -> &'a DocLine {
        &self.block.lines[self.pos]
    }

    /// An error at the current line and column.
    fn error(&self, message: impl Into<String>) -> Error {
        let line = self.current();
        Error::at(
            &SourceInfo {
                line: line.line,
                col: Some(line.col),
                ..self.info.clone()
            },
            message,
        )
    }

    /// An error at the current line, without a column.
    fn sem_error(&self, message: impl Into<String>) -> Error {
        Error::at(&self.line_info(), message)
    }

    fn line_info(&self) -> SourceInfo {
        SourceInfo {
            line: self.current().line,
            col: None,
            ..self.info.clone()
        }
    }

    /// Moves to the next line and reads it: `None` at the closing `##`, the text
    /// after `# ` (without trailing space) otherwise, checked for style.
    fn next(&mut self) -> Result<Option<&'a str>, Error> {
        self.pos += 1;
        if self.pos >= self.block.lines.len() {
            // The block is not closed: whatever follows it is the error.
            self.pos = self.block.lines.len() - 1;
            return Err(self
                .unclosed
                .cloned()
                .unwrap_or_else(|| self.error("documentation comment must end with '##'")));
        }
        let block = self.block;
        let text = block.text_of(self.current());
        if text.starts_with("##") {
            if text != "##" {
                return Err(self.error("junk after '##' at end of documentation comment"));
            }
            self.literal = false;
            return Ok(None);
        }
        if text == "#" {
            return Ok(Some(""));
        }
        let Some(line) = text.strip_prefix("# ") else {
            return Err(self.error("missing space after #"));
        };
        let line = line.trim_end_matches(is_space);
        if style::opens_literal(line) {
            self.literal = true;
            self.literal_indent = 0;
        } else if self.literal && !line.is_empty() {
            let indent = leading_space(line).0;
            if self.literal_indent == 0 {
                self.literal_indent = indent;
            } else if indent < self.literal_indent {
                // rST directives end where the indentation decreases.
                self.literal = false;
            }
        }
        if !self.literal {
            let current = self.current();
            style::check(line, block.indent_of(current), text).map_err(|(col, message)| {
                Error::at(
                    &SourceInfo {
                        line: current.line,
                        col: Some(col.unwrap_or(current.col)),
                        ..self.info.clone()
                    },
                    message,
                )
            })?;
        }
        Ok(Some(line))
    }
}

/// The sections of a definition doc as they are built.
struct Builder {
    sections: Vec<Section>,
}

impl Builder {
    fn append(&mut self, line: &str) {
        let text = &mut self.sections.last_mut().expect("the intro is there").text;
        text.push_str(line);
        text.push('\n');
    }

    /// A paragraph of plain text: the current section when it is plain, else a new
    /// one.
    fn ensure_plain(&mut self, line: u32) {
        let last = self.sections.last_mut().expect("the intro is there");
        if last.kind == Kind::Plain {
            if last.text.is_empty() {
                last.line = line;
            }
            last.text.push('\n');
        } else {
            self.sections.push(Section {
                kind: Kind::Plain,
                name: String::new(),
                text: String::new(),
                line,
            });
        }
    }

    fn tagged(&mut self, kind: Kind, lines: &Lines<'_>) -> Result<(), Error> {
        if matches!(kind, Kind::Returns | Kind::Errors | Kind::Since)
            && self.sections.iter().any(|s| s.kind == kind)
        {
            return Err(lines.sem_error(format!("duplicated '{}' section", kind.word())));
        }
        self.sections.push(Section {
            kind,
            name: String::new(),
            text: String::new(),
            line: lines.current().line,
        });
        Ok(())
    }

    fn description(&mut self, kind: Kind, name: &str, lines: &Lines<'_>) -> Result<(), Error> {
        if name.is_empty() {
            return Err(lines.sem_error("invalid parameter name"));
        }
        if self
            .sections
            .iter()
            .any(|s| s.kind == kind && s.name == name)
        {
            return Err(lines.sem_error(format!("'{name}' parameter name duplicated")));
        }
        self.sections.push(Section {
            kind,
            name: name.to_owned(),
            text: String::new(),
            line: lines.current().line,
        });
        Ok(())
    }

    fn has(&self, kind: Kind) -> bool {
        self.sections.iter().any(|s| s.kind == kind)
    }
}

/// After a description's or tagged section's first line: its continuation lines,
/// which must be indented (the first one's indentation holds for the rest, until a
/// line that is not indented after a blank one). Returns the line after them.
fn indented<'a>(lines: &mut Lines<'a>, b: &mut Builder) -> Result<Option<&'a str>, Error> {
    let mut line = lines.next()?;
    while line == Some("") {
        b.append("");
        line = lines.next()?;
    }
    let Some(first) = line else { return Ok(None) };
    let (indent, bytes) = leading_space(first);
    if indent == 0 {
        return Ok(Some(first));
    }
    b.append(&first[bytes..]);
    let mut after_first = false;
    loop {
        let Some(line) = lines.next()? else {
            return Ok(None);
        };
        if at_name_colon(line).is_some() {
            return Ok(Some(line));
        }
        let (cur, _) = leading_space(line);
        if !line.is_empty() && cur < indent {
            // QEMU's parser accepts a de-indent after any line but the first
            // continuation line: there it ends the section.
            if after_first {
                return Ok(Some(line));
            }
            return Err(lines.error(format!(
                "unexpected de-indent (expected at least {indent} spaces)"
            )));
        }
        b.append(skip_chars(line, indent));
        after_first = true;
    }
}

/// `line` without its first `n` characters (or empty).
fn skip_chars(line: &str, n: usize) -> &str {
    match line.char_indices().nth(n) {
        Some((at, _)) => &line[at..],
        None => "",
    }
}

/// A paragraph: lines up to a blank one (returned) or the end.
fn paragraph<'a>(lines: &mut Lines<'a>, b: &mut Builder) -> Result<Option<&'a str>, Error> {
    loop {
        match lines.next()? {
            None => return Ok(None),
            Some("") => return Ok(Some("")),
            Some(line) => b.append(line),
        }
    }
}

/// Parses one `##` block found at `info`. `unclosed` is the error a block that is
/// not closed ends with (what follows it, as the syntax reader found). Errors of
/// the block's end ([`DocComment::end`]) are left to the caller, which reports them
/// after anything wrong with what follows the block, as QEMU does.
pub fn parse_doc(
    block: &DocBlock,
    info: &SourceInfo,
    unclosed: Option<&Error>,
) -> Result<DocComment, Error> {
    let mut lines = Lines {
        block,
        pos: 0,
        info,
        unclosed,
        literal: false,
        literal_indent: 0,
    };
    if block.text_of(&block.lines[0]) != "##" {
        return Err(lines.error("junk after '##' at start of documentation comment"));
    }
    let mut b = Builder {
        sections: vec![Section {
            kind: Kind::Plain,
            name: String::new(),
            text: String::new(),
            line: info.line,
        }],
    };
    let first = lines.next()?;
    let symbol = match first {
        Some(line) if line.starts_with('@') => {
            let Some(symbol) = line.strip_suffix(':') else {
                return Err(lines.error("line should end with ':'"));
            };
            if symbol.len() == 1 {
                return Err(lines.error("name required after '@'"));
            }
            let symbol = symbol[1..].to_owned();
            definition(&mut lines, &mut b)?;
            Some(symbol)
        }
        mut line => {
            // Free-form documentation.
            b.ensure_plain(lines.current().line);
            while let Some(text) = line {
                if let Some((name, _)) = at_name_colon(text) {
                    return Err(
                        lines.error(format!("'@{name}:' not allowed in free-form documentation"))
                    );
                }
                b.append(text);
                line = lines.next()?;
            }
            None
        }
    };
    Ok(DocComment {
        info: info.clone(),
        symbol,
        sections: b.sections,
    })
}

/// The lines of a definition doc after its `@SYMBOL:` line.
fn definition(lines: &mut Lines<'_>, b: &mut Builder) -> Result<(), Error> {
    let mut line = lines.next()?;
    let mut no_more_args = false;
    loop {
        while line == Some("") {
            line = lines.next()?;
        }
        let Some(text) = line else { return Ok(()) };
        if text == "Features:" {
            if b.has(Kind::Feature) {
                return Err(lines.error("duplicated 'Features:' line"));
            }
            line = lines.next()?;
            while line == Some("") {
                line = lines.next()?;
            }
            while let Some((name, rest)) = line.and_then(at_name_colon) {
                b.description(Kind::Feature, name, lines)?;
                if !rest.is_empty() {
                    b.append(rest);
                }
                line = indented(lines, b)?;
            }
            if !b.has(Kind::Feature) {
                return Err(lines.error("feature descriptions expected"));
            }
            no_more_args = true;
        } else if let Some((name, _)) = at_name_colon(text) {
            if no_more_args {
                return Err(lines.error(format!("description of '@{name}:' follows a section")));
            }
            while let Some((name, rest)) = line.and_then(at_name_colon) {
                b.description(Kind::Member, name, lines)?;
                if !rest.is_empty() {
                    b.append(rest);
                }
                line = indented(lines, b)?;
            }
            no_more_args = true;
        } else if let Some((word, rest)) = tag(text) {
            let kind = match word {
                "Returns" => Kind::Returns,
                "Errors" => Kind::Errors,
                "Since" => Kind::Since,
                "TODO" => Kind::Todo,
                "Note" | "Notes" => {
                    return Err(lines.error(format!(
                        "The '{word}' section is no longer supported. Please use rST's \
                         '.. note::' or '.. admonition:: notes' directives, or another \
                         suitable admonition instead."
                    )))
                }
                _ => {
                    return Err(lines.error(format!(
                        "The '{word}' section is no longer supported. Please use the \
                         '.. qmp-example::' directive, or other suitable markup instead."
                    )))
                }
            };
            b.tagged(kind, lines)?;
            if !rest.is_empty() {
                b.append(rest);
            }
            line = indented(lines, b)?;
            no_more_args = true;
        } else {
            b.ensure_plain(lines.current().line);
            b.append(text);
            line = paragraph(lines, b)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn block(text: &str) -> DocBlock {
        let mut start = 0;
        let lines: Vec<_> = text
            .split('\n')
            .enumerate()
            .map(|(i, l)| {
                let line = (start, start + l.len(), i as u32 + 1, 1);
                start += l.len() + 1;
                line
            })
            .collect();
        DocBlock::new(text, 0, text.len(), lines, (1, 1), true)
    }

    fn parse(text: &str) -> Result<DocComment, String> {
        let info = SourceInfo {
            file: Arc::new(PathBuf::from("t.json")),
            line: 1,
            col: None,
            parent: None,
            defn: None,
        };
        let mut doc = parse_doc(&block(text), &info, None).map_err(|e| e.to_string())?;
        doc.end().map_err(|e| e.to_string())?;
        Ok(doc)
    }

    fn doc(text: &str) -> Doc {
        parse(text).unwrap().into_model()
    }

    #[test]
    fn definition_doc() {
        let d = doc("##\n# @guest-file-read:\n#\n# Read from a file.\n#\n# @handle: the handle\n# @count: how many\n#     bytes at most\n#\n# Returns: what was read\n#\n# Errors:\n#     - if it fails\n#\n# Since: 0.15.0\n##");
        assert_eq!(d.symbol.as_deref(), Some("guest-file-read"));
        assert_eq!(d.body, "Read from a file.");
        assert_eq!(d.member("handle"), Some("the handle"));
        assert_eq!(d.member("count"), Some("how many\nbytes at most"));
        assert_eq!(d.section("Returns"), Some("what was read"));
        assert_eq!(d.section("Errors"), Some("- if it fails"));
        assert_eq!(d.section("Since"), Some("0.15.0"));
    }

    #[test]
    fn sections_and_paragraphs() {
        let d = doc("##\n# @Foo:\n#\n# Intro.\n#\n# More intro.\n#\n# @a: x\n#\n# Features:\n#\n# @deprecated: old\n#\n# Later text\n# goes on.\n#\n# TODO: fix\n#\n# .. qmp-example::\n#\n#    -> { \"execute\": \"a-rather-long-command-name\", \"arguments\": { \"x\": 1 } }\n##");
        assert_eq!(d.body, "Intro.\n\nMore intro.");
        assert_eq!(
            d.features,
            vec![("deprecated".to_owned(), "old".to_owned())]
        );
        assert_eq!(
            d.sections,
            [
                ("".to_owned(), "Later text\ngoes on.".to_owned()),
                ("TODO".to_owned(), "fix".to_owned()),
                (
                    "".to_owned(),
                    ".. qmp-example::\n\n   -> { \"execute\": \"a-rather-long-command-name\", \"arguments\": { \"x\": 1 } }"
                        .to_owned()
                ),
            ]
        );
    }

    #[test]
    fn continuation_lines() {
        // Any indentation, the first continuation line's holding for the rest; a
        // blank line inside; a de-indent after the first continuation line ends
        // the section.
        let d = doc("##\n# @Foo:\n#\n# @a:\n#   one\n#\n#   two\n#     deeper\n# @b: x\n#       y\n#       z\n# Plain.\n##");
        assert_eq!(d.member("a"), Some("one\n\ntwo\n  deeper"));
        assert_eq!(d.member("b"), Some("x\ny\nz"));
        assert_eq!(d.sections, [("".to_owned(), "Plain.".to_owned())]);
    }

    #[test]
    fn free_form() {
        let d = doc("##\n# = Title\n#\n# Text @ref: here\n# * item\n##");
        assert_eq!(d.symbol, None);
        assert_eq!(d.body, "= Title\n\nText @ref: here\n* item");
    }

    #[test]
    fn errors() {
        let cases = [
            ("## x\n##", "1:1: junk after '##' at start of documentation comment"),
            ("##\n#x\n##", "2:1: missing space after #"),
            ("##\n# @foo\n##", "2:1: line should end with ':'"),
            ("##\n# @:\n##", "2:1: name required after '@'"),
            ("##\n# @a:\n# @b: x\n# @b: y\n##", "4: 'b' parameter name duplicated"),
            ("##\n# @a:\n# @: x\n##", "3: invalid parameter name"),
            ("##\n# @a:\n# Since: 1\n#\n# Since: 2\n##", "5: duplicated 'Since' section"),
            ("##\n# @a:\n# Errors: 1\n#\n# Errors: 2\n##", "5: duplicated 'Errors' section"),
            ("##\n# @a:\n# Since: 1\n# @b: x\n##", "4:1: description of '@b:' follows a section"),
            ("##\n# @a:\n# @b:\n# @c: x\n##", "3: text required after 'Member:'"),
            ("##\n# @a:\n# Returns:\n##", "3: text required after 'Returns:'"),
            ("##\n# @a:\n# TODO:\n##", "3: text required after 'Todo:'"),
            ("##\n# @a:\n# Features:\n#\n# text\n##", "5:1: feature descriptions expected"),
            ("##\n# @a:\n# Features:\n# @f: x\n# Features:\n##", "5:1: duplicated 'Features:' line"),
            ("##\n# text\n# @c: y\n##", "3:1: '@c:' not allowed in free-form documentation"),
            ("##\n# @a:\n# @b: x\n#   y\n#  z\n##", "5:1: unexpected de-indent (expected at least 2 spaces)"),
            ("##\n# @a:\n##x", "3:1: junk after '##' at end of documentation comment"),
            ("##\n# @a:\n# Note: x\n##", "3:1: The 'Note' section is no longer supported. Please use rST's '.. note::' or '.. admonition:: notes' directives, or another suitable admonition instead."),
            ("##\n# @a:\n# Examples:\n##", "3:1: The 'Examples' section is no longer supported. Please use the '.. qmp-example::' directive, or other suitable markup instead."),
        ];
        for (text, expected) in cases {
            assert_eq!(
                parse(text).unwrap_err(),
                format!("t.json:{expected}"),
                "{text}"
            );
        }
    }

    #[test]
    fn what_is_not_a_section() {
        // Tags followed by `::` are rST; tags inside a paragraph are text.
        let d = doc("##\n# @a:\n#\n# Returns:: x\n# Since: 1\n##");
        assert_eq!(d.body, "Returns:: x\nSince: 1");
        assert!(d.sections.is_empty());
    }
}
