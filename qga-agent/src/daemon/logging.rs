//! The agent's log: tracing events written as qemu-ga writes its log lines,
//! `SECONDS.MICROSECONDS: LEVEL: MESSAGE`, to standard error or to the
//! `-l` file.
//!
//! Without `-v` only errors are written (qemu-ga logs only its `critical` and
//! `error` messages by default); with `-v`, everything. An error is written as
//! `critical`, qemu-ga's level for the errors it survives.
//!
//! While the guest's filesystems are frozen, a write to a file on one of them
//! would block the agent, so [`LogControl::set_frozen`] suspends the log
//! whenever it goes to a regular file (the `-l` file, or standard error
//! redirected to one); logging to a pipe or a terminal goes on. The `-l` file
//! itself is opened only once the filesystems are thawed when the agent starts
//! frozen.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// Where log lines go.
#[derive(Debug)]
enum Target {
    Stderr,
    File(File),
    /// A file to open when the filesystems are thawed.
    Deferred(PathBuf),
}

#[derive(Debug)]
struct Sink {
    target: Target,
    suspended: bool,
    /// Whether standard error is a regular file (checked once).
    stderr_is_file: bool,
}

impl Sink {
    fn writes_to_file(&self) -> bool {
        match self.target {
            Target::Stderr => self.stderr_is_file,
            Target::File(_) | Target::Deferred(_) => true,
        }
    }
}

/// The switch over the log's destination, shared by every clone.
#[derive(Debug, Clone)]
pub struct LogControl {
    sink: Arc<Mutex<Sink>>,
}

fn stderr_is_regular_file() -> bool {
    rustix::fs::fstat(rustix::stdio::stderr())
        .map(|st| {
            rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile
        })
        .unwrap_or(false)
}

fn open_log(path: &Path) -> io::Result<File> {
    // Rust opens files close-on-exec: guest-exec's children do not get it.
    OpenOptions::new()
        .append(true)
        .create(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)
}

impl LogControl {
    /// A log to standard error.
    pub fn stderr() -> Self {
        LogControl {
            sink: Arc::new(Mutex::new(Sink {
                target: Target::Stderr,
                suspended: false,
                stderr_is_file: stderr_is_regular_file(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Sink> {
        // A panic while holding the lock leaves a usable sink.
        self.sink.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// From now on, logs to `path` (appending). With `frozen`, the file is
    /// only noted and opened on thaw, and the log is suspended.
    pub fn log_to_file(&self, path: &Path, frozen: bool) -> io::Result<()> {
        let mut sink = self.lock();
        if frozen {
            sink.target = Target::Deferred(path.to_owned());
            sink.suspended = true;
        } else {
            sink.target = Target::File(open_log(path)?);
        }
        Ok(())
    }

    /// Standard error is no longer worth checking (a daemon pointed it at
    /// /dev/null).
    pub fn stderr_redirected(&self) {
        self.lock().stderr_is_file = stderr_is_regular_file();
    }

    /// Suspends the log while the filesystems are frozen (when it goes to a
    /// file), and resumes it, opening a deferred log file, when they are
    /// thawed. What qemu-ga logs at these two moments is logged too.
    pub fn set_frozen(&self, frozen: bool) {
        if frozen {
            if self.lock().writes_to_file() {
                tracing::warn!("disabling logging due to filesystem freeze");
                self.lock().suspended = true;
            }
            return;
        }
        let mut sink = self.lock();
        let was_suspended = std::mem::replace(&mut sink.suspended, false);
        let mut failure = None;
        if let Target::Deferred(path) = &sink.target {
            let path = path.clone();
            sink.target = match open_log(&path) {
                Ok(file) => Target::File(file),
                Err(e) => {
                    failure = Some(format!("unable to open log file {}: {e}", path.display()));
                    Target::Stderr
                }
            };
        }
        drop(sink);
        if let Some(message) = failure {
            tracing::error!("{message}");
        }
        if was_suspended {
            tracing::warn!("logging re-enabled due to filesystem unfreeze");
        }
    }

    /// Whether the log goes to standard error.
    pub fn is_stderr(&self) -> bool {
        matches!(self.lock().target, Target::Stderr)
    }

    /// Whether log lines are being dropped.
    pub fn is_suspended(&self) -> bool {
        self.lock().suspended
    }
}

/// Writes one formatted event (tracing-subscriber hands over a whole line).
pub struct LogWriter<'a> {
    sink: MutexGuard<'a, Sink>,
}

impl Write for LogWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.sink.suspended {
            return Ok(buf.len());
        }
        match &mut self.sink.target {
            Target::Stderr => io::stderr().write(buf),
            Target::File(file) => file.write(buf),
            Target::Deferred(_) => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogControl {
    type Writer = LogWriter<'a>;

    fn make_writer(&'a self) -> LogWriter<'a> {
        LogWriter { sink: self.lock() }
    }
}

/// qemu-ga's line format.
#[derive(Debug, Clone, Copy, Default)]
pub struct QemuFormat;

/// qemu-ga's name for a level.
pub fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "critical",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

impl<S, N> FormatEvent<S, N> for QemuFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        write!(
            writer,
            "{}.{:06}: {}: ",
            now.as_secs(),
            now.subsec_micros(),
            level_name(event.metadata().level())
        )?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Installs the log as the process's tracing subscriber, writing to standard
/// error until [`LogControl::log_to_file`]. Returns its switch.
pub fn init(verbose: bool) -> LogControl {
    let control = LogControl::stderr();
    let level = if verbose { Level::TRACE } else { Level::ERROR };
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .event_format(QemuFormat)
        .with_writer(control.clone())
        .finish();
    // Only fails when a subscriber is already installed (a second init in one
    // process, as in tests): the first one stays.
    let _ = tracing::subscriber::set_global_default(subscriber);
    control
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(control: &LogControl, verbose: bool, f: impl FnOnce()) {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(if verbose { Level::TRACE } else { Level::ERROR })
            .with_ansi(false)
            .event_format(QemuFormat)
            .with_writer(control.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
    }

    #[test]
    fn lines_read_like_qemu_ga() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let control = LogControl::stderr();
        control.log_to_file(&path, false).unwrap();
        capture(&control, false, || {
            tracing::error!("channel gone");
            tracing::warn!("not shown without -v");
        });
        capture(&control, true, || tracing::debug!(count = 3, "read data"));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let (stamp, rest) = lines[0].split_once(": ").unwrap();
        let (secs, micros) = stamp.split_once('.').unwrap();
        assert!(secs.parse::<u64>().is_ok() && micros.len() == 6);
        assert_eq!(rest, "critical: channel gone");
        assert!(
            lines[1].ends_with(": debug: read data count=3"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn a_file_log_is_suspended_while_frozen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let control = LogControl::stderr();
        control.log_to_file(&path, false).unwrap();
        capture(&control, true, || {
            control.set_frozen(true);
            tracing::error!("dropped");
            control.set_frozen(false);
            tracing::error!("kept");
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("warning: disabling logging due to filesystem freeze"));
        assert!(!text.contains("dropped"));
        assert!(text.contains("warning: logging re-enabled due to filesystem unfreeze"));
        assert!(text.contains("critical: kept"));
    }

    #[test]
    fn a_log_file_is_opened_on_thaw_when_starting_frozen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let control = LogControl::stderr();
        control.log_to_file(&path, true).unwrap();
        assert!(control.is_suspended());
        capture(&control, false, || tracing::error!("dropped"));
        assert!(!path.exists());
        control.set_frozen(false);
        assert!(!control.is_suspended());
        capture(&control, false, || tracing::error!("kept"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("dropped") && text.contains("critical: kept"),
            "{text}"
        );
    }
}
