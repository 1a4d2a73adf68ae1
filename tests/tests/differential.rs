//! The same requests to QEMU's agent (Debian's qemu-ga 7.2) and to ours: the same
//! error classes and texts, and answers of the same shape (keys and JSON kinds).

mod support;

use serde_json::{json, Value};
use support::{ours, qemu_ga, Agent};

/// The shape of a value: its kind, and for objects the shape of each member.
fn shape(value: &Value) -> Value {
    match value {
        Value::Null => json!("null"),
        Value::Bool(_) => json!("bool"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
        Value::Array(items) => json!([items.first().map(shape)]),
        Value::Object(members) => {
            Value::Object(members.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
    }
}

/// Our answer without what QEMU added after 7.2: `total-bytes-privileged`
/// (9.1) in guest-get-fsinfo.
fn as_qemu_7_2(request: &Value, mut answer: Value) -> Value {
    if request["execute"] == "guest-get-fsinfo" {
        if let Some(list) = answer["return"].as_array_mut() {
            for fs in list {
                fs.as_object_mut().unwrap().remove("total-bytes-privileged");
            }
        }
    }
    answer
}

#[test]
fn same_answers_as_qemu_ga() {
    let Some(qemu) = qemu_ga() else { return };
    // Nothing here changes the host; the host-changing commands are blocked on both
    // sides for good measure.
    let block = "guest-fsfreeze-freeze,guest-fsfreeze-freeze-list,guest-fstrim,guest-shutdown,guest-suspend-disk,guest-suspend-ram,guest-suspend-hybrid,guest-set-time,guest-set-user-password,guest-set-vcpus,guest-set-memory-blocks,guest-ssh-add-authorized-keys,guest-ssh-remove-authorized-keys";
    let theirs = Agent::start(&qemu, &["-b", block]);
    let ours = Agent::start(&ours("qga-agent"), &["-b", block]);
    let file = theirs.dir.path().join("data");
    std::fs::write(&file, b"0123456789").unwrap();
    let requests = vec![
        json!({"execute": "guest-ping"}),
        json!({"execute": "guest-sync", "arguments": {"id": 123}}),
        json!({"execute": "guest-ping", "id": {"x": 1}}),
        json!({"execute": "guest-nope"}),
        json!({"execute": "guest-shutdown"}),
        json!({"execute": "guest-set-time", "arguments": {"time": 0}}),
        json!({"execute": "guest-file-open"}),
        json!({"execute": "guest-file-open", "arguments": {"path": 1}}),
        json!({"execute": "guest-file-open", "arguments": {"path": "/no/such/file"}}),
        json!({"execute": "guest-file-open", "arguments": {"path": "/dev/null", "mode": "zz"}}),
        json!({"execute": "guest-file-read", "arguments": {"handle": 999999}}),
        json!({"execute": "guest-file-close", "arguments": {"handle": 1, "extra": true}}),
        json!({"execute": "guest-file-seek", "arguments": {"handle": 1, "offset": 0, "whence": "sideways"}}),
        json!({"execute": "guest-exec-status", "arguments": {"pid": 999999999}}),
        json!({"execute": "guest-exec", "arguments": {"path": "/no/such/program"}}),
        json!({"execute": "guest-ping", "arguments": [1]}),
        json!({"arguments": {}}),
        json!({"execute": 7}),
        json!({"execute": "guest-ping", "exec-oob": "x"}),
        json!(["guest-ping"]),
        json!({"execute": "guest-get-host-name"}),
        json!({"execute": "guest-get-timezone"}),
        json!({"execute": "guest-get-osinfo"}),
        json!({"execute": "guest-get-vcpus"}),
        json!({"execute": "guest-get-memory-block-info"}),
        json!({"execute": "guest-get-users"}),
        json!({"execute": "guest-fsfreeze-status"}),
        json!({"execute": "guest-get-fsinfo"}),
        json!({"execute": "guest-get-disks"}),
        json!({"execute": "guest-get-diskstats"}),
        json!({"execute": "guest-get-cpustats"}),
        json!({"execute": "guest-ssh-get-authorized-keys", "arguments": {"username": "no-such-user-qga", "x": 1}}),
        json!({"execute": "guest-ssh-add-authorized-keys", "arguments": {"username": "no-such-user-qga", "keys": ["k"]}}),
        json!({"execute": "guest-file-open", "arguments": {"path": file, "mode": "r"}}),
        json!({"execute": "guest-file-read", "arguments": {"handle": 1000, "count": 4}}),
        json!({"execute": "guest-file-read", "arguments": {"handle": 1000, "count": 100}}),
        json!({"execute": "guest-file-read", "arguments": {"handle": 1000}}),
        json!({"execute": "guest-file-seek", "arguments": {"handle": 1000, "offset": 2, "whence": 0}}),
        json!({"execute": "guest-file-seek", "arguments": {"handle": 1000, "offset": 0, "whence": 5}}),
        json!({"execute": "guest-file-read", "arguments": {"handle": 1000, "count": -1}}),
        json!({"execute": "guest-file-read", "arguments": {"handle": 1000, "count": 50331649}}),
        json!({"execute": "guest-file-close", "arguments": {"handle": 1000}}),
    ];
    let (mut q, mut o) = (theirs.connect(), ours.connect());
    for request in &requests {
        let (a, b) = (q.call(request), o.call(request));
        let b = as_qemu_7_2(request, b);
        if a.get("error").is_some() || b.get("error").is_some() {
            assert_eq!(a, b, "{request}");
        } else {
            assert_eq!(
                shape(&a),
                shape(&b),
                "{request}\n qemu-ga: {a}\n ours:    {b}"
            );
        }
    }
    // Exact equality where the answer does not depend on the agent.
    for request in [
        json!({"execute": "guest-get-host-name"}),
        json!({"execute": "guest-get-timezone"}),
        json!({"execute": "guest-get-vcpus"}),
        json!({"execute": "guest-get-disks"}),
    ] {
        assert_eq!(q.call(&request), o.call(&request), "{request}");
    }
}
