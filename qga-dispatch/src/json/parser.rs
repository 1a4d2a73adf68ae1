//! The grammar: values, objects and arrays, built without recursion.
//!
//! Open containers live on an explicit stack. A completed value goes to the container
//! on top: an array takes it as an element; an object takes it as a key first (QEMU
//! parses a whole value there, then checks it is a string), then as that key's value.
//! The first error found is the one reported, as in QEMU.

use serde_json::{Map, Number, Value};

use super::lexer::{premature, Lexer, Token};
use super::syntax_error;
use crate::error::Error;

/// A container being filled.
enum Open {
    Array(Vec<Value>),
    /// An object, and the key whose value comes next once one has been read.
    Object(Map<String, Value>, Option<String>),
}

pub(super) struct Parser<'a> {
    lexer: Lexer<'a>,
    max_depth: usize,
}

/// What to do after a value has been given to its container.
enum Next {
    /// Read another value.
    Value,
    /// The container on top is complete.
    Close,
}

impl<'a> Parser<'a> {
    pub(super) fn new(src: &'a [u8], max_depth: usize) -> Self {
        Parser {
            lexer: Lexer::new(src),
            max_depth,
        }
    }

    /// Parses the one value of the message.
    pub(super) fn parse(mut self) -> Result<Value, Error> {
        let mut stack: Vec<Open> = Vec::new();
        loop {
            let mut value = match self.start_value(&mut stack)? {
                Some(value) => value,
                // A container was opened: read its first key or element.
                None => continue,
            };
            loop {
                let Some(top) = stack.last_mut() else {
                    return match self.lexer.next_token()? {
                        None => Ok(value),
                        Some(_) => Err(syntax_error("expecting end of input")),
                    };
                };
                match self.add(top, value)? {
                    Next::Value => break,
                    Next::Close => {
                        value = match stack.pop() {
                            Some(Open::Array(items)) => Value::Array(items),
                            Some(Open::Object(map, _)) => Value::Object(map),
                            None => return Err(syntax_error("expecting value")),
                        };
                    }
                }
            }
        }
    }

    /// Reads the start of a value: a whole scalar or empty container, or `None` after
    /// pushing a container that has content.
    fn start_value(&mut self, stack: &mut Vec<Open>) -> Result<Option<Value>, Error> {
        let token = self.lexer.next_token()?.ok_or_else(premature)?;
        let (open, close) = match token {
            Token::LCurly => (Open::Object(Map::new(), None), b'}'),
            Token::LSquare => (Open::Array(Vec::new()), b']'),
            Token::Str(text) => return Ok(Some(Value::String(text))),
            Token::Int(text) => return integer(text).map(Some),
            Token::Float(text) => return float(text).map(Some),
            Token::Keyword("true") => return Ok(Some(Value::Bool(true))),
            Token::Keyword("false") => return Ok(Some(Value::Bool(false))),
            Token::Keyword("null") => return Ok(Some(Value::Null)),
            Token::Keyword(word) => {
                return Err(syntax_error(format_args!("invalid keyword '{word}'")))
            }
            Token::RCurly | Token::RSquare | Token::Comma | Token::Colon => {
                return Err(syntax_error("expecting value"));
            }
        };
        if stack.len() >= self.max_depth {
            return Err(Error::generic("JSON nesting depth limit exceeded"));
        }
        match self.lexer.peek_byte() {
            None => Err(premature()),
            Some(b) if b == close => {
                self.lexer.bump();
                Ok(Some(match open {
                    Open::Array(_) => Value::Array(Vec::new()),
                    Open::Object(..) => Value::Object(Map::new()),
                }))
            }
            Some(_) => {
                stack.push(open);
                Ok(None)
            }
        }
    }

    /// Gives `value` to the container `top` and reads the separator after it.
    fn add(&mut self, top: &mut Open, value: Value) -> Result<Next, Error> {
        match top {
            Open::Array(items) => {
                items.push(value);
                match self.lexer.next_token()?.ok_or_else(premature)? {
                    Token::Comma => Ok(Next::Value),
                    Token::RSquare => Ok(Next::Close),
                    _ => Err(syntax_error("expected separator in list")),
                }
            }
            Open::Object(map, pending) => match pending.take() {
                None => {
                    let Value::String(key) = value else {
                        return Err(syntax_error("key is not a string in object"));
                    };
                    match self.lexer.next_token()?.ok_or_else(premature)? {
                        Token::Colon => {
                            *pending = Some(key);
                            Ok(Next::Value)
                        }
                        _ => Err(syntax_error("missing : in object pair")),
                    }
                }
                Some(key) => {
                    match map.entry(key) {
                        serde_json::map::Entry::Vacant(slot) => {
                            slot.insert(value);
                        }
                        serde_json::map::Entry::Occupied(_) => {
                            return Err(syntax_error("duplicate key"))
                        }
                    }
                    match self.lexer.next_token()?.ok_or_else(premature)? {
                        Token::Comma => Ok(Next::Value),
                        Token::RCurly => Ok(Next::Close),
                        _ => Err(syntax_error("expected separator in dict")),
                    }
                }
            },
        }
    }
}

/// An integer: `i64` when it fits, else `u64`, else a float (QEMU's QNum rules).
fn integer(text: &str) -> Result<Value, Error> {
    if let Ok(n) = text.parse::<i64>() {
        return Ok(Value::Number(n.into()));
    }
    if let Ok(n) = text.parse::<u64>() {
        return Ok(Value::Number(n.into()));
    }
    float(text)
}

/// A float. QEMU would keep an infinity, which no JSON can carry back: refused.
fn float(text: &str) -> Result<Value, Error> {
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| syntax_error(format_args!("number out of range '{text}'")))
}
