//! The style rules for the text of doc comments that QEMU 10.2's parser enforces:
//! lines of at most 70 characters (URLs excepted), and two spaces between sentences.
//! Literal blocks (`::` and `.. qmp-example::`) are exempt; [`opens_literal`] tells
//! where one starts.

/// Longest doc line, counting its `# `.
const MAX_LINE: usize = 70;

/// Whether `line` (the text after `# `) opens a literal block: `::` alone, or
/// `.. qmp-example::`, with any spaces before the `::`.
pub fn opens_literal(line: &str) -> bool {
    let rest = match line.strip_prefix("..") {
        Some(after) if after.starts_with(' ') => {
            match after.trim_start_matches(' ').strip_prefix("qmp-example") {
                Some(rest) => rest,
                None => line,
            }
        }
        _ => line,
    };
    rest.trim_start_matches(' ') == "::"
}

/// Checks one line of text: `line` is what follows `# `, `indent` what precedes the
/// `#` on its line and `raw` the line from its `#`. The error's column is `None` for
/// the column of the `#`.
pub fn check(line: &str, indent: &str, raw: &str) -> Result<(), (Option<u32>, String)> {
    // Characters count; only a line of more bytes than that can have more.
    if line.len() + 2 > MAX_LINE && line.chars().count() + 2 > MAX_LINE && !is_url(line) {
        return Err((
            None,
            "documentation line longer than 70 characters".to_owned(),
        ));
    }
    if let Some(at) = single_space(line) {
        // QEMU points one character after the sentence's end, counting from the
        // start of the source line as if `# ` were at its very start.
        let upto = 2 + line[..at].chars().count() + 1;
        let col = indent
            .chars()
            .chain(raw.chars())
            .take(upto)
            .fold(1, |col, c| {
                if c == '\t' {
                    (col + 7) % 8 + 1
                } else {
                    col + 1
                }
            });
        return Err((
            Some(col),
            "Use two spaces between sentences\nIf this not the end of a sentence, please report a bug."
                .to_owned(),
        ));
    }
    Ok(())
}

/// A line that is only a URL (which cannot be broken).
fn is_url(line: &str) -> bool {
    let rest = line.trim_start_matches(' ');
    let Some(after) = ["http://", "https://", "ftp://"]
        .iter()
        .find_map(|scheme| rest.strip_prefix(scheme))
    else {
        return false;
    };
    !after.contains(' ')
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The byte offset of the first sentence end (`.`, `!` or `?`) followed by a
/// single space and a capital, digit or `(`, as QEMU's `re.finditer` of its
/// pattern finds it: "e.g." and the number of a list item at the start of the line
/// do not end sentences (the pattern matches them first and moves on).
fn single_space(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let starts_sentence = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'(';
    // The list item number: spaces, a digit, `.`: the offset of its `.`.
    let item = {
        let rest = line.trim_start_matches(' ');
        let digit = rest.chars().next().filter(|c| c.is_numeric());
        digit
            .map(|d| line.len() - rest.len() + d.len_utf8())
            .filter(|&dot| bytes.get(dot) == Some(&b'.'))
    };
    (0..bytes.len().saturating_sub(2)).find(|&p| {
        if !matches!(bytes[p], b'.' | b'!' | b'?') || bytes[p + 1] != b' ' {
            return false;
        }
        if !starts_sentence(bytes[p + 2]) {
            return false;
        }
        if Some(p) == item {
            return false;
        }
        // `e.g.`, after a word boundary.
        let eg = p >= 3
            && &bytes[p - 3..p] == b"e.g"
            && line[..p - 3]
                .chars()
                .next_back()
                .is_none_or(|c| !is_word(c));
        !eg
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_blocks() {
        for yes in ["::", "  ::", ".. qmp-example::", "..  qmp-example ::"] {
            assert!(opens_literal(yes), "{yes}");
        }
        for no in [
            "Example::",
            ".. code-block::",
            "::x",
            ".. qmp-example:: x",
            "..qmp-example::",
        ] {
            assert!(!opens_literal(no), "{no}");
        }
    }

    #[test]
    fn sentences() {
        assert_eq!(single_space("One. Two"), Some(3));
        assert_eq!(single_space("Ünë. Two"), Some(5));
        assert_eq!(single_space("ae.g. Two"), Some(4));
        assert_eq!(single_space("(e.g. Two"), None);
        assert_eq!(single_space("One.  Two"), None);
        assert_eq!(single_space("Use e.g. This"), None);
        assert_eq!(single_space("i.e. This"), Some(3));
        assert_eq!(single_space("1. First item"), None);
        assert_eq!(single_space("  2. Item"), None);
        assert_eq!(single_space("10. Item"), Some(2));
        assert_eq!(single_space("Why? (Because)"), Some(3));
        assert_eq!(single_space("end. lower"), None);
        assert_eq!(single_space("v1.0 Foo"), None);
    }

    #[test]
    fn lines() {
        let long = "x".repeat(69);
        assert!(check(&long, "", "").is_err());
        assert!(check(&long[1..], "", "").is_ok());
        let url = format!("https://{}", "x".repeat(80));
        assert!(check(&url, "", "").is_ok());
        let text = "Sentences should be separated by two spaces. But here is only one.";
        let raw = format!("# {text}");
        assert_eq!(check(text, "", &raw).unwrap_err().0, Some(47));
        // QEMU's tab rule wraps: a tab at column 1 stays there.
        assert_eq!(check(text, "\t", &raw).unwrap_err().0, Some(46));
    }
}
