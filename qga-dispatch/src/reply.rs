//! The return value of a command, already encoded.
//!
//! The generated `dispatch` serializes the handler's return value once, into a
//! [`Reply`]; the response writer splices these bytes into `{"return": ...}` as they
//! are, so a large reply is never parsed again nor copied into an intermediate
//! `Value`.
//!
//! A reply keeps room before its text for the response's opening `{"return": `:
//! when nothing else is waiting to be sent, the response is finished in the reply's
//! own buffer, so a 64 MiB reply is not copied once more on its way out. A command
//! whose reply is that large (guest-file-read) writes its text straight into a
//! [`ReplyBuilder`] rather than building a value to serialize.

use std::ops::Range;

use serde::Serialize;

use crate::error::Error;
use crate::format::write_json;

/// How a success response begins: the room a reply keeps before its text is
/// for these bytes (the response writer, [`crate::response`], writes them).
pub(crate) const RETURN_OPEN: &[u8] = b"{\"return\": ";

/// A command's return value as JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// `HEADROOM` bytes of room, then the JSON text.
    buf: Vec<u8>,
}

/// The room a reply keeps before its text.
const HEADROOM: usize = RETURN_OPEN.len();

impl Reply {
    /// Encodes `value`.
    pub fn new<T: Serialize + ?Sized>(value: &T) -> Result<Reply, Error> {
        let mut buf = Vec::with_capacity(HEADROOM + 64);
        buf.resize(HEADROOM, b' ');
        write_json(&mut buf, value)
            .map_err(|e| Error::generic(format!("failed to encode the reply: {e}")))?;
        Ok(Reply { buf })
    }

    /// `{}`: the reply of a command that returns nothing.
    pub fn empty() -> Reply {
        let mut builder = ReplyBuilder::with_capacity(2);
        builder.push(b"{}");
        builder.finish()
    }

    /// A builder for JSON text written by hand.
    pub fn builder(capacity: usize) -> ReplyBuilder {
        ReplyBuilder::with_capacity(capacity)
    }

    /// The JSON text (always UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[HEADROOM..]
    }

    /// The buffer of the response line `{"return": <reply>`, made in place.
    pub(crate) fn into_response_start(mut self) -> Vec<u8> {
        self.buf[..HEADROOM].copy_from_slice(RETURN_OPEN);
        self.buf
    }
}

/// JSON text written piece by piece into a reply's buffer.
///
/// The writer vouches for the text: it must be one JSON value when finished. This
/// is for replies too large to build as a value and then encode (a file read's
/// base64), and for those alone; everything else goes through [`Reply::new`].
#[derive(Debug)]
pub struct ReplyBuilder {
    buf: Vec<u8>,
}

impl ReplyBuilder {
    /// An empty text with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> ReplyBuilder {
        ReplyBuilder::in_buffer(Vec::with_capacity(HEADROOM.saturating_add(capacity)))
    }

    /// An empty text written into `buf` (cleared first): for a caller that
    /// allocates a large reply's memory its own way.
    pub fn in_buffer(mut buf: Vec<u8>) -> ReplyBuilder {
        buf.clear();
        buf.resize(HEADROOM, b' ');
        ReplyBuilder { buf }
    }

    /// Appends JSON text.
    pub fn push(&mut self, text: &[u8]) {
        self.buf.extend_from_slice(text);
    }

    /// Appends the base64 text of `bytes`. Pieces of one string join into the
    /// encoding of the whole only if each but the last is a multiple of 3 long.
    pub fn push_base64(&mut self, bytes: &[u8]) {
        qga_types::base64::encode_append(bytes, &mut self.buf);
    }

    /// How long the text is so far.
    pub fn len(&self) -> usize {
        self.buf.len() - HEADROOM
    }

    /// Whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces the text at `range` (positions in the text) with `text`, which
    /// may be of another length.
    ///
    /// # Panics
    /// If `range` is not within the text.
    pub fn replace(&mut self, range: Range<usize>, text: &[u8]) {
        let range = range.start + HEADROOM..range.end + HEADROOM;
        if range.len() == text.len() {
            self.buf[range].copy_from_slice(text);
        } else {
            self.buf.splice(range, text.iter().copied());
        }
    }

    /// The reply.
    pub fn finish(self) -> Reply {
        Reply { buf: self.buf }
    }
}

#[cfg(test)]
mod tests {
    use super::Reply;

    fn text(reply: &Reply) -> &str {
        std::str::from_utf8(reply.as_bytes()).unwrap()
    }

    #[test]
    fn encodes_once_with_qemu_spacing() {
        assert_eq!(text(&Reply::empty()), "{}");
        assert_eq!(text(&Reply::new(&12345_i64).unwrap()), "12345");
        assert_eq!(text(&Reply::new(&qga_types::Empty {}).unwrap()), "{}");
        let map: std::collections::BTreeMap<(i32, i32), i32> = [((1, 2), 3)].into();
        assert!(Reply::new(&map)
            .unwrap_err()
            .desc
            .starts_with("failed to encode the reply: "));
    }

    #[test]
    fn builder_writes_pieces_and_replaces_ranges() {
        let mut b = super::ReplyBuilder::in_buffer(b"old".to_vec());
        assert!(b.is_empty());
        b.push(b"{\"n\": 1000, \"b\": \"");
        b.push_base64(b"abc");
        b.push_base64(b"de");
        b.push(b"\"}");
        b.replace(6..10, b"7");
        b.replace(0..1, b"{");
        assert_eq!(b.len(), 25);
        assert_eq!(text(&b.finish()), "{\"n\": 7, \"b\": \"YWJjZGU=\"}");
    }

    #[test]
    fn the_response_is_made_in_the_reply_buffer() {
        let reply = Reply::new(&[1, 2]).unwrap();
        assert_eq!(reply.into_response_start(), b"{\"return\": [1, 2]");
    }
}
