//! Running programs: guest-exec and guest-exec-status.
//!
//! An [`ExecTable`] starts processes and keeps what the agent knows about each
//! until guest-exec-status has reported it ended. A program is started with
//! `posix_spawn` (glibc runs it from a `vfork`-like clone: no copy of the
//! agent's page tables); its pipes are non-blocking on the agent's side. One
//! poller thread, started with the first guest-exec, serves every process the
//! agent runs: it waits in `epoll` on their pipes and on a pidfd each (Linux
//! 5.3; without pidfds, it looks every 50 ms), reaps them as they exit, writes
//! `input-data` to their standard input and reads what they write. So the
//! agent keeps answering while they run, and no thread is started per process.
//! guest-exec registers a new process's descriptors itself, so starting one
//! does not wake the poller.
//!
//! guest-exec-status does the same non-blocking work itself before it
//! answers, so a process that has ended is reported at once, whether or not
//! the poller has got to it yet: a status asked once the process has exited
//! and its output has been written says `exited: true` (the exit closes the
//! pipes before it makes the process reapable, so the status reaps again when
//! it has just seen both pipes end).
//!
//! Behaviour as qemu-ga 7.2's (checked against its binary):
//! - `path` is `argv[0]` as given; without a '/' it is looked up in the PATH of
//!   `env` when `env` has one, else in the agent's PATH, else in
//!   "/bin:/usr/bin:." (glib's g_spawn rules: every directory is tried; EACCES
//!   wins over ENOENT when nothing runs; a file that is not an executable format
//!   is run by /bin/sh);
//! - with `env` the program gets exactly those strings, in that order, as its
//!   environment (an empty list gives an empty environment); without it, the
//!   agent's;
//! - standard input is a pipe fed `input-data` and then closed, or /dev/null when
//!   there is none; standard output and error are pipes when `capture-output`
//!   captures them, /dev/null otherwise (QEMU 8.0's modes: `true` or
//!   "separated" both, "stdout" or "stderr" one, `false`, absent or "none"
//!   neither; "merged" gives both streams one pipe, returned as `out-data`);
//!   SIGPIPE is reset to its default and no signal is
//!   blocked; no other descriptor of the agent reaches the program (glibc
//!   closes every one from 3 up in the child, and everything the agent opens is
//!   close-on-exec anyway: see [`crate::daemon::fds`]);
//! - each captured stream keeps its first 16 MiB; the rest is read and dropped,
//!   and sets `out-truncated`/`err-truncated`;
//! - a process is `exited` once it has been reaped and, when captured, both its
//!   pipes have been closed (a background child still holding them keeps the
//!   status at `exited: false`, and its output is captured too);
//! - `out-data` with `out-truncated` (and `err-data` with `err-truncated`) are
//!   present only when that stream was captured and produced bytes;
//! - `exitcode` when the process exited, `signal` when a signal killed it;
//! - once `exited: true` has been returned the pid is forgotten: asking again, or
//!   for a pid never started, is `Invalid parameter 'pid'`;
//! - a program that cannot be started is `Guest agent command failed, error was
//!   'Failed to execute child process “PATH” (STRERROR)'` (`Failed to fork
//!   (STRERROR)` when no process could be created: EAGAIN).
//!
//! Nothing here limits how many processes run or how long they are remembered:
//! qemu-ga has no such limit either.

use std::collections::{HashMap, VecDeque};
use std::ffi::{CStr, CString, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::raw::c_char;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use qga_types::commands::GuestExecArguments;
use qga_types::{GuestExec, GuestExecCaptureOutput, GuestExecCaptureOutputMode, GuestExecStatus};
use rustix::buffer::spare_capacity;
use rustix::event::{epoll, eventfd, EventfdFlags, Timespec};
use rustix::fs::{fcntl_setfl, OFlags};
use rustix::pipe::{pipe_with, PipeFlags};
use rustix::process::{pidfd_open, Pid, PidfdFlags};

use crate::commands::error::io_error_text as errno_text;
use crate::commands::error::CommandError;

type Result<T> = std::result::Result<T, CommandError>;

/// The most bytes kept of each captured stream: 16 MiB.
pub const OUTPUT_LIMIT: usize = 16 * 1024 * 1024;

/// glib's search path when neither `env` nor the agent has a PATH.
const DEFAULT_SEARCH_PATH: &[u8] = b"/bin:/usr/bin:.";

/// The shell that runs a file execve() refuses with ENOEXEC.
const SHELL: &CStr = c"/bin/sh";

/// The poller's stack: it keeps its buffers on the heap.
const POLLER_STACK: usize = 64 * 1024;

/// How often the poller looks at processes it cannot wait for (no pidfd, or
/// a descriptor epoll refused).
const REAP_INTERVAL: Duration = Duration::from_millis(50);

/// The epoll token of the poller's wake-up eventfd (processes count up from 0).
const WAKE: u64 = u64::MAX;

/// How many epoll events the poller takes at once.
const EVENTS: usize = 64;

/// The first buffer of a captured stream; it doubles as output comes.
const FIRST_READ: usize = 4096;

/// The processes started by guest-exec and not yet reported as ended.
#[derive(Default)]
pub struct ExecTable {
    /// By pid. A pid the kernel reused while an earlier process with it was
    /// still unreported queues behind it: status reports the oldest first.
    processes: HashMap<i64, VecDeque<Arc<Process>>>,
}

impl std::fmt::Debug for ExecTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecTable")
            .field("processes", &self.len())
            .finish()
    }
}

impl ExecTable {
    /// An empty table.
    pub fn new() -> Self {
        ExecTable::default()
    }

    /// How many processes are remembered (running, or ended and not yet reported).
    pub fn len(&self) -> usize {
        self.processes.values().map(VecDeque::len).sum()
    }

    /// Whether no process is remembered.
    pub fn is_empty(&self) -> bool {
        self.processes.is_empty()
    }

    /// guest-exec: start the program and return its pid at once.
    pub fn exec(&mut self, args: GuestExecArguments) -> Result<GuestExec> {
        self.start(args, true)
    }

    /// guest-exec, waiting for the process through a pidfd when `use_pidfd`
    /// (false only in tests: as on a kernel without pidfds).
    fn start(&mut self, args: GuestExecArguments, use_pidfd: bool) -> Result<GuestExec> {
        let GuestExecArguments {
            path,
            arg,
            env,
            input_data,
            capture_output,
        } = args;
        let capture = Capture::of(capture_output);
        let plan = ExecPlan::new(&path, arg.as_deref().unwrap_or(&[]), env.as_deref())
            .map_err(|e| spawn_error(&path, SpawnError::Exec(e)))?;
        // The poller runs before anything does: if it cannot be started,
        // nothing has run yet.
        let poller = poller().map_err(|e| {
            CommandError(format!(
                "Guest agent command failed, error was 'Failed to start a helper thread ({})'",
                errno_text(&e)
            ))
        })?;

        let setup = |e: io::Error| spawn_error(&path, SpawnError::Fork(e));
        let null = if input_data.is_none() || !capture.stdout || !capture.stderr {
            Some(dev_null().map_err(setup)?)
        } else {
            None
        };
        let stdin = match input_data {
            Some(_) => Some(pipe(End::Write).map_err(setup)?),
            None => None,
        };
        let stdout = match capture.stdout {
            true => Some(pipe(End::Read).map_err(setup)?),
            false => None,
        };
        // Merged, the standard error is the standard output's pipe.
        let stderr = match capture.stderr && !capture.merged {
            true => Some(pipe(End::Read).map_err(setup)?),
            false => None,
        };
        let child_fd = |end: Option<&OwnedFd>| -> RawFd {
            match end {
                Some(fd) => fd.as_raw_fd(),
                None => null.map_or(-1, |fd| fd.as_raw_fd()),
            }
        };
        let stderr_end = match capture.merged {
            true => stdout.as_ref(),
            false => stderr.as_ref(),
        };
        let fds = [
            child_fd(stdin.as_ref().map(|(read, _)| read)),
            child_fd(stdout.as_ref().map(|(_, write)| write)),
            child_fd(stderr_end.map(|(_, write)| write)),
        ];
        let pid = plan.spawn(fds).map_err(|e| spawn_error(&path, e))?;
        // The child has its ends; the agent keeps only its own.
        let stdin = stdin.map(|(_, write)| write);
        let stdout = stdout.map(|(read, _)| read);
        let stderr = stderr.map(|(read, _)| read);

        // A pidfd for the poller to wait on; without one (kernels before 5.3)
        // the poller looks now and then. The child is not reaped yet, so its
        // pid cannot have been reused.
        let pidfd = Pid::from_raw(pid)
            .filter(|_| use_pidfd)
            .and_then(|p| pidfd_open(p, PidfdFlags::empty()).ok());
        let process = Arc::new(Process {
            state: Mutex::new(State {
                capture,
                live: Live {
                    pid,
                    pidfd: pidfd.map(Watched::new),
                    stdin: stdin.zip(input_data).map(|(fd, data)| Feed {
                        fd: Watched::new(fd),
                        data,
                        written: 0,
                    }),
                    stdout: stdout.map(Reader::new),
                    stderr: stderr.map(Reader::new),
                },
                ..State::default()
            }),
        });
        {
            let mut state = process.lock();
            // As much input as the pipe takes now (empty input closed at
            // once): small inputs need no poller.
            state.feed();
            poller.watch(&process, &mut state);
        }
        self.processes
            .entry(i64::from(pid))
            .or_default()
            .push_back(process);
        Ok(GuestExec {
            pid: i64::from(pid),
        })
    }

    /// guest-exec-status: report on the oldest process known by `pid`; once it
    /// is reported ended, forget it.
    pub fn status(&mut self, pid: i64) -> Result<GuestExecStatus> {
        let invalid = || CommandError("Invalid parameter 'pid'".into());
        let queue = self.processes.get_mut(&pid).ok_or_else(invalid)?;
        let process = queue.front().cloned().ok_or_else(invalid)?;
        let mut state = process.lock();
        // What has happened since the poller last looked.
        state.advance();
        let mut status = GuestExecStatus {
            exited: false,
            exitcode: None,
            signal: None,
            out_data: None,
            err_data: None,
            out_truncated: None,
            err_truncated: None,
        };
        if !state.finished() {
            return Ok(status);
        }
        status.exited = true;
        if let Some(exit) = state.exit {
            status.exitcode = exit.code().map(i64::from);
            status.signal = exit.signal().map(i64::from);
        }
        if let Some(out) = state.out.take().filter(|c| !c.data.is_empty()) {
            status.out_truncated = Some(out.truncated);
            status.out_data = Some(out.data);
        }
        if let Some(err) = state.err.take().filter(|c| !c.data.is_empty()) {
            status.err_truncated = Some(err.truncated);
            status.err_data = Some(err.data);
        }
        drop(state);
        queue.pop_front();
        if queue.is_empty() {
            self.processes.remove(&pid);
        }
        Ok(status)
    }
}

/// Which streams guest-exec collects, from its `capture-output`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Capture {
    stdout: bool,
    stderr: bool,
    /// Both through the standard output's pipe.
    merged: bool,
}

impl Capture {
    fn of(option: Option<GuestExecCaptureOutput>) -> Capture {
        use GuestExecCaptureOutputMode as Mode;
        let mode = match option {
            None | Some(GuestExecCaptureOutput::Flag(false)) => Mode::None,
            Some(GuestExecCaptureOutput::Flag(true)) => Mode::Separated,
            Some(GuestExecCaptureOutput::Mode(mode)) => mode,
        };
        let (stdout, stderr, merged) = match mode {
            Mode::None => (false, false, false),
            Mode::Stdout => (true, false, false),
            Mode::Stderr => (false, true, false),
            Mode::Separated => (true, true, false),
            Mode::Merged => (true, true, true),
        };
        Capture {
            stdout,
            stderr,
            merged,
        }
    }
}

/// One process, shared by the table and the poller.
struct Process {
    state: Mutex<State>,
}

impl Process {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change to the state is complete before anything can panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
struct State {
    capture: Capture,
    /// The process was reaped (or could not be: something else reaped it).
    reaped: bool,
    exit: Option<ExitStatus>,
    /// Each captured stream, once it has ended.
    out: Option<Captured>,
    err: Option<Captured>,
    /// What is still going on.
    live: Live,
    /// The poller serving the process and its token there, until the process
    /// has nothing left for the poller to wait for.
    watch: Option<(&'static Poller, u64)>,
}

/// The process while it runs, and its pipes while they are open.
#[derive(Default)]
struct Live {
    pid: libc::pid_t,
    pidfd: Option<Watched>,
    stdin: Option<Feed>,
    stdout: Option<Reader>,
    stderr: Option<Reader>,
}

impl State {
    /// Ended as guest-exec-status reports it.
    fn finished(&self) -> bool {
        self.reaped && self.pipes_ended()
    }

    /// Whether every captured stream has ended (a merged standard error ends
    /// with the standard output's pipe).
    fn pipes_ended(&self) -> bool {
        let err_done = !self.capture.stderr || self.capture.merged || self.err.is_some();
        (!self.capture.stdout || self.out.is_some()) && err_done
    }

    /// Does what can be done without blocking: reaps the process if it has
    /// exited, then writes its input and reads its output as far as the pipes
    /// allow (after the reaping, so that one call sees both the exit and the
    /// end of the output of a program that has ended). Once nothing is left
    /// to wait for, the poller forgets the process.
    fn advance(&mut self) {
        self.reap();
        self.feed();
        if let Some(reader) = &mut self.live.stdout {
            if reader.pull() {
                self.out = self.live.stdout.take().map(Reader::finish);
            }
        }
        if let Some(reader) = &mut self.live.stderr {
            if reader.pull() {
                self.err = self.live.stderr.take().map(Reader::finish);
            }
        }
        // An exiting process closes its pipes just before it can be reaped:
        // a call that found it running and then both pipes ended looks again,
        // so that it does not report a process that has gone as running.
        if (self.capture.stdout || self.capture.stderr) && self.pipes_ended() {
            self.reap();
        }
        if !self.is_live() {
            if let Some((poller, token)) = self.watch.take() {
                poller.forget(token);
            }
        }
    }

    /// Reaps the process if it has exited.
    fn reap(&mut self) {
        if !self.reaped {
            if let Some(exit) = try_reap(self.live.pid) {
                self.reaped = true;
                self.exit = exit;
                self.live.pidfd = None;
            }
        }
    }

    /// Writes what input the pipe takes; closes it once all is written.
    fn feed(&mut self) {
        if let Some(feed) = &mut self.live.stdin {
            if feed.push() {
                self.live.stdin = None;
            }
        }
    }

    /// Whether the poller still has something to wait for.
    fn is_live(&self) -> bool {
        !self.reaped
            || self.live.stdin.is_some()
            || self.live.stdout.is_some()
            || self.live.stderr.is_some()
    }
}

/// `waitpid(pid, WNOHANG)`: None while the process runs, Some(exit) once it
/// is reaped (Some(None) when it cannot be: something else reaped it).
fn try_reap(pid: libc::pid_t) -> Option<Option<ExitStatus>> {
    if pid <= 0 {
        return Some(None);
    }
    loop {
        let mut status = 0;
        // SAFETY: waitpid on a child of ours that has not been reaped (the
        // caller reaps each pid once), writing into a local.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return Some(Some(ExitStatus::from_raw(status)));
        }
        if r == 0 {
            return None;
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            // ECHILD. The process is gone for guest-exec-status, with
            // neither exitcode nor signal.
            return Some(None);
        }
    }
}

/// `input-data` on its way to the program's standard input.
struct Feed {
    fd: Watched,
    data: Vec<u8>,
    written: usize,
}

impl Feed {
    /// Writes what the pipe takes; true once all is written or the program
    /// closed its end (EPIPE: SIGPIPE is ignored by the agent) or another
    /// error ends the write. The pipe is closed when the feed is dropped.
    fn push(&mut self) -> bool {
        while self.written < self.data.len() {
            match rustix::io::write(&self.fd, &self.data[self.written..]) {
                Ok(n) => self.written += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => return false,
                Err(_) => return true,
            }
        }
        true
    }
}

/// A captured stream being read.
struct Reader {
    fd: Watched,
    captured: Captured,
}

struct Captured {
    data: Vec<u8>,
    truncated: bool,
}

impl Reader {
    fn new(fd: OwnedFd) -> Reader {
        Reader {
            fd: Watched::new(fd),
            captured: Captured {
                data: Vec::new(),
                truncated: false,
            },
        }
    }

    /// Reads what the pipe has, keeping the first [`OUTPUT_LIMIT`] bytes;
    /// true at the end of the stream (or at an error, which ends it as in
    /// qemu-ga).
    fn pull(&mut self) -> bool {
        let data = &mut self.captured.data;
        let mut scratch: Vec<u8> = Vec::new();
        loop {
            let room = OUTPUT_LIMIT - data.len();
            let (buf, len) = if room > 0 {
                if data.len() == data.capacity() {
                    data.reserve_exact(data.len().max(FIRST_READ).min(room));
                }
                let spare = data.spare_capacity_mut();
                let len = spare.len().min(room);
                (spare.as_mut_ptr().cast::<libc::c_void>(), len)
            } else {
                // Past the limit: read and drop.
                if scratch.is_empty() {
                    scratch = vec![0u8; 64 * 1024];
                }
                (scratch.as_mut_ptr().cast::<libc::c_void>(), scratch.len())
            };
            // SAFETY: `buf` is valid for `len` bytes (spare capacity of the
            // data, or the scratch buffer).
            let r = unsafe { libc::read(self.fd.fd.as_raw_fd(), buf, len) };
            match r {
                0 => return true,
                n if n > 0 => {
                    if room > 0 {
                        // SAFETY: the read initialised n more bytes, within
                        // the capacity.
                        unsafe { data.set_len(data.len() + n as usize) };
                    } else {
                        self.captured.truncated = true;
                    }
                }
                _ => match io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(libc::EAGAIN) => return false,
                    _ => return true,
                },
            }
        }
    }

    fn finish(self) -> Captured {
        let mut captured = self.captured;
        if captured.data.capacity() - captured.data.len() > 64 * 1024 {
            captured.data.shrink_to_fit();
        }
        captured
    }
}

/// The end of a pipe the agent keeps.
enum End {
    Read,
    Write,
}

/// A pipe, (read, write), both ends close-on-exec, the agent's end
/// non-blocking. The child's end becomes its standard stream by dup2, which
/// clears close-on-exec on the copy.
fn pipe(agent: End) -> io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = pipe_with(PipeFlags::CLOEXEC)?;
    // A new pipe has no other status flag to keep.
    match agent {
        End::Read => fcntl_setfl(&read, OFlags::NONBLOCK)?,
        End::Write => fcntl_setfl(&write, OFlags::NONBLOCK)?,
    }
    Ok((read, write))
}

/// /dev/null, read-write, opened once for the agent's life: every program
/// started without input or without capture gets it (it has no state that
/// one program could change for another).
fn dev_null() -> io::Result<BorrowedFd<'static>> {
    static DEV_NULL: OnceLock<OwnedFd> = OnceLock::new();
    if let Some(fd) = DEV_NULL.get() {
        return Ok(fd.as_fd());
    }
    let fd = rustix::fs::open(
        c"/dev/null",
        OFlags::RDWR | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    // Two threads opening it at once keep the first; the other is closed.
    Ok(DEV_NULL.get_or_init(|| fd).as_fd())
}

/// Why a program did not start.
enum SpawnError {
    /// No attempt could exec it (tagged with the errno to report).
    Exec(io::Error),
    /// No process could be created, or its set-up failed.
    Fork(io::Error),
}

fn spawn_error(path: &str, err: SpawnError) -> CommandError {
    let message = match err {
        SpawnError::Exec(e) if e.raw_os_error().is_none() => {
            // A string with a NUL byte, refused before anything ran.
            format!(
                "Failed to execute child process “{path}” ({})",
                errno_text(&io::Error::from_raw_os_error(libc::EINVAL))
            )
        }
        SpawnError::Exec(e) => {
            format!(
                "Failed to execute child process “{path}” ({})",
                errno_text(&e)
            )
        }
        SpawnError::Fork(e) => format!("Failed to fork ({})", errno_text(&e)),
    };
    CommandError(format!("Guest agent command failed, error was '{message}'"))
}

extern "C" {
    /// The agent's environment, for a program started without `env`.
    static environ: *const *mut c_char;
}

/// Everything `posix_spawn` needs to run the program.
struct ExecPlan {
    /// Owns the strings the pointers below point into (their heap buffers do
    /// not move when the CStrings do).
    _strings: Vec<CString>,
    /// The files to try, in order.
    candidates: Vec<*const c_char>,
    /// argv, NULL-terminated.
    argv: Vec<*mut c_char>,
    /// The environment, NULL-terminated; None keeps the agent's.
    envp: Option<Vec<*mut c_char>>,
    /// ["/bin/sh", (the candidate), argv[1..], NULL], for ENOEXEC.
    script_argv: Vec<*mut c_char>,
}

impl ExecPlan {
    fn new(path: &str, args: &[String], env: Option<&[String]>) -> io::Result<ExecPlan> {
        fn cstring(bytes: &[u8]) -> io::Result<CString> {
            CString::new(bytes).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
        }
        let mut strings = Vec::new();
        let mut argv_strings = vec![cstring(path.as_bytes())?];
        for a in args {
            argv_strings.push(cstring(a.as_bytes())?);
        }
        let env_strings: Option<Vec<CString>> = env
            .map(|env| env.iter().map(|e| cstring(e.as_bytes())).collect())
            .transpose()?;
        let candidate_strings: Vec<CString> = candidates(path, env)
            .into_iter()
            .map(|c| cstring(&c))
            .collect::<io::Result<_>>()?;

        // posix_spawn takes `char *const []`; nothing writes through these.
        let ptrs = |v: &[CString]| -> Vec<*mut c_char> {
            v.iter()
                .map(|s| s.as_ptr().cast_mut())
                .chain(std::iter::once(std::ptr::null_mut()))
                .collect()
        };
        let argv = ptrs(&argv_strings);
        let envp = env_strings.as_deref().map(ptrs);
        let candidates: Vec<*const c_char> = candidate_strings.iter().map(|c| c.as_ptr()).collect();
        let mut script_argv = vec![SHELL.as_ptr().cast_mut(), std::ptr::null_mut()];
        script_argv.extend_from_slice(&argv[1..]); // argv[1..] and the NULL

        strings.extend(argv_strings);
        strings.extend(env_strings.unwrap_or_default());
        strings.extend(candidate_strings);
        Ok(ExecPlan {
            _strings: strings,
            candidates,
            argv,
            envp,
            script_argv,
        })
    }

    /// Starts the program with `fds` as its standard input, output and error:
    /// each candidate in turn, as g_spawn does; a file the kernel cannot run
    /// is run by /bin/sh. A candidate that stat() cannot find is skipped
    /// with stat's errno, which is the one execve() would give for it
    /// (ENOENT, ENOTDIR, EACCES on a directory of its path...).
    fn spawn(mut self, fds: [RawFd; 3]) -> std::result::Result<libc::pid_t, SpawnError> {
        let actions = FileActions::new(fds).map_err(SpawnError::Fork)?;
        let attributes = Attributes::new().map_err(SpawnError::Fork)?;
        let envp = match &self.envp {
            Some(envp) => envp.as_ptr(),
            // SAFETY: reading the pointer; the agent never changes its
            // environment while it runs.
            None => unsafe { environ },
        };
        let attempt = |file: *const c_char, argv: *const *mut c_char| {
            let mut pid: libc::pid_t = 0;
            // SAFETY: NUL-terminated strings and NULL-terminated arrays owned
            // by the plan (or the agent's environment), and initialised
            // actions and attributes.
            let r =
                unsafe { libc::posix_spawn(&mut pid, file, &actions.0, &attributes.0, argv, envp) };
            if r == 0 {
                Ok(pid)
            } else {
                Err(r)
            }
        };
        let mut got_eacces = false;
        let mut errno = libc::ENOENT; // an empty path: nothing to try
        for file in std::mem::take(&mut self.candidates) {
            // A file that is not there fails here as its exec would, without
            // starting a process for each directory of a long search path.
            // SAFETY: `file` points into a CString the plan owns.
            let name = unsafe { CStr::from_ptr(file) };
            let mut result = match rustix::fs::stat(name) {
                Ok(_) => attempt(file, self.argv.as_ptr()),
                Err(e) => Err(e.raw_os_error()),
            };
            if result == Err(libc::ENOEXEC) {
                self.script_argv[1] = file.cast_mut();
                result = attempt(SHELL.as_ptr(), self.script_argv.as_ptr());
            }
            match result {
                Ok(pid) => return Ok(pid),
                // No process: clone() failed, nothing was tried.
                Err(libc::EAGAIN) => {
                    return Err(SpawnError::Fork(io::Error::from_raw_os_error(libc::EAGAIN)))
                }
                Err(libc::EACCES) => got_eacces = true,
                Err(
                    libc::ENOENT | libc::ESTALE | libc::ENOTDIR | libc::ENODEV | libc::ETIMEDOUT,
                ) => {}
                Err(e) => return Err(SpawnError::Exec(io::Error::from_raw_os_error(e))),
            }
            errno = result.err().unwrap_or(errno);
        }
        if got_eacces {
            errno = libc::EACCES;
        }
        Err(SpawnError::Exec(io::Error::from_raw_os_error(errno)))
    }
}

/// The child's standard streams, and nothing else of the agent's.
struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new(fds: [RawFd; 3]) -> io::Result<FileActions> {
        // SAFETY: an all-zero value is only storage for init to fill.
        let mut actions = FileActions(unsafe { std::mem::zeroed() });
        // SAFETY: init on the storage above; Drop destroys it.
        check(unsafe { libc::posix_spawn_file_actions_init(&mut actions.0) })?;
        for (target, fd) in fds.into_iter().enumerate() {
            // SAFETY: an initialised object and descriptor numbers. dup2 onto
            // the same number clears close-on-exec too (glibc sees to it).
            check(unsafe {
                libc::posix_spawn_file_actions_adddup2(&mut actions.0, fd, target as libc::c_int)
            })?;
        }
        #[cfg(target_env = "gnu")]
        {
            // glibc 2.34: the child closes every descriptor from 3 up, so
            // even one some code opened without O_CLOEXEC stays in the agent.
            // SAFETY: an initialised object.
            check(unsafe { libc::posix_spawn_file_actions_addclosefrom_np(&mut actions.0, 3) })?;
        }
        Ok(actions)
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised in new().
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

/// The child's signals: SIGPIPE back to its default (the agent, as any Rust
/// program, ignores it, and an ignored signal survives exec), none blocked.
struct Attributes(libc::posix_spawnattr_t);

impl Attributes {
    fn new() -> io::Result<Attributes> {
        // SAFETY: an all-zero value is only storage for init to fill.
        let mut attributes = Attributes(unsafe { std::mem::zeroed() });
        // SAFETY (whole block): init on the storage above (Drop destroys it),
        // then setters on it with initialised signal sets.
        unsafe {
            check(libc::posix_spawnattr_init(&mut attributes.0))?;
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            check(libc::posix_spawnattr_setsigmask(&mut attributes.0, &set))?;
            libc::sigaddset(&mut set, libc::SIGPIPE);
            check(libc::posix_spawnattr_setsigdefault(&mut attributes.0, &set))?;
            let flags = libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
            check(libc::posix_spawnattr_setflags(
                &mut attributes.0,
                flags as libc::c_short,
            ))?;
        }
        Ok(attributes)
    }
}

impl Drop for Attributes {
    fn drop(&mut self) {
        // SAFETY: initialised in new().
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

fn check(r: libc::c_int) -> io::Result<()> {
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(r))
    }
}

/// The files glib's g_spawn tries for `path`: the path itself when it has a
/// '/', else `path` in each directory of the search path (an empty entry is the
/// current directory).
fn candidates(path: &str, env: Option<&[String]>) -> Vec<Vec<u8>> {
    if path.is_empty() {
        return Vec::new();
    }
    if path.contains('/') {
        return vec![path.as_bytes().to_vec()];
    }
    let from_env = env.and_then(|env| {
        env.iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .map(|p| OsString::from(p).into_vec())
    });
    let search = from_env
        .or_else(|| std::env::var_os("PATH").map(OsString::into_vec))
        .unwrap_or_else(|| DEFAULT_SEARCH_PATH.to_vec());
    search
        .split(|&b| b == b':')
        .map(|dir| {
            if dir.is_empty() {
                path.as_bytes().to_vec()
            } else {
                let mut file = dir.to_vec();
                file.push(b'/');
                file.extend_from_slice(path.as_bytes());
                file
            }
        })
        .collect()
}

/// A descriptor the poller waits on, taken out of its epoll set when dropped
/// (epoll would keep it while any copy of it is open: a `vfork` child of the
/// agent holds copies until its exec).
struct Watched {
    fd: OwnedFd,
    poller: Option<&'static Poller>,
}

impl Watched {
    fn new(fd: OwnedFd) -> Watched {
        Watched { fd, poller: None }
    }
}

impl AsFd for Watched {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(poller) = self.poller {
            // It cannot fail for a descriptor that was added.
            let _ = epoll::delete(&poller.epoll, &self.fd);
        }
    }
}

/// The poller: one thread for every process of every table.
struct Poller {
    /// Every descriptor of every process the poller serves, each tagged with
    /// its process's token; and the wake-up eventfd, tagged [`WAKE`].
    epoll: OwnedFd,
    /// Written to when a process the poller must look at now and then is
    /// added, so that the poller starts its timer.
    wake: OwnedFd,
    watched: Mutex<Watchlist>,
}

/// The processes the poller serves, by token.
#[derive(Default)]
struct Watchlist {
    next: u64,
    processes: HashMap<u64, Watch>,
    /// How many of them are [`Watch::timed`].
    timed: usize,
}

struct Watch {
    process: Arc<Process>,
    /// Looked at every [`REAP_INTERVAL`]: no pidfd, or epoll refused one of
    /// its descriptors.
    timed: bool,
}

impl Poller {
    fn list(&self) -> MutexGuard<'_, Watchlist> {
        self.watched.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts serving `process`, whose state the caller holds locked. Its
    /// descriptors go into the epoll set from this thread: the poller is not
    /// woken for a new process (only for one it must look at on a timer).
    fn watch(&'static self, process: &Arc<Process>, state: &mut State) {
        let mut list = self.list();
        let token = list.next;
        list.next += 1;
        let mut timed = state.live.pidfd.is_none() && !state.reaped;
        let data = epoll::EventData::new_u64(token);
        let mut add = |watched: &mut Watched, flags: epoll::EventFlags| match epoll::add(
            &self.epoll,
            &watched.fd,
            data,
            flags,
        ) {
            Ok(()) => watched.poller = Some(self),
            Err(_) => timed = true,
        };
        let live = &mut state.live;
        if let Some(pidfd) = &mut live.pidfd {
            add(pidfd, epoll::EventFlags::IN);
        }
        if let Some(feed) = &mut live.stdin {
            add(&mut feed.fd, epoll::EventFlags::OUT);
        }
        if let Some(reader) = &mut live.stdout {
            add(&mut reader.fd, epoll::EventFlags::IN);
        }
        if let Some(reader) = &mut live.stderr {
            add(&mut reader.fd, epoll::EventFlags::IN);
        }
        list.processes.insert(
            token,
            Watch {
                process: Arc::clone(process),
                timed,
            },
        );
        state.watch = Some((self, token));
        if timed {
            list.timed += 1;
            drop(list);
            // A full counter (never, in practice) still wakes the poller.
            let _ = rustix::io::write(&self.wake, &1u64.to_ne_bytes());
        }
    }

    /// Stops serving the process of `token` (its descriptors are closed, or
    /// about to be).
    fn forget(&self, token: u64) {
        let mut list = self.list();
        if let Some(watch) = list.processes.remove(&token) {
            if watch.timed {
                list.timed -= 1;
            }
        }
    }

    fn process(&self, token: u64) -> Option<Arc<Process>> {
        self.list()
            .processes
            .get(&token)
            .map(|watch| Arc::clone(&watch.process))
    }

    fn run(&self) {
        let mut events: Vec<epoll::Event> = Vec::with_capacity(EVENTS);
        let mut swept = Instant::now();
        let interval = Timespec {
            tv_sec: 0,
            tv_nsec: REAP_INTERVAL.as_nanos() as _,
        };
        loop {
            let timed = self.list().timed > 0;
            events.clear();
            match epoll::wait(
                &self.epoll,
                spare_capacity(&mut events),
                timed.then_some(&interval),
            ) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                // Not expected with a valid epoll and buffer; never spin.
                Err(_) => thread::sleep(REAP_INTERVAL),
            }
            let mut last = WAKE;
            for event in &events {
                // A copy: the event is a packed struct.
                let data = event.data;
                let token = data.u64();
                if token == WAKE {
                    let mut count = [0u8; 8];
                    let _ = rustix::io::read(&self.wake, &mut count);
                } else if token != last {
                    // An unknown token: the process was reported ended
                    // since the event came.
                    if let Some(process) = self.process(token) {
                        process.lock().advance();
                    }
                    last = token;
                }
            }
            if timed && swept.elapsed() >= REAP_INTERVAL {
                swept = Instant::now();
                let due: Vec<Arc<Process>> = self
                    .list()
                    .processes
                    .values()
                    .filter(|watch| watch.timed)
                    .map(|watch| Arc::clone(&watch.process))
                    .collect();
                for process in due {
                    process.lock().advance();
                }
            }
        }
    }
}

/// The poller, started on first use; it lives as long as the agent.
fn poller() -> io::Result<&'static Poller> {
    static POLLER: OnceLock<Poller> = OnceLock::new();
    // Whether its thread runs; held while it is started, so only one is.
    static RUNNING: Mutex<bool> = Mutex::new(false);
    let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    let poller = match POLLER.get() {
        Some(poller) => poller,
        None => {
            let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
            let wake = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
            epoll::add(
                &epoll,
                &wake,
                epoll::EventData::new_u64(WAKE),
                epoll::EventFlags::IN,
            )?;
            POLLER.get_or_init(|| Poller {
                epoll,
                wake,
                watched: Mutex::new(Watchlist::default()),
            })
        }
    };
    if !*running {
        // A thread that could not be started is tried again next time.
        thread::Builder::new()
            .name("qga-exec".into())
            .stack_size(POLLER_STACK)
            .spawn(move || poller.run())?;
        *running = true;
    }
    Ok(poller)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, Instant};

    fn args(path: &str, arg: &[&str]) -> GuestExecArguments {
        GuestExecArguments {
            path: path.into(),
            arg: Some(arg.iter().map(|s| s.to_string()).collect()),
            env: None,
            input_data: None,
            capture_output: Some(GuestExecCaptureOutput::Flag(true)),
        }
    }

    /// Poll guest-exec-status until the process is reported ended.
    fn wait(t: &mut ExecTable, pid: i64) -> GuestExecStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = t.status(pid).unwrap();
            if s.exited {
                return s;
            }
            assert_eq!(s, running(), "a running process reports nothing else");
            assert!(Instant::now() < deadline, "pid {pid} did not end");
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn run(a: GuestExecArguments) -> GuestExecStatus {
        let mut t = ExecTable::new();
        let pid = t.exec(a).unwrap().pid;
        let s = wait(&mut t, pid);
        assert!(t.is_empty());
        s
    }

    fn running() -> GuestExecStatus {
        GuestExecStatus {
            exited: false,
            exitcode: None,
            signal: None,
            out_data: None,
            err_data: None,
            out_truncated: None,
            err_truncated: None,
        }
    }

    fn exited(code: i64) -> GuestExecStatus {
        GuestExecStatus {
            exited: true,
            exitcode: Some(code),
            ..running()
        }
    }

    fn with_out(mut s: GuestExecStatus, out: &[u8]) -> GuestExecStatus {
        s.out_data = Some(out.to_vec());
        s.out_truncated = Some(false);
        s
    }

    fn with_err(mut s: GuestExecStatus, err: &[u8]) -> GuestExecStatus {
        s.err_data = Some(err.to_vec());
        s.err_truncated = Some(false);
        s
    }

    fn exec_err(a: GuestExecArguments) -> String {
        ExecTable::new().exec(a).unwrap_err().0
    }

    fn failed(path: &str, why: &str) -> String {
        format!(
            "Guest agent command failed, error was 'Failed to execute child process “{path}” ({why})'"
        )
    }

    #[test]
    fn echo_through_path_lookup() {
        assert_eq!(run(args("echo", &["hi"])), with_out(exited(0), b"hi\n"));
    }

    #[test]
    fn argv0_is_the_path_as_given() {
        assert_eq!(
            run(args("sh", &["-c", "echo $0"])),
            with_out(exited(0), b"sh\n")
        );
    }

    #[test]
    fn exit_codes_and_signals() {
        assert_eq!(run(args("sh", &["-c", "exit 3"])), exited(3));
        let mut a = args("sh", &["-c", "exit 3"]);
        a.capture_output = None;
        assert_eq!(run(a), exited(3), "capture-output absent means false");
        assert_eq!(run(args("sh", &["-c", "exit 300"])), exited(300 % 256));
        let killed = run(args("sh", &["-c", "kill -9 $$"]));
        assert_eq!(
            killed,
            GuestExecStatus {
                exited: true,
                signal: Some(9),
                ..running()
            }
        );
    }

    #[test]
    fn output_fields_only_for_streams_with_bytes() {
        assert_eq!(
            run(args("sh", &["-c", "echo err >&2"])),
            with_err(exited(0), b"err\n")
        );
        assert_eq!(
            run(args("sh", &["-c", "printf o; printf e >&2; exit 1"])),
            with_err(with_out(exited(1), b"o"), b"e")
        );
        assert_eq!(run(args("true", &[])), exited(0));
        let mut a = args("echo", &["not captured"]);
        a.capture_output = Some(GuestExecCaptureOutput::Flag(false));
        assert_eq!(run(a), exited(0));
    }

    #[test]
    fn capture_modes() {
        use GuestExecCaptureOutputMode as Mode;
        let both = "printf o1; printf e1 >&2; printf o2; printf e2 >&2; exit 2";
        let with = |mode| {
            let mut a = args("sh", &["-c", both]);
            a.capture_output = Some(GuestExecCaptureOutput::Mode(mode));
            run(a)
        };
        assert_eq!(with(Mode::None), exited(2));
        assert_eq!(with(Mode::Stdout), with_out(exited(2), b"o1o2"));
        assert_eq!(with(Mode::Stderr), with_err(exited(2), b"e1e2"));
        assert_eq!(
            with(Mode::Separated),
            with_err(with_out(exited(2), b"o1o2"), b"e1e2")
        );
        // One pipe, in the order written; no err-data.
        assert_eq!(with(Mode::Merged), with_out(exited(2), b"o1e1o2e2"));
        // The flag's two values are two of the modes.
        assert_eq!(run(args("sh", &["-c", both])), with(Mode::Separated));
    }

    #[test]
    fn a_stream_not_captured_goes_to_dev_null() {
        use GuestExecCaptureOutputMode as Mode;
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("fds");
        // The shell's standard output and error, written to a file.
        let fds = |mode| {
            let mut a = args(
                "sh",
                &[
                    "-c",
                    "x=$(readlink /proc/$$/fd/1 /proc/$$/fd/2); echo \"$x\" > \"$0\"",
                    report.to_str().unwrap(),
                ],
            );
            a.capture_output = Some(GuestExecCaptureOutput::Mode(mode));
            assert_eq!(run(a), exited(0));
            let text = fs::read_to_string(&report).unwrap();
            let kinds: Vec<String> = text
                .lines()
                .map(|l| l.split(':').next().unwrap().to_owned())
                .collect();
            let pipes: Vec<&str> = text.lines().filter(|l| l.starts_with("pipe:")).collect();
            (kinds, pipes.len() == 2 && pipes[0] == pipes[1])
        };
        let null = "/dev/null".to_owned();
        let pipe = "pipe".to_owned();
        assert_eq!(fds(Mode::None).0, [null.clone(), null.clone()]);
        assert_eq!(fds(Mode::Stdout).0, [pipe.clone(), null.clone()]);
        assert_eq!(fds(Mode::Stderr).0, [null.clone(), pipe.clone()]);
        assert_eq!(
            fds(Mode::Separated),
            (vec![pipe.clone(), pipe.clone()], false)
        );
        assert_eq!(
            fds(Mode::Merged),
            (vec![pipe.clone(), pipe], true),
            "one pipe"
        );
    }

    #[test]
    fn status_is_forgotten_once_reported() {
        let mut t = ExecTable::new();
        let pid = t.exec(args("true", &[])).unwrap().pid;
        assert!(wait(&mut t, pid).exited);
        assert_eq!(t.status(pid).unwrap_err().0, "Invalid parameter 'pid'");
        assert_eq!(t.status(-1).unwrap_err().0, "Invalid parameter 'pid'");
        assert_eq!(t.status(i64::MAX).unwrap_err().0, "Invalid parameter 'pid'");
    }

    #[test]
    fn running_processes_report_exited_false_at_once() {
        let mut t = ExecTable::new();
        let start = Instant::now();
        let pid = t.exec(args("sleep", &["0.5"])).unwrap().pid;
        assert_eq!(t.status(pid).unwrap(), running());
        assert!(
            start.elapsed() < Duration::from_millis(400),
            "exec and status do not wait"
        );
        assert_eq!(wait(&mut t, pid), exited(0));
    }

    /// Blocks until `pid`, a child of this process, has exited, without
    /// reaping it (the poller may have reaped it already).
    fn wait_for_exit(pid: i64) {
        // SAFETY: waitid on one pid, writing into a zeroed local.
        let r = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        let e = io::Error::last_os_error().raw_os_error();
        assert!(r == 0 || e == Some(libc::ECHILD), "waitid: {e:?}");
    }

    #[test]
    fn the_first_status_after_the_exit_says_exited() {
        let mut t = ExecTable::new();
        for round in 0..50 {
            let pid = t.exec(args("sh", &["-c", "echo done"])).unwrap().pid;
            wait_for_exit(pid);
            assert_eq!(
                t.status(pid).unwrap(),
                with_out(exited(0), b"done\n"),
                "round {round}"
            );
        }
        assert!(t.is_empty());
    }

    #[test]
    fn output_closed_before_the_exit_is_not_the_exit() {
        let mut t = ExecTable::new();
        let pid = t
            .exec(args("sh", &["-c", "exec >&- 2>&-; exec sleep 60"]))
            .unwrap()
            .pid;
        let process = Arc::clone(t.processes[&pid].front().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            // Both pipes seen ended, by the poller or by this status.
            assert_eq!(t.status(pid).unwrap(), running());
            let state = process.lock();
            if state.out.is_some() && state.err.is_some() {
                break;
            }
            drop(state);
            assert!(Instant::now() < deadline, "the pipes never ended");
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(t.status(pid).unwrap(), running(), "it still runs");
        drop(process);
        // SAFETY: signalling our own child, not yet reaped (it runs).
        assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
        let killed = wait(&mut t, pid);
        assert_eq!((killed.exited, killed.signal), (true, Some(9)));
    }

    #[test]
    fn output_held_by_a_background_child_is_waited_for() {
        let s = run(args("sh", &["-c", "(sleep 0.3; echo late) & echo started"]));
        assert_eq!(s, with_out(exited(0), b"started\nlate\n"));
    }

    #[test]
    fn input_data_goes_to_stdin() {
        let mut a = args("cat", &[]);
        a.input_data = Some(b"abc".to_vec());
        assert_eq!(run(a), with_out(exited(0), b"abc"));
        // More than a pipe holds, both ways at once.
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let mut a = args("cat", &[]);
        a.input_data = Some(big.clone());
        let s = run(a);
        assert_eq!(s.out_data.as_deref(), Some(&big[..]));
        // Empty input: a pipe closed at once.
        let mut a = args("sh", &["-c", "readlink /proc/self/fd/0 | cut -c1-5; cat"]);
        a.input_data = Some(Vec::new());
        assert_eq!(run(a), with_out(exited(0), b"pipe:\n"));
        // A program that never reads its input does not hang anything.
        let mut a = args("true", &[]);
        a.input_data = Some(vec![b'x'; 1 << 20]);
        assert_eq!(run(a), exited(0));
    }

    #[test]
    fn standard_streams_without_input_or_capture_are_dev_null() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("fds");
        let mut a = args(
            "sh",
            &[
                "-c",
                "x=$(readlink /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2); echo \"$x\" > \"$0\"",
                f.to_str().unwrap(),
            ],
        );
        a.capture_output = Some(GuestExecCaptureOutput::Flag(false));
        assert_eq!(run(a), exited(0));
        assert_eq!(fs::read(&f).unwrap(), b"/dev/null\n/dev/null\n/dev/null\n");
        let a = args("readlink", &["/proc/self/fd/0"]);
        assert_eq!(run(a), with_out(exited(0), b"/dev/null\n"));
    }

    #[test]
    fn env_replaces_the_environment_in_order() {
        let mut a = args("env", &[]);
        a.env = Some(vec!["B=2".into(), "A=1".into(), "B=3".into()]);
        assert_eq!(run(a), with_out(exited(0), b"B=2\nA=1\nB=3\n"));
        // Empty: an empty environment; the lookup falls back to the agent's PATH.
        let mut a = args("env", &[]);
        a.env = Some(Vec::new());
        assert_eq!(run(a), exited(0));
        // Without env the agent's environment is inherited.
        let path = std::env::var("PATH").unwrap();
        let s = run(args("sh", &["-c", "printf %s \"$PATH\""]));
        assert_eq!(s, with_out(exited(0), path.as_bytes()));
        // A PATH in env is where the program is looked up.
        let mut a = args("env", &[]);
        a.env = Some(vec!["PATH=/nonexistent".into()]);
        assert_eq!(exec_err(a), failed("env", "No such file or directory"));
    }

    #[test]
    fn programs_that_cannot_start() {
        assert_eq!(
            exec_err(args("nope", &[])),
            failed("nope", "No such file or directory")
        );
        assert_eq!(
            exec_err(args("/nonexistent/x", &[])),
            failed("/nonexistent/x", "No such file or directory")
        );
        assert_eq!(
            exec_err(args("", &[])),
            failed("", "No such file or directory")
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        assert_eq!(exec_err(args(d, &[])), failed(d, "Permission denied"));
        let plain = dir.path().join("plain");
        fs::write(&plain, b"data").unwrap();
        let p = plain.to_str().unwrap();
        assert_eq!(exec_err(args(p, &[])), failed(p, "Permission denied"));
        assert_eq!(
            exec_err(args("echo", &["a\0b"])),
            failed("echo", "Invalid argument")
        );
    }

    #[test]
    fn search_rules_of_g_spawn() {
        let dir = tempfile::tempdir().unwrap();
        let a_dir = dir.path().join("a");
        let b_dir = dir.path().join("b");
        fs::create_dir(&a_dir).unwrap();
        fs::create_dir(&b_dir).unwrap();
        // A script without "#!" is run by /bin/sh, by path and through PATH.
        let script = b_dir.join("noshebang");
        fs::write(&script, b"echo ran $0 \"$@\"\n").unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        let s = script.to_str().unwrap();
        assert_eq!(
            run(args(s, &["x"])),
            with_out(exited(0), format!("ran {s} x\n").as_bytes())
        );
        let search = format!("PATH={}:{}", a_dir.display(), b_dir.display());
        let mut a = args("noshebang", &["y"]);
        a.env = Some(vec![search.clone()]);
        assert_eq!(
            run(a),
            with_out(exited(0), format!("ran {s} y\n").as_bytes())
        );
        // A file found but not executable: EACCES, unless a later one runs.
        let blocked = a_dir.join("prog");
        fs::write(&blocked, b"#!/bin/sh\necho a\n").unwrap();
        let mut a = args("prog", &[]);
        a.env = Some(vec![search.clone()]);
        assert_eq!(exec_err(a), failed("prog", "Permission denied"));
        let good = b_dir.join("prog");
        fs::write(&good, b"#!/bin/sh\necho b\n").unwrap();
        fs::set_permissions(&good, fs::Permissions::from_mode(0o755)).unwrap();
        let mut a = args("prog", &[]);
        a.env = Some(vec![search]);
        assert_eq!(run(a), with_out(exited(0), b"b\n"));
    }

    #[test]
    fn candidates_follow_the_search_path() {
        let env = |p: &str| vec![format!("PATH={p}"), "X=1".to_string()];
        let c = |path: &str, e: &[String]| -> Vec<String> {
            candidates(path, Some(e))
                .into_iter()
                .map(|v| String::from_utf8(v).unwrap())
                .collect()
        };
        assert_eq!(c("ls", &env("/a:/b")), ["/a/ls", "/b/ls"]);
        assert_eq!(c("ls", &env(":/a:")), ["ls", "/a/ls", "ls"]);
        assert_eq!(c("./ls", &env("/a")), ["./ls"]);
        assert_eq!(c("/bin/ls", &env("/a")), ["/bin/ls"]);
        assert!(c("", &env("/a")).is_empty());
    }

    #[test]
    fn output_is_capped_at_16_mib() {
        let s = run(args("head", &["-c", "17000000", "/dev/zero"]));
        let out = s.out_data.unwrap();
        assert_eq!(out.len(), OUTPUT_LIMIT);
        assert!(out.iter().all(|&b| b == 0));
        assert_eq!(s.out_truncated, Some(true));
        assert_eq!((s.err_data, s.err_truncated), (None, None));
        // Exactly the limit is not truncated.
        let s = run(args("head", &["-c", "16777216", "/dev/zero"]));
        assert_eq!(s.out_data.map(|d| d.len()), Some(OUTPUT_LIMIT));
        assert_eq!(s.out_truncated, Some(false));
        // Each stream has its own cap.
        let s = run(args(
            "sh",
            &["-c", "head -c 17000000 /dev/zero >&2; echo out"],
        ));
        assert_eq!(s.err_data.map(|d| d.len()), Some(OUTPUT_LIMIT));
        assert_eq!(s.err_truncated, Some(true));
        assert_eq!(s.out_data.as_deref(), Some(&b"out\n"[..]));
        assert_eq!(s.out_truncated, Some(false));
    }

    #[test]
    fn no_agent_descriptor_reaches_the_program() {
        // A descriptor opened without O_CLOEXEC, as careless code might.
        // SAFETY: open() with a valid path; the descriptor is closed below.
        let leaky = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
        assert!(leaky >= 0);
        let s = run(args("ls", &["/proc/self/fd"]));
        // SAFETY: closing the descriptor opened above.
        unsafe { libc::close(leaky) };
        // 0, 1, 2 and the directory ls itself opened to list them.
        assert_eq!(s, with_out(exited(0), b"0\n1\n2\n3\n"));
    }

    #[test]
    fn sigpipe_is_back_to_default_in_the_program() {
        let s = run(args("grep", &["^SigIgn:", "/proc/self/status"]));
        let line = String::from_utf8(s.out_data.unwrap()).unwrap();
        let mask = u64::from_str_radix(line["SigIgn:".len()..].trim(), 16).unwrap();
        assert_eq!(mask & (1 << (libc::SIGPIPE - 1)), 0, "{line}");
    }

    #[test]
    fn a_reused_pid_queues_behind_the_unreported_one() {
        let ended = |code| {
            Arc::new(Process {
                state: Mutex::new(State {
                    reaped: true,
                    exit: Some(ExitStatus::from_raw(code << 8)),
                    ..State::default()
                }),
            })
        };
        let mut t = ExecTable::new();
        let q = t.processes.entry(77).or_default();
        q.push_back(ended(1));
        q.push_back(ended(2));
        assert_eq!(t.len(), 2);
        assert_eq!(t.status(77).unwrap(), exited(1));
        assert_eq!(t.status(77).unwrap(), exited(2));
        assert_eq!(t.status(77).unwrap_err().0, "Invalid parameter 'pid'");
        assert!(t.is_empty());
    }

    /// Whether `pid` is still a process (a zombie counts) of this one.
    fn exists(pid: i64) -> bool {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    }

    fn reaped_in_background(use_pidfd: bool) {
        let mut t = ExecTable::new();
        // Without a pidfd, as on a kernel before 5.3: the poller looks now
        // and then.
        let a = args("sh", &["-c", "echo bye; exit 4"]);
        let pid = t.start(a, use_pidfd).unwrap().pid;
        let process = Arc::clone(t.processes[&pid].front().unwrap());
        // No guest-exec-status call: the poller alone reaps it and reads its
        // output, so no zombie is left behind.
        let deadline = Instant::now() + Duration::from_secs(60);
        while exists(pid) || !process.lock().finished() {
            assert!(Instant::now() < deadline, "pid {pid} was not reaped");
            thread::sleep(Duration::from_millis(5));
        }
        drop(process);
        assert_eq!(t.status(pid).unwrap(), with_out(exited(4), b"bye\n"));
        assert!(t.is_empty());
    }

    #[test]
    fn ended_processes_are_reaped_without_a_status_call() {
        reaped_in_background(true);
    }

    #[test]
    fn ended_processes_are_reaped_without_pidfds() {
        reaped_in_background(false);
    }

    #[test]
    fn many_processes_at_once() {
        let mut t = ExecTable::new();
        let pids: Vec<i64> = (0..20)
            .map(|i| {
                t.exec(args("sh", &["-c", &format!("echo {i}; exit {i}")]))
                    .unwrap()
                    .pid
            })
            .collect();
        for (i, pid) in pids.into_iter().enumerate() {
            assert_eq!(
                wait(&mut t, pid),
                with_out(exited(i as i64), format!("{i}\n").as_bytes())
            );
        }
        assert!(t.is_empty());
    }
}
