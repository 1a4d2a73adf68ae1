//! libvirt in the loop: `cargo xtask vm --libvirt` boots the VM suite's guest under a
//! private libvirtd (domain type `qemu`, the downloaded QEMU as its emulator) with our
//! agent inside, and checks each virsh command that goes through the agent
//! (guestinfo, domfsinfo, domifaddr, domhostname, domtime, guestvcpus,
//! set-user-password, the ssh key commands, domfsfreeze/domfsthaw, domfstrim,
//! qemu-agent-command, reboot and shutdown --mode agent). See `xtask/src/vm/libvirt.rs`.
//!
//! Set `QGA_VM_AGENT` to run it against another agent binary (e.g. `qemu-ga`,
//! Debian's from the package cache). When this machine cannot run it (not root, no
//! libvirt packages, no QEMU to download), the test is skipped with a message, except
//! under `CI=true`, where that is a failure (`.ci/run` installs the packages).

mod xtask_vm;

/// Every line the run prints, in order; each must be `ok`.
const CHECKS: &[&str] = &[
    "virsh qemu-agent-command",
    "virsh domhostname --source agent",
    "virsh guestinfo --user",
    "virsh guestinfo --os",
    "virsh guestinfo --timezone",
    "virsh guestinfo --hostname",
    "virsh guestinfo --filesystem",
    "virsh guestinfo --disk",
    "virsh guestinfo --interface",
    "virsh guestinfo",
    "virsh domfsinfo",
    "virsh domifaddr --source agent",
    "virsh domtime",
    "virsh domtime --time",
    "virsh domtime --sync",
    "virsh guestvcpus",
    "virsh guestvcpus --disable",
    "virsh guestvcpus --enable",
    "virsh set-user-password",
    "virsh set-user-password --encrypted",
    "virsh set-user-sshkeys",
    "virsh get-user-sshkeys",
    "virsh set-user-sshkeys --reset",
    "virsh set-user-sshkeys --remove",
    "virsh domfsfreeze",
    "virsh domfsthaw",
    "virsh domfsfreeze --mountpoint",
    "virsh domfsthaw --mountpoint",
    "virsh domfstrim",
    "virsh reboot --mode agent",
    "virsh shutdown --mode agent",
];

/// (status, name) of a result line such as `ok   virsh domtime: detail`.
fn result_line(line: &str) -> Option<(&str, &str)> {
    let (status, rest) = line.split_once(' ')?;
    if !matches!(status, "ok" | "FAIL" | "skip") {
        return None;
    }
    let rest = rest.trim_start();
    Some((status, rest.split_once(": ").map_or(rest, |(name, _)| name)))
}

#[test]
fn libvirt_checks() {
    if !xtask_vm::machine_can_run("the libvirt run") {
        return;
    }
    let agent = std::env::var("QGA_VM_AGENT").ok();
    let mut args = vec!["--libvirt", "--require-all"];
    if let Some(agent) = &agent {
        args.extend(["--agent", agent.as_str()]);
    }
    let Some(out) = xtask_vm::run("the libvirt run", &args) else {
        return;
    };
    let stdout = out.stdout;

    let lines: Vec<(&str, &str)> = stdout.lines().filter_map(result_line).collect();
    let mut problems = Vec::new();
    for name in CHECKS {
        match lines.iter().find(|(_, n)| n == name).map(|(s, _)| *s) {
            Some("ok") => {}
            Some(status) => problems.push(format!("{name}: {status}")),
            None => problems.push(format!("{name}: no result line")),
        }
    }
    for (status, name) in &lines {
        if !CHECKS.contains(name) {
            problems.push(format!("{name}: {status} (a line this test does not know)"));
        }
    }
    assert!(
        problems.is_empty() && out.status.success(),
        "cargo xtask vm --libvirt ({}): {}",
        out.status,
        problems.join("; ")
    );
}

#[test]
fn parses_result_lines() {
    assert_eq!(
        result_line("ok   virsh domtime: the guest clock is +0 s off"),
        Some(("ok", "virsh domtime"))
    );
    assert_eq!(
        result_line("skip virsh guestinfo --disk: the agent does not offer guest-get-disks"),
        Some(("skip", "virsh guestinfo --disk"))
    );
    assert_eq!(
        result_line("FAIL virsh guestinfo"),
        Some(("FAIL", "virsh guestinfo"))
    );
    assert_eq!(result_line("libvirt: 26 ok, 0 failed"), None);
}
