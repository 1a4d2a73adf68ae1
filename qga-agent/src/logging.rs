//! Logging with tracing, to stderr or the `-l` file. While the filesystems are
//! frozen, writes to the log file are dropped: a write could block on a frozen
//! filesystem and hang the agent (stderr is not a file on those filesystems).

use std::fs::File;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::options::Options;

static SUSPENDED: AtomicBool = AtomicBool::new(false);

/// Stops (true) or resumes (false) file logging; the freezer calls this.
pub fn suspend_file_logging(suspended: bool) {
    SUSPENDED.store(suspended, Ordering::SeqCst);
}

/// The log file, silent while suspended.
struct LogFile(Mutex<File>);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogFile {
    type Writer = Box<dyn Write + 'a>;

    fn make_writer(&'a self) -> Self::Writer {
        if SUSPENDED.load(Ordering::SeqCst) {
            Box::new(io::sink())
        } else {
            Box::new(LockedFile(
                self.0
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            ))
        }
    }
}

struct LockedFile<'a>(std::sync::MutexGuard<'a, File>);

impl Write for LockedFile<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Sets up logging as the options say.
pub fn init(options: &Options) -> Result<(), String> {
    let level = if options.verbose {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false);
    match &options.logfile {
        Some(path) => {
            let file = File::options()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("unable to open specified log file: {e}"))?;
            builder
                .with_ansi(false)
                .with_writer(LogFile(Mutex::new(file)))
                .init();
        }
        None => builder.with_writer(io::stderr).init(),
    }
    Ok(())
}
