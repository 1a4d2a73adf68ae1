//! Writing responses: one JSON object per line.
//!
//! - success: `{"return": <reply>}`, or nothing for a command whose
//!   `success_response` is false;
//! - failure: `{"error": {"class": "GenericError", "desc": "..."}}`;
//! - either way `"id"` echoes the request's `id` when it had one;
//! - guest-sync-delimited's success is preceded by the byte 0xFF ([`DELIMITER`]), so a
//!   client can find it in a stream that had garbage before.
//!
//! Replies are already JSON ([`Reply`]) and are spliced in, not re-encoded.

use serde_json::Value;

use crate::error::Error;
use crate::format::write_json;
use crate::reply::{Reply, RETURN_OPEN};

/// The byte written before the response to guest-sync-delimited.
pub const DELIMITER: u8 = 0xFF;

/// Appends `{"return": <reply>, "id": <id>}` and a newline. When `out` is empty,
/// the response is made in the reply's own buffer, which becomes `out`: a large
/// reply is not copied.
pub fn write_return(out: &mut Vec<u8>, reply: Reply, id: Option<&Value>) {
    if out.is_empty() {
        *out = reply.into_response_start();
    } else {
        out.extend_from_slice(RETURN_OPEN);
        out.extend_from_slice(reply.as_bytes());
    }
    write_id_and_end(out, id);
}

/// Appends `{"error": {"class": ..., "desc": ...}, "id": <id>}` and a newline.
pub fn write_error(out: &mut Vec<u8>, error: &Error, id: Option<&Value>) {
    out.extend_from_slice(b"{\"error\": {\"class\": \"");
    out.extend_from_slice(error.class.as_str().as_bytes());
    out.extend_from_slice(b"\", \"desc\": ");
    write_value(out, &error.desc);
    out.push(b'}');
    write_id_and_end(out, id);
}

fn write_id_and_end(out: &mut Vec<u8>, id: Option<&Value>) {
    if let Some(id) = id {
        out.extend_from_slice(b", \"id\": ");
        write_value(out, id);
    }
    out.extend_from_slice(b"}\n");
}

/// Writes a string or a parsed value, which always serialise.
fn write_value<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Strings and `Value`s (string keys, finite numbers) cannot fail to serialise,
    // and writing to a Vec cannot fail either.
    if write_json(out, value).is_err() {
        out.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn text(out: Vec<u8>) -> String {
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn return_with_and_without_id() {
        let mut out = Vec::new();
        write_return(&mut out, Reply::empty(), None);
        write_return(
            &mut out,
            Reply::new(&json!([1, "a"])).unwrap(),
            Some(&json!({"x": [1, 2]})),
        );
        assert_eq!(
            text(out),
            "{\"return\": {}}\n{\"return\": [1, \"a\"], \"id\": {\"x\": [1, 2]}}\n"
        );
    }

    #[test]
    fn error_is_escaped() {
        let mut out = Vec::new();
        write_error(
            &mut out,
            &Error::generic("bad \"x\"\n\u{0}"),
            Some(&json!("id")),
        );
        write_error(&mut out, &Error::command_not_found("guest-foo"), None);
        assert_eq!(
            text(out),
            "{\"error\": {\"class\": \"GenericError\", \"desc\": \"bad \\\"x\\\"\\n\\u0000\"}, \"id\": \"id\"}\n\
             {\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command guest-foo has not been found\"}}\n"
        );
    }
}
