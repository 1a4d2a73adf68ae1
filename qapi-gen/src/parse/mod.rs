//! Reading schema files: syntax, includes, pragmas and doc blocks.
//!
//! The result is the list of expressions in definition order, each with its place
//! and the doc block before it, plus the free-form doc blocks and the pragmas. What
//! the expressions mean is [`crate::check`]'s business.

mod ahead;
mod doc;
mod scan;
mod syntax;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, SourceInfo};
use crate::model::{Doc, Pragma};

pub use doc::parse_doc;
pub use syntax::{SyntaxError, MAX_DEPTH};

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

/// A `##` block: its lines as written, each with its line and column.
#[derive(Debug, Clone, PartialEq)]
pub struct DocBlock {
    pub lines: Vec<(String, u32, u32)>,
    pub line: u32,
    pub col: u32,
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
    pub doc: Option<Doc>,
    /// Where the doc block starts, for messages about it.
    pub doc_info: Option<SourceInfo>,
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
    /// Free-form doc blocks, each with the number of expressions before it.
    pub free_docs: Vec<(usize, Doc)>,
    pub pragma: Pragma,
}

/// Reads `path` and everything it includes.
pub fn parse_file(path: &Path) -> Result<Parsed, Error> {
    let src = std::fs::read(path).map_err(|e| {
        Error::bare(format!(
            "can't read schema file '{}': {}",
            path.display(),
            strerror(&e)
        ))
    })?;
    let mut walk = Walk::new(path, ahead::Ahead::read(path, &src));
    walk.source(path, &src, None)?;
    Ok(walk.state)
}

/// Parses schema text as if read from `path` (includes are resolved against it).
pub fn parse_str(path: &Path, src: &str) -> Result<Parsed, Error> {
    parse_bytes(path, src.as_bytes())
}

/// Parses the bytes of a schema file, which need not be UTF-8, as if read from
/// `path`.
pub fn parse_bytes(path: &Path, src: &[u8]) -> Result<Parsed, Error> {
    let mut walk = Walk::new(path, ahead::Ahead::default());
    walk.source(path, src, None)?;
    Ok(walk.state)
}

fn strerror(e: &std::io::Error) -> String {
    // io::Error's Display adds " (os error N)"; QEMU prints the bare strerror text.
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// The reading of a schema and the files it includes, in order.
struct Walk {
    state: Parsed,
    /// Every file read so far (absolute paths): each is read once.
    included: HashSet<PathBuf>,
    /// The files being read (absolute paths), the outermost first: the chain of
    /// includes to the current file.
    stack: Vec<PathBuf>,
    /// Files read and parsed ahead.
    ahead: ahead::Ahead,
}

impl Walk {
    fn new(root: &Path, ahead: ahead::Ahead) -> Self {
        Walk {
            state: Parsed::default(),
            included: HashSet::from([absolute(root)]),
            stack: Vec::new(),
            ahead,
        }
    }

    /// Reads file `path`, whose text is `bytes`, included from `parent`.
    fn source(
        &mut self,
        path: &Path,
        bytes: &[u8],
        parent: Option<Arc<SourceInfo>>,
    ) -> Result<(), Error> {
        self.stack.push(absolute(path));
        self.parse_source(path, bytes, parent)?;
        self.stack.pop();
        Ok(())
    }

    fn parse_source(
        &mut self,
        path: &Path,
        bytes: &[u8],
        parent: Option<Arc<SourceInfo>>,
    ) -> Result<(), Error> {
        let file = Arc::new(path.to_owned());
        let at = |line: u32, col: Option<u32>| SourceInfo {
            file: file.clone(),
            line,
            col,
            parent: parent.clone(),
            defn: None,
        };
        let src = match std::str::from_utf8(bytes) {
            Ok(src) => src,
            Err(e) => {
                let offset = e.valid_up_to();
                let line = 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count() as u32;
                return Err(Error::at(
                    &at(line, Some(1)),
                    "invalid UTF-8 in schema file",
                ));
            }
        };
        let items = match self.ahead.items(path) {
            Some(items) => items,
            None => syntax::parse(src),
        }
        .map_err(|e| Error::at(&at(e.line, Some(e.col)), e.message))?;

        let mut pending: Option<(Doc, SourceInfo)> = None;
        for item in items {
            match item {
                Item::Doc(block) => {
                    reject_expr_doc(&pending)?;
                    for (doc, info) in parse_doc(&block, &at(block.line, None))? {
                        if doc.symbol.is_none() {
                            self.state
                                .free_docs
                                .push((self.state.exprs.len(), doc.clone()));
                        }
                        pending = Some((doc, info));
                    }
                }
                Item::Value(node) => {
                    let info = at(node.line, None);
                    let Value::Dict(members) = node.value else {
                        return Err(Error::at(&info, "top-level expression must be an object"));
                    };
                    let has = |k: &str| members.iter().any(|m| m.0 == k);
                    if has("include") {
                        reject_expr_doc(&pending)?;
                        if members.len() != 1 {
                            return Err(Error::at(&info, "invalid 'include' directive"));
                        }
                        let Value::Str(include) = &members[0].3.value else {
                            return Err(Error::at(&info, "value of 'include' must be a string"));
                        };
                        let target = include_path(path, include);
                        let target_abs = absolute(&target);
                        if self.stack.contains(&target_abs) {
                            return Err(Error::at(&info, format!("inclusion loop for {include}")));
                        }
                        if !self.included.insert(target_abs) {
                            pending = None;
                            continue;
                        }
                        let bytes = match self.ahead.bytes(&target) {
                            Some(bytes) => bytes,
                            None => std::fs::read(&target).map_err(|e| {
                                Error::at(
                                    &info,
                                    format!(
                                        "can't read include file '{}': {}",
                                        target.display(),
                                        strerror(&e)
                                    ),
                                )
                            })?,
                        };
                        self.source(&target, &bytes, Some(Arc::new(info)))?;
                    } else if has("pragma") {
                        reject_expr_doc(&pending)?;
                        if members.len() != 1 {
                            return Err(Error::at(&info, "invalid 'pragma' directive"));
                        }
                        let Value::Dict(pragmas) = &members[0].3.value else {
                            return Err(Error::at(&info, "value of 'pragma' must be an object"));
                        };
                        for (name, _, _, value) in pragmas {
                            pragma(&mut self.state.pragma, name, &value.value, &info)?;
                        }
                    } else {
                        let (doc, doc_info) = match pending.take() {
                            Some((doc, info)) if doc.symbol.is_none() => {
                                return Err(Error::at(&info, "definition documentation required"));
                            }
                            Some((doc, info)) => (Some(doc), Some(info)),
                            None => (None, None),
                        };
                        self.state.exprs.push(Expr {
                            members,
                            info,
                            doc,
                            doc_info,
                        });
                    }
                    pending = None;
                }
            }
        }
        reject_expr_doc(&pending)
    }
}

/// The file an `include` names, relative to the including file.
fn include_path(includer: &Path, include: &str) -> PathBuf {
    includer.parent().unwrap_or(Path::new("")).join(include)
}

fn reject_expr_doc(pending: &Option<(Doc, SourceInfo)>) -> Result<(), Error> {
    match pending {
        Some((doc, info)) if doc.symbol.is_some() => Err(Error::at(
            info,
            format!(
                "documentation for '{}' is not followed by the definition",
                doc.symbol.as_deref().unwrap_or_default()
            ),
        )),
        _ => Ok(()),
    }
}

fn pragma(pragma: &mut Pragma, name: &str, value: &Value, info: &SourceInfo) -> Result<(), Error> {
    let list = |value: &Value| -> Result<Vec<String>, Error> {
        let strings = match value {
            Value::List(items) => items
                .iter()
                .map(|n| n.value.as_str().map(str::to_owned))
                .collect(),
            _ => None,
        };
        strings.ok_or_else(|| Error::at(info, format!("pragma {name} must be a list of strings")))
    };
    match name {
        "doc-required" => match value {
            Value::Bool(b) => pragma.doc_required = *b,
            _ => return Err(Error::at(info, "pragma 'doc-required' must be boolean")),
        },
        "command-name-exceptions" => pragma.command_name_exceptions = list(value)?,
        "command-returns-exceptions" => pragma.command_returns_exceptions = list(value)?,
        "member-name-exceptions" => pragma.member_name_exceptions = list(value)?,
        "documentation-exceptions" => pragma.documentation_exceptions = list(value)?,
        _ => return Err(Error::at(info, format!("unknown pragma '{name}'"))),
    }
    Ok(())
}
