//! Support shared by the integration tests.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod handler;

use qga_dispatch::{Limits, Session};
use serde_json::Value;

use handler::{FakeAgent, COMMANDS};

/// A session over the fake commands and an agent that allows everything.
pub fn session() -> (Session, FakeAgent) {
    (Session::new(COMMANDS), FakeAgent::default())
}

/// A session with other limits.
pub fn session_with(limits: Limits) -> (Session, FakeAgent) {
    (Session::with_limits(COMMANDS, limits), FakeAgent::default())
}

/// Feeds `input` in one piece to a fresh session; returns the raw output.
pub fn run(input: &[u8]) -> Vec<u8> {
    let (mut session, mut agent) = session();
    let mut out = Vec::new();
    session.feed(input, &mut out, &mut agent);
    out
}

/// The responses in `out`, parsed (a leading 0xFF is dropped).
pub fn responses(out: &[u8]) -> Vec<Value> {
    out.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let line = line.strip_prefix(&[0xFF]).unwrap_or(line);
            serde_json::from_slice(line)
                .unwrap_or_else(|e| panic!("bad response {:?}: {e}", String::from_utf8_lossy(line)))
        })
        .collect()
}

/// `(class, desc)` of an error response, `None` for a success.
pub fn error_of(response: &Value) -> Option<(String, String)> {
    let error = response.get("error")?;
    Some((
        error["class"].as_str()?.to_owned(),
        error["desc"].as_str()?.to_owned(),
    ))
}

/// The one response to `input`, which must be an error: its desc.
pub fn one_error(input: &[u8]) -> String {
    let out = responses(&run(input));
    assert_eq!(
        out.len(),
        1,
        "{:?} gave {out:?}",
        String::from_utf8_lossy(input)
    );
    error_of(&out[0])
        .unwrap_or_else(|| panic!("{:?} succeeded: {}", String::from_utf8_lossy(input), out[0]))
        .1
}

/// The one response to a call of `command` with `arguments`, which must be an error.
pub fn argument_error(command: &str, arguments: Value) -> String {
    let request = serde_json::json!({"execute": command, "arguments": arguments});
    one_error(request.to_string().as_bytes())
}

/// The one response to a call of `command` with `arguments`, which must succeed.
pub fn returns(command: &str, arguments: Value) -> Value {
    let request = serde_json::json!({"execute": command, "arguments": arguments});
    let out = responses(&run(request.to_string().as_bytes()));
    assert_eq!(out.len(), 1, "{request} gave {out:?}");
    out[0]
        .get("return")
        .unwrap_or_else(|| panic!("{request} failed: {}", out[0]))
        .clone()
}
