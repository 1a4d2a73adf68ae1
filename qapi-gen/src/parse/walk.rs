//! The in-order reading of a schema: each file's items as QEMU's parser acts on
//! them, `include` directives read where they stand (each file once), pragmas
//! applied, doc comments parsed and attached to the definition that follows them.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::{ahead, doc, syntax, DocComment, Expr, Item, Parsed, Value};
use crate::error::{Error, SourceInfo};
use crate::model::Pragma;

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

/// The absolute form of `path` with `.` and `..` resolved by the text alone, as
/// Python's `os.path.abspath`: what tells whether two includes name the same file.
pub(super) fn absolute(path: &Path) -> PathBuf {
    let full = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut out = PathBuf::new();
    for part in full.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The text as Python reads a file in text mode: `\r\n` and a lone `\r` end lines.
pub(super) fn universal_newlines(src: &str) -> Cow<'_, str> {
    if src.contains('\r') {
        Cow::Owned(src.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(src)
    }
}

/// The file an `include` names, relative to the including file.
pub(super) fn include_path(includer: &Path, include: &str) -> PathBuf {
    includer.parent().unwrap_or(Path::new("")).join(include)
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
        let read = match self.ahead.items(path) {
            Some(read) => read,
            None => syntax::parse(&universal_newlines(src)),
        };
        let syntax_error = read
            .error
            .as_ref()
            .map(|e| Error::at(&at(e.line, Some(e.col)), e.message.clone()));
        // QEMU reads the token after an item before it acts on the item: an error
        // of the lexer there comes first.
        let early = read.error.as_ref().is_some_and(|e| e.early);
        let count = read.items.len();

        let mut pending: Option<DocComment> = None;
        for (index, item) in read.items.into_iter().enumerate() {
            let stop_early = early && index + 1 == count;
            match item {
                Item::Doc(block) => {
                    reject_expr_doc(&pending)?;
                    let info = at(block.line, None);
                    let unclosed = if block.closed {
                        None
                    } else {
                        syntax_error.as_ref()
                    };
                    let mut comment = doc::parse_doc(&block, &info, unclosed)?;
                    if stop_early {
                        break;
                    }
                    comment.end()?;
                    if comment.symbol.is_none() {
                        self.state
                            .free_docs
                            .push((self.state.exprs.len(), comment.clone().into_model()));
                    }
                    pending = Some(comment);
                }
                Item::Value(node) => {
                    if stop_early {
                        break;
                    }
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
                        self.include(path, include, info)?;
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
                        let doc = match pending.take() {
                            Some(doc) if doc.symbol.is_none() => {
                                return Err(Error::at(
                                    &doc.info,
                                    "definition documentation required",
                                ));
                            }
                            doc => doc,
                        };
                        self.state.exprs.push(Expr { members, info, doc });
                    }
                    pending = None;
                }
            }
        }
        if let Some(error) = syntax_error {
            return Err(error);
        }
        reject_expr_doc(&pending)
    }

    /// The directive `{ 'include': include }` at `info` in file `path`.
    fn include(&mut self, path: &Path, include: &str, info: SourceInfo) -> Result<(), Error> {
        let target = include_path(path, include);
        let target_abs = absolute(&target);
        if self.stack.contains(&target_abs) {
            return Err(Error::at(&info, format!("inclusion loop for {include}")));
        }
        if !self.included.insert(target_abs) {
            return Ok(());
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
        self.source(&target, &bytes, Some(Arc::new(info)))
    }
}

fn reject_expr_doc(pending: &Option<DocComment>) -> Result<(), Error> {
    match pending {
        Some(doc) if doc.symbol.is_some() => Err(Error::at(
            &doc.info,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_resolve_dots_by_text() {
        let a = absolute(Path::new("x/../y/./z.json"));
        assert_eq!(a, absolute(Path::new("y/z.json")));
        assert!(a.is_absolute());
    }

    #[test]
    fn line_ends_are_python_s() {
        assert_eq!(universal_newlines("a\r\nb\rc\n"), "a\nb\nc\n");
        assert!(matches!(universal_newlines("a\n"), Cow::Borrowed(_)));
    }
}
