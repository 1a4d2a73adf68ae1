//! The measurements. Each one runs on both agents, interleaved: in round `r` one agent
//! goes first and in round `r + 1` the other, so that drift in the machine's load
//! falls on both alike.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use qga_client::{Client, CopyOptions, ExecRequest, Stream};

use super::agent::{Agent, Flavor};

/// One figure per agent, in the order of the flavors (ours first).
pub type Both<T> = [T; 2];

/// Runs `rounds` rounds of `f(agent index)`, alternating which agent goes first.
pub(super) fn interleave<T>(
    rounds: usize,
    mut f: impl FnMut(usize) -> Result<T, String>,
) -> Result<Both<Vec<T>>, String> {
    let mut out = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            out[i].push(f(i)?);
        }
    }
    Ok(out)
}

/// The median (the mean of the middle two for an even count).
pub fn median(values: &mut [f64]) -> f64 {
    assert!(!values.is_empty(), "a median of nothing");
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn clients(agents: &Both<Agent>) -> Result<Both<Client<Stream>>, String> {
    Ok([agents[0].client()?, agents[1].client()?])
}

fn ping(client: &mut Client<Stream>) -> Result<(), String> {
    client
        .call_raw("guest-ping", None)
        .map(drop)
        .map_err(|e| format!("guest-ping: {e}"))
}

/// Sequential `guest-ping` round trips through the client: the median, in seconds.
pub fn ping_latency(agents: &Both<Agent>, calls: usize) -> Result<Both<f64>, String> {
    const BLOCK: usize = 100;
    let mut clients = clients(agents)?;
    for client in &mut clients {
        for _ in 0..50 {
            ping(client)?;
        }
    }
    let rounds = calls.div_ceil(BLOCK);
    let samples = interleave(rounds, |i| {
        let mut times = Vec::with_capacity(BLOCK);
        for _ in 0..BLOCK {
            let started = Instant::now();
            ping(&mut clients[i])?;
            times.push(started.elapsed().as_secs_f64());
        }
        Ok(times)
    })?;
    Ok(samples.map(|rounds| median(&mut rounds.concat())))
}

/// `count` pings written at once on a raw connection while the answers are read:
/// answers per second (the median over `rounds`).
pub fn pipelined(agents: &Both<Agent>, count: usize, rounds: usize) -> Result<Both<f64>, String> {
    const REQUEST: &[u8] = b"{\"execute\":\"guest-ping\"}\n";
    let requests = REQUEST.repeat(count);
    let samples = interleave(rounds, |i| {
        let stream = agents[i].raw()?;
        let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
        let mut reader = stream;
        std::thread::scope(|scope| {
            let started = Instant::now();
            // Written from a thread: the agent's answers must be drained meanwhile, or
            // both sides could block on full socket buffers.
            let sending = scope.spawn(|| writer.write_all(&requests));
            let mut answers = Vec::with_capacity(count * 16);
            let mut buf = vec![0u8; 64 << 10];
            let mut lines = 0;
            while lines < count {
                let n = reader
                    .read(&mut buf)
                    .map_err(|e| format!("reading answers: {e}"))?;
                if n == 0 {
                    return Err(format!("the agent closed after {lines} answers"));
                }
                lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
                answers.extend_from_slice(&buf[..n]);
            }
            let elapsed = started.elapsed().as_secs_f64();
            sending
                .join()
                .map_err(|_| "the writer panicked".to_owned())?
                .map_err(|e| format!("writing requests: {e}"))?;
            let first = answers.split(|&b| b == b'\n').next().unwrap_or_default();
            let all_same = answers
                .split(|&b| b == b'\n')
                .take(count)
                .all(|line| line == first);
            if lines != count || !all_same || !first.starts_with(b"{\"return\"") {
                return Err(format!(
                    "unexpected answers to pipelined pings (first: {})",
                    String::from_utf8_lossy(first)
                ));
            }
            Ok(count as f64 / elapsed)
        })
    })?;
    Ok(samples.map(|mut rates| median(&mut rates)))
}

/// Whole reads of the file at `path` (`size` bytes) by `guest-file-read`s of
/// `chunk` bytes: bytes per second (the median over `rounds`).
pub fn file_read(
    agents: &Both<Agent>,
    path: &Path,
    size: u64,
    chunk: usize,
    rounds: usize,
) -> Result<Both<f64>, String> {
    let path = path.to_str().ok_or("the data file's path is not UTF-8")?;
    let mut clients = clients(agents)?;
    let samples = interleave(rounds, |i| {
        let started = Instant::now();
        let options = CopyOptions {
            chunk_size: chunk,
            progress: None,
        };
        let read = clients[i]
            .read_file_with(path, &mut std::io::sink(), options)
            .map_err(|e| format!("reading the file: {e}"))?;
        let elapsed = started.elapsed().as_secs_f64();
        if read != size {
            return Err(format!("read {read} bytes of {size}"));
        }
        Ok(size as f64 / elapsed)
    })?;
    Ok(samples.map(|mut rates| median(&mut rates)))
}

/// Writes `data` to a new file in each agent's directory by `guest-file-write`s of
/// `chunk` bytes: bytes per second (the median over `rounds`).
pub fn file_write(
    agents: &Both<Agent>,
    data: &[u8],
    chunk: usize,
    rounds: usize,
) -> Result<Both<f64>, String> {
    let mut clients = clients(agents)?;
    let targets = agents
        .each_ref()
        .map(|agent| agent.dir().join("written.bin"));
    let samples = interleave(rounds, |i| {
        let target = &targets[i];
        // Truncating the last round's file is not part of the figure.
        let _ = std::fs::remove_file(target);
        let path = target.to_str().ok_or("the temp dir's path is not UTF-8")?;
        let started = Instant::now();
        let options = CopyOptions {
            chunk_size: chunk,
            progress: None,
        };
        let written = clients[i]
            .write_file_with(path, &mut &data[..], options)
            .map_err(|e| format!("writing the file: {e}"))?;
        let elapsed = started.elapsed().as_secs_f64();
        let on_disk = std::fs::metadata(target).map_or(0, |m| m.len());
        if written != data.len() as u64 || on_disk != written {
            return Err(format!(
                "wrote {written} bytes of {} ({on_disk} in the file)",
                data.len()
            ));
        }
        Ok(data.len() as f64 / elapsed)
    })?;
    for target in &targets {
        let _ = std::fs::remove_file(target);
    }
    Ok(samples.map(|mut rates| median(&mut rates)))
}

/// How the exec client waits for the program's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polling {
    /// `guest-exec-status` again as soon as the answer comes.
    Tight,
    /// At once, then after pauses of 1 ms, 2 ms, 4 ms… up to 100 ms, as qga-client's
    /// `exec_wait` does: how a management tool waits, rather than polling without
    /// pause.
    Backoff,
}

/// The first pause of [`Polling::Backoff`].
const FIRST_PAUSE: Duration = Duration::from_millis(1);

/// The longest pause of [`Polling::Backoff`].
const LONGEST_PAUSE: Duration = Duration::from_millis(100);

/// What the exec measurement found for one agent and one way of polling.
#[derive(Debug, Clone, Copy)]
pub struct ExecFigures {
    /// Cycles per second.
    pub rate: f64,
    /// `guest-exec-status` calls per cycle (the last one says it exited).
    pub polls: f64,
}

/// The exec measurement: both agents polled both ways, and the floor, all from the
/// same rounds.
#[derive(Debug, Clone, Copy)]
pub struct ExecRun {
    pub tight: Both<ExecFigures>,
    pub backoff: Both<ExecFigures>,
    /// `true` spawned by the benchmark itself ([`spawn_captured`]): cycles per second.
    pub floor: f64,
}

/// `guest-exec` of `true` until it is reported exited, `cycles` times for each agent
/// and each [`Polling`], and `cycles` runs of the floor, in blocks taken in turn (the
/// first of each round goes last in the next), so that the ratios to the floor hold
/// for one and the same state of the machine. The floor runs `true` in `env`, the
/// environment the agents pass on.
pub fn exec(
    agents: &Both<Agent>,
    cycles: usize,
    env: &[(String, String)],
) -> Result<ExecRun, String> {
    const BLOCK: usize = 20;
    /// The contenders of a round, in their first order.
    const KINDS: [Kind; 5] = [
        Kind::Agent(0, Polling::Tight),
        Kind::Agent(1, Polling::Tight),
        Kind::Floor,
        Kind::Agent(0, Polling::Backoff),
        Kind::Agent(1, Polling::Backoff),
    ];
    #[derive(Clone, Copy)]
    enum Kind {
        Agent(usize, Polling),
        Floor,
    }
    let mut clients = clients(agents)?;
    let request = ExecRequest::new("true");
    let program = true_program()?;
    let env = c_environment(env);
    let mut time = [Duration::ZERO; KINDS.len()];
    let mut polls = [0usize; KINDS.len()];
    let rounds = cycles.div_ceil(BLOCK);
    for round in 0..rounds {
        for turn in 0..KINDS.len() {
            let k = (round + turn) % KINDS.len();
            let started = Instant::now();
            for _ in 0..BLOCK {
                match KINDS[k] {
                    Kind::Agent(i, polling) => {
                        polls[k] += exec_cycle(&mut clients[i], &request, polling)?;
                    }
                    Kind::Floor => spawn_captured(program, &env)
                        .map_err(|e| format!("cannot run {program}: {e}"))?,
                }
            }
            time[k] += started.elapsed();
        }
    }
    let done = (rounds * BLOCK) as f64;
    let figures = |k: usize| ExecFigures {
        rate: done / time[k].as_secs_f64(),
        polls: polls[k] as f64 / done,
    };
    Ok(ExecRun {
        tight: [figures(0), figures(1)],
        floor: figures(2).rate,
        backoff: [figures(3), figures(4)],
    })
}

/// One `guest-exec` of `true` and the `guest-exec-status` calls until it has exited;
/// returns how many status calls it took.
fn exec_cycle(
    client: &mut Client<Stream>,
    request: &ExecRequest,
    polling: Polling,
) -> Result<usize, String> {
    let pid = client
        .exec_start(request)
        .map_err(|e| format!("guest-exec: {e}"))?;
    let mut pause = FIRST_PAUSE;
    let mut polls = 0;
    let output = loop {
        polls += 1;
        if let Some(output) = client
            .exec_status(pid)
            .map_err(|e| format!("guest-exec-status: {e}"))?
        {
            break output;
        }
        if polling == Polling::Backoff {
            std::thread::sleep(pause);
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    };
    if !output.success() {
        return Err(format!("true exited with {}", output.status()));
    }
    Ok(polls)
}

/// The `true` the floor runs.
fn true_program() -> Result<&'static str, String> {
    ["/usr/bin/true", "/bin/true"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| "no true program in /usr/bin or /bin".to_owned())
}

/// `env` as `NAME=value` C strings.
fn c_environment(env: &[(String, String)]) -> Vec<std::ffi::CString> {
    env.iter()
        .filter_map(|(name, value)| std::ffi::CString::new(format!("{name}={value}")).ok())
        .collect()
}

/// The floor of the exec figures: `true` started with the least work that captures
/// its output: two pipes, `posix_spawn` (which waits only for the exec), both pipes
/// read to their end, `waitpid`. No agent can run `true` faster than this on the same
/// machine.
///
/// Runs `program` in environment `env` with stdout and stderr on pipes, reads both to
/// their end and reaps it; an error unless it exits 0.
fn spawn_captured(program: &str, env: &[std::ffi::CString]) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, OwnedFd};

    let check = |r: libc::c_int| match r {
        0 => Ok(()),
        e => Err(std::io::Error::from_raw_os_error(e)),
    };
    let (out_read, out_write) = rustix::pipe::pipe()?;
    let (err_read, err_write) = rustix::pipe::pipe()?;
    let path = CString::new(program).map_err(std::io::Error::other)?;
    let argv = [path.as_ptr(), std::ptr::null()];
    let envp: Vec<*const libc::c_char> = env
        .iter()
        .map(|pair| pair.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    let mut pid: libc::pid_t = 0;
    // SAFETY: the file actions are initialised before use and destroyed once;
    // argv and envp are NULL-terminated arrays of C strings that outlive the call.
    unsafe {
        let mut actions = std::mem::zeroed::<libc::posix_spawn_file_actions_t>();
        check(libc::posix_spawn_file_actions_init(&mut actions))?;
        let spawned = check(libc::posix_spawn_file_actions_adddup2(
            &mut actions,
            out_write.as_raw_fd(),
            1,
        ))
        .and_then(|()| {
            check(libc::posix_spawn_file_actions_adddup2(
                &mut actions,
                err_write.as_raw_fd(),
                2,
            ))
        })
        .and_then(|()| {
            check(libc::posix_spawn(
                &mut pid,
                path.as_ptr(),
                &actions,
                std::ptr::null(),
                argv.as_ptr().cast(),
                envp.as_ptr().cast(),
            ))
        });
        libc::posix_spawn_file_actions_destroy(&mut actions);
        spawned?;
    }
    drop((out_write, err_write));
    let drain = |fd: OwnedFd| -> std::io::Result<()> {
        let mut file = std::fs::File::from(fd);
        std::io::copy(&mut file, &mut std::io::sink()).map(drop)
    };
    drain(out_read)?;
    drain(err_read)?;
    let mut status = 0;
    // SAFETY: pid is our child, not yet reaped.
    if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
        return Err(std::io::Error::last_os_error());
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("wait status {status:#x}")))
    }
}

/// What the start-up measurement found for one agent.
#[derive(Debug, Clone, Copy)]
pub struct StartFigures {
    /// Spawn to the first `guest-ping` answer, seconds (median).
    pub first_answer: f64,
    /// VmRSS once started and idle, bytes (median).
    pub idle_rss: f64,
}

/// Starts each agent `runs` times: spawn to the first answer, and the idle RSS
/// after it.
pub fn startup(flavors: &Both<Flavor>, runs: usize) -> Result<Both<StartFigures>, String> {
    let samples = interleave(runs, |i| {
        let started = Instant::now();
        let mut agent = Agent::spawn(&flavors[i])?;
        agent
            .first_ping()
            .map_err(|e| format!("{}: {e}", flavors[i].name))?;
        let first_answer = started.elapsed().as_secs_f64();
        // Idle: whatever the first request set up is done.
        std::thread::sleep(Duration::from_millis(50));
        let rss = agent.memory("VmRSS")?;
        Ok((first_answer, rss as f64))
    })?;
    Ok(samples.map(|runs| {
        let (mut times, mut rss): (Vec<f64>, Vec<f64>) = runs.into_iter().unzip();
        StartFigures {
            first_answer: median(&mut times),
            idle_rss: median(&mut rss),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn interleaves() {
        let mut order = Vec::new();
        let out = interleave(3, |i| {
            order.push(i);
            Ok(i)
        })
        .unwrap();
        assert_eq!(order, [0, 1, 1, 0, 0, 1]);
        assert_eq!(out, [vec![0, 0, 0], vec![1, 1, 1]]);
    }
}
