//! Cutting a byte stream into JSON messages.
//!
//! The channel carries JSON values back to back: one may span many reads, one read
//! may hold many, and whitespace between them means nothing. The framer finds where
//! each value ends without parsing it: it follows strings (double- or single-quoted,
//! with escapes) and counts braces and brackets, as QEMU's streamer does. A value
//! ends when both counts are back to zero after a token; a lone scalar or a stray
//! closer at the top is a message of its own (the parser then says what is wrong
//! with it).
//!
//! Rules:
//! - A 0xFF byte, anywhere, throws away the partial message, silently: the host sends
//!   it to resynchronise (guest-sync-delimited).
//! - A message over one of the [`Limits`] gets one error, then the framer skips to its
//!   end (following strings and nesting, storing nothing) or to the next 0xFF.
//! - Memory stays bounded: skipped bytes are not kept, whitespace inside a stored
//!   message shrinks to one space, and a large buffer is kept only while large
//!   messages keep coming (a file copied in 48 MiB writes does not fault in fresh
//!   pages for each): the first small message, an error or a reset releases it.
//! - Strings are scanned with `memchr` (the only bytes that matter inside one are the
//!   quote, the backslash and 0xFF), so a 48 MiB base64 argument costs little.
//! - A message read whole in one `input` is returned as a slice of it, uncopied.
//!
//! Everything else (bad characters, bad numbers, bad escapes, invalid UTF-8) is left
//! to the parser, which reports it as one error for the whole message.

use memchr::memchr3;

use crate::error::Error;
use crate::limits::Limits;

/// What the framer found in the input.
#[derive(Debug, PartialEq)]
pub enum Frame<'a> {
    /// The bytes of one complete message, to be parsed.
    Message(&'a [u8]),
    /// A message broke a limit: answer with this error; the framer skips the rest.
    Error(Error),
}

/// The state of one input stream; see the module documentation.
#[derive(Debug)]
pub struct Framer {
    limits: Limits,
    /// The message in progress, when it spans more than one `input`.
    buf: Vec<u8>,
    /// `buf` holds a message returned by the last call, to be cleared on the next.
    release_buf: bool,
    phase: Phase,
    lex: Lex,
    braces: usize,
    brackets: usize,
    tokens: usize,
    token_bytes: usize,
}

/// Where the stream is with respect to messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between messages.
    Idle,
    /// Inside a message that is being kept.
    Keep,
    /// Inside a message that broke a limit: followed to its end, not kept.
    Skip,
}

/// Where the stream is with respect to tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    /// Between tokens.
    Between,
    /// Inside a string opened by `quote`; `escaped` after a backslash.
    Str { quote: u8, escaped: bool },
    /// Inside a number, a keyword or a run of garbage.
    Word,
}

/// Where a complete message is.
#[derive(Debug, Clone, Copy)]
enum Done {
    /// `input[start..end]`, never copied.
    InInput { start: usize, end: usize },
    /// The whole of `buf`; the input is consumed up to `end`.
    InBuffer { end: usize },
}

/// A buffer larger than this is given back to the allocator when no longer needed.
const KEEP_CAPACITY: usize = 1 << 20;

/// Bytes that end a number or keyword.
fn ends_word(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t'
            | b'\r'
            | b'\n'
            | b'{'
            | b'}'
            | b'['
            | b']'
            | b','
            | b':'
            | b'"'
            | b'\''
            | 0xFF
    )
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new(Limits::default())
    }
}

impl Framer {
    /// A framer with the given limits, at the start of a stream.
    pub fn new(limits: Limits) -> Self {
        Framer {
            limits,
            buf: Vec::new(),
            release_buf: false,
            phase: Phase::Idle,
            lex: Lex::Between,
            braces: 0,
            brackets: 0,
            tokens: 0,
            token_bytes: 0,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether part of a message has been seen and not finished.
    pub fn is_pending(&self) -> bool {
        self.phase != Phase::Idle
    }

    /// How many bytes of a partial message are held (whitespace runs count one).
    pub fn buffered_len(&self) -> usize {
        if self.release_buf {
            0
        } else {
            self.buf.len()
        }
    }

    /// Forgets any partial message, as a 0xFF byte does (for a new client, say).
    pub fn reset(&mut self) {
        self.phase = Phase::Idle;
        self.lex = Lex::Between;
        self.braces = 0;
        self.brackets = 0;
        self.tokens = 0;
        self.token_bytes = 0;
        self.release(false);
    }

    /// Consumes `input` up to the end of the next message or error and returns it;
    /// `None` once `input` is used up (a partial message is kept for the next call).
    ///
    /// ```
    /// # use qga_dispatch::{Frame, Framer};
    /// let mut framer = Framer::default();
    /// let mut input: &[u8] = b"{\"execute\": \"guest-ping\"} {\"exec";
    /// assert_eq!(framer.next_frame(&mut input), Some(Frame::Message(b"{\"execute\": \"guest-ping\"}")));
    /// assert_eq!(framer.next_frame(&mut input), None);
    /// let mut input: &[u8] = b"ute\": 1}";
    /// assert_eq!(framer.next_frame(&mut input), Some(Frame::Message(b"{\"execute\": 1}")));
    /// ```
    pub fn next_frame<'s, 'i: 's>(&'s mut self, input: &mut &'i [u8]) -> Option<Frame<'s>> {
        if self.release_buf {
            // The buffer held the last message: keep it if that one was large.
            let large = self.buf.len() >= self.buf.capacity() / 4;
            self.release(large);
        }
        let data: &'i [u8] = input;
        // The message's bytes not yet copied into `buf` start at `start`. When the
        // message began in this `data` and nothing is buffered, it is `borrowed`:
        // returned as a slice of `data` if it also ends here.
        let mut start = 0;
        let mut borrowed = false;
        let mut pos = 0;
        while pos < data.len() {
            match self.lex {
                Lex::Str {
                    quote,
                    escaped: true,
                } => {
                    if data[pos] == 0xFF {
                        self.reset();
                        borrowed = false;
                        pos += 1;
                        continue;
                    }
                    if let Err(e) = self.count_bytes(1) {
                        return Some(self.fail(input, pos, e));
                    }
                    self.lex = Lex::Str {
                        quote,
                        escaped: false,
                    };
                    pos += 1;
                }
                Lex::Str {
                    quote,
                    escaped: false,
                } => {
                    let (run, special) = match memchr3(quote, b'\\', 0xFF, &data[pos..]) {
                        Some(i) => (i + 1, Some(data[pos + i])),
                        None => (data.len() - pos, None),
                    };
                    if let Err(e) = self.count_bytes(run) {
                        return Some(self.fail(input, pos, e));
                    }
                    pos += run;
                    match special {
                        None => {}
                        Some(0xFF) => {
                            self.reset();
                            borrowed = false;
                        }
                        Some(b'\\') => {
                            self.lex = Lex::Str {
                                quote,
                                escaped: true,
                            }
                        }
                        Some(_) => {
                            self.lex = Lex::Between;
                            if let Some(done) = self.token_done(data, start, pos, borrowed) {
                                return Some(self.emit(input, data, done));
                            }
                        }
                    }
                }
                Lex::Word => {
                    let run = data[pos..]
                        .iter()
                        .position(|&b| ends_word(b))
                        .unwrap_or(data.len() - pos);
                    if let Err(e) = self.count_bytes(run) {
                        return Some(self.fail(input, pos, e));
                    }
                    pos += run;
                    if pos < data.len() {
                        self.lex = Lex::Between;
                        if let Some(done) = self.token_done(data, start, pos, borrowed) {
                            return Some(self.emit(input, data, done));
                        }
                    }
                }
                Lex::Between => {
                    let b = data[pos];
                    if is_space(b) {
                        let end = data[pos..]
                            .iter()
                            .position(|&b| !is_space(b))
                            .map_or(data.len(), |i| pos + i);
                        if self.phase == Phase::Keep && !borrowed {
                            // Inside a stored message a run of whitespace is kept as
                            // one space: enough to separate tokens, and bounded.
                            self.buf.extend_from_slice(&data[start..pos]);
                            if self.buf.last() != Some(&b' ') {
                                self.buf.push(b' ');
                            }
                            start = end;
                        }
                        pos = end;
                        continue;
                    }
                    if b == 0xFF {
                        self.reset();
                        borrowed = false;
                        pos += 1;
                        continue;
                    }
                    if self.phase == Phase::Idle {
                        self.phase = Phase::Keep;
                        start = pos;
                        borrowed = true;
                    }
                    if let Err(e) = self.count_token(b) {
                        return Some(self.fail(input, pos, e));
                    }
                    match b {
                        b'{' => self.braces += 1,
                        b'[' => self.brackets += 1,
                        b'}' => self.braces = self.braces.saturating_sub(1),
                        b']' => self.brackets = self.brackets.saturating_sub(1),
                        b'"' | b'\'' => {
                            self.lex = Lex::Str {
                                quote: b,
                                escaped: false,
                            }
                        }
                        b',' | b':' => {}
                        _ => {
                            // A number, a keyword or garbage: the Word arm takes it.
                            self.lex = Lex::Word;
                            continue;
                        }
                    }
                    pos += 1;
                    if self.lex == Lex::Between {
                        if let Some(done) = self.token_done(data, start, pos, borrowed) {
                            return Some(self.emit(input, data, done));
                        }
                    }
                }
            }
        }
        if self.phase == Phase::Keep {
            self.buf.extend_from_slice(&data[start..]);
        }
        *input = &data[data.len()..];
        None
    }

    /// A token ended just before `end`: when the counts are back to zero the message
    /// is complete. Returns where it is, or `None` to go on (a skipped message ends
    /// without a word).
    #[inline]
    fn token_done(
        &mut self,
        data: &[u8],
        start: usize,
        end: usize,
        borrowed: bool,
    ) -> Option<Done> {
        if self.braces != 0 || self.brackets != 0 {
            return None;
        }
        let phase = self.phase;
        self.phase = Phase::Idle;
        self.tokens = 0;
        self.token_bytes = 0;
        match phase {
            Phase::Keep if borrowed => {
                // A message read whole: large messages no longer come in pieces.
                self.release(false);
                Some(Done::InInput { start, end })
            }
            Phase::Keep => {
                self.buf.extend_from_slice(&data[start..end]);
                self.release_buf = true;
                Some(Done::InBuffer { end })
            }
            Phase::Skip | Phase::Idle => None,
        }
    }

    /// The frame of a message that [`Framer::token_done`] found complete.
    fn emit<'s, 'i: 's>(&'s self, input: &mut &'i [u8], data: &'i [u8], done: Done) -> Frame<'s> {
        match done {
            Done::InInput { start, end } => {
                *input = &data[end..];
                Frame::Message(&data[start..end])
            }
            Done::InBuffer { end } => {
                *input = &data[end..];
                Frame::Message(&self.buf)
            }
        }
    }

    /// Counts `n` more bytes of token text against the size limit.
    fn count_bytes(&mut self, n: usize) -> Result<(), Error> {
        if self.phase != Phase::Keep {
            return Ok(());
        }
        self.token_bytes += n;
        if self.token_bytes > self.limits.token_size {
            return Err(Error::generic("JSON token size limit exceeded"));
        }
        Ok(())
    }

    /// Counts a token that starts with `b` against the count and nesting limits.
    fn count_token(&mut self, b: u8) -> Result<(), Error> {
        if self.phase != Phase::Keep {
            return Ok(());
        }
        self.tokens += 1;
        if self.tokens > self.limits.token_count {
            return Err(Error::generic("JSON token count limit exceeded"));
        }
        if matches!(b, b'{' | b'[') && self.braces + self.brackets + 1 > self.limits.nesting {
            return Err(Error::generic("JSON nesting depth limit exceeded"));
        }
        if !matches!(b, b'"' | b'\'') && !ends_word(b) {
            // A word is counted byte by byte as it is scanned.
            return Ok(());
        }
        self.count_bytes(1)
    }

    /// Gives up the message in progress because of `error`; the bytes from `pos` on
    /// (not yet consumed) are scanned by the next call, which skips to the end.
    fn fail(&mut self, input: &mut &[u8], pos: usize, error: Error) -> Frame<'static> {
        *input = &input[pos..];
        self.phase = Phase::Skip;
        self.release(false);
        Frame::Error(error)
    }

    /// Empties the buffer; a large one is given back unless `keep_large`.
    fn release(&mut self, keep_large: bool) {
        self.release_buf = false;
        if self.buf.capacity() > KEEP_CAPACITY && !keep_large {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(framer: &mut Framer, mut input: &[u8]) -> Vec<Result<Vec<u8>, String>> {
        let mut out = Vec::new();
        while let Some(frame) = framer.next_frame(&mut input) {
            out.push(match frame {
                Frame::Message(m) => Ok(m.to_vec()),
                Frame::Error(e) => Err(e.desc),
            });
        }
        out
    }

    fn all(input: &[u8]) -> Vec<Result<Vec<u8>, String>> {
        frames(&mut Framer::default(), input)
    }

    fn msg(s: &str) -> Result<Vec<u8>, String> {
        Ok(s.as_bytes().to_vec())
    }

    #[test]
    fn several_values_in_one_input() {
        assert_eq!(
            all(b" {\"a\":1}\n[2] \"x\" 'y' 12 true "),
            [
                msg("{\"a\":1}"),
                msg("[2]"),
                msg("\"x\""),
                msg("'y'"),
                msg("12"),
                msg("true"),
            ]
        );
    }

    #[test]
    fn closers_and_separators_alone_are_messages() {
        assert_eq!(all(b"} ] , :"), [msg("}"), msg("]"), msg(","), msg(":")]);
    }

    #[test]
    fn strings_hide_brackets_and_quotes() {
        assert_eq!(
            all(br#"{"a":"}]\"'"} {'b':'"\'}'}"#),
            [msg(r#"{"a":"}]\"'"}"#), msg(r#"{'b':'"\'}'}"#)]
        );
    }

    #[test]
    fn a_word_ends_at_the_next_delimiter_only() {
        let mut framer = Framer::default();
        assert_eq!(frames(&mut framer, b"12"), []);
        assert_eq!(frames(&mut framer, b"34"), []);
        assert_eq!(frames(&mut framer, b"{}"), [msg("1234"), msg("{}")]);
    }

    #[test]
    fn split_messages_are_joined_with_whitespace_collapsed() {
        let mut framer = Framer::default();
        assert_eq!(frames(&mut framer, b"{\"a\"  :"), []);
        assert!(framer.is_pending());
        assert_eq!(frames(&mut framer, b"  \n\t [1,   2"), []);
        assert_eq!(frames(&mut framer, b"]}"), [msg("{\"a\"  : [1, 2]}")]);
        assert!(!framer.is_pending());
    }

    #[test]
    fn ff_discards_silently_anywhere() {
        assert_eq!(all(b"{\"a\": \xff{}"), [msg("{}")]);
        // After the reset, `z` is a word at the top and `" {}` an open string.
        assert_eq!(all(b"{\"a\": \"xy\xffz\" {}"), [msg("z")]);
        assert_eq!(all(b"[\"\\\xff[]"), [msg("[]")]);
        assert_eq!(all(b"12\xff{}"), [msg("12"), msg("{}")]);
        let mut framer = Framer::default();
        assert_eq!(frames(&mut framer, b"{\"execute\""), []);
        assert_eq!(frames(&mut framer, b"\xff"), []);
        assert!(!framer.is_pending());
        assert_eq!(frames(&mut framer, b"{}"), [msg("{}")]);
    }

    #[test]
    fn nesting_limit_counts_the_outer_object() {
        let limits = Limits {
            nesting: 3,
            ..Limits::QEMU
        };
        assert_eq!(
            frames(&mut Framer::new(limits), b"{\"a\":[[1]]}"),
            [msg("{\"a\":[[1]]}")]
        );
        assert_eq!(
            frames(&mut Framer::new(limits), b"{\"a\":[[[1]]]} {}"),
            [Err("JSON nesting depth limit exceeded".into()), msg("{}")]
        );
    }

    #[test]
    fn token_count_limit_gives_one_error_and_skips_the_message() {
        let limits = Limits {
            token_count: 5,
            ..Limits::QEMU
        };
        assert_eq!(frames(&mut Framer::new(limits), b"[1,2]"), [msg("[1,2]")]);
        assert_eq!(
            frames(&mut Framer::new(limits), b"[1,2,3,4,5,6,7,8,9] [1]"),
            [Err("JSON token count limit exceeded".into()), msg("[1]")]
        );
    }

    #[test]
    fn token_size_limit_skips_a_long_string_to_its_end() {
        let limits = Limits {
            token_size: 10,
            ..Limits::QEMU
        };
        let mut framer = Framer::new(limits);
        assert_eq!(
            frames(&mut framer, b"[\"0123456789"),
            [Err("JSON token size limit exceeded".into())]
        );
        assert_eq!(frames(&mut framer, b"0123456789]\\\"]"), []);
        assert!(framer.is_pending());
        assert_eq!(frames(&mut framer, b"\"] {}"), [msg("{}")]);
        assert_eq!(
            frames(&mut Framer::new(limits), b"[\"01234\"]"),
            [msg("[\"01234\"]")]
        );
    }

    #[test]
    fn skipping_stops_at_ff() {
        let limits = Limits {
            token_count: 2,
            ..Limits::QEMU
        };
        assert_eq!(
            frames(&mut Framer::new(limits), b"[1,2,[[[\xff{}"),
            [Err("JSON token count limit exceeded".into()), msg("{}")]
        );
    }

    #[test]
    fn large_buffers_are_kept_for_large_messages_only() {
        let mut framer = Framer::default();
        let big = format!("\"{}\"", "a".repeat(3 << 20));
        for _ in 0..2 {
            for chunk in big.as_bytes().chunks(4096) {
                assert_eq!(
                    frames(&mut framer, chunk).len(),
                    usize::from(chunk.last() == Some(&b'"'))
                );
            }
            assert!(framer.buf.capacity() > KEEP_CAPACITY);
        }
        assert_eq!(frames(&mut framer, b" "), []);
        assert_eq!(framer.buffered_len(), 0);
        assert_eq!(frames(&mut framer, b"{}"), [msg("{}")]);
        assert_eq!(framer.buf.capacity(), 0);
        // An error gives it back too.
        let mut framer = Framer::new(Limits {
            token_size: 2 << 20,
            ..Limits::QEMU
        });
        for chunk in big.as_bytes().chunks(4096) {
            let _ = frames(&mut framer, chunk);
        }
        assert_eq!(framer.buf.capacity(), 0);
    }
}
