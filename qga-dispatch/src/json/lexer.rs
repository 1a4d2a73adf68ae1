//! Tokens of one message, read on demand.
//!
//! The grammar of tokens is QEMU's: `{ } [ ] , :`, strings in either quote,
//! keywords as runs of `a`-`z` (the parser decides which are words), and RFC 8259
//! numbers. Anything else is a lexical error, `stray '...'` with the text read so far.

use super::string::decode_string;
use super::{stray, syntax_error};
use crate::error::Error;

/// One token.
#[derive(Debug, PartialEq)]
pub(super) enum Token<'a> {
    LCurly,
    RCurly,
    LSquare,
    RSquare,
    Comma,
    Colon,
    Str(String),
    /// An integer, as written.
    Int(&'a str),
    /// A number with a fraction or an exponent, as written.
    Float(&'a str),
    /// A run of lower-case letters.
    Keyword(&'a str),
}

/// Reads tokens from a message.
pub(super) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The text of an ASCII token.
fn ascii(bytes: &[u8]) -> &str {
    // Callers pass digits, signs, dots and letters only.
    std::str::from_utf8(bytes).unwrap_or_default()
}

impl<'a> Lexer<'a> {
    pub(super) fn new(src: &'a [u8]) -> Self {
        Lexer { src, pos: 0 }
    }

    /// The next byte after whitespace, not consumed.
    pub(super) fn peek_byte(&mut self) -> Option<u8> {
        while self.src.get(self.pos).is_some_and(|&b| is_space(b)) {
            self.pos += 1;
        }
        self.src.get(self.pos).copied()
    }

    /// Consumes one byte (after [`Lexer::peek_byte`]).
    pub(super) fn bump(&mut self) {
        self.pos += 1;
    }

    /// The next token, `None` at the end of the message.
    pub(super) fn next_token(&mut self) -> Result<Option<Token<'a>>, Error> {
        let Some(b) = self.peek_byte() else {
            return Ok(None);
        };
        let start = self.pos;
        let simple = match b {
            b'{' => Token::LCurly,
            b'}' => Token::RCurly,
            b'[' => Token::LSquare,
            b']' => Token::RSquare,
            b',' => Token::Comma,
            b':' => Token::Colon,
            b'"' | b'\'' => {
                let (text, end) = decode_string(self.src, start)?;
                self.pos = end;
                return Ok(Some(Token::Str(text)));
            }
            b'-' | b'0'..=b'9' => return self.number().map(Some),
            b'a'..=b'z' => {
                let len = self.src[start..]
                    .iter()
                    .position(|b| !b.is_ascii_lowercase())
                    .unwrap_or(self.src.len() - start);
                self.pos += len;
                return Ok(Some(Token::Keyword(ascii(&self.src[start..self.pos]))));
            }
            _ => return Err(stray(&[b])),
        };
        self.pos += 1;
        Ok(Some(simple))
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<Token<'a>, Error> {
        let start = self.pos;
        self.eat(|b| b == b'-');
        match self.src.get(self.pos) {
            Some(b'0') => {
                self.pos += 1;
                if self.src.get(self.pos).is_some_and(u8::is_ascii_digit) {
                    return Err(self.bad_number(start));
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.bad_number(start)),
        }
        let mut float = false;
        if self.eat(|b| b == b'.') {
            float = true;
            if !self.src.get(self.pos).is_some_and(u8::is_ascii_digit) {
                return Err(self.bad_number(start));
            }
            self.digits();
        }
        if self.eat(|b| b == b'e' || b == b'E') {
            float = true;
            self.eat(|b| b == b'+' || b == b'-');
            if !self.src.get(self.pos).is_some_and(u8::is_ascii_digit) {
                return Err(self.bad_number(start));
            }
            self.digits();
        }
        let text = ascii(&self.src[start..self.pos]);
        Ok(if float {
            Token::Float(text)
        } else {
            Token::Int(text)
        })
    }

    fn digits(&mut self) {
        while self.src.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, want: impl Fn(u8) -> bool) -> bool {
        let hit = self.src.get(self.pos).is_some_and(|&b| want(b));
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// A malformed number: QEMU shows it up to and including the byte that broke it
    /// (here not when that byte is whitespace, which would only confuse).
    fn bad_number(&self, start: usize) -> Error {
        let end = match self.src.get(self.pos) {
            Some(&b) if !is_space(b) => self.pos + 1,
            _ => self.pos,
        };
        stray(&self.src[start..end])
    }
}

/// `premature EOI`, for a message that stops in the middle of a value.
pub(super) fn premature() -> Error {
    syntax_error("premature EOI")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &[u8]) -> Vec<Token<'_>> {
        let mut lexer = Lexer::new(src);
        std::iter::from_fn(|| lexer.next_token().unwrap()).collect()
    }

    #[test]
    fn splits_tokens() {
        assert_eq!(
            tokens(b" {\"a\" :[1, -2.5e3,tru ]}0e5"),
            [
                Token::LCurly,
                Token::Str("a".into()),
                Token::Colon,
                Token::LSquare,
                Token::Int("1"),
                Token::Comma,
                Token::Float("-2.5e3"),
                Token::Comma,
                Token::Keyword("tru"),
                Token::RSquare,
                Token::RCurly,
                Token::Float("0e5"),
            ]
        );
        assert_eq!(
            tokens(b"12true"),
            [Token::Int("12"), Token::Keyword("true")]
        );
    }
}
