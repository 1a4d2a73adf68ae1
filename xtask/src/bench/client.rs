//! `cargo xtask bench client [--quick]`: the host side, `qga-client`, at the figures
//! issue 6 holds it to, against our agent (as `cargo xtask dist` builds it), with QEMU's agent (Debian's
//! qemu-ga 7.2) measured the same way for scale.
//!
//! - Whole-file copies through the helpers: a 256 MiB guest file into a host file
//!   (`Client::read_file_with`, 4 MiB and 48 MiB chunks; target ≥ 1 GB/s against our
//!   agent), and a 256 MiB host file into the guest (`Client::write_file_with`).
//! - Many agents at once: 200 agents, each on its own unix socket, and a handshake
//!   (`0xFF` + `guest-sync-delimited`) plus a `guest-ping` with every one; target
//!   ≤ 0.5 s. Measured as the `qga` command does it (`qga --socket 'DIR/vm*.sock'
//!   ping`, the whole process, start to exit) and as the same path in-process (a
//!   thread per agent, each connecting and calling).
//!
//! Agents run as in `cargo xtask bench`: each on a unix socket in its own temp dir,
//! killed by pid and removed afterwards; only `guest-ping` and file reads and writes
//! inside temp dirs are sent. The two agents alternate round by round. Printed as a
//! table, and written as Markdown to `target/bench/client.md`. A full run takes about
//! a minute, `--quick` (64 MiB files, fewer rounds) about twenty seconds.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use qga_client::{Address, Client, CopyOptions, Options};
use serde_json::Value;

use super::agent::{Agent, Flavor};
use super::measure::{interleave, median};
use super::{noise, phase, target_dir, version, MIB, QEMU_GA};

/// How many agents the fan-out talks to.
const AGENTS: usize = 200;

/// How much each measurement does.
#[derive(Debug, Clone, Copy)]
struct Plan {
    quick: bool,
    file_size: usize,
    copy_rounds: usize,
    fan_out_rounds: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                quick,
                file_size: 64 * MIB,
                copy_rounds: 2,
                fan_out_rounds: 3,
            }
        } else {
            Plan {
                quick,
                file_size: 256 * MIB,
                copy_rounds: 5,
                fan_out_rounds: 7,
            }
        }
    }
}

/// How a figure is shown, and which way it improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// Bytes per second, shown in MB/s (10^6), the unit of the targets.
    MBPerSec,
    /// Seconds, shown in ms; lower is better.
    Millis,
}

impl Unit {
    fn show(self, value: f64) -> String {
        match self {
            Unit::MBPerSec => format!("{:.0} MB/s", value / 1e6),
            Unit::Millis => format!("{:.0} ms", value * 1e3),
        }
    }

    fn met(self, value: f64, limit: f64) -> bool {
        match self {
            Unit::MBPerSec => value >= limit,
            Unit::Millis => value <= limit,
        }
    }
}

/// One measurement: our agent's figure, qemu-ga's for scale, and the target if any.
#[derive(Debug, Clone)]
struct Row {
    what: String,
    unit: Unit,
    ours: f64,
    /// qemu-ga's figure, where one applies.
    qemu: Option<f64>,
    target: Option<(&'static str, f64)>,
}

impl Row {
    fn met(&self) -> Option<bool> {
        self.target
            .map(|(_, limit)| self.unit.met(self.ours, limit))
    }

    fn cells(&self) -> [String; 5] {
        let (target, met) = match (self.target, self.met()) {
            (Some((text, _)), Some(true)) => (text.to_owned(), "yes".to_owned()),
            (Some((text, limit)), Some(false)) => (
                text.to_owned(),
                format!("NO: needs {:+.0}%", (limit / self.ours - 1.0) * 100.0),
            ),
            _ => ("none".to_owned(), "".to_owned()),
        };
        [
            self.what.clone(),
            self.unit.show(self.ours),
            self.qemu
                .map_or_else(|| "—".to_owned(), |q| self.unit.show(q)),
            target,
            met,
        ]
    }
}

const HEADER: [&str; 5] = [
    "measurement",
    "qga-agent",
    "qemu-ga (for scale)",
    "target",
    "met",
];

fn text_table(rows: &[Row]) -> String {
    let body: Vec<[String; 5]> = rows.iter().map(Row::cells).collect();
    let mut widths = HEADER.map(|h| h.chars().count());
    for cells in &body {
        for (w, cell) in widths.iter_mut().zip(cells) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let padded: Vec<String> = (0..5)
            .map(|i| {
                let fill = " ".repeat(widths[i] - cells[i].chars().count());
                // Figures right-aligned, text left.
                if i == 1 || i == 2 {
                    format!("{fill}{}", cells[i])
                } else {
                    format!("{}{fill}", cells[i])
                }
            })
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(HEADER);
    let rules = widths.map(|w| "-".repeat(w));
    out.push_str(&line(rules.each_ref().map(String::as_str)));
    for cells in &body {
        out.push_str(&line(cells.each_ref().map(String::as_str)));
    }
    out
}

fn markdown_table(rows: &[Row]) -> String {
    let mut out = format!(
        "| {} |\n| --- | ---: | ---: | --- | --- |\n",
        HEADER.join(" | ")
    );
    for row in rows {
        out.push_str(&format!("| {} |\n", row.cells().join(" | ")));
    }
    out
}

fn utf8(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))
}

/// Runs `rounds` rounds of `f(agent index)`, alternating which agent goes first;
/// the median of each agent's figures.
fn interleaved(
    rounds: usize,
    f: impl FnMut(usize) -> Result<f64, String>,
) -> Result<[f64; 2], String> {
    Ok(interleave(rounds, f)?.map(|mut values| median(&mut values)))
}

/// Copies of the guest file `source` (`size` bytes) into a host file with `chunk`-byte
/// reads: bytes per second.
fn read_to_host(
    agents: &[Agent; 2],
    source: &Path,
    size: u64,
    chunk: usize,
    rounds: usize,
) -> Result<[f64; 2], String> {
    let out_dir = tempfile::Builder::new()
        .prefix("qga-bench-host-")
        .tempdir()
        .map_err(|e| format!("cannot create a temp dir: {e}"))?;
    let target = out_dir.path().join("copy.bin");
    let source = utf8(source)?;
    let mut clients = [agents[0].client()?, agents[1].client()?];
    interleaved(rounds, |i| {
        // Dropping the last round's copy (its page cache) is not part of the figure.
        let _ = std::fs::remove_file(&target);
        let started = Instant::now();
        let mut file = File::create(&target).map_err(|e| format!("{}: {e}", target.display()))?;
        let options = CopyOptions {
            chunk_size: chunk,
            progress: None,
        };
        let copied = clients[i]
            .read_file_with(source, &mut file, options)
            .map_err(|e| format!("reading the guest file: {e}"))?;
        drop(file);
        let elapsed = started.elapsed().as_secs_f64();
        let on_disk = std::fs::metadata(&target).map_or(0, |m| m.len());
        if copied != size || on_disk != size {
            return Err(format!(
                "copied {copied} bytes of {size} ({on_disk} in the file)"
            ));
        }
        Ok(size as f64 / elapsed)
    })
}

/// Copies of the host file `source` (`size` bytes) into a guest file with `chunk`-byte
/// writes: bytes per second.
fn write_to_guest(
    agents: &[Agent; 2],
    source: &Path,
    size: u64,
    chunk: usize,
    rounds: usize,
) -> Result<[f64; 2], String> {
    let targets = agents.each_ref().map(|a| a.dir().join("written.bin"));
    let mut clients = [agents[0].client()?, agents[1].client()?];
    let figures = interleaved(rounds, |i| {
        let target = &targets[i];
        // Removing the last round's file is not part of the figure.
        let _ = std::fs::remove_file(target);
        let started = Instant::now();
        let mut file = File::open(source).map_err(|e| format!("{}: {e}", source.display()))?;
        let options = CopyOptions {
            chunk_size: chunk,
            progress: None,
        };
        let written = clients[i]
            .write_file_with(utf8(target)?, &mut file, options)
            .map_err(|e| format!("writing the guest file: {e}"))?;
        let elapsed = started.elapsed().as_secs_f64();
        let on_disk = std::fs::metadata(target).map_or(0, |m| m.len());
        if written != size || on_disk != size {
            return Err(format!(
                "wrote {written} bytes of {size} ({on_disk} in the file)"
            ));
        }
        Ok(size as f64 / elapsed)
    })?;
    for target in &targets {
        let _ = std::fs::remove_file(target);
    }
    Ok(figures)
}

/// A stand-in agent on `stream`: answers syncs, and serves every opened file as
/// `size` bytes in `chunk`-byte reads of one chunk encoded in advance.
fn stand_in_agent(mut stream: UnixStream, size: u64, chunk: usize) -> Result<(), String> {
    let encoded = qga_types::base64::encode(&noise(chunk));
    let full = format!(
        "{{\"return\": {{\"count\": {chunk}, \"buf-b64\": \"{encoded}\", \"eof\": false}}}}\n"
    );
    let last = "{\"return\": {\"count\": 0, \"buf-b64\": \"\", \"eof\": true}}\n";
    let mut input = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    let mut left = 0u64;
    let send = |stream: &mut UnixStream, bytes: &[u8]| {
        stream
            .write_all(bytes)
            .map_err(|e| format!("stand-in agent: {e}"))
    };
    loop {
        // The requests so far, each a JSON object; a 0xFF only resets.
        input.retain(|&b| b != 0xFF);
        let mut requests = serde_json::Deserializer::from_slice(&input).into_iter::<Value>();
        let mut used = 0;
        while let Some(Ok(request)) = requests.next() {
            used = requests.byte_offset();
            let arguments = &request["arguments"];
            match request["execute"].as_str().unwrap_or_default() {
                "guest-sync-delimited" => {
                    let mut answer = vec![0xFF];
                    answer.extend(format!("{{\"return\": {}}}\n", arguments["id"]).bytes());
                    send(&mut stream, &answer)?;
                }
                "guest-file-open" => {
                    left = size;
                    send(&mut stream, b"{\"return\": 1}\n")?;
                }
                "guest-file-read" => {
                    // Whole chunks only: the sizes measured are multiples of a chunk.
                    // Written as they are, like an agent's reply buffer: no copy.
                    if left >= chunk as u64 && arguments["count"] == chunk {
                        left -= chunk as u64;
                        send(&mut stream, full.as_bytes())?;
                    } else {
                        send(&mut stream, last.as_bytes())?;
                    }
                }
                _ => send(&mut stream, b"{\"return\": {}}\n")?,
            }
        }
        input.drain(..used);
        match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => input.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("stand-in agent: {e}")),
        }
    }
}

/// Copies of a `size`-byte file from the stand-in agent into a host file: bytes per
/// second (the median over `rounds`).
fn client_ceiling(size: u64, chunk: usize, rounds: usize) -> Result<f64, String> {
    if size % chunk as u64 != 0 {
        return Err("the stand-in agent serves whole chunks only".to_owned());
    }
    let out_dir = tempfile::Builder::new()
        .prefix("qga-bench-host-")
        .tempdir()
        .map_err(|e| format!("cannot create a temp dir: {e}"))?;
    let target = out_dir.path().join("copy.bin");
    let (ours, theirs) = UnixStream::pair().map_err(|e| format!("socket pair: {e}"))?;
    let agent = std::thread::spawn(move || stand_in_agent(theirs, size, chunk));
    let options = Options::default().with_timeout(std::time::Duration::from_secs(60));
    let mut client = Client::with_options(ours, options);
    // The stand-in encodes its chunk before it answers anything: not part of the figure.
    client
        .sync()
        .map_err(|e| format!("syncing with the stand-in agent: {e}"))?;
    let mut rates = Vec::new();
    for _ in 0..rounds {
        // As in read_to_host: dropping the last round's copy is not part of the figure.
        let _ = std::fs::remove_file(&target);
        let started = Instant::now();
        let mut file = File::create(&target).map_err(|e| format!("{}: {e}", target.display()))?;
        let copy = CopyOptions {
            chunk_size: chunk,
            progress: None,
        };
        let copied = client
            .read_file_with("/stand-in", &mut file, copy)
            .map_err(|e| format!("reading from the stand-in agent: {e}"))?;
        drop(file);
        let elapsed = started.elapsed().as_secs_f64();
        if copied != size {
            return Err(format!("copied {copied} bytes of {size}"));
        }
        rates.push(size as f64 / elapsed);
    }
    drop(client);
    agent
        .join()
        .map_err(|_| "the stand-in agent panicked".to_owned())??;
    Ok(median(&mut rates))
}

/// `count` agents of one flavor, and a directory of links `vm000.sock`... to their
/// sockets, for a glob pattern.
struct Fleet {
    agents: Vec<Agent>,
    links: tempfile::TempDir,
}

impl Fleet {
    fn start(flavor: &Flavor, count: usize) -> Result<Fleet, String> {
        let links = tempfile::Builder::new()
            .prefix("qga-bench-fleet-")
            .tempdir()
            .map_err(|e| format!("cannot create a temp dir: {e}"))?;
        // Spawned all at once, then waited for.
        let mut agents = (0..count)
            .map(|_| Agent::spawn(flavor))
            .collect::<Result<Vec<_>, _>>()?;
        for (i, agent) in agents.iter_mut().enumerate() {
            agent
                .first_ping()
                .map_err(|e| format!("{} #{i}: {e}", flavor.name))?;
            let socket = agent.socket();
            std::os::unix::fs::symlink(socket, links.path().join(format!("vm{i:03}.sock")))
                .map_err(|e| format!("cannot link to {}: {e}", socket.display()))?;
        }
        Ok(Fleet { agents, links })
    }

    fn sockets(&self) -> Vec<PathBuf> {
        self.agents.iter().map(|a| a.socket().to_owned()).collect()
    }

    fn pattern(&self) -> PathBuf {
        self.links.path().join("vm*.sock")
    }
}

/// `qga --socket 'DIR/vm*.sock' ping`, the whole process: seconds.
fn fan_out_cli(qga: &Path, fleet: &Fleet) -> Result<f64, String> {
    let started = Instant::now();
    let output = Command::new(qga)
        .env_remove("QGA_SOCKET")
        .arg("--socket")
        .arg(fleet.pattern())
        .arg("ping")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", qga.display()))?;
    let elapsed = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let answered = stdout.lines().filter(|l| l.ends_with(": ok")).count();
    if !output.status.success() || answered != fleet.agents.len() {
        return Err(format!(
            "qga ping: {} ({answered} of {} answered): {}",
            output.status,
            fleet.agents.len(),
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .next()
                .unwrap_or_default()
        ));
    }
    Ok(elapsed)
}

/// The `qga` command's path in-process: a thread per agent, each connecting (with the
/// handshake) and pinging: seconds.
fn fan_out_threads(fleet: &Fleet) -> Result<f64, String> {
    let sockets = fleet.sockets();
    let options = Options::default();
    let started = Instant::now();
    let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let threads: Vec<_> = sockets
            .iter()
            .map(|socket| {
                let options = options.clone();
                scope.spawn(move || {
                    let mut client = Client::connect(&Address::Unix(socket.clone()), options)
                        .map_err(|e| e.to_string())?;
                    client
                        .call_raw("guest-ping", None)
                        .map(drop)
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
        return Err(format!("fan-out: {e}"));
    }
    Ok(elapsed)
}

/// Runs the benchmark.
pub fn run(root: &Path, quick: bool) -> Result<(), String> {
    if !Path::new(QEMU_GA).exists() {
        return Err(format!(
            "{QEMU_GA} is missing: the figures for scale need QEMU's agent \
             (apt-get install qemu-guest-agent)"
        ));
    }
    if cfg!(debug_assertions) {
        return super::rerun_in_release(root, &["bench", "client"], quick);
    }
    let began = Instant::now();
    let plan = Plan::new(quick);
    phase("building qga (release) and qga-agent (dist: static, LTO)");
    crate::build::cargo_build(root, &["--release", "-p", "qga-client"], None)?;
    let qga = target_dir(root).join("release").join("qga");
    let flavors = [
        Flavor {
            name: "qga-agent",
            binary: crate::build::guest_agent(root)?,
        },
        Flavor {
            name: "qemu-ga",
            binary: PathBuf::from(QEMU_GA),
        },
    ];

    let data_dir = tempfile::Builder::new()
        .prefix("qga-bench-data-")
        .tempdir()
        .map_err(|e| format!("cannot create a temp dir: {e}"))?;
    let data_file = data_dir.path().join("data.bin");
    std::fs::write(&data_file, noise(plan.file_size))
        .map_err(|e| format!("cannot write the data file: {e}"))?;
    let size = plan.file_size as u64;
    let mib = plan.file_size / MIB;

    let agents = [Agent::start(&flavors[0])?, Agent::start(&flavors[1])?];
    phase(&format!(
        "guest file → host file, 4 MiB chunks ({} × {mib} MiB)",
        plan.copy_rounds
    ));
    let read_default = read_to_host(&agents, &data_file, size, 4 * MIB, plan.copy_rounds)?;
    phase(&format!(
        "guest file → host file, 48 MiB chunks ({} × {mib} MiB)",
        plan.copy_rounds
    ));
    let read_big = read_to_host(&agents, &data_file, size, 48 * MIB, plan.copy_rounds)?;
    phase(&format!(
        "host file → guest file, 4 MiB chunks ({} × {mib} MiB)",
        plan.copy_rounds
    ));
    let write = write_to_guest(&agents, &data_file, size, 4 * MIB, plan.copy_rounds)?;
    drop(agents);
    drop(data_dir);
    phase(&format!(
        "guest file → host file through a stand-in agent ({} × {mib} MiB)",
        plan.copy_rounds
    ));
    let ceiling = client_ceiling(size, 4 * MIB, plan.copy_rounds)?;

    phase(&format!("starting {AGENTS} agents of each kind"));
    let fleets = [
        Fleet::start(&flavors[0], AGENTS)?,
        Fleet::start(&flavors[1], AGENTS)?,
    ];
    phase(&format!(
        "handshake + guest-ping on {AGENTS} agents, qga command ({} rounds)",
        plan.fan_out_rounds
    ));
    let cli = interleaved(plan.fan_out_rounds, |i| fan_out_cli(&qga, &fleets[i]))?;
    phase(&format!(
        "handshake + guest-ping on {AGENTS} agents, threads in-process ({} rounds)",
        plan.fan_out_rounds
    ));
    let threads = interleaved(plan.fan_out_rounds, |i| fan_out_threads(&fleets[i]))?;
    drop(fleets);

    const GB_PER_SEC: Option<(&str, f64)> = Some(("≥ 1 GB/s", 1e9));
    const HALF_SECOND: Option<(&str, f64)> = Some(("≤ 0.5 s", 0.5));
    let rows = vec![
        Row {
            what: format!("guest file → host file, {mib} MiB, read_file (4 MiB chunks)"),
            unit: Unit::MBPerSec,
            ours: read_default[0],
            qemu: Some(read_default[1]),
            target: GB_PER_SEC,
        },
        Row {
            what: format!("guest file → host file, {mib} MiB, 48 MiB chunks"),
            unit: Unit::MBPerSec,
            ours: read_big[0],
            qemu: Some(read_big[1]),
            target: None,
        },
        Row {
            what: format!(
                "guest file → host file, {mib} MiB, 4 MiB chunks, stand-in agent \
                 (the client's own ceiling)"
            ),
            unit: Unit::MBPerSec,
            ours: ceiling,
            qemu: None,
            target: None,
        },
        Row {
            what: format!("host file → guest file, {mib} MiB, write_file (4 MiB chunks)"),
            unit: Unit::MBPerSec,
            ours: write[0],
            qemu: Some(write[1]),
            target: None,
        },
        Row {
            what: format!(
                "handshake + guest-ping on {AGENTS} agents: `qga --socket 'vm*.sock' ping`"
            ),
            unit: Unit::Millis,
            ours: cli[0],
            qemu: Some(cli[1]),
            target: HALF_SECOND,
        },
        Row {
            what: format!("handshake + guest-ping on {AGENTS} agents: a thread each, in-process"),
            unit: Unit::Millis,
            ours: threads[0],
            qemu: Some(threads[1]),
            target: HALF_SECOND,
        },
    ];

    let with_target = rows.iter().filter(|r| r.target.is_some()).count();
    let missed = rows.iter().filter(|r| r.met() == Some(false)).count();
    let notes = [
        format!(
            "Run: `cargo xtask bench client{}`, {:.0} s, {} CPUs; ours {} (dist build: static, LTO), {}.",
            if plan.quick { " --quick" } else { "" },
            began.elapsed().as_secs_f64(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            version(&flavors[0].binary),
            version(&flavors[1].binary),
        ),
        format!(
            "Copies: the median of {} rounds, interleaved between the agents; the host file \
             is written to the page cache (no fsync); MB = 10^6 bytes. The 1 GB/s target is \
             the copy as read_file does it (4 MiB chunks, one read in flight); the 48 MiB \
             and stand-in rows are for scale.",
            plan.copy_rounds
        ),
        "Stand-in agent: a thread on the other end of a socket pair that answers every \
         guest-file-read with one chunk encoded in advance, so that the figure is the \
         client's work alone (requests, JSON, base64, the host file) on the same cores."
            .to_owned(),
        format!(
            "Fan-out: {AGENTS} agents of each kind running at once, each on its own unix \
             socket; every round connects afresh (0xFF + guest-sync-delimited with a random \
             id, then guest-ping); the median of {} rounds. The `qga` row is the whole \
             process (start, glob, {AGENTS} threads, exit).",
            plan.fan_out_rounds
        ),
        format!("Targets missed: {missed} of {with_target}."),
    ];

    println!("{}", text_table(&rows));
    for note in &notes {
        println!("{note}");
    }
    let out_dir = target_dir(root).join("bench");
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let out = out_dir.join("client.md");
    let mut markdown = String::from("# qga-client\n\n");
    markdown.push_str(&markdown_table(&rows));
    markdown.push('\n');
    for note in &notes {
        markdown.push_str(&format!("- {note}\n"));
    }
    std::fs::write(&out, markdown).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    eprintln!("bench: written to {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(unit: Unit, ours: f64, target: Option<(&'static str, f64)>) -> Row {
        Row {
            what: "x".into(),
            unit,
            ours,
            qemu: Some(ours / 2.0),
            target,
        }
    }

    #[test]
    fn verdicts_and_tables() {
        let fast = row(Unit::MBPerSec, 2e9, Some(("≥ 1 GB/s", 1e9)));
        assert_eq!(fast.met(), Some(true));
        let slow = row(Unit::MBPerSec, 5e8, Some(("≥ 1 GB/s", 1e9)));
        assert_eq!(slow.cells()[4], "NO: needs +100%");
        let quick = row(Unit::Millis, 0.25, Some(("≤ 0.5 s", 0.5)));
        assert_eq!(quick.cells()[1], "250 ms");
        assert_eq!(quick.met(), Some(true));
        assert_eq!(row(Unit::Millis, 1.0, None).met(), None);
        assert!(
            markdown_table(&[fast]).ends_with("| x | 2000 MB/s | 1000 MB/s | ≥ 1 GB/s | yes |\n")
        );
        assert!(text_table(&[slow])
            .lines()
            .nth(2)
            .unwrap()
            .starts_with("x "));
    }
}
