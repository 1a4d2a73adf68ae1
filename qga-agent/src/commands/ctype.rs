//! Reading text as the C library does in the C locale, for the places where the
//! agent must accept exactly what qemu-ga's C accepts: sysfs numbers read with
//! `strtoul`/`strtol`, `/proc/self/mountinfo` read with `scanf()`, and the config
//! key file read by GLib.

/// C's `isspace` in the C locale, which is also GLib's `g_ascii_isspace`: space,
/// `\t`, `\n`, `\v`, `\f` and `\r`. Not [`u8::is_ascii_whitespace`], which leaves
/// out `\v`.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// What C's strto* functions (and `scanf()`'s `%d`) skip before the digits: white
/// space ([`is_space`]), then an optional sign. Returns whether the sign was `-`,
/// and where the digits start.
pub(crate) fn sign_prefix(s: &[u8]) -> (bool, usize) {
    let mut i = 0;
    while s.get(i).is_some_and(|&c| is_space(c)) {
        i += 1;
    }
    match s.get(i) {
        Some(b'-') => (true, i + 1),
        Some(b'+') => (false, i + 1),
        _ => (false, i),
    }
}

#[cfg(test)]
mod tests {
    use super::{is_space, sign_prefix};

    #[test]
    fn c_space_is_exactly_the_six_bytes() {
        let spaces: Vec<u8> = (0..=u8::MAX).filter(|&b| is_space(b)).collect();
        assert_eq!(spaces, [b'\t', b'\n', b'\x0b', b'\x0c', b'\r', b' ']);
    }

    #[test]
    fn sign_prefix_skips_space_then_one_sign() {
        assert_eq!(sign_prefix(b""), (false, 0));
        assert_eq!(sign_prefix(b"12"), (false, 0));
        assert_eq!(sign_prefix(b"\x0b\x0c-1"), (true, 3));
        assert_eq!(sign_prefix(b" +1"), (false, 2));
        assert_eq!(sign_prefix(b"--1"), (true, 1), "only one sign");
        assert_eq!(sign_prefix(b"- 1"), (true, 1), "no space after the sign");
        assert_eq!(sign_prefix(b"\x001"), (false, 0), "NUL is not space");
    }
}
