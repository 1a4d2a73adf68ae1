//! The keys of `qga ssh-keys add|remove`, gathered once before any agent is contacted.
//!
//! Keys come from the command line, a file, or standard input, and are checked here
//! so that a bad or empty list is refused before anything is sent: with `--reset`,
//! an empty list would wipe the account's keys.

use super::args::KeySource;
use super::failure::Failure;

/// The keys `source` names. `read` reads a whole file, or standard input for `-`;
/// standard input is also read when no key and no file is given, unless it is a
/// terminal (`stdin_is_terminal`).
pub fn gather(
    source: &KeySource,
    stdin_is_terminal: bool,
    mut read: impl FnMut(&str) -> Result<Vec<u8>, Failure>,
) -> Result<Vec<String>, Failure> {
    let mut keys = Vec::new();
    let mut stdin_read = false;
    let mut from = |origin: &str, keys: &mut Vec<String>| -> Result<(), Failure> {
        if origin == "-" {
            if stdin_read {
                return Err(Failure::Usage(
                    "ssh-keys: standard input is given twice".to_owned(),
                ));
            }
            stdin_read = true;
        }
        let data = read(origin)?;
        let name = if origin == "-" {
            "standard input"
        } else {
            origin
        };
        keys.extend(lines(&data, name)?);
        Ok(())
    };
    for key in &source.keys {
        if key == "-" {
            from("-", &mut keys)?;
        } else {
            keys.push(checked(key)?);
        }
    }
    if let Some(file) = &source.file {
        from(&file.to_string_lossy(), &mut keys)?;
    }
    if source.keys.is_empty() && source.file.is_none() && !stdin_is_terminal {
        from("-", &mut keys)?;
    }
    if keys.is_empty() {
        return Err(Failure::Usage(
            "ssh-keys: no keys given: pass them as arguments, with --file PATH, or on \
             standard input"
                .to_owned(),
        ));
    }
    Ok(keys)
}

/// The keys of a file: one a line, blank lines and `#` comments skipped.
fn lines(data: &[u8], origin: &str) -> Result<Vec<String>, Failure> {
    let text = std::str::from_utf8(data)
        .map_err(|e| Failure::Local(format!("{origin}: not UTF-8 text: {e}")))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// A key from the command line, refused when the agent would refuse it.
fn checked(key: &str) -> Result<String, Failure> {
    let trimmed = key.trim();
    let why = if trimmed.is_empty() {
        "is empty"
    } else if trimmed.starts_with('#') {
        "starts with '#', which makes it a comment"
    } else if trimmed.contains(['\n', '\r']) {
        "holds more than one line (give each key on its own, or use --file)"
    } else {
        return Ok(trimmed.to_owned());
    };
    Err(Failure::Usage(format!("ssh-keys: the key {key:?} {why}")))
}

#[cfg(test)]
mod tests {
    use super::gather;
    use crate::cli::args::KeySource;
    use crate::cli::failure::Failure;
    use std::path::PathBuf;

    fn source(keys: &[&str], file: Option<&str>) -> KeySource {
        KeySource {
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            file: file.map(PathBuf::from),
        }
    }

    /// Reads "-" as `stdin` and any other path as `file`, counting the reads.
    fn reader<'a>(
        stdin: &'a str,
        file: &'a str,
        reads: &'a mut Vec<String>,
    ) -> impl FnMut(&str) -> Result<Vec<u8>, Failure> + 'a {
        move |path| {
            reads.push(path.to_owned());
            Ok(if path == "-" { stdin } else { file }.as_bytes().to_vec())
        }
    }

    #[test]
    fn keys_from_every_source() {
        let mut reads = Vec::new();
        let keys = gather(
            &source(&[" ssh-ed25519 A a ", "-"], Some("f")),
            true,
            reader("ssh-rsa B b\n", "# c\n\n  ssh-ed25519 C c\r\n", &mut reads),
        )
        .unwrap();
        assert_eq!(keys, ["ssh-ed25519 A a", "ssh-rsa B b", "ssh-ed25519 C c"]);
        assert_eq!(reads, ["-", "f"]);

        // No keys at all: standard input, unless it is a terminal.
        let mut reads = Vec::new();
        let keys = gather(&source(&[], None), false, reader("k1\nk2", "", &mut reads)).unwrap();
        assert_eq!(keys, ["k1", "k2"]);
        let mut reads = Vec::new();
        let e = gather(&source(&[], None), true, reader("k1", "", &mut reads)).unwrap_err();
        assert!(matches!(e, Failure::Usage(_)), "{e}");
        assert!(reads.is_empty());
        // Keys given: standard input is left alone.
        let mut reads = Vec::new();
        gather(&source(&["k"], None), false, reader("x", "", &mut reads)).unwrap();
        assert!(reads.is_empty());
    }

    #[test]
    fn bad_and_empty_lists_are_refused() {
        let refused = |keys: &[&str], file: Option<&str>, stdin: &str, contents: &str| {
            let mut reads = Vec::new();
            match gather(
                &source(keys, file),
                false,
                reader(stdin, contents, &mut reads),
            ) {
                Err(Failure::Usage(why)) => why,
                other => panic!("{keys:?} {file:?}: {other:?}"),
            }
        };
        assert!(refused(&[], None, "", "").contains("no keys given"));
        assert!(refused(&[], None, "# only\n\n", "").contains("no keys given"));
        assert!(refused(&[], Some("f"), "", "\n").contains("no keys given"));
        assert!(refused(&["  "], None, "", "").contains("is empty"));
        assert!(refused(&["#x"], None, "", "").contains("comment"));
        assert!(refused(&["a\nb"], None, "", "").contains("more than one line"));
        assert!(refused(&["-"], Some("-"), "k", "").contains("twice"));

        let mut reads = Vec::new();
        let e = gather(&source(&[], Some("f")), true, |p: &str| {
            reads.push(p.to_owned());
            Ok(vec![0xFF])
        })
        .unwrap_err();
        assert!(
            matches!(e, Failure::Local(ref why) if why.starts_with("f: not UTF-8")),
            "{e}"
        );
    }
}
