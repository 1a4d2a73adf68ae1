//! Reading schema files: syntax, includes, pragmas and doc comments.
//!
//! The result is the list of expressions in definition order, each with its place
//! and the doc comment before it, plus the free-form doc comments and the pragmas.
//! Files are read as QEMU's parser reads them, in order, so that of several errors
//! the one QEMU reports is reported. What the expressions mean is
//! [`crate::check`]'s business.

mod ahead;
mod doc;
mod scan;
mod style;
mod syntax;
mod walk;

use crate::error::SourceInfo;
use crate::model::{Doc, Pragma};

pub use doc::{parse_doc, DocComment, Kind as SectionKind, Section};
pub use syntax::{Read, SyntaxError, MAX_DEPTH};
pub use walk::{parse_bytes, parse_file, parse_str};

/// A value of the schema language.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Bool(bool),
    List(Vec<Node>),
    /// Members in source order, each with the line and column of its key.
    Dict(Vec<(String, u32, u32, Node)>),
}

impl Value {
    /// The member `key` of a dict.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Value::Dict(members) => members.iter().find(|m| m.0 == key).map(|m| &m.3),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A value and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub line: u32,
    pub col: u32,
}

/// A line of a `##` block: where it is in the block's text (from its `#`, and
/// from the blanks before the `#` on its line), and its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocLine {
    pub start: u32,
    pub end: u32,
    pub indent: u32,
    pub line: u32,
    pub col: u32,
}

/// A `##` block: its text, from the opening `##` to the end of its last line, and
/// its lines, the opening and closing `##` lines included. A block that is not
/// `closed` ends at a syntax error.
#[derive(Debug, Clone, PartialEq)]
pub struct DocBlock {
    pub text: String,
    pub lines: Vec<DocLine>,
    pub line: u32,
    pub col: u32,
    pub closed: bool,
}

impl DocBlock {
    /// The block of the text `src[start..end]` (from its `##`), with its lines
    /// (ranges of `src`) and place.
    pub(crate) fn new(
        src: &str,
        start: usize,
        end: usize,
        lines: impl IntoIterator<Item = (usize, usize, u32, u32)>,
        (line, col): (u32, u32),
        closed: bool,
    ) -> DocBlock {
        let relative = |at: usize| (at - start) as u32;
        let lines = lines
            .into_iter()
            .map(|(from, to, line, col)| {
                let line_start = src[..from].rfind('\n').map_or(0, |i| i + 1).max(start);
                let to = if src[from..to].ends_with('\r') {
                    to - 1
                } else {
                    to
                };
                DocLine {
                    start: relative(from),
                    end: relative(to),
                    indent: relative(line_start),
                    line,
                    col,
                }
            })
            .collect();
        DocBlock {
            text: src[start..end].to_owned(),
            lines,
            line,
            col,
            closed,
        }
    }

    /// The text of `line`, from its `#`.
    pub fn text_of(&self, line: &DocLine) -> &str {
        &self.text[line.start as usize..line.end as usize]
    }

    /// What precedes the `#` of `line` on its line.
    pub fn indent_of(&self, line: &DocLine) -> &str {
        &self.text[line.indent as usize..line.start as usize]
    }
}

/// A top-level item of a file.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Doc(DocBlock),
    Value(Node),
}

/// A top-level definition with its place and documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// The members of the expression's object.
    pub members: Vec<(String, u32, u32, Node)>,
    pub info: SourceInfo,
    pub doc: Option<DocComment>,
}

impl Expr {
    /// The member `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.members.iter().find(|m| m.0 == key).map(|m| &m.3)
    }

    /// Whether the expression has member `key`.
    pub fn has(&self, key: &str) -> bool {
        self.members.iter().any(|m| m.0 == key)
    }
}

/// Everything read from a schema and the files it includes.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub exprs: Vec<Expr>,
    /// Free-form doc comments, each with the number of expressions before it.
    pub free_docs: Vec<(usize, Doc)>,
    pub pragma: Pragma,
}
