//! Errors with their place in the schema, formatted as QEMU's generator does.
//!
//! A message reads `FILE:LINE:COL: text` for syntax errors and `FILE:LINE: text`
//! for semantic ones, preceded by `In file included from FILE:LINE:` lines for
//! included files and by `FILE: In struct 'X':` inside a definition.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A place in a schema file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    pub file: Arc<PathBuf>,
    pub line: u32,
    /// The column, for syntax errors only.
    pub col: Option<u32>,
    /// Where the file was included from.
    pub parent: Option<Arc<SourceInfo>>,
    /// The definition being checked: its kind (`struct`, ...) and name.
    pub defn: Option<(&'static str, String)>,
}

impl SourceInfo {
    /// `FILE:LINE` or `FILE:LINE:COL`.
    pub fn loc(&self) -> String {
        match self.col {
            Some(col) => format!("{}:{}:{}", self.file.display(), self.line, col),
            None => format!("{}:{}", self.file.display(), self.line),
        }
    }

    /// The same place, inside definition `name` of kind `meta`.
    pub fn in_defn(&self, meta: &'static str, name: &str) -> SourceInfo {
        SourceInfo {
            defn: Some((meta, name.to_owned())),
            ..self.clone()
        }
    }

    /// The same place, without a column.
    pub fn line_only(&self) -> SourceInfo {
        SourceInfo {
            col: None,
            ..self.clone()
        }
    }
}

/// An error in a schema, or in reading one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Where; `None` for errors about the root file itself (it cannot be read).
    pub info: Option<SourceInfo>,
    pub message: String,
}

impl Error {
    /// An error at `info`.
    pub fn at(info: &SourceInfo, message: impl Into<String>) -> Error {
        Error {
            info: Some(info.clone()),
            message: message.into(),
        }
    }

    /// An error with no place.
    pub fn bare(message: impl Into<String>) -> Error {
        Error {
            info: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(info) = &self.info else {
            return f.write_str(&self.message);
        };
        let mut parents = Vec::new();
        let mut parent = info.parent.as_deref();
        while let Some(p) = parent {
            parents.push(p);
            parent = p.parent.as_deref();
        }
        for p in parents.iter().rev() {
            writeln!(f, "In file included from {}:", p.loc())?;
        }
        if let Some((meta, name)) = &info.defn {
            writeln!(f, "{}: In {} '{}':", info.file.display(), meta, name)?;
        }
        write!(f, "{}: {}", info.loc(), self.message)
    }
}

impl std::error::Error for Error {}
