//! Decoding modified UTF-8, with QEMU's idea of a valid character.
//!
//! Modified UTF-8 is UTF-8 where U+0000 may also be written `C0 80`. A sequence is
//! refused when it is malformed, overlong (but for `C0 80`), beyond U+10FFFF, a
//! surrogate, or one of Unicode's 66 noncharacters (`qemu/util/unicode.c`).

/// The smallest code point that needs a sequence of 2, 3, 4, 5 or 6 bytes.
const MIN_FOR_LENGTH: [u32; 5] = [0x80, 0x800, 0x10000, 0x20_0000, 0x400_0000];

/// Whether QEMU accepts `cp` as a character (in raw text or in a `\u` escape).
pub(super) fn is_valid_codepoint(cp: u32) -> bool {
    cp <= 0x10FFFF
        && !(0xFDD0..=0xFDEF).contains(&cp)
        && cp & 0xFFFE != 0xFFFE
        && !(0xD800..=0xDFFF).contains(&cp)
}

/// Decodes the multi-byte sequence at the start of `bytes` (whose first byte is
/// 0x80 or more) into a character and its length, or `None` when it is invalid.
pub(super) fn decode(bytes: &[u8]) -> Option<(char, usize)> {
    let first = *bytes.first()?;
    if first >= 0xFE || first & 0x40 == 0 {
        // An impossible byte, or a continuation byte with nothing to continue.
        return None;
    }
    let len = first.leading_ones() as usize;
    let mut cp = u32::from(first) & (0x7F >> len);
    for i in 1..len {
        let b = *bytes.get(i)?;
        if b & 0xC0 != 0x80 {
            return None;
        }
        cp = cp << 6 | u32::from(b & 0x3F);
    }
    let overlong = cp < MIN_FOR_LENGTH[len - 2] && !(cp == 0 && len == 2);
    if overlong || !is_valid_codepoint(cp) {
        return None;
    }
    char::from_u32(cp).map(|c| (c, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_qemu_accepts() {
        assert_eq!(decode(b"\xc0\x80"), Some(('\0', 2)));
        assert_eq!(decode("é".as_bytes()), Some(('é', 2)));
        assert_eq!(decode("€x".as_bytes()), Some(('€', 3)));
        assert_eq!(decode("😀".as_bytes()), Some(('😀', 4)));
        assert_eq!(decode("\u{10FFFD}".as_bytes()), Some(('\u{10FFFD}', 4)));
    }

    #[test]
    fn refuses_what_qemu_refuses() {
        for bad in [
            &b"\x80"[..],                // lone continuation
            b"\xbf",                     // lone continuation
            b"\xfe",                     // impossible
            b"\xff",                     // impossible
            b"\xc3",                     // truncated
            b"\xe2\x82",                 // truncated
            b"\xc3\x28",                 // bad continuation
            b"\xc1\xbf",                 // overlong
            b"\xe0\x80\x80",             // overlong zero
            b"\xed\xa0\x80",             // surrogate
            b"\xef\xbf\xbe",             // U+FFFE
            b"\xef\xb7\x90",             // U+FDD0
            b"\xf0\x9f\xbf\xbf",         // U+1FFFF
            b"\xf4\x90\x80\x80",         // beyond U+10FFFF
            b"\xf8\x88\x80\x80\x80",     // five bytes
            b"\xfc\x84\x80\x80\x80\x80", // six bytes
        ] {
            assert_eq!(decode(bad), None, "{bad:x?}");
        }
    }
}
