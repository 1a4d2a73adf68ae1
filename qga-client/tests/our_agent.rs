//! Both clients' helpers and the `qga` command against our own agent, `qga-agent`,
//! built by cargo and run on a unix socket in a temp dir.
//!
//! The agent runs on this machine, not in a guest: only harmless commands are sent
//! (files inside the temp dir, programs that print, read-only queries), and every
//! command that changes a system is blocked on its command line besides.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use qga_client::{Address, AsyncClient, Client, CopyOptions, ExecRequest, Options};
use qga_types::commands::{
    GuestFileOpen, GuestFileOpenArguments, GuestGetHostName, GuestInfo, GuestPing, GuestSync,
    GuestSyncArguments,
};
use qga_types::Empty;

const BLOCKED: &str =
    "guest-fsfreeze-freeze,guest-fsfreeze-freeze-list,guest-fsfreeze-thaw,guest-fstrim,\
guest-shutdown,guest-suspend-disk,guest-suspend-ram,guest-suspend-hybrid,guest-set-time,\
guest-set-user-password,guest-set-vcpus,guest-set-memory-blocks,guest-ssh-add-authorized-keys,\
guest-ssh-remove-authorized-keys";

/// The directory cargo puts this profile's binaries in.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/PROFILE/deps")
        .to_owned()
}

/// `qga-agent`, built once per test run (a no-op when it is up to date).
fn agent_binary() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .args(["build", "--quiet", "-p", "qga-agent"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        if !cfg!(debug_assertions) {
            command.arg("--release");
        }
        let status = command.status().expect("cargo runs");
        assert!(status.success(), "building qga-agent failed");
    });
    bin_dir().join("qga-agent")
}

/// Our agent on a socket in its own temp dir; killed (by its pid) when dropped.
struct Agent {
    child: Child,
    dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Agent {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("qga.sock");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    // An empty config file: the agent must not read the machine's own.
    let conf = dir.path().join("empty.conf");
    std::fs::write(&conf, "").unwrap();
    let child = Command::new(agent_binary())
        .args(["-m", "unix-listen", "-p"])
        .arg(&socket)
        .arg("-t")
        .arg(&state)
        .arg("-f")
        .arg(dir.path().join("qga.pid"))
        .args(["-b", BLOCKED])
        .env("QGA_CONF", &conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("qga-agent starts");
    let mut agent = Agent { child, dir, socket };
    let started = Instant::now();
    while std::os::unix::net::UnixStream::connect(&agent.socket).is_err() {
        if let Some(status) = agent.child.try_wait().unwrap() {
            panic!("qga-agent exited at start: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "qga-agent did not listen"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    agent
}

fn options() -> Options {
    Options::default().with_timeout(Duration::from_secs(20))
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 13 + i / 509) as u8).collect()
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

#[test]
fn typed_calls_and_the_blocking_helpers() {
    let agent = start();
    let mut client = Client::connect(&Address::Unix(agent.socket.clone()), options()).unwrap();
    let info = client.call::<GuestInfo>(&Empty {}).unwrap();
    assert_eq!(info.supported_commands.len(), 43);
    for command in [
        "guest-get-disks",
        "guest-get-diskstats",
        "guest-get-cpustats",
        "guest-get-load",
        "guest-network-get-route",
        "guest-ssh-get-authorized-keys",
    ] {
        assert!(client.supports(command).unwrap(), "{command}");
    }
    assert!(!client.supports("guest-ssh-add-authorized-keys").unwrap());
    assert!(!client.supports("guest-shutdown").unwrap());
    assert!(client.supports("guest-file-read").unwrap());
    assert!(!client
        .call::<GuestGetHostName>(&Empty {})
        .unwrap()
        .host_name
        .is_empty());

    // A file of several chunks, one byte short of a chunk boundary.
    let data = pattern(3 * 65536 - 1);
    let source = agent.dir.path().join("source.bin");
    std::fs::write(&source, &data).unwrap();
    let mut out = Vec::new();
    let options = CopyOptions {
        chunk_size: 65536,
        progress: None,
    };
    assert_eq!(
        client
            .read_file_with(utf8(&source), &mut out, options)
            .unwrap(),
        data.len() as u64
    );
    assert_eq!(out, data);

    // Pipelined reads: sizes at chunk boundaries (one request is still in flight
    // at the end of file, and its answer is dropped), and an error on the first
    // read, after which the client resynchronises and goes on.
    for len in [0, 1, 65535, 65536, 65537, 2 * 65536] {
        let file = agent.dir.path().join(format!("len-{len}.bin"));
        std::fs::write(&file, &data[..len]).unwrap();
        let mut out = Vec::new();
        let options = CopyOptions {
            chunk_size: 65536,
            progress: None,
        };
        let copied = client.read_file_with(utf8(&file), &mut out, options);
        assert_eq!(copied.unwrap(), len as u64);
        assert!(out == data[..len], "{len} bytes");
    }
    let e = client
        .read_file(utf8(agent.dir.path()), &mut Vec::new())
        .unwrap_err();
    assert!(e.to_string().contains("Is a directory"), "{e}");
    client.call::<GuestPing>(&Empty {}).unwrap();
    assert_eq!(
        client
            .call::<GuestSync>(&GuestSyncArguments { id: 7 })
            .unwrap(),
        7
    );

    let target = agent.dir.path().join("target.bin");
    let options = CopyOptions {
        chunk_size: 50_000,
        progress: None,
    };
    client
        .write_file_with(utf8(&target), &mut &data[..], options)
        .unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), data);

    let output = client
        .exec(
            &ExecRequest::new("sh")
                .args(["-c", "cat; echo err >&2; exit 3"])
                .input("fed"),
        )
        .unwrap();
    assert_eq!(output.exit_code, Some(3));
    assert_eq!(output.stdout, b"fed");
    assert_eq!(output.stderr, b"err\n");

    let e = client.freeze().unwrap_err();
    assert!(
        matches!(e, qga_client::Error::CommandDisabled { .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn the_async_helpers() {
    let agent = start();
    let mut client = AsyncClient::connect(&Address::Unix(agent.socket.clone()), options())
        .await
        .unwrap();

    let data = pattern(5 << 20);
    let source = agent.dir.path().join("source.bin");
    std::fs::write(&source, &data).unwrap();
    let mut reports = Vec::new();
    let mut on_progress = |p: qga_client::Progress| reports.push(p);
    let options = CopyOptions {
        chunk_size: 2 << 20,
        progress: Some(&mut on_progress),
    };
    let mut out = Vec::new();
    assert_eq!(
        client
            .read_file_with(utf8(&source), &mut out, options)
            .await
            .unwrap(),
        data.len() as u64
    );
    assert_eq!(out, data);
    let done: Vec<u64> = reports.iter().map(|p| p.done).collect();
    assert_eq!(done, [2 << 20, 4 << 20, 5 << 20]);
    assert!(reports.iter().all(|p| p.total == Some(5 << 20)));

    // Into a tokio file and back out of one.
    let copy = agent.dir.path().join("copy.bin");
    let mut file = tokio::fs::File::create(&copy).await.unwrap();
    client.read_file(utf8(&source), &mut file).await.unwrap();
    drop(file);
    assert_eq!(std::fs::read(&copy).unwrap(), data);
    let target = agent.dir.path().join("target.bin");
    let mut file = tokio::fs::File::open(&copy).await.unwrap();
    assert_eq!(
        client.write_file(utf8(&target), &mut file).await.unwrap(),
        data.len() as u64
    );
    assert_eq!(std::fs::read(&target).unwrap(), data);

    let output = client
        .exec(&ExecRequest::new("sh").args(["-c", "sleep 0.05; echo done"]))
        .await
        .unwrap();
    assert!(output.success());
    assert_eq!(output.stdout, b"done\n");
    let e = client
        .exec(
            &ExecRequest::new("sleep")
                .arg("5")
                .timeout(Duration::from_millis(100)),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, qga_client::Error::Timeout { .. }), "{e:?}");

    let e = client
        .call::<GuestFileOpen>(&GuestFileOpenArguments {
            path: utf8(&agent.dir.path().join("none")).to_owned(),
            mode: None,
        })
        .await
        .unwrap_err();
    assert!(e.is_agent_error(), "{e:?}");
    let e = client.freeze().await.unwrap_err();
    assert!(
        matches!(e, qga_client::Error::CommandDisabled { .. }),
        "{e:?}"
    );
}

#[test]
fn the_qga_command() {
    let agent = start();
    let qga = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_qga"))
            .env_remove("QGA_SOCKET")
            .arg("--socket")
            .arg(&agent.socket)
            .args(args)
            .output()
            .unwrap()
    };
    let output = qga(&["ping"]);
    assert!(output.status.success());
    assert_eq!(output.stdout, b"ok\n");

    let output = qga(&["info"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("version: "), "{text}");
    assert!(text.contains("\nguest-shutdown (disabled, no success response)\n"));

    let file = agent.dir.path().join("f.txt");
    std::fs::write(&file, "hello\n").unwrap();
    let output = qga(&["cat", utf8(&file)]);
    assert!(output.status.success());
    assert_eq!(output.stdout, b"hello\n");

    let output = qga(&["exec", "--", "sh", "-c", "echo out; exit 7"]);
    assert_eq!(output.status.code(), Some(7));
    assert_eq!(output.stdout, b"out\n");

    // A blocked command: the agent's message, status 1.
    let output = qga(&["fstrim"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("guest-fstrim"));
    let output = qga(&["--json", "fsfreeze", "status"]);
    assert!(output.status.success());
    assert_eq!(output.stdout, b"\"thawed\"\n");

    // The read-only queries of this machine: one readable line per item of the reply.
    let json = |args: &[&str]| -> serde_json::Value {
        let output = qga(args);
        assert!(output.status.success(), "qga {args:?}: {output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    };
    for (verb, command) in [
        ("disks", "guest-get-disks"),
        ("diskstats", "guest-get-diskstats"),
        ("cpustats", "guest-get-cpustats"),
        ("routes", "guest-network-get-route"),
    ] {
        let reply = json(&["--json", verb]);
        let items = reply
            .as_array()
            .unwrap_or_else(|| panic!("{verb}: {reply}"));
        let output = qga(&[verb]);
        assert!(output.status.success(), "qga {verb}: {output:?}");
        let text = String::from_utf8(output.stdout).unwrap();
        assert_eq!(text.lines().count(), items.len(), "qga {verb}: {text}");
        if verb == "disks" || verb == "routes" {
            // Stable between calls: --json is the agent's reply as it is.
            assert_eq!(reply, json(&["--json", "raw", command]), "qga {verb}");
        }
    }
    assert!(!json(&["--json", "cpustats"]).as_array().unwrap().is_empty());
    let load = json(&["--json", "load"]);
    assert!(load["load1m"].as_f64().is_some(), "{load}");
    let output = qga(&["load"]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("load average: "), "{text}");

    // Blocked here, so that no test can touch this machine's keys.
    let output = qga(&["ssh-keys", "add", "nobody", "ssh-ed25519 AAAA x"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("guest-ssh-add-authorized-keys"));
}
