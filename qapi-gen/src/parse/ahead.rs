//! Reading and parsing the files of a schema ahead, several at a time.
//!
//! Before the schema is read in order (which decides what is included, and where
//! errors are), the files its `include` directives seem to name are read and their
//! syntax parsed on as many threads as the machine has. The in-order reading then
//! takes a file's text and parse from here, or reads and parses the file itself when
//! it is not here: looking ahead never changes what is included or what an error says,
//! only when the work is done.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::syntax::{self, Read};
use super::walk::{include_path, universal_newlines};

/// Files bigger than this are not read ahead, only in order.
const MAX_AHEAD: u64 = 16 << 20;

/// Files read ahead, by the path their `include` resolves to.
#[derive(Debug, Default)]
pub struct Ahead {
    bytes: HashMap<PathBuf, Vec<u8>>,
    parsed: HashMap<PathBuf, Read>,
}

impl Ahead {
    /// Reads the files that the root file `root` (with text `src`) includes,
    /// directly or not, and parses them and the root.
    pub fn read(root: &Path, src: &[u8]) -> Self {
        let mut ahead = Ahead::default();
        let mut seen = HashSet::from([root.to_owned()]);
        let mut queue = includes(root, src);
        while let Some(path) = queue.pop() {
            if !seen.insert(path.clone()) {
                continue;
            }
            // Only regular files of a sensible size: what is named in a comment, say,
            // may be anything. A file that cannot be read is left for the in-order
            // reading to report.
            let regular =
                std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() <= MAX_AHEAD);
            if !regular {
                continue;
            }
            if let Ok(bytes) = std::fs::read(&path) {
                queue.extend(includes(&path, &bytes));
                ahead.bytes.insert(path, bytes);
            }
        }
        if ahead.bytes.is_empty() {
            // Nothing to share out: the root is parsed in order, on this thread.
            return ahead;
        }
        let mut texts: Vec<(&Path, &str)> = ahead
            .bytes
            .iter()
            .filter_map(|(path, bytes)| Some((path.as_path(), std::str::from_utf8(bytes).ok()?)))
            .collect();
        if let Ok(src) = std::str::from_utf8(src) {
            texts.push((root, src));
        }
        // The biggest first, so that no thread is left with a big one at the end.
        texts.sort_by_key(|(_, text)| std::cmp::Reverse(text.len()));
        let parsed = parse_all(&texts);
        ahead.parsed = parsed;
        ahead
    }

    /// The text of `path`, if it was read ahead.
    pub fn bytes(&mut self, path: &Path) -> Option<Vec<u8>> {
        self.bytes.remove(path)
    }

    /// The parse of `path`, if it was parsed ahead.
    pub fn items(&mut self, path: &Path) -> Option<Read> {
        self.parsed.remove(path)
    }
}

/// Parses each text, on as many threads as the machine has.
fn parse_all(texts: &[(&Path, &str)]) -> HashMap<PathBuf, Read> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(texts.len());
    let next = AtomicUsize::new(0);
    let parsed = Mutex::new(HashMap::new());
    let work = || loop {
        let Some(&(path, text)) = texts.get(next.fetch_add(1, Ordering::Relaxed)) else {
            return;
        };
        let items = syntax::parse(&universal_newlines(text));
        parsed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_owned(), items);
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(work);
        }
        work();
    });
    parsed.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// The files that `text` seems to include: each `'include': 'FILE'`, relative to
/// `path`. A guess (a comment may hold one, say): what is really included is decided
/// when the schema is read in order.
fn includes(path: &Path, text: &[u8]) -> Vec<PathBuf> {
    const KEY: &[u8] = b"'include'";
    let mut found = Vec::new();
    for at in memchr::memmem::find_iter(text, KEY) {
        let after = text[at + KEY.len()..].trim_ascii_start();
        let Some(after) = after.strip_prefix(b":") else {
            continue;
        };
        let Some(name) = after.trim_ascii_start().strip_prefix(b"'") else {
            continue;
        };
        let Some(end) = name.iter().position(|&b| b == b'\'' || b == b'\n') else {
            continue;
        };
        if let Ok(name) = std::str::from_utf8(&name[..end]) {
            found.push(include_path(path, name));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_are_guessed_from_the_text() {
        let text = b"{ 'include': 'a.json' }\n# {'include' :'sub/b.json'}\n{ 'include': 1 }\n";
        assert_eq!(
            includes(Path::new("dir/main.json"), text),
            [PathBuf::from("dir/a.json"), PathBuf::from("dir/sub/b.json")]
        );
    }

    #[test]
    fn what_is_read_ahead_is_what_the_walk_finds() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("main.json");
        std::fs::write(&root, "{ 'include': 'a.json' }\n").unwrap();
        std::fs::write(dir.path().join("a.json"), "{ 'enum': 'E', 'data': [] }\n").unwrap();
        let mut ahead = Ahead::read(&root, &std::fs::read(&root).unwrap());
        let a = dir.path().join("a.json");
        assert!(ahead.bytes(&a).is_some());
        assert_eq!(
            ahead.items(&a).map(|read| (read.items.len(), read.error)),
            Some((1, None))
        );
        assert!(ahead.items(&root).is_some());
    }
}
