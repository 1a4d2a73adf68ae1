//! Guest file access: guest-file-open, -close, -read, -write, -seek and -flush.
//!
//! A [`FileTable`] owns every file a client opened; one table serves all
//! connections, as in qemu-ga, so a handle outlives the connection that opened it.
//! Handles come from a [`HandleSource`]: the agent plugs in the counter that its
//! state directory persists (it starts at 1000); tests use [`Counter`].
//!
//! The behaviour is qemu-ga 7.2's, checked against its binary, with its faults
//! left out:
//! - modes are exactly the forms qemu-ga accepts (`r`, `rb`, `w`, `wb`, `a`, `ab`,
//!   `r+`, `rb+`, `r+b`, `w+`, `wb+`, `w+b`, `a+`, `ab+`, `a+b`); anything else is
//!   `invalid file open mode 'MODE'`;
//! - files are opened `O_NOCTTY | O_NONBLOCK | O_CLOEXEC` (non-blocking, so that a
//!   FIFO cannot hang the agent: opening one for writing without a reader fails
//!   with ENXIO, reading an empty one fails with EAGAIN);
//! - a file is created with `O_CREAT | O_EXCL` first and, if it exists, opened
//!   without `O_CREAT`, so a dangling symlink is never followed to create its
//!   target (qemu-ga does the same). Unlike qemu-ga, which then forces mode 0666,
//!   a new file gets `0666 & ~umask`, like any file created with open(2);
//! - I/O goes straight to the descriptor, with no buffer in the agent: what a
//!   write returns is in the kernel, and guest-file-flush has nothing to push;
//! - a read that gets some bytes and then EAGAIN (a FIFO that ran dry) returns
//!   those bytes; qemu-ga fails and loses them. A read that gets nothing but
//!   EAGAIN fails as qemu-ga does.
//!
//! End of file, as qemu-ga reports it through stdio's `feof()`: a read is at end
//! of file when it asked the kernel for more and got nothing, so reading exactly
//! the bytes that remain gives `eof: false` and the next read `{count: 0, eof:
//! true}`. Writes and seeks never report end of file (qemu-ga clears the flag
//! after every call and fseek() clears it too).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::IntoRawFd;
use std::os::unix::fs::OpenOptionsExt;

use qga_dispatch::{Reply, ReplyBuilder};
use qga_types::{GuestFileRead, GuestFileSeek, GuestFileWhence, GuestFileWrite, QGASeek};

use crate::commands::error::CommandError;

type Result<T> = std::result::Result<T, CommandError>;

/// How many bytes guest-file-read reads when the client gives no count.
pub const READ_COUNT_DEFAULT: i64 = 4096;

/// The most bytes one guest-file-read may ask for: 48 MiB, so that the response
/// (base64 adds a third) stays under the 64 MiB a JSON token may have.
pub const READ_COUNT_MAX: i64 = 48 * 1024 * 1024;

/// The mode guest-file-open uses when the client gives none.
pub const DEFAULT_MODE: &str = "r";

/// Where new file handles come from: the agent's persisted counter.
///
/// qemu-ga takes the next value of a counter that starts at 1000 and writes the
/// counter to `<statedir>/qga.state` before returning the handle, so handles are
/// never reused across restarts. An error (the state could not be written) makes
/// guest-file-open fail with qemu-ga's `failed to commit persistent state to
/// disk`, and the file just opened is closed again.
pub trait HandleSource {
    /// The next handle; never one returned before.
    fn next_handle(&mut self) -> io::Result<i64>;
}

impl<F: FnMut() -> io::Result<i64>> HandleSource for F {
    fn next_handle(&mut self) -> io::Result<i64> {
        self()
    }
}

/// A handle counter kept in memory only: for tests, and for an agent run without
/// a state directory.
#[derive(Debug, Clone)]
pub struct Counter {
    next: i64,
}

impl Counter {
    /// qemu-ga's first handle.
    pub const FIRST: i64 = 1000;

    /// A counter whose first handle is `first`.
    pub fn starting_at(first: i64) -> Self {
        Counter { next: first }
    }
}

impl Default for Counter {
    fn default() -> Self {
        Counter::starting_at(Counter::FIRST)
    }
}

impl HandleSource for Counter {
    fn next_handle(&mut self) -> io::Result<i64> {
        let handle = self.next;
        self.next = self
            .next
            .checked_add(1)
            .ok_or_else(|| io::Error::other("file handle counter exhausted"))?;
        Ok(handle)
    }
}

/// The files opened by guest-file-open, by handle. One table for the whole
/// agent: every connection sees every handle.
#[derive(Debug, Default)]
pub struct FileTable {
    files: HashMap<i64, File>,
    /// Where reads land on their way to base64: up to [`READ_PIECE`] bytes, kept
    /// between reads.
    scratch: Vec<u8>,
}

impl FileTable {
    /// An empty table.
    pub fn new() -> Self {
        FileTable::default()
    }

    /// How many files are open.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file is open.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// guest-file-open: open `path` with the fopen() `mode` ("r" when `None`) and
    /// return its new handle, taken from `handles`.
    pub fn open(
        &mut self,
        path: &str,
        mode: Option<&str>,
        handles: &mut dyn HandleSource,
    ) -> Result<i64> {
        let mode = mode.unwrap_or(DEFAULT_MODE);
        let flags = OpenMode::parse(mode)?;
        let file = flags.open(path).map_err(|e| {
            CommandError(format!(
                "failed to open file '{path}' (mode: '{mode}'): {}",
                errno_text(&e)
            ))
        })?;
        // Like qemu-ga, the handle is taken only once the file is open; if the
        // counter cannot be committed the file is closed again (dropped here).
        let handle = handles
            .next_handle()
            .map_err(|_| CommandError("failed to commit persistent state to disk".into()))?;
        self.files.insert(handle, file);
        Ok(handle)
    }

    /// guest-file-close: close the file and forget its handle.
    pub fn close(&mut self, handle: i64) -> Result<()> {
        let file = self
            .files
            .remove(&handle)
            .ok_or_else(|| not_found(handle))?;
        let fd = file.into_raw_fd();
        // SAFETY: `fd` came from into_raw_fd(): it is open and owned by nobody else.
        // On Linux close() releases the descriptor even when it reports an error.
        if unsafe { libc::close(fd) } == -1 {
            let e = io::Error::last_os_error();
            return Err(CommandError(format!(
                "failed to close handle: {}",
                errno_text(&e)
            )));
        }
        Ok(())
    }

    /// guest-file-read: read up to `count` bytes (4096 when `None`, at most 48 MiB)
    /// at the file's position.
    pub fn read(&mut self, handle: i64, count: Option<i64>) -> Result<GuestFileRead> {
        let (file, count, scratch) = self.read_request(handle, count)?;
        let mut buf = Vec::with_capacity(count);
        let (_, eof) = read_in_pieces(file, count, scratch, |piece| {
            buf.extend_from_slice(piece);
        })
        .map_err(read_error)?;
        if buf.capacity() - buf.len() > 64 * 1024 {
            buf.shrink_to_fit();
        }
        Ok(GuestFileRead {
            count: buf.len() as i64,
            buf_b64: buf,
            eof,
        })
    }

    /// guest-file-read with its reply written as JSON text straight from the
    /// file: the bytes go piece by piece from the file to their base64 text in the
    /// reply, the one buffer of the reply's size. The text is what
    /// [`FileTable::read`]'s value serializes to.
    pub fn read_reply(&mut self, handle: i64, count: Option<i64>) -> Result<Reply> {
        let (file, count, scratch) = self.read_request(handle, count)?;
        let asked = count.to_string();
        // The count is written as asked, and corrected once the file has told.
        let mut reply = ReplyBuilder::in_buffer(reply_buffer(64 + count.div_ceil(3) * 4));
        reply.push(b"{\"count\": ");
        let count_at = reply.len()..reply.len() + asked.len();
        reply.push(asked.as_bytes());
        reply.push(b", \"buf-b64\": \"");
        let (n, eof) = read_in_pieces(file, count, scratch, |piece| reply.push_base64(piece))
            .map_err(read_error)?;
        reply.push(if eof {
            b"\", \"eof\": true}"
        } else {
            b"\", \"eof\": false}"
        });
        reply.replace(count_at, n.to_string().as_bytes());
        Ok(reply.finish())
    }

    /// The file, byte count and scratch buffer of a guest-file-read.
    fn read_request(
        &mut self,
        handle: i64,
        count: Option<i64>,
    ) -> Result<(&mut File, usize, &mut Vec<u8>)> {
        let file = self
            .files
            .get_mut(&handle)
            .ok_or_else(|| not_found(handle))?;
        let count = match count {
            None => READ_COUNT_DEFAULT,
            Some(c) if (0..=READ_COUNT_MAX).contains(&c) => c,
            Some(c) => return Err(invalid_count(c)),
        };
        Ok((file, count as usize, &mut self.scratch))
    }

    /// guest-file-write: write the first `count` bytes of `data` (all of them when
    /// `None`) at the file's position (at its end in an append mode).
    pub fn write(
        &mut self,
        handle: i64,
        data: &[u8],
        count: Option<i64>,
    ) -> Result<GuestFileWrite> {
        let file = self.file(handle)?;
        let count = match count {
            None => data.len(),
            Some(c) if c >= 0 && (c as u64) <= data.len() as u64 => c as usize,
            Some(c) => return Err(invalid_count(c)),
        };
        let written = write_all_or_some(file, &data[..count])
            .map_err(|e| CommandError(format!("failed to write to file: {}", errno_text(&e))))?;
        Ok(GuestFileWrite {
            count: written as i64,
            eof: false,
        })
    }

    /// guest-file-seek: move the file's position, as fseek() does, and report it.
    /// Seeking past the end is allowed; before the start is EINVAL.
    pub fn seek(
        &mut self,
        handle: i64,
        offset: i64,
        whence: &GuestFileWhence,
    ) -> Result<GuestFileSeek> {
        let file = self.file(handle)?;
        let whence = parse_whence(whence)?;
        let target = match whence {
            QGASeek::Set => match u64::try_from(offset) {
                Ok(o) => Ok(SeekFrom::Start(o)),
                Err(_) => Err(io::Error::from_raw_os_error(libc::EINVAL)),
            },
            QGASeek::Cur => Ok(SeekFrom::Current(offset)),
            QGASeek::End => Ok(SeekFrom::End(offset)),
        };
        let position = target
            .and_then(|t| file.seek(t))
            .map_err(|e| CommandError(format!("failed to seek file: {}", errno_text(&e))))?;
        Ok(GuestFileSeek {
            position: position as i64,
            eof: false,
        })
    }

    /// guest-file-flush: the agent keeps no buffer, so every write is already in
    /// the kernel; this only checks the handle (it does not fsync, nor does qemu-ga).
    pub fn flush(&mut self, handle: i64) -> Result<()> {
        let file = self.file(handle)?;
        file.flush()
            .map_err(|e| CommandError(format!("failed to flush file: {}", errno_text(&e))))
    }

    fn file(&mut self, handle: i64) -> Result<&mut File> {
        self.files.get_mut(&handle).ok_or_else(|| not_found(handle))
    }
}

fn not_found(handle: i64) -> CommandError {
    CommandError(format!("handle '{handle}' has not been found"))
}

fn invalid_count(count: i64) -> CommandError {
    CommandError(format!("value '{count}' is invalid for argument count"))
}

/// qemu-ga's whence codes: 0, 1, 2 or their names; any other number is refused.
fn parse_whence(whence: &GuestFileWhence) -> Result<QGASeek> {
    match *whence {
        GuestFileWhence::Name(name) => Ok(name),
        GuestFileWhence::Value(0) => Ok(QGASeek::Set),
        GuestFileWhence::Value(1) => Ok(QGASeek::Cur),
        GuestFileWhence::Value(2) => Ok(QGASeek::End),
        GuestFileWhence::Value(code) => Err(CommandError(format!("invalid whence code {code}"))),
    }
}

/// The open(2) flags of one fopen() mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OpenMode {
    read: bool,
    write: bool,
    create: bool,
    truncate: bool,
    append: bool,
}

impl OpenMode {
    /// The forms qemu-ga accepts, and nothing else: "b" only where its table
    /// has it, no glibc extensions ("e", "x", "m", "c", ",ccs=").
    fn parse(mode: &str) -> Result<OpenMode> {
        let (read, write, create, truncate, append) = match mode {
            "r" | "rb" => (true, false, false, false, false),
            "w" | "wb" => (false, true, true, true, false),
            "a" | "ab" => (false, true, true, false, true),
            "r+" | "rb+" | "r+b" => (true, true, false, false, false),
            "w+" | "wb+" | "w+b" => (true, true, true, true, false),
            "a+" | "ab+" | "a+b" => (true, true, true, false, true),
            _ => return Err(CommandError(format!("invalid file open mode '{mode}'"))),
        };
        Ok(OpenMode {
            read,
            write,
            create,
            truncate,
            append,
        })
    }

    fn options(&self) -> std::fs::OpenOptions {
        let mut flags = libc::O_NOCTTY | libc::O_NONBLOCK;
        if self.append {
            flags |= libc::O_APPEND;
        }
        let mut options = std::fs::OpenOptions::new();
        // std adds O_CLOEXEC itself; new files get 0o666 & ~umask.
        options
            .read(self.read)
            .write(self.write)
            .truncate(self.truncate)
            .mode(0o666)
            .custom_flags(flags);
        options
    }

    /// Open `path`. A mode that creates tries an exclusive creation first and
    /// falls back to opening the existing file without O_CREAT, so that a
    /// dangling symlink fails with ENOENT instead of creating its target.
    fn open(&self, path: &str) -> io::Result<File> {
        if path.as_bytes().contains(&0) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let mut options = self.options();
        if self.create {
            // create_new() is O_CREAT | O_EXCL; it ignores truncate(), which
            // does not matter for a file that did not exist.
            let mut exclusive = self.options();
            exclusive.create_new(true);
            match exclusive.open(path) {
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                other => return other,
            }
        }
        options.create(false);
        options.open(path)
    }
}

/// The most bytes a read hands on at a time: a multiple of 3, so that the base64
/// texts of the pieces join into the text of the whole.
const READ_PIECE: usize = 3 * 256 * 1024;

/// Reads until `count` bytes are in, the kernel reports end of file, or an error
/// stops the read, handing the bytes to `sink` in pieces of [`READ_PIECE`] bytes
/// (the last one shorter). Returns how many bytes were read and whether end of
/// file was seen.
///
/// The pieces pass through `scratch`, which grows to the largest piece read and
/// is kept for the next read.
fn read_in_pieces(
    file: &mut File,
    count: usize,
    scratch: &mut Vec<u8>,
    mut sink: impl FnMut(&[u8]),
) -> io::Result<(usize, bool)> {
    let piece = count.min(READ_PIECE);
    if scratch.len() < piece {
        scratch.resize(piece, 0);
    }
    let mut total = 0;
    let mut filled = 0;
    let mut eof = false;
    while total + filled < count {
        let want = piece.min(count - total);
        match file.read(&mut scratch[filled..want]) {
            Ok(0) => {
                eof = true;
                break;
            }
            Ok(n) => {
                filled += n;
                if filled == want {
                    sink(&scratch[..filled]);
                    total += filled;
                    filled = 0;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // Some bytes were read before a FIFO ran dry (or another error):
            // return them; the error, if it persists, comes with the next read.
            Err(_) if total + filled > 0 => break,
            Err(e) => return Err(e),
        }
    }
    if filled > 0 {
        sink(&scratch[..filled]);
        total += filled;
    }
    Ok((total, eof))
}

/// The smallest reply offered huge pages.
const HUGE_REPLY: usize = 16 << 20;

/// The memory of a read's reply. One of tens of megabytes is first touched page by
/// page as the base64 text is written: the kernel is asked to back it with huge
/// pages where it can, which takes some 16 000 page faults of a 64 MiB reply down
/// to a few dozen (48 MiB reads 20-30% faster). Below [`HUGE_REPLY`] the advice
/// cost more than it saved (4 MiB reads were 25% slower with it).
fn reply_buffer(capacity: usize) -> Vec<u8> {
    const HUGE_PAGE: usize = 2 << 20;
    let buf = Vec::with_capacity(capacity);
    if capacity >= HUGE_REPLY {
        let start = (buf.as_ptr() as usize).next_multiple_of(HUGE_PAGE);
        let end = (buf.as_ptr() as usize + capacity) & !(HUGE_PAGE - 1);
        // SAFETY: [start, end) lies within the buffer's allocation, which this
        // function owns; the advice changes how its pages are backed, never
        // their contents. It is only advice: a kernel without transparent huge
        // pages refuses it, and nothing changes.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
    buf
}

fn read_error(e: io::Error) -> CommandError {
    CommandError(format!("failed to read file: {}", errno_text(&e)))
}

/// Write all of `data` unless an error stops the write; an error after some
/// bytes went out returns how many did (qemu-ga reports the error and loses the
/// count).
fn write_all_or_some(file: &mut File, data: &[u8]) -> io::Result<usize> {
    let mut written = 0;
    while written < data.len() {
        match file.write(&data[written..]) {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) if written > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

use super::error::io_error_text as errno_text;

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::Path;

    fn table() -> (FileTable, Counter) {
        (FileTable::new(), Counter::default())
    }

    fn path_str(p: &Path) -> &str {
        p.to_str().unwrap()
    }

    fn err<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.unwrap_err().0
    }

    #[test]
    fn handles_count_from_1000_and_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"x").unwrap();
        let (mut t, mut c) = table();
        let h1 = t.open(path_str(&p), None, &mut c).unwrap();
        let h2 = t.open(path_str(&p), Some("r"), &mut c).unwrap();
        assert_eq!((h1, h2), (1000, 1001));
        t.close(h1).unwrap();
        let h3 = t.open(path_str(&p), None, &mut c).unwrap();
        assert_eq!(h3, 1002);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn closure_and_failing_handle_sources() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"x").unwrap();
        let mut t = FileTable::new();
        let mut n = 41;
        let mut next = || -> io::Result<i64> {
            n += 1;
            Ok(n)
        };
        assert_eq!(t.open(path_str(&p), None, &mut next).unwrap(), 42);
        let mut broken = || -> io::Result<i64> { Err(io::Error::other("disk full")) };
        assert_eq!(
            err(t.open(path_str(&p), None, &mut broken)),
            "failed to commit persistent state to disk"
        );
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn unknown_handles() {
        let (mut t, _) = table();
        let text = "handle '999999' has not been found";
        assert_eq!(err(t.read(999999, None)), text);
        assert_eq!(
            err(t.read(999999, Some(-1))),
            text,
            "the handle is checked first"
        );
        assert_eq!(err(t.write(999999, b"x", Some(5))), text);
        assert_eq!(
            err(t.seek(999999, 0, &GuestFileWhence::Value(5))),
            text,
            "the handle is checked before whence"
        );
        assert_eq!(err(t.flush(999999)), text);
        assert_eq!(err(t.close(999999)), text);
    }

    #[test]
    fn open_modes_exactly_as_qemu_accepts_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let (mut t, mut c) = table();
        for mode in [
            "r", "rb", "w", "wb", "a", "ab", "r+", "rb+", "r+b", "w+", "wb+", "w+b", "a+", "ab+",
            "a+b",
        ] {
            fs::write(&p, b"x").unwrap();
            let h = t.open(path_str(&p), Some(mode), &mut c).unwrap();
            t.close(h).unwrap();
        }
        for mode in [
            "zz", "", "br", "rw", "re", "b", "R", "r+ ", "wx", "a+e", "rb+b", " r",
        ] {
            assert_eq!(
                err(t.open(path_str(&p), Some(mode), &mut c)),
                format!("invalid file open mode '{mode}'")
            );
        }
        assert!(t.is_empty());
    }

    #[test]
    fn open_failures_name_path_mode_and_errno() {
        let dir = tempfile::tempdir().unwrap();
        let (mut t, mut c) = table();
        assert_eq!(
            err(t.open("/no/such", None, &mut c)),
            "failed to open file '/no/such' (mode: 'r'): No such file or directory"
        );
        assert_eq!(
            err(t.open("/no/such", Some("w"), &mut c)),
            "failed to open file '/no/such' (mode: 'w'): No such file or directory"
        );
        let d = path_str(dir.path());
        assert_eq!(
            err(t.open(d, Some("w"), &mut c)),
            format!("failed to open file '{d}' (mode: 'w'): Is a directory")
        );
        assert_eq!(c.next_handle().unwrap(), 1000, "failures take no handle");
    }

    #[test]
    fn new_files_respect_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let (mut t, mut c) = table();
        // A umask that qemu-ga's forced 0666 would visibly ignore. It is per
        // process; no other test here depends on it.
        // SAFETY: umask() only swaps the process's mask.
        let saved = unsafe { libc::umask(0o027) };
        let umask = 0o027;
        for (i, mode) in ["w", "a", "w+", "a+"].iter().enumerate() {
            let p = dir.path().join(format!("new{i}"));
            let h = t.open(path_str(&p), Some(mode), &mut c).unwrap();
            t.close(h).unwrap();
            let perm = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(perm, 0o666 & !umask, "mode {mode}");
        }
        // SAFETY: as above.
        unsafe { libc::umask(saved) };
        assert_eq!(current_umask(), saved);
        // An existing file keeps its permissions.
        let p = dir.path().join("existing");
        fs::write(&p, b"old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        let h = t.open(path_str(&p), Some("w"), &mut c).unwrap();
        t.close(h).unwrap();
        let meta = fs::metadata(&p).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.size(), 0, "w truncates");
    }

    fn current_umask() -> u32 {
        let status = fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
        u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
    }

    #[test]
    fn a_dangling_symlink_is_not_followed_to_create_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let (mut t, mut c) = table();
        let l = path_str(&link);
        assert_eq!(
            err(t.open(l, Some("w"), &mut c)),
            format!("failed to open file '{l}' (mode: 'w'): No such file or directory")
        );
        assert!(!target.exists());
        // A symlink to an existing file is followed.
        fs::write(&target, b"abc").unwrap();
        let h = t.open(l, Some("a"), &mut c).unwrap();
        t.write(h, b"d", None).unwrap();
        t.close(h).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"abcd");
    }

    #[test]
    fn descriptors_are_cloexec_and_nonblocking() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"x").unwrap();
        let (mut t, mut c) = table();
        let h = t.open(path_str(&p), Some("r+"), &mut c).unwrap();
        use std::os::fd::AsRawFd;
        let fd = t.files[&h].as_raw_fd();
        // SAFETY: fcntl on a descriptor the table owns.
        let (fd_flags, fl_flags) = unsafe {
            (
                libc::fcntl(fd, libc::F_GETFD),
                libc::fcntl(fd, libc::F_GETFL),
            )
        };
        assert_ne!(fd_flags & libc::FD_CLOEXEC, 0);
        assert_ne!(fl_flags & libc::O_NONBLOCK, 0);
        assert_eq!(fl_flags & libc::O_ACCMODE, libc::O_RDWR);
    }

    #[test]
    fn read_counts_and_end_of_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ten");
        fs::write(&p, b"0123456789").unwrap();
        let (mut t, mut c) = table();
        let h = t.open(path_str(&p), None, &mut c).unwrap();
        let r = |count: i64, buf: &[u8], eof: bool| GuestFileRead {
            count,
            buf_b64: buf.to_vec(),
            eof,
        };
        assert_eq!(t.read(h, Some(5)).unwrap(), r(5, b"01234", false));
        assert_eq!(
            t.read(h, Some(5)).unwrap(),
            r(5, b"56789", false),
            "exactly the rest"
        );
        assert_eq!(t.read(h, Some(5)).unwrap(), r(0, b"", true), "past the end");
        assert_eq!(t.read(h, Some(5)).unwrap(), r(0, b"", true));
        t.seek(h, 0, &GuestFileWhence::Name(QGASeek::Set)).unwrap();
        assert_eq!(
            t.read(h, Some(0)).unwrap(),
            r(0, b"", false),
            "count 0 reads nothing"
        );
        assert_eq!(
            t.read(h, None).unwrap(),
            r(10, b"0123456789", true),
            "short read: eof"
        );
        assert_eq!(t.read(h, None).unwrap(), r(0, b"", true));
        t.seek(h, 100, &GuestFileWhence::Value(0)).unwrap();
        assert_eq!(t.read(h, None).unwrap(), r(0, b"", true), "beyond the end");
    }

    #[test]
    fn read_count_limits() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"x").unwrap();
        let (mut t, mut c) = table();
        let h = t.open(path_str(&p), None, &mut c).unwrap();
        for bad in [-1, 50331649, i64::MIN, i64::MAX] {
            assert_eq!(
                err(t.read(h, Some(bad))),
                format!("value '{bad}' is invalid for argument count")
            );
        }
        assert_eq!(t.read(h, Some(READ_COUNT_MAX)).unwrap().count, 1);
    }

    #[test]
    fn a_48_mib_read_returns_every_byte_in_one_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        let data: Vec<u8> = (0..READ_COUNT_MAX as usize + 10)
            .map(|i| (i % 251) as u8)
            .collect();
        fs::write(&p, &data).unwrap();
        let (mut t, mut c) = table();
        let h = t.open(path_str(&p), None, &mut c).unwrap();
        let r = t.read(h, Some(READ_COUNT_MAX)).unwrap();
        assert_eq!(r.count, READ_COUNT_MAX);
        assert!(!r.eof);
        assert_eq!(
            r.buf_b64.capacity(),
            READ_COUNT_MAX as usize,
            "no reallocation"
        );
        assert!(r.buf_b64 == data[..READ_COUNT_MAX as usize]);
        let rest = t.read(h, Some(READ_COUNT_MAX)).unwrap();
        assert_eq!((rest.count, rest.eof), (10, true));
        assert!(
            rest.buf_b64.capacity() < 1024 * 1024,
            "a short read gives memory back"
        );
    }

    #[test]
    fn write_counts() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("new");
        let (mut t, mut c) = table();
        let h = t.open(path_str(&p), Some("w"), &mut c).unwrap();
        assert_eq!(
            err(t.write(h, b"hello", Some(6))),
            "value '6' is invalid for argument count"
        );
        assert_eq!(
            err(t.write(h, b"hello", Some(-1))),
            "value '-1' is invalid for argument count"
        );
        let w = |count| GuestFileWrite { count, eof: false };
        assert_eq!(t.write(h, b"hello", Some(3)).unwrap(), w(3));
        assert_eq!(t.write(h, b"", None).unwrap(), w(0));
        assert_eq!(t.write(h, b"lo", None).unwrap(), w(2));
        // Written means in the kernel: visible before any flush or close.
        assert_eq!(fs::read(&p).unwrap(), b"hello");
        t.flush(h).unwrap();
        assert_eq!(
            err(t.read(h, None)),
            "failed to read file: Bad file descriptor"
        );
        t.close(h).unwrap();
        let h = t.open(path_str(&p), None, &mut c).unwrap();
        assert_eq!(
            err(t.write(h, b"x", None)),
            "failed to write to file: Bad file descriptor"
        );
    }

    #[test]
    fn seek_forms_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ten");
        fs::write(&p, b"0123456789").unwrap();
        let (mut t, mut c) = table();
        let h = t.open(path_str(&p), None, &mut c).unwrap();
        let s = |position| GuestFileSeek {
            position,
            eof: false,
        };
        use GuestFileWhence::{Name, Value};
        assert_eq!(t.seek(h, 3, &Value(0)).unwrap(), s(3));
        assert_eq!(t.seek(h, 2, &Value(1)).unwrap(), s(5));
        assert_eq!(t.seek(h, -1, &Value(2)).unwrap(), s(9));
        assert_eq!(t.seek(h, 1, &Name(QGASeek::Set)).unwrap(), s(1));
        assert_eq!(t.seek(h, 1, &Name(QGASeek::Cur)).unwrap(), s(2));
        assert_eq!(t.seek(h, -3, &Name(QGASeek::End)).unwrap(), s(7));
        assert_eq!(
            t.seek(h, 0, &Name(QGASeek::Cur)).unwrap(),
            s(7),
            "like ftell"
        );
        assert_eq!(
            t.seek(h, 1000, &Name(QGASeek::End)).unwrap(),
            s(1010),
            "past the end"
        );
        for code in [5, 3, -1, i64::MAX] {
            assert_eq!(
                err(t.seek(h, 0, &Value(code))),
                format!("invalid whence code {code}")
            );
        }
        assert_eq!(
            err(t.seek(h, -1, &Name(QGASeek::Set))),
            "failed to seek file: Invalid argument"
        );
        assert_eq!(
            err(t.seek(h, -100_000, &Name(QGASeek::Cur))),
            "failed to seek file: Invalid argument"
        );
        assert_eq!(
            t.seek(h, 0, &Name(QGASeek::Cur)).unwrap(),
            s(1010),
            "failed seeks do not move"
        );
        // A write past the end leaves a hole, as with fseek() + fwrite().
        let h2 = t.open(path_str(&p), Some("r+"), &mut c).unwrap();
        t.seek(h2, 12, &Value(0)).unwrap();
        t.write(h2, b"X", None).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"0123456789\0\0X");
    }

    #[test]
    fn append_and_read_write_modes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"AB").unwrap();
        let (mut t, mut c) = table();
        use GuestFileWhence::Name;
        // "a+": reading starts at the beginning, writing goes to the end.
        let h = t.open(path_str(&p), Some("a+"), &mut c).unwrap();
        assert_eq!(t.seek(h, 0, &Name(QGASeek::Cur)).unwrap().position, 0);
        let r = t.read(h, Some(3)).unwrap();
        assert_eq!((r.buf_b64.as_slice(), r.eof), (&b"AB"[..], true));
        t.seek(h, 0, &Name(QGASeek::Set)).unwrap();
        t.write(h, b"CD", None).unwrap();
        assert_eq!(t.seek(h, 0, &Name(QGASeek::Cur)).unwrap().position, 4);
        t.close(h).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"ABCD");
        // "r+": read then write in place.
        let h = t.open(path_str(&p), Some("r+"), &mut c).unwrap();
        assert_eq!(t.read(h, Some(3)).unwrap().buf_b64, b"ABC");
        t.write(h, b"zz", None).unwrap();
        assert!(t.read(h, Some(3)).unwrap().eof);
        t.close(h).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"ABCzz");
        // "w+": truncates, then reads back what it wrote.
        let h = t.open(path_str(&p), Some("w+"), &mut c).unwrap();
        t.write(h, b"new", None).unwrap();
        t.seek(h, 0, &Name(QGASeek::Set)).unwrap();
        assert_eq!(t.read(h, None).unwrap().buf_b64, b"new");
        // "a": write-only.
        let h = t.open(path_str(&p), Some("ab"), &mut c).unwrap();
        assert_eq!(
            err(t.read(h, None)),
            "failed to read file: Bad file descriptor"
        );
    }

    #[test]
    fn fifos_never_block_the_agent() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        let cp = std::ffi::CString::new(path_str(&p)).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(cp.as_ptr(), 0o600) }, 0);
        let (mut t, mut c) = table();
        let f = path_str(&p);
        assert_eq!(
            err(t.open(f, Some("w"), &mut c)),
            format!("failed to open file '{f}' (mode: 'w'): No such device or address"),
            "no reader: ENXIO, not a hang"
        );
        // No writer at all: end of file.
        let h = t.open(f, None, &mut c).unwrap();
        assert!(t.read(h, None).unwrap().eof);
        assert_eq!(
            err(t.seek(h, 0, &GuestFileWhence::Value(1))),
            "failed to seek file: Illegal seek"
        );
        t.close(h).unwrap();
        // A writer but no data: EAGAIN, as qemu-ga.
        let writer = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&p)
            .unwrap();
        let h = t.open(f, None, &mut c).unwrap();
        assert_eq!(
            err(t.read(h, None)),
            "failed to read file: Resource temporarily unavailable"
        );
        // Some data, then EAGAIN: the data comes back (qemu-ga loses it).
        (&writer).write_all(b"abc").unwrap();
        let r = t.read(h, None).unwrap();
        assert_eq!(
            (r.count, r.buf_b64.as_slice(), r.eof),
            (3, &b"abc"[..], false)
        );
        drop(writer);
        assert!(t.read(h, Some(2)).unwrap().eof);
    }

    /// The reply text of guest-file-read, made the typed way.
    fn typed_reply(r: Result<GuestFileRead>) -> std::result::Result<Vec<u8>, String> {
        r.map(|r| Reply::new(&r).unwrap().as_bytes().to_vec())
            .map_err(|e| e.0)
    }

    fn text_reply(r: Result<Reply>) -> std::result::Result<Vec<u8>, String> {
        r.map(|r| r.as_bytes().to_vec()).map_err(|e| e.0)
    }

    #[test]
    fn the_reply_text_is_the_typed_reply_serialized() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("data");
        let len = 2 * READ_PIECE + 7;
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
        fs::write(&p, &data).unwrap();
        let (mut t, mut c) = table();
        let counts = [
            None,
            Some(0),
            Some(1),
            Some(2),
            Some(3),
            Some(4),
            Some(100),
            Some(READ_PIECE as i64 - 1),
            Some(READ_PIECE as i64),
            Some(READ_PIECE as i64 + 1),
            Some(2 * READ_PIECE as i64 + 2),
            Some(READ_COUNT_MAX),
        ];
        for count in counts {
            // The same reads on two handles of one file, one through each path,
            // until end of file (the last ones are short: the count's digits change).
            // Two reads from the start, then from a count and a half before the
            // end until end of file.
            let typed = t.open(path_str(&p), None, &mut c).unwrap();
            let text = t.open(path_str(&p), None, &mut c).unwrap();
            let n = count.unwrap_or(READ_COUNT_DEFAULT);
            for i in 0.. {
                if i == 2 {
                    let near_end = GuestFileWhence::Name(QGASeek::End);
                    let back = -(n + n / 2).min(len as i64);
                    t.seek(typed, back, &near_end).unwrap();
                    t.seek(text, back, &near_end).unwrap();
                }
                let expected = typed_reply(t.read(typed, count));
                let got = text_reply(t.read_reply(text, count)).unwrap();
                assert_eq!(Ok(&got), expected.as_ref(), "count {count:?}, read {i}");
                let value: serde_json::Value = serde_json::from_slice(&got).unwrap();
                if value["eof"] == true || n == 0 {
                    break;
                }
            }
            t.close(typed).unwrap();
            t.close(text).unwrap();
        }
        for bad in [Some(-1), Some(READ_COUNT_MAX + 1)] {
            let h = t.open(path_str(&p), None, &mut c).unwrap();
            assert_eq!(
                text_reply(t.read_reply(h, bad)),
                typed_reply(t.read(h, bad))
            );
        }
        assert_eq!(
            text_reply(t.read_reply(999, None)),
            typed_reply(t.read(999, None))
        );
    }

    #[test]
    fn the_reply_text_keeps_what_a_fifo_gave_before_running_dry() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        let cp = std::ffi::CString::new(path_str(&p)).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(cp.as_ptr(), 0o600) }, 0);
        let writer = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&p)
            .unwrap();
        let (mut t, mut c) = table();
        let h = t.open(path_str(&p), None, &mut c).unwrap();
        assert_eq!(
            text_reply(t.read_reply(h, None)).unwrap_err(),
            "failed to read file: Resource temporarily unavailable"
        );
        (&writer).write_all(b"abcd").unwrap();
        assert_eq!(
            text_reply(t.read_reply(h, Some(1000))).unwrap(),
            b"{\"count\": 4, \"buf-b64\": \"YWJjZA==\", \"eof\": false}"
        );
    }

    #[test]
    fn large_reply_buffers_are_offered_huge_pages() {
        let thp = fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled");
        if thp.is_err() || thp.as_deref().is_ok_and(|t| t.contains("[never]")) {
            return; // Nothing to offer on this kernel.
        }
        let buf = reply_buffer(HUGE_REPLY);
        let at = buf.as_ptr() as usize + HUGE_REPLY / 2;
        // The mapping that holds the buffer's middle, as /proc/self/smaps lists it.
        let smaps = fs::read_to_string("/proc/self/smaps").unwrap();
        let mut eligible = None;
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ') {
                if let Some((lo, hi)) = range.split_once('-') {
                    if let (Ok(lo), Ok(hi)) =
                        (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
                    {
                        inside = (lo..hi).contains(&at);
                        continue;
                    }
                }
            }
            if inside {
                if let Some(v) = line.strip_prefix("THPeligible:") {
                    eligible = Some(v.trim() == "1");
                }
            }
        }
        assert_eq!(
            eligible,
            Some(true),
            "the buffer's mapping is not THP-eligible"
        );
        assert!(reply_buffer(1000).capacity() >= 1000);
    }

    #[test]
    fn a_path_with_nul_is_refused() {
        let (mut t, mut c) = table();
        assert_eq!(
            err(t.open("/tmp/a\0b", None, &mut c)),
            "failed to open file '/tmp/a\0b' (mode: 'r'): Invalid argument"
        );
    }

    #[test]
    fn errno_texts_are_strerror() {
        assert_eq!(
            errno_text(&io::Error::from_raw_os_error(libc::ENOENT)),
            "No such file or directory"
        );
        assert_eq!(errno_text(&io::Error::other("plain")), "plain");
    }
}
