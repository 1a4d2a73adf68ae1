//! Running programs: guest-exec and guest-exec-status.
//!
//! An [`ExecTable`] starts processes and keeps what the agent knows about each
//! until guest-exec-status has reported it ended. Every process gets helper
//! threads, so the agent keeps answering while it runs: one waits for it
//! (`Child::wait`, no SIGCHLD handler), one writes `input-data` to its standard
//! input, and with `capture-output` one reads each of its standard output and
//! standard error.
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
//!   there is none; standard output and error are pipes with `capture-output`,
//!   /dev/null without; SIGPIPE is reset to its default; no other descriptor of
//!   the agent reaches the program (all are marked close-on-exec in the child);
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
//!   'Failed to execute child process “PATH” (STRERROR)'`.
//!
//! Nothing here limits how many processes run or how long they are remembered:
//! qemu-ga has no such limit either.

use std::collections::{HashMap, VecDeque};
use std::ffi::{CStr, CString, OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::raw::c_char;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use qga_types::commands::GuestExecArguments;
use qga_types::{GuestExec, GuestExecStatus};

use crate::commands::error::io_error_text as errno_text;
use crate::commands::error::CommandError;

type Result<T> = std::result::Result<T, CommandError>;

/// The most bytes kept of each captured stream: 16 MiB.
pub const OUTPUT_LIMIT: usize = 16 * 1024 * 1024;

/// glib's search path when neither `env` nor the agent has a PATH.
const DEFAULT_SEARCH_PATH: &[u8] = b"/bin:/usr/bin:.";

/// The shell that runs a file execve() refuses with ENOEXEC.
const SHELL: &CStr = c"/bin/sh";

/// Marks an errno that came from the exec attempts (not from fork or the
/// descriptor set-up) on its way back from the child through std.
const EXEC_ERRNO_TAG: i32 = 0x4000_0000;

/// The stack of the helper threads: they keep their buffers on the heap.
const HELPER_STACK: usize = 128 * 1024;

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
        let GuestExecArguments {
            path,
            arg,
            env,
            input_data,
            capture_output,
        } = args;
        let capture = capture_output.unwrap_or(false);
        let has_input = input_data.is_some();
        let plan = ExecPlan::new(&path, arg.as_deref().unwrap_or(&[]), env.as_deref())
            .map_err(|e| spawn_error(&path, &e))?;

        let process = Arc::new(Process {
            state: Mutex::new(State {
                capture,
                ..State::default()
            }),
        });

        // Every helper thread is started before the child, each waiting for its
        // end of the child: if a thread cannot be started, nothing has run yet.
        let (child_tx, child_rx) = mpsc::channel::<Child>();
        let (out_tx, out_rx) = mpsc::channel::<ChildStdout>();
        let (err_tx, err_rx) = mpsc::channel::<ChildStderr>();
        let (in_tx, in_rx) = mpsc::channel::<ChildStdin>();
        let helper_error = |e: io::Error| {
            CommandError(format!(
                "Guest agent command failed, error was 'Failed to start a helper thread ({})'",
                errno_text(&e)
            ))
        };
        let p = Arc::clone(&process);
        helper("qga-exec-wait", move || {
            if let Ok(child) = child_rx.recv() {
                wait_for(child, &p);
            }
        })
        .map_err(helper_error)?;
        if capture {
            let p = Arc::clone(&process);
            helper("qga-exec-out", move || {
                if let Ok(out) = out_rx.recv() {
                    let captured = capture_stream(out);
                    p.lock().out = Some(captured);
                }
            })
            .map_err(helper_error)?;
            let p = Arc::clone(&process);
            helper("qga-exec-err", move || {
                if let Ok(err) = err_rx.recv() {
                    let captured = capture_stream(err);
                    p.lock().err = Some(captured);
                }
            })
            .map_err(helper_error)?;
        }
        if let Some(input) = input_data {
            helper("qga-exec-in", move || {
                if let Ok(mut stdin) = in_rx.recv() {
                    // The program may exit without reading: EPIPE (SIGPIPE is
                    // ignored by Rust programs) just ends the write.
                    let _ = stdin.write_all(&input);
                }
            })
            .map_err(helper_error)?;
        }

        let mut command = Command::new(OsStr::from_bytes(path.as_bytes()));
        command
            .stdin(if has_input {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(if capture {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(if capture {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let mut plan = plan;
        // SAFETY: the closure runs in the forked child before exec. It only makes
        // system calls (sigaction, close_range or fcntl, execve) on memory that the
        // plan prepared before the fork: no allocation, no lock.
        unsafe {
            command.pre_exec(move || Err(plan.exec_in_child()));
        }
        let mut child = command.spawn().map_err(|e| spawn_error(&path, &e))?;
        let pid = i64::from(child.id());

        if let Some(stdin) = child.stdin.take() {
            let _ = in_tx.send(stdin);
        }
        if let Some(out) = child.stdout.take() {
            let _ = out_tx.send(out);
        }
        if let Some(err) = child.stderr.take() {
            let _ = err_tx.send(err);
        }
        let _ = child_tx.send(child);

        self.processes.entry(pid).or_default().push_back(process);
        Ok(GuestExec { pid })
    }

    /// guest-exec-status: report on the oldest process known by `pid`; once it
    /// is reported ended, forget it.
    pub fn status(&mut self, pid: i64) -> Result<GuestExecStatus> {
        let invalid = || CommandError("Invalid parameter 'pid'".into());
        let queue = self.processes.get_mut(&pid).ok_or_else(invalid)?;
        let process = queue.front().cloned().ok_or_else(invalid)?;
        let mut state = process.lock();
        let mut status = GuestExecStatus {
            exited: false,
            exitcode: None,
            signal: None,
            out_data: None,
            err_data: None,
            out_truncated: None,
            err_truncated: None,
        };
        let finished =
            state.reaped && (!state.capture || (state.out.is_some() && state.err.is_some()));
        if !finished {
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

/// One process, shared with its helper threads.
struct Process {
    state: Mutex<State>,
}

impl Process {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A helper that panicked left consistent data: each writes one field.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
struct State {
    capture: bool,
    /// The waiter thread is done (the process was reaped, or could not be).
    reaped: bool,
    exit: Option<ExitStatus>,
    out: Option<Captured>,
    err: Option<Captured>,
}

struct Captured {
    data: Vec<u8>,
    truncated: bool,
}

fn helper(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
    thread::Builder::new()
        .name(name.into())
        .stack_size(HELPER_STACK)
        .spawn(f)
        .map(drop)
}

fn wait_for(mut child: Child, process: &Process) {
    // std retries EINTR. An error (ECHILD: something else reaped it) still
    // ends the process for guest-exec-status, with neither exitcode nor signal.
    let exit = child.wait().ok();
    let mut state = process.lock();
    state.exit = exit;
    state.reaped = true;
}

/// Read a stream to its end, keeping the first [`OUTPUT_LIMIT`] bytes.
fn capture_stream(mut stream: impl Read) -> Captured {
    let mut data = Vec::new();
    // read_to_end retries EINTR; another error ends the stream, as in qemu-ga.
    let complete = (&mut stream)
        .take(OUTPUT_LIMIT as u64)
        .read_to_end(&mut data)
        .is_ok();
    let mut truncated = false;
    if complete && data.len() == OUTPUT_LIMIT {
        let mut scratch = vec![0u8; 64 * 1024];
        loop {
            match stream.read(&mut scratch) {
                Ok(0) => break,
                Ok(_) => truncated = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
    if data.capacity() - data.len() > 64 * 1024 {
        data.shrink_to_fit();
    }
    Captured { data, truncated }
}

fn spawn_error(path: &str, err: &io::Error) -> CommandError {
    let message = match err.raw_os_error() {
        Some(raw) if raw & EXEC_ERRNO_TAG != 0 => {
            let errno = io::Error::from_raw_os_error(raw & !EXEC_ERRNO_TAG);
            format!(
                "Failed to execute child process “{path}” ({})",
                errno_text(&errno)
            )
        }
        Some(_) => format!("Failed to fork ({})", errno_text(err)),
        // A string with a NUL byte, refused before anything ran.
        None => format!(
            "Failed to execute child process “{path}” ({})",
            errno_text(&io::Error::from_raw_os_error(libc::EINVAL))
        ),
    };
    CommandError(format!("Guest agent command failed, error was '{message}'"))
}

/// Everything the child needs to exec the program, prepared before the fork so
/// that the child only makes system calls.
struct ExecPlan {
    /// Owns the strings the pointers below point into (their heap buffers do
    /// not move when the CStrings do).
    _strings: Vec<CString>,
    /// The files to try, in order.
    candidates: Vec<*const c_char>,
    /// argv, NULL-terminated.
    argv: Vec<*const c_char>,
    /// The environment, NULL-terminated; None keeps the agent's.
    envp: Option<Vec<*const c_char>>,
    /// ["/bin/sh", (the candidate), argv[1..], NULL], for ENOEXEC.
    script_argv: Vec<*const c_char>,
    /// Where to stop marking descriptors close-on-exec if close_range() fails.
    fd_limit: libc::c_int,
}

// SAFETY: the raw pointers point into `_strings`, owned by the plan itself, or
// to a static string. The parent never changes the plan after construction; the
// forked child changes only its own copy (`script_argv[1]`).
unsafe impl Send for ExecPlan {}
// SAFETY: as above; no thread of the agent ever writes through a shared plan.
unsafe impl Sync for ExecPlan {}

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

        let ptrs = |v: &[CString]| -> Vec<*const c_char> {
            v.iter()
                .map(|s| s.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect()
        };
        let argv = ptrs(&argv_strings);
        let envp = env_strings.as_deref().map(ptrs);
        let mut candidates: Vec<*const c_char> = ptrs(&candidate_strings);
        candidates.pop(); // no terminator needed
        let mut script_argv = vec![SHELL.as_ptr(), std::ptr::null()];
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
            fd_limit: fd_limit(),
        })
    }

    /// In the forked child: the rest of the set-up, then exec. Returns only if
    /// every attempt failed, with the errno to report (tagged).
    fn exec_in_child(&mut self) -> io::Error {
        // SAFETY (whole function): async-signal-safe system calls on pointers
        // into NUL-terminated strings and NULL-terminated arrays that the plan owns.
        unsafe {
            // qemu-ga's child set-up: SIGPIPE back to its default (the agent, as
            // any Rust program, ignores it; an ignored signal survives exec).
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
        mark_cloexec_from_3(self.fd_limit);

        let mut got_eacces = false;
        let mut errno = libc::ENOENT; // an empty path: nothing to try
        for i in 0..self.candidates.len() {
            let file = self.candidates[i];
            self.execve(file, self.argv.as_ptr());
            errno = last_errno();
            if errno == libc::ENOEXEC {
                self.script_argv[1] = file;
                self.execve(SHELL.as_ptr(), self.script_argv.as_ptr());
                errno = last_errno();
            }
            match errno {
                libc::EACCES => got_eacces = true,
                libc::ENOENT | libc::ESTALE | libc::ENOTDIR | libc::ENODEV | libc::ETIMEDOUT => {}
                _ => return io::Error::from_raw_os_error(errno | EXEC_ERRNO_TAG),
            }
        }
        if got_eacces {
            errno = libc::EACCES;
        }
        io::Error::from_raw_os_error(errno | EXEC_ERRNO_TAG)
    }

    fn execve(&self, file: *const c_char, argv: *const *const c_char) {
        // SAFETY: see exec_in_child. exec only returns on failure.
        unsafe {
            match &self.envp {
                Some(envp) => libc::execve(file, argv, envp.as_ptr()),
                None => libc::execv(file, argv),
            };
        }
    }
}

fn last_errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
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

/// The highest descriptor number to visit when close_range() is missing.
fn fd_limit() -> libc::c_int {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    if ok && limit.rlim_cur != libc::RLIM_INFINITY {
        limit.rlim_cur.min(65536) as libc::c_int
    } else {
        65536
    }
}

/// Mark every descriptor from 3 up close-on-exec, so that the program gets
/// none of the agent's even if some code opened one without O_CLOEXEC (glib
/// closes them in qemu-ga's child). Marking rather than closing leaves std's
/// own error-report pipe working.
fn mark_cloexec_from_3(fd_limit: libc::c_int) {
    // SAFETY: plain system calls on descriptor numbers.
    unsafe {
        if libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        ) == 0
        {
            return;
        }
        // Kernels before 5.11.
        for fd in 3..fd_limit {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
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
            capture_output: Some(true),
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
        a.capture_output = Some(false);
        assert_eq!(run(a), exited(0));
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
        a.capture_output = Some(false);
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
