//! Our agent binary on a unix socket, driven over the wire: the commands, the
//! protocol's error table, the options, and each fault of QEMU's agent proven absent.

mod support;

use std::io::{BufRead, Write};
use std::time::Duration;

use serde_json::{json, Value};
use support::{ours, Agent};

fn agent(extra: &[&str]) -> Agent {
    Agent::start(&ours("qga-agent"), extra)
}

fn error_of(response: &Value) -> (String, String) {
    let e = &response["error"];
    (
        e["class"].as_str().unwrap_or_default().to_owned(),
        e["desc"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn sync_ping_info_and_ids() {
    let a = agent(&[]);
    let mut c = a.connect();
    c.send(b"\xff");
    c.send(br#"{"execute": "guest-sync-delimited", "arguments": {"id": 4242}}"#);
    let mut line = Vec::new();
    c.reader.read_until(b'\n', &mut line).unwrap();
    assert_eq!(
        line[0], 0xFF,
        "guest-sync-delimited starts with the sentinel"
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&line[1..]).unwrap(),
        json!({"return": 4242})
    );
    assert_eq!(
        c.call(&json!({"execute": "guest-sync", "arguments": {"id": 7}})),
        json!({"return": 7})
    );
    assert_eq!(
        c.call(&json!({"execute": "guest-ping", "id": ["any", 1]})),
        json!({"return": {}, "id": ["any", 1]})
    );
    let info = c.call(&json!({"execute": "guest-info"}));
    let commands = info["return"]["supported_commands"].as_array().unwrap();
    assert_eq!(commands.len(), 43);
    // QEMU 10.2's commands on Linux: all of its schema but guest-get-devices
    // (Windows only).
    let mut names: Vec<&str> = commands
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "guest-exec",
            "guest-exec-status",
            "guest-file-close",
            "guest-file-flush",
            "guest-file-open",
            "guest-file-read",
            "guest-file-seek",
            "guest-file-write",
            "guest-fsfreeze-freeze",
            "guest-fsfreeze-freeze-list",
            "guest-fsfreeze-status",
            "guest-fsfreeze-thaw",
            "guest-fstrim",
            "guest-get-cpustats",
            "guest-get-disks",
            "guest-get-diskstats",
            "guest-get-fsinfo",
            "guest-get-host-name",
            "guest-get-load",
            "guest-get-memory-block-info",
            "guest-get-memory-blocks",
            "guest-get-osinfo",
            "guest-get-time",
            "guest-get-timezone",
            "guest-get-users",
            "guest-get-vcpus",
            "guest-info",
            "guest-network-get-interfaces",
            "guest-network-get-route",
            "guest-ping",
            "guest-set-memory-blocks",
            "guest-set-time",
            "guest-set-user-password",
            "guest-set-vcpus",
            "guest-shutdown",
            "guest-ssh-add-authorized-keys",
            "guest-ssh-get-authorized-keys",
            "guest-ssh-remove-authorized-keys",
            "guest-suspend-disk",
            "guest-suspend-hybrid",
            "guest-suspend-ram",
            "guest-sync",
            "guest-sync-delimited",
        ]
    );
    let shutdown = commands
        .iter()
        .find(|c| c["name"] == "guest-shutdown")
        .unwrap();
    assert_eq!(shutdown["success-response"], false);
    assert!(commands.iter().all(|c| c["enabled"] == true));
}

#[test]
fn the_error_table_over_the_wire() {
    let a = agent(&[]);
    let mut c = a.connect();
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"{"execute": "guest-foo"}"#,
            "CommandNotFound",
            "The command guest-foo has not been found",
        ),
        (
            r#"{"execute": "guest-file-open"}"#,
            "GenericError",
            "Parameter 'path' is missing",
        ),
        (
            r#"{"execute": "guest-file-close", "arguments": {"handle": "x"}}"#,
            "GenericError",
            "Invalid parameter type for 'handle', expected: integer",
        ),
        (
            r#"{"execute": "guest-ping", "arguments": {"foo": 1}}"#,
            "GenericError",
            "Parameter 'foo' is unexpected",
        ),
        (
            r#"{"execute": "guest-file-seek", "arguments": {"handle": 1, "offset": 0, "whence": "foo"}}"#,
            "GenericError",
            "Parameter 'whence' does not accept value 'foo'",
        ),
        (
            r#"{"execute": "guest-ping", "arguments": []}"#,
            "GenericError",
            "QMP input member 'arguments' must be an object",
        ),
        (
            r#"{"arguments": {}}"#,
            "GenericError",
            "QMP input lacks member 'execute'",
        ),
        (
            r#"{"execute": 1}"#,
            "GenericError",
            "QMP input member 'execute' must be a string",
        ),
        (
            r#"{"execute": "guest-ping", "exec-oob": "guest-ping"}"#,
            "GenericError",
            "QMP input member 'exec-oob' is unexpected",
        ),
        (
            r#"["guest-ping"]"#,
            "GenericError",
            "QMP input must be a JSON object",
        ),
        (
            r#"{"execute": "guest-ping", "execute": "guest-ping"}"#,
            "GenericError",
            "JSON parse error, duplicate key",
        ),
        (
            r#"{"execute": "guest-file-write", "arguments": {"handle": 1000, "buf-b64": "*"}}"#,
            "GenericError",
            "Base64 data contains invalid characters",
        ),
        (
            r#"{"execute": "guest-file-read", "arguments": {"handle": 999999}}"#,
            "GenericError",
            "handle '999999' has not been found",
        ),
        (
            r#"{"execute": "guest-file-open", "arguments": {"path": "/no/such"}}"#,
            "GenericError",
            "failed to open file '/no/such' (mode: 'r'): No such file or directory",
        ),
        (
            r#"{"execute": "guest-file-open", "arguments": {"path": "/dev/null", "mode": "zz"}}"#,
            "GenericError",
            "invalid file open mode 'zz'",
        ),
        // The ssh commands, without touching any account: keys are checked
        // first, and the user does not exist.
        (
            r#"{"execute": "guest-ssh-get-authorized-keys", "arguments": {"username": "no-such-user-qga"}}"#,
            "GenericError",
            "failed to lookup user 'no-such-user-qga': no such user",
        ),
        (
            r##"{"execute": "guest-ssh-add-authorized-keys", "arguments": {"username": "no-such-user-qga", "keys": ["# not a key"]}}"##,
            "GenericError",
            "invalid OpenSSH public key: '# not a key'",
        ),
        (
            r#"{"execute": "guest-ssh-remove-authorized-keys", "arguments": {"username": "no-such-user-qga", "keys": ["a\nb"]}}"#,
            "GenericError",
            "invalid OpenSSH public key: 'a\nb'",
        ),
        (
            r#"{"execute": "guest-ssh-add-authorized-keys", "arguments": {"username": "no-such-user-qga"}}"#,
            "GenericError",
            "Parameter 'keys' is missing",
        ),
        (
            r#"{"execute": "guest-exec", "arguments": {"path": "true", "capture-output": 1}}"#,
            "GenericError",
            "Invalid parameter type for 'capture-output', expected: GuestExecCaptureOutput",
        ),
        (
            r#"{"execute": "guest-exec", "arguments": {"path": "true", "capture-output": "both"}}"#,
            "GenericError",
            "Parameter 'capture-output' does not accept value 'both'",
        ),
        (
            r#"{"execute": "guest-get-devices"}"#,
            "CommandNotFound",
            "The command guest-get-devices has not been found",
        ),
        (
            r#"{"execute": "guest-exec-status", "arguments": {"pid": 999999999}}"#,
            "GenericError",
            "Invalid parameter 'pid'",
        ),
    ];
    for (request, class, desc) in cases {
        c.send(request.as_bytes());
        let response = c.recv();
        assert_eq!(
            error_of(&response),
            (class.to_string(), desc.to_string()),
            "{request}"
        );
    }
    // A syntax error is one error line, after which the agent answers again.
    c.send(b"{\"execute\": bad}");
    let (class, desc) = error_of(&c.recv());
    assert_eq!(class, "GenericError");
    assert!(desc.starts_with("JSON parse error"), "{desc}");
    assert_eq!(
        c.call(&json!({"execute": "guest-ping"})),
        json!({"return": {}})
    );
    // The id is echoed on errors too.
    let response = c.call(&json!({"execute": "guest-nope", "id": 5}));
    assert_eq!(response["id"], 5);
}

#[test]
fn files_respect_the_umask_and_handles_start_at_1000() {
    let a = agent(&[]);
    let mut c = a.connect();
    let path = a.dir.path().join("new-file");
    let open =
        c.call(&json!({"execute": "guest-file-open", "arguments": {"path": path, "mode": "w+"}}));
    assert_eq!(open, json!({"return": 1000}));
    let write = c.call(&json!({"execute": "guest-file-write", "arguments": {"handle": 1000, "buf-b64": "aGVsbG8="}}));
    assert_eq!(write, json!({"return": {"count": 5, "eof": false}}));
    let seek = c.call(&json!({"execute": "guest-file-seek", "arguments": {"handle": 1000, "offset": 0, "whence": "set"}}));
    assert_eq!(seek, json!({"return": {"position": 0, "eof": false}}));
    let read =
        c.call(&json!({"execute": "guest-file-read", "arguments": {"handle": 1000, "count": 100}}));
    assert_eq!(read["return"]["buf-b64"], "aGVsbG8=");
    assert_eq!(
        c.call(&json!({"execute": "guest-file-close", "arguments": {"handle": 1000}})),
        json!({"return": {}})
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    // The test process's umask is inherited by the agent; QEMU's agent would give 0666.
    let umask = unsafe_free_umask();
    assert_eq!(mode, 0o666 & !umask, "mode {mode:o}, umask {umask:o}");
    // Handles are global: the next connection (one at a time, as QEMU) goes on counting.
    drop(c);
    let mut c2 = a.connect();
    let again = c2.call(&json!({"execute": "guest-file-open", "arguments": {"path": path}}));
    assert_eq!(again, json!({"return": 1001}));
}

/// The current umask, read from /proc (no need to change it to learn it).
fn unsafe_free_umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line.split_whitespace().nth(1).unwrap(), 8).unwrap()
}

#[test]
fn exec_and_status() {
    let a = agent(&[]);
    let mut c = a.connect();
    let pid = c.call(&json!({"execute": "guest-exec", "arguments": {"path": "sh", "arg": ["-c", "echo out; exit 3"], "capture-output": true}}))["return"]["pid"]
        .as_i64()
        .unwrap();
    let status = loop {
        let s = c.call(&json!({"execute": "guest-exec-status", "arguments": {"pid": pid}}));
        if s["return"]["exited"] == true {
            break s;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status["return"]["exitcode"], 3);
    assert_eq!(status["return"]["out-data"], "b3V0Cg==");
    let again = c.call(&json!({"execute": "guest-exec-status", "arguments": {"pid": pid}}));
    assert_eq!(error_of(&again).1, "Invalid parameter 'pid'");
}

#[test]
fn queries_answer_with_their_shapes() {
    let a = Agent::start_with_env(
        &ours("qga-agent"),
        &[],
        &[(
            "QGA_OS_RELEASE",
            concat!(env!("CARGO_MANIFEST_DIR"), "/vm/os-release"),
        )],
    );
    let mut c = a.connect();
    for (command, check) in [
        (
            "guest-get-time",
            &(|v: &Value| v.is_i64()) as &dyn Fn(&Value) -> bool,
        ),
        ("guest-get-host-name", &|v| v["host-name"].is_string()),
        ("guest-get-timezone", &|v| v["offset"].is_i64()),
        ("guest-get-osinfo", &|v| {
            v["kernel-release"].is_string() && v["id"].is_string()
        }),
        ("guest-get-users", &|v| v.is_array()),
        ("guest-get-vcpus", &|v| {
            v.as_array().is_some_and(|a| !a.is_empty())
        }),
        ("guest-get-memory-block-info", &|v| v["size"].is_u64()),
        ("guest-get-memory-blocks", &|v| v.is_array()),
        ("guest-network-get-interfaces", &|v| {
            v.as_array()
                .is_some_and(|a| a.iter().any(|i| i["name"] == "lo"))
        }),
        ("guest-get-disks", &|v| {
            v.as_array().is_some_and(|a| {
                a.iter()
                    .all(|d| d["name"].is_string() && d["partition"].is_boolean())
            })
        }),
        ("guest-get-fsinfo", &|v| v.is_array()),
        ("guest-get-diskstats", &|v| {
            v.as_array().is_some_and(|a| {
                a.iter()
                    .all(|d| d["name"].is_string() && d["stats"].is_object())
            })
        }),
        ("guest-get-cpustats", &|v| {
            v.as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(|c| c["type"] == "linux"))
        }),
        ("guest-get-load", &|v| {
            ["load1m", "load5m", "load15m"]
                .iter()
                .all(|k| v[k].as_f64().is_some_and(|n| n >= 0.0))
        }),
        ("guest-network-get-route", &|v| {
            v.as_array().is_some_and(|a| {
                a.iter()
                    .all(|r| r["iface"].is_string() && (r["version"] == 4 || r["version"] == 6))
            })
        }),
        ("guest-fsfreeze-status", &|v| v == "thawed"),
    ] {
        let response = c.call(&json!({"execute": command}));
        assert!(check(&response["return"]), "{command}: {response}");
    }
    let os = c.call(&json!({"execute": "guest-get-osinfo"}));
    assert_eq!(os["return"]["id"], "qga-vm", "QGA_OS_RELEASE is honoured");
}

#[test]
fn block_and_allow_lists() {
    let a = agent(&[
        "-b",
        "guest-ping,guest-get-time",
        "-a",
        "guest-ping,guest-info,guest-get-host-name",
    ]);
    let mut c = a.connect();
    let ping = c.call(&json!({"execute": "guest-ping"}));
    assert_eq!(
        error_of(&ping),
        (
            "CommandNotFound".into(),
            "Command guest-ping has been disabled".into()
        )
    );
    let exec = c.call(&json!({"execute": "guest-exec", "arguments": {"path": "true"}}));
    assert_eq!(error_of(&exec).0, "CommandNotFound");
    assert!(c.call(&json!({"execute": "guest-get-host-name"}))["return"].is_object());
    let info = c.call(&json!({"execute": "guest-info"}));
    let enabled: Vec<&str> = info["return"]["supported_commands"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["enabled"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(enabled, ["guest-info", "guest-get-host-name"]);
}

#[test]
fn options_dump_help_and_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("qga.conf");
    std::fs::write(
        &conf,
        "[general]\nblock-rpcs=guest-exec,guest-info\nverbose=true\n",
    )
    .unwrap();
    let empty = dir.path().join("empty.conf");
    std::fs::write(&empty, "").unwrap();
    let dump = |binary: &std::path::Path, conf: &std::path::Path, args: &[&str]| {
        let out = std::process::Command::new(binary)
            .args(args)
            .arg("-D")
            .env("QGA_CONF", conf)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let cases: &[(&std::path::Path, &[&str])] = &[
        (
            &empty,
            &["-m", "unix-listen", "-p", "/run/x.sock", "-b", "guest-ping"],
        ),
        (&conf, &["-b", "guest-ping"]),
        (&conf, &["-t", "/run/state", "-v", "-l", "/run/qga.log"]),
    ];
    let ours_text = dump(&ours("qga-agent"), cases[0].0, cases[0].1);
    assert!(
        ours_text.contains("method=unix-listen\n") && ours_text.contains("path=/run/x.sock\n"),
        "{ours_text}"
    );
    assert!(ours_text.contains("block-rpcs=guest-ping\n"), "{ours_text}");
    if let Some(qemu) = support::qemu_ga() {
        for (conf, args) in cases {
            assert_eq!(
                dump(&ours("qga-agent"), conf, args),
                dump(&qemu, conf, args),
                "{args:?}"
            );
        }
    }
    let list = std::process::Command::new(ours("qga-agent"))
        .args(["-b", "help"])
        .env("QGA_CONF", &empty)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(list.stdout).unwrap().lines().count(), 43);
    let bad = std::process::Command::new(ours("qga-agent"))
        .args(["-m", "pigeon"])
        .env("QGA_CONF", &empty)
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

// QEMU's faults (PROTOCOL.md, last section), each proven absent.

#[test]
fn a_client_closing_with_responses_unread_does_not_end_the_agent() {
    let mut a = agent(&[]);
    for _ in 0..5 {
        let mut c = a.connect();
        for _ in 0..200 {
            c.send(br#"{"execute": "guest-info"}"#);
        }
        drop(c);
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(a.alive());
    assert_eq!(
        a.connect().call(&json!({"execute": "guest-ping"})),
        json!({"return": {}})
    );
}

#[test]
fn a_dead_clients_half_request_does_not_reach_the_next_client() {
    let a = agent(&[]);
    let mut first = a.connect();
    first.send(br#"{"execute": "guest-sync", "argu"#);
    drop(first);
    std::thread::sleep(Duration::from_millis(100));
    let mut second = a.connect();
    assert_eq!(
        second.call(&json!({"execute": "guest-ping"})),
        json!({"return": {}})
    );
}

#[test]
fn a_hostile_message_costs_one_error_line() {
    let a = agent(&[]);
    let mut c = a.connect();
    let mut message = Vec::with_capacity(7 << 20);
    message.extend_from_slice(br#"{"execute": "guest-ping", "arguments": {"a": ["#);
    for _ in 0..(3 << 20) {
        message.extend_from_slice(b"1,");
    }
    message.extend_from_slice(b"1]}}");
    let mut writer = c.writer.try_clone().unwrap();
    let sender = std::thread::spawn(move || writer.write_all(&message));
    let (class, desc) = error_of(&c.recv());
    assert_eq!(
        (class.as_str(), desc.as_str()),
        ("GenericError", "JSON token count limit exceeded")
    );
    sender.join().unwrap().unwrap();
    // The next line is the ping's answer: no flood of errors in between.
    assert_eq!(
        c.call(&json!({"execute": "guest-ping"})),
        json!({"return": {}})
    );
}

#[test]
fn sigterm_right_after_a_disconnect_never_deadlocks() {
    for _ in 0..40 {
        let mut a = agent(&[]);
        let mut c = a.connect();
        c.send(br#"{"execute": "guest-info"}"#);
        drop(c);
        let status = a
            .terminate(Duration::from_secs(5))
            .expect("the agent exits on SIGTERM");
        assert!(status.success(), "{status:?}");
        // A clean exit removes the socket file (the pidfile exists only with -d).
        assert!(!a.socket.exists(), "the socket file is removed");
    }
}

/// The agent's peak resident memory (VmHWM), in bytes.
fn peak_rss(agent: &Agent) -> u64 {
    let pid = agent.child.as_ref().expect("running").id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("a number");
    kib * 1024
}

#[test]
fn large_reads_sent_ahead_are_answered_in_order_one_at_a_time() {
    // A host that sends many large reads at once and reads the answers slowly gets
    // them all, in order, while the agent holds about one in memory: the requests
    // behind a large answer wait until it has been written.
    const SIZE: usize = 8 << 20;
    const READS: usize = 16;
    let a = agent(&[]);
    let data: Vec<u8> = (0..SIZE).map(|i| (i * 131 + i / 4099) as u8).collect();
    let path = a.dir.path().join("data.bin");
    std::fs::write(&path, &data).unwrap();
    let mut c = a.connect();
    let handle = c.call(&json!({"execute": "guest-file-open",
                                "arguments": {"path": path, "mode": "r"}}))["return"]
        .as_i64()
        .expect("a handle");
    let before = peak_rss(&a);

    let mut requests = String::new();
    for id in 0..READS {
        let seek = json!({"execute": "guest-file-seek", "arguments":
                          {"handle": handle, "offset": 0, "whence": "set"}});
        let read = json!({"execute": "guest-file-read", "id": id,
                          "arguments": {"handle": handle, "count": SIZE}});
        requests.push_str(&format!("{seek}{read}"));
    }
    c.send(requests.as_bytes());
    // Give the agent time to take in everything it would.
    std::thread::sleep(Duration::from_millis(500));
    let mut first = None;
    for id in 0..READS {
        assert_eq!(c.recv()["return"]["position"], 0);
        let mut line = Vec::new();
        c.reader.read_until(b'\n', &mut line).unwrap();
        // Parsed once; the others must be the same bytes but for their ids.
        let id_part = format!(", \"id\": {id}}}\n");
        assert!(line.ends_with(id_part.as_bytes()), "answer {id}");
        let body = &line[..line.len() - id_part.len()];
        let first = first.get_or_insert_with(|| {
            let reply: Value = serde_json::from_slice(&line).unwrap();
            assert_eq!(reply["return"]["count"], SIZE);
            let text = reply["return"]["buf-b64"].as_str().expect("base64");
            assert!(qga_types::base64::decode(text).unwrap() == data);
            body.to_vec()
        });
        assert!(body == &first[..], "answer {id}");
    }
    // All sixteen answers at once would be 170 MiB of base64.
    let grown = peak_rss(&a).saturating_sub(before);
    assert!(grown < 64 << 20, "the agent grew by {} MiB", grown >> 20);
    assert_eq!(
        c.call(&json!({"execute": "guest-ping"})),
        json!({"return": {}})
    );
}
