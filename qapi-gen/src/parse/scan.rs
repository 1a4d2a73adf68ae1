//! A hand-written reader for the common case: a file the grammar accepts.
//!
//! The pest grammar (grammar.pest) defines the language and explains every error;
//! running it costs more than the rest of loading together, a good part of it in
//! pest's per-rule bookkeeping. This reader follows the grammar rule for rule, byte
//! by byte, and builds the same items with the same places; at anything the grammar
//! might refuse (any unexpected byte, a duplicate key) it gives up and the file goes
//! to pest, which then reports the error as always. So what it returns is always what
//! the pest walk returns; the tests below compare the two on every schema of the test
//! suite and on damaged copies of them.
//!
//! Why it is kept (release build, instructions counted by callgrind, the parse of
//! the included files run ahead on two threads either way): QEMU 10.2's QMP schema
//! (46 files, 26 400 lines) loads in 103 M instructions with this reader and 232 M
//! with pest alone; the whole job, load and every backend, takes 340 M against
//! 470 M. At the ~7.5 instructions per nanosecond this machine does when quiet,
//! pest alone puts the whole job near 60 ms, over the 50 ms target, and this reader
//! about 45 ms. The bench's synthetic 25 000-line schema: load 123 M against 288 M;
//! QEMU's guest agent schema: 8 M against 19 M.

use super::syntax::{Locator, MAX_DEPTH};
use super::{DocBlock, Item, Node, Value};

/// The items of `src`, or `None` when the grammar may refuse it.
pub fn parse(src: &str) -> Option<Vec<Item>> {
    let mut s = Scanner {
        src,
        bytes: src.as_bytes(),
        i: 0,
        at: Locator::new(src),
        depth: 0,
    };
    let mut items = Vec::new();
    loop {
        // schema = { SOI ~ (doc_block | value)* ~ EOI }, with WHITESPACE between.
        s.skip_blanks();
        if s.i == s.bytes.len() {
            return Some(items);
        }
        if s.bytes[s.i..].starts_with(b"##") {
            items.push(Item::Doc(s.doc_block()?));
        } else {
            items.push(Item::Value(s.value()?));
        }
    }
}

struct Scanner<'s> {
    src: &'s str,
    bytes: &'s [u8],
    i: usize,
    at: Locator<'s>,
    /// Objects and arrays open: past [`MAX_DEPTH`], the file goes to pest, whose
    /// caller refuses it.
    depth: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.i).copied()
    }

    /// The end of the line from `from`: the offset of its `\n`, or of the end.
    fn line_end(&self, from: usize) -> usize {
        self.bytes[from..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.bytes.len(), |p| from + p)
    }

    /// The length of the whitespace character here that is not ASCII (or one of
    /// the separators `\x1c`..`\x1f`), as Python's isspace() has them; 0 if none.
    fn other_space(&self) -> usize {
        match self.src.get(self.i..).and_then(|rest| rest.chars().next()) {
            Some(c) if !c.is_ascii_graphic() && super::doc::is_space(c) => c.len_utf8(),
            _ => 0,
        }
    }

    /// WHITESPACE*: blanks, and `#` comments that do not start with `##`.
    fn skip_blanks(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t'..=b'\r' => self.i += 1,
                b'#' if self.bytes.get(self.i + 1) != Some(&b'#') => {
                    self.i = self.line_end(self.i);
                }
                0x1c..=0x1f | 0x80.. if self.other_space() > 0 => self.i += self.other_space(),
                _ => return,
            }
        }
    }

    /// value = string | object | array | boolean.
    fn value(&mut self) -> Option<Node> {
        let (line, col) = self.at.at(self.i);
        let value = match self.peek()? {
            b'\'' => Value::Str(self.string()?),
            b'{' | b'[' if self.depth == MAX_DEPTH => return None,
            b'{' => {
                self.depth += 1;
                let object = self.object()?;
                self.depth -= 1;
                object
            }
            b'[' => {
                self.depth += 1;
                let array = self.array()?;
                self.depth -= 1;
                array
            }
            _ => {
                let rest = &self.bytes[self.i..];
                if rest.starts_with(b"true") {
                    self.i += 4;
                    Value::Bool(true)
                } else if rest.starts_with(b"false") {
                    self.i += 5;
                    Value::Bool(false)
                } else {
                    return None;
                }
            }
        };
        Some(Node { value, line, col })
    }

    /// string = ${ quote ~ chars ~ quote }: printable ASCII but `'` and `\`, and
    /// `\\` for a backslash.
    fn string(&mut self) -> Option<String> {
        self.i += 1;
        let start = self.i;
        let mut escaped = false;
        loop {
            match self.peek()? {
                b'\'' => break,
                b'\\' if self.bytes.get(self.i + 1) == Some(&b'\\') => {
                    escaped = true;
                    self.i += 2;
                }
                b' '..=b'~' if self.bytes[self.i] != b'\\' => self.i += 1,
                _ => return None,
            }
        }
        let chars = &self.src[start..self.i];
        self.i += 1;
        Some(if escaped {
            chars.replace("\\\\", "\\")
        } else {
            chars.to_owned()
        })
    }

    /// object = { lbrace ~ (member ~ (comma ~ member)*)? ~ rbrace }, member = {
    /// string ~ colon ~ value }.
    fn object(&mut self) -> Option<Value> {
        self.i += 1;
        let mut members: Vec<(String, u32, u32, Node)> = Vec::new();
        self.skip_blanks();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(Value::Dict(members));
        }
        loop {
            if self.peek()? != b'\'' {
                return None;
            }
            let (line, col) = self.at.at(self.i);
            let key = self.string()?;
            if members.iter().any(|m| m.0 == key) {
                // pest's walk reports it.
                return None;
            }
            self.skip_blanks();
            if self.peek()? != b':' {
                return None;
            }
            self.i += 1;
            self.skip_blanks();
            let value = self.value()?;
            members.push((key, line, col, value));
            self.skip_blanks();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.skip_blanks();
                }
                b'}' => {
                    self.i += 1;
                    return Some(Value::Dict(members));
                }
                _ => return None,
            }
        }
    }

    /// array = { lbracket ~ (value ~ (comma ~ value)*)? ~ rbracket }.
    fn array(&mut self) -> Option<Value> {
        self.i += 1;
        let mut values = Vec::new();
        self.skip_blanks();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(Value::List(values));
        }
        loop {
            values.push(self.value()?);
            self.skip_blanks();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.skip_blanks();
                }
                b']' => {
                    self.i += 1;
                    return Some(Value::List(values));
                }
                _ => return None,
            }
        }
    }

    /// doc_block = ${ doc_open ~ (doc_gap ~ doc_line)* ~ doc_gap ~ doc_close }: a
    /// `##` line, `#` lines (blank lines between them skipped), a `##` line.
    fn doc_block(&mut self) -> Option<DocBlock> {
        let start = self.i;
        let place = self.at.at(self.i);
        let mut lines = vec![self.doc_line()];
        loop {
            loop {
                match self.peek() {
                    Some(b' ' | b'\t'..=b'\r') => self.i += 1,
                    Some(0x1c..=0x1f | 0x80..) if self.other_space() > 0 => {
                        self.i += self.other_space()
                    }
                    _ => break,
                }
            }
            if self.peek()? != b'#' {
                return None;
            }
            let close = self.bytes.get(self.i + 1) == Some(&b'#');
            lines.push(self.doc_line());
            if close {
                return Some(DocBlock::new(self.src, start, self.i, lines, place, true));
            }
        }
    }

    /// The rest of the line from here, with its place.
    fn doc_line(&mut self) -> (usize, usize, u32, u32) {
        let (line, col) = self.at.at(self.i);
        let start = self.i;
        self.i = self.line_end(self.i);
        (start, self.i, line, col)
    }
}

#[cfg(test)]
mod tests {
    use super::super::syntax;
    use super::*;

    /// The reader agrees with the pest walk on `src`: the same items, or nothing
    /// where the walk fails. Returns whether the reader took the file.
    fn agrees(name: &str, src: &str) -> bool {
        let fast = parse(src);
        let pest = syntax::parse_with_pest(src);
        match (&fast, &pest.error) {
            (Some(items), None) => assert_eq!(items, &pest.items, "{name}"),
            (Some(_), Some(e)) => panic!("{name}: the reader took what pest refuses: {e:?}"),
            (None, _) => {}
        }
        fast.is_some()
    }

    fn schemas() -> Vec<(String, String)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![root.join("../qga-schema.json")];
        for dir in ["tests/good", "tests/good/include", "tests/bad"] {
            let entries = std::fs::read_dir(root.join(dir)).expect("the test schemas");
            files.extend(
                entries
                    .map(|e| e.expect("an entry").path())
                    .filter(|p| p.extension().is_some_and(|e| e == "json")),
            );
        }
        files.sort();
        files
            .into_iter()
            .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(&p).ok()?)))
            .collect()
    }

    #[test]
    fn the_reader_agrees_with_pest_on_every_test_schema() {
        let schemas = schemas();
        let taken = schemas.iter().filter(|(n, s)| agrees(n, s)).count();
        // Every schema pest accepts is taken by the reader.
        let accepted = schemas
            .iter()
            .filter(|(_, s)| syntax::parse_with_pest(s).error.is_none())
            .count();
        assert_eq!(taken, accepted);
        assert!(taken > 100, "{taken}");
    }

    #[test]
    fn the_reader_agrees_with_pest_on_damaged_schemas() {
        // Each schema with one byte dropped, doubled or replaced by a byte that
        // matters to the grammar, at places spread over the file.
        const BYTES: &[u8] = b"#'{}[],: \n\r\t\\ax";
        let mut taken = 0;
        let mut tried = 0;
        for (name, src) in schemas() {
            let bytes = src.as_bytes();
            let step = (bytes.len() / 40).max(1);
            for (n, at) in (0..bytes.len()).step_by(step).enumerate() {
                let mut variants = vec![
                    [&bytes[..at], &bytes[at + 1..]].concat(),
                    [&bytes[..=at], &bytes[at..]].concat(),
                ];
                let mut replaced = bytes.to_vec();
                replaced[at] = BYTES[n % BYTES.len()];
                variants.push(replaced);
                for variant in variants {
                    let Ok(text) = String::from_utf8(variant) else {
                        continue;
                    };
                    tried += 1;
                    taken += usize::from(agrees(&format!("{name} at {at}"), &text));
                }
            }
        }
        assert!(tried > 10_000 && taken > tried / 10, "{taken} of {tried}");
    }

    #[test]
    fn places_follow_tabs_and_lines() {
        let src = "##\n#\tdoc\r\n##\n{ 'a':\t[ 'b\\\\c', true ],\n  'd': {} }\n# c\n'e' false";
        assert!(agrees("inline", src));
        for bad in [
            "{ 'a': 1 }",
            "{ 'a': 'b', }",
            "{ 'a': 'b', 'a': 'c' }",
            "##\n# x\n",
            "['a'",
        ] {
            assert!(!agrees(bad, bad), "{bad}");
        }
    }
}
