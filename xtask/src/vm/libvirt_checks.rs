//! What the libvirt run checks: each virsh command that works through the guest agent,
//! run against the domain, its result verified (not only its exit status), one output
//! line per command form in the VM suite's format (`ok   NAME: detail`,
//! `FAIL NAME: reason`, `skip NAME: reason`).
//!
//! A row of [`CHECKS`] names the lines it prints, the agent commands it needs (what
//! libvirt sends, and what the check itself uses through `virsh qemu-agent-command` to
//! set up or inspect the guest) and a function. A row whose commands the agent does
//! not list as enabled in guest-info is skipped, one `skip` line per line it would
//! print (a failure under `--require-all`). The rows that reboot and power off the
//! guest come last.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::domain::{DISK_SERIAL, DISK_TARGET, GUEST_ADDRESS, MAC};
use super::guest_user::{compact, AUTHORIZED_KEYS, STAT_EXPECTED, STAT_KEYS, USER};
use super::scenarios::{self, Line};
use super::secs;
use super::virsh::Virsh;

/// The guest's host name (`/etc/hostname` of the initramfs).
const HOSTNAME: &str = "qga-vm";
/// The guest's scratch disk mount point and device.
const SCRATCH: &str = "/mnt/scratch";
const SCRATCH_DEVICE: &str = "/dev/vda";
/// How far the guest clock may be from what a check expects.
const CLOCK_SLACK: i64 = 3;
/// How long a reboot or a power-off may take.
const REBOOT_TIMEOUT: Duration = Duration::from_secs(120);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// A check: the lines it prints, in order, the agent commands it needs, and what it
/// does. `run` prints each line but the one in progress when it fails: the runner
/// prints that one (with the error) and marks the rest not run.
pub struct Check {
    pub lines: &'static [&'static str],
    pub requires: &'static [&'static str],
    pub run: fn(&mut Session<'_>) -> Result<(), String>,
}

const fn check(
    lines: &'static [&'static str],
    requires: &'static [&'static str],
    run: fn(&mut Session<'_>) -> Result<(), String>,
) -> Check {
    Check {
        lines,
        requires,
        run,
    }
}

/// guest-file-open, -read and -close: how checks read guest files.
const READ: [&str; 3] = ["guest-file-open", "guest-file-read", "guest-file-close"];
/// guest-exec and guest-exec-status: how checks run commands in the guest.
const EXEC: [&str; 2] = ["guest-exec", "guest-exec-status"];
const SSH: [&str; 3] = [
    "guest-ssh-get-authorized-keys",
    "guest-ssh-add-authorized-keys",
    "guest-ssh-remove-authorized-keys",
];

/// Every check, in order.
pub const CHECKS: &[Check] = &[
    check(
        &["virsh qemu-agent-command"],
        &["guest-info"],
        agent_command,
    ),
    check(
        &["virsh domhostname --source agent"],
        &["guest-get-host-name"],
        domhostname,
    ),
    check(
        &["virsh guestinfo --user"],
        &[
            "guest-get-users",
            "guest-file-open",
            "guest-file-write",
            "guest-file-close",
        ],
        guestinfo_user,
    ),
    check(
        &["virsh guestinfo --os"],
        &["guest-get-osinfo"],
        guestinfo_os,
    ),
    check(
        &["virsh guestinfo --timezone"],
        &["guest-get-timezone"],
        guestinfo_timezone,
    ),
    check(
        &["virsh guestinfo --hostname"],
        &["guest-get-host-name"],
        guestinfo_hostname,
    ),
    check(
        &["virsh guestinfo --filesystem"],
        &["guest-get-fsinfo"],
        guestinfo_filesystem,
    ),
    check(
        &["virsh guestinfo --disk"],
        &["guest-get-disks"],
        guestinfo_disk,
    ),
    check(
        &["virsh guestinfo --interface"],
        &["guest-network-get-interfaces"],
        guestinfo_interface,
    ),
    check(&["virsh guestinfo"], &[], guestinfo_all),
    check(&["virsh domfsinfo"], &["guest-get-fsinfo"], domfsinfo),
    check(
        &["virsh domifaddr --source agent"],
        &["guest-network-get-interfaces"],
        domifaddr,
    ),
    check(&["virsh domtime"], &["guest-get-time"], domtime),
    check(
        &["virsh domtime --time"],
        &["guest-get-time", "guest-set-time"],
        domtime_time,
    ),
    check(
        &["virsh domtime --sync"],
        &["guest-get-time", "guest-set-time", EXEC[0], EXEC[1]],
        domtime_sync,
    ),
    check(
        &[
            "virsh guestvcpus",
            "virsh guestvcpus --disable",
            "virsh guestvcpus --enable",
        ],
        &["guest-get-vcpus", "guest-set-vcpus"],
        guestvcpus,
    ),
    check(
        &[
            "virsh set-user-password",
            "virsh set-user-password --encrypted",
        ],
        &["guest-set-user-password", READ[0], READ[1], READ[2]],
        set_user_password,
    ),
    check(
        &[
            "virsh set-user-sshkeys",
            "virsh get-user-sshkeys",
            "virsh set-user-sshkeys --reset",
            "virsh set-user-sshkeys --remove",
        ],
        &[
            SSH[0],
            SSH[1],
            SSH[2],
            READ[0],
            READ[1],
            READ[2],
            "guest-file-write",
            EXEC[0],
            EXEC[1],
        ],
        ssh_keys,
    ),
    check(
        &[
            "virsh domfsfreeze",
            "virsh domfsthaw",
            "virsh domfsfreeze --mountpoint",
            "virsh domfsthaw --mountpoint",
        ],
        &[
            "guest-fsfreeze-freeze",
            "guest-fsfreeze-freeze-list",
            "guest-fsfreeze-thaw",
            "guest-fsfreeze-status",
        ],
        fsfreeze,
    ),
    check(
        &["virsh domfstrim"],
        &["guest-fstrim", EXEC[0], EXEC[1]],
        domfstrim,
    ),
    check(
        &["virsh reboot --mode agent"],
        &["guest-shutdown", READ[0], READ[1], READ[2]],
        reboot,
    ),
    check(
        &["virsh shutdown --mode agent"],
        &["guest-shutdown"],
        shutdown,
    ),
];

/// What the checks know about the guest from outside.
pub struct Facts {
    /// The guest kernel's release (`uname -r`).
    pub kernel_release: String,
    /// The scratch disk's image on the host.
    pub disk: PathBuf,
    /// libvirt's pid file of the domain's QEMU.
    pub pid_file: PathBuf,
    /// Where checks may write host files (virsh reads key files from there).
    pub work: PathBuf,
}

/// What the checks work with, and the lines so far.
pub struct Session<'a> {
    pub virsh: &'a Virsh,
    pub facts: &'a Facts,
    pub lines: Vec<Line>,
    echo: bool,
    /// The agent's first answer after the reboot check's reboot.
    pub reboot_to_agent: Option<Duration>,
}

/// The outcome of a run of the checks.
pub struct Summary {
    pub ok: usize,
    pub failed: usize,
    pub skipped: usize,
    pub reboot_to_agent: Option<Duration>,
}

/// Runs every check. `enabled` lists the commands the agent has enabled (None: all
/// are tried); with `require_all` a check needing a command it lacks fails.
pub fn run(
    virsh: &Virsh,
    facts: &Facts,
    enabled: Option<&[String]>,
    require_all: bool,
    echo: bool,
) -> Summary {
    let mut s = Session {
        virsh,
        facts,
        lines: Vec::new(),
        echo,
        reboot_to_agent: None,
    };
    for (i, check) in CHECKS.iter().enumerate() {
        let missing: Vec<&str> = match enabled {
            Some(enabled) => check
                .requires
                .iter()
                .copied()
                .filter(|c| !enabled.iter().any(|e| e == c))
                .collect(),
            None => Vec::new(),
        };
        if !missing.is_empty() {
            let why = format!("the agent does not offer {}", missing.join(", "));
            for name in check.lines {
                s.line(if require_all { "FAIL" } else { "skip" }, name, why.clone());
            }
            continue;
        }
        let before = s.lines.len();
        let Err(e) = (check.run)(&mut s) else {
            continue;
        };
        let printed = s.lines.len() - before;
        let mut rest = check.lines.iter().skip(printed);
        if let Some(name) = rest.next() {
            s.line("FAIL", name, e);
            for later in rest {
                s.line("FAIL", later, "not run: an earlier step failed".to_string());
            }
        } else {
            s.line("FAIL", check.lines[check.lines.len() - 1], e);
        }
        let last = i + 1 == CHECKS.len();
        if !last && !s.alive() {
            let left: usize = CHECKS[i + 1..].iter().map(|c| c.lines.len()).sum();
            s.line(
                "FAIL",
                "libvirt",
                format!("the guest no longer answers; {left} check(s) not run"),
            );
            break;
        }
    }
    let count = |status: &str| s.lines.iter().filter(|l| l.status == status).count();
    Summary {
        ok: count("ok"),
        failed: count("FAIL"),
        skipped: count("skip"),
        reboot_to_agent: s.reboot_to_agent,
    }
}

impl Session<'_> {
    fn line(&mut self, status: &'static str, name: &str, detail: String) {
        scenarios::record(&mut self.lines, self.echo, status, name, detail);
    }

    /// Prints an `ok` line.
    fn ok(&mut self, name: &str, detail: String) {
        self.line("ok", name, detail);
    }

    /// Whether the domain runs and its agent answers (after a failed check).
    fn alive(&self) -> bool {
        self.virsh.state().is_ok_and(|s| s == "running")
            && self.virsh.agent("guest-ping", None).is_ok()
    }

    fn dom(&self, command: &str, args: &[&str]) -> Result<String, String> {
        self.virsh.dom(command, args)
    }
}

// ---- parsing virsh's output ----

/// `key : value` lines (guestinfo, guestvcpus), in order.
fn fields(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `field` that must be there and equal `want`.
fn expect_field(fields: &[(String, String)], key: &str, want: &str) -> Result<(), String> {
    match field(fields, key) {
        Some(v) if v == want => Ok(()),
        Some(v) => Err(format!("{key} is {v:?}, expected {want:?}")),
        None => Err(format!("no {key} (expected {want:?})")),
    }
}

/// The index N of the first `PREFIX.N.KEY : VALUE` line.
fn index_where(
    fields: &[(String, String)],
    prefix: &str,
    key: &str,
    value: &str,
) -> Option<String> {
    fields.iter().find_map(|(k, v)| {
        let rest = k.strip_prefix(prefix)?.strip_prefix('.')?;
        let (n, tail) = rest.split_once('.')?;
        (tail == key && v == value).then(|| n.to_string())
    })
}

/// The rows of a virsh table (domfsinfo, domifaddr): the words of each line after
/// the dashed rule.
fn table_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with("---"))
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|r| !r.is_empty())
        .collect()
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

// ---- the checks ----

/// guest-info through qemu-agent-command, and an unknown command's error passed back.
fn agent_command(s: &mut Session<'_>) -> Result<(), String> {
    let text = s.dom("qemu-agent-command", &[r#"{"execute":"guest-info"}"#])?;
    let reply: Value = serde_json::from_str(text.trim())
        .map_err(|e| format!("reply is not JSON ({e}): {text}"))?;
    let info = reply
        .get("return")
        .ok_or_else(|| format!("no return: {text}"))?;
    let version = info
        .get("version")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no version: {text}"))?;
    let commands = info
        .get("supported_commands")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("no supported_commands: {text}"))?;
    if !commands
        .iter()
        .any(|c| c.get("name").and_then(Value::as_str) == Some("guest-ping"))
    {
        return Err(format!(
            "guest-ping is not among the supported commands: {text}"
        ));
    }
    let bogus = s.virsh.dom_output(
        "qemu-agent-command",
        &[r#"{"execute":"guest-no-such-command"}"#],
    )?;
    if bogus.success || !bogus.stderr.contains("guest-no-such-command") {
        return Err(format!(
            "an unknown command: virsh {} with {:?}",
            if bogus.success { "succeeded" } else { "failed" },
            bogus.stderr
        ));
    }
    s.ok(
        "virsh qemu-agent-command",
        format!(
            "guest-info: version {version}, {} commands; an unknown command's error comes back",
            commands.len()
        ),
    );
    Ok(())
}

fn domhostname(s: &mut Session<'_>) -> Result<(), String> {
    let name = s.dom("domhostname", &["--source", "agent"])?;
    let name = name.trim();
    if name != HOSTNAME {
        return Err(format!("{name:?}, expected {HOSTNAME:?}"));
    }
    s.ok("virsh domhostname --source agent", name.to_string());
    Ok(())
}

/// One glibc utmp record (384 bytes; see `utmp.h`): a USER_PROCESS login.
fn utmp_record(user: &str, line: &str, pid: i32, sec: i32, usec: i32) -> Vec<u8> {
    let mut r = vec![0u8; 384];
    r[0..2].copy_from_slice(&7i16.to_ne_bytes()); // ut_type = USER_PROCESS
    r[4..8].copy_from_slice(&pid.to_ne_bytes());
    r[8..8 + line.len()].copy_from_slice(line.as_bytes()); // ut_line[32]
    r[40..42].copy_from_slice(b"S0"); // ut_id[4]
    r[44..44 + user.len()].copy_from_slice(user.as_bytes()); // ut_user[32]
    r[340..344].copy_from_slice(&sec.to_ne_bytes()); // ut_tv.tv_sec
    r[344..348].copy_from_slice(&usec.to_ne_bytes()); // ut_tv.tv_usec
    r
}

/// A login of qgatest in the guest's utmp (nothing logs in there by itself); libvirt
/// reports it with the login time in milliseconds.
fn guestinfo_user(s: &mut Session<'_>) -> Result<(), String> {
    let (sec, usec) = (1_700_000_000, 250_000);
    s.virsh
        .write_file("/run/utmp", &utmp_record(USER, "ttyS0", 1, sec, usec))?;
    let f = fields(&s.dom("guestinfo", &["--user"])?);
    expect_field(&f, "user.count", "1")?;
    expect_field(&f, "user.0.name", USER)?;
    expect_field(&f, "user.0.login-time", "1700000000250")?;
    s.ok(
        "virsh guestinfo --user",
        format!("{USER}, logged in at 1700000000.25 (a utmp record written through the agent)"),
    );
    Ok(())
}

fn guestinfo_os(s: &mut Session<'_>) -> Result<(), String> {
    let f = fields(&s.dom("guestinfo", &["--os"])?);
    // tests/vm/os-release
    expect_field(&f, "os.id", "qga-vm")?;
    expect_field(&f, "os.name", "qga-vm")?;
    expect_field(&f, "os.pretty-name", "qga VM suite guest")?;
    expect_field(&f, "os.version-id", "1")?;
    expect_field(&f, "os.variant-id", "initramfs")?;
    expect_field(&f, "os.kernel-release", &s.facts.kernel_release)?;
    expect_field(&f, "os.machine", "x86_64")?;
    s.ok(
        "virsh guestinfo --os",
        format!(
            "qga-vm 1 (initramfs), kernel {}, x86_64",
            s.facts.kernel_release
        ),
    );
    Ok(())
}

/// The guest has no /etc/localtime and no TZ: UTC.
fn guestinfo_timezone(s: &mut Session<'_>) -> Result<(), String> {
    let f = fields(&s.dom("guestinfo", &["--timezone"])?);
    expect_field(&f, "timezone.offset", "0")?;
    let name = field(&f, "timezone.name").unwrap_or("");
    if name != "UTC" {
        return Err(format!("timezone.name is {name:?}, expected \"UTC\""));
    }
    s.ok("virsh guestinfo --timezone", "UTC, offset 0".into());
    Ok(())
}

fn guestinfo_hostname(s: &mut Session<'_>) -> Result<(), String> {
    let f = fields(&s.dom("guestinfo", &["--hostname"])?);
    expect_field(&f, "hostname", HOSTNAME)?;
    s.ok("virsh guestinfo --hostname", HOSTNAME.into());
    Ok(())
}

/// The scratch disk's filesystem, with libvirt's alias for its disk (libvirt matches
/// the disk the agent reports to the domain's by its PCI address or serial).
fn guestinfo_filesystem(s: &mut Session<'_>) -> Result<(), String> {
    let f = fields(&s.dom("guestinfo", &["--filesystem"])?);
    let n = index_where(&f, "fs", "mountpoint", SCRATCH)
        .ok_or_else(|| format!("no fs.N.mountpoint {SCRATCH}: {f:?}"))?;
    let fs = |k: &str| format!("fs.{n}.{k}");
    expect_field(&f, &fs("fstype"), "ext4")?;
    expect_field(&f, &fs("name"), DISK_TARGET)?;
    expect_field(&f, &fs("disk.0.alias"), DISK_TARGET)?;
    let total: u64 = field(&f, &fs("total-bytes"))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no {}", fs("total-bytes")))?;
    if !(32 << 20..=64 << 20).contains(&total) {
        return Err(format!(
            "{} is {total}: not the 64 MiB scratch disk",
            fs("total-bytes")
        ));
    }
    let serial = field(&f, &fs("disk.0.serial"));
    if serial.is_some_and(|v| v != DISK_SERIAL) {
        return Err(format!(
            "{} is {serial:?}, expected {DISK_SERIAL:?}",
            fs("disk.0.serial")
        ));
    }
    s.ok(
        "virsh guestinfo --filesystem",
        format!(
            "{} filesystem(s); {SCRATCH} ext4 on {DISK_TARGET} ({} MiB){}",
            field(&f, "fs.count").unwrap_or("?"),
            total >> 20,
            if serial.is_some() {
                ", serial reported"
            } else {
                ", no serial reported"
            }
        ),
    );
    Ok(())
}

fn guestinfo_disk(s: &mut Session<'_>) -> Result<(), String> {
    let f = fields(&s.dom("guestinfo", &["--disk"])?);
    let n = index_where(&f, "disk", "name", SCRATCH_DEVICE)
        .ok_or_else(|| format!("no disk.N.name {SCRATCH_DEVICE}: {f:?}"))?;
    let disk = |k: &str| format!("disk.{n}.{k}");
    expect_field(&f, &disk("partition"), "no")?;
    expect_field(&f, &disk("alias"), DISK_TARGET)?;
    let serial = field(&f, &disk("serial"));
    if serial.is_some_and(|v| v != DISK_SERIAL) {
        return Err(format!(
            "{} is {serial:?}, expected {DISK_SERIAL:?}",
            disk("serial")
        ));
    }
    s.ok(
        "virsh guestinfo --disk",
        format!(
            "{} disk(s); {SCRATCH_DEVICE}, not a partition, alias {DISK_TARGET}{}",
            field(&f, "disk.count").unwrap_or("?"),
            if serial.is_some() {
                ", serial reported"
            } else {
                ", no serial reported"
            }
        ),
    );
    Ok(())
}

/// eth0 with the domain's MAC and the address /init gave it; lo with 127.0.0.1/8.
fn guestinfo_interface(s: &mut Session<'_>) -> Result<(), String> {
    let f = fields(&s.dom("guestinfo", &["--interface"])?);
    let (addr, prefix) = GUEST_ADDRESS.split_once('/').unwrap_or((GUEST_ADDRESS, ""));
    for (name, hwaddr, addr, prefix) in [
        ("eth0", MAC, addr, prefix),
        ("lo", "00:00:00:00:00:00", "127.0.0.1", "8"),
    ] {
        let n = index_where(&f, "if", "name", name)
            .ok_or_else(|| format!("no if.N.name {name}: {f:?}"))?;
        expect_field(&f, &format!("if.{n}.hwaddr"), hwaddr)?;
        let found = f.iter().any(|(k, v)| {
            k.strip_prefix(&format!("if.{n}.addr."))
                .and_then(|rest| rest.strip_suffix(".addr"))
                .is_some_and(|j| {
                    v == addr
                        && field(&f, &format!("if.{n}.addr.{j}.prefix")) == Some(prefix)
                        && field(&f, &format!("if.{n}.addr.{j}.type")) == Some("ipv4")
                })
        });
        if !found {
            return Err(format!("{name} has no ipv4 {addr}/{prefix}: {f:?}"));
        }
    }
    s.ok(
        "virsh guestinfo --interface",
        format!(
            "{} interface(s); eth0 {MAC} {GUEST_ADDRESS}, lo 127.0.0.1/8",
            field(&f, "if.count").unwrap_or("?")
        ),
    );
    Ok(())
}

/// Every section at once: the section of each command the agent offers is there,
/// and only those (libvirt leaves out, silently, what the agent does not offer).
fn guestinfo_all(s: &mut Session<'_>) -> Result<(), String> {
    let f = fields(&s.dom("guestinfo", &[])?);
    let enabled = enabled_commands(s)?;
    let mut found = Vec::new();
    for (section, key, command) in [
        ("user", "user.count", "guest-get-users"),
        ("os", "os.id", "guest-get-osinfo"),
        ("timezone", "timezone.offset", "guest-get-timezone"),
        ("hostname", "hostname", "guest-get-host-name"),
        ("filesystem", "fs.count", "guest-get-fsinfo"),
        ("disk", "disk.count", "guest-get-disks"),
        ("interface", "if.count", "guest-network-get-interfaces"),
    ] {
        let offered = enabled.iter().any(|c| c == command);
        let present = field(&f, key).is_some();
        if offered != present {
            return Err(format!(
                "the {section} section is {} though the agent {} {command}",
                if present { "there" } else { "missing" },
                if offered { "offers" } else { "does not offer" }
            ));
        }
        if present {
            found.push(section);
        }
    }
    expect_field(&f, "hostname", HOSTNAME)?;
    s.ok(
        "virsh guestinfo",
        format!("sections {} ({} fields)", found.join(", "), f.len()),
    );
    Ok(())
}

fn enabled_commands(s: &Session<'_>) -> Result<Vec<String>, String> {
    let info = s.virsh.agent("guest-info", None)?;
    Ok(scenarios::enabled_commands(&info))
}

/// The scratch disk's row: mountpoint, name, type, target.
fn domfsinfo(s: &mut Session<'_>) -> Result<(), String> {
    let text = s.dom("domfsinfo", &[])?;
    let rows = table_rows(&text);
    let row = rows
        .iter()
        .find(|r| r.first().map(String::as_str) == Some(SCRATCH))
        .ok_or_else(|| format!("no row for {SCRATCH}: {}", compact(&text)))?;
    let want = [SCRATCH, DISK_TARGET, "ext4", DISK_TARGET];
    if row.len() != 4 || row.iter().zip(want).any(|(got, want)| got != want) {
        return Err(format!("row {row:?}, expected {want:?}"));
    }
    s.ok(
        "virsh domfsinfo",
        format!("{} row(s); {}", rows.len(), row.join(" ")),
    );
    Ok(())
}

fn domifaddr(s: &mut Session<'_>) -> Result<(), String> {
    let text = s.dom("domifaddr", &["--source", "agent"])?;
    let rows = table_rows(&text);
    // Rows: NAME MAC PROTOCOL ADDRESS, continued as `- - PROTOCOL ADDRESS`.
    let mut current = String::new();
    let mut addresses: Vec<(String, String, String, String)> = Vec::new();
    for r in &rows {
        if r.len() != 4 {
            return Err(format!("odd row {r:?} in {}", compact(&text)));
        }
        if r[0] != "-" {
            current = r[0].clone();
        }
        let mac = if r[1] == "-" {
            addresses
                .iter()
                .rev()
                .find(|a| a.0 == current)
                .map(|a| a.1.clone())
                .unwrap_or_default()
        } else {
            r[1].clone()
        };
        addresses.push((current.clone(), mac, r[2].clone(), r[3].clone()));
    }
    for want in [
        ("eth0", MAC, "ipv4", GUEST_ADDRESS),
        ("lo", "00:00:00:00:00:00", "ipv4", "127.0.0.1/8"),
    ] {
        if !addresses
            .iter()
            .any(|a| (a.0.as_str(), a.1.as_str(), a.2.as_str(), a.3.as_str()) == want)
        {
            return Err(format!("no {want:?} in {}", compact(&text)));
        }
    }
    s.ok(
        "virsh domifaddr --source agent",
        format!(
            "{} address(es); eth0 {MAC} ipv4 {GUEST_ADDRESS}, lo 127.0.0.1/8",
            addresses.len()
        ),
    );
    Ok(())
}

/// `Time: SECONDS` of `virsh domtime`.
fn guest_time(s: &Session<'_>) -> Result<i64, String> {
    let text = s.dom("domtime", &[])?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Time:"))
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| format!("virsh domtime printed {:?}", text.trim()))
}

/// How far the guest's clock is from `expected` (seconds, guest minus expected), and
/// an error if more than [`CLOCK_SLACK`].
fn clock_near(s: &Session<'_>, expected: i64, what: &str) -> Result<i64, String> {
    let got = guest_time(s)?;
    let off = got - expected;
    if off.abs() > CLOCK_SLACK {
        return Err(format!(
            "{what}: the guest clock reads {got}, {off} s off {expected}"
        ));
    }
    Ok(off)
}

/// The guest clock, which it set from the RTC at boot, is the host's.
fn domtime(s: &mut Session<'_>) -> Result<(), String> {
    let off = clock_near(s, now_secs(), "after boot")?;
    s.ok(
        "virsh domtime",
        format!("the guest clock is {off:+} s off the host's"),
    );
    Ok(())
}

/// Back to the host's time (`--now`, which also sets the RTC), checked.
fn clock_back_now(s: &Session<'_>) -> Result<(), String> {
    s.dom("domtime", &["--now"])?;
    clock_near(s, now_secs(), "after --now").map(|_| ())
}

const DAY: i64 = 86_400;

/// A day ahead with `--time`, read back, then back with `--now`.
fn domtime_time(s: &mut Session<'_>) -> Result<(), String> {
    let result = (|| -> Result<i64, String> {
        let target = now_secs() + DAY;
        let set_at = Instant::now();
        s.dom("domtime", &["--time", &target.to_string()])?;
        let off = clock_near(
            s,
            target + set_at.elapsed().as_secs() as i64,
            "after --time",
        )?;
        Ok(off)
    })();
    let back = clock_back_now(s);
    let off = result?;
    back?;
    s.ok(
        "virsh domtime --time",
        format!("a day ahead, read back {off:+} s off; set back with --now"),
    );
    Ok(())
}

/// The RTC a day ahead of the system clock (busybox date and hwclock in the guest);
/// `--sync` must set the clock from the RTC; then both back with `--now`.
fn domtime_sync(s: &mut Session<'_>) -> Result<(), String> {
    let result = (|| -> Result<i64, String> {
        let now = now_secs();
        s.virsh.sh(&format!(
            "date -s @{} >/dev/null && hwclock -u -w && date -s @{now} >/dev/null",
            now + DAY
        ))?;
        let rtc_set = Instant::now();
        clock_near(s, now, "the clock alone put back")?;
        s.dom("domtime", &["--sync"])?;
        clock_near(
            s,
            now + DAY + rtc_set.elapsed().as_secs() as i64,
            "after --sync (expected the RTC's time, a day ahead)",
        )
    })();
    let back = clock_back_now(s);
    let off = result?;
    back?;
    s.ok(
        "virsh domtime --sync",
        format!("the clock taken from the RTC (a day ahead, {off:+} s); set back with --now"),
    );
    Ok(())
}

fn vcpu_fields(s: &Session<'_>) -> Result<Vec<(String, String)>, String> {
    Ok(fields(&s.dom("guestvcpus", &[])?))
}

fn guestvcpus(s: &mut Session<'_>) -> Result<(), String> {
    let f = vcpu_fields(s)?;
    expect_field(&f, "vcpus", "0-1")?;
    expect_field(&f, "online", "0-1")?;
    expect_field(&f, "offlinable", "1")?;
    s.ok(
        "virsh guestvcpus",
        "vcpus 0-1, online 0-1, offlinable 1".into(),
    );

    let result = (|| -> Result<(), String> {
        s.dom("guestvcpus", &["--cpulist", "1", "--disable"])?;
        let f = vcpu_fields(s)?;
        expect_field(&f, "online", "0")?;
        // What the guest's kernel says, not only the agent.
        let online = s.virsh.sh("cat /sys/devices/system/cpu/online")?;
        if online.trim() != "0" {
            return Err(format!(
                "the guest's kernel has cpus {} online",
                online.trim()
            ));
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = s.dom("guestvcpus", &["--cpulist", "1", "--enable"]);
    }
    result?;
    s.ok(
        "virsh guestvcpus --disable",
        "cpu 1 offline (online 0, and so says the guest's kernel)".into(),
    );

    s.dom("guestvcpus", &["--cpulist", "1", "--enable"])?;
    let f = vcpu_fields(s)?;
    expect_field(&f, "online", "0-1")?;
    s.ok(
        "virsh guestvcpus --enable",
        "cpu 1 online again (online 0-1)".into(),
    );
    Ok(())
}

fn shadow_hash(s: &Session<'_>) -> Result<String, String> {
    let shadow = String::from_utf8_lossy(&s.virsh.read_file("/etc/shadow")?).into_owned();
    shadow
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{USER}:")))
        .and_then(|rest| rest.split(':').next())
        .map(str::to_string)
        .ok_or_else(|| format!("no {USER} in the guest's /etc/shadow"))
}

/// A plain password becomes a new hash in /etc/shadow; an encrypted one is stored as
/// given.
fn set_user_password(s: &mut Session<'_>) -> Result<(), String> {
    const HASH: &str = "$6$qgalibvirt$2oVPbUQz8GMKtgV7YpoW1AEp1Vb2XRJgPPrYqrOJn5vfMHXqq9lKNBbS5lxmwr9Ufpe4C63PCAX8FsT8NhL5m/";
    let before = shadow_hash(s)?;
    s.dom("set-user-password", &[USER, "Libvirt-Run-1"])?;
    let plain = shadow_hash(s)?;
    if plain == before || !plain.starts_with('$') {
        return Err(format!(
            "{USER}'s shadow hash went from {before:?} to {plain:?}"
        ));
    }
    s.ok(
        "virsh set-user-password",
        format!(
            "{USER}'s hash {before:?} -> {}...",
            plain.chars().take(6).collect::<String>()
        ),
    );
    s.dom("set-user-password", &[USER, HASH, "--encrypted"])?;
    let stored = shadow_hash(s)?;
    if stored != HASH {
        return Err(format!("/etc/shadow holds {stored:?}, not the hash given"));
    }
    s.ok(
        "virsh set-user-password --encrypted",
        "the hash given is in /etc/shadow".into(),
    );
    Ok(())
}

fn ssh_key(tag: u8) -> String {
    super::guest_user::ssh_key("qga-libvirt", tag)
}

/// The keys get-user-sshkeys prints, as a sorted list. (virsh 9.0 prints each key
/// with no separator between them; each key starts with its type.)
fn listed_keys(s: &Session<'_>, known: &[&str]) -> Result<Vec<String>, String> {
    let mut text = s.dom("get-user-sshkeys", &[USER])?;
    let mut keys = Vec::new();
    for key in known {
        while let Some(at) = text.find(key) {
            text.replace_range(at..at + key.len(), "\n");
            keys.push(key.to_string());
        }
    }
    if !text.trim().is_empty() {
        return Err(format!(
            "get-user-sshkeys printed more than the known keys: {:?}",
            text.trim()
        ));
    }
    keys.sort();
    Ok(keys)
}

/// The key lines of the guest's authorized_keys, sorted.
fn file_keys(s: &Session<'_>) -> Result<Vec<String>, String> {
    let text = String::from_utf8_lossy(&s.virsh.read_file(AUTHORIZED_KEYS)?).into_owned();
    let mut keys: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    keys.sort();
    Ok(keys)
}

/// Both what virsh lists and what the file holds are `want`.
fn expect_keys(s: &Session<'_>, known: &[&str], want: &[&str], step: &str) -> Result<(), String> {
    let mut want: Vec<String> = want.iter().map(|k| k.to_string()).collect();
    want.sort();
    let listed = listed_keys(s, known)?;
    if listed != want {
        return Err(format!(
            "{step}: get-user-sshkeys lists {listed:?}, expected {want:?}"
        ));
    }
    let in_file = file_keys(s)?;
    if in_file != want {
        return Err(format!(
            "{step}: {AUTHORIZED_KEYS} holds {in_file:?}, expected {want:?}"
        ));
    }
    Ok(())
}

/// Writes `key` to a host file virsh can read with --file.
fn key_file(s: &Session<'_>, name: &str, keys: &[&str]) -> Result<String, String> {
    let path = s.facts.work.join(name);
    let text: String = keys.iter().map(|k| format!("{k}\n")).collect();
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path.to_string_lossy().into_owned())
}

/// Add two keys one at a time (the file is made, owned by the user, mode 600 in a
/// 700 ~/.ssh); list a file with comments and blank lines; --reset with no file and
/// with one; --remove one of two.
fn ssh_keys(s: &mut Session<'_>) -> Result<(), String> {
    let (a, b, c) = (ssh_key(b'a'), ssh_key(b'b'), ssh_key(b'c'));
    let known = [a.as_str(), b.as_str(), c.as_str()];
    let (fa, fb) = (
        key_file(s, "key-a.pub", &[&a])?,
        key_file(s, "key-b.pub", &[&b])?,
    );

    s.dom("set-user-sshkeys", &[USER, "--file", &fa])?;
    s.dom("set-user-sshkeys", &[USER, "--file", &fb])?;
    expect_keys(s, &known, &[&a, &b], "after adding a, then b")?;
    let modes = s.virsh.sh(STAT_KEYS)?;
    if compact(&modes) != STAT_EXPECTED {
        return Err(format!(
            "~/.ssh and authorized_keys are {:?}, expected owner 1000:1000, modes 700 and 600",
            compact(&modes)
        ));
    }
    s.ok(
        "virsh set-user-sshkeys",
        "two keys added one at a time; the file is the user's, mode 600 in a 700 ~/.ssh".into(),
    );

    let text = format!("# keys of the libvirt run\n{a}\n\n   \n{c}\n");
    s.virsh.write_file(AUTHORIZED_KEYS, text.as_bytes())?;
    let listed = listed_keys(s, &known)?;
    let mut want = vec![a.clone(), c.clone()];
    want.sort();
    if listed != want {
        return Err(format!(
            "a file with a comment and blank lines: listed {listed:?}, expected {want:?}"
        ));
    }
    s.ok(
        "virsh get-user-sshkeys",
        "the two keys of a file with a comment and blank lines".into(),
    );

    s.dom("set-user-sshkeys", &[USER, "--reset"])?;
    expect_keys(s, &known, &[], "after --reset with no file")?;
    s.dom("set-user-sshkeys", &[USER, "--reset", "--file", &fb])?;
    expect_keys(s, &known, &[&b], "after --reset --file b")?;
    s.ok(
        "virsh set-user-sshkeys --reset",
        "with no file: no keys left; with key b: only b".into(),
    );

    s.dom("set-user-sshkeys", &[USER, "--file", &fa])?;
    expect_keys(s, &known, &[&a, &b], "after adding a")?;
    s.dom("set-user-sshkeys", &[USER, "--remove", "--file", &fb])?;
    expect_keys(s, &known, &[&a], "after --remove b")?;
    s.ok(
        "virsh set-user-sshkeys --remove",
        "of keys a and b, b removed; a stays".into(),
    );
    Ok(())
}

fn freeze_status(s: &Session<'_>) -> Result<String, String> {
    let st = s.virsh.agent("guest-fsfreeze-status", None)?;
    st.as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("guest-fsfreeze-status returned {st}"))
}

fn expect_status(s: &Session<'_>, want: &str, when: &str) -> Result<(), String> {
    let st = freeze_status(s)?;
    if st != want {
        return Err(format!(
            "{when}: guest-fsfreeze-status says {st}, expected {want}"
        ));
    }
    Ok(())
}

/// "Froze N filesystem(s)" / "Thawed N filesystem(s)": N, which must be 1 (the
/// scratch disk is the guest's only freezable filesystem).
fn one_filesystem(text: &str, verb: &str) -> Result<(), String> {
    let n: Option<u32> = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(verb))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    match n {
        Some(1) => Ok(()),
        _ => Err(format!(
            "virsh printed {:?}, expected \"{verb} 1 filesystem(s)\"",
            text.trim()
        )),
    }
}

fn fsfreeze(s: &mut Session<'_>) -> Result<(), String> {
    let result = fsfreeze_steps(s);
    if result.is_err() && freeze_status(s).is_ok_and(|st| st == "frozen") {
        let _ = s.dom("domfsthaw", &[]);
    }
    result
}

fn fsfreeze_steps(s: &mut Session<'_>) -> Result<(), String> {
    one_filesystem(&s.dom("domfsfreeze", &[])?, "Froze")?;
    expect_status(s, "frozen", "after domfsfreeze")?;
    s.ok(
        "virsh domfsfreeze",
        "froze 1 filesystem; status frozen".into(),
    );

    one_filesystem(&s.dom("domfsthaw", &[])?, "Thawed")?;
    expect_status(s, "thawed", "after domfsthaw")?;
    s.ok(
        "virsh domfsthaw",
        "thawed 1 filesystem; status thawed".into(),
    );

    one_filesystem(&s.dom("domfsfreeze", &["--mountpoint", SCRATCH])?, "Froze")?;
    expect_status(s, "frozen", "after domfsfreeze --mountpoint")?;
    s.ok(
        "virsh domfsfreeze --mountpoint",
        format!("froze {SCRATCH} (1); status frozen"),
    );

    // libvirt 9.0 refuses mountpoints for a thaw itself, before the agent; a libvirt
    // that passes them on must thaw.
    let out = s
        .virsh
        .dom_output("domfsthaw", &["--mountpoint", SCRATCH])?;
    let detail = if out.success {
        one_filesystem(&out.stdout, "Thawed")?;
        expect_status(s, "thawed", "after domfsthaw --mountpoint")?;
        format!("thawed {SCRATCH} (1); status thawed")
    } else {
        if !out.stderr.contains("not supported") {
            return Err(format!("refused: {}", out.stderr));
        }
        expect_status(s, "frozen", "after the refused domfsthaw --mountpoint")?;
        one_filesystem(&s.dom("domfsthaw", &[])?, "Thawed")?;
        expect_status(s, "thawed", "after domfsthaw")?;
        format!(
            "refused by libvirt itself ({:?}), the guest stays frozen; domfsthaw thawed 1",
            out.stderr
                .lines()
                .last()
                .unwrap_or("")
                .trim_start_matches("error: ")
        )
    };
    s.ok("virsh domfsthaw --mountpoint", detail);
    Ok(())
}

/// Bytes the scratch disk's image takes on the host.
fn allocated(s: &Session<'_>) -> Result<u64, String> {
    std::fs::metadata(&s.facts.disk)
        .map(|m| m.blocks() * 512)
        .map_err(|e| format!("{}: {e}", s.facts.disk.display()))
}

/// Write 16 MiB to the scratch disk and delete it: the image grows on the host; the
/// trim (through QEMU's discard=unmap) must give the space back.
fn domfstrim(s: &mut Session<'_>) -> Result<(), String> {
    let before = allocated(s)?;
    s.virsh.sh(&format!(
        "dd if=/dev/zero of={SCRATCH}/trim.fill bs=1M count=16 2>/dev/null && sync && \
         rm {SCRATCH}/trim.fill && sync"
    ))?;
    let filled = allocated(s)?;
    if filled < before + (8 << 20) {
        return Err(format!(
            "writing 16 MiB grew the image only from {before} to {filled} bytes"
        ));
    }
    s.dom("domfstrim", &[])?;
    let trimmed = allocated(s)?;
    if trimmed + (8 << 20) > filled {
        return Err(format!(
            "the image still takes {trimmed} bytes after the trim ({filled} before)"
        ));
    }
    s.ok(
        "virsh domfstrim",
        format!(
            "the image went from {} to {} MiB on the host (after 16 MiB written and deleted)",
            filled >> 20,
            trimmed >> 20
        ),
    );
    Ok(())
}

fn boot_id(s: &Session<'_>) -> Result<String, String> {
    let id = s.virsh.read_file("/proc/sys/kernel/random/boot_id")?;
    Ok(String::from_utf8_lossy(&id).trim().to_string())
}

/// guest-shutdown with mode reboot: the domain keeps running (on_reboot restart), and
/// the agent answers again from a new boot.
fn reboot(s: &mut Session<'_>) -> Result<(), String> {
    let before = boot_id(s)?;
    s.dom("reboot", &["--mode", "agent"])?;
    let start = Instant::now();
    loop {
        // The old agent may still answer before the reset: compare boot ids.
        if let Ok(id) = boot_id(s) {
            if id != before {
                break;
            }
        }
        if start.elapsed() >= REBOOT_TIMEOUT {
            return Err(format!(
                "no answer from a new boot in {} s (domain {})",
                REBOOT_TIMEOUT.as_secs(),
                s.virsh.state().unwrap_or_else(|e| e)
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let back = start.elapsed();
    s.reboot_to_agent = Some(back);
    let state = s.virsh.state()?;
    if state != "running" {
        return Err(format!("the domain is {state} after the reboot"));
    }
    s.ok(
        "virsh reboot --mode agent",
        format!("new boot, agent back after {}; domain running", secs(back)),
    );
    Ok(())
}

/// guest-shutdown: the domain goes to `shut off (shutdown)` and its QEMU exits.
fn shutdown(s: &mut Session<'_>) -> Result<(), String> {
    let pid: Option<i32> = std::fs::read_to_string(&s.facts.pid_file)
        .ok()
        .and_then(|t| t.trim().parse().ok());
    s.dom("shutdown", &["--mode", "agent"])?;
    let start = Instant::now();
    loop {
        if s.virsh.state()? == "shut off" {
            break;
        }
        if start.elapsed() >= SHUTDOWN_TIMEOUT {
            return Err(format!(
                "the domain still runs {} s later",
                SHUTDOWN_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let off = start.elapsed();
    let reason = s.dom("domstate", &["--reason"])?;
    if reason.trim() != "shut off (shutdown)" {
        return Err(format!("domstate --reason says {:?}", reason.trim()));
    }
    if let Some(pid) = pid {
        if std::path::Path::new(&format!("/proc/{pid}/exe")).exists() {
            return Err(format!(
                "the domain is shut off but QEMU (pid {pid}) still runs"
            ));
        }
    }
    s.ok(
        "virsh shutdown --mode agent",
        format!("shut off (shutdown) after {}; QEMU gone", secs(off)),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_tables() {
        let f = fields(
            "fs.count            : 1\nfs.0.mountpoint     : /mnt/scratch\nfs.0.name : vda\n",
        );
        assert_eq!(field(&f, "fs.count"), Some("1"));
        assert_eq!(
            index_where(&f, "fs", "mountpoint", "/mnt/scratch").as_deref(),
            Some("0")
        );
        assert_eq!(index_where(&f, "fs", "mountpoint", "/"), None);
        assert!(expect_field(&f, "fs.0.name", "vdb").is_err());

        let t = " Mountpoint     Name   Type   Target\n--------------------------------------\n /mnt/scratch   vda    ext4   vda\n\n";
        assert_eq!(
            table_rows(t),
            vec![vec!["/mnt/scratch", "vda", "ext4", "vda"]]
        );
    }

    #[test]
    fn utmp_layout() {
        let r = utmp_record("qgatest", "ttyS0", 1, 1_700_000_000, 250_000);
        assert_eq!(r.len(), 384);
        assert_eq!(i16::from_ne_bytes([r[0], r[1]]), 7);
        assert_eq!(&r[44..51], b"qgatest");
        assert_eq!(
            i32::from_ne_bytes(r[340..344].try_into().unwrap()),
            1_700_000_000
        );
    }

    #[test]
    fn every_check_prints_lines() {
        for c in CHECKS {
            assert!(!c.lines.is_empty());
        }
        assert_eq!(
            CHECKS.last().unwrap().lines,
            ["virsh shutdown --mode agent"]
        );
    }

    #[test]
    fn filesystem_counts() {
        assert!(one_filesystem("Froze 1 filesystem(s)\n\n", "Froze").is_ok());
        assert!(one_filesystem("Froze 2 filesystem(s)", "Froze").is_err());
        assert!(one_filesystem("", "Thawed").is_err());
    }
}
