//! The `qga` binary against fake agents on unix sockets: outputs and exit statuses.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use common::{listen, FakeGuest};

/// A fake agent on a socket in its own temp dir.
struct Agent {
    dir: tempfile::TempDir,
    socket: PathBuf,
    guest: Arc<Mutex<FakeGuest>>,
}

fn agent() -> Agent {
    agent_named("qga.sock")
}

fn agent_named(name: &str) -> Agent {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join(name);
    let guest = Arc::new(Mutex::new(FakeGuest::new()));
    listen(&socket, guest.clone());
    Agent { dir, socket, guest }
}

fn qga(sockets: &[&Path], args: &[&str]) -> Output {
    qga_with_stdin(sockets, args, b"")
}

fn qga_with_stdin(sockets: &[&Path], args: &[&str], stdin: &[u8]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qga"));
    command.env_remove("QGA_SOCKET").arg("--timeout").arg("5");
    for socket in sockets {
        command.arg("--socket").arg(socket);
    }
    let mut child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn assert_ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "status {:?}, stderr: {}",
        output.status,
        text(&output.stderr)
    );
    text(&output.stdout)
}

#[test]
fn simple_verbs_print_readable_text_or_json() {
    let a = agent();
    let s = [a.socket.as_path()];
    assert_eq!(assert_ok(&qga(&s, &["ping"])), "ok\n");
    assert_eq!(assert_ok(&qga(&s, &["hostname"])), "fake-guest\n");
    assert_eq!(
        assert_ok(&qga(&s, &["--json", "hostname"])),
        "{\"host-name\":\"fake-guest\"}\n"
    );
    assert_eq!(assert_ok(&qga(&s, &["fsfreeze", "status"])), "thawed\n");
    assert_eq!(assert_ok(&qga(&s, &["sync"])), "in sync\n");
    assert_eq!(
        assert_ok(&qga(&s, &["info"])),
        "version: fake\nguest-fstrim (disabled)\nguest-ping\nguest-shutdown (no success response)\n"
    );
    assert_eq!(
        assert_ok(&qga(&s, &["raw", r#"{"execute": "guest-get-host-name"}"#])),
        "{\n  \"host-name\": \"fake-guest\"\n}\n"
    );
    assert_eq!(
        assert_ok(&qga(&s, &["--json", "raw", "guest-ping"])),
        "{}\n"
    );
}

#[test]
fn commands_without_a_success_response_exit_zero_on_silence() {
    let a = agent();
    let output = qga(&[&a.socket], &["shutdown", "--mode", "reboot"]);
    assert_eq!(assert_ok(&output), "");
    assert!(a
        .guest
        .lock()
        .unwrap()
        .log
        .contains(&"guest-shutdown".to_owned()));
    assert_eq!(assert_ok(&qga(&[&a.socket], &["suspend", "ram"])), "");
}

#[test]
fn failures_have_messages_and_statuses() {
    let a = agent();
    let output = qga(&[&a.socket], &["raw", "guest-nothing"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "qga: the agent has no command guest-nothing\n"
    );

    let output = qga(&[&a.socket], &["cat", "/no/such"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("failed to open file '/no/such'"),
        "{}",
        text(&output.stderr)
    );

    let missing = a.dir.path().join("missing.sock");
    let output = qga(&[&missing], &["ping"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr)
        .starts_with(&format!("qga: cannot connect to {}: ", missing.display())));

    let output = qga(&[], &["ping"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("--socket"),
        "{}",
        text(&output.stderr)
    );

    let output = qga(&[&a.socket], &["raw", "{not json"]);
    assert_eq!(output.status.code(), Some(2));

    let output = qga(&[&a.socket], &["cp", "a", "b"]);
    assert_eq!(output.status.code(), Some(2));

    let output = qga(&[&a.socket], &["no-such-verb"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn the_socket_can_come_from_the_environment() {
    let a = agent();
    let output = Command::new(env!("CARGO_BIN_EXE_qga"))
        .env("QGA_SOCKET", &a.socket)
        .arg("hostname")
        .output()
        .unwrap();
    assert_eq!(assert_ok(&output), "fake-guest\n");
}

#[test]
fn exec_prints_both_streams_and_exits_with_the_status() {
    let a = agent();
    a.guest.lock().unwrap().programs.insert(
        "prog".into(),
        (3, b"to stdout\n".to_vec(), b"to stderr\n".to_vec()),
    );
    a.guest.lock().unwrap().exec_polls = 2;
    let input = a.dir.path().join("input");
    std::fs::write(&input, b"fed to stdin").unwrap();
    let output = qga(
        &[&a.socket],
        &[
            "exec",
            "--env",
            "K=V",
            "--input",
            input.to_str().unwrap(),
            "--",
            "prog",
            "-a",
            "--b",
        ],
    );
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(text(&output.stdout), "to stdout\n");
    assert_eq!(text(&output.stderr), "to stderr\n");
    let guest = a.guest.lock().unwrap();
    assert_eq!(guest.exec_inputs, [b"fed to stdin".to_vec()]);
    assert_eq!(guest.exec_env, [vec!["K=V".to_owned()]]);
}

#[test]
fn cat_and_cp_both_ways() {
    let a = agent();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    a.guest
        .lock()
        .unwrap()
        .files
        .insert("/guest/data.bin".into(), data.clone());
    let s = [a.socket.as_path()];

    let output = qga(&s, &["cat", "/guest/data.bin"]);
    assert!(output.status.success());
    assert_eq!(output.stdout, data);

    // Into a directory, under the guest file's name.
    let local_dir = a.dir.path().join("local");
    std::fs::create_dir(&local_dir).unwrap();
    assert_ok(&qga(
        &s,
        &["cp", "guest:/guest/data.bin", local_dir.to_str().unwrap()],
    ));
    assert_eq!(std::fs::read(local_dir.join("data.bin")).unwrap(), data);

    // And back, from a file and from stdin.
    assert_ok(&qga(
        &s,
        &[
            "cp",
            local_dir.join("data.bin").to_str().unwrap(),
            "guest:/guest/copy.bin",
        ],
    ));
    assert_eq!(a.guest.lock().unwrap().files["/guest/copy.bin"], data);
    assert_ok(&qga_with_stdin(
        &s,
        &["cp", "-", "guest:/guest/stdin.txt"],
        b"from stdin",
    ));
    assert_eq!(
        a.guest.lock().unwrap().files["/guest/stdin.txt"],
        b"from stdin"
    );

    // A failed copy leaves no partial local file.
    let target = a.dir.path().join("never");
    let output = qga(
        &s,
        &["cp", "guest:/guest/missing", target.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(!target.exists());
}

#[test]
fn file_verbs_step_by_step() {
    let a = agent();
    a.guest
        .lock()
        .unwrap()
        .files
        .insert("/f".into(), b"0123456789".to_vec());
    let s = [a.socket.as_path()];
    let handle = assert_ok(&qga(&s, &["file-open", "/f"])).trim().to_owned();
    assert_eq!(assert_ok(&qga(&s, &["file-seek", &handle, "4"])), "4\n");
    assert_eq!(
        assert_ok(&qga(&s, &["file-read", &handle, "--count", "3"])),
        "456"
    );
    assert_eq!(
        assert_ok(&qga(&s, &["file-seek", &handle, "-2", "end"])),
        "8\n"
    );
    assert_ok(&qga(&s, &["file-close", &handle]));
    let output = qga(&s, &["file-close", &handle]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        format!("qga: guest-file-close: handle '{handle}' has not been found\n")
    );

    let handle = assert_ok(&qga(&s, &["file-open", "/w", "--mode", "w"]))
        .trim()
        .to_owned();
    assert_eq!(
        assert_ok(&qga(&s, &["file-write", &handle, "hello"])),
        "5 bytes written\n"
    );
    assert_eq!(
        assert_ok(&qga_with_stdin(&s, &["file-write", &handle], b" world")),
        "6 bytes written\n"
    );
    assert_ok(&qga(&s, &["file-close", &handle]));
    assert_eq!(a.guest.lock().unwrap().files["/w"], b"hello world");
}

#[test]
fn several_agents_run_at_once_with_prefixed_lines() {
    let a = agent_named("a.sock");
    let b = agent_named("b.sock");
    b.guest.lock().unwrap().host_name = "other".into();
    let output = qga(&[&a.socket, &b.socket], &["hostname"]);
    let stdout = assert_ok(&output);
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    let mut expected = [
        format!("{}: fake-guest", a.socket.display()),
        format!("{}: other", b.socket.display()),
    ];
    expected.sort();
    assert_eq!(lines, expected);

    // A failure on one makes the status non-zero, and is prefixed too.
    let missing = b.dir.path().join("gone.sock");
    let output = qga(&[&a.socket, &missing], &["ping"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stdout),
        format!("{}: ok\n", a.socket.display())
    );
    assert!(
        text(&output.stderr).starts_with(&format!("{}: qga: cannot connect", missing.display()))
    );

    // Copying out of several guests into one file makes no sense.
    let output = qga(&[&a.socket, &b.socket], &["cp", "guest:/x", "y"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_glob_pattern_names_several_agents() {
    let dir = tempfile::tempdir().unwrap();
    for (name, host) in [("vm1.sock", "one"), ("vm2.sock", "two")] {
        let mut guest = FakeGuest::new();
        guest.host_name = host.into();
        listen(&dir.path().join(name), Arc::new(Mutex::new(guest)));
    }
    let pattern = dir.path().join("vm*.sock");
    let output = qga(&[&pattern], &["hostname"]);
    let stdout = assert_ok(&output);
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    let prefix = dir.path().display();
    assert_eq!(
        lines,
        [
            format!("{prefix}/vm1.sock: one"),
            format!("{prefix}/vm2.sock: two")
        ]
    );

    let output = qga(&[&dir.path().join("none*.sock")], &["hostname"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("no socket matches"));
}

#[test]
fn every_readable_verb() {
    let a = agent();
    let s = [a.socket.as_path()];
    let cases: &[(&[&str], &str)] = &[
        (&["time"], "2023-11-14T22:13:20.123456789Z\n"),
        (&["timezone"], "CET (UTC+01:00)\n"),
        (
            &["osinfo"],
            "pretty-name: Debian GNU/Linux 12 (bookworm)\nname: Debian GNU/Linux\nid: debian\n\
             version-id: 12\nkernel-release: 6.1.0-13-amd64\nmachine: x86_64\nx-extra: yes\n",
        ),
        (
            &["users"],
            "root since 2023-11-14T22:13:20Z\nCORP\\bob since 1970-01-01T00:00:00Z\n",
        ),
        (
            &["interfaces"],
            "lo: 00:00:00:00:00:00\n    inet 127.0.0.1/8\n    rx 10 bytes, tx 20 bytes\neth0:\n",
        ),
        (
            &["vcpus"],
            "cpu 0: online\ncpu 1: offline, can go offline\n",
        ),
        (
            &["fsinfo"],
            "/ ext4 vda1 1.0 GiB of 4.0 GiB used on /dev/vda1\n",
        ),
        (&["memory-blocks"], "block 1: offline\nblock 2: online\n"),
        (
            &["memory-block-info"],
            "block size: 128.0 MiB (134217728 bytes)\n",
        ),
        (
            &["fstrim", "--minimum", "4096"],
            "/: 1.0 MiB trimmed\n/boot: Operation not supported\n",
        ),
        (&["set-time"], ""),
        (&["set-time", "1700000000000000000"], ""),
        (&["fsfreeze", "freeze"], "2 filesystems frozen\n"),
        (&["fsfreeze", "status"], "frozen\n"),
        (&["fsfreeze", "thaw"], "2 filesystems thawed\n"),
        (
            &["fsfreeze", "freeze", "/a", "/b"],
            "2 filesystems frozen\n",
        ),
        (&["fsfreeze", "thaw"], "2 filesystems thawed\n"),
        (&["fsfreeze", "thaw"], "0 filesystems thawed\n"),
        (&["suspend", "disk"], ""),
        (&["suspend-hybrid"], ""),
        (&["shutdown"], ""),
    ];
    for (args, expected) in cases {
        assert_eq!(assert_ok(&qga(&s, args)), *expected, "qga {args:?}");
    }
    let requests = a.guest.lock().unwrap().requests.clone();
    let sent: Vec<String> = requests
        .iter()
        .map(|(name, arguments)| format!("{name} {arguments}"))
        .collect();
    assert_eq!(
        sent,
        [
            "guest-get-time {}",
            "guest-get-timezone {}",
            "guest-get-osinfo {}",
            "guest-get-users {}",
            "guest-network-get-interfaces {}",
            "guest-get-vcpus {}",
            "guest-get-fsinfo {}",
            "guest-get-memory-blocks {}",
            "guest-get-memory-block-info {}",
            "guest-fstrim {\"minimum\":4096}",
            "guest-set-time {}",
            "guest-set-time {\"time\":1700000000000000000}",
            "guest-fsfreeze-freeze {}",
            "guest-fsfreeze-status {}",
            "guest-fsfreeze-thaw {}",
            "guest-fsfreeze-freeze-list {\"mountpoints\":[\"/a\",\"/b\"]}",
            "guest-fsfreeze-thaw {}",
            "guest-fsfreeze-thaw {}",
            "guest-suspend-disk {}",
            "guest-suspend-hybrid {}",
            "guest-shutdown {\"mode\":\"powerdown\"}",
        ]
    );
}

#[test]
fn json_prints_the_agents_replies() {
    let a = agent();
    let s = [a.socket.as_path()];
    let cases: &[(&[&str], &str)] = &[
        (&["--json", "ping"], "{}\n"),
        (&["--json", "time"], "1700000000123456789\n"),
        (
            &["--json", "timezone"],
            "{\"offset\":3600,\"zone\":\"CET\"}\n",
        ),
        (
            &["--json", "vcpus"],
            "[{\"can-offline\":true,\"logical-id\":1,\"online\":false},\
             {\"can-offline\":false,\"logical-id\":0,\"online\":true}]\n",
        ),
        (
            &["--json", "osinfo"],
            "{\"id\":\"debian\",\"kernel-release\":\"6.1.0-13-amd64\",\"machine\":\"x86_64\",\
             \"name\":\"Debian GNU/Linux\",\"pretty-name\":\"Debian GNU/Linux 12 (bookworm)\",\
             \"version-id\":\"12\",\"x-extra\":\"yes\"}\n",
        ),
        (&["--json", "memory-block-info"], "{\"size\":134217728}\n"),
        (&["--json", "set-time"], "{}\n"),
        (&["--json", "fsfreeze", "status"], "\"thawed\"\n"),
        (&["--json", "fsfreeze", "freeze"], "2\n"),
        (&["--json", "fsfreeze", "thaw"], "2\n"),
        (&["--json", "shutdown", "--mode", "halt"], ""),
    ];
    for (args, expected) in cases {
        assert_eq!(assert_ok(&qga(&s, args)), *expected, "qga {args:?}");
    }
    let requests = a.guest.lock().unwrap().requests.clone();
    assert_eq!(
        requests.last().unwrap(),
        &(
            "guest-shutdown".to_owned(),
            serde_json::json!({"mode": "halt"})
        )
    );
}

#[test]
fn file_verbs_send_typed_requests() {
    let a = agent();
    a.guest
        .lock()
        .unwrap()
        .files
        .insert("/f".into(), b"0123456789".to_vec());
    let s = [a.socket.as_path()];
    let handle = assert_ok(&qga(&s, &["file-open", "/f"])).trim().to_owned();
    assert_eq!(assert_ok(&qga(&s, &["file-read", &handle])), "0123456789");
    assert_eq!(
        assert_ok(&qga(&s, &["file-seek", &handle, "-3", "cur"])),
        "7\n"
    );
    assert_eq!(
        assert_ok(&qga(&s, &["--json", "file-read", &handle, "--count", "2"])),
        "{\"buf-b64\":\"Nzg=\",\"count\":2,\"eof\":false}\n"
    );
    assert_eq!(assert_ok(&qga(&s, &["file-flush", &handle])), "");
    assert_eq!(
        assert_ok(&qga(&s, &["--json", "file-flush", &handle])),
        "{}\n"
    );
    assert_ok(&qga(&s, &["file-close", &handle]));
    let output = qga(&s, &["file-flush", &handle]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        format!("qga: guest-file-flush: handle '{handle}' has not been found\n")
    );

    let h: i64 = handle.parse().unwrap();
    let requests = a.guest.lock().unwrap().requests.clone();
    let sent: Vec<String> = requests
        .iter()
        .map(|(name, arguments)| format!("{name} {arguments}"))
        .collect();
    assert_eq!(
        sent,
        [
            "guest-file-open {\"mode\":\"r\",\"path\":\"/f\"}".to_owned(),
            format!("guest-file-read {{\"handle\":{h}}}"),
            format!("guest-file-seek {{\"handle\":{h},\"offset\":-3,\"whence\":\"cur\"}}"),
            format!("guest-file-read {{\"count\":2,\"handle\":{h}}}"),
            format!("guest-file-flush {{\"handle\":{h}}}"),
            format!("guest-file-flush {{\"handle\":{h}}}"),
            format!("guest-file-close {{\"handle\":{h}}}"),
            format!("guest-file-flush {{\"handle\":{h}}}"),
        ]
    );
}

/// The requests `a` has received since the `skip` first, as "command arguments".
fn sent_since(a: &Agent, skip: usize) -> Vec<String> {
    a.guest.lock().unwrap().requests[skip..]
        .iter()
        .map(|(name, arguments)| format!("{name} {arguments}"))
        .collect()
}

#[test]
fn disk_cpu_load_and_route_verbs() {
    let a = agent();
    let s = [a.socket.as_path()];
    let cases: &[(&str, &str, &str)] = &[
        (
            "disks",
            "guest-get-disks",
            "/dev/vda disk virtio at pci 0000:00:04.0 serial SN1\n\
             /dev/vda1 partition on /dev/vda\n\
             /dev/dm-0 (vg0-root) disk on /dev/vda1, /dev/vdb\n\
             /dev/nvme0n1 disk nvme; nvme: 3% of life used, 37 °C, no critical warning\n",
        ),
        (
            "diskstats",
            "guest-get-diskstats",
            "vda (254:0): read 1.0 MiB in 10 ios, written 2.0 GiB in 20 ios, \
             discarded 0 bytes in 0 ios, 5 flushes, 1 in flight\n\
             vdb (254:16): read 512 bytes in 1 ios, 0 write ios\n",
        ),
        (
            "cpustats",
            "guest-get-cpustats",
            "cpu 0 (10.0 s): user 60.0%, nice 1.0%, system 10.0%, idle 25.0%, iowait 2.0%, \
             irq 0.0%, softirq 1.0%, steal 1.0%, guest 0.0%, guestnice 0.0%\n\
             cpu 1 (1.0 s): user 30.0%, nice 0.0%, system 10.0%, idle 60.0%\n",
        ),
        ("load", "guest-get-load", "load average: 0.50, 1.25, 2.00\n"),
        (
            "routes",
            "guest-network-get-route",
            "default via 192.0.2.1 dev eth0\n192.0.2.0/24 dev eth0 metric 100\n\
             fd00::/64 dev eth0 metric 256\n",
        ),
    ];
    for (verb, command, expected) in cases {
        let before = a.guest.lock().unwrap().requests.len();
        assert_eq!(assert_ok(&qga(&s, &[verb])), *expected, "qga {verb}");
        // --json prints the reply as the agent sent it.
        let json = assert_ok(&qga(&s, &["--json", verb]));
        assert!(json.ends_with('\n') && json.lines().count() == 1, "{json}");
        let raw = assert_ok(&qga(&s, &["--json", "raw", command]));
        assert_eq!(json, raw, "qga --json {verb}");
        assert_eq!(
            sent_since(&a, before),
            vec![format!("{command} {{}}"); 3],
            "qga {verb}"
        );
    }
    assert_eq!(
        assert_ok(&qga(&s, &["--json", "load"])),
        "{\"load15m\":2.0,\"load1m\":0.5,\"load5m\":1.25}\n"
    );
}

#[test]
fn ssh_keys_from_arguments_a_file_and_stdin() {
    let a = agent();
    a.guest
        .lock()
        .unwrap()
        .ssh_keys
        .insert("bob".into(), vec!["ssh-ed25519 AAAA old".into()]);
    let s = [a.socket.as_path()];
    let keys = || a.guest.lock().unwrap().ssh_keys["bob"].clone();

    assert_eq!(
        assert_ok(&qga(&s, &["ssh-keys", "get", "bob"])),
        "ssh-ed25519 AAAA old\n"
    );
    assert_eq!(
        assert_ok(&qga(&s, &["--json", "ssh-keys", "get", "bob"])),
        "{\"keys\":[\"ssh-ed25519 AAAA old\"]}\n"
    );

    // From the arguments.
    assert_eq!(
        assert_ok(&qga(
            &s,
            &[
                "ssh-keys",
                "add",
                "bob",
                "ssh-rsa BBBB two",
                " ssh-ed25519 CCCC three "
            ]
        )),
        ""
    );
    assert_eq!(
        keys(),
        [
            "ssh-ed25519 AAAA old",
            "ssh-rsa BBBB two",
            "ssh-ed25519 CCCC three"
        ]
    );
    // From a file: comments and blank lines skipped.
    let file = a.dir.path().join("keys.pub");
    std::fs::write(
        &file,
        "# mine\n\nssh-ed25519 DDDD four\r\n  # old\nssh-rsa BBBB two\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    assert_ok(&qga(&s, &["ssh-keys", "add", "bob", "--file", path]));
    assert_eq!(keys().len(), 4);
    // From standard input: with no key given, with `-`, and with `--file -`.
    assert_eq!(
        assert_ok(&qga_with_stdin(
            &s,
            &["ssh-keys", "remove", "bob"],
            b"ssh-rsa BBBB two\n\n"
        )),
        ""
    );
    assert_ok(&qga_with_stdin(
        &s,
        &["ssh-keys", "remove", "bob", "-"],
        b"ssh-ed25519 DDDD four",
    ));
    assert_eq!(keys(), ["ssh-ed25519 AAAA old", "ssh-ed25519 CCCC three"]);
    assert_eq!(
        assert_ok(&qga_with_stdin(
            &s,
            &["--json", "ssh-keys", "add", "bob", "--reset", "--file", "-"],
            b"ssh-ed25519 EEEE five\n",
        )),
        "{}\n"
    );
    assert_eq!(keys(), ["ssh-ed25519 EEEE five"]);

    assert_eq!(
        sent_since(&a, 0),
        [
            r#"guest-ssh-get-authorized-keys {"username":"bob"}"#,
            r#"guest-ssh-get-authorized-keys {"username":"bob"}"#,
            r#"guest-ssh-add-authorized-keys {"keys":["ssh-rsa BBBB two","ssh-ed25519 CCCC three"],"username":"bob"}"#,
            r#"guest-ssh-add-authorized-keys {"keys":["ssh-ed25519 DDDD four","ssh-rsa BBBB two"],"username":"bob"}"#,
            r#"guest-ssh-remove-authorized-keys {"keys":["ssh-rsa BBBB two"],"username":"bob"}"#,
            r#"guest-ssh-remove-authorized-keys {"keys":["ssh-ed25519 DDDD four"],"username":"bob"}"#,
            r#"guest-ssh-add-authorized-keys {"keys":["ssh-ed25519 EEEE five"],"reset":true,"username":"bob"}"#,
        ]
    );

    // Standard input is read once for several agents.
    let b = agent_named("b.sock");
    b.guest
        .lock()
        .unwrap()
        .ssh_keys
        .insert("bob".into(), Vec::new());
    assert_ok(&qga_with_stdin(
        &[&a.socket, &b.socket],
        &["ssh-keys", "add", "bob"],
        b"ssh-ed25519 FFFF six\n",
    ));
    assert_eq!(
        b.guest.lock().unwrap().ssh_keys["bob"],
        ["ssh-ed25519 FFFF six"]
    );
    assert_eq!(keys(), ["ssh-ed25519 EEEE five", "ssh-ed25519 FFFF six"]);
}

#[test]
fn bad_ssh_key_lists_are_refused_before_anything_is_sent() {
    let a = agent();
    a.guest
        .lock()
        .unwrap()
        .ssh_keys
        .insert("bob".into(), vec!["k".into()]);
    let s = [a.socket.as_path()];
    let empty = a.dir.path().join("empty.pub");
    std::fs::write(&empty, "# nothing but a comment\n\n").unwrap();
    let empty = empty.to_str().unwrap();
    let missing = a.dir.path().join("missing.pub");
    let missing = missing.to_str().unwrap();
    let cases: &[(&[&str], &[u8], i32, &str)] = &[
        (&["ssh-keys", "add", "bob"], b"", 2, "no keys given"),
        (
            &["ssh-keys", "add", "bob", "--reset"],
            b"\n# x\n",
            2,
            "no keys given",
        ),
        (
            &["ssh-keys", "remove", "bob", "--file", empty],
            b"k",
            2,
            "no keys given",
        ),
        (&["ssh-keys", "add", "bob", ""], b"", 2, "is empty"),
        (&["ssh-keys", "add", "bob", "#k"], b"", 2, "comment"),
        (
            &["ssh-keys", "add", "bob", "a\nb"],
            b"",
            2,
            "more than one line",
        ),
        (
            &["ssh-keys", "add", "bob", "-", "--file", "-"],
            b"k",
            2,
            "twice",
        ),
        (
            &["ssh-keys", "add", "bob", "--file", missing],
            b"",
            1,
            "missing.pub",
        ),
        (&["ssh-keys", "add", "bob", "-"], b"\xff\n", 1, "not UTF-8"),
    ];
    for (args, stdin, status, why) in cases {
        let output = qga_with_stdin(&s, args, stdin);
        assert_eq!(output.status.code(), Some(*status), "qga {args:?}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.starts_with("qga: ") && stderr.contains(why),
            "qga {args:?}: {stderr}"
        );
        assert_eq!(output.stdout, b"", "qga {args:?}");
    }
    assert_eq!(sent_since(&a, 0), Vec::<String>::new());
    assert_eq!(a.guest.lock().unwrap().ssh_keys["bob"], ["k"]);

    // The agent's refusal: its message, status 1.
    let output = qga(&s, &["ssh-keys", "get", "nobody"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "qga: guest-ssh-get-authorized-keys: failed to lookup user 'nobody': no such user\n"
    );
}
