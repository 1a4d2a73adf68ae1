//! `cargo xtask vm [--agent PATH] [--libvirt] [--keep] [--require-all]`: the agent
//! inside a real Linux guest.
//!
//! QEMU, its firmware, a Debian kernel and busybox are fetched as Debian packages
//! (`apt-get download`, never installed) and unpacked into `target/vm-cache`. Each run
//! packs an initramfs around the agent under test, boots it under `qemu-system-x86_64`
//! (software emulation), and drives the agent from the host through the virtio-serial
//! chardev socket: one line per command exercised. The scenarios are a table in
//! [`scenarios`]; the guest's `/init` and other files are templates in `tests/vm/`.
//!
//! Layout: [`fetch`] (packages → `target/vm-cache/{debs,root}`, kernel, modules),
//! [`initramfs`] (the guest's root), [`machine`] (QEMU, scratch and swap disks), [`agent`] (the
//! JSON client for the agent and QMP), [`scenarios`] (what is exercised).
//!
//! `--libvirt` boots the same guest under libvirt instead and checks the virsh commands
//! that go through the agent: [`libvirt`] (the run), [`libvirtd`] (a private daemon),
//! [`domain`] (the domain and its emulator wrapper), [`virsh`] (the client),
//! [`libvirt_checks`] (what is checked).
//!
//! An environment that cannot obtain QEMU (no `apt-get`, no package registry) yields an
//! error starting with [`UNAVAILABLE`], so a caller (the `qga-tests` VM test) can tell
//! "cannot run here" from "ran and failed".

mod agent;
mod domain;
mod fetch;
mod initramfs;
mod libvirt;
mod libvirt_checks;
mod libvirtd;
mod machine;
mod scenarios;
mod virsh;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Prefix of the error returned when this machine cannot run the suite at all.
pub const UNAVAILABLE: &str = "vm environment unavailable";

const USAGE: &str =
    "usage: cargo xtask vm [--agent PATH|qemu-ga] [--compare|--libvirt] [--keep] [--require-all]

  --agent PATH    the agent binary to put in the guest (default: build ours as
                  `cargo xtask dist` does, static); `qemu-ga` means Debian's qemu-ga from
                  the package cache, for a run of the whole suite against it
  --compare       run the suspend scenarios against our agent and against Debian's
                  qemu-ga, each in its own guest (at the same time), and print the
                  results side by side; fails only if our agent's fail
  --libvirt       boot the guest under libvirt instead (a private libvirtd; needs root
                  and the packages libvirt-daemon-driver-qemu libvirt-daemon
                  libvirt-clients) and check the virsh commands that use the agent
  --keep          keep the run's temporary folder (console log, initramfs, disk images)
  --require-all   a scenario (or libvirt check) needing a command the agent does not
                  advertise in guest-info is a failure, not a skip

  QGA_VM_TRACE=1 prints every request to the agent and every response on stderr.";

/// The scenarios `--compare` runs (by name prefix).
const COMPARED: &[&str] = &["guest-suspend"];

enum AgentChoice {
    /// Build ours (`cargo xtask dist`) and use it.
    Ours,
    /// Debian's qemu-ga from the package cache.
    QemuGa,
    Path(PathBuf),
}

struct Options {
    agent: AgentChoice,
    compare: bool,
    libvirt: bool,
    keep: bool,
    require_all: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut opts = Options {
            agent: AgentChoice::Ours,
            compare: false,
            libvirt: false,
            keep: false,
            require_all: false,
        };
        let agent = |path: &str| match path {
            "qemu-ga" => AgentChoice::QemuGa,
            path => AgentChoice::Path(PathBuf::from(path)),
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--agent" => {
                    let path = it
                        .next()
                        .ok_or_else(|| format!("--agent needs a path\n{USAGE}"))?;
                    opts.agent = agent(path);
                }
                s if s.starts_with("--agent=") => opts.agent = agent(&s["--agent=".len()..]),
                "--compare" => opts.compare = true,
                "--libvirt" => opts.libvirt = true,
                "--keep" => opts.keep = true,
                "--require-all" => opts.require_all = true,
                "-h" | "--help" => {
                    println!("{USAGE}");
                    return Err(String::new());
                }
                other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
            }
        }
        if opts.compare && !matches!(opts.agent, AgentChoice::Ours) {
            return Err(format!(
                "--compare runs our agent and qemu-ga; no --agent\n{USAGE}"
            ));
        }
        if opts.compare && opts.libvirt {
            return Err(format!(
                "--compare and --libvirt are separate runs\n{USAGE}"
            ));
        }
        Ok(opts)
    }
}

/// Runs the VM suite. `args` are the arguments after `vm`.
pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let opts = match Options::parse(args) {
        Err(e) if e.is_empty() => return Ok(()), // --help
        other => other?,
    };
    let started = Instant::now();
    let target = crate::build::target_dir(root);
    if opts.libvirt {
        // Before anything is downloaded or built.
        libvirtd::check_prerequisites()?;
    }

    let guest = fetch::prepare(&target.join("vm-cache"))?;
    let agent = match &opts.agent {
        AgentChoice::Path(path) => {
            std::fs::canonicalize(path).map_err(|e| format!("agent '{}': {e}", path.display()))?
        }
        AgentChoice::QemuGa => guest.qemu_ga.clone(),
        AgentChoice::Ours => crate::build::guest_agent(root)?,
    };
    if opts.compare {
        return compare(&guest, &agent, &opts, started);
    }
    if opts.libvirt {
        let label = match opts.agent {
            AgentChoice::QemuGa => format!("qemu-ga {}", guest.qemu_ga_version),
            _ => agent.display().to_string(),
        };
        return libvirt::run(&guest, &agent, &label, opts.keep, opts.require_all, started);
    }
    let selection = scenarios::Selection {
        only: &[],
        echo: true,
        require_all: opts.require_all,
    };
    let run = GuestRun::prepare(&guest, &agent, opts.keep)?;
    println!(
        "vm: agent {}, kernel {}, prepared in {}",
        agent.display(),
        guest.release,
        secs(started.elapsed())
    );
    let (result, console) = run.run(&guest, &selection);
    let total = started.elapsed();

    let outcome = match result {
        Ok(summary) => {
            println!(
                "vm: {} ok, {} failed, {} skipped; first answer {} after QEMU start; suite {}; total {}",
                summary.ok,
                summary.failed,
                summary.skipped,
                secs(summary.first_answer),
                secs(summary.suite),
                secs(total)
            );
            if summary.failed == 0 {
                Ok(())
            } else {
                Err(format!("vm: {} scenario(s) failed", summary.failed))
            }
        }
        Err(e) => Err(e),
    };
    if outcome.is_err() {
        eprintln!("vm: guest console (last lines):\n{console}");
    }
    outcome
}

/// One guest around one agent: its folder, initramfs, scratch and swap disks.
struct GuestRun {
    work: WorkDir,
    initrd: PathBuf,
    disk: PathBuf,
    swap: PathBuf,
}

impl GuestRun {
    fn prepare(guest: &fetch::Guest, agent: &Path, keep: bool) -> Result<GuestRun, String> {
        let work = WorkDir::create(keep)?;
        let initrd = initramfs::build(guest, agent, work.path())?;
        let disk = machine::make_disk(work.path())?;
        let swap = machine::make_swap(work.path())?;
        Ok(GuestRun {
            work,
            initrd,
            disk,
            swap,
        })
    }

    /// Boots the guest, runs the selected scenarios, stops QEMU. Also returns the end
    /// of the guest's console.
    fn run(
        self,
        guest: &fetch::Guest,
        selection: &scenarios::Selection,
    ) -> (Result<scenarios::Summary, String>, String) {
        let booted = machine::Vm::boot(
            guest,
            self.work.path(),
            &self.initrd,
            &self.disk,
            &self.swap,
        );
        let mut vm = match booted {
            Ok(vm) => vm,
            Err(e) => return (Err(e), String::new()),
        };
        let result = scenarios::run_suite(&mut vm, selection);
        vm.stop();
        let console = vm.console_tail(40);
        if self.work.keep {
            println!("vm: kept {}", self.work.path().display());
        }
        (result, console)
    }
}

/// `--compare`: the same scenarios against our agent and Debian's qemu-ga, in two
/// guests at once; the results side by side.
fn compare(
    guest: &fetch::Guest,
    ours: &Path,
    opts: &Options,
    started: Instant,
) -> Result<(), String> {
    let qemu_ga = format!("qemu-ga {}", guest.qemu_ga_version);
    let runs = [
        GuestRun::prepare(guest, ours, opts.keep)?,
        GuestRun::prepare(guest, &guest.qemu_ga, opts.keep)?,
    ];
    println!(
        "vm: comparing {} with {qemu_ga} ({}), kernel {}, prepared in {}",
        ours.display(),
        guest.qemu_ga.display(),
        guest.release,
        secs(started.elapsed())
    );
    let selection = scenarios::Selection {
        only: COMPARED,
        echo: false,
        require_all: opts.require_all,
    };
    let [a, b] = runs;
    let (ours_result, theirs_result) = std::thread::scope(|scope| {
        let theirs = scope.spawn(|| b.run(guest, &selection));
        let ours = a.run(guest, &selection);
        (
            ours,
            theirs
                .join()
                .unwrap_or_else(|_| (Err("panicked".into()), String::new())),
        )
    });
    let lines = |r: &(Result<scenarios::Summary, String>, String)| match &r.0 {
        Ok(summary) => summary.lines.clone(),
        Err(e) => vec![scenarios::Line {
            status: "FAIL",
            name: "suite".into(),
            detail: e.clone(),
        }],
    };
    let (mine, theirs) = (lines(&ours_result), lines(&theirs_result));
    let mut names: Vec<&str> = Vec::new();
    for l in mine.iter().chain(&theirs) {
        if !names.contains(&l.name.as_str()) {
            names.push(&l.name);
        }
    }
    let width = qemu_ga.len().max("qga-agent".len());
    for name in names {
        println!("{name}");
        for (who, lines) in [("qga-agent", &mine), (qemu_ga.as_str(), &theirs)] {
            let found: Vec<&scenarios::Line> = lines.iter().filter(|l| l.name == name).collect();
            if found.is_empty() {
                println!("  {who:<width$}  -    (not run)");
            }
            for l in found {
                println!("  {who:<width$}  {:<4} {}", l.status, l.detail);
            }
        }
    }
    println!("vm: compared in {}", secs(started.elapsed()));
    let failed = mine.iter().filter(|l| l.status == "FAIL").count();
    if failed > 0 {
        eprintln!("vm: our guest's console (last lines):\n{}", ours_result.1);
        return Err(format!("vm: {failed} scenario(s) failed with our agent"));
    }
    Ok(())
}

/// Seconds with two decimals, e.g. `2.31 s`.
fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// A per-run temporary folder, removed on drop unless kept.
struct WorkDir {
    path: PathBuf,
    keep: bool,
}

impl WorkDir {
    fn create(keep: bool) -> Result<WorkDir, String> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("qga-vm-{}-{nanos:08x}", std::process::id()));
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(WorkDir { path, keep })
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Runs a command to completion, capturing its output; an error names the command and
/// quotes the end of its stderr.
fn run_cmd<S: AsRef<OsStr>>(
    program: &str,
    args: &[S],
    cwd: Option<&Path>,
) -> Result<std::process::Output, String> {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null());
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{program} {} failed ({}): {}",
            args.iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" "),
            out.status,
            tail(&String::from_utf8_lossy(&out.stderr), 6)
        ))
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Whether a program can be found through PATH.
fn have_program(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options() {
        let o = parse(&[]).unwrap();
        assert!(matches!(o.agent, AgentChoice::Ours) && !o.compare && !o.keep);
        let o = parse(&["--agent", "qemu-ga", "--keep"]).unwrap();
        assert!(matches!(o.agent, AgentChoice::QemuGa) && o.keep);
        let o = parse(&["--agent=/x/qemu-ga"]).unwrap();
        assert!(matches!(o.agent, AgentChoice::Path(p) if p == Path::new("/x/qemu-ga")));
        assert!(parse(&["--compare"]).unwrap().compare);
        let o = parse(&["--libvirt", "--agent", "qemu-ga"]).unwrap();
        assert!(o.libvirt && matches!(o.agent, AgentChoice::QemuGa));
        assert!(parse(&["--libvirt", "--compare"]).is_err());
        // --compare runs both agents itself.
        assert!(parse(&["--compare", "--agent", "qemu-ga"]).is_err());
        assert!(parse(&["--agent"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }

    /// The VM test (tests/tests/vm.rs) looks for lines such as `ok   guest-ping`.
    #[test]
    fn result_lines() {
        let line = |status, detail: &str| scenarios::Line {
            status,
            name: "guest-ping".into(),
            detail: detail.into(),
        };
        assert_eq!(line("ok", "").to_string(), "ok   guest-ping");
        assert_eq!(line("FAIL", "why").to_string(), "FAIL guest-ping: why");
        assert_eq!(line("skip", "why").to_string(), "skip guest-ping: why");
    }

    #[test]
    fn suspend_scenarios_are_compared() {
        for name in [
            "guest-suspend-disk",
            "guest-suspend-hybrid",
            "guest-suspend-ram",
        ] {
            assert!(scenarios::SCENARIOS.iter().any(|s| s.name == name));
            assert!(COMPARED.iter().any(|p| name.starts_with(p)));
        }
    }
}
