//! Decoding one string token: escapes, modified UTF-8, and which error comes first.
//!
//! QEMU's lexer reads a whole string before its parser decodes it, so a lexical error
//! anywhere in the token (a control character, 0xFE, 0xFF, as `stray '...'`) wins over
//! a decoding error earlier in it (a bad escape, invalid UTF-8). Decoding here is one
//! pass; on a decoding error the rest of the token is checked for a lexical one.
//!
//! Plain runs are found with `memchr2` and copied whole when they are printable
//! ASCII, the common case (base64 payloads are megabytes of it).

use memchr::memchr2;

use super::utf8::{decode, is_valid_codepoint};
use super::{stray, syntax_error};
use crate::error::Error;

/// Bytes the lexer refuses inside a string.
fn is_lexical_error(b: u8) -> bool {
    !(0x20..0xFE).contains(&b)
}

/// Decodes the string whose opening quote is at `src[start]`; returns it and the
/// index just past its closing quote.
pub(super) fn decode_string(src: &[u8], start: usize) -> Result<(String, usize), Error> {
    let quote = src[start];
    let mut out: Vec<u8> = Vec::new();
    let mut pos = start + 1;
    loop {
        let Some(i) = memchr2(quote, b'\\', &src[pos..]) else {
            return Err(lexical_error_after(src, start, pos)
                .unwrap_or_else(|| syntax_error("premature EOI")));
        };
        let run = &src[pos..pos + i];
        if is_plain_ascii(run) {
            out.extend_from_slice(run);
        } else if let Err(e) = push_raw(&mut out, src, start, pos, pos + i) {
            return Err(lexical_error_after(src, start, pos).unwrap_or(e));
        }
        pos += i;
        if src[pos] == quote {
            break;
        }
        // A backslash: the lexer takes any byte but a control one or 0xFE/0xFF after it.
        let Some(&escape) = src.get(pos + 1) else {
            return Err(syntax_error("premature EOI"));
        };
        if is_lexical_error(escape) {
            return Err(stray(&src[start..=pos + 1]));
        }
        match push_escape(&mut out, src, quote, pos) {
            Ok(next) => pos = next,
            Err(e) => return Err(lexical_error_after(src, start, pos + 2).unwrap_or(e)),
        }
    }
    // Only whole characters were pushed, so this cannot fail; keep it an error
    // all the same rather than a panic.
    let text =
        String::from_utf8(out).map_err(|_| syntax_error("invalid UTF-8 sequence in string"))?;
    Ok((text, pos + 1))
}

/// Printable ASCII only (no control character, nothing to decode).
fn is_plain_ascii(run: &[u8]) -> bool {
    // Branch-free over chunks so that it vectorises.
    run.chunks(64).all(|chunk| {
        chunk
            .iter()
            .fold(0u8, |worst, &b| worst.max(b.wrapping_sub(0x20)))
            < 0x60
    })
}

/// Copies `src[from..to]`, raw text with something beyond printable ASCII in it.
fn push_raw(
    out: &mut Vec<u8>,
    src: &[u8],
    start: usize,
    from: usize,
    to: usize,
) -> Result<(), Error> {
    let mut i = from;
    while i < to {
        let b = src[i];
        if is_lexical_error(b) {
            return Err(stray(&src[start..=i]));
        }
        if b < 0x80 {
            out.push(b);
            i += 1;
            continue;
        }
        let Some((c, len)) = decode(&src[i..to]) else {
            return Err(syntax_error("invalid UTF-8 sequence in string"));
        };
        let mut utf8 = [0; 4];
        out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        i += len;
    }
    Ok(())
}

/// Decodes the escape whose backslash is at `src[at]`; returns the index after it.
fn push_escape(out: &mut Vec<u8>, src: &[u8], quote: u8, at: usize) -> Result<usize, Error> {
    let simple = match src[at + 1] {
        b'"' => b'"',
        b'\'' => b'\'',
        b'\\' => b'\\',
        b'/' => b'/',
        b'b' => 0x08,
        b'f' => 0x0C,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'u' => return push_unicode_escape(out, src, quote, at),
        _ => return Err(syntax_error("invalid escape sequence in string")),
    };
    out.push(simple);
    Ok(at + 2)
}

/// Decodes `\uXXXX`, or a surrogate pair `\uD83D\uDE00`, at `src[at]`.
fn push_unicode_escape(
    out: &mut Vec<u8>,
    src: &[u8],
    quote: u8,
    at: usize,
) -> Result<usize, Error> {
    let mut end = at + 6;
    let mut cp = hex4(src, at + 2);
    if let Some(high @ 0xD800..=0xDBFF) = cp {
        if src.get(end..end + 2) == Some(b"\\u") {
            cp = match hex4(src, end + 2) {
                Some(low @ 0xDC00..=0xDFFF) => {
                    end += 6;
                    Some(0x10000 + ((high & 0x3FF) << 10) + (low & 0x3FF))
                }
                _ => None,
            };
        }
    }
    match cp
        .filter(|&cp| is_valid_codepoint(cp))
        .and_then(char::from_u32)
    {
        Some(c) => {
            let mut utf8 = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            Ok(end)
        }
        None => {
            // QEMU quotes the escape as far as it read it: up to six bytes, here
            // stopping short of the end of the string.
            let shown = &src[at..end.min(src.len())];
            let shown = shown
                .iter()
                .skip(1)
                .position(|&b| b == quote)
                .map_or(shown, |i| &shown[..=i]);
            Err(syntax_error(format_args!(
                "{} is not a valid Unicode character",
                String::from_utf8_lossy(shown)
            )))
        }
    }
}

/// The value of four hex digits at `src[at..]`, if there are four.
fn hex4(src: &[u8], at: usize) -> Option<u32> {
    let digits = src.get(at..at + 4)?;
    digits
        .iter()
        .try_fold(0u32, |cp, &d| Some(cp << 4 | char::from(d).to_digit(16)?))
}

/// The lexical error QEMU's lexer would find in the string opened at `start`, looking
/// from `from` to its closing quote, if any.
fn lexical_error_after(src: &[u8], start: usize, from: usize) -> Option<Error> {
    let quote = src[start];
    let mut i = from;
    while i < src.len() {
        let b = src[i];
        if is_lexical_error(b) {
            return Some(stray(&src[start..=i]));
        }
        if b == quote {
            return None;
        }
        if b == b'\\' {
            if src.get(i + 1).is_some_and(|&e| is_lexical_error(e)) {
                return Some(stray(&src[start..=i + 1]));
            }
            i += 1;
        }
        i += 1;
    }
    None
}
