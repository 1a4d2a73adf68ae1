//! The project's tasks, run as `cargo xtask TASK`:
//!
//! - `regen [--check]`: rewrites the files generated from `qga-schema.json`, or with
//!   `--check` fails naming those that are stale (CI runs it).
//! - `bench [--quick]`: our agent against qemu-ga, side by side; a table of figures,
//!   also written to `target/bench/agent.md`. `bench client [--quick]`: the client's
//!   file copies and a 200-agent fan-out, written to `target/bench/client.md`.
//! - `demo`: our agent on a temporary unix socket, and the `qga` command against it.
//! - `dist`: builds the agent as it ships to guests (static, LTO) and prints its path.
//! - `vm [--agent PATH|qemu-ga] [--compare] [--keep] [--require-all]`: boots a Linux
//!   guest under QEMU with the agent on a virtio-serial port and exercises the
//!   system-changing commands (`--compare`: suspend with ours and qemu-ga side by side).

mod bench;
mod build;
mod demo;
mod regen;
mod vm;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask TASK

tasks:
  bench [--quick]   build our agent in release and measure it against qemu-ga
                    (written to target/bench/agent.md; --quick: a shorter run)
  bench client [--quick]
                    measure qga-client: file copies and 200 agents at once
                    (written to target/bench/client.md)
  demo              run our agent on a temporary socket and talk to it with qga
  dist              build qga-agent for guests (statically linked, LTO) and
                    print its path
  regen [--check]   rewrite the files generated from qga-schema.json
                    (--check: change nothing, fail if any is stale)
  vm [--agent PATH|qemu-ga] [--compare] [--keep] [--require-all]
                    run the agent in a QEMU guest and exercise the commands
                    that change a system (default agent: ours, as dist builds it;
                    --compare: the suspend scenarios with ours and Debian's qemu-ga)";

/// A task and its options.
#[derive(Debug, PartialEq, Eq)]
enum Task {
    Regen { mode: regen::Mode },
    Vm { args: Vec<String> },
    Demo,
    Dist,
    Bench { quick: bool },
    BenchClient { quick: bool },
}

fn parse(args: &[String]) -> Result<Task, String> {
    let (task, rest) = args.split_first().ok_or_else(|| USAGE.to_owned())?;
    match (task.as_str(), rest) {
        ("regen", []) => Ok(Task::Regen {
            mode: regen::Mode::Write,
        }),
        ("regen", [flag]) if flag == "--check" => Ok(Task::Regen {
            mode: regen::Mode::Check,
        }),
        ("regen", _) => Err(format!("regen takes only --check\n\n{USAGE}")),
        ("demo", []) => Ok(Task::Demo),
        ("dist", []) => Ok(Task::Dist),
        ("bench", []) => Ok(Task::Bench { quick: false }),
        ("bench", [flag]) if flag == "--quick" => Ok(Task::Bench { quick: true }),
        ("bench", [what]) if what == "client" => Ok(Task::BenchClient { quick: false }),
        ("bench", [what, flag]) if what == "client" && flag == "--quick" => {
            Ok(Task::BenchClient { quick: true })
        }
        ("bench", _) => Err(format!(
            "bench takes only --quick, or client [--quick]\n\n{USAGE}"
        )),
        ("vm", rest) => Ok(Task::Vm {
            args: rest.to_vec(),
        }),
        ("-h" | "--help" | "help", _) => Err(USAGE.to_owned()),
        (other, _) => Err(format!("unknown task '{other}'\n\n{USAGE}")),
    }
}

/// The workspace's root, where `qga-schema.json` is.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ is inside the workspace")
        .to_owned()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match parse(&args) {
        Ok(Task::Regen { mode }) => regen::run(&root(), mode),
        Ok(Task::Vm { args }) => vm::run(&root(), &args),
        Ok(Task::Demo) => demo::run(&root()),
        Ok(Task::Dist) => build::guest_agent(&root()).map(|agent| println!("{}", agent.display())),
        Ok(Task::Bench { quick }) => bench::run(&root(), quick),
        Ok(Task::BenchClient { quick }) => bench::client::run(&root(), quick),
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn tasks() {
        assert_eq!(
            parse(&args("regen")),
            Ok(Task::Regen {
                mode: regen::Mode::Write
            })
        );
        assert_eq!(
            parse(&args("regen --check")),
            Ok(Task::Regen {
                mode: regen::Mode::Check
            })
        );
        assert!(parse(&args("regen --bogus"))
            .unwrap_err()
            .starts_with("regen takes only --check"));
        assert_eq!(
            parse(&args("bench --quick")),
            Ok(Task::Bench { quick: true })
        );
        assert_eq!(
            parse(&args("bench client --quick")),
            Ok(Task::BenchClient { quick: true })
        );
        assert!(parse(&args("bench --slow"))
            .unwrap_err()
            .starts_with("bench takes only --quick"));
        assert_eq!(parse(&args("dist")), Ok(Task::Dist));
        assert!(parse(&args("frobnicate"))
            .unwrap_err()
            .starts_with("unknown task 'frobnicate'"));
        assert!(parse(&[]).unwrap_err().starts_with("usage:"));
    }
}
