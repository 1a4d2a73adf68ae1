//! QEMU's spacing: `{"return": {"a": 1, "b": [1, 2]}}`, for the replies
//! ([`crate::reply`]) and the responses around them ([`crate::response`]).
//!
//! Clients parse JSON, so spacing is not part of the contract; printing like QEMU
//! just makes our lines read, log and diff like theirs.

use std::io;

use serde_json::ser::Formatter;

/// A `serde_json` formatter that writes `": "` after keys and `", "` between items.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct QemuFormatter;

impl Formatter for QemuFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }
}

/// Appends `value` to `out` as JSON with QEMU's spacing.
pub(crate) fn write_json<T: serde::Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> serde_json::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(out, QemuFormatter);
    value.serialize(&mut serializer)
}

#[cfg(test)]
mod tests {
    #[test]
    fn spacing() {
        let mut out = Vec::new();
        super::write_json(
            &mut out,
            &serde_json::json!({"a": [1, 2], "b": {}, "c": []}),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a": [1, 2], "b": {}, "c": []}"#
        );
    }
}
