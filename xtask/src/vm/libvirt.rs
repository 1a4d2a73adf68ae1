//! `cargo xtask vm --libvirt [--agent PATH|qemu-ga]`: the VM suite's guest under
//! libvirt, and the virsh commands that go through the guest agent checked against it
//! (the table is in [`super::libvirt_checks`]).
//!
//! Nothing is installed here: libvirt comes from the distribution's packages
//! (`.ci/run` installs them). The run starts a private libvirtd
//! ([`super::libvirtd`]), defines a domain of type `qemu` whose emulator is the
//! downloaded QEMU through a wrapper ([`super::domain`]), boots the suite's
//! initramfs and scratch disk in it, waits for the agent, runs the checks, and stops
//! everything again, also when something fails (the daemon's guard).

use std::path::Path;
use std::time::{Duration, Instant};

use super::domain::{self, Domain};
use super::fetch::Guest;
use super::libvirt_checks::{self, Facts};
use super::libvirtd::Libvirtd;
use super::virsh::Virsh;
use super::{initramfs, machine, secs, tail, WorkDir};

/// How long the guest may take from `virsh start` to an answering agent.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

/// The libvirt run. `label` names the agent in the summary.
pub fn run(
    guest: &Guest,
    agent: &Path,
    label: &str,
    keep: bool,
    require_all: bool,
    started: Instant,
) -> Result<(), String> {
    let work = WorkDir::create(keep)?;
    let initrd = initramfs::build(guest, agent, work.path())?;
    let disk = machine::make_disk(work.path())?;
    let console = work.path().join("console.log");

    let daemon_start = Instant::now();
    // Declared after `work`, so dropped (stopped, cleaned up) before it is removed.
    let mut daemon = Libvirtd::start(work.path(), &guest.qemu)?;
    let daemon_up = daemon_start.elapsed();

    let name = format!("qga-libvirt-{}", std::process::id());
    let virsh = Virsh::new(&daemon.socket, &name, daemon.dir.join("home"));
    let version = libvirt_version(&daemon.program);
    let emulator = domain::write_emulator(
        guest,
        &work.path().join("qemu-wrapper"),
        &daemon.qemu_pid_list(),
        std::process::id(),
    )?;
    let xml = Domain {
        name: &name,
        guest,
        emulator: &emulator,
        initrd: &initrd,
        disk: &disk,
        console: &console,
        udp_ports: domain::free_udp_ports()?,
    }
    .xml();
    let xml_path = work.path().join("domain.xml");
    std::fs::write(&xml_path, xml).map_err(|e| format!("{}: {e}", xml_path.display()))?;
    println!(
        "libvirt: {version}; agent {label}, kernel {}; libvirtd up in {}; prepared in {}",
        guest.release,
        secs(daemon_up),
        secs(started.elapsed())
    );

    let result = (|| -> Result<_, String> {
        virsh.run(&[Path::new("define"), &xml_path])?;
        let start = Instant::now();
        virsh.dom("start", &[])?;
        let defined_to_running = start.elapsed();
        let boot_to_agent = wait_for_agent(&virsh, start, &console)?;
        println!(
            "libvirt: domain started in {}, agent answered {} after virsh start",
            secs(defined_to_running),
            secs(boot_to_agent)
        );
        let enabled = virsh
            .agent("guest-info", None)
            .map(|info| super::scenarios::enabled_commands(&info))
            .ok();
        let facts = Facts {
            kernel_release: guest.release.clone(),
            disk: disk.clone(),
            pid_file: daemon.domain_pid_file(&name),
            work: work.path().to_path_buf(),
        };
        let checks_start = Instant::now();
        let summary = libvirt_checks::run(&virsh, &facts, enabled.as_deref(), require_all, true);
        Ok((summary, boot_to_agent, checks_start.elapsed()))
    })();

    // Whatever happened: the domain off and gone, then the daemon.
    if virsh.state().is_ok_and(|s| s != "shut off") {
        let _ = virsh.dom("destroy", &[]);
    }
    let _ = virsh.dom("undefine", &[]);
    let qemu_log = daemon.dir.join("log/qemu").join(format!("{name}.log"));
    let diagnostics = format!(
        "-- guest console --\n{}\n-- QEMU log --\n{}\n-- libvirtd --\n{}",
        tail(&std::fs::read_to_string(&console).unwrap_or_default(), 30),
        tail(&std::fs::read_to_string(&qemu_log).unwrap_or_default(), 10),
        daemon.log_tail(10)
    );
    daemon.stop();
    drop(daemon);
    if work.keep {
        println!("libvirt: kept {}", work.path().display());
    }

    let outcome = match result {
        Ok((summary, boot_to_agent, checks)) => {
            println!(
                "libvirt: {} ok, {} failed, {} skipped; {version}; agent {label}; \
                 libvirtd up in {}; agent answered {} after virsh start; checks {}{}; total {}",
                summary.ok,
                summary.failed,
                summary.skipped,
                secs(daemon_up),
                secs(boot_to_agent),
                secs(checks),
                summary
                    .reboot_to_agent
                    .map(|d| format!(" (reboot to agent {})", secs(d)))
                    .unwrap_or_default(),
                secs(started.elapsed())
            );
            if summary.failed == 0 {
                Ok(())
            } else {
                Err(format!("libvirt: {} check(s) failed", summary.failed))
            }
        }
        Err(e) => Err(format!("libvirt: {e}")),
    };
    if outcome.is_err() {
        eprintln!("libvirt: diagnostics (last lines):\n{diagnostics}");
    }
    outcome
}

/// "libvirt 9.0.0 (virsh 9.0.0)": what libvirtd and virsh say of themselves.
/// (`virsh version --daemon` would also want the version of a default emulator,
/// which the private daemon has none of.)
fn libvirt_version(libvirtd: &Path) -> String {
    let version = |program: &Path, arg: &str| {
        super::run_cmd(&program.to_string_lossy(), &[arg], None)
            .ok()
            .and_then(|out| {
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .last()
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "(version unknown)".into())
    };
    format!(
        "libvirt {} (virsh {})",
        version(libvirtd, "--version"),
        version(Path::new("virsh"), "--version")
    )
}

/// Pings the agent through libvirt until it answers; the time since `start`. Gives
/// up early if the guest's /init has seen the agent exit three times (`console`).
fn wait_for_agent(virsh: &Virsh, start: Instant, console: &Path) -> Result<Duration, String> {
    loop {
        let last = match virsh.agent("guest-ping", None) {
            Ok(_) => return Ok(start.elapsed()),
            Err(e) => e,
        };
        let state = virsh.state()?;
        if state != "running" {
            return Err(format!("the domain is {state} before its agent answered"));
        }
        let console = std::fs::read(console).unwrap_or_default();
        let exits = String::from_utf8_lossy(&console)
            .matches("qga-vm: agent exited")
            .count();
        if exits >= 3 {
            return Err(format!(
                "the agent exited {exits} times in the guest without answering"
            ));
        }
        if start.elapsed() >= BOOT_TIMEOUT {
            return Err(format!(
                "the agent did not answer in {} s: {last}",
                BOOT_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
