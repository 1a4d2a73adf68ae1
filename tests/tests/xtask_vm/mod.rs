//! Running `cargo xtask vm ...` from a test: the VM suite (`vm.rs`) and the libvirt run
//! (`libvirt.rs`) both boot guests through it, and both must tell "this machine cannot
//! run a guest" (a skip, except under CI) from "ran and failed".

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Instant;

/// The prefix of the xtask's error when the environment cannot run the suite
/// (`xtask/src/vm/mod.rs`, `UNAVAILABLE`).
const UNAVAILABLE: &str = "vm environment unavailable";

/// Whether the tests run under CI, where a missing prerequisite is a failure.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips the calling test (returns false) where no x86_64 Linux guest can run; under
/// CI that is a failure instead.
pub fn machine_can_run(what: &str) -> bool {
    if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        return true;
    }
    assert!(!under_ci(), "{what} needs an x86_64 Linux machine");
    eprintln!("skipping {what}: it needs an x86_64 Linux machine");
    false
}

/// What a run printed on its standard output, and how it ended.
pub struct Run {
    pub stdout: String,
    pub status: ExitStatus,
}

/// Runs `cargo xtask vm ARGS` from the workspace root, echoing its output and time;
/// `None` when this machine cannot run a guest at all (never under CI, where that
/// fails the test). `what` names the run in messages.
pub fn run(what: &str, args: &[&str]) -> Option<Run> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace");
    let started = Instant::now();
    let out = Command::new(env!("CARGO"))
        .args(["xtask", "vm"])
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .expect("run cargo xtask vm");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    eprintln!(
        "cargo xtask vm {}: {:.1} s",
        args.join(" "),
        started.elapsed().as_secs_f64()
    );
    if !out.status.success() && stderr.contains(UNAVAILABLE) {
        let reason = stderr
            .lines()
            .find(|l| l.contains(UNAVAILABLE))
            .unwrap_or_default();
        assert!(!under_ci(), "under CI {what} must run: {reason}");
        eprintln!("skipping {what}: {reason}");
        return None;
    }
    Some(Run {
        stdout,
        status: out.status,
    })
}
