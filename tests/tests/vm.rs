//! The VM suite end to end: `cargo xtask vm` boots a Linux guest under QEMU (software
//! emulation), with the agent inside on a real virtio-serial port, and exercises the
//! commands that change a system (freeze, trim, time, passwords, vcpus, memory blocks,
//! suspend, reboot, shutdown). See `xtask/src/vm/`.
//!
//! Then `cargo xtask vm --compare` runs the suspend scenarios against our agent and
//! against Debian's qemu-ga in the same kind of guest, and prints both.
//!
//! Set `QGA_VM_AGENT` to run the suite against another agent binary instead (e.g.
//! `qemu-ga`, Debian's from the package cache). When this machine cannot obtain QEMU
//! (no apt-get, no package registry), the test is skipped with a message, except
//! under `CI=true`, where that is a failure.

mod xtask_vm;

/// Runs `cargo xtask vm ARGS`, which must succeed; `None` when this machine cannot run
/// a guest at all (never under CI, where that fails the test).
fn xtask_vm(args: &[&str]) -> Option<String> {
    let run = xtask_vm::run("the VM suite", args)?;
    assert!(
        run.status.success(),
        "cargo xtask vm {} failed ({})",
        args.join(" "),
        run.status
    );
    Some(run.stdout)
}

#[test]
fn vm_suite() {
    if !xtask_vm::machine_can_run("the VM suite") {
        return;
    }
    let agent = std::env::var("QGA_VM_AGENT").ok();
    let mut args = Vec::new();
    if let Some(agent) = &agent {
        args.extend(["--agent", agent.as_str()]);
    }
    let Some(stdout) = xtask_vm(&args) else {
        return;
    };
    for expected in [
        "ok   guest-ping",
        "ok   guest-suspend-ram",
        "ok   guest-shutdown:",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(expected)),
            "cargo xtask vm succeeded without a line starting {expected:?}"
        );
    }
    if agent.is_some() {
        return;
    }
    // Suspend: what QEMU's agent does in the same guest, next to what ours does.
    let Some(compared) = xtask_vm(&["--compare"]) else {
        return;
    };
    assert!(
        compared.lines().any(|l| l == "guest-suspend-ram"),
        "cargo xtask vm --compare printed no guest-suspend-ram results"
    );
}
