//! One file's text to values: the pest grammar, and QEMU's messages for what it rejects.

use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;
use pest::Parser as _;

use super::{DocBlock, Item, Node, Value};

#[derive(pest_derive::Parser)]
#[grammar = "parse/grammar.pest"]
struct Grammar;

/// Deeper nesting than this is refused before pest sees it, so that no input can
/// exhaust the stack. Real schemas nest four or five levels.
pub const MAX_DEPTH: usize = 128;

/// A syntax error: 1-based line and column (tabs to the next multiple of 8, as QEMU
/// counts them) and QEMU's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: u32,
    pub col: u32,
    pub message: String,
    /// The error is in the token right after the last item read, and is one of
    /// the lexer's: QEMU meets it before it acts on that item (it reads the next
    /// token first), so the item is not acted on.
    pub early: bool,
}

/// What a file's text reads as: its items up to the first error, and the error.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Read {
    pub items: Vec<Item>,
    pub error: Option<SyntaxError>,
}

/// Parses the text of one schema file into its top-level items: with the
/// hand-written reader when it takes the file (see scan.rs), else with pest.
pub fn parse(src: &str) -> Read {
    if let Some(items) = super::scan::parse(src) {
        return Read { items, error: None };
    }
    if let Err(e) = check_depth(src) {
        return Read {
            items: Vec::new(),
            error: Some(e),
        };
    }
    parse_with_pest(src)
}

/// Parses with the pest grammar, and walks its parse tree: the whole file at once,
/// or, when that fails, item by item to the error.
pub fn parse_with_pest(src: &str) -> Read {
    let Ok(mut pairs) = Grammar::parse(Rule::schema, src) else {
        return parse_items(src);
    };
    let schema = pairs
        .next()
        .expect("the schema rule matched, so it has a pair");
    let mut at = Locator::new(src);
    let mut read = Read::default();
    for pair in schema.into_inner() {
        if pair.as_rule() == Rule::EOI {
            break;
        }
        match item(pair, &mut at, 0) {
            Ok(item) => read.items.push(item),
            Err(e) => {
                read.error = Some(e);
                break;
            }
        }
    }
    read
}

/// Reads `src` item by item up to its first error. A doc block that is not closed
/// is kept, with the lines it has, as QEMU's parser reads them before it finds
/// the end missing.
fn parse_items(src: &str) -> Read {
    let mut at = Locator::new(src);
    let mut read = Read::default();
    let mut offset = 0;
    loop {
        let rest = &src[offset..];
        if Grammar::parse(Rule::tail, rest).is_ok() {
            return read;
        }
        let start = offset + blanks(rest);
        match Grammar::parse(Rule::one, rest) {
            Ok(mut pairs) => {
                let one = pairs.next().expect("the rule matched");
                let end = one.as_span().end();
                let pair = one.into_inner().next().expect("one item");
                match item(pair, &mut at, offset) {
                    Ok(item) => read.items.push(item),
                    Err(e) => {
                        read.error = Some(e);
                        return read;
                    }
                }
                offset += end;
            }
            Err(e) => {
                let pos = offset + error_pos(&e);
                let mut error = if src[start..].starts_with("##") {
                    read.items
                        .push(Item::Doc(unclosed_doc(src, start, &mut at)));
                    let end = doc_end(src, start);
                    lex_error(src, end).unwrap_or_else(|| {
                        located(src, end, "documentation comment must end with '##'")
                    })
                } else {
                    explain(src, pos, &e)
                };
                error.early = error.early && at_token(src, start, &error);
                read.error = Some(error);
                return read;
            }
        }
    }
}

/// Whether `error` is at the token that starts at `start`.
fn at_token(src: &str, start: usize, error: &SyntaxError) -> bool {
    let (line, col) = Locator::new(src).at(start);
    error.line == line && error.col == col
}

/// The length of the blanks and plain comments at the start of `text`.
fn blanks(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t'..=b'\r' => i += 1,
            b'#' if bytes.get(i + 1) != Some(&b'#') => i = memchr_newline(bytes, i),
            _ => match text[i..].chars().next() {
                Some(c) if super::doc::is_space(c) => i += c.len_utf8(),
                _ => return i,
            },
        }
    }
    i
}

/// The offset after the last line of a doc block that starts at `start` and is not
/// closed: where the first thing that is not a `#` line starts.
fn doc_end(src: &str, start: usize) -> usize {
    let bytes = src.as_bytes();
    let mut i = memchr_newline(bytes, start);
    loop {
        let gap = i + doc_gap(&src[i..]);
        if bytes.get(gap) == Some(&b'#') {
            i = memchr_newline(bytes, gap);
        } else {
            return gap;
        }
    }
}

/// The blanks at the start of `text` (no comments: inside a doc block, a comment
/// is a line of it).
fn doc_gap(text: &str) -> usize {
    let skipped = text
        .trim_start_matches(|c: char| matches!(c, ' ' | '\t'..='\r') || super::doc::is_space(c));
    text.len() - skipped.len()
}

/// The lines of the doc block at `start`, which is not closed.
fn unclosed_doc(src: &str, start: usize, at: &mut Locator<'_>) -> DocBlock {
    let bytes = src.as_bytes();
    let end = doc_end(src, start);
    let place = at.at(start);
    let mut lines = Vec::new();
    let mut i = start;
    let mut last = start;
    while i < end {
        let eol = memchr_newline(bytes, i);
        let (line, col) = at.at(i);
        lines.push((i, eol, line, col));
        last = eol;
        i = eol + doc_gap(&src[eol..]);
    }
    DocBlock::new(src, start, last, lines, place, false)
}

/// Lines and QEMU columns (see [`column`]) of places in the text, asked for in
/// increasing order, as the walk of the parse tree does: each character is looked
/// at once, where asking pest and then [`column`] for each place would scan its line
/// again and again.
pub(super) struct Locator<'s> {
    src: &'s str,
    offset: usize,
    line: u32,
    col: u32,
}

impl<'s> Locator<'s> {
    pub(super) fn new(src: &'s str) -> Self {
        Locator {
            src,
            offset: 0,
            line: 1,
            col: 1,
        }
    }

    pub(super) fn at(&mut self, offset: usize) -> (u32, u32) {
        if offset < self.offset {
            *self = Locator::new(self.src);
        }
        // Characters, not bytes, count: continuation bytes of UTF-8 do not.
        for &b in &self.src.as_bytes()[self.offset..offset] {
            match b {
                b'\n' => {
                    self.line += 1;
                    self.col = 1;
                }
                b'\t' => self.col = (self.col + 7) % 8 + 1,
                0x80..=0xbf => {}
                _ => self.col += 1,
            }
        }
        self.offset = offset;
        (self.line, self.col)
    }
}

/// QEMU's column: 1-based, a tab advancing to the next multiple of 8 plus 1.
fn column(src: &str, offset: usize) -> u32 {
    let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    let mut col = 1u32;
    for ch in src[line_start..offset].chars() {
        col = if ch == '\t' {
            (col + 7) % 8 + 1
        } else {
            col + 1
        };
    }
    col
}

/// A top-level item; `base` is where the text pest parsed starts in the file.
fn item(pair: Pair<'_, Rule>, at: &mut Locator<'_>, base: usize) -> Result<Item, SyntaxError> {
    match pair.as_rule() {
        Rule::doc_block => Ok(Item::Doc(doc_block(pair, at, base))),
        _ => Ok(Item::Value(node(pair, at, base)?)),
    }
}

fn node(pair: Pair<'_, Rule>, at: &mut Locator<'_>, base: usize) -> Result<Node, SyntaxError> {
    let (line, col) = at.at(base + pair.as_span().start());
    let value = match pair.as_rule() {
        Rule::object => {
            let mut members: Vec<(String, u32, u32, Node)> = Vec::new();
            for member in pair.into_inner().filter(|p| p.as_rule() == Rule::member) {
                let mut inner = member.into_inner();
                let key = node(
                    inner.next().expect("a member starts with its key"),
                    at,
                    base,
                )?;
                let _colon = inner.next();
                let value_pair = inner.next().expect("a member ends with its value");
                let Value::Str(key_text) = key.value else {
                    unreachable!("the grammar makes keys strings")
                };
                if members.iter().any(|m| m.0 == key_text) {
                    let (line, col) = at.at(base + value_pair.as_span().start());
                    return Err(SyntaxError {
                        line,
                        col,
                        message: format!("duplicate key '{key_text}'"),
                        early: false,
                    });
                }
                let value = node(value_pair, at, base)?;
                members.push((key_text, key.line, key.col, value));
            }
            Value::Dict(members)
        }
        Rule::array => Value::List(
            pair.into_inner()
                .filter(|p| !matches!(p.as_rule(), Rule::lbracket | Rule::rbracket | Rule::comma))
                .map(|p| node(p, at, base))
                .collect::<Result<_, _>>()?,
        ),
        Rule::string => {
            let chars = pair.into_inner().find(|p| p.as_rule() == Rule::chars);
            Value::Str(chars.map_or_else(String::new, |c| c.as_str().replace("\\\\", "\\")))
        }
        Rule::boolean => Value::Bool(pair.as_str() == "true"),
        rule => unreachable!("not a value rule: {rule:?}"),
    };
    Ok(Node { value, line, col })
}

fn doc_block(pair: Pair<'_, Rule>, at: &mut Locator<'_>, base: usize) -> DocBlock {
    let span = pair.as_span();
    let place = at.at(base + span.start());
    let src = at.src;
    let lines: Vec<_> = pair
        .into_inner()
        .map(|p| {
            let span = p.as_span();
            let (line, col) = at.at(base + span.start());
            (base + span.start(), base + span.end(), line, col)
        })
        .collect();
    DocBlock::new(
        src,
        base + span.start(),
        base + span.end(),
        lines,
        place,
        true,
    )
}

/// Refuses input nested deeper than [`MAX_DEPTH`], scanning as the lexer would
/// (strings and comments do not count).
fn check_depth(src: &str) -> Result<(), SyntaxError> {
    let bytes = src.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                i = memchr_newline(bytes, i);
                continue;
            }
            b'\'' => {
                i += 1;
                while i < bytes.len() && !matches!(bytes[i], b'\'' | b'\n') {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    let line = 1 + bytes[..i].iter().filter(|&&b| b == b'\n').count() as u32;
                    return Err(SyntaxError {
                        line,
                        col: column(src, i),
                        message: format!("nesting deeper than {MAX_DEPTH} levels"),
                        early: false,
                    });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

fn memchr_newline(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

/// Where pest failed, relative to the text it was given.
fn error_pos(error: &pest::error::Error<Rule>) -> usize {
    match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((p, _)) => p,
    }
}

/// An error at `pos`. At the end of the text QEMU's lexer is at the last newline
/// (it adds one to a file without), so that is where it points.
fn located(src: &str, pos: usize, message: impl Into<String>) -> SyntaxError {
    let pos = if pos == src.len() && src.ends_with('\n') {
        pos - 1
    } else {
        pos
    };
    SyntaxError {
        line: 1 + src[..pos].matches('\n').count() as u32,
        col: column(src, pos),
        message: message.into(),
        early: false,
    }
}

/// What QEMU's lexer says of the token at `pos`, if it refuses it: a bad string or
/// a stray word. Lexer errors are `early` (see [`SyntaxError::early`]).
fn lex_error(src: &str, pos: usize) -> Option<SyntaxError> {
    let rest = &src[pos..];
    let first = rest.chars().next()?;
    let message = if first == '\'' {
        let mut chars = rest[1..].chars();
        loop {
            match chars.next() {
                None | Some('\n') => break "missing terminating \"'\"".to_owned(),
                Some('\\') => match chars.next() {
                    None | Some('\n') => break "missing terminating \"'\"".to_owned(),
                    Some('\\') => {}
                    Some(c) => break format!("unknown escape \\{c}"),
                },
                Some('\'') => return None,
                Some(c) if !(' '..='~').contains(&c) => {
                    break "funny character in string".to_owned()
                }
                Some(_) => {}
            }
        }
    } else {
        let structural = "{}[]:,#".contains(first) || super::doc::is_space(first);
        if structural || rest.starts_with("true") || rest.starts_with("false") {
            return None;
        }
        let word: String = rest
            .chars()
            .take_while(|&c| !("[]{}:,'".contains(c) || super::doc::is_space(c)))
            .collect();
        format!("stray '{word}'")
    };
    Some(SyntaxError {
        early: true,
        ..located(src, pos, message)
    })
}

/// Turns pest's "expected one of these rules here" into the message QEMU's
/// hand-written parser gives for the same input. The lexer reads the token there
/// before the parser looks at it, so its errors come first.
fn explain(src: &str, pos: usize, error: &pest::error::Error<Rule>) -> SyntaxError {
    let token = open_string_start(src, pos).unwrap_or(pos);
    if let Some(e) = lex_error(src, token) {
        return e;
    }
    let positives = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let has = |r: Rule| positives.contains(&r);
    let message = if has(Rule::doc_line) || has(Rule::doc_close) {
        "documentation comment must end with '##'"
    } else if has(Rule::colon) {
        "expected ':'"
    } else if has(Rule::quote) && !has(Rule::lbrace) && has(Rule::rbrace) {
        "expected string or '}'"
    } else if has(Rule::quote) && !has(Rule::lbrace) {
        "expected string"
    } else if has(Rule::comma) && has(Rule::rbrace) {
        "expected ',' or '}'"
    } else if has(Rule::comma) && has(Rule::rbracket) {
        "expected ',' or ']'"
    } else if has(Rule::rbracket) {
        "expected '{', '[', ']', string, or boolean"
    } else {
        "expected '{', '[', string, or boolean"
    };
    located(src, pos, message)
}

/// If `pos` is inside a string on its line, the offset of that string's opening quote.
fn open_string_start(src: &str, pos: usize) -> Option<usize> {
    let line_start = src[..pos].rfind('\n').map_or(0, |i| i + 1);
    let bytes = src.as_bytes();
    let mut open = None;
    let mut i = line_start;
    while i < pos {
        match (open, bytes[i]) {
            (None, b'#') => return None,
            (None, b'\'') => open = Some(i),
            (Some(_), b'\\') => i += 1,
            (Some(_), b'\'') => open = None,
            _ => {}
        }
        i += 1;
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        let e = parse(src).error.expect("an error");
        format!("{}:{}: {}", e.line, e.col, e.message)
    }

    #[test]
    fn values() {
        let read = parse("# c\n{ 'a': 'x\\\\y', 'b': [ true, false, {} ] }\n");
        assert_eq!(read.error, None);
        let items = read.items;
        assert_eq!(items.len(), 1);
        let Item::Value(Node {
            value: Value::Dict(members),
            line: 2,
            col: 1,
        }) = &items[0]
        else {
            panic!("{items:?}")
        };
        assert_eq!(members[0].0, "a");
        assert_eq!(members[0].3.value, Value::Str("x\\y".into()));
        assert_eq!(members[1].2, 16);
    }

    #[test]
    fn doc_blocks() {
        let items = parse("##\n# @Foo:\n#\n  # text\n##\n{ 'struct': 'Foo' }\n").items;
        let Item::Doc(doc) = &items[0] else { panic!() };
        assert_eq!(
            doc.lines.iter().map(|l| doc.text_of(l)).collect::<Vec<_>>(),
            ["##", "# @Foo:", "#", "# text", "##"]
        );
        assert_eq!((doc.lines[3].col, doc.indent_of(&doc.lines[3])), (3, "  "));
    }

    #[test]
    fn messages() {
        assert_eq!(err("{ 'a' 'b' }"), "1:7: expected ':'");
        assert_eq!(err("{ 'a': 'b' 'c' }"), "1:12: expected ',' or '}'");
        assert_eq!(err("{ 'a': 'b', }"), "1:13: expected string");
        assert_eq!(err("{ : }"), "1:3: expected string or '}'");
        assert_eq!(err("{ 'a': [ 'b' 'c' ] }"), "1:14: expected ',' or ']'");
        assert_eq!(
            err("{ 'a': [ : ] }"),
            "1:10: expected '{', '[', ']', string, or boolean"
        );
        assert_eq!(
            err("{ 'a': : }"),
            "1:8: expected '{', '[', string, or boolean"
        );
        assert_eq!(err("{ 'a': 1 }"), "1:8: stray '1'");
        assert_eq!(err("{ 'a': \"b\" }"), "1:8: stray '\"b\"'");
        assert_eq!(err("{ 'a': x#y }"), "1:8: stray 'x#y'");
        assert_eq!(err("{ 'a': 'b\n"), "1:8: missing terminating \"'\"");
        assert_eq!(err("{ 'a': 'b\\n' }"), "1:8: unknown escape \\n");
        assert_eq!(err("{ 'a': 'b\\é' }"), "1:8: unknown escape \\é");
        assert_eq!(err("{ 'a': 'b\u{1}' }"), "1:8: funny character in string");
        assert_eq!(err("{ 'a': 'é' }"), "1:8: funny character in string");
        assert_eq!(err("\t{ 'a' }"), "1:7: expected ':'");
        assert_eq!(
            err("##\n# @x:\n{}"),
            "3:1: documentation comment must end with '##'"
        );
        // The lexer reads a token before the parser looks at it.
        assert_eq!(err("{ 'a' 'b\n"), "1:7: missing terminating \"'\"");
        // Python's whitespace is blank between tokens.
        assert_eq!(parse("{\u{a0}'a':\u{3000}'b' }\u{1c}").error, None);
    }

    #[test]
    fn the_end_is_at_the_last_newline() {
        assert_eq!(err("{ 'key': [ 'value' ]\n"), "1:21: expected ',' or '}'");
        assert_eq!(err("{ 'key': [ 'value' ]"), "1:21: expected ',' or '}'");
        assert_eq!(err("{ 'a'\n\n\n"), "3:1: expected ':'");
        assert_eq!(
            err("##\n# @x:\n"),
            "2:6: documentation comment must end with '##'"
        );
    }

    #[test]
    fn what_comes_before_an_error_is_read() {
        let read = parse("{ 'a': 'b' }\n##\n# x\n##\n{ 'c': 'd', 'c': 'e' }\n");
        assert_eq!(read.items.len(), 2);
        assert_eq!(read.error.unwrap().message, "duplicate key 'c'");
        let read = parse("{ 'a': 'b' }\n{ 'c' : }");
        assert_eq!(read.items.len(), 1);
        assert!(!read.error.unwrap().early);
        // A lexer error right after an item is met before QEMU acts on the item.
        let read = parse("{ 'a': 'b' }\n'c\n");
        assert_eq!(read.items.len(), 1);
        assert!(read.error.unwrap().early);
        let read = parse("{ 'a': 'b' }\n{ 'c': 'd\n");
        assert!(!read.error.unwrap().early);
        // A doc block that is not closed keeps its lines.
        let read = parse("{ 'a': 'b' }\n##\n# @x:\n  # y\n{ 'c': 'd' }\n");
        let Some(Item::Doc(block)) = read.items.last() else {
            panic!("{read:?}")
        };
        assert!(!block.closed);
        assert_eq!(block.lines.len(), 3);
        assert_eq!(
            read.error.unwrap().message,
            "documentation comment must end with '##'"
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let src = "[".repeat(10_000);
        assert_eq!(
            err(&src),
            format!("1:{}: nesting deeper than 128 levels", MAX_DEPTH + 1)
        );
        let ok = format!("{{ 'a': {}{} }}", "[".repeat(100), "]".repeat(100));
        assert_eq!(parse(&ok).error, None);
    }

    #[test]
    fn junk_never_panics() {
        for src in [
            "\u{0}\u{ff}",
            "'",
            "{",
            "}",
            "##",
            "## x",
            "{'a':",
            "\\",
            "tru",
            "'\\",
            "##\n#",
            "##\n# x\n'",
        ] {
            let _ = parse(src);
        }
    }
}
