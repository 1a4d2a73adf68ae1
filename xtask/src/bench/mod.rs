//! `cargo xtask bench [--quick]`: our agent against QEMU's (Debian's qemu-ga 7.2),
//! side by side.
//!
//! Our agent is built as it ships (`cargo xtask dist`: static, LTO). Each agent serves a unix socket in its own temp dir
//! (removed afterwards; the agents are killed by pid) and is driven by the same
//! client, `qga-client`; the measurements alternate between the two agents round by
//! round. Only harmless requests are sent: `guest-ping`, file reads and writes inside
//! temp dirs, `guest-exec` of `true`.
//!
//! Printed as a table, and written as Markdown to `target/bench/agent.md`: ping
//! latency, pipelined pings, file reads (1 MiB and 48 MiB chunks) and the agent's
//! peak RSS during the 48 MiB ones, file writes, exec cycles (status polled without
//! pause and with a backoff from 1 ms, and as a share of `true` spawned by the
//! benchmark itself in the same rounds), idle RSS and start-up time, each with the
//! ratio ours/qemu-ga and the target it is held to. A full run
//! takes under a minute, `--quick` about ten seconds (plus, the first time, building
//! xtask in release: the benchmark runs from a release build so that the client's
//! own work does not cap the figures).
//!
//! `QGA_BENCH_ONLY` (a comma-separated list of `startup`, `ping`, `pipelined`,
//! `exec`, `write`, `read`, `read-big`) runs only those measurements; the table
//! then has only their rows. `QGA_BENCH_AGENT` names an agent binary to measure
//! instead of building the dist one (to set two builds side by side).

mod agent;
pub mod client;
mod measure;
mod report;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build::target_dir;
use std::time::Instant;

use agent::{Agent, Flavor};
use measure::Both;
use report::{Better, Row, Target, Unit};

/// QEMU's agent, as Debian's qemu-guest-agent package installs it.
const QEMU_GA: &str = "/usr/sbin/qemu-ga";

const MIB: usize = 1 << 20;

/// The largest `guest-file-read` both agents allow.
const BIG_CHUNK: usize = 48 * MIB;

/// The measurements `QGA_BENCH_ONLY` can select.
const MEASUREMENTS: &[&str] = &[
    "startup",
    "ping",
    "pipelined",
    "exec",
    "write",
    "read",
    "read-big",
];

/// Which measurements run: those `QGA_BENCH_ONLY` lists, or all.
#[derive(Debug, Clone)]
struct Selection(Option<Vec<String>>);

impl Selection {
    fn from_env() -> Result<Selection, String> {
        let Some(list) = std::env::var_os("QGA_BENCH_ONLY") else {
            return Ok(Selection(None));
        };
        let list = list.to_string_lossy();
        let names: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(bad) = names.iter().find(|n| !MEASUREMENTS.contains(&n.as_str())) {
            return Err(format!(
                "QGA_BENCH_ONLY: unknown measurement {bad:?} (known: {})",
                MEASUREMENTS.join(", ")
            ));
        }
        Ok(Selection(Some(names)))
    }

    fn has(&self, name: &str) -> bool {
        self.0
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == name))
    }
}

/// How much each measurement does.
#[derive(Debug, Clone, Copy)]
struct Plan {
    quick: bool,
    ping_calls: usize,
    pipelined: usize,
    pipelined_rounds: usize,
    file_size: usize,
    read_rounds: usize,
    write_size: usize,
    write_rounds: usize,
    exec_cycles: usize,
    start_runs: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                quick,
                ping_calls: 1000,
                pipelined: 10_000,
                pipelined_rounds: 2,
                file_size: 64 * MIB,
                read_rounds: 2,
                write_size: 32 * MIB,
                write_rounds: 2,
                exec_cycles: 100,
                start_runs: 10,
            }
        } else {
            Plan {
                quick,
                ping_calls: 2000,
                pipelined: 10_000,
                pipelined_rounds: 7,
                file_size: 256 * MIB,
                read_rounds: 3,
                write_size: 128 * MIB,
                write_rounds: 3,
                exec_cycles: 1000,
                start_runs: 20,
            }
        }
    }
}

/// Runs the benchmark (`cargo xtask ARGS`) from a release build of xtask: in a debug
/// build the client's JSON and base64 work, not the agents, would set the file
/// transfer figures.
pub(super) fn rerun_in_release(root: &Path, args: &[&str], quick: bool) -> Result<(), String> {
    phase("building xtask (release)");
    crate::build::cargo_build(root, &["--release", "-p", "xtask"], None)?;
    let xtask = target_dir(root).join("release").join("xtask");
    let mut command = Command::new(&xtask);
    command.current_dir(root).args(args);
    if quick {
        command.arg("--quick");
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run {}: {e}", xtask.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "the release build of the benchmark failed ({status})"
        ))
    }
}

/// Pseudo-random bytes (xorshift): nothing for a file system or a pipe to shortcut.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut data = Vec::with_capacity(len + 8);
    while data.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    data.truncate(len);
    data
}

fn start_both(flavors: &Both<Flavor>) -> Result<Both<Agent>, String> {
    Ok([Agent::start(&flavors[0])?, Agent::start(&flavors[1])?])
}

fn phase(what: &str) {
    eprintln!("bench: {what}");
}

/// The version line of `binary --version`, if it gives one.
fn version(binary: &Path) -> String {
    Command::new(binary)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .find(|line| !line.trim().is_empty())
                .map(|line| line.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown version".to_owned())
}

/// A target of ours relative to qemu-ga's figure.
fn relative(qemu: f64, factor: f64, better: Better) -> Target {
    let text = match better {
        Better::Lower if factor == 1.0 => "≤ qemu-ga".to_owned(),
        Better::Lower => format!("≤ {factor}×"),
        Better::Higher => format!("≥ {factor}×"),
    };
    Target {
        text,
        limit: qemu * factor,
        better,
    }
}

/// Runs the benchmark.
pub fn run(root: &Path, quick: bool) -> Result<(), String> {
    if !Path::new(QEMU_GA).exists() {
        return Err(format!(
            "{QEMU_GA} is missing: the comparison needs QEMU's agent \
             (apt-get install qemu-guest-agent)"
        ));
    }
    if cfg!(debug_assertions) {
        return rerun_in_release(root, &["bench"], quick);
    }
    let selection = Selection::from_env()?;
    let began = Instant::now();
    let plan = Plan::new(quick);
    let ours = match std::env::var_os("QGA_BENCH_AGENT") {
        Some(binary) => PathBuf::from(binary),
        None => {
            phase("building qga-agent (dist: static, LTO)");
            crate::build::guest_agent(root)?
        }
    };
    let flavors: Both<Flavor> = [
        Flavor {
            name: "qga-agent",
            binary: ours,
        },
        Flavor {
            name: "qemu-ga",
            binary: PathBuf::from(QEMU_GA),
        },
    ];

    let reads = selection.has("read") || selection.has("read-big");
    let data_dir = tempfile::Builder::new()
        .prefix("qga-bench-data-")
        .tempdir()
        .map_err(|e| format!("cannot create a temp dir: {e}"))?;
    let data_file = data_dir.path().join("data.bin");
    if reads {
        std::fs::write(&data_file, noise(plan.file_size))
            .map_err(|e| format!("cannot write the data file: {e}"))?;
    }
    let file_size = plan.file_size as u64;

    let start = if selection.has("startup") {
        phase(&format!(
            "start-up and idle RSS ({} starts each)",
            plan.start_runs
        ));
        Some(measure::startup(&flavors, plan.start_runs)?)
    } else {
        None
    };

    let shared = ["ping", "pipelined", "exec", "write", "read"];
    let agents = if shared.iter().any(|m| selection.has(m)) {
        Some(start_both(&flavors)?)
    } else {
        None
    };
    let mut latency = None;
    let mut pipelined = None;
    let mut exec = None;
    let mut write = None;
    let mut read_small = None;
    if let Some(agents) = &agents {
        if selection.has("ping") {
            phase(&format!(
                "guest-ping latency ({} calls each)",
                plan.ping_calls
            ));
            latency = Some(measure::ping_latency(agents, plan.ping_calls)?);
        }
        if selection.has("pipelined") {
            phase(&format!(
                "pipelined pings ({} × {})",
                plan.pipelined_rounds, plan.pipelined
            ));
            pipelined = Some(measure::pipelined(
                agents,
                plan.pipelined,
                plan.pipelined_rounds,
            )?);
        }
        if selection.has("exec") {
            phase(&format!(
                "guest-exec cycles ({} each: both agents polled tight and with backoff, \
                 and the spawn floor, interleaved)",
                plan.exec_cycles
            ));
            exec = Some(measure::exec(
                agents,
                plan.exec_cycles,
                &agents[0].environment(),
            )?);
        }
        if selection.has("write") {
            phase(&format!(
                "guest-file-write, 1 MiB chunks ({} × {} MiB)",
                plan.write_rounds,
                plan.write_size / MIB
            ));
            write = Some(measure::file_write(
                agents,
                &noise(plan.write_size),
                MIB,
                plan.write_rounds,
            )?);
        }
        if selection.has("read") {
            phase(&format!(
                "guest-file-read, 1 MiB chunks ({} × {} MiB)",
                plan.read_rounds,
                plan.file_size / MIB
            ));
            read_small = Some(measure::file_read(
                agents,
                &data_file,
                file_size,
                MIB,
                plan.read_rounds,
            )?);
        }
    }
    drop(agents);

    let mut big = None;
    if selection.has("read-big") {
        // Fresh agents: their VmHWM is then the peak of the 48 MiB reads.
        let agents = start_both(&flavors)?;
        phase(&format!(
            "guest-file-read, 48 MiB chunks ({} × {} MiB)",
            plan.read_rounds,
            plan.file_size / MIB
        ));
        let read_big =
            measure::file_read(&agents, &data_file, file_size, BIG_CHUNK, plan.read_rounds)?;
        let peak = [agents[0].memory("VmHWM")?, agents[1].memory("VmHWM")?].map(|b| b as f64);
        big = Some((read_big, peak));
    }
    drop(data_dir);

    // The base64 text of a 48 MiB read, the bulk of its response.
    let response = (4 * BIG_CHUNK.div_ceil(3)) as f64;
    let mut rows = Vec::new();
    if let Some(latency) = latency {
        rows.push(Row {
            what: format!("guest-ping latency, median of {}", plan.ping_calls),
            unit: Unit::Micros,
            ours: latency[0],
            qemu: latency[1],
            target: relative(latency[1], 0.5, Better::Lower),
        });
    }
    if let Some(pipelined) = pipelined {
        rows.push(Row {
            what: format!("{} pipelined guest-pings (raw socket)", plan.pipelined),
            unit: Unit::PerSec,
            ours: pipelined[0],
            qemu: pipelined[1],
            target: relative(pipelined[1], 4.0, Better::Higher),
        });
    }
    if let Some(read_small) = read_small {
        rows.push(Row {
            what: format!(
                "guest-file-read, {} MiB file, 1 MiB chunks",
                plan.file_size / MIB
            ),
            unit: Unit::MiBPerSec,
            ours: read_small[0],
            qemu: read_small[1],
            target: relative(read_small[1], 6.0, Better::Higher),
        });
    }
    if let Some((read_big, peak)) = big {
        rows.push(Row {
            what: format!(
                "guest-file-read, {} MiB file, 48 MiB chunks",
                plan.file_size / MIB
            ),
            unit: Unit::MiBPerSec,
            ours: read_big[0],
            qemu: read_big[1],
            target: relative(read_big[1], 6.0, Better::Higher),
        });
        rows.push(Row {
            what: "peak RSS (VmHWM) during the 48 MiB reads".to_owned(),
            unit: Unit::MiB,
            ours: peak[0],
            qemu: peak[1],
            target: Target {
                text: "≤ 1.5× response (64 MiB base64)".to_owned(),
                limit: 1.5 * response,
                better: Better::Lower,
            },
        });
    }
    if let Some(write) = write {
        rows.push(Row {
            what: format!(
                "guest-file-write, {} MiB in 1 MiB chunks",
                plan.write_size / MIB
            ),
            unit: Unit::MiBPerSec,
            ours: write[0],
            qemu: write[1],
            target: relative(write[1], 8.0, Better::Higher),
        });
    }
    if let Some(exec) = exec {
        rows.push(Row {
            what: "guest-exec `true` + guest-exec-status until exited".to_owned(),
            unit: Unit::PerSec,
            ours: exec.tight[0].rate,
            qemu: exec.tight[1].rate,
            target: relative(exec.tight[1].rate, 2.0, Better::Higher),
        });
        rows.push(Row {
            what: "the same, as a share of `true` spawned by the bench itself".to_owned(),
            unit: Unit::Percent,
            ours: exec.tight[0].rate / exec.floor,
            qemu: exec.tight[1].rate / exec.floor,
            target: Target {
                text: "≥ 90% of the floor".to_owned(),
                limit: 0.9,
                better: Better::Higher,
            },
        });
        rows.push(Row {
            what: "the same, status polled after 1, 2, 4… ms".to_owned(),
            unit: Unit::PerSec,
            ours: exec.backoff[0].rate,
            qemu: exec.backoff[1].rate,
            target: relative(exec.backoff[1].rate, 1.0, Better::Higher),
        });
    }
    if let Some(start) = start {
        rows.push(Row {
            what: "idle RSS after start-up (VmRSS)".to_owned(),
            unit: Unit::MiB,
            ours: start[0].idle_rss,
            qemu: start[1].idle_rss,
            target: Target {
                text: "≤ 2 MiB".to_owned(),
                limit: 2.0 * MIB as f64,
                better: Better::Lower,
            },
        });
        rows.push(Row {
            what: format!("start-up to first answer, median of {}", plan.start_runs),
            unit: Unit::Millis,
            ours: start[0].first_answer,
            qemu: start[1].first_answer,
            target: relative(start[1].first_answer, 1.0, Better::Lower),
        });
    }

    let missed = rows.iter().filter(|row| !row.met()).count();
    let mut notes = vec![
        format!(
            "Run: `cargo xtask bench{}`, {:.0} s, {} CPUs; ours {} ({}), {}.",
            if plan.quick { " --quick" } else { "" },
            began.elapsed().as_secs_f64(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            version(&flavors[0].binary),
            match std::env::var_os("QGA_BENCH_AGENT") {
                Some(binary) => format!("`QGA_BENCH_AGENT={}`", binary.to_string_lossy()),
                None => "dist build: static, LTO".to_owned(),
            },
            version(&flavors[1].binary),
        ),
        "Both agents on unix sockets (`-m unix-listen`), driven by qga-client, \
         interleaved round by round; MiB = 2^20 bytes."
            .to_owned(),
    ];
    if let Some(exec) = exec {
        notes.push(format!(
            "guest-exec: `true` with captured output, guest-exec-status polled without \
             pause (tight) or at once and then after pauses of 1 ms doubling to 100 ms \
             (backoff, as qga-client's exec_wait does); status \
             calls per cycle, tight: ours {:.1}, qemu-ga {:.1}; backoff: ours {:.1}, \
             qemu-ga {:.1}. The floor, in the same rounds: `true` spawned by the \
             benchmark itself (posix_spawn, both outputs on pipes read to their end, \
             waitpid; no agent, no protocol, no PATH search) in the agents' \
             environment: {:.0}/s, {:.2}× qemu-ga's tight cycle rate. Both agents run \
             with the PATH systemd gives a service.",
            exec.tight[0].polls,
            exec.tight[1].polls,
            exec.backoff[0].polls,
            exec.backoff[1].polls,
            exec.floor,
            exec.floor / exec.tight[1].rate
        ));
    }
    if big.is_some() {
        notes.push("Peak RSS: VmHWM of agents started afresh for the 48 MiB reads.".to_owned());
    }
    if let Some(only) = &selection.0 {
        notes.push(format!("Only: {} (`QGA_BENCH_ONLY`).", only.join(", ")));
    }
    notes.push(format!("Targets missed: {missed} of {}.", rows.len()));

    println!("{}", report::text(&rows));
    for note in &notes {
        println!("{note}");
    }

    let out_dir = target_dir(root).join("bench");
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let out = out_dir.join("agent.md");
    let mut markdown = String::from("# qga-agent against qemu-ga\n\n");
    markdown.push_str(&report::markdown(&rows));
    markdown.push('\n');
    for note in &notes {
        markdown.push_str(&format!("- {note}\n"));
    }
    std::fs::write(&out, markdown).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    eprintln!("bench: written to {}", out.display());
    Ok(())
}
