//! The subset of GLib's key file format that qemu-ga's configuration and state
//! files use: `[group]` headers, `key=value` lines, `#` comments.
//!
//! The rules are GLib's, checked against qemu-ga 7.2 (its `-D` shows what it
//! read): lines end at `\n` (a `\r` before it is dropped) or at a NUL byte;
//! leading whitespace is ignored; the key loses its trailing whitespace, the
//! value its leading whitespace but not its trailing whitespace; a later key
//! replaces an earlier one and a group named twice is one group; a key with a
//! locale (`key[de]`) is a different key. Values are checked only when read:
//! a string must be UTF-8 and may use the escapes `\s \n \t \r \\`; a boolean is
//! `true`, `false`, `1` or `0`, trailing whitespace allowed.

use std::fmt;

// GLib's `g_ascii_isspace`, the same set as C's `isspace`.
use crate::ctype::is_space;

/// A parsed key file: the entries of every group, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFile {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    group: Vec<u8>,
    key: Vec<u8>,
    value: Vec<u8>,
}

/// Why a key file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// A key-value pair came before any group header.
    NoGroup,
    /// A line that is neither a group, a key-value pair nor a comment.
    BadLine { line: usize, text: String },
    /// `[]`, or a group name with a control character or a `[`.
    BadGroup { line: usize, name: String },
    /// A key name GLib refuses (`]` in it, a malformed locale suffix).
    BadKey { line: usize, key: String },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::NoGroup => write!(f, "the file does not start with a [group]"),
            ParseError::BadLine { line, text } => write!(
                f,
                "line {line} ({text:?}) is not a group, a key=value pair or a comment"
            ),
            ParseError::BadGroup { line, name } => {
                write!(f, "line {line}: invalid group name {name:?}")
            }
            ParseError::BadKey { line, key } => write!(f, "line {line}: invalid key name {key:?}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Why a value could not be read as the type asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    /// Not UTF-8.
    NotUtf8 { key: String },
    /// An unknown escape, a trailing backslash, or a boolean that is none of
    /// `true`, `false`, `1`, `0`.
    Invalid { key: String },
    /// Not an integer (or out of range).
    NotInteger { key: String },
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::NotUtf8 { key } => write!(f, "the value of key {key:?} is not UTF-8"),
            ValueError::Invalid { key } => {
                write!(f, "the value of key {key:?} cannot be interpreted")
            }
            ValueError::NotInteger { key } => {
                write!(f, "the value of key {key:?} is not an integer")
            }
        }
    }
}

impl std::error::Error for ValueError {}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_space(*first) {
            break;
        }
        s = rest;
    }
    s
}

fn trim_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., last] = s {
        if !is_space(*last) {
            break;
        }
        s = rest;
    }
    s
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether `key` is a key name as GLib accepts it: a non-empty name without
/// `]`, optionally followed by a locale in brackets and nothing after it.
fn is_key_name(key: &[u8]) -> bool {
    let name_end = key
        .iter()
        .position(|&b| b == b'[' || b == b']')
        .unwrap_or(key.len());
    if name_end == 0 {
        return false;
    }
    match key.get(name_end) {
        None => true,
        Some(b']') => false,
        Some(_) => {
            let locale = &key[name_end + 1..];
            let close = locale
                .iter()
                .position(|&b| !(b.is_ascii_alphanumeric() || b >= 0x80 || b"-_.@".contains(&b)))
                .unwrap_or(locale.len());
            locale.get(close) == Some(&b']') && close + 1 == locale.len()
        }
    }
}

impl KeyFile {
    /// Parses the bytes of a key file.
    pub fn parse(data: &[u8]) -> Result<KeyFile, ParseError> {
        let mut entries = Vec::new();
        let mut group: Option<Vec<u8>> = None;
        for (index, raw) in data.split(|&b| b == b'\n').enumerate() {
            let line_no = index + 1;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            // GLib keeps each line as a C string.
            let raw = raw.split(|&b| b == 0).next().unwrap_or_default();
            let line = trim_start(raw);
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            if let Some(name) = group_name(line) {
                if name.is_empty() || name.iter().any(|&b| b == b'[' || b.is_ascii_control()) {
                    return Err(ParseError::BadGroup {
                        line: line_no,
                        name: lossy(name),
                    });
                }
                group = Some(name.to_vec());
                continue;
            }
            let Some(eq) = line.iter().position(|&b| b == b'=').filter(|&eq| eq > 0) else {
                return Err(ParseError::BadLine {
                    line: line_no,
                    text: lossy(line),
                });
            };
            let Some(group) = &group else {
                return Err(ParseError::NoGroup);
            };
            let key = trim_end(&line[..eq]);
            if !is_key_name(key) {
                return Err(ParseError::BadKey {
                    line: line_no,
                    key: lossy(key),
                });
            }
            entries.push(Entry {
                group: group.clone(),
                key: key.to_vec(),
                value: trim_start(&line[eq + 1..]).to_vec(),
            });
        }
        Ok(KeyFile { entries })
    }

    /// The raw (still escaped) value of `key` in `group`: the last one given.
    pub fn raw(&self, group: &str, key: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.group == group.as_bytes() && e.key == key.as_bytes())
            .map(|e| e.value.as_slice())
    }

    /// Whether `group` has `key`.
    pub fn has_key(&self, group: &str, key: &str) -> bool {
        self.raw(group, key).is_some()
    }

    /// The value of `key` as a string, unescaped.
    pub fn string(&self, group: &str, key: &str) -> Option<Result<String, ValueError>> {
        let raw = self.raw(group, key)?;
        Some(unescape(raw, key))
    }

    /// The value of `key` as a boolean.
    pub fn boolean(&self, group: &str, key: &str) -> Option<Result<bool, ValueError>> {
        let raw = self.raw(group, key)?;
        Some(match trim_end(raw) {
            b"true" | b"1" => Ok(true),
            b"false" | b"0" => Ok(false),
            _ => Err(ValueError::Invalid { key: key.into() }),
        })
    }

    /// The value of `key` as a 64-bit integer.
    pub fn integer(&self, group: &str, key: &str) -> Option<Result<i64, ValueError>> {
        let raw = self.raw(group, key)?;
        Some(
            std::str::from_utf8(trim_end(raw))
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| ValueError::NotInteger { key: key.into() }),
        )
    }
}

/// The name of a group header line (`[name]`, whitespace allowed after it).
fn group_name(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"[")?;
    let close = rest.iter().position(|&b| b == b']')?;
    trim_start(&rest[close + 1..])
        .is_empty()
        .then_some(&rest[..close])
}

fn unescape(raw: &[u8], key: &str) -> Result<String, ValueError> {
    let text = std::str::from_utf8(raw).map_err(|_| ValueError::NotUtf8 { key: key.into() })?;
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next() {
            Some('s') => ' ',
            Some('n') => '\n',
            Some('t') => '\t',
            Some('r') => '\r',
            Some('\\') => '\\',
            _ => return Err(ValueError::Invalid { key: key.into() }),
        });
    }
    Ok(out)
}

/// Writes a key file the way `g_key_file_to_data()` does: one group, its
/// entries in the order given.
#[derive(Debug, Clone, Default)]
pub struct Writer {
    out: Vec<u8>,
}

impl Writer {
    /// A file that starts with the header of `group`.
    pub fn new(group: &str) -> Self {
        let mut out = Vec::new();
        out.push(b'[');
        out.extend_from_slice(group.as_bytes());
        out.extend_from_slice(b"]\n");
        Writer { out }
    }

    /// `key=value`, the value escaped as GLib escapes a string.
    pub fn string(&mut self, key: &str, value: &[u8]) -> &mut Self {
        self.out.extend_from_slice(key.as_bytes());
        self.out.push(b'=');
        escape_into(value, &mut self.out);
        self.out.push(b'\n');
        self
    }

    /// `key=true` or `key=false`.
    pub fn boolean(&mut self, key: &str, value: bool) -> &mut Self {
        self.string(key, if value { b"true" } else { b"false" })
    }

    /// `key=N`.
    pub fn integer(&mut self, key: &str, value: i64) -> &mut Self {
        self.string(key, value.to_string().as_bytes())
    }

    /// The file's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

/// GLib's escaping of a string value: spaces and tabs are escaped only before
/// the first other character (newlines and carriage returns do not end that
/// run), newlines, carriage returns and backslashes everywhere.
fn escape_into(value: &[u8], out: &mut Vec<u8>) {
    let mut leading = true;
    for &b in value {
        match b {
            b' ' if leading => out.extend_from_slice(b"\\s"),
            b'\t' if leading => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\\' => {
                leading = false;
                out.extend_from_slice(b"\\\\");
            }
            _ => {
                leading = false;
                out.push(b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<KeyFile, ParseError> {
        KeyFile::parse(text.as_bytes())
    }

    fn get(text: &str, key: &str) -> Option<Result<String, ValueError>> {
        parse(text).unwrap().string("general", key)
    }

    #[test]
    fn whitespace_around_keys_and_values() {
        let kf = parse("  # comment\n[general]\n  path  =  /b  \t \nmethod = x  \n").unwrap();
        assert_eq!(kf.string("general", "path"), Some(Ok("/b  \t ".into())));
        assert_eq!(kf.string("general", "method"), Some(Ok("x  ".into())));
    }

    #[test]
    fn last_key_wins_and_groups_merge() {
        let text = "[other]\npath=/o\n[general]\npath=/g\n[general]\nlogfile=/l\npath=/g2\n";
        let kf = parse(text).unwrap();
        assert_eq!(kf.string("general", "path"), Some(Ok("/g2".into())));
        assert_eq!(kf.string("general", "logfile"), Some(Ok("/l".into())));
        assert_eq!(kf.string("other", "path"), Some(Ok("/o".into())));
    }

    #[test]
    fn locale_keys_are_other_keys() {
        assert_eq!(
            get("[general]\npath[de]=/de\npath=/p\n", "path"),
            Some(Ok("/p".into()))
        );
        assert_eq!(get("[general]\npath[de]=/de\n", "path"), None);
    }

    #[test]
    fn crlf_nul_and_blank_lines() {
        assert_eq!(
            get("[general]\r\npath=/crlf\r\n", "path"),
            Some(Ok("/crlf".into()))
        );
        assert_eq!(
            get("[general]\npath=/x\0y\n", "path"),
            Some(Ok("/x".into()))
        );
        assert_eq!(
            get("\n\n[general]\n   \npath=a=b", "path"),
            Some(Ok("a=b".into()))
        );
        assert_eq!(get("[general]  \npath=/x\n", "path"), Some(Ok("/x".into())));
        assert_eq!(get("  [general]\npath=/x\n", "path"), Some(Ok("/x".into())));
        assert_eq!(
            get("[general]\n\tpath\t=\t/t\n", "path"),
            Some(Ok("/t".into()))
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(
            get("[general]\npath=\\s\\s x\\t\\n\\r\\\\\n", "path"),
            Some(Ok("   x\t\n\r\\".into()))
        );
        for bad in ["a\\qb", "a\\;b", "a\\,c", "/x\\"] {
            let text = format!("[general]\npath={bad}\n");
            assert!(
                matches!(get(&text, "path"), Some(Err(ValueError::Invalid { .. }))),
                "{bad}"
            );
        }
        assert!(matches!(
            KeyFile::parse(b"[general]\npath=\xff\n")
                .unwrap()
                .string("general", "path"),
            Some(Err(ValueError::NotUtf8 { .. }))
        ));
    }

    #[test]
    fn booleans() {
        for (text, want) in [("true", true), ("1", true), ("0", false), ("false", false)] {
            let kf = parse(&format!("[general]\nverbose={text} \n")).unwrap();
            assert_eq!(kf.boolean("general", "verbose"), Some(Ok(want)));
        }
        for bad in ["yes", "True", "", "true\\s"] {
            let kf = parse(&format!("[general]\nverbose={bad}\n")).unwrap();
            assert!(
                matches!(kf.boolean("general", "verbose"), Some(Err(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn integers() {
        let kf = parse("[global]\nfd_counter=1234\nbad=12x\n").unwrap();
        assert_eq!(kf.integer("global", "fd_counter"), Some(Ok(1234)));
        assert!(matches!(kf.integer("global", "bad"), Some(Err(_))));
        assert_eq!(kf.integer("global", "none"), None);
    }

    #[test]
    fn errors() {
        assert_eq!(parse("path=/x\n[general]\n"), Err(ParseError::NoGroup));
        assert!(matches!(
            parse("[general]\nbogus line\n"),
            Err(ParseError::BadLine { line: 2, .. })
        ));
        assert!(matches!(
            parse("[general]\n=v\n"),
            Err(ParseError::BadLine { .. })
        ));
        assert!(matches!(
            parse(";c\n[general]\n"),
            Err(ParseError::BadLine { .. })
        ));
        assert!(matches!(
            parse("[general\n"),
            Err(ParseError::BadLine { .. })
        ));
        assert!(matches!(
            parse("[gen]eral]\n"),
            Err(ParseError::BadLine { .. })
        ));
        assert!(matches!(
            parse("\u{feff}[general]\n"),
            Err(ParseError::BadLine { .. })
        ));
        assert!(matches!(parse("[]\n"), Err(ParseError::BadGroup { .. })));
        assert!(matches!(
            parse("[general]\nk]=v\n"),
            Err(ParseError::BadKey { .. })
        ));
        assert!(matches!(
            parse("[general]\nk[x=v\n"),
            Err(ParseError::BadKey { .. })
        ));
        assert!(matches!(
            parse("[g\u{1}]\n"),
            Err(ParseError::BadGroup { .. })
        ));
        // Accepted by GLib, if useless.
        assert!(parse("[a b]\nk ey=v\n").is_ok());
        assert!(KeyFile::parse(b"[g\xff]\nx\xff=1\n").is_ok());
    }

    #[test]
    fn writer_escapes_like_glib() {
        let mut w = Writer::new("general");
        w.string("path", b"\t x\ty\rz\\w ")
            .string("logfile", b" \t\\s")
            .boolean("verbose", false)
            .string("block-rpcs", b"")
            .string("hook", b"\n x\\ y")
            .integer("n", -3);
        assert_eq!(
            w.into_bytes(),
            b"[general]\npath=\\t\\sx\ty\\rz\\\\w \nlogfile=\\s\\t\\\\s\nverbose=false\nblock-rpcs=\nhook=\\n\\sx\\\\ y\nn=-3\n"
        );
    }

    #[test]
    fn written_strings_read_back() {
        for value in ["", " a ", "\t\n\r\\ x", "a;b,c", "é"] {
            let mut w = Writer::new("general");
            w.string("k", value.as_bytes());
            let kf = KeyFile::parse(&w.into_bytes()).unwrap();
            assert_eq!(
                kf.string("general", "k"),
                Some(Ok(value.to_string())),
                "{value:?}"
            );
        }
    }
}
