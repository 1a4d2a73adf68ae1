//! Differential tests: our information commands against QEMU's agent (qemu-ga 7.2)
//! on this machine. Each test starts its own qemu-ga on a unix socket in a temp
//! dir and sends it read-only commands only.
//!
//! Without qemu-ga the tests are skipped, unless CI=true, where that is a failure.
//! Some tests also run qemu-ga in a private mount namespace (`unshare --mount`)
//! where fixture trees are mounted over /sys/devices/system/{cpu,memory} and a
//! fixture utmp over /run, so both agents read the same fixtures; where namespaces
//! are not available those parts are skipped.

// Each test crate uses some of the fixtures.
#[allow(dead_code)]
mod fixtures;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use qga_agent::commands::mounts::MountTable;
use qga_agent::commands::{cpu, cpustats, disks, diskstats, fsinfo, memory, network, system};
use serde_json::{json, Value};

/// The qemu-ga binary: $QEMU_GA, or the usual places. `None` means skip the test
/// (a failure under CI=true).
fn qemu_ga_binary() -> Option<PathBuf> {
    let found = std::env::var_os("QEMU_GA")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/sbin/qemu-ga", "/usr/bin/qemu-ga"].map(PathBuf::from))
        .chain(
            std::env::var_os("PATH")
                .map(|p| {
                    std::env::split_paths(&p)
                        .map(|d| d.join("qemu-ga"))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        )
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "qemu-ga (Debian's qemu-guest-agent) is required under CI"
        );
        eprintln!("qemu-ga not found: differential test skipped");
    }
    found
}

/// A qemu-ga listening on a unix socket in a temp dir; killed on drop.
struct QemuGa {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl QemuGa {
    /// Start qemu-ga with extra environment variables.
    fn start(binary: &Path, env: &[(&str, &OsStr)]) -> QemuGa {
        let dir = tempfile::tempdir().unwrap();
        let (socket, state) = Self::paths(dir.path());
        let mut cmd = Command::new(binary);
        cmd.args(["-m", "unix-listen", "-p"])
            .arg(&socket)
            .arg("-t")
            .arg(&state);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::spawn(cmd, dir, socket).expect("qemu-ga did not start")
    }

    /// Start qemu-ga in a private mount namespace after a setup script (run by
    /// `sh -e` inside the namespace). `None` when that is not possible here.
    fn start_in_namespace(binary: &Path, setup: &str) -> Option<QemuGa> {
        let dir = tempfile::tempdir().unwrap();
        let (socket, state) = Self::paths(dir.path());
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private", "sh", "-e", "-c"])
            .arg(format!("{setup}\nexec \"$@\""))
            .arg("sh")
            .arg(binary)
            .args(["-m", "unix-listen", "-p"])
            .arg(&socket)
            .arg("-t")
            .arg(&state);
        let started = Self::spawn(cmd, dir, socket);
        if started.is_none() {
            eprintln!("mount namespaces unavailable: that part is skipped");
        }
        started
    }

    fn paths(dir: &Path) -> (PathBuf, PathBuf) {
        let state = dir.join("state");
        std::fs::create_dir(&state).unwrap();
        (dir.join("qga.sock"), state)
    }

    fn spawn(mut cmd: Command, dir: tempfile::TempDir, socket: PathBuf) -> Option<QemuGa> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().ok()?;
        let mut ga = QemuGa {
            child,
            socket,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if ga.socket.exists() && UnixStream::connect(&ga.socket).is_ok() {
                return Some(ga);
            }
            if let Ok(Some(_)) = ga.child.try_wait() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Send one command; Ok(return value) or Err(error desc).
    fn call(&self, command: &str) -> Result<Value, String> {
        let mut stream = UnixStream::connect(&self.socket).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let request = json!({ "execute": command }).to_string();
        stream.write_all(request.as_bytes()).unwrap();
        let mut line = String::new();
        // Read the whole response before closing: qemu-ga exits when a client
        // goes away with a response unread.
        BufReader::new(&stream).read_line(&mut line).unwrap();
        let response: Value = serde_json::from_str(&line).unwrap();
        match response.get("return") {
            Some(v) => Ok(v.clone()),
            None => Err(response["error"]["desc"]
                .as_str()
                .unwrap_or_default()
                .to_string()),
        }
    }

    fn ok(&self, command: &str) -> Value {
        self.call(command)
            .unwrap_or_else(|e| panic!("qemu-ga {command}: {e}"))
    }
}

impl Drop for QemuGa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The keys and JSON types of a value: leaves become type names, objects keep
/// their keys, arrays become the sorted set of their elements' shapes.
fn shape(v: &Value) -> Value {
    match v {
        Value::Null => json!("null"),
        Value::Bool(_) => json!("bool"),
        Value::Number(n) if n.is_f64() => json!("number"),
        Value::Number(_) => json!("integer"),
        Value::String(_) => json!("string"),
        Value::Array(items) => {
            let mut shapes: Vec<Value> = items.iter().map(shape).collect();
            shapes.sort_by_key(|s| s.to_string());
            shapes.dedup();
            Value::Array(shapes)
        }
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
    }
}

/// Every number as a float (QEMU prints 1700000300.0 as 1700000300).
fn floats(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64().unwrap()),
        Value::Array(items) => Value::Array(items.iter().map(floats).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), floats(v))).collect())
        }
        other => other.clone(),
    }
}

/// Compare our answer with qemu-ga's, asking again a few times when they differ:
/// mounts and interfaces may come and go while other tests run.
fn settled(mut answers: impl FnMut() -> (Value, Value)) {
    let mut last = None;
    for _ in 0..5 {
        let (ours, theirs) = answers();
        if ours == theirs {
            return;
        }
        last = Some((ours, theirs));
        std::thread::sleep(Duration::from_millis(200));
    }
    let (ours, theirs) = last.unwrap();
    assert_eq!(shape(&ours), shape(&theirs));
    assert_eq!(ours, theirs);
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

/// Sort a list of objects by one member.
fn sorted_by(v: &Value, key: &str) -> Value {
    let mut items = v.as_array().unwrap().clone();
    items.sort_by_key(|item| item[key].to_string());
    Value::Array(items)
}

#[test]
fn host_name_and_timezone() {
    let Some(bin) = qemu_ga_binary() else { return };
    let ga = QemuGa::start(&bin, &[]);
    assert_eq!(
        to_json(&system::get_host_name().unwrap()),
        ga.ok("guest-get-host-name")
    );
    assert_eq!(
        to_json(&system::get_timezone().unwrap()),
        ga.ok("guest-get-timezone")
    );
    // Time: same shape, and close (qemu-ga has microsecond precision).
    let theirs = ga.ok("guest-get-time").as_i64().unwrap();
    let ours = system::get_time().unwrap();
    assert!((ours - theirs).abs() < 60_000_000_000, "{ours} vs {theirs}");
}

/// Run in a child process by `timezones`, with TZ set: prints our answer.
#[test]
fn timezone_child() {
    if std::env::var_os("QGA_TEST_TIMEZONE_CHILD").is_none() {
        return;
    }
    println!("TIMEZONE {}", to_json(&system::get_timezone().unwrap()));
}

#[test]
fn timezones() {
    let Some(bin) = qemu_ga_binary() else { return };
    let mut zones = vec![
        "UTC0",
        "JST-9",
        "ABC+3",
        "<+0530>-5:30",
        "EST5EDT,M3.2.0,M11.1.0",
        "NZST-12NZDT,M9.5.0,M4.1.0/3",
        "",
        "garbage",
        "Nowhere/Invalid",
        ":",
        "A1",
        "<AB>3",
    ];
    for named in ["Europe/Paris", ":America/New_York", "Asia/Kolkata"] {
        if Path::new("/usr/share/zoneinfo")
            .join(named.trim_start_matches(':'))
            .exists()
        {
            zones.push(named);
        }
    }
    for tz in zones {
        let ga = QemuGa::start(&bin, &[("TZ", OsStr::new(tz))]);
        // Our answer from a child process, so that this one's TZ stays as it is.
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "timezone_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("QGA_TEST_TIMEZONE_CHILD", "1")
            .env("TZ", tz)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        // libtest prints the test's name on the same line, before the output.
        let ours: Value = stdout
            .split_once("TIMEZONE ")
            .and_then(|(_, rest)| {
                serde_json::Deserializer::from_str(rest)
                    .into_iter::<Value>()
                    .next()
            })
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("no answer from the child: {stdout}"));
        assert_eq!(ours, ga.ok("guest-get-timezone"), "TZ={tz}");
    }
}

#[test]
fn osinfo_with_fixture_os_release() {
    let Some(bin) = qemu_ga_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("os-release");
    std::fs::write(&file, "").unwrap();
    // qemu-ga reads the file named by QGA_OS_RELEASE at each call.
    let ga = QemuGa::start(&bin, &[("QGA_OS_RELEASE", file.as_os_str())]);
    for content in fixtures::os_release_samples() {
        std::fs::write(&file, content).unwrap();
        let ours = to_json(&system::get_osinfo_from(&[&file]).unwrap());
        let mut theirs = ga.ok("guest-get-osinfo");
        // qemu-ga's one fault here: an unclosed quote keeps a leftover tail of the
        // raw text ("abc gives abcc). Ours gives the quoted text; compare on that.
        if let Some(map) = theirs.as_object_mut() {
            for (key, value) in map.iter_mut() {
                let fixed = ours.get(key).and_then(Value::as_str);
                if let (Some(theirs_text), Some(fixed)) = (value.as_str(), fixed) {
                    if theirs_text != fixed && theirs_text.starts_with(fixed) {
                        *value = Value::String(fixed.to_owned());
                    }
                }
            }
        }
        assert_eq!(
            ours,
            theirs,
            "os-release {:?}",
            String::from_utf8_lossy(content)
        );
    }
    // A missing file: only the uname members.
    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        to_json(&system::get_osinfo_from(&[&file]).unwrap()),
        ga.ok("guest-get-osinfo")
    );
}

#[test]
fn osinfo_of_this_machine() {
    let Some(bin) = qemu_ga_binary() else { return };
    let ga = QemuGa::start(&bin, &[]);
    let ours = if std::env::var_os(system::OS_RELEASE_ENV).is_some() {
        // qemu-ga was started without it: compare with the default files.
        let paths: Vec<&Path> = system::OS_RELEASE_PATHS.iter().map(Path::new).collect();
        system::get_osinfo_from(&paths).unwrap()
    } else {
        system::get_osinfo().unwrap()
    };
    assert_eq!(to_json(&ours), ga.ok("guest-get-osinfo"));
}

#[test]
fn vcpus_and_memory_blocks() {
    let Some(bin) = qemu_ga_binary() else { return };
    let ga = QemuGa::start(&bin, &[]);
    let ours = to_json(&cpu::get_vcpus().unwrap());
    let theirs = ga.ok("guest-get-vcpus");
    assert_eq!(shape(&ours), shape(&theirs));
    assert_eq!(
        sorted_by(&ours, "logical-id"),
        sorted_by(&theirs, "logical-id")
    );

    let ours = memory::get_memory_blocks().map(|b| to_json(&b));
    let theirs = ga.call("guest-get-memory-blocks");
    match (ours, theirs) {
        (Ok(ours), Ok(theirs)) => {
            assert_eq!(shape(&ours), shape(&theirs));
            assert_eq!(
                sorted_by(&ours, "phys-index"),
                sorted_by(&theirs, "phys-index")
            );
        }
        (ours, theirs) => assert_eq!(ours.map_err(|e| e.0), theirs),
    }
    let ours = memory::get_memory_block_info().map(|i| to_json(&i));
    assert_eq!(
        ours.map_err(|e| e.0),
        ga.call("guest-get-memory-block-info")
    );
}

#[test]
fn vcpus_and_memory_blocks_of_fixtures() {
    let Some(bin) = qemu_ga_binary() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cpu_dir = tmp.path().join("cpu");
    let mem_dir = tmp.path().join("memory");
    fixtures::cpu_tree(&cpu_dir);
    fixtures::memory_tree(&mem_dir);
    let setup = format!(
        "mount --bind '{}' /sys/devices/system/cpu\n\
         mount --bind '{}' /sys/devices/system/memory",
        cpu_dir.display(),
        mem_dir.display()
    );
    let Some(ga) = QemuGa::start_in_namespace(&bin, &setup) else {
        return;
    };
    // The namespace is private: the real sysfs is untouched, and only read-only
    // commands are sent anyway.
    let compare = |ours: Result<Value, String>, command: &str, real: &str, fixture: &Path| {
        let ours = ours.map_err(|e| e.replace(&fixture.display().to_string(), real));
        assert_eq!(ours, ga.call(command), "{command}");
    };
    let cpus = "/sys/devices/system/cpu";
    let mems = "/sys/devices/system/memory";
    let vcpus = || {
        cpu::get_vcpus_in(&cpu_dir)
            .map(|v| to_json(&v))
            .map_err(|e| e.0)
    };
    let blocks = || {
        memory::get_memory_blocks_in(&mem_dir)
            .map(|v| to_json(&v))
            .map_err(|e| e.0)
    };
    let info = || {
        memory::get_memory_block_info_in(&mem_dir)
            .map(|v| to_json(&v))
            .map_err(|e| e.0)
    };
    compare(vcpus(), "guest-get-vcpus", cpus, &cpu_dir);
    compare(blocks(), "guest-get-memory-blocks", mems, &mem_dir);
    compare(info(), "guest-get-memory-block-info", mems, &mem_dir);

    // Error texts.
    std::fs::create_dir(cpu_dir.join("cpu3")).unwrap();
    std::fs::write(cpu_dir.join("cpu3/online"), "").unwrap();
    compare(vcpus(), "guest-get-vcpus", cpus, &cpu_dir);
    std::fs::create_dir_all(mem_dir.join("memory7/state")).unwrap();
    compare(blocks(), "guest-get-memory-blocks", mems, &mem_dir);
    std::fs::remove_dir(mem_dir.join("memory7/state")).unwrap();
    std::fs::write(mem_dir.join("memory7/state"), "online\n").unwrap();
    std::fs::write(mem_dir.join("memory7/removable"), "").unwrap();
    compare(blocks(), "guest-get-memory-blocks", mems, &mem_dir);
    std::fs::write(mem_dir.join("block_size_bytes"), "").unwrap();
    compare(info(), "guest-get-memory-block-info", mems, &mem_dir);
    std::fs::write(mem_dir.join("block_size_bytes"), " 0x40000000\n").unwrap();
    compare(info(), "guest-get-memory-block-info", mems, &mem_dir);
    std::fs::remove_file(mem_dir.join("block_size_bytes")).unwrap();
    compare(info(), "guest-get-memory-block-info", mems, &mem_dir);
}

#[test]
fn users() {
    let Some(bin) = qemu_ga_binary() else { return };
    let ga = QemuGa::start(&bin, &[]);
    let ours = to_json(&system::get_users().unwrap());
    let theirs = ga.ok("guest-get-users");
    assert_eq!(shape(&ours), shape(&theirs));
    assert_eq!(floats(&ours), floats(&theirs));
}

#[test]
fn users_of_fixture_utmp() {
    let Some(bin) = qemu_ga_binary() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let utmp = tmp.path().join("utmp");
    std::fs::write(&utmp, fixtures::utmp_fixture()).unwrap();
    // glibc reads /var/run/utmp, that is /run/utmp.
    let setup = format!(
        "mount -t tmpfs qga-test /run\ncp '{}' /run/utmp",
        utmp.display()
    );
    let Some(ga) = QemuGa::start_in_namespace(&bin, &setup) else {
        return;
    };
    let ours = floats(&to_json(&system::get_users_from(&utmp).unwrap()));
    let mut theirs = floats(&ga.ok("guest-get-users"));
    assert_eq!(ours.as_array().unwrap().len(), 3);
    // The one difference kept on purpose: a name that fills ut_user's 32 bytes has
    // no terminator, and qemu-ga reads on into ut_host ("localhost" here); ours
    // stops at the end of the field.
    let long = "x".repeat(32);
    assert_eq!(theirs[2]["user"], json!(format!("{long}localhost")));
    theirs[2]["user"] = json!(long);
    assert_eq!(ours, theirs);
}

#[test]
fn network_interfaces() {
    let Some(bin) = qemu_ga_binary() else { return };
    let ga = QemuGa::start(&bin, &[]);
    // Everything but the counters, which move between the two calls.
    let strip = |v: &Value| {
        let mut v = v.clone();
        for iface in v.as_array_mut().unwrap() {
            if let Some(stats) = iface.get_mut("statistics") {
                *stats = shape(stats);
            }
        }
        v
    };
    settled(|| {
        let theirs = ga.ok("guest-network-get-interfaces");
        let ours = to_json(&network::get_interfaces().unwrap());
        (strip(&ours), strip(&theirs))
    });
}

/// Our fsinfo answer without `total-bytes-privileged` (QEMU 9.1), which 7.2
/// does not send; checked to be at least `total-bytes` where both are there.
fn without_privileged_total(mut v: Value) -> Value {
    for fs in v.as_array_mut().unwrap() {
        let fs = fs.as_object_mut().unwrap();
        if let Some(privileged) = fs.remove("total-bytes-privileged") {
            let total = &fs["total-bytes"];
            assert!(
                privileged.as_u64() >= total.as_u64(),
                "{privileged} < {total}"
            );
        }
    }
    v
}

#[test]
fn filesystems() {
    let Some(bin) = qemu_ga_binary() else { return };
    let ga = QemuGa::start(&bin, &[]);
    // Everything but the sizes, which move while the machine works.
    let strip = |v: &Value| {
        let mut v = v.clone();
        for fs in v.as_array_mut().unwrap() {
            for key in ["used-bytes", "total-bytes"] {
                if let Some(n) = fs.get_mut(key) {
                    *n = shape(n);
                }
            }
        }
        v
    };
    settled(|| {
        let theirs = listed_once(ga.ok("guest-get-fsinfo"));
        let ours = without_privileged_total(to_json(&fsinfo::get_fsinfo().unwrap()));
        (strip(&ours), strip(&theirs))
    });
}

/// qemu-ga 7.2's fsinfo answer as QEMU 10.0 and ours give it: a device mounted
/// more than once only at its first mount, which is the last entry of the
/// answer (it lists the mounts in reverse); `name` tells the devices apart.
fn listed_once(theirs: Value) -> Value {
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<Value> = theirs
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .filter(|fs| seen.insert(fs["name"].to_string()))
        .cloned()
        .collect();
    kept.reverse();
    Value::Array(kept)
}

/// A bind mount of a directory of the root filesystem, made in a private
/// mount namespace for qemu-ga: 7.2 lists the root device twice, ours (as
/// QEMU 10.0) once.
#[test]
fn filesystems_with_a_bind_mount() {
    let Some(bin) = qemu_ga_binary() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (source, target) = (tmp.path().join("source"), tmp.path().join("target"));
    std::fs::create_dir(&source).unwrap();
    std::fs::create_dir(&target).unwrap();
    let mountinfo = tmp.path().join("mountinfo");
    let setup = format!(
        "mount --bind '{}' '{}'\ncat /proc/self/mountinfo > '{}'",
        source.display(),
        target.display(),
        mountinfo.display()
    );
    let Some(ga) = QemuGa::start_in_namespace(&bin, &setup) else {
        return;
    };
    let theirs = ga.ok("guest-get-fsinfo");
    let sources = fsinfo::FsInfoSources {
        mount_table: MountTable {
            mountinfo,
            mounts: tmp.path().join("mounts"),
        },
        ..fsinfo::FsInfoSources::default()
    };
    let ours = without_privileged_total(to_json(&fsinfo::get_fsinfo_from(&sources).unwrap()));
    let mountpoints = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|fs| fs["mountpoint"].as_str().unwrap().to_owned())
            .collect()
    };
    let target = target.display().to_string();
    if !mountpoints(&theirs).contains(&target) {
        eprintln!("the bind mount's filesystem is not a local one here: skipped");
        return;
    }
    assert!(!mountpoints(&ours).contains(&target), "{ours}");
    let strip = |v: &Value| {
        let mut v = v.clone();
        for fs in v.as_array_mut().unwrap() {
            for key in ["used-bytes", "total-bytes"] {
                if let Some(n) = fs.get_mut(key) {
                    *n = shape(n);
                }
            }
        }
        v
    };
    assert_eq!(strip(&ours), strip(&listed_once(theirs)));
}

/// The disk detection, with qemu-ga and ours reading the same sysfs fixture: in
/// a private mount namespace a fixture is mounted over /sys, in which the root
/// filesystem's device is one kind of disk after another; ours reads the fixture
/// and the namespace's mount table. libudev only trusts a real sysfs, so qemu-ga
/// gets no device node or serial there, and ours is run without udev too (those
/// are compared on the real machine, in `filesystems`).
#[test]
fn filesystems_of_fixture_disks() {
    use std::os::unix::fs::MetadataExt;
    let Some(bin) = qemu_ga_binary() else { return };
    let dev = std::fs::metadata("/").unwrap().dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    if major == 0 {
        eprintln!("the root filesystem has no block device: skipped");
        return;
    }
    for (scenario, build) in fixtures::disk_scenarios() {
        let tmp = tempfile::tempdir().unwrap();
        let sys = tmp.path().join("sys");
        let udev = tmp.path().join("udev");
        std::fs::create_dir_all(&sys).unwrap();
        std::fs::create_dir_all(&udev).unwrap();
        build(&sys, &udev, major, minor);
        let mountinfo = tmp.path().join("mountinfo");
        let setup = format!(
            "mount --bind '{sys}' /sys\n\
             cat /proc/self/mountinfo > '{mountinfo}'",
            sys = sys.display(),
            mountinfo = mountinfo.display(),
        );
        let Some(ga) = QemuGa::start_in_namespace(&bin, &setup) else {
            return;
        };
        // The fixture's bind mount over /sys is a second mount of the root
        // device: listed by 7.2, not by ours (QEMU 10.0).
        let theirs = ga.call("guest-get-fsinfo").map(listed_once);
        let sources = fsinfo::FsInfoSources {
            mount_table: MountTable {
                mountinfo,
                mounts: tmp.path().join("mounts"),
            },
            sysfs: sys,
            // qemu-ga's libudev refuses a tree that is not sysfs: no dev, no serial.
            udev_data: None,
        };
        let ours = fsinfo::get_fsinfo_from(&sources)
            .map(|v| without_privileged_total(to_json(&v)))
            .map_err(|e| e.0);
        // The sizes differ: qemu-ga sees the fixture mounted over /sys.
        let strip = |v: Result<Value, String>| {
            v.map(|mut v| {
                for fs in v.as_array_mut().unwrap() {
                    for key in ["used-bytes", "total-bytes"] {
                        if let Some(n) = fs.get_mut(key) {
                            *n = shape(n);
                        }
                    }
                }
                v
            })
        };
        let (ours, theirs) = (strip(ours), strip(theirs));
        assert_eq!(ours, theirs, "{scenario}");
        if let Ok(ours) = ours {
            eprintln!("{scenario}: {}", ours[0]);
        }
    }
}

/// Whether the counters of two answers taken one after the other agree: the
/// same entries with the same members, each counter of the later one at least
/// the earlier's and not more than `slack` above it (`ios-pgr`, the requests
/// in flight, may go either way).
fn counters_moved_forward(earlier: &Value, later: &Value, slack: u64) -> Result<(), String> {
    let fail = |why: String| Err(format!("{why}\n earlier: {earlier}\n later: {later}"));
    if shape(earlier) != shape(later) {
        return fail("shapes differ".into());
    }
    let (earlier_list, later_list) = (earlier.as_array().unwrap(), later.as_array().unwrap());
    if earlier_list.len() != later_list.len() {
        return fail("lengths differ".into());
    }
    for (e, l) in earlier_list.iter().zip(later_list) {
        let (e, l) = (e.as_object().unwrap(), l.as_object().unwrap());
        if e.keys().ne(l.keys()) {
            return fail("members differ".into());
        }
        for (key, ev) in e {
            let lv = &l[key];
            match (ev.as_u64(), lv.as_u64()) {
                (Some(_), Some(_)) if key == "ios-pgr" => {}
                (Some(a), Some(b))
                    if !["cpu", "major", "minor"].contains(&key.as_str())
                        && (a > b || b - a > slack) =>
                {
                    return fail(format!("{key}: {a} then {b}"));
                }
                (Some(_), Some(_)) if !["cpu", "major", "minor"].contains(&key.as_str()) => {}
                _ if ev.is_object() => counters_moved_forward(
                    &Value::Array(vec![ev.clone()]),
                    &Value::Array(vec![lv.clone()]),
                    slack,
                )?,
                _ if ev != lv => return fail(format!("{key}: {ev} then {lv}")),
                _ => {}
            }
        }
    }
    Ok(())
}

/// [`counters_moved_forward`] of qemu-ga's answer and ours, asked again a few
/// times when they disagree: devices come and go while other tests run.
fn counters_settle(mut answers: impl FnMut() -> (Value, Value), slack: u64) {
    let mut last = String::new();
    for _ in 0..5 {
        let (theirs, ours) = answers();
        match counters_moved_forward(&theirs, &ours, slack) {
            Ok(()) => return,
            Err(why) => last = why,
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{last}");
}

#[test]
fn cpustats_of_this_machine() {
    let Some(bin) = qemu_ga_binary() else { return };
    let ga = QemuGa::start(&bin, &[]);
    // Milliseconds of processor time: a few seconds at most between the calls.
    counters_settle(
        || {
            let theirs = ga.ok("guest-get-cpustats");
            (theirs, to_json(&cpustats::get_cpustats().unwrap()))
        },
        5_000,
    );
}

/// The same /proc/stat for both agents: in a private mount namespace, a fixture
/// is mounted over /proc/stat for qemu-ga, and ours reads the fixture.
#[test]
fn cpustats_of_fixtures() {
    let Some(bin) = qemu_ga_binary() else { return };
    for (name, content) in [
        ("every layout", fixtures::PROC_STAT),
        ("cut short", fixtures::PROC_STAT_CUT),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let stat = tmp.path().join("stat");
        std::fs::write(&stat, content).unwrap();
        let setup = format!("mount --bind '{}' /proc/stat", stat.display());
        let Some(ga) = QemuGa::start_in_namespace(&bin, &setup) else {
            return;
        };
        let mut theirs = ga.ok("guest-get-cpustats");
        let ours = to_json(
            &cpustats::get_cpustats_from(&stat, cpustats::clock_ticks_per_second()).unwrap(),
        );
        // The one difference: with six numbers on a line (irq but no softirq)
        // qemu-ga sends a softirq of uninitialised memory; ours sends none.
        for (t, o) in theirs
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .zip(ours.as_array().unwrap())
        {
            if o.get("softirq").is_none() && o.get("irq").is_some() {
                t.as_object_mut().unwrap().remove("softirq");
            }
        }
        assert_eq!(ours, theirs, "{name}");
    }
}

#[test]
fn diskstats_of_this_machine() {
    let Some(bin) = qemu_ga_binary() else { return };
    let ga = QemuGa::start(&bin, &[]);
    // I/Os, sectors and milliseconds of other tests' work between the calls.
    counters_settle(
        || {
            let theirs = ga.ok("guest-get-diskstats");
            (theirs, to_json(&diskstats::get_diskstats().unwrap()))
        },
        1 << 24,
    );
}

/// The same /proc/diskstats for both agents (a fixture mounted over it for
/// qemu-ga in a private mount namespace): every kernel's line layout.
#[test]
fn diskstats_of_fixtures() {
    let Some(bin) = qemu_ga_binary() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("diskstats");
    std::fs::write(&file, fixtures::PROC_DISKSTATS).unwrap();
    let setup = format!("mount --bind '{}' /proc/diskstats", file.display());
    let Some(ga) = QemuGa::start_in_namespace(&bin, &setup) else {
        return;
    };
    let ours = to_json(&diskstats::get_diskstats_from(&file).unwrap());
    assert_eq!(ours, ga.ok("guest-get-diskstats"));
    assert_eq!(ours.as_array().unwrap().len(), 7);
}

#[test]
fn disks_of_this_machine() {
    let Some(bin) = qemu_ga_binary() else { return };
    let ga = QemuGa::start(&bin, &[]);
    settled(|| {
        let theirs = ga.ok("guest-get-disks");
        let ours = to_json(&disks::get_disks().unwrap());
        (ours, theirs)
    });
}

/// A loop device attached for the length of a test, detached on drop.
struct LoopDevice {
    device: String,
    _dir: tempfile::TempDir,
}

impl LoopDevice {
    /// A loop device over a new image of `size` bytes; `None` where this
    /// machine cannot attach one (not root, no losetup, no loop driver).
    fn attach(size: u64) -> Option<LoopDevice> {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("disk.img");
        std::fs::File::create(&image)
            .unwrap()
            .set_len(size)
            .unwrap();
        let out = Command::new("losetup")
            .args(["--find", "--show"])
            .arg(&image)
            .output()
            .ok()?;
        let device = String::from_utf8(out.stdout).ok()?.trim().to_owned();
        (out.status.success() && !device.is_empty()).then_some(LoopDevice { device, _dir: dir })
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.device).status();
    }
}

/// A loop device with a backing file is a disk of its own (virtual: no
/// address, an empty `slaves`), listed by both agents alike.
#[test]
fn disks_with_an_attached_loop_device() {
    let Some(bin) = qemu_ga_binary() else { return };
    let Some(device) = LoopDevice::attach(8 << 20) else {
        eprintln!("no loop device could be attached: skipped");
        return;
    };
    let ga = QemuGa::start(&bin, &[]);
    settled(|| {
        let theirs = ga.ok("guest-get-disks");
        let ours = to_json(&disks::get_disks().unwrap());
        (ours, theirs)
    });
    let ours = to_json(&disks::get_disks().unwrap());
    let entry = ours
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == device.device.as_str())
        .unwrap_or_else(|| panic!("{} not in {ours}", device.device));
    assert_eq!(
        entry,
        &json!({"name": device.device, "partition": false, "dependencies": []})
    );
}
