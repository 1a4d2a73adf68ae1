//! What the suite does inside the guest: a table of scenarios, run in order, one output
//! line per command exercised (`ok   NAME: detail`, `FAIL NAME: reason`,
//! `skip NAME: reason`).
//!
//! To add a scenario, add a row to [`SCENARIOS`]: either a single call with a check of
//! its `return` value (`call(...)`, [`Kind::Call`]), or a function driving several
//! calls with the helpers of [`Ctx`] (`custom(...)`, [`Kind::Custom`]). A scenario whose `requires` names a
//! command the agent does not list as enabled in guest-info is skipped (a failure under
//! `--require-all`). Rows that end or restart the guest come last.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::agent::{base64_decode, base64_encode, Agent, AgentError, Qmp};
use super::guest_user::{self, compact, AUTHORIZED_KEYS, SSH_DIR, STAT_EXPECTED, STAT_KEYS, USER};
use super::machine::{Vm, NIC_MAC, PARTED_SLOT, SCRATCH_SLOT};
use super::secs;

/// How long one command may take (software emulation is slow).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the guest may take to boot to a running agent.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the filesystems stay frozen while a writer waits.
const FREEZE_HOLD: Duration = Duration::from_secs(2);

pub struct Scenario {
    /// The name printed on the scenario's (last) line, usually the command.
    pub name: &'static str,
    /// Commands the agent must list as enabled for the scenario to run (besides the
    /// command of a [`Kind::Call`]).
    pub requires: &'static [&'static str],
    pub kind: Kind,
}

pub enum Kind {
    /// One call; `args` is JSON text ("" for none); `check` turns the `return` value
    /// into the detail printed, or a failure.
    Call {
        execute: &'static str,
        args: &'static str,
        check: fn(&Ctx<'_>, &Value) -> Outcome,
    },
    /// Several steps; may print intermediate lines with [`Ctx::report`].
    Custom(fn(&mut Ctx<'_>) -> Outcome),
}

/// The detail for an `ok` line, or the reason for a `FAIL` line.
pub type Outcome = Result<String, String>;

/// The suite, in order. All of it runs inside the guest only.
pub const SCENARIOS: &[Scenario] = &[
    call("guest-ping", "", check_empty),
    call("guest-info", "", check_info),
    call("guest-get-osinfo", "", check_osinfo),
    call("guest-get-host-name", "", check_host_name),
    call("guest-get-vcpus", "", check_vcpus),
    call("guest-get-fsinfo", "", check_fsinfo),
    custom(
        "guest-get-disks",
        &["guest-get-disks", "guest-exec", "guest-exec-status"],
        get_disks,
    ),
    custom(
        "guest-get-diskstats",
        &["guest-get-diskstats", "guest-exec", "guest-exec-status"],
        disk_stats,
    ),
    custom(
        "guest-get-cpustats",
        &["guest-get-cpustats", "guest-exec", "guest-exec-status"],
        cpu_stats,
    ),
    custom(
        "guest-get-load",
        &[
            "guest-get-load",
            "guest-file-open",
            "guest-file-read",
            "guest-file-close",
        ],
        load,
    ),
    custom(
        "guest-network-get-route",
        &["guest-network-get-route", "guest-exec", "guest-exec-status"],
        routes,
    ),
    custom("guest-ssh-remove-authorized-keys", SSH_COMMANDS, ssh_keys),
    custom(
        "guest-ssh-add-authorized-keys through a link",
        SSH_COMMANDS,
        ssh_keys_link,
    ),
    call("guest-fsfreeze-status", "", check_thawed),
    custom(
        "writer blocked while frozen",
        &[
            "guest-fsfreeze-freeze",
            "guest-fsfreeze-thaw",
            "guest-fsfreeze-status",
            "guest-exec",
            "guest-exec-status",
        ],
        freeze_with_writer,
    ),
    custom(
        "guest-fsfreeze-freeze-list",
        &[
            "guest-fsfreeze-freeze-list",
            "guest-fsfreeze-thaw",
            "guest-fsfreeze-status",
        ],
        freeze_list,
    ),
    call("guest-fstrim", "", check_fstrim),
    custom(
        "guest-set-time",
        &[
            "guest-set-time",
            "guest-get-time",
            "guest-exec",
            "guest-exec-status",
        ],
        set_and_get_time,
    ),
    custom(
        "guest-set-user-password",
        &[
            "guest-set-user-password",
            "guest-file-open",
            "guest-file-read",
            "guest-file-close",
        ],
        set_user_password,
    ),
    custom(
        "guest-set-vcpus",
        &["guest-set-vcpus", "guest-get-vcpus"],
        set_vcpus,
    ),
    call("guest-get-memory-block-info", "", check_block_info),
    custom(
        "guest-set-memory-blocks",
        &["guest-get-memory-blocks", "guest-set-memory-blocks"],
        memory_blocks,
    ),
    custom(
        "guest-suspend-disk",
        &[
            "guest-suspend-disk",
            "guest-exec",
            "guest-exec-status",
            "guest-file-open",
            "guest-file-read",
            "guest-file-close",
        ],
        suspend_disk,
    ),
    custom(
        "guest-suspend-hybrid",
        &["guest-suspend-hybrid", "guest-exec", "guest-exec-status"],
        suspend_hybrid,
    ),
    custom("guest-suspend-ram", &["guest-suspend-ram"], suspend_ram),
    custom(
        "guest-shutdown reboot",
        &[
            "guest-shutdown",
            "guest-file-open",
            "guest-file-read",
            "guest-file-close",
        ],
        reboot,
    ),
    custom("guest-shutdown", &["guest-shutdown"], shutdown),
];

/// What the ssh-key scenarios use: the three commands, guest-exec for `stat` and to
/// plant files, guest-file-* to read the key file.
const SSH_COMMANDS: &[&str] = &[
    "guest-ssh-get-authorized-keys",
    "guest-ssh-add-authorized-keys",
    "guest-ssh-remove-authorized-keys",
    "guest-exec",
    "guest-exec-status",
    "guest-file-open",
    "guest-file-read",
    "guest-file-close",
];

/// A row calling `execute` (which it requires) with `args` (JSON text, "" for none).
const fn call(
    execute: &'static str,
    args: &'static str,
    check: fn(&Ctx<'_>, &Value) -> Outcome,
) -> Scenario {
    Scenario {
        name: execute,
        requires: &[],
        kind: Kind::Call {
            execute,
            args,
            check,
        },
    }
}

/// A row running `run`, which needs the commands in `requires`.
const fn custom(
    name: &'static str,
    requires: &'static [&'static str],
    run: fn(&mut Ctx<'_>) -> Outcome,
) -> Scenario {
    Scenario {
        name,
        requires,
        kind: Kind::Custom(run),
    }
}

/// One printed line: `ok`, `FAIL` or `skip`, the name, the detail or reason.
#[derive(Debug, Clone)]
pub struct Line {
    pub status: &'static str,
    pub name: String,
    pub detail: String,
}

/// Adds a result line to `lines`, printing it as it comes when `echo` (the plain
/// suite and the libvirt run report alike).
pub fn record(lines: &mut Vec<Line>, echo: bool, status: &'static str, name: &str, detail: String) {
    let line = Line {
        status,
        name: name.to_string(),
        detail,
    };
    if echo {
        println!("{line}");
    }
    lines.push(line);
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:<4} {}", self.status, self.name)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// Which scenarios a run exercises, and whether it prints its lines as they come.
pub struct Selection {
    /// Only the scenarios whose name starts with one of these (all when empty).
    pub only: &'static [&'static str],
    /// Print each line at once (else only [`Summary::lines`] has them).
    pub echo: bool,
    /// A scenario the agent does not offer is a failure, not a skip.
    pub require_all: bool,
}

pub struct Summary {
    /// Every line, in order.
    pub lines: Vec<Line>,
    pub ok: usize,
    pub failed: usize,
    pub skipped: usize,
    /// From QEMU's start to the agent's first answer.
    pub first_answer: Duration,
    /// From the first answer to the end of the last scenario.
    pub suite: Duration,
}

/// What a scenario works with.
pub struct Ctx<'a> {
    pub vm: &'a mut Vm,
    pub agent: Agent,
    qmp: Option<Qmp>,
    /// The commands the agent lists as enabled (None if guest-info failed).
    pub enabled: Option<Vec<String>>,
    lines: Vec<Line>,
    echo: bool,
    ok: usize,
    failed: usize,
    skipped: usize,
}

/// Boots into the agent, runs every scenario, and counts.
pub fn run_suite(vm: &mut Vm, selection: &Selection) -> Result<Summary, String> {
    let require_all = selection.require_all;
    let agent = connect(vm)?;
    let mut ctx = Ctx {
        vm,
        agent,
        qmp: None,
        enabled: None,
        lines: Vec::new(),
        echo: selection.echo,
        ok: 0,
        failed: 0,
        skipped: 0,
    };
    ctx.wait_for_agent(BOOT_TIMEOUT)
        .map_err(|e| format!("the agent never answered: {e}"))?;
    let first_answer = ctx.vm.started.elapsed();
    if selection.echo {
        println!("vm: agent answered {} after QEMU start", secs(first_answer));
    }
    let suite_start = Instant::now();
    ctx.enabled = match ctx.call("guest-info", None) {
        Ok(info) => Some(enabled_commands(&info)),
        Err(_) => None,
    };

    let selected: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|s| {
            selection.only.is_empty() || selection.only.iter().any(|p| s.name.starts_with(p))
        })
        .collect();
    for (i, scenario) in selected.iter().enumerate() {
        if let Some(enabled) = &ctx.enabled {
            let called = match &scenario.kind {
                Kind::Call { execute, .. } => Some(*execute),
                Kind::Custom(_) => None,
            };
            let missing: Vec<&str> = called
                .into_iter()
                .chain(scenario.requires.iter().copied())
                .filter(|c| !enabled.iter().any(|e| e == c))
                .collect();
            if !missing.is_empty() {
                let why = format!("the agent does not offer {}", missing.join(", "));
                if require_all {
                    ctx.report(scenario.name, Err(why));
                } else {
                    ctx.skip(scenario.name, &why);
                }
                continue;
            }
        }
        let outcome = match &scenario.kind {
            Kind::Call {
                execute,
                args,
                check,
            } => {
                let args = if args.is_empty() {
                    None
                } else {
                    Some(
                        serde_json::from_str(args)
                            .map_err(|e| format!("{}: bad args: {e}", scenario.name))?,
                    )
                };
                ctx.call(execute, args).and_then(|ret| check(&ctx, &ret))
            }
            Kind::Custom(run) => run(&mut ctx),
        };
        let failed = outcome.is_err();
        ctx.report(scenario.name, outcome);
        let last = i + 1 == selected.len();
        if failed && !last {
            // Carry on if the guest still answers; otherwise the rest cannot run.
            let alive = ctx.vm.exited().is_none()
                && matches!(ctx.agent.sync(Duration::from_secs(10)), Ok(true));
            if !alive {
                let rest = selected.len() - i - 1;
                ctx.report(
                    "suite",
                    Err(format!("the guest is gone; {rest} scenario(s) not run")),
                );
                break;
            }
        }
    }
    Ok(Summary {
        lines: ctx.lines,
        ok: ctx.ok,
        failed: ctx.failed,
        skipped: ctx.skipped,
        first_answer,
        suite: suite_start.elapsed(),
    })
}

/// Connects to the agent's chardev socket as soon as QEMU has made it.
fn connect(vm: &mut Vm) -> Result<Agent, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = vm.exited() {
            return Err(format!("QEMU exited before the guest booted ({status})"));
        }
        match Agent::connect(&vm.agent_socket) {
            Ok(agent) => return Ok(agent),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "cannot connect to {}: {e}",
                    vm.agent_socket.display()
                ))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// The commands guest-info lists as enabled.
pub fn enabled_commands(info: &Value) -> Vec<String> {
    info.get("supported_commands")
        .and_then(Value::as_array)
        .map(|cmds| {
            cmds.iter()
                .filter(|c| c.get("enabled").and_then(Value::as_bool).unwrap_or(true))
                .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Ctx<'_> {
    /// Prints one result line and counts it.
    pub fn report(&mut self, name: &str, outcome: Outcome) {
        let (status, detail) = match outcome {
            Ok(detail) => {
                self.ok += 1;
                ("ok", detail)
            }
            Err(reason) => {
                self.failed += 1;
                ("FAIL", reason)
            }
        };
        self.line(status, name, detail);
    }

    fn skip(&mut self, name: &str, why: &str) {
        self.skipped += 1;
        self.line("skip", name, why.to_string());
    }

    fn line(&mut self, status: &'static str, name: &str, detail: String) {
        record(&mut self.lines, self.echo, status, name, detail);
    }

    /// Syncs (0xFF + guest-sync-delimited) until the agent answers, retrying every
    /// second, for at most `timeout`; fails early if QEMU exits.
    pub fn wait_for_agent(&mut self, timeout: Duration) -> Result<Duration, String> {
        let start = Instant::now();
        let exits = self.vm.agent_exits();
        loop {
            if let Some(status) = self.vm.exited() {
                return Err(format!("QEMU exited ({status})"));
            }
            let exited = self.vm.agent_exits().saturating_sub(exits);
            if exited >= 3 {
                return Err(format!(
                    "the agent exited {exited} times in the guest without answering"
                ));
            }
            if self.agent.sync(Duration::from_secs(1))? {
                return Ok(start.elapsed());
            }
            if start.elapsed() >= timeout {
                return Err(format!(
                    "no answer to guest-sync-delimited in {} s",
                    timeout.as_secs()
                ));
            }
        }
    }

    /// A command whose error response counts as a failure.
    pub fn call(&mut self, execute: &str, args: Option<Value>) -> Result<Value, String> {
        self.agent
            .call(execute, args, CALL_TIMEOUT)
            .map_err(|e| format!("{execute}: {e}"))?
            .map_err(|e| format!("{execute}: {e}"))
    }

    /// A command whose error response is a result too.
    pub fn try_call(
        &mut self,
        execute: &str,
        args: Option<Value>,
    ) -> Result<Result<Value, AgentError>, String> {
        self.agent
            .call(execute, args, CALL_TIMEOUT)
            .map_err(|e| format!("{execute}: {e}"))
    }

    /// Starts `argv` in the guest with its output captured; returns the pid.
    pub fn exec(&mut self, argv: &[&str]) -> Result<i64, String> {
        let ret = self.call(
            "guest-exec",
            Some(json!({"path": argv[0], "arg": &argv[1..], "capture-output": true})),
        )?;
        ret.get("pid")
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("guest-exec returned {ret}"))
    }

    /// Waits for a guest-exec'd process; returns (exit code, stdout, stderr).
    pub fn exec_wait(
        &mut self,
        pid: i64,
        timeout: Duration,
    ) -> Result<(i64, String, String), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let st = self.call("guest-exec-status", Some(json!({"pid": pid})))?;
            if st.get("exited").and_then(Value::as_bool) == Some(true) {
                let text = |k: &str| -> Result<String, String> {
                    match st.get(k).and_then(Value::as_str) {
                        Some(b64) => Ok(String::from_utf8_lossy(&base64_decode(b64)?).into_owned()),
                        None => Ok(String::new()),
                    }
                };
                let code = match (st.get("exitcode"), st.get("signal")) {
                    (Some(c), _) => c.as_i64().unwrap_or(-1),
                    (None, Some(sig)) => return Err(format!("pid {pid} killed by signal {sig}")),
                    (None, None) => -1,
                };
                return Ok((code, text("out-data")?, text("err-data")?));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "pid {pid} still running after {} s",
                    timeout.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs a shell script in the guest to completion; fails on a non-zero exit.
    pub fn sh(&mut self, script: &str) -> Result<String, String> {
        let pid = self.exec(&["/bin/sh", "-c", script])?;
        let (code, out, err) = self.exec_wait(pid, CALL_TIMEOUT)?;
        if code != 0 {
            return Err(format!("`{script}` exited {code}: {}", err.trim()));
        }
        Ok(out)
    }

    /// A guest file's content, through guest-file-open/read/close.
    pub fn read_file(&mut self, path: &str) -> Result<Vec<u8>, String> {
        let handle = self.call("guest-file-open", Some(json!({"path": path, "mode": "r"})))?;
        let mut data = Vec::new();
        let result = loop {
            match self.call(
                "guest-file-read",
                Some(json!({"handle": handle, "count": 65536})),
            ) {
                Ok(r) => {
                    let b64 = r.get("buf-b64").and_then(Value::as_str).unwrap_or("");
                    match base64_decode(b64) {
                        Ok(bytes) => data.extend(bytes),
                        Err(e) => break Err(e),
                    }
                    if r.get("eof").and_then(Value::as_bool) != Some(false) {
                        break Ok(());
                    }
                }
                Err(e) => break Err(e),
            }
        };
        self.call("guest-file-close", Some(json!({"handle": handle})))?;
        result.map(|()| data)
    }

    /// QEMU's monitor (connected on first use).
    pub fn qmp(&mut self) -> Result<&mut Qmp, String> {
        if self.qmp.is_none() {
            self.qmp = Some(Qmp::connect(&self.vm.qmp_socket)?);
        }
        Ok(self.qmp.as_mut().expect("just connected"))
    }
}

// ---- checks of single calls ----

fn check_empty(_: &Ctx<'_>, ret: &Value) -> Outcome {
    match ret {
        Value::Object(m) if m.is_empty() => Ok(String::new()),
        other => Err(format!("expected {{}}, got {other}")),
    }
}

fn check_info(_: &Ctx<'_>, ret: &Value) -> Outcome {
    let version = ret
        .get("version")
        .and_then(Value::as_str)
        .ok_or("no version")?;
    let cmds = ret
        .get("supported_commands")
        .and_then(Value::as_array)
        .ok_or("no supported_commands")?;
    let enabled = enabled_commands(ret);
    if !enabled.iter().any(|c| c == "guest-ping") {
        return Err("guest-ping is not listed as enabled".into());
    }
    Ok(format!(
        "version {version}, {} commands ({} enabled)",
        cmds.len(),
        enabled.len()
    ))
}

fn check_osinfo(_: &Ctx<'_>, ret: &Value) -> Outcome {
    let field = |k: &str| ret.get(k).and_then(Value::as_str).unwrap_or("");
    if field("id") != "qga-vm" {
        return Err(format!(
            "id is not qga-vm (from the guest's /etc/os-release): {ret}"
        ));
    }
    if !field("kernel-release").starts_with("6.") || field("machine") != "x86_64" {
        return Err(format!("unexpected kernel fields: {ret}"));
    }
    Ok(format!(
        "{} {}, {}",
        field("id"),
        field("version-id"),
        field("kernel-release")
    ))
}

fn check_host_name(_: &Ctx<'_>, ret: &Value) -> Outcome {
    match ret.get("host-name").and_then(Value::as_str) {
        Some("qga-vm") => Ok("qga-vm".into()),
        _ => Err(format!("expected host-name qga-vm, got {ret}")),
    }
}

fn check_vcpus(_: &Ctx<'_>, ret: &Value) -> Outcome {
    let cpus = ret.as_array().ok_or("not an array")?;
    let online = cpus
        .iter()
        .filter(|c| c.get("online").and_then(Value::as_bool) == Some(true))
        .count();
    if cpus.len() != 2 || online != 2 {
        return Err(format!("expected 2 online vcpus (-smp 2), got {ret}"));
    }
    Ok("2 vcpus online".into())
}

fn check_fsinfo(_: &Ctx<'_>, ret: &Value) -> Outcome {
    let fss = ret.as_array().ok_or("not an array")?;
    let scratch = fss
        .iter()
        .find(|f| f.get("mountpoint").and_then(Value::as_str) == Some("/mnt/scratch"))
        .ok_or_else(|| format!("/mnt/scratch not listed: {ret}"))?;
    let ty = scratch.get("type").and_then(Value::as_str).unwrap_or("");
    if ty != "ext4" {
        return Err(format!("/mnt/scratch has type {ty}: {scratch}"));
    }
    let disks = scratch
        .get("disk")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    Ok(format!(
        "{} filesystem(s); /mnt/scratch ext4 on {disks} disk(s)",
        fss.len()
    ))
}

fn check_thawed(_: &Ctx<'_>, ret: &Value) -> Outcome {
    match ret.as_str() {
        Some("thawed") => Ok("thawed".into()),
        _ => Err(format!("expected \"thawed\", got {ret}")),
    }
}

fn check_fstrim(_: &Ctx<'_>, ret: &Value) -> Outcome {
    let paths = ret
        .get("paths")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("no paths: {ret}"))?;
    let scratch = paths
        .iter()
        .find(|p| p.get("path").and_then(Value::as_str) == Some("/mnt/scratch"))
        .ok_or_else(|| format!("/mnt/scratch not trimmed: {ret}"))?;
    if let Some(err) = scratch.get("error") {
        return Err(format!("/mnt/scratch: {err}"));
    }
    let trimmed = scratch.get("trimmed").and_then(Value::as_u64).unwrap_or(0);
    Ok(format!(
        "{} path(s); {trimmed} bytes trimmed on /mnt/scratch",
        paths.len()
    ))
}

fn check_block_info(_: &Ctx<'_>, ret: &Value) -> Outcome {
    let size = ret
        .get("size")
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("no size: {ret}"))?;
    if size == 0 || !size.is_power_of_two() {
        return Err(format!("odd block size {size}"));
    }
    Ok(format!("{} MiB blocks", size >> 20))
}

// ---- multi-step scenarios ----

fn as_count(ret: &Value, what: &str) -> Result<i64, String> {
    ret.as_i64()
        .ok_or_else(|| format!("{what} returned {ret}, not a count"))
}

fn freeze_status(ctx: &mut Ctx<'_>) -> Result<String, String> {
    let st = ctx.call("guest-fsfreeze-status", None)?;
    st.as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("guest-fsfreeze-status returned {st}"))
}

/// Thaws if a failed scenario left the guest frozen.
fn thaw_if_frozen(ctx: &mut Ctx<'_>) {
    if matches!(freeze_status(ctx).as_deref(), Ok("frozen")) {
        let _ = ctx.call("guest-fsfreeze-thaw", None);
    }
}

/// A shell loop appending to a file on the scratch disk every 20 ms until told to stop;
/// prints the longest gap between two iterations, the number of iterations, and the
/// first and last iteration's time (centiseconds of /proc/uptime).
const WRITER: &str = r#"rm -f /tmp/qga-writer.stop
p=; first=; max=0; n=0
while [ ! -e /tmp/qga-writer.stop ]; do
    read u rest </proc/uptime
    echo "$u" >>/mnt/scratch/qga-writer.log
    c=${u%.*}${u#*.}
    if [ -n "$p" ] && [ $((c - p)) -gt $max ]; then max=$((c - p)); fi
    p=$c; n=$((n + 1)); first=${first:-$c}
    usleep 20000
done
echo "$max $n $first $p""#;

/// Freeze with a writer running on the scratch disk: the writer must be held for the
/// frozen interval, and only the commands allowed while frozen may run.
fn freeze_with_writer(ctx: &mut Ctx<'_>) -> Outcome {
    let result = freeze_with_writer_steps(ctx);
    if result.is_err() {
        thaw_if_frozen(ctx);
        let _ = ctx.sh("touch /tmp/qga-writer.stop");
    }
    result
}

fn freeze_with_writer_steps(ctx: &mut Ctx<'_>) -> Outcome {
    let writer = ctx.exec(&["/bin/sh", "-c", WRITER])?;
    std::thread::sleep(Duration::from_millis(700));

    let t0 = Instant::now();
    let frozen = ctx.call("guest-fsfreeze-freeze", None);
    let t1 = Instant::now();
    let n = as_count(&frozen?, "guest-fsfreeze-freeze")?;
    ctx.report(
        "guest-fsfreeze-freeze",
        if n == 1 {
            Ok(format!("{n} filesystem (the scratch disk)"))
        } else {
            Err(format!("froze {n} filesystems, expected 1"))
        },
    );

    let st = freeze_status(ctx);
    let st_ok = matches!(st.as_deref(), Ok("frozen"));
    ctx.report(
        "guest-fsfreeze-status",
        if st_ok {
            Ok("frozen".into())
        } else {
            Err(format!("{st:?} while frozen"))
        },
    );

    let ping = ctx
        .call("guest-ping", None)
        .map(|_| "answers while frozen".to_string());
    ctx.report("guest-ping", ping);

    for (cmd, args) in [
        ("guest-exec", json!({"path": "/bin/true"})),
        ("guest-file-open", json!({"path": "/tmp/x", "mode": "w"})),
    ] {
        let outcome = match ctx.try_call(cmd, Some(args))? {
            Err(e) if e.class == "CommandNotFound" && e.desc.contains("frozen") => {
                Ok(format!("refused while frozen ({})", e.desc))
            }
            Err(e) => Err(format!("refused with an unexpected error: {e}")),
            Ok(ret) => Err(format!("ran while frozen: {ret}")),
        };
        ctx.report(cmd, outcome);
    }

    let hold_until = t1 + FREEZE_HOLD;
    std::thread::sleep(hold_until.saturating_duration_since(Instant::now()));
    let t2 = Instant::now();
    let thawed = ctx.call("guest-fsfreeze-thaw", None);
    let t3 = Instant::now();
    let n = as_count(&thawed?, "guest-fsfreeze-thaw")?;
    ctx.report(
        "guest-fsfreeze-thaw",
        if n == 1 {
            Ok(format!("{n} filesystem"))
        } else {
            Err(format!("thawed {n}, expected 1"))
        },
    );

    std::thread::sleep(Duration::from_millis(300));
    ctx.sh("touch /tmp/qga-writer.stop")?;
    let (code, out, err) = ctx.exec_wait(writer, CALL_TIMEOUT)?;
    if code != 0 {
        return Err(format!("the writer exited {code}: {}", err.trim()));
    }
    let fields: Vec<u64> = out
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let [max_cs, iterations, first_cs, last_cs] = fields[..] else {
        return Err(format!("the writer printed {out:?}"));
    };
    // The longest gap is one ordinary iteration plus the time the write was held; an
    // ordinary iteration (a 20 ms sleep plus a fork under emulation) is the mean of the
    // others.
    let cs = |n: u64| Duration::from_millis(n * 10);
    let others = cs(last_cs.saturating_sub(first_cs).saturating_sub(max_cs));
    let iteration = others / u32::try_from(iterations.saturating_sub(2).max(1)).unwrap_or(u32::MAX);
    let held = cs(max_cs).saturating_sub(iteration);
    let (shortest, longest) = (t2 - t1, t3 - t0);
    let slack = Duration::from_millis(150) + 2 * iteration;
    let detail = format!(
        "a writer on the frozen disk was held {}, frozen {}..{} ({iterations} writes of {} ms)",
        secs(held),
        secs(shortest),
        secs(longest),
        iteration.as_millis()
    );
    if held + slack < shortest || held > longest + slack {
        return Err(detail);
    }
    Ok(detail)
}

/// Freeze only the scratch disk's mountpoint, then thaw.
fn freeze_list(ctx: &mut Ctx<'_>) -> Outcome {
    let result = (|| {
        let ret = ctx.call(
            "guest-fsfreeze-freeze-list",
            Some(json!({"mountpoints": ["/mnt/scratch"]})),
        )?;
        let n = as_count(&ret, "guest-fsfreeze-freeze-list")?;
        let st = freeze_status(ctx)?;
        let thawed = as_count(
            &ctx.call("guest-fsfreeze-thaw", None)?,
            "guest-fsfreeze-thaw",
        )?;
        if n != 1 || st != "frozen" || thawed != 1 {
            return Err(format!(
                "froze {n}, status {st}, thawed {thawed}; expected 1, frozen, 1"
            ));
        }
        Ok("froze /mnt/scratch only (1), status frozen, thawed 1".to_string())
    })();
    if result.is_err() {
        thaw_if_frozen(ctx);
    }
    result
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// The guest's clock (guest-get-time) minus `expected`, in seconds.
fn clock_offset(ctx: &mut Ctx<'_>, expected: i64) -> Result<f64, String> {
    let got = ctx.call("guest-get-time", None)?;
    let got = got
        .as_i64()
        .ok_or_else(|| format!("guest-get-time returned {got}"))?;
    Ok((got - expected) as f64 / 1e9)
}

/// Set the guest clock (and, as QEMU does, the RTC) a day ahead and read it back
/// within a second; put the system clock alone back with `date -s` in the guest; then
/// guest-set-time without `time` must bring the system clock to the RTC's time, a day
/// ahead again (within the RTC's one-second resolution); finally set both back.
fn set_and_get_time(ctx: &mut Ctx<'_>) -> Outcome {
    const DAY_NS: i64 = 86_400 * 1_000_000_000;
    let result = set_and_get_time_steps(ctx, DAY_NS);
    // Whatever happened, leave the guest with the right time in the clock and the RTC.
    let restored = ctx.call("guest-set-time", Some(json!({"time": now_ns()})));
    let detail = result?;
    restored?;
    Ok(detail)
}

fn set_and_get_time_steps(ctx: &mut Ctx<'_>, day_ns: i64) -> Outcome {
    let target = now_ns() + day_ns;
    let set_at = Instant::now();
    ctx.call("guest-set-time", Some(json!({"time": target})))?;
    let off = clock_offset(ctx, target + set_at.elapsed().as_nanos() as i64)?;
    if off.abs() > 1.0 {
        return Err(format!("guest-get-time is {off:.3} s off the time set"));
    }
    ctx.report(
        "guest-set-time",
        Ok(format!(
            "a day ahead, guest-get-time within {:.3} s",
            off.abs()
        )),
    );

    // The system clock alone back to now: busybox date(1) does not touch the RTC.
    ctx.sh(&format!("date -s @{} >/dev/null", now_ns() / 1_000_000_000))?;
    let off = clock_offset(ctx, now_ns())?;
    if off.abs() > 2.0 {
        return Err(format!(
            "`date -s` in the guest left the clock {off:.3} s off the host's"
        ));
    }
    ctx.call("guest-set-time", None)?;
    let off = clock_offset(ctx, now_ns() + day_ns)?;
    if off.abs() > 2.0 {
        return Err(format!(
            "without time: the clock is {:.3} s off the RTC's time (a day ahead); \
             it was not set from the RTC",
            off
        ));
    }
    Ok(format!(
        "without time: the clock set from the RTC (a day ahead, within {:.3} s); set back",
        off.abs()
    ))
}

fn shadow_field(ctx: &mut Ctx<'_>, user: &str) -> Result<String, String> {
    let shadow = ctx.read_file("/etc/shadow")?;
    let shadow = String::from_utf8_lossy(&shadow);
    shadow
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{user}:")))
        .and_then(|rest| rest.split(':').next())
        .map(str::to_string)
        .ok_or_else(|| format!("no {user} in /etc/shadow"))
}

/// A plain password becomes a new hash in /etc/shadow; a crypted one is stored as is.
fn set_user_password(ctx: &mut Ctx<'_>) -> Outcome {
    const CRYPTED: &str = "$6$qgavmsuite$8pyMG761HVeOSfs2FdTUkAfQr2dotpjRppiZfMMipuZFq2G2hyQlo2VE6jtVptZQmTN1TD0HRiboRJz3Xkd7h1";
    let before = shadow_field(ctx, "qgatest")?;
    ctx.call(
        "guest-set-user-password",
        Some(json!({"username": "qgatest", "password": base64_encode(b"Vm-Suite-1"), "crypted": false})),
    )?;
    let plain = shadow_field(ctx, "qgatest")?;
    if plain == before || !plain.starts_with('$') {
        return Err(format!("shadow entry went from {before:?} to {plain:?}"));
    }
    ctx.report(
        "guest-set-user-password",
        Ok(format!(
            "plain: qgatest's hash {before:?} -> {}...",
            plain.chars().take(6).collect::<String>()
        )),
    );
    ctx.call(
        "guest-set-user-password",
        Some(json!({"username": "qgatest", "password": base64_encode(CRYPTED.as_bytes()), "crypted": true})),
    )?;
    let crypted = shadow_field(ctx, "qgatest")?;
    if crypted != CRYPTED {
        return Err(format!(
            "crypted: shadow holds {crypted:?}, expected the hash given"
        ));
    }
    Ok("crypted: the hash given is in /etc/shadow".into())
}

fn cpu_online(ctx: &mut Ctx<'_>, id: i64) -> Result<bool, String> {
    let cpus = ctx.call("guest-get-vcpus", None)?;
    cpus.as_array()
        .and_then(|a| {
            a.iter()
                .find(|c| c.get("logical-id").and_then(Value::as_i64) == Some(id))
        })
        .and_then(|c| c.get("online").and_then(Value::as_bool))
        .ok_or_else(|| format!("vcpu {id} not in {cpus}"))
}

/// cpu1 offline, then back online.
fn set_vcpus(ctx: &mut Ctx<'_>) -> Outcome {
    for online in [false, true] {
        let ret = ctx.call(
            "guest-set-vcpus",
            Some(json!({"vcpus": [{"logical-id": 1, "online": online}]})),
        )?;
        if as_count(&ret, "guest-set-vcpus")? != 1 {
            return Err(format!("setting cpu1 online={online} returned {ret}"));
        }
        if cpu_online(ctx, 1)? != online {
            return Err(format!(
                "cpu1 is not {} after guest-set-vcpus",
                if online { "online" } else { "offline" }
            ));
        }
    }
    Ok("cpu1 offline, then online again".into())
}

fn block_online(blocks: &Value, index: u64) -> Option<bool> {
    blocks
        .as_array()?
        .iter()
        .find(|b| b.get("phys-index").and_then(Value::as_u64) == Some(index))?
        .get("online")?
        .as_bool()
}

/// Take one offlinable memory block offline and bring it back.
fn memory_blocks(ctx: &mut Ctx<'_>) -> Outcome {
    let blocks = ctx.call("guest-get-memory-blocks", None)?;
    let list = blocks
        .as_array()
        .ok_or_else(|| format!("guest-get-memory-blocks returned {blocks}"))?;
    let mut candidates: Vec<u64> = list
        .iter()
        .filter(|b| b.get("online").and_then(Value::as_bool) == Some(true))
        .filter(|b| b.get("can-offline").and_then(Value::as_bool) == Some(true))
        .filter_map(|b| b.get("phys-index").and_then(Value::as_u64))
        .collect();
    ctx.report(
        "guest-get-memory-blocks",
        Ok(format!(
            "{} blocks, {} offlinable",
            list.len(),
            candidates.len()
        )),
    );
    candidates.sort_unstable_by(|a, b| b.cmp(a));
    let mut refusals = Vec::new();
    for index in candidates.into_iter().take(4) {
        let set = |online: bool| json!({"mem-blks": [{"phys-index": index, "online": online}]});
        let ret = ctx.call("guest-set-memory-blocks", Some(set(false)))?;
        let response = ret
            .get(0)
            .and_then(|r| r.get("response"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if response != "success" {
            refusals.push(format!("block {index}: {ret}"));
            continue;
        }
        let offline =
            block_online(&ctx.call("guest-get-memory-blocks", None)?, index) == Some(false);
        let ret = ctx.call("guest-set-memory-blocks", Some(set(true)))?;
        let back = ret
            .get(0)
            .and_then(|r| r.get("response"))
            .and_then(Value::as_str)
            == Some("success");
        let online = block_online(&ctx.call("guest-get-memory-blocks", None)?, index) == Some(true);
        if !offline || !back || !online {
            return Err(format!(
                "block {index}: offline seen {offline}, online again {back}/{online}"
            ));
        }
        return Ok(format!("block {index} offline, then online again"));
    }
    Err(format!(
        "no block could be taken offline: {}",
        refusals.join("; ")
    ))
}

/// What the guest can do about hibernation: whether `/sys/power/state` lists `disk`,
/// and how many swap areas it has (where a hibernation image would go).
fn hibernation_setup(ctx: &mut Ctx<'_>) -> Result<(bool, usize), String> {
    let out = ctx.sh("cat /sys/power/state; echo; tail -n +2 /proc/swaps | wc -l")?;
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    let states = lines.next().unwrap_or("");
    let swaps = lines
        .next()
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("cannot count swap areas: {out:?}"))?;
    Ok((states.split_whitespace().any(|w| w == "disk"), swaps))
}

/// guest-suspend-disk or guest-suspend-hybrid in a guest that cannot do it (no swap
/// area to hold an image; no pm-utils or systemd for hybrid): the agent must answer
/// with the error matching what the guest lacks, and stay up. `expect` is given
/// the guest's setup and returns the text the error must contain, or `None` when the
/// guest could really do it (which this suite does not set up, so that fails).
fn suspend_refused(
    ctx: &mut Ctx<'_>,
    command: &str,
    expect: fn(bool, usize) -> Option<&'static str>,
) -> Outcome {
    let (disk, swaps) = hibernation_setup(ctx)?;
    let setup = format!(
        "/sys/power/state {} disk, {swaps} swap area(s)",
        if disk { "lists" } else { "lacks" }
    );
    let Some(expected) = expect(disk, swaps) else {
        return Err(format!(
            "{setup}: this guest could do it; the suite expects it cannot"
        ));
    };
    let start = Instant::now();
    ctx.agent.send(command, None)?;
    // On success nothing is answered and the guest is gone (hibernated): wait long
    // enough for a kernel that tries to make an image and gives up.
    let deadline = start + Duration::from_secs(60);
    let answer = loop {
        let lines = ctx.agent.pending(Duration::from_millis(200))?;
        if let Some(line) = lines.into_iter().next() {
            break line;
        }
        if let Some(status) = ctx.vm.exited() {
            return Err(format!(
                "{setup}; QEMU exited ({status}) instead of an error"
            ));
        }
        if Instant::now() >= deadline {
            let state = qmp_status(ctx).unwrap_or_else(|e| e);
            return Err(format!(
                "{setup}; no answer in {} s (QEMU says the guest is {state})",
                deadline.duration_since(start).as_secs()
            ));
        }
    };
    let answered = start.elapsed();
    let reply: Value =
        serde_json::from_str(&answer).map_err(|e| format!("answer {answer:?}: {e}"))?;
    let desc = reply
        .get("error")
        .and_then(|e| e.get("desc"))
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{setup}; expected an error, got {answer}"))?
        .to_string();
    ctx.call("guest-ping", None)
        .map_err(|e| format!("after the error {desc:?}: {e}"))?;
    if !desc.contains(expected) {
        return Err(format!(
            "{setup}; error {desc:?}, expected one saying {expected:?}"
        ));
    }
    Ok(format!(
        "{setup}: error {desc:?} after {}; agent still answers",
        secs(answered)
    ))
}

/// guest-suspend-disk. With a swap area (the suite's guest has one): a real
/// hibernation, [`hibernate`]. Without, the kernel freezes the guest, makes the
/// image, finds nowhere to write it and thaws again, and the write to
/// `/sys/power/state` fails; without `disk` listed, the mode is unsupported.
fn suspend_disk(ctx: &mut Ctx<'_>) -> Outcome {
    let (disk, swaps) = hibernation_setup(ctx)?;
    if disk && swaps > 0 {
        return hibernate(ctx);
    }
    suspend_refused(ctx, "guest-suspend-disk", |disk, swaps| {
        match (disk, swaps) {
            (false, _) => Some("not supported"),
            (true, 0) => Some("failed to suspend"),
            (true, _) => None,
        }
    })
}

/// Hibernation to the swap disk: nothing is answered; the guest writes its image and
/// powers off (QEMU exits 0). QEMU is started again with the same disks, the guest's
/// /init finds the image and the kernel restores it: the agent must answer again in
/// the same boot (same boot id), over the new QEMU's chardev.
fn hibernate(ctx: &mut Ctx<'_>) -> Outcome {
    let before = boot_id(ctx)?;
    let start = Instant::now();
    ctx.agent.send("guest-suspend-disk", None)?;
    let deadline = start + Duration::from_secs(120);
    loop {
        if let Some(status) = ctx.vm.exited() {
            if !status.success() {
                return Err(format!("QEMU exited with {status} while hibernating"));
            }
            break;
        }
        // Only a failure is answered; the connection ends with QEMU.
        if let Ok(lines) = ctx.agent.pending(Duration::from_millis(200)) {
            if let Some(line) = lines.iter().find(|l| l.contains("\"error\"")) {
                return Err(format!("refused: {line}"));
            }
        } else {
            std::thread::sleep(Duration::from_millis(200));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "QEMU still runs {} s later: the guest did not power off",
                deadline.duration_since(start).as_secs()
            ));
        }
    }
    let off = start.elapsed();
    ctx.vm.restart()?;
    ctx.qmp = None;
    ctx.agent = connect(ctx.vm)?;
    let back = ctx.wait_for_agent(BOOT_TIMEOUT)?;
    let after = boot_id(ctx)?;
    if after != before {
        return Err(format!(
            "powered off after {}, but the guest booted afresh instead of resuming (boot id {before} -> {after})",
            secs(off)
        ));
    }
    Ok(format!(
        "image on the swap disk, powered off after {}; QEMU started again, the guest resumed \
         (same boot id) and the agent answered {} later",
        secs(off),
        secs(back)
    ))
}

/// Hybrid sleep has no sysfs method; without systemd or pm-utils it is unsupported.
fn suspend_hybrid(ctx: &mut Ctx<'_>) -> Outcome {
    suspend_refused(ctx, "guest-suspend-hybrid", |_, _| Some("not supported"))
}

fn qmp_status(ctx: &mut Ctx<'_>) -> Result<String, String> {
    let st = ctx.qmp()?.call("query-status", None)?;
    Ok(st
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string())
}

/// Suspend to RAM; QEMU reports the guest suspended; wake it through QMP; the agent
/// answers again. Waking up resets the machine into the firmware's resume path, which
/// -no-reboot would turn into an exit: QMP set-action allows resets meanwhile.
fn suspend_ram(ctx: &mut Ctx<'_>) -> Outcome {
    ctx.qmp()?
        .call("set-action", Some(json!({"reboot": "reset"})))?;
    let result = suspend_ram_steps(ctx);
    if ctx.vm.exited().is_none() {
        ctx.qmp()?
            .call("set-action", Some(json!({"reboot": "shutdown"})))?;
    }
    result
}

fn suspend_ram_steps(ctx: &mut Ctx<'_>) -> Outcome {
    ctx.agent.send("guest-suspend-ram", None)?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(30);
    loop {
        if qmp_status(ctx)? == "suspended" {
            break;
        }
        // guest-suspend-ram answers only on failure.
        let lines = ctx.agent.pending(Duration::from_millis(200))?;
        if let Some(line) = lines.iter().find(|l| l.contains("\"error\"")) {
            return Err(format!("refused: {line}"));
        }
        if Instant::now() >= deadline {
            return Err("QEMU never reported the guest suspended".into());
        }
    }
    let suspended = start.elapsed();
    ctx.qmp()?.call("system_wakeup", None)?;
    let back = ctx.wait_for_agent(Duration::from_secs(60))?;
    Ok(format!(
        "suspended after {}, woken by QMP, agent back after {}",
        secs(suspended),
        secs(back)
    ))
}

fn boot_id(ctx: &mut Ctx<'_>) -> Result<String, String> {
    let id = ctx.read_file("/proc/sys/kernel/random/boot_id")?;
    Ok(String::from_utf8_lossy(&id).trim().to_string())
}

/// Reboot: QEMU (run with -no-reboot) is told through QMP to reset instead of exiting;
/// the agent must come back in a new boot.
fn reboot(ctx: &mut Ctx<'_>) -> Outcome {
    let before = boot_id(ctx)?;
    ctx.qmp()?
        .call("set-action", Some(json!({"reboot": "reset"})))?;
    let result = (|| {
        ctx.agent
            .send("guest-shutdown", Some(json!({"mode": "reboot"})))?;
        let start = Instant::now();
        let deadline = start + BOOT_TIMEOUT;
        loop {
            if Instant::now() >= deadline {
                return Err("the agent did not come back in a new boot".to_string());
            }
            // The old agent may still answer before the reset: compare boot ids.
            ctx.wait_for_agent(deadline.saturating_duration_since(Instant::now()))?;
            if boot_id(ctx)? != before {
                return Ok(format!(
                    "new boot, agent back after {}",
                    secs(start.elapsed())
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })();
    if ctx.vm.exited().is_none() {
        ctx.qmp()?
            .call("set-action", Some(json!({"reboot": "shutdown"})))?;
    }
    result
}

/// Power down: nothing is answered and QEMU exits with status 0.
fn shutdown(ctx: &mut Ctx<'_>) -> Outcome {
    let start = Instant::now();
    ctx.agent.send("guest-shutdown", None)?;
    match ctx.vm.wait_exit(Duration::from_secs(60)) {
        Some(status) if status.success() => {
            Ok(format!("QEMU exited 0 after {}", secs(start.elapsed())))
        }
        Some(status) => Err(format!("QEMU exited with {status}")),
        None => {
            let lines = ctx
                .agent
                .pending(Duration::from_millis(100))
                .unwrap_or_default();
            Err(format!(
                "QEMU still runs 60 s later; the agent wrote {lines:?}"
            ))
        }
    }
}

// ---- disks, counters, routes, ssh keys ----

/// The entry of a guest-get-disks list named `name`.
fn disk_named<'v>(disks: &'v [Value], name: &str) -> Result<&'v Value, String> {
    disks
        .iter()
        .find(|d| d.get("name").and_then(Value::as_str) == Some(name))
        .ok_or_else(|| {
            let names: Vec<&str> = disks
                .iter()
                .filter_map(|d| d.get("name").and_then(Value::as_str))
                .collect();
            format!("{name} not listed (listed: {names:?})")
        })
}

/// `disk` is a whole virtio disk at `slot` of PCI bus 0, not a partition.
fn expect_virtio_disk(disk: &Value, slot: u8) -> Result<(), String> {
    if disk.get("partition").and_then(Value::as_bool) != Some(false) {
        return Err(format!("not listed as a whole disk: {disk}"));
    }
    let address = disk
        .get("address")
        .ok_or_else(|| format!("no address: {disk}"))?;
    if address.get("bus-type").and_then(Value::as_str) != Some("virtio") {
        return Err(format!("bus type is not virtio: {address}"));
    }
    let pci = address
        .get("pci-controller")
        .ok_or_else(|| format!("no pci-controller: {address}"))?;
    let at = |k: &str| pci.get(k).and_then(Value::as_i64);
    let want = [0, 0, i64::from(slot), 0];
    let got = [at("domain"), at("bus"), at("slot"), at("function")];
    if got.iter().zip(want).any(|(g, w)| *g != Some(w)) {
        return Err(format!(
            "PCI address {pci}, expected domain 0, bus 0, slot {slot}, function 0 (QEMU's -device addr)"
        ));
    }
    Ok(())
}

/// The scratch disk (vda) at its PCI slot, whole; the partitioned disk (vdc) at its
/// slot with its partition vdc1, which the guest kernel found in the MBR written on
/// the host, listed as a partition depending on vdc.
fn get_disks(ctx: &mut Ctx<'_>) -> Outcome {
    let partitions = ctx.sh("cat /proc/partitions")?;
    let vdc1 = partitions
        .lines()
        .find(|l| l.split_whitespace().nth(3) == Some("vdc1"))
        .ok_or_else(|| format!("the guest kernel shows no vdc1: {}", compact(&partitions)))?;
    // 1 KiB blocks: the partition runs from sector 2048 to the end of the 8 MiB disk.
    if vdc1.split_whitespace().nth(2) != Some("7168") {
        return Err(format!("vdc1 is not 7168 KiB in /proc/partitions: {vdc1}"));
    }
    let ret = ctx.call("guest-get-disks", None)?;
    let disks = ret.as_array().ok_or_else(|| format!("not a list: {ret}"))?;
    let vda = disk_named(disks, "/dev/vda")?;
    expect_virtio_disk(vda, SCRATCH_SLOT).map_err(|e| format!("/dev/vda: {e}"))?;
    if disks.iter().any(|d| {
        d.get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.starts_with("/dev/vda") && n != "/dev/vda")
    }) {
        return Err(format!(
            "a partition of the unpartitioned /dev/vda is listed: {ret}"
        ));
    }
    let vdc = disk_named(disks, "/dev/vdc")?;
    expect_virtio_disk(vdc, PARTED_SLOT).map_err(|e| format!("/dev/vdc: {e}"))?;
    let part = disk_named(disks, "/dev/vdc1")?;
    if part.get("partition").and_then(Value::as_bool) != Some(true) {
        return Err(format!("/dev/vdc1 is not listed as a partition: {part}"));
    }
    if part.get("dependencies") != Some(&json!(["/dev/vdc"])) {
        return Err(format!(
            "/dev/vdc1 does not depend on /dev/vdc alone: {part}"
        ));
    }
    Ok(format!(
        "{} entries; /dev/vda virtio at 0000:00:{SCRATCH_SLOT:02x}.0, whole; /dev/vdc at \
         0000:00:{PARTED_SLOT:02x}.0 with partition /dev/vdc1 (depends on /dev/vdc)",
        disks.len()
    ))
}

/// The scratch disk's counters from guest-get-diskstats, with its device number.
fn vda_stats(ctx: &mut Ctx<'_>) -> Result<(String, Value), String> {
    let ret = ctx.call("guest-get-diskstats", None)?;
    let vda = ret
        .as_array()
        .and_then(|a| {
            a.iter().find(|d| {
                d.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.trim_start_matches("/dev/") == "vda")
            })
        })
        .ok_or_else(|| format!("vda not listed: {ret}"))?;
    let num = |k: &str| vda.get(k).and_then(Value::as_u64);
    let dev = match (num("major"), num("minor")) {
        (Some(major), Some(minor)) => format!("{major}:{minor}"),
        _ => return Err(format!("vda without major and minor: {vda}")),
    };
    let stats = vda
        .get("stats")
        .cloned()
        .ok_or_else(|| format!("vda without stats: {vda}"))?;
    Ok((dev, stats))
}

/// 1 MiB written (and synced) to the scratch disk: its write counters grow by at
/// least that much; the device number is the kernel's.
fn disk_stats(ctx: &mut Ctx<'_>) -> Outcome {
    let (dev, before) = vda_stats(ctx)?;
    let sysfs = ctx.sh("cat /sys/block/vda/dev")?;
    if sysfs.trim() != dev {
        return Err(format!(
            "vda is {dev} in guest-get-diskstats, {} in sysfs",
            sysfs.trim()
        ));
    }
    ctx.sh(
        "dd if=/dev/zero of=/mnt/scratch/qga-diskstats bs=64k count=16 conv=fsync 2>/dev/null \
         && sync && rm /mnt/scratch/qga-diskstats",
    )?;
    let (_, after) = vda_stats(ctx)?;
    let delta = |k: &str| -> Result<u64, String> {
        let get = |v: &Value| v.get(k).and_then(Value::as_u64);
        match (get(&before), get(&after)) {
            (Some(b), Some(a)) if a >= b => Ok(a - b),
            (b, a) => Err(format!("{k} went from {b:?} to {a:?}")),
        }
    };
    let (sectors, ios) = (delta("write-sectors")?, delta("write-ios")?);
    delta("read-sectors")?;
    if sectors < 2048 || ios == 0 {
        return Err(format!(
            "after 1 MiB written: write-sectors +{sectors}, write-ios +{ios}"
        ));
    }
    Ok(format!(
        "vda ({dev}): 1 MiB written and synced, write-sectors +{sectors}, write-ios +{ios}"
    ))
}

/// The processors of guest-get-cpustats, as (cpu, time not idle, total) in ms.
fn cpu_times(ctx: &mut Ctx<'_>) -> Result<Vec<(i64, u64, u64)>, String> {
    let ret = ctx.call("guest-get-cpustats", None)?;
    let cpus = ret.as_array().ok_or_else(|| format!("not a list: {ret}"))?;
    let mut out = Vec::new();
    for c in cpus {
        if c.get("type").and_then(Value::as_str) != Some("linux") {
            return Err(format!("not a linux entry: {c}"));
        }
        let cpu = c
            .get("cpu")
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("no cpu number: {c}"))?;
        let n = |k: &str| c.get(k).and_then(Value::as_u64);
        let mut busy = 0;
        for k in ["user", "nice", "system"] {
            busy += n(k).ok_or_else(|| format!("cpu{cpu} has no {k}: {c}"))?;
        }
        busy += ["irq", "softirq", "steal"]
            .iter()
            .filter_map(|k| n(k))
            .sum::<u64>();
        let idle = n("idle").ok_or_else(|| format!("cpu{cpu} has no idle: {c}"))?
            + n("iowait").unwrap_or(0);
        out.push((cpu, busy, busy + idle));
    }
    Ok(out)
}

/// A busy loop of 1.5 s (of the guest's clock) between two calls: one entry per vCPU
/// (cpu0 and cpu1 of -smp 2), and the time not idle grew by at least half the loop.
fn cpu_stats(ctx: &mut Ctx<'_>) -> Outcome {
    const LOOP: &str = r#"read s r </proc/uptime; s=${s%.*}${s#*.}
while read u r </proc/uptime; [ ${u%.*}${u#*.} -lt $((s + 150)) ]; do :; done
echo $((${u%.*}${u#*.} - s))"#;
    let before = cpu_times(ctx)?;
    let ids: Vec<i64> = before.iter().map(|c| c.0).collect();
    if ids != [0, 1] {
        return Err(format!("processors {ids:?}, expected [0, 1] (-smp 2)"));
    }
    let looped: u64 = ctx
        .sh(LOOP)?
        .trim()
        .parse()
        .map_err(|e| format!("the busy loop printed no time: {e}"))?;
    let after = cpu_times(ctx)?;
    let sum = |v: &[(i64, u64, u64)], f: fn(&(i64, u64, u64)) -> u64| v.iter().map(f).sum::<u64>();
    let busy = sum(&after, |c| c.1).checked_sub(sum(&before, |c| c.1));
    let total = sum(&after, |c| c.2).checked_sub(sum(&before, |c| c.2));
    let (Some(busy), Some(total)) = (busy, total) else {
        return Err(format!("counters went down: {before:?} -> {after:?}"));
    };
    let looped_ms = looped * 10;
    if busy * 2 < looped_ms {
        return Err(format!(
            "a busy loop of {looped_ms} ms: time not idle +{busy} ms (of +{total} ms)"
        ));
    }
    Ok(format!(
        "cpu0 and cpu1; a busy loop of {looped_ms} ms: time not idle +{busy} ms of +{total} ms"
    ))
}

/// The three averages of `/proc/loadavg`.
fn loadavg(ctx: &mut Ctx<'_>) -> Result<[f64; 3], String> {
    let text = String::from_utf8_lossy(&ctx.read_file("/proc/loadavg")?).into_owned();
    let v: Vec<f64> = text
        .split_whitespace()
        .take(3)
        .filter_map(|f| f.parse().ok())
        .collect();
    v.try_into()
        .map_err(|_| format!("/proc/loadavg is {text:?}"))
}

/// The averages are the kernel's: between what /proc/loadavg says just before and
/// just after.
fn load(ctx: &mut Ctx<'_>) -> Outcome {
    let before = loadavg(ctx)?;
    let ret = ctx.call("guest-get-load", None)?;
    let after = loadavg(ctx)?;
    let mut got = [0.0; 3];
    for (i, k) in ["load1m", "load5m", "load15m"].iter().enumerate() {
        let v = ret
            .get(*k)
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("no {k}: {ret}"))?;
        let (lo, hi) = (before[i].min(after[i]), before[i].max(after[i]));
        if !v.is_finite() || v < 0.0 || v < lo - 0.005 || v > hi + 0.005 {
            return Err(format!(
                "{k} is {v}; /proc/loadavg said {} then {}",
                before[i], after[i]
            ));
        }
        got[i] = v;
    }
    Ok(format!(
        "{:.2} {:.2} {:.2}, as /proc/loadavg says",
        got[0], got[1], got[2]
    ))
}

/// The IPv4 routes of guest-network-get-route on `iface`, as (destination, mask,
/// gateway).
fn routes_on(ctx: &mut Ctx<'_>, iface: &str) -> Result<Vec<(String, String, String)>, String> {
    let ret = ctx.call("guest-network-get-route", None)?;
    let list = ret.as_array().ok_or_else(|| format!("not a list: {ret}"))?;
    let text = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Ok(list
        .iter()
        .filter(|r| r.get("version").and_then(Value::as_i64) == Some(4))
        .filter(|r| r.get("iface").and_then(Value::as_str) == Some(iface))
        .map(|r| (text(r, "destination"), text(r, "mask"), text(r, "gateway")))
        .collect())
}

/// eth0 (the udp NIC) without an address has no IPv4 route; with 192.0.2.15/24 (what
/// /init gives it, configured again here through guest-exec) it has 192.0.2.0/24
/// directly; a route through a gateway shows the gateway, and is gone once deleted.
fn routes(ctx: &mut Ctx<'_>) -> Outcome {
    let mac = ctx.sh("cat /sys/class/net/eth0/address")?;
    if mac.trim() != NIC_MAC {
        return Err(format!(
            "eth0 has MAC {}, not the NIC's {NIC_MAC}",
            mac.trim()
        ));
    }
    let result = (|| {
        ctx.sh("ip addr flush dev eth0")?;
        let bare = routes_on(ctx, "eth0")?;
        if !bare.is_empty() {
            return Err(format!("eth0 without an address has routes {bare:?}"));
        }
        ctx.sh("ip link set eth0 up && ip addr add 192.0.2.15/24 dev eth0 \
             && ip route add 198.51.100.0/24 via 192.0.2.1 dev eth0")?;
        let set = routes_on(ctx, "eth0")?;
        let want = |d: &str, g: &str| (d.to_string(), "255.255.255.0".to_string(), g.to_string());
        for route in [
            want("192.0.2.0", "0.0.0.0"),
            want("198.51.100.0", "192.0.2.1"),
        ] {
            if !set.contains(&route) {
                return Err(format!(
                    "with the address and a gateway route: {set:?}, no {route:?}"
                ));
            }
        }
        ctx.sh("ip route del 198.51.100.0/24")?;
        let left = routes_on(ctx, "eth0")?;
        if left != [want("192.0.2.0", "0.0.0.0")] {
            return Err(format!("after deleting the gateway route: {left:?}"));
        }
        Ok(
            "eth0: no route without an address; 192.0.2.0/24 once 192.0.2.15/24 is set; \
            198.51.100.0/24 via 192.0.2.1 while it exists"
                .to_string(),
        )
    })();
    // Leave eth0 as /init configured it.
    let _ = ctx.sh("ip addr add 192.0.2.15/24 dev eth0 2>/dev/null; true");
    result
}

fn ssh_get(ctx: &mut Ctx<'_>) -> Result<Result<Vec<String>, AgentError>, String> {
    Ok(ctx
        .try_call(
            "guest-ssh-get-authorized-keys",
            Some(json!({"username": USER})),
        )?
        .map(|ret| {
            let mut keys: Vec<String> = ret
                .get("keys")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|k| k.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            keys.sort();
            keys
        }))
}

fn ssh_add(ctx: &mut Ctx<'_>, keys: &[&str], reset: bool) -> Result<(), String> {
    ctx.call(
        "guest-ssh-add-authorized-keys",
        Some(json!({"username": USER, "keys": keys, "reset": reset})),
    )
    .map(drop)
}

/// What get lists and the key lines of the file are both `want` (in any order).
fn expect_ssh_keys(ctx: &mut Ctx<'_>, want: &[&str], step: &str) -> Result<(), String> {
    let mut want: Vec<String> = want.iter().map(|k| k.to_string()).collect();
    want.sort();
    let listed = ssh_get(ctx)?.map_err(|e| format!("{step}: get failed: {e}"))?;
    if listed != want {
        return Err(format!("{step}: get lists {listed:?}, expected {want:?}"));
    }
    let file = String::from_utf8_lossy(&ctx.read_file(AUTHORIZED_KEYS)?).into_owned();
    let mut lines: Vec<String> = file
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    lines.sort();
    if lines != want {
        return Err(format!(
            "{step}: {AUTHORIZED_KEYS} holds {lines:?}, expected {want:?}"
        ));
    }
    Ok(())
}

/// `~/.ssh` and the key file are the user's, modes 0700 and 0600.
fn expect_key_modes(ctx: &mut Ctx<'_>, step: &str) -> Result<(), String> {
    let modes = compact(&ctx.sh(STAT_KEYS)?);
    if modes != STAT_EXPECTED {
        return Err(format!(
            "{step}: ~/.ssh and authorized_keys are {modes:?}, expected {STAT_EXPECTED:?} \
             (owner:group mode)"
        ));
    }
    Ok(())
}

/// For qgatest, from no ~/.ssh: get fails; add two keys one at a time (the agent makes
/// ~/.ssh 0700 and the file 0600, both the user's); get lists them; add with reset
/// leaves only the keys given; remove one of two.
fn ssh_keys(ctx: &mut Ctx<'_>) -> Outcome {
    let key = |t| guest_user::ssh_key("qga-vm", t);
    let (a, b, c) = (key(b'a'), key(b'b'), key(b'c'));
    ctx.sh(&format!("rm -rf {SSH_DIR}"))?;
    if let Ok(keys) = ssh_get(ctx)? {
        return Err(format!("get without a key file listed {keys:?}"));
    }
    ssh_add(ctx, &[&a], false)?;
    ssh_add(ctx, &[&b, &a], false)?;
    expect_ssh_keys(ctx, &[&a, &b], "after adding a, then b and a")?;
    expect_key_modes(ctx, "after add")?;
    ctx.report(
        "guest-ssh-add-authorized-keys",
        Ok("a, then b and a: both once; ~/.ssh 0700 and the file 0600, the user's".into()),
    );
    ctx.report(
        "guest-ssh-get-authorized-keys",
        Ok("fails without a file; then lists a and b, as the file holds".into()),
    );
    ssh_add(ctx, &[&c], true)?;
    expect_ssh_keys(ctx, &[&c], "after add c with reset")?;
    expect_key_modes(ctx, "after reset")?;
    ctx.report(
        "guest-ssh-add-authorized-keys reset",
        Ok("only c left; modes and owner kept".into()),
    );
    ssh_add(ctx, &[&a], false)?;
    ctx.call(
        "guest-ssh-remove-authorized-keys",
        Some(json!({"username": USER, "keys": [&c, &b]})),
    )?;
    expect_ssh_keys(ctx, &[&a], "after removing c and b (not there) of a and c")?;
    expect_key_modes(ctx, "after remove")?;
    Ok("of a and c, c removed (and b, absent, ignored); a stays".into())
}

/// A link planted at ~/.ssh/authorized_keys, to a root-only file: the agent does not
/// go through it. Get and add refuse it (reading through it would hand the file's
/// content to the caller, and add would copy it into a file the user owns); add with
/// reset replaces the link with a file of its own. The file linked to is never
/// changed. Every step runs; a failure lists each step that went wrong.
fn ssh_keys_link(ctx: &mut Ctx<'_>) -> Outcome {
    const TARGET: &str = "/root/qga-ssh-target";
    const CONTENT: &str = "owned by root, not a key\n";
    let a = guest_user::ssh_key("qga-vm", b'l');
    let plant = format!(
        "mkdir -p {SSH_DIR} && echo '{}' >{TARGET} && chmod 600 {TARGET} \
         && rm -f {AUTHORIZED_KEYS} && ln -s {TARGET} {AUTHORIZED_KEYS}",
        CONTENT.trim_end()
    );
    ctx.sh(&plant)?;
    let mut wrong = Vec::new();
    let target_unchanged = |ctx: &mut Ctx<'_>, step: &str| -> Result<(), String> {
        let now = String::from_utf8_lossy(&ctx.read_file(TARGET)?).into_owned();
        if now != CONTENT {
            return Err(format!("{step}: the file linked to now holds {now:?}"));
        }
        Ok(())
    };
    let kind = |ctx: &mut Ctx<'_>| -> Result<String, String> {
        Ok(ctx
            .sh(&format!("stat -c %F {AUTHORIZED_KEYS}"))?
            .trim()
            .to_string())
    };

    match ssh_get(ctx)? {
        Ok(keys) => wrong.push(format!("get read through the link: {keys:?}")),
        Err(e) if e.desc.contains("symbolic link") => {}
        Err(e) => wrong.push(format!("get refused, but with {e}")),
    }
    let added = ctx.try_call(
        "guest-ssh-add-authorized-keys",
        Some(json!({"username": USER, "keys": [&a]})),
    )?;
    if let Err(e) = target_unchanged(ctx, "add") {
        wrong.push(e);
    }
    match (added, kind(ctx)?.as_str()) {
        (Err(_), "symbolic link") => {}
        (Err(e), other) => wrong.push(format!("add refused ({e}) but left a {other}")),
        (Ok(_), other) => {
            let file = String::from_utf8_lossy(&ctx.read_file(AUTHORIZED_KEYS)?).into_owned();
            wrong.push(format!(
                "add went ahead: authorized_keys is now a {other} holding {:?}",
                compact(&file)
            ));
            // Plant the link again for the reset step.
            ctx.sh(&plant)?;
        }
    }
    if let Err(e) = ssh_add(ctx, &[&a], true) {
        wrong.push(format!("add with reset: {e}"));
    }
    if let Err(e) = target_unchanged(ctx, "add with reset") {
        wrong.push(e);
    }
    let now = kind(ctx)?;
    if now != "regular file" {
        wrong.push(format!("after add with reset, authorized_keys is a {now}"));
    } else {
        let step = "after add with reset over the link";
        if let Err(e) = expect_ssh_keys(ctx, &[&a], step) {
            wrong.push(e);
        }
        if let Err(e) = expect_key_modes(ctx, step) {
            wrong.push(e);
        }
    }
    let _ = ctx.sh(&format!("rm -f {TARGET}"));
    if !wrong.is_empty() {
        return Err(wrong.join("; "));
    }
    Ok(
        "get and add refuse the link (ELOOP); add with reset replaces it with the user's \
        0600 file; the file linked to is unchanged"
            .into(),
    )
}
