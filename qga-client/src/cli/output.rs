//! Where each agent's output goes.
//!
//! With one agent, straight to stdout and stderr. With several, each agent writes
//! through a [`Prefixed`] writer that starts every line with the agent's address and
//! hands whole lines to the shared stream, so that lines of different agents never mix.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

/// A stream shared by the threads of several agents.
pub type Shared = Arc<Mutex<dyn Write + Send>>;

/// Writes lines to a shared stream, each starting with a prefix.
pub struct Prefixed {
    sink: Shared,
    prefix: String,
    /// The current line, not yet complete.
    line: Vec<u8>,
}

impl Prefixed {
    pub fn new(sink: Shared, prefix: String) -> Prefixed {
        Prefixed {
            sink,
            prefix,
            line: Vec::new(),
        }
    }

    /// Writes out a last line that has no newline.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.line.is_empty() {
            return Ok(());
        }
        self.line.push(b'\n');
        self.emit(self.line.len())
    }

    /// Writes the first `upto` bytes of the buffer, which end with a newline.
    fn emit(&mut self, upto: usize) -> io::Result<()> {
        let mut sink = self
            .sink
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for line in self.line[..upto].split_inclusive(|&b| b == b'\n') {
            sink.write_all(self.prefix.as_bytes())?;
            sink.write_all(line)?;
        }
        sink.flush()?;
        drop(sink);
        self.line.drain(..upto);
        Ok(())
    }
}

impl Write for Prefixed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        if let Some(last) = memchr::memrchr(b'\n', &self.line) {
            self.emit(last + 1)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Partial lines wait for their end, or for finish().
        Ok(())
    }
}

impl Drop for Prefixed {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::{Prefixed, Shared};
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[test]
    fn prefixes_every_line() {
        let sink = Arc::new(Mutex::new(Vec::<u8>::new()));
        let shared: Shared = sink.clone();
        let mut a = Prefixed::new(shared.clone(), "a: ".into());
        let mut b = Prefixed::new(shared, "b: ".into());
        a.write_all(b"one\ntw").unwrap();
        b.write_all(b"x\n").unwrap();
        a.write_all(b"o\nthree").unwrap();
        drop(a);
        drop(b);
        assert_eq!(
            String::from_utf8(sink.lock().unwrap().clone()).unwrap(),
            "a: one\nb: x\na: two\na: three\n"
        );
    }
}
