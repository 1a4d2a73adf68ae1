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
}

/// Parses the text of one schema file into its top-level items: with the
/// hand-written reader when it takes the file (see scan.rs), else with pest.
pub fn parse(src: &str) -> Result<Vec<Item>, SyntaxError> {
    check_depth(src)?;
    match super::scan::parse(src) {
        Some(items) => Ok(items),
        None => parse_with_pest(src),
    }
}

/// Parses with the pest grammar, and walks its parse tree.
pub fn parse_with_pest(src: &str) -> Result<Vec<Item>, SyntaxError> {
    check_depth(src)?;
    let mut pairs = Grammar::parse(Rule::schema, src).map_err(|e| explain(src, e))?;
    let schema = pairs
        .next()
        .expect("the schema rule matched, so it has a pair");
    let mut at = Locator::new(src);
    let mut items = Vec::new();
    for pair in schema.into_inner() {
        match pair.as_rule() {
            Rule::doc_block => items.push(Item::Doc(doc_block(pair, &mut at))),
            Rule::EOI => {}
            _ => items.push(Item::Value(node(pair, &mut at)?)),
        }
    }
    Ok(items)
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
        for ch in self.src[self.offset..offset].chars() {
            match ch {
                '\n' => {
                    self.line += 1;
                    self.col = 1;
                }
                '\t' => self.col = (self.col + 7) % 8 + 1,
                _ => self.col += 1,
            }
        }
        self.offset = offset;
        (self.line, self.col)
    }

    fn of(&mut self, pair: &Pair<'_, Rule>) -> (u32, u32) {
        self.at(pair.as_span().start())
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

fn node(pair: Pair<'_, Rule>, at: &mut Locator<'_>) -> Result<Node, SyntaxError> {
    let (line, col) = at.of(&pair);
    let value = match pair.as_rule() {
        Rule::object => {
            let mut members: Vec<(String, u32, u32, Node)> = Vec::new();
            for member in pair.into_inner().filter(|p| p.as_rule() == Rule::member) {
                let mut inner = member.into_inner();
                let key = node(inner.next().expect("a member starts with its key"), at)?;
                let _colon = inner.next();
                let value_pair = inner.next().expect("a member ends with its value");
                let Value::Str(key_text) = key.value else {
                    unreachable!("the grammar makes keys strings")
                };
                if members.iter().any(|m| m.0 == key_text) {
                    let (line, col) = at.of(&value_pair);
                    return Err(SyntaxError {
                        line,
                        col,
                        message: format!("duplicate key '{key_text}'"),
                    });
                }
                let value = node(value_pair, at)?;
                members.push((key_text, key.line, key.col, value));
            }
            Value::Dict(members)
        }
        Rule::array => Value::List(
            pair.into_inner()
                .filter(|p| !matches!(p.as_rule(), Rule::lbracket | Rule::rbracket | Rule::comma))
                .map(|p| node(p, at))
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

fn doc_block(pair: Pair<'_, Rule>, at: &mut Locator<'_>) -> DocBlock {
    let (line, col) = at.of(&pair);
    let lines = pair
        .into_inner()
        .map(|p| {
            let (l, c) = at.of(&p);
            (p.as_str().trim_end_matches('\r').to_owned(), l, c)
        })
        .collect();
    DocBlock { lines, line, col }
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

/// Turns pest's "expected one of these rules here" into the message QEMU's
/// hand-written parser gives for the same input.
fn explain(src: &str, error: pest::error::Error<Rule>) -> SyntaxError {
    let pos = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((p, _)) => p,
    };
    let positives = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let line = 1 + src[..pos].matches('\n').count() as u32;
    if let Some(start) = open_string_start(src, pos) {
        let rest = &src[pos..];
        let message = match rest.chars().next() {
            None | Some('\n') | Some('\r') => "missing terminating \"'\"".to_owned(),
            Some('\\') => match rest[1..].chars().next() {
                None | Some('\n') => "missing terminating \"'\"".to_owned(),
                Some(c) if (' '..='~').contains(&c) => format!("unknown escape \\{c}"),
                Some(_) => "funny character in string".to_owned(),
            },
            Some(_) => "funny character in string".to_owned(),
        };
        return SyntaxError {
            line,
            col: column(src, start),
            message,
        };
    }
    let col = column(src, pos);
    let rest = &src[pos..];
    if let Some(c) = rest.chars().next() {
        let structural = "{}[]:,'#".contains(c) || c.is_whitespace();
        if !structural && !rest.starts_with("true") && !rest.starts_with("false") {
            let word: String = rest
                .chars()
                .take_while(|c| !("[]{}:,'\"".contains(*c) || c.is_whitespace()))
                .collect();
            let word = if word.is_empty() { c.to_string() } else { word };
            return SyntaxError {
                line,
                col,
                message: format!("stray '{word}'"),
            };
        }
    }
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
    SyntaxError {
        line,
        col,
        message: message.to_owned(),
    }
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
        let e = parse(src).unwrap_err();
        format!("{}:{}: {}", e.line, e.col, e.message)
    }

    #[test]
    fn values() {
        let items = parse("# c\n{ 'a': 'x\\\\y', 'b': [ true, false, {} ] }\n").unwrap();
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
        let items = parse("##\n# @Foo:\n#\n# text\n##\n{ 'struct': 'Foo' }\n").unwrap();
        let Item::Doc(doc) = &items[0] else { panic!() };
        assert_eq!(
            doc.lines.iter().map(|l| l.0.as_str()).collect::<Vec<_>>(),
            ["##", "# @Foo:", "#", "# text", "##"]
        );
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
        assert_eq!(err("{ 'a': \"b\" }"), "1:8: stray '\"'");
        assert_eq!(err("{ 'a': 'b\n"), "1:8: missing terminating \"'\"");
        assert_eq!(err("{ 'a': 'b\\n' }"), "1:8: unknown escape \\n");
        assert_eq!(err("{ 'a': 'b\u{1}' }"), "1:8: funny character in string");
        assert_eq!(err("{ 'a': 'é' }"), "1:8: funny character in string");
        assert_eq!(err("\t{ 'a' }"), "1:7: expected ':'");
        assert_eq!(
            err("##\n# @x:\n{}"),
            "3:1: documentation comment must end with '##'"
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
        assert!(parse(&ok).is_ok());
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
        ] {
            let _ = parse(src);
        }
    }
}
