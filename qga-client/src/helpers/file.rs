//! Whole-file copies between the host and the guest.
//!
//! A copy opens the guest file, moves it in large chunks (4 MiB by default; the agent
//! reads at most 48 MiB at once) and always closes the handle, also after an error: the
//! agent's handles outlive connections. Buffers are reused from chunk to chunk: the
//! client's input buffer holds each response, the base64 text is read from it in
//! place and decoded straight into one output buffer; on the way out one buffer holds
//! the chunk, which is encoded straight into the request (base64 needs no JSON
//! escaping). Base64 is SIMD-accelerated: at several GB/s it costs less than the copies.

use std::borrow::Cow;
use std::io::{self, Read, Write};

use base64_simd::{STANDARD, STANDARD_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{Client, Expect};
use crate::error::Error;
use crate::message::decode_reply;
use crate::transport::Transport;

/// The most the agent reads in one `guest-file-read`.
pub const MAX_CHUNK: usize = 48 << 20;

/// How far a copy has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes copied so far.
    pub done: u64,
    /// The size of the whole file, when known.
    pub total: Option<u64>,
}

/// How to copy.
pub struct CopyOptions<'a> {
    /// Bytes per `guest-file-read` or `guest-file-write` (at most 48 MiB for a read).
    pub chunk_size: usize,
    /// Called after each chunk. When set, a read first asks the agent for the file's
    /// size (two `guest-file-seek` calls).
    pub progress: Option<&'a mut dyn FnMut(Progress)>,
}

impl Default for CopyOptions<'_> {
    fn default() -> Self {
        CopyOptions {
            chunk_size: 4 << 20,
            progress: None,
        }
    }
}

impl std::fmt::Debug for CopyOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOptions")
            .field("chunk_size", &self.chunk_size)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

#[derive(Serialize)]
struct OpenArguments<'a> {
    path: &'a str,
    mode: &'a str,
}

#[derive(Serialize)]
struct HandleArguments {
    handle: i64,
}

#[derive(Serialize)]
struct ReadArguments {
    handle: i64,
    count: usize,
}

#[derive(Deserialize)]
struct ReadResult<'a> {
    #[serde(borrow, rename = "buf-b64")]
    buf_b64: Cow<'a, str>,
    eof: bool,
}

#[derive(Deserialize)]
struct WriteResult {
    count: u64,
}

#[derive(Serialize)]
struct SeekArguments {
    handle: i64,
    offset: i64,
    /// Numeric (0 set, 2 end): every agent version accepts it.
    whence: i64,
}

#[derive(Deserialize)]
struct SeekResult {
    position: u64,
}

impl<T: Transport> Client<T> {
    /// Copies the guest file at `path` into `out`; returns the number of bytes.
    pub fn read_file<W: Write + ?Sized>(&mut self, path: &str, out: &mut W) -> Result<u64, Error> {
        self.read_file_with(path, out, CopyOptions::default())
    }

    /// [`Client::read_file`] with chunk size and progress reports.
    pub fn read_file_with<W: Write + ?Sized>(
        &mut self,
        path: &str,
        out: &mut W,
        mut options: CopyOptions<'_>,
    ) -> Result<u64, Error> {
        let chunk = options.chunk_size.clamp(1, MAX_CHUNK);
        let handle = self.file_open(path, "r")?;
        let copied = (|| {
            let total = match options.progress {
                Some(_) => self.file_size(handle)?,
                None => None,
            };
            let mut decoded = Vec::new();
            let mut done = 0u64;
            loop {
                let (n, eof) = self.read_chunk(handle, chunk, &mut decoded, out)?;
                done += n as u64;
                if let Some(progress) = options.progress.as_mut() {
                    progress(Progress { done, total });
                }
                // An agent that reports neither data nor EOF would loop forever.
                if eof || n == 0 {
                    return Ok(done);
                }
            }
        })();
        self.finish(handle, copied)
    }

    /// Copies everything `input` yields into the guest file at `path`, which is created
    /// or truncated; returns the number of bytes.
    pub fn write_file<R: Read + ?Sized>(
        &mut self,
        path: &str,
        input: &mut R,
    ) -> Result<u64, Error> {
        self.write_file_with(path, input, CopyOptions::default())
    }

    /// [`Client::write_file`] with chunk size and progress reports (`total` is unknown).
    pub fn write_file_with<R: Read + ?Sized>(
        &mut self,
        path: &str,
        input: &mut R,
        mut options: CopyOptions<'_>,
    ) -> Result<u64, Error> {
        let chunk_size = options.chunk_size.max(1);
        let handle = self.file_open(path, "w")?;
        let copied = (|| {
            let mut chunk = vec![0; chunk_size];
            let mut done = 0u64;
            loop {
                let n = read_full(input, &mut chunk).map_err(Error::Local)?;
                if n == 0 {
                    return Ok(done);
                }
                let written = self.write_chunk(handle, &chunk[..n])?;
                if written != n as u64 {
                    return Err(Error::ShortWrite {
                        path: path.to_owned(),
                        written: done + written,
                    });
                }
                done += n as u64;
                if let Some(progress) = options.progress.as_mut() {
                    progress(Progress { done, total: None });
                }
                if n < chunk_size {
                    return Ok(done);
                }
            }
        })();
        self.finish(handle, copied)
    }

    fn file_open(&mut self, path: &str, mode: &str) -> Result<i64, Error> {
        self.call_file("guest-file-open", &OpenArguments { path, mode })
    }

    /// Closes `handle` whatever happened; the copy's own error comes first.
    fn finish(&mut self, handle: i64, copied: Result<u64, Error>) -> Result<u64, Error> {
        let closed = self.call_file::<_, Value>("guest-file-close", &HandleArguments { handle });
        let done = copied?;
        closed.map(|_| done)
    }

    /// The size of an open file, if it can seek; leaves it at the start.
    fn file_size(&mut self, handle: i64) -> Result<Option<u64>, Error> {
        let end = match self.call_file::<_, SeekResult>(
            "guest-file-seek",
            &SeekArguments {
                handle,
                offset: 0,
                whence: 2,
            },
        ) {
            Ok(end) => end.position,
            // A pipe or a character device: no size, and nothing moved.
            Err(e) if e.is_agent_error() => return Ok(None),
            Err(e) => return Err(e),
        };
        self.call_file::<_, SeekResult>(
            "guest-file-seek",
            &SeekArguments {
                handle,
                offset: 0,
                whence: 0,
            },
        )?;
        Ok(Some(end))
    }

    /// Reads one chunk and writes it to `out`; returns its size and whether it was the
    /// last.
    fn read_chunk<W: Write + ?Sized>(
        &mut self,
        handle: i64,
        count: usize,
        decoded: &mut Vec<u8>,
        out: &mut W,
    ) -> Result<(usize, bool), Error> {
        const COMMAND: &str = "guest-file-read";
        let timeout = self.options().timeout;
        let arguments = ReadArguments { handle, count };
        let reply = self.call_with(
            COMMAND,
            Some(&arguments),
            Expect::Response,
            timeout,
            |bytes| {
                let result: ReadResult<'_> = decode_reply(COMMAND, bytes)?;
                let text = result.buf_b64.as_bytes();
                // Agents pad; accept unpadded text too, as QEMU's agent does.
                let engine = if text.len() % 4 == 0 {
                    STANDARD
                } else {
                    STANDARD_NO_PAD
                };
                decoded.clear();
                engine
                    .decode_append(text, decoded)
                    .map_err(|e| Error::Protocol(format!("bad base64 from {COMMAND}: {e}")))?;
                let n = decoded.len();
                out.write_all(&decoded[..n]).map_err(Error::Local)?;
                Ok((n, result.eof))
            },
        )?;
        // A command with a response always has one here.
        Ok(reply.unwrap_or((0, true)))
    }

    /// Writes one chunk; returns how much the agent wrote.
    fn write_chunk(&mut self, handle: i64, chunk: &[u8]) -> Result<u64, Error> {
        const COMMAND: &str = "guest-file-write";
        let timeout = self.options().timeout;
        let encode = |out: &mut Vec<u8>| {
            let head = format!(
                "{{\"execute\":\"{COMMAND}\",\"arguments\":{{\"handle\":{handle},\"buf-b64\":\""
            );
            out.extend_from_slice(head.as_bytes());
            STANDARD.encode_append(chunk, out);
            out.extend_from_slice(b"\"}}");
            Ok(())
        };
        let reply = self.call_encoded(encode, Expect::Response, timeout, |bytes| {
            decode_reply::<WriteResult>(COMMAND, bytes).map(|w| w.count)
        })?;
        reply.ok_or(Error::Disconnected)
    }

    fn call_file<A: Serialize, R: for<'de> Deserialize<'de>>(
        &mut self,
        name: &str,
        arguments: &A,
    ) -> Result<R, Error> {
        let timeout = self.options().timeout;
        let reply = self.call_with(name, Some(arguments), Expect::Response, timeout, |b| {
            decode_reply::<R>(name, b)
        })?;
        reply.ok_or(Error::Disconnected)
    }
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_full<R: Read + ?Sized>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
