//! The client and the `qga` command against QEMU's own agent, `qemu-ga`, run on a unix
//! socket in a temp dir (Debian's `qemu-guest-agent` package).
//!
//! The agent runs on this machine, not in a guest, so it is started with every command
//! that changes a system blocked (`-b`), and only harmless commands are sent. Without
//! `qemu-ga` the tests are skipped, except under CI (`CI=true`), where they fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::commands::GuestPing;
use qga_client::{
    Address, AsyncClient, Client, CopyOptions, Error, ExecRequest, Options, Progress,
};
use qga_types::Empty;
use serde_json::json;

/// Commands that must never run on this machine, plus `guest-get-users`, blocked so
/// that a disabled command can be seen.
const BLOCKED: &str =
    "guest-fsfreeze-freeze,guest-fsfreeze-freeze-list,guest-fsfreeze-thaw,guest-fstrim,\
guest-shutdown,guest-suspend-disk,guest-suspend-ram,guest-suspend-hybrid,guest-set-time,\
guest-set-user-password,guest-set-vcpus,guest-set-memory-blocks,guest-get-users";

/// `qemu-ga` from `QEMU_GA` or the PATH.
fn find_qemu_ga() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("QEMU_GA") {
        return Some(path.into());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("qemu-ga"))
        .find(|p| p.is_file())
}

/// A running `qemu-ga`, killed (by its pid) when dropped.
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

/// Starts `qemu-ga`, or returns `None` (after saying why) when it is not installed.
fn start() -> Option<Agent> {
    let Some(binary) = find_qemu_ga() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("qemu-ga is not installed (CI installs Debian's qemu-guest-agent)");
        }
        eprintln!("skipped: qemu-ga is not installed (apt-get install qemu-guest-agent)");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("qga.sock");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let child = Command::new(binary)
        .args(["-m", "unix-listen", "-p"])
        .arg(&socket)
        .arg("-t")
        .arg(&state)
        .args(["-b", BLOCKED])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("qemu-ga starts");
    let mut agent = Agent { child, dir, socket };
    let started = Instant::now();
    while !agent.socket.exists() {
        if let Some(status) = agent.child.try_wait().unwrap() {
            panic!("qemu-ga exited at start: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "qemu-ga did not create its socket"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    Some(agent)
}

fn connect(agent: &Agent) -> Client<qga_client::Stream> {
    Client::connect(&Address::Unix(agent.socket.clone()), Options::default())
        .expect("connects and syncs")
}

/// Some bytes that are not all alike: more than one chunk, not a round size.
fn test_data(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

#[test]
fn library_against_qemu_ga() {
    let Some(agent) = start() else { return };
    let mut client = connect(&agent);

    // Typed and raw calls.
    client.call::<GuestPing>(&Empty {}).unwrap();
    let info = client.call_raw("guest-info", None).unwrap();
    assert!(
        info["version"].as_str().is_some_and(|v| !v.is_empty()),
        "{info}"
    );
    assert!(client.supports("guest-ping").unwrap());
    assert!(client.supports("guest-get-osinfo").unwrap());
    assert!(
        !client.supports("guest-get-users").unwrap(),
        "blocked with -b"
    );
    assert!(!client.supports("guest-no-such-command").unwrap());
    let os = client.call_raw("guest-get-osinfo", None).unwrap();
    assert!(os.is_object(), "{os}");

    // Errors, typed.
    let e = client.call_raw("guest-no-such-command", None).unwrap_err();
    assert!(
        matches!(&e, Error::CommandNotFound { command } if command == "guest-no-such-command"),
        "{e:?}"
    );
    let e = client.call_raw("guest-get-users", None).unwrap_err();
    assert!(matches!(e, Error::CommandDisabled { .. }), "{e:?}");
    let e = client
        .call_raw("guest-file-open", Some(&json!({"path": "/no/such/file"})))
        .unwrap_err();
    assert!(
        matches!(&e, Error::Agent { class, desc, .. } if class == "GenericError" && desc.contains("No such file")),
        "{e:?}"
    );

    // A half-written request on the wire: the resync's 0xFF clears it in the agent.
    use std::io::Write;
    client
        .get_mut()
        .write_all(b"{\"execute\": \"guest-pi")
        .unwrap();
    assert!(client.needs_sync());
    client.call::<GuestPing>(&Empty {}).unwrap();

    // Files both ways, in several chunks.
    let data = test_data(3 * 1024 * 1024 + 12_345);
    let up = agent.dir.path().join("up.bin");
    let options = CopyOptions {
        chunk_size: 1 << 20,
        progress: None,
    };
    assert_eq!(
        client
            .write_file_with(path_str(&up), &mut &data[..], options)
            .unwrap(),
        data.len() as u64
    );
    assert_eq!(std::fs::read(&up).unwrap(), data);
    let mut back = Vec::new();
    let mut last = None;
    let mut on_progress = |p: Progress| last = Some(p);
    let options = CopyOptions {
        chunk_size: 1 << 20,
        progress: Some(&mut on_progress),
    };
    assert_eq!(
        client
            .read_file_with(path_str(&up), &mut back, options)
            .unwrap(),
        data.len() as u64
    );
    assert_eq!(back, data);
    assert_eq!(
        last,
        Some(Progress {
            done: data.len() as u64,
            total: Some(data.len() as u64)
        })
    );
    // With the default 4 MiB chunk, a small file and an empty one.
    let small = agent.dir.path().join("small.txt");
    std::fs::write(&small, "hello\n").unwrap();
    let mut out = Vec::new();
    client.read_file(path_str(&small), &mut out).unwrap();
    assert_eq!(out, b"hello\n");
    let empty = agent.dir.path().join("empty");
    assert_eq!(
        client.write_file(path_str(&empty), &mut &b""[..]).unwrap(),
        0
    );
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);

    // Programs.
    let output = client.exec(&ExecRequest::new("echo").arg("hi")).unwrap();
    assert_eq!(
        (
            output.exit_code,
            output.stdout.as_slice(),
            output.stderr.as_slice()
        ),
        (Some(0), &b"hi\n"[..], &b""[..])
    );
    let output = client
        .exec(&ExecRequest::new("sh").args(["-c", "echo err >&2; exit 3"]))
        .unwrap();
    assert_eq!(
        (output.status(), output.stderr.as_slice()),
        (3, &b"err\n"[..])
    );
    let output = client
        .exec(&ExecRequest::new("cat").input(&b"through stdin"[..]))
        .unwrap();
    assert_eq!(output.stdout, b"through stdin");
    let output = client
        .exec(
            &ExecRequest::new("sh")
                .args(["-c", "echo $QGA_TEST"])
                .env("QGA_TEST", "set"),
        )
        .unwrap();
    assert_eq!(output.stdout, b"set\n");
    let e = client
        .exec(&ExecRequest::new("/no/such/program"))
        .unwrap_err();
    assert!(e.is_agent_error(), "{e:?}");

    drop(client);
    // A second connection to the same agent syncs again.
    connect(&agent).call::<GuestPing>(&Empty {}).unwrap();
}

#[test]
fn async_client_against_qemu_ga() {
    let Some(agent) = start() else { return };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let address = Address::Unix(agent.socket.clone());
        let mut client = AsyncClient::connect(&address, Options::default())
            .await
            .unwrap();
        client.call::<GuestPing>(&Empty {}).await.unwrap();
        let name = client.call_raw("guest-get-host-name", None).await.unwrap();
        assert!(name["host-name"].is_string(), "{name}");
        assert!(client.supports("guest-exec").await.unwrap());
        let e = client
            .call_raw("guest-no-such-command", None)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::CommandNotFound { .. }), "{e:?}");
    });
}

#[test]
fn cli_against_qemu_ga() {
    let Some(agent) = start() else { return };
    let qga = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_qga"))
            .env_remove("QGA_SOCKET")
            .arg("--socket")
            .arg(&agent.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();

    let output = qga(&["ping"]);
    assert_eq!(
        (output.status.code(), text(&output.stdout)),
        (Some(0), "ok\n".to_owned())
    );

    let output = qga(&["--json", "osinfo"]);
    assert!(output.status.success());
    let os: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(os.is_object());

    let output = qga(&["info"]);
    assert!(
        text(&output.stdout)
            .lines()
            .any(|l| l == "guest-get-users (disabled)"),
        "{}",
        text(&output.stdout)
    );

    let output = qga(&["exec", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        (text(&output.stdout), text(&output.stderr)),
        ("out\n".to_owned(), "err\n".to_owned())
    );

    let data = test_data(5 * 1024 * 1024 + 7);
    let local = agent.dir.path().join("local.bin");
    std::fs::write(&local, &data).unwrap();
    let guest = agent.dir.path().join("guest.bin");
    let output = qga(&[
        "cp",
        path_str(&local),
        &format!("guest:{}", guest.display()),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(std::fs::read(&guest).unwrap(), data);
    let back = agent.dir.path().join("back.bin");
    let output = qga(&["cp", &format!("guest:{}", guest.display()), path_str(&back)]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(std::fs::read(&back).unwrap(), data);
    let output = qga(&["cat", path_str(&guest)]);
    assert_eq!(output.stdout, data);

    let output = qga(&["raw", "guest-no-such-command"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "qga: the agent has no command guest-no-such-command\n"
    );
}
