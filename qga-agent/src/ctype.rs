//! Reading text as the C library does in the C locale, for the places where the
//! agent must accept exactly what qemu-ga's C accepts: sysfs numbers read with
//! `strtoul`/`strtol`, `/proc/self/mountinfo` and sysfs paths read with
//! `scanf()` (`Scanner`), and the config key file read by GLib.

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

/// A cursor over one line, with the few `scanf()` conversions the parsers need.
pub(crate) struct Scanner<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(s: &'a [u8]) -> Self {
        Scanner { s, pos: 0 }
    }

    /// A cursor at `pos` of `s` (after a prefix read another way).
    pub(crate) fn at(s: &'a [u8], pos: usize) -> Self {
        Scanner { s, pos }
    }

    /// How far the cursor has read.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn skip_space(&mut self) {
        while self.pos < self.s.len() && is_space(self.s[self.pos]) {
            self.pos += 1;
        }
    }

    /// `%u` (after white space): decimal digits.
    pub(crate) fn unsigned(&mut self) -> Option<u32> {
        self.skip_space();
        self.digits(10)
    }

    /// `%x` (after white space): hexadecimal digits.
    pub(crate) fn hex(&mut self) -> Option<u32> {
        self.skip_space();
        self.digits(16)
    }

    /// `%lu` (glibc's `strtoul`): white space, an optional sign, then decimal
    /// digits. A value too large for 64 bits is `u64::MAX`, as strtoul saturates;
    /// a `-` negates, wrapping. `None`, with nothing read, when there is no digit.
    pub(crate) fn ulong(&mut self) -> Option<u64> {
        let (negative, start) = sign_prefix(&self.s[self.pos..]);
        let start = self.pos + start;
        let mut end = start;
        let mut value: Option<u64> = Some(0);
        while let Some(d) = self.s.get(end).and_then(|&c| char::from(c).to_digit(10)) {
            value = value
                .and_then(|v| v.checked_mul(10))
                .and_then(|v| v.checked_add(u64::from(d)));
            end += 1;
        }
        if end == start {
            return None;
        }
        self.pos = end;
        Some(match value {
            None => u64::MAX,
            Some(v) if negative => v.wrapping_neg(),
            Some(v) => v,
        })
    }

    pub(crate) fn digits(&mut self, radix: u32) -> Option<u32> {
        let start = self.pos;
        let mut value: u32 = 0;
        while let Some(d) = self
            .s
            .get(self.pos)
            .and_then(|&c| char::from(c).to_digit(radix))
        {
            value = value.wrapping_mul(radix).wrapping_add(d);
            self.pos += 1;
        }
        (self.pos > start).then_some(value)
    }

    /// A literal character of the format (not white space).
    pub(crate) fn literal(&mut self, c: u8) -> Option<()> {
        (self.s.get(self.pos) == Some(&c)).then(|| self.pos += 1)
    }

    /// `%s` (after white space): a run of non-space bytes, as a range.
    pub(crate) fn word(&mut self) -> Option<(usize, usize)> {
        self.skip_space();
        let start = self.pos;
        while self.pos < self.s.len() && !is_space(self.s[self.pos]) {
            self.pos += 1;
        }
        (self.pos > start).then_some((start, self.pos))
    }
}

#[cfg(test)]
mod tests {
    use super::{is_space, sign_prefix, Scanner};

    #[test]
    fn ulong_reads_as_strtoul() {
        let read = |s: &[u8]| {
            let mut sc = Scanner::new(s);
            (sc.ulong(), sc.pos())
        };
        assert_eq!(read(b"  42 7"), (Some(42), 4));
        assert_eq!(read(b"+5x"), (Some(5), 2));
        assert_eq!(read(b"-1"), (Some(u64::MAX), 2), "negation wraps");
        assert_eq!(read(b"18446744073709551615"), (Some(u64::MAX), 20));
        assert_eq!(
            read(b"99999999999999999999999"),
            (Some(u64::MAX), 23),
            "saturates"
        );
        assert_eq!(read(b"-99999999999999999999999").0, Some(u64::MAX));
        assert_eq!(read(b" x"), (None, 0), "nothing read without a digit");
        assert_eq!(read(b"-"), (None, 0));
        assert_eq!(read(b""), (None, 0));
    }

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
