//! The file and exec command modules, through the agent's library, compared
//! with QEMU's agent when `/usr/sbin/qemu-ga` is installed.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use qga_agent::commands::error::CommandError;
use qga_agent::commands::exec::ExecTable;
use qga_agent::commands::file::{Counter, FileTable};
use qga_types::commands::GuestExecArguments;
use qga_types::{GuestFileWhence, QGASeek};
use serde::Serialize;
use serde_json::{json, Value};

/// QEMU's agent, run on a unix socket in a temp dir. None when it is not
/// installed (the differential tests then only say so).
struct Reference {
    child: Child,
    stream: UnixStream,
    reader: BufReader<UnixStream>,
    _dir: tempfile::TempDir,
}

impl Reference {
    fn start() -> Option<Reference> {
        let binary = PathBuf::from(
            std::env::var_os("QEMU_GA").unwrap_or_else(|| "/usr/sbin/qemu-ga".into()),
        );
        if !binary.exists() {
            eprintln!(
                "{} not installed: differential test skipped",
                binary.display()
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("qga.sock");
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        let mut child = Command::new(&binary)
            .arg("-m")
            .arg("unix-listen")
            .arg("-p")
            .arg(&sock)
            .arg("-t")
            .arg(&state)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match UnixStream::connect(&sock) {
                Ok(s) => break s,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("qemu-ga did not listen: {e}");
                }
            }
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Some(Reference {
            child,
            stream,
            reader,
            _dir: dir,
        })
    }

    fn call(&mut self, name: &str, arguments: Value) -> Value {
        let request = json!({ "execute": name, "arguments": arguments });
        self.stream
            .write_all(request.to_string().as_bytes())
            .unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Our result in the shape of a response.
fn response<T: Serialize>(r: Result<T, CommandError>) -> Value {
    match r {
        Ok(v) => json!({ "return": v }),
        Err(e) => json!({ "error": { "class": "GenericError", "desc": e.0 } }),
    }
}

fn whence(v: &Value) -> GuestFileWhence {
    match v {
        Value::String(s) => GuestFileWhence::Name(s.parse::<QGASeek>().unwrap()),
        v => GuestFileWhence::Value(v.as_i64().unwrap()),
    }
}

/// One guest-file-* call on our table, from its JSON arguments.
fn our_file_call(t: &mut FileTable, c: &mut Counter, name: &str, a: &Value) -> Value {
    let handle = a["handle"].as_i64().unwrap_or(0);
    let count = a["count"].as_i64();
    match name {
        "guest-file-open" => response(t.open(a["path"].as_str().unwrap(), a["mode"].as_str(), c)),
        "guest-file-read" => response(t.read(handle, count)),
        "guest-file-write" => {
            let data: qga_types::commands::GuestFileWriteArguments =
                serde_json::from_value(a.clone()).unwrap();
            response(t.write(handle, &data.buf_b64, count))
        }
        "guest-file-seek" => {
            response(t.seek(handle, a["offset"].as_i64().unwrap(), &whence(&a["whence"])))
        }
        "guest-file-flush" => response(t.flush(handle).map(|()| json!({}))),
        "guest-file-close" => response(t.close(handle).map(|()| json!({}))),
        _ => unreachable!(),
    }
}

fn file_script(dir: &Path) -> Vec<(&'static str, Value)> {
    let d = dir.to_str().unwrap();
    let ten = format!("{d}/ten");
    let new = format!("{d}/new");
    let b64 = |s: &str| {
        serde_json::to_value(qga_types::commands::GuestFileWriteArguments {
            handle: 0,
            buf_b64: s.as_bytes().to_vec(),
            count: None,
        })
        .unwrap()["buf-b64"]
            .clone()
    };
    vec![
        ("guest-file-open", json!({ "path": ten })),
        ("guest-file-read", json!({ "handle": 1000, "count": 5 })),
        ("guest-file-read", json!({ "handle": 1000, "count": 5 })),
        ("guest-file-read", json!({ "handle": 1000, "count": 5 })),
        (
            "guest-file-seek",
            json!({ "handle": 1000, "offset": 0, "whence": "set" }),
        ),
        ("guest-file-read", json!({ "handle": 1000, "count": 0 })),
        ("guest-file-read", json!({ "handle": 1000 })),
        ("guest-file-read", json!({ "handle": 1000 })),
        (
            "guest-file-seek",
            json!({ "handle": 1000, "offset": 100, "whence": 0 }),
        ),
        ("guest-file-read", json!({ "handle": 1000 })),
        (
            "guest-file-seek",
            json!({ "handle": 1000, "offset": -3, "whence": "end" }),
        ),
        (
            "guest-file-seek",
            json!({ "handle": 1000, "offset": 2, "whence": 1 }),
        ),
        (
            "guest-file-seek",
            json!({ "handle": 1000, "offset": -100, "whence": "cur" }),
        ),
        (
            "guest-file-seek",
            json!({ "handle": 1000, "offset": -1, "whence": "set" }),
        ),
        (
            "guest-file-seek",
            json!({ "handle": 1000, "offset": 0, "whence": 5 }),
        ),
        (
            "guest-file-seek",
            json!({ "handle": 999999, "offset": 0, "whence": 5 }),
        ),
        ("guest-file-read", json!({ "handle": 1000, "count": -1 })),
        (
            "guest-file-read",
            json!({ "handle": 1000, "count": 50331649 }),
        ),
        ("guest-file-read", json!({ "handle": 999999, "count": -1 })),
        (
            "guest-file-write",
            json!({ "handle": 1000, "buf-b64": b64("x") }),
        ),
        ("guest-file-close", json!({ "handle": 1000 })),
        ("guest-file-close", json!({ "handle": 1000 })),
        ("guest-file-open", json!({ "path": new, "mode": "w+" })),
        (
            "guest-file-write",
            json!({ "handle": 1001, "buf-b64": b64("hello"), "count": 6 }),
        ),
        (
            "guest-file-write",
            json!({ "handle": 1001, "buf-b64": b64("hello"), "count": -1 }),
        ),
        (
            "guest-file-write",
            json!({ "handle": 1001, "buf-b64": b64("hello"), "count": 3 }),
        ),
        (
            "guest-file-write",
            json!({ "handle": 1001, "buf-b64": b64("") }),
        ),
        ("guest-file-flush", json!({ "handle": 1001 })),
        (
            "guest-file-seek",
            json!({ "handle": 1001, "offset": 0, "whence": "cur" }),
        ),
        (
            "guest-file-seek",
            json!({ "handle": 1001, "offset": 1, "whence": "set" }),
        ),
        ("guest-file-read", json!({ "handle": 1001 })),
        ("guest-file-close", json!({ "handle": 1001 })),
        ("guest-file-open", json!({ "path": new, "mode": "zz" })),
        ("guest-file-open", json!({ "path": new, "mode": "" })),
        ("guest-file-open", json!({ "path": new, "mode": "br" })),
        ("guest-file-open", json!({ "path": "/no/such" })),
        (
            "guest-file-open",
            json!({ "path": "/no/such", "mode": "a+" }),
        ),
        ("guest-file-open", json!({ "path": d, "mode": "w" })),
        (
            "guest-file-open",
            json!({ "path": format!("{d}/dangling"), "mode": "w" }),
        ),
        ("guest-file-open", json!({ "path": ten, "mode": "a+b" })),
        (
            "guest-file-seek",
            json!({ "handle": 1002, "offset": 0, "whence": "cur" }),
        ),
        ("guest-file-read", json!({ "handle": 1002, "count": 3 })),
        (
            "guest-file-write",
            json!({ "handle": 1002, "buf-b64": b64("CD") }),
        ),
        (
            "guest-file-seek",
            json!({ "handle": 1002, "offset": 0, "whence": "cur" }),
        ),
        ("guest-file-read", json!({ "handle": 1002, "count": 3 })),
        ("guest-file-close", json!({ "handle": 1002 })),
        ("guest-file-open", json!({ "path": ten, "mode": "r+" })),
        ("guest-file-read", json!({ "handle": 1003, "count": 3 })),
        (
            "guest-file-write",
            json!({ "handle": 1003, "buf-b64": b64("zz") }),
        ),
        ("guest-file-read", json!({ "handle": 1003, "count": 100 })),
        ("guest-file-close", json!({ "handle": 1003 })),
        ("guest-file-open", json!({ "path": ten, "mode": "ab" })),
        ("guest-file-read", json!({ "handle": 1004 })),
        ("guest-file-close", json!({ "handle": 1004 })),
    ]
}

fn fresh_dir(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    std::fs::write(dir.join("ten"), b"0123456789").unwrap();
    std::os::unix::fs::symlink(dir.join("target"), dir.join("dangling")).unwrap();
}

#[test]
fn file_commands_answer_as_qemu_ga() {
    let Some(mut qemu) = Reference::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = file_script(dir.path());

    fresh_dir(dir.path());
    let theirs: Vec<Value> = script
        .iter()
        .map(|(n, a)| qemu.call(n, a.clone()))
        .collect();
    let their_content = std::fs::read(dir.path().join("ten")).unwrap();

    fresh_dir(dir.path());
    let (mut t, mut c) = (FileTable::new(), Counter::default());
    let ours: Vec<Value> = script
        .iter()
        .map(|(n, a)| our_file_call(&mut t, &mut c, n, a))
        .collect();
    assert_eq!(
        std::fs::read(dir.path().join("ten")).unwrap(),
        their_content
    );

    assert_eq!(
        theirs[0],
        json!({ "return": 1000 }),
        "the reference answered"
    );
    for (((name, args), ours), theirs) in script.iter().zip(&ours).zip(&theirs) {
        assert_eq!(ours, theirs, "{name} {args}");
    }
}

/// Run one guest-exec on an agent and poll its status until it has ended.
fn exec_and_wait(mut call: impl FnMut(&str, Value) -> Value, args: &Value) -> Value {
    let started = call("guest-exec", args.clone());
    let Some(pid) = started["return"]["pid"].as_i64() else {
        return started;
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = call("guest-exec-status", json!({ "pid": pid }));
        if status["return"]["exited"] != json!(false) {
            let again = call("guest-exec-status", json!({ "pid": pid }));
            return json!({ "status": status, "again": again });
        }
        assert!(Instant::now() < deadline, "{args} did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn exec_commands_answer_as_qemu_ga() {
    let Some(mut qemu) = Reference::start() else {
        return;
    };
    let b64 = |s: &[u8]| {
        serde_json::to_value(GuestExecArguments {
            path: String::new(),
            arg: None,
            env: None,
            input_data: Some(s.to_vec()),
            capture_output: None,
        })
        .unwrap()["input-data"]
            .clone()
    };
    let cases = vec![
        json!({ "path": "echo", "arg": ["hi"], "capture-output": true }),
        json!({ "path": "cat", "input-data": b64(b"abc"), "capture-output": true }),
        json!({ "path": "sh", "arg": ["-c", "exit 3"], "capture-output": true }),
        json!({ "path": "sh", "arg": ["-c", "exit 3"] }),
        json!({ "path": "sh", "arg": ["-c", "kill -9 $$"], "capture-output": true }),
        json!({ "path": "sh", "arg": ["-c", "echo err >&2"], "capture-output": true }),
        json!({ "path": "sh", "arg": ["-c", "echo $0 \"$@\"", "a", "b"], "capture-output": true }),
        json!({ "path": "env", "env": ["B=2", "A=1"], "capture-output": true }),
        json!({ "path": "env", "env": [], "capture-output": true }),
        json!({ "path": "env", "env": ["PATH=/nonexistent"], "capture-output": true }),
        json!({ "path": "readlink", "arg": ["/proc/self/fd/0"], "capture-output": true }),
        json!({ "path": "ls", "arg": ["/proc/self/fd"], "capture-output": true }),
        json!({ "path": "head", "arg": ["-c", "17000000", "/dev/zero"], "capture-output": true }),
        json!({ "path": "sh", "arg": ["-c", "(sleep 0.2; echo late) & echo started"], "capture-output": true }),
        json!({ "path": "nope" }),
        json!({ "path": "/nonexistent/x" }),
        json!({ "path": "" }),
        json!({ "path": "/etc/passwd" }),
    ];
    let mut table = ExecTable::new();
    for case in &cases {
        let theirs = exec_and_wait(|n, a| qemu.call(n, a), case);
        let ours = exec_and_wait(
            |n, a| match n {
                "guest-exec" => response(table.exec(serde_json::from_value(a).unwrap())),
                _ => response(table.status(a["pid"].as_i64().unwrap())),
            },
            case,
        );
        assert_eq!(ours, theirs, "{case}");
    }
    assert_eq!(
        exec_and_wait(|n, a| qemu.call(n, a), &cases[0])["status"]["return"]["out-data"],
        json!("aGkK"),
        "the reference answered"
    );
    assert_eq!(
        response(table.status(999999)),
        qemu.call("guest-exec-status", json!({ "pid": 999999 }))
    );
}
