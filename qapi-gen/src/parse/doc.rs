//! Documentation blocks: a `##` comment split into body, member and feature
//! descriptions, and tagged sections, with QEMU's rules for their layout.

use super::DocBlock;
use crate::error::{Error, SourceInfo};
use crate::model::Doc;

/// Which part of a definition's doc the next line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Body,
    Members,
    Features,
    Sections,
}

/// Where the text of the current section goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Body,
    Member(usize),
    Feature(usize),
    Section(usize),
}

struct Builder<'a> {
    doc: Doc,
    part: Part,
    target: Target,
    /// Text collected for the current section, and its expected indentation.
    text: String,
    indent: usize,
    info: &'a SourceInfo,
    /// The current line's place, for errors.
    line: u32,
    col: u32,
}

const SECTION_TAGS: [&str; 7] = [
    "Returns:",
    "Since:",
    "Note:",
    "Notes:",
    "Example:",
    "Examples:",
    "TODO:",
];

fn is_tag(word: &str) -> bool {
    SECTION_TAGS.contains(&word)
}

/// The first word of a line and whether it is `@name:`.
fn symbol_word(line: &str) -> Option<&str> {
    let word = line.split(' ').next().unwrap_or("");
    (word.starts_with('@') && word.ends_with(':') && word.len() >= 2).then_some(word)
}

impl<'a> Builder<'a> {
    fn new(info: &'a SourceInfo) -> Self {
        Builder {
            doc: Doc::default(),
            part: Part::Body,
            target: Target::Body,
            text: String::new(),
            indent: 0,
            info,
            line: info.line,
            col: 1,
        }
    }

    fn error(&self, message: impl Into<String>) -> Error {
        let at = SourceInfo {
            line: self.line,
            col: Some(self.col),
            ..self.info.clone()
        };
        Error::at(&at, message)
    }

    fn section_name(&self) -> String {
        match self.target {
            Target::Body => String::new(),
            Target::Member(i) => self.doc.members[i].0.clone(),
            Target::Feature(i) => self.doc.features[i].0.clone(),
            Target::Section(i) => self.doc.sections[i].0.clone(),
        }
    }

    /// Stores the current section's text and makes `target` current.
    fn switch(&mut self, target: Target, indent: usize) -> Result<(), Error> {
        let text = self.text.trim().to_owned();
        if self.target != Target::Body && text.is_empty() {
            return Err(self.error(format!("empty doc section '{}'", self.section_name())));
        }
        match self.target {
            Target::Body => self.doc.body = text,
            Target::Member(i) => self.doc.members[i].1 = text,
            Target::Feature(i) => self.doc.features[i].1 = text,
            Target::Section(i) => self.doc.sections[i].1 = text,
        }
        self.text.clear();
        self.target = target;
        self.indent = indent;
        Ok(())
    }

    fn append_text(&mut self, line: &str) -> Result<(), Error> {
        let line = if line.is_empty() {
            line
        } else {
            let indent = line.len() - line.trim_start().len();
            if indent < self.indent {
                return Err(self.error(format!(
                    "unexpected de-indent (expected at least {} spaces)",
                    self.indent
                )));
            }
            &line[self.indent..]
        };
        self.text.push_str(line.trim_end());
        self.text.push('\n');
        Ok(())
    }

    fn append_freeform(&mut self, line: &str) -> Result<(), Error> {
        let word = line.split(char::is_whitespace).next().unwrap_or("");
        if let Some(end) = word
            .rfind(':')
            .filter(|&end| word.starts_with('@') && end > 1)
        {
            let upto = &word[..=end];
            return Err(self.error(format!("'{upto}' not allowed in free-form documentation")));
        }
        self.append_text(line)
    }

    /// `@name: text` or `Tag: text`: the name, and `text` re-indented so that its
    /// first character keeps its column.
    fn split_header(line: &str, word: &str) -> (usize, String) {
        let after = &line[word.len()..];
        let rest = after.trim_start();
        if rest.is_empty() {
            (0, String::new())
        } else {
            let indent = line.len() - rest.len();
            (indent, format!("{}{}", " ".repeat(indent), rest))
        }
    }

    fn start_symbol(&mut self, features: bool, line: &str, word: &str) -> Result<(), Error> {
        let name = &word[1..word.len() - 1];
        if name.is_empty() {
            return Err(self.error("invalid parameter name"));
        }
        let list = if features {
            &self.doc.features
        } else {
            &self.doc.members
        };
        if list.iter().any(|(n, _)| n == name) {
            return Err(self.error(format!("'{name}' parameter name duplicated")));
        }
        let (indent, text) = Self::split_header(line, word);
        let target = if features {
            self.doc.features.push((name.to_owned(), String::new()));
            Target::Feature(self.doc.features.len() - 1)
        } else {
            self.doc.members.push((name.to_owned(), String::new()));
            Target::Member(self.doc.members.len() - 1)
        };
        self.switch(target, indent)?;
        self.append_freeform(&text)
    }

    fn start_section(&mut self, tag: &str, indent: usize) -> Result<(), Error> {
        if (tag == "Returns" || tag == "Since") && self.doc.section(tag).is_some() {
            return Err(self.error(format!("duplicated '{tag}' section")));
        }
        self.doc.sections.push((tag.to_owned(), String::new()));
        self.switch(Target::Section(self.doc.sections.len() - 1), indent)
    }

    fn various_line(&mut self, line: &str) -> Result<(), Error> {
        self.part = Part::Sections;
        let word = line.split(' ').next().unwrap_or("");
        if let Some(word) = symbol_word(line) {
            let first = self
                .doc
                .sections
                .first()
                .map_or("", |s| s.0.as_str())
                .to_owned();
            return Err(self.error(format!("'{word}' can't follow '{first}' section")));
        }
        if is_tag(word) {
            let (indent, text) = Self::split_header(line, word);
            self.start_section(&word[..word.len() - 1], indent)?;
            return self.append_freeform(&text);
        }
        self.append_freeform(line)
    }

    fn line(&mut self, raw: &str) -> Result<(), Error> {
        let Some(line) = raw.strip_prefix('#') else {
            return Err(self.error("documentation comment must end with '##'"));
        };
        if line.is_empty() {
            return self.append_freeform("");
        }
        let Some(line) = line.strip_prefix(' ') else {
            return Err(self.error("missing space after #"));
        };
        let word = line.split(' ').next().unwrap_or("");
        match self.part {
            Part::Body => {
                if self.doc.symbol.is_none() && self.text.is_empty() && line.starts_with('@') {
                    let Some(symbol) = line.strip_suffix(':') else {
                        return Err(self.error("line should end with ':'"));
                    };
                    if symbol.len() <= 1 {
                        return Err(self.error("name required after '@'"));
                    }
                    self.doc.symbol = Some(symbol[1..].to_owned());
                    Ok(())
                } else if self.doc.symbol.is_some() {
                    if let Some(word) = symbol_word(line) {
                        self.part = Part::Members;
                        self.start_symbol(false, line, word)
                    } else if line == "Features:" {
                        self.part = Part::Features;
                        Ok(())
                    } else if is_tag(word) {
                        self.various_line(line)
                    } else {
                        self.append_freeform(line)
                    }
                } else {
                    self.append_freeform(line)
                }
            }
            Part::Members | Part::Features => {
                let features = self.part == Part::Features;
                if let Some(word) = symbol_word(line) {
                    self.start_symbol(features, line, word)
                } else if is_tag(word) {
                    self.various_line(line)
                } else if self.text.ends_with("\n\n") && !line.starts_with(char::is_whitespace) {
                    if !features && line == "Features:" {
                        self.part = Part::Features;
                        Ok(())
                    } else {
                        self.start_section("", 0)?;
                        self.various_line(line)
                    }
                } else {
                    self.append_freeform(line)
                }
            }
            Part::Sections => self.various_line(line),
        }
    }

    fn finish(mut self) -> Result<Doc, Error> {
        self.switch(Target::Body, 0)?;
        // switch() stored the last section; the body was stored when it was left.
        Ok(self.doc)
    }
}

/// Splits one `##` block into its docs: a definition doc, or free-form docs (a new
/// one starts at each `# =` heading). Each comes with the place of its block.
pub fn parse_doc(block: &DocBlock, info: &SourceInfo) -> Result<Vec<(Doc, SourceInfo)>, Error> {
    let at = |line: u32, col: u32| SourceInfo {
        line,
        col: Some(col),
        ..info.clone()
    };
    let (open, lines) = block
        .lines
        .split_first()
        .expect("a doc block has its opening line");
    if open.0 != "##" {
        return Err(Error::at(
            &at(open.1, open.2),
            "junk after '##' at start of documentation comment",
        ));
    }
    let (close, lines) = lines
        .split_last()
        .expect("a doc block has its closing line");
    let mut docs = Vec::new();
    let mut builder = Builder::new(info);
    for (text, line, col) in lines {
        builder.line = *line;
        builder.col = *col;
        if text.starts_with("# =") {
            if builder.doc.symbol.is_some() {
                return Err(builder.error("unexpected '=' markup in definition documentation"));
            }
            if !builder.text.trim().is_empty() || !builder.doc.body.is_empty() {
                docs.push((builder.finish()?, info.clone()));
                builder = Builder::new(info);
                builder.line = *line;
                builder.col = *col;
            }
        }
        builder.line(text)?;
    }
    builder.line = close.1;
    builder.col = close.2;
    if close.0 != "##" {
        return Err(builder.error("junk after '##' at end of documentation comment"));
    }
    docs.push((builder.finish()?, info.clone()));
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn doc(text: &str) -> Result<Vec<Doc>, String> {
        let lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (l.to_owned(), i as u32 + 1, 1))
            .collect();
        let info = SourceInfo {
            file: Arc::new(PathBuf::from("t.json")),
            line: 1,
            col: None,
            parent: None,
            defn: None,
        };
        parse_doc(
            &DocBlock {
                lines,
                line: 1,
                col: 1,
            },
            &info,
        )
        .map(|d| d.into_iter().map(|(d, _)| d).collect())
        .map_err(|e| e.to_string())
    }

    #[test]
    fn definition_doc() {
        let d = doc("##\n# @guest-file-read:\n#\n# Read from a file.\n#\n# @handle: the handle\n# @count: how many\n#         bytes at most\n#\n# Returns: what was read\n#\n# Since: 0.15.0\n##")
            .unwrap()
            .remove(0);
        assert_eq!(d.symbol.as_deref(), Some("guest-file-read"));
        assert_eq!(d.body, "Read from a file.");
        assert_eq!(d.member("handle"), Some("the handle"));
        assert_eq!(d.member("count"), Some("how many\nbytes at most"));
        assert_eq!(d.section("Returns"), Some("what was read"));
        assert_eq!(d.section("Since"), Some("0.15.0"));
    }

    #[test]
    fn features_and_free_form() {
        let d = doc("##\n# @Foo:\n#\n# @a: x\n#\n# Features:\n# @deprecated: old\n##")
            .unwrap()
            .remove(0);
        assert_eq!(
            d.features,
            vec![("deprecated".to_owned(), "old".to_owned())]
        );
        let free = doc("##\n# = Title\n#\n# Text\n##").unwrap();
        assert_eq!(free.len(), 1);
        assert_eq!(free[0].body, "= Title\n\nText");
        let split = doc("##\n# = A\n# text\n# = B\n##").unwrap();
        assert_eq!(split.len(), 2);
    }

    #[test]
    fn errors() {
        assert_eq!(
            doc("## x\n##").unwrap_err(),
            "t.json:1:1: junk after '##' at start of documentation comment"
        );
        assert_eq!(
            doc("##\n#x\n##").unwrap_err(),
            "t.json:2:1: missing space after #"
        );
        assert_eq!(
            doc("##\n# @foo\n##").unwrap_err(),
            "t.json:2:1: line should end with ':'"
        );
        assert_eq!(
            doc("##\n# @:\n##").unwrap_err(),
            "t.json:2:1: name required after '@'"
        );
        assert_eq!(
            doc("##\n# @a:\n# @b: x\n# @b: y\n##").unwrap_err(),
            "t.json:4:1: 'b' parameter name duplicated"
        );
        assert_eq!(
            doc("##\n# @a:\n# Since: 1\n# Since: 2\n##").unwrap_err(),
            "t.json:4:1: duplicated 'Since' section"
        );
        assert_eq!(
            doc("##\n# @a:\n# Since: 1\n# @b: x\n##").unwrap_err(),
            "t.json:4:1: '@b:' can't follow 'Since' section"
        );
        assert_eq!(
            doc("##\n# @a:\n# @b:\n# @c: x\n##").unwrap_err(),
            "t.json:4:1: empty doc section 'b'"
        );
        assert_eq!(
            doc("##\n# text @b: x\n# @c: y\n##").unwrap_err(),
            "t.json:3:1: '@c:' not allowed in free-form documentation"
        );
        assert_eq!(
            doc("##\n# @a:\n# = T\n##").unwrap_err(),
            "t.json:3:1: unexpected '=' markup in definition documentation"
        );
        assert_eq!(
            doc("##\n# @a:\n# @b: x\n#   y\n#  z\n##").unwrap_err(),
            "t.json:4:1: unexpected de-indent (expected at least 4 spaces)"
        );
        assert_eq!(
            doc("##\n# @a:\n##x").unwrap_err(),
            "t.json:3:1: junk after '##' at end of documentation comment"
        );
    }
}
