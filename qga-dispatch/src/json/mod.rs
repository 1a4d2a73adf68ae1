//! Parsing one framed message into a `serde_json::Value`, as QEMU's JSON parser does.
//!
//! Why not `serde_json::from_slice`: QEMU's dialect differs from RFC 8259 and its
//! error texts are part of what clients see. Here:
//! - strings may be single-quoted, and `\'` is an escape in both kinds;
//! - strings are modified UTF-8: `C0 80` is U+0000; noncharacters, surrogates and
//!   overlong forms are refused (`invalid UTF-8 sequence in string`), as are
//!   `\uXXXX` escapes naming one (`\uFFFF is not a valid Unicode character`);
//! - a key given twice is an error (`duplicate key`), where `serde_json` would keep
//!   the last one;
//! - an integer beyond `i64` is read as `u64`, beyond that as a float;
//! - every error is `JSON parse error, ` and QEMU's words: `expecting value`,
//!   `invalid keyword 'tru'`, `stray '@'`, `missing : in object pair`, `expected
//!   separator in dict`, `key is not a string in object`, `premature EOI`...
//!
//! The parser is iterative, so no input can exhaust the stack; nesting is capped all
//! the same, like the framer's.

mod lexer;
mod parser;
mod string;
mod utf8;

use serde_json::Value;

use crate::error::Error;
use crate::limits::Limits;

/// Parses one complete JSON value with QEMU's dialect and error texts, nesting at
/// most QEMU's 1024 levels.
///
/// ```
/// let value = qga_dispatch::json::parse(b"{'execute': \"guest-ping\"}").unwrap();
/// assert_eq!(value["execute"], "guest-ping");
/// let error = qga_dispatch::json::parse(br#"{"a": 1, "a": 2}"#).unwrap_err();
/// assert_eq!(error.desc, "JSON parse error, duplicate key");
/// ```
pub fn parse(message: &[u8]) -> Result<Value, Error> {
    parse_nested(message, Limits::QEMU.nesting)
}

/// Like [`parse`], with at most `max_depth` objects and arrays open at once.
pub fn parse_nested(message: &[u8], max_depth: usize) -> Result<Value, Error> {
    parser::Parser::new(message, max_depth).parse()
}

/// `JSON parse error, <what>`: the form of every syntax error.
fn syntax_error(what: impl std::fmt::Display) -> Error {
    Error::generic(format!("JSON parse error, {what}"))
}

/// A lexical error: the text of the bad token, up to and including the bad byte.
fn stray(token: &[u8]) -> Error {
    const SHOWN: usize = 64;
    let text = if token.len() <= SHOWN {
        String::from_utf8_lossy(token).into_owned()
    } else {
        // A bad byte deep in a long string: show how the token starts and where
        // it went wrong, not megabytes of it.
        let head = String::from_utf8_lossy(&token[..SHOWN / 2]);
        let tail = String::from_utf8_lossy(&token[token.len() - SHOWN / 2..]);
        format!("{head}...{tail}")
    };
    syntax_error(format_args!("stray '{text}'"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn err(input: &[u8]) -> String {
        match parse(input) {
            Ok(v) => panic!("{:?} parsed as {v}", String::from_utf8_lossy(input)),
            Err(e) => e
                .desc
                .strip_prefix("JSON parse error, ")
                .map(str::to_owned)
                .unwrap_or(e.desc),
        }
    }

    #[test]
    fn values() {
        assert_eq!(
            parse(b" {\"a\": [1, -2, 3.5, true, false, null, \"s\", {}]} ").unwrap(),
            json!({
                "a": [1, -2, 3.5, true, false, null, "s", {}]
            })
        );
        assert_eq!(
            parse(b"'it''s'").unwrap_err().desc,
            "JSON parse error, expecting end of input"
        );
        assert_eq!(parse(br#"'say "hi"\''"#).unwrap(), json!("say \"hi\"'"));
        assert_eq!(
            parse(br#""\"\\\/\b\f\n\r\t\u00e9\u0000\ud83d\ude00""#).unwrap(),
            json!("\"\\/\u{8}\u{c}\n\r\té\0😀")
        );
        assert_eq!(parse(b"\"\xc0\x80\"").unwrap(), json!("\0"));
        assert_eq!(parse("\"é€😀\"".as_bytes()).unwrap(), json!("é€😀"));
    }

    #[test]
    fn numbers_like_qemu() {
        assert_eq!(parse(b"9223372036854775807").unwrap(), json!(i64::MAX));
        assert_eq!(parse(b"-9223372036854775808").unwrap(), json!(i64::MIN));
        assert_eq!(parse(b"18446744073709551615").unwrap(), json!(u64::MAX));
        assert_eq!(
            parse(b"1180591620717411303424").unwrap(),
            json!(1.1805916207174113e21)
        );
        assert_eq!(
            parse(b"-9223372036854775809").unwrap(),
            json!(-9.223372036854776e18)
        );
        assert_eq!(parse(b"0").unwrap(), json!(0));
        assert_eq!(parse(b"-0").unwrap(), json!(0));
        assert_eq!(parse(b"1e2").unwrap(), json!(100.0));
        assert_eq!(parse(b"0.5E-1").unwrap(), json!(0.05));
        assert_eq!(err(b"1e400"), "number out of range '1e400'");
        assert_eq!(err(b"01"), "stray '01'");
        assert_eq!(err(b"-x"), "stray '-x'");
        assert_eq!(err(b"[1.]"), "stray '1.]'");
        assert_eq!(err(b"[1e+]"), "stray '1e+]'");
        assert_eq!(err(b"-"), "stray '-'");
    }

    #[test]
    fn syntax_errors_have_qemus_texts() {
        assert_eq!(err(b""), "premature EOI");
        assert_eq!(err(b"{"), "premature EOI");
        assert_eq!(err(b"{\"a\""), "premature EOI");
        assert_eq!(err(b"{\"a\":1"), "premature EOI");
        assert_eq!(err(b"[1,"), "premature EOI");
        assert_eq!(err(b"}"), "expecting value");
        assert_eq!(err(b"[1,]"), "expecting value");
        assert_eq!(err(b"{\"a\":}"), "expecting value");
        assert_eq!(err(b"{\"a\":1,}"), "expecting value");
        assert_eq!(err(b"{\"a\" 1}"), "missing : in object pair");
        assert_eq!(err(b"{\"a\":1 \"b\":2}"), "expected separator in dict");
        assert_eq!(err(b"[1 2]"), "expected separator in list");
        assert_eq!(err(b"{1:2}"), "key is not a string in object");
        assert_eq!(err(b"{[]:2}"), "key is not a string in object");
        assert_eq!(err(b"[tru]"), "invalid keyword 'tru'");
        assert_eq!(err(b"True"), "stray 'T'");
        assert_eq!(err(b"[@]"), "stray '@'");
        assert_eq!(err(b"{\"a\":1,\"a\":2}"), "duplicate key");
        assert_eq!(err(b"{\"a\":1,\"a\":}"), "expecting value");
    }

    #[test]
    fn string_errors() {
        assert_eq!(err(b"\"a\nb\""), "stray '\"a\n'");
        assert_eq!(err(b"\"a\x00b\""), "stray '\"a\0'");
        assert_eq!(err(b"\"a\xfeb\""), "stray '\"a\u{fffd}'");
        assert_eq!(err(b"\"\\q\""), "invalid escape sequence in string");
        assert_eq!(err(b"\"\\q\x01\""), "stray '\"\\q\x01'");
        assert_eq!(err(b"\"\\u12\""), "\\u12 is not a valid Unicode character");
        assert_eq!(
            err(b"\"\\uFFFF\""),
            "\\uFFFF is not a valid Unicode character"
        );
        assert_eq!(
            err(b"\"\\uD800\""),
            "\\uD800 is not a valid Unicode character"
        );
        assert_eq!(
            err(b"\"\\uD800\\u0041\""),
            "\\uD800 is not a valid Unicode character"
        );
        assert_eq!(
            err(b"\"\\uDC00\""),
            "\\uDC00 is not a valid Unicode character"
        );
        for bad in [
            &b"\"\x80\""[..],
            b"\"\xc3\"",
            b"\"\xc1\xbf\"",
            b"\"\xed\xa0\x80\"",
            b"\"\xef\xbf\xbf\"",
            b"\"\xf4\x90\x80\x80\"",
        ] {
            assert_eq!(err(bad), "invalid UTF-8 sequence in string", "{bad:?}");
        }
        assert_eq!(err(b"\"abc"), "premature EOI");
        let long = [&b"\""[..], &[b'x'; 100], b"\x01\""].concat();
        assert_eq!(
            err(&long),
            format!("stray '\"{}...{}\x01'", "x".repeat(31), "x".repeat(31))
        );
    }

    #[test]
    fn nesting_is_capped_without_recursion() {
        let deep = [vec![b'['; 1024], vec![b']'; 1024]].concat();
        assert!(parse(&deep).is_ok());
        let deeper = [vec![b'['; 1025], vec![b']'; 1025]].concat();
        assert_eq!(err(&deeper), "JSON nesting depth limit exceeded");
        // A million levels opened: no recursion in the parser. (A complete value that
        // deep could not even be dropped by serde_json: hence the cap.)
        let huge = [vec![b'['; 1 << 20], b"1".to_vec()].concat();
        assert_eq!(
            parse_nested(&huge, usize::MAX).unwrap_err().desc,
            "JSON parse error, premature EOI"
        );
    }
}
