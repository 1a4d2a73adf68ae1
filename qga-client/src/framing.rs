//! Cutting the agent's output into messages.
//!
//! The agent writes one JSON object per response followed by a newline, but a client
//! must not rely on lines: a response may come in pieces, and after a reconnect the
//! stream can start in the middle of a stale response. So the [`Decoder`] tracks JSON
//! structure (nesting, strings, escapes) just enough to find where each top-level
//! object ends, without parsing it. A `0xFF` byte anywhere (it never occurs in UTF-8
//! text) is the agent's sentinel: whatever was partially read is dropped and a
//! [`Frame::Sentinel`] reported. Bytes outside any object are reported as
//! [`Frame::Garbage`].
//!
//! Frames are byte ranges into the decoder's buffer, valid until the next
//! [`Decoder::read_buf`]; the buffer is reused, so a large response (a 4 MiB file chunk
//! is about 5.6 MB of base64) costs no copying beyond the read itself.

use std::ops::Range;

/// The sentinel byte: sent before `guest-sync-delimited` answers, and by a client to
/// reset the agent's parser.
pub(crate) const SENTINEL: u8 = 0xFF;

/// The smallest free space offered to a read.
const MIN_READ: usize = 64 * 1024;

/// Unreported bytes few enough to move to the front at every read.
const SMALL_REST: usize = 4096;

/// The longest run of garbage reported as one frame.
const MAX_GARBAGE: usize = 4096;

/// One unit of the agent's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A `0xFF` byte: anything partial before it was dropped.
    Sentinel,
    /// A complete top-level JSON object (or array), brace-balanced but not validated.
    Message(Range<usize>),
    /// Bytes that are not part of any object.
    Garbage(Range<usize>),
}

/// A message grew past the configured limit; it was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge {
    /// The limit that was exceeded.
    pub(crate) limit: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between messages.
    Idle,
    /// Inside a message that started at `start`.
    Message {
        start: usize,
        depth: u32,
        in_string: bool,
        escaped: bool,
    },
    /// Inside a run of bytes that are not a message.
    Garbage { start: usize },
}

/// Splits a byte stream into [`Frame`]s.
#[derive(Debug)]
pub(crate) struct Decoder {
    /// Always initialised up to its length; data is `buf[pos..end]`.
    buf: Vec<u8>,
    /// Start of the bytes not yet reported.
    pos: usize,
    /// How far the current frame has been scanned.
    scan: usize,
    /// End of the data read so far.
    end: usize,
    state: State,
    max_message: usize,
    /// Bytes moved by compaction so far (for the tests).
    #[cfg(test)]
    moved: usize,
}

impl Decoder {
    /// A decoder that refuses messages longer than `max_message` bytes.
    pub(crate) fn new(max_message: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            pos: 0,
            scan: 0,
            end: 0,
            state: State::Idle,
            max_message,
            #[cfg(test)]
            moved: 0,
        }
    }

    /// Drops everything buffered (it is stale: the caller is resynchronising).
    pub(crate) fn clear(&mut self) {
        self.pos = 0;
        self.scan = 0;
        self.end = 0;
        self.state = State::Idle;
    }

    /// The bytes of a frame returned by [`Decoder::next_frame`].
    pub(crate) fn bytes(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// Free space to read into; report what was read with [`Decoder::filled`].
    pub(crate) fn read_buf(&mut self) -> &mut [u8] {
        if self.pos == self.end {
            // Everything was reported: start over at the front, nothing to move.
            self.pos = 0;
            self.scan = 0;
            self.end = 0;
            self.state = State::Idle;
        } else if self.pos > 0 {
            let rest = self.end - self.pos;
            // Move what follows the last response (its newline, or the start of the
            // next one when requests are pipelined) while it is short: no longer than
            // what was consumed before it, so moving costs at most what reading did.
            // That leaves the whole buffer for the next large response, which then
            // needs no move. A full buffer is compacted whatever it holds.
            if rest <= SMALL_REST.max(self.pos) || self.buf.len() - self.end < MIN_READ {
                self.compact();
            }
        }
        if self.buf.len() - self.end < MIN_READ {
            // Grow geometrically so that a large message costs few reallocations.
            let wanted = (self.end + MIN_READ).max(self.buf.len() * 2);
            self.buf.resize(wanted, 0);
        }
        &mut self.buf[self.end..]
    }

    /// Records that `n` bytes were read into the space [`Decoder::read_buf`] gave.
    pub(crate) fn filled(&mut self, n: usize) {
        debug_assert!(self.end + n <= self.buf.len());
        self.end += n;
    }

    /// Moves the unreported bytes to the front of the buffer.
    fn compact(&mut self) {
        let shift = self.pos;
        #[cfg(test)]
        {
            self.moved += self.end - self.pos;
        }
        self.buf.copy_within(self.pos..self.end, 0);
        self.pos = 0;
        self.scan -= shift;
        self.end -= shift;
        match &mut self.state {
            State::Idle => {}
            State::Message { start, .. } | State::Garbage { start } => *start -= shift,
        }
    }

    /// The next complete frame, or `None` when more input is needed.
    pub(crate) fn next_frame(&mut self) -> Result<Option<Frame>, TooLarge> {
        while self.scan < self.end {
            match self.state {
                State::Idle => {
                    let byte = self.buf[self.scan];
                    match byte {
                        SENTINEL => {
                            self.scan += 1;
                            self.pos = self.scan;
                            return Ok(Some(Frame::Sentinel));
                        }
                        b' ' | b'\t' | b'\r' | b'\n' => {
                            self.scan += 1;
                            self.pos = self.scan;
                        }
                        b'{' | b'[' => {
                            self.state = State::Message {
                                start: self.scan,
                                depth: 1,
                                in_string: false,
                                escaped: false,
                            };
                            self.scan += 1;
                        }
                        _ => {
                            self.state = State::Garbage { start: self.scan };
                            self.scan += 1;
                        }
                    }
                }
                State::Garbage { start } => {
                    let byte = self.buf[self.scan];
                    if matches!(byte, SENTINEL | b'\n' | b'{' | b'[')
                        || self.scan - start >= MAX_GARBAGE
                    {
                        // The byte that ended the garbage is looked at again from Idle.
                        self.state = State::Idle;
                        self.pos = self.scan;
                        return Ok(Some(Frame::Garbage(start..self.scan)));
                    }
                    self.scan += 1;
                }
                State::Message { .. } => {
                    match self.scan_message() {
                        // Complete but too large: skip it, keep what follows.
                        Some(Frame::Message(range)) if range.len() > self.max_message => {
                            return Err(TooLarge {
                                limit: self.max_message,
                            })
                        }
                        Some(frame) => return Ok(Some(frame)),
                        None => {}
                    }
                    if let State::Message { start, .. } = self.state {
                        if self.scan - start > self.max_message {
                            // Drop it; the rest of it will arrive as garbage, which a
                            // resynchronisation skips.
                            self.clear();
                            return Err(TooLarge {
                                limit: self.max_message,
                            });
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    /// Scans the current message as far as the data goes; returns a frame when the
    /// message ends or a sentinel cuts it off.
    fn scan_message(&mut self) -> Option<Frame> {
        let State::Message {
            start,
            mut depth,
            mut in_string,
            mut escaped,
        } = self.state
        else {
            return None;
        };
        let mut frame = None;
        while self.scan < self.end {
            if escaped {
                escaped = false;
                if self.buf[self.scan] == SENTINEL {
                    frame = Some(self.sentinel_at(self.scan));
                    break;
                }
                self.scan += 1;
                continue;
            }
            if in_string {
                // Strings are most of a large response: skip through them quickly.
                match memchr::memchr3(b'"', b'\\', SENTINEL, &self.buf[self.scan..self.end]) {
                    None => self.scan = self.end,
                    Some(offset) => {
                        self.scan += offset;
                        match self.buf[self.scan] {
                            b'"' => in_string = false,
                            b'\\' => escaped = true,
                            _ => {
                                frame = Some(self.sentinel_at(self.scan));
                                break;
                            }
                        }
                        self.scan += 1;
                    }
                }
                continue;
            }
            let byte = self.buf[self.scan];
            self.scan += 1;
            match byte {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.state = State::Idle;
                        self.pos = self.scan;
                        return Some(Frame::Message(start..self.scan));
                    }
                }
                SENTINEL => {
                    frame = Some(self.sentinel_at(self.scan - 1));
                    break;
                }
                _ => {}
            }
        }
        if frame.is_none() {
            self.state = State::Message {
                start,
                depth,
                in_string,
                escaped,
            };
        }
        frame
    }

    /// Drops the partial message and reports the sentinel found at `at`.
    fn sentinel_at(&mut self, at: usize) -> Frame {
        self.scan = at + 1;
        self.pos = self.scan;
        self.state = State::Idle;
        Frame::Sentinel
    }
}

#[cfg(test)]
mod tests {
    use super::{Decoder, Frame, TooLarge};

    /// Feeds `input` in pieces of `step` bytes and describes every frame.
    fn frames(input: &[u8], step: usize) -> Vec<String> {
        let mut decoder = Decoder::new(1 << 20);
        let mut out = Vec::new();
        for piece in input.chunks(step) {
            let buf = decoder.read_buf();
            buf[..piece.len()].copy_from_slice(piece);
            decoder.filled(piece.len());
            while let Some(frame) = decoder.next_frame().unwrap() {
                out.push(match frame {
                    Frame::Sentinel => "FF".to_owned(),
                    Frame::Message(r) => format!("M {}", String::from_utf8_lossy(decoder.bytes(r))),
                    Frame::Garbage(r) => format!("G {}", String::from_utf8_lossy(decoder.bytes(r))),
                });
            }
        }
        out
    }

    #[test]
    fn splits_messages_whatever_the_pieces() {
        let input = b"{\"return\": {}}\n\xff{\"return\": 42}\n{\"a\": \"x}\\\"{\", \"b\": [1, {\"c\": []}]}\n";
        let expected = vec![
            r#"M {"return": {}}"#.to_owned(),
            "FF".to_owned(),
            r#"M {"return": 42}"#.to_owned(),
            r#"M {"a": "x}\"{", "b": [1, {"c": []}]}"#.to_owned(),
        ];
        for step in [1, 2, 3, 7, input.len()] {
            assert_eq!(frames(input, step), expected, "step {step}");
        }
    }

    #[test]
    fn several_objects_on_a_line_and_one_over_lines() {
        assert_eq!(
            frames(b"{\"x\":1}{\"y\":\n2\n}", 4),
            vec!["M {\"x\":1}", "M {\"y\":\n2\n}"]
        );
    }

    #[test]
    fn sentinel_drops_a_partial_message() {
        for step in [1, 5, 100] {
            assert_eq!(
                frames(
                    b"{\"return\": {\"buf-b64\": \"AAAA\xff{\"return\": 7}\n",
                    step
                ),
                vec!["FF", "M {\"return\": 7}"],
                "in a string, step {step}"
            );
            assert_eq!(
                frames(b"{\"return\": [1, \xff{}", step),
                vec!["FF", "M {}"],
                "outside a string"
            );
            assert_eq!(
                frames(b"{\"a\": \"\\\xff{}", step),
                vec!["FF", "M {}"],
                "after a backslash"
            );
        }
    }

    #[test]
    fn garbage_between_messages() {
        assert_eq!(
            frames(b"hello\n{}\nnull {}", 3),
            vec!["G hello", "M {}", "G null ", "M {}"]
        );
        assert_eq!(
            frames(b"\"return\": 1}\n\xff{}", 100),
            vec!["G \"return\": 1}", "FF", "M {}"]
        );
    }

    #[test]
    fn refuses_a_message_over_the_limit_and_recovers() {
        fn feed(decoder: &mut Decoder, input: &[u8]) {
            let buf = decoder.read_buf();
            buf[..input.len()].copy_from_slice(input);
            decoder.filled(input.len());
        }
        let big = |tail: &str| format!("{{\"return\": \"{}{tail}", "A".repeat(200));

        // Complete: skipped, and what follows it kept.
        let mut decoder = Decoder::new(100);
        feed(
            &mut decoder,
            format!("{}\n\u{1}{{\"return\": 1}}\n", big("\"}")).as_bytes(),
        );
        assert_eq!(decoder.next_frame(), Err(TooLarge { limit: 100 }));
        assert!(matches!(decoder.next_frame(), Ok(Some(Frame::Garbage(_)))));
        assert!(matches!(decoder.next_frame(), Ok(Some(Frame::Message(_)))));

        // Incomplete: dropped with everything buffered; its rest arrives as garbage.
        let mut decoder = Decoder::new(100);
        feed(&mut decoder, big("").as_bytes());
        assert_eq!(decoder.next_frame(), Err(TooLarge { limit: 100 }));
        feed(&mut decoder, b"AAAA\"}\n\xff{\"return\": 1}\n");
        assert!(matches!(decoder.next_frame(), Ok(Some(Frame::Garbage(_)))));
        assert_eq!(decoder.next_frame(), Ok(Some(Frame::Sentinel)));
        let Ok(Some(Frame::Message(r))) = decoder.next_frame() else {
            panic!("no message")
        };
        assert_eq!(decoder.bytes(r), b"{\"return\": 1}");
    }

    /// Pipelined responses: each large one arrives with the start of the next behind
    /// it. That start moves to the front while it is short (one read's worth), not
    /// once the buffer is full of the next response.
    #[test]
    fn pipelined_large_responses_do_not_grow_the_buffer() {
        const LEN: usize = 1 << 20;
        let response = |tag: u8| {
            let mut r = b"{\"r\": \"".to_vec();
            r.resize(LEN - 3, tag);
            r.extend(b"\"}\n");
            r
        };
        let mut stream = Vec::new();
        for tag in b'a'..=b'h' {
            stream.extend(response(tag));
        }
        let mut decoder = Decoder::new(2 * LEN);
        let mut fed = 0;
        let mut seen = Vec::new();
        let mut largest = 0;
        while fed < stream.len() {
            let buf = decoder.read_buf();
            // Reads as a socket gives them: never more than 200 KiB at once.
            let n = buf.len().min(200 << 10).min(stream.len() - fed);
            buf[..n].copy_from_slice(&stream[fed..fed + n]);
            decoder.filled(n);
            fed += n;
            largest = largest.max(decoder.buf.len());
            while let Ok(Some(Frame::Message(range))) = decoder.next_frame() {
                let message = decoder.bytes(range);
                assert_eq!(message.len(), LEN - 1);
                seen.push(message[10]);
            }
        }
        assert_eq!(seen, b"abcdefgh");
        assert!(largest <= 2 * LEN, "the buffer grew to {largest} bytes");
        assert!(
            decoder.moved <= 8 * (200 << 10),
            "{} bytes moved for 8 responses",
            decoder.moved
        );
    }

    #[test]
    fn compaction_keeps_a_partial_message() {
        let mut decoder = Decoder::new(1 << 20);
        let first = b"{\"a\": 1}{\"b\": \"";
        let buf = decoder.read_buf();
        let room = buf.len();
        buf[..first.len()].copy_from_slice(first);
        decoder.filled(first.len());
        assert!(matches!(decoder.next_frame(), Ok(Some(Frame::Message(_)))));
        assert_eq!(decoder.next_frame(), Ok(None));
        // Fill the buffer nearly to the end so that the next read compacts.
        let filler = vec![b'x'; room - first.len() - 10];
        let buf = decoder.read_buf();
        buf[..filler.len()].copy_from_slice(&filler);
        decoder.filled(filler.len());
        assert_eq!(decoder.next_frame(), Ok(None));
        let buf = decoder.read_buf();
        buf[..3].copy_from_slice(b"\"}\n");
        decoder.filled(3);
        let Ok(Some(Frame::Message(r))) = decoder.next_frame() else {
            panic!("no message")
        };
        let message = decoder.bytes(r);
        assert!(message.starts_with(b"{\"b\": \"xxx") && message.ends_with(b"xx\"}"));
        assert_eq!(message.len(), 7 + filler.len() + 2);
    }
}
