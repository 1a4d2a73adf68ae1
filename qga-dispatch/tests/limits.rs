//! Hostile sizes: one error per message, memory bounded, the stream usable after.

mod common;

use common::{error_of, responses, session, session_with};
use qga_dispatch::Limits;
use serde_json::json;

const PING: &[u8] = b"{\"execute\":\"guest-ping\",\"id\":\"after\"}";

/// Feeds `parts` one by one; returns the responses and the most bytes ever held
/// after the first error.
fn feed_parts(parts: impl IntoIterator<Item = Vec<u8>>) -> (Vec<serde_json::Value>, usize) {
    let (mut session, mut agent) = session();
    let mut out = Vec::new();
    let mut held_after_error = 0;
    for part in parts {
        session.feed(&part, &mut out, &mut agent);
        if !out.is_empty() {
            held_after_error = held_after_error.max(session.buffered_len());
        }
    }
    session.feed(PING, &mut out, &mut agent);
    (responses(&out), held_after_error)
}

fn assert_one_error_then_ping(all: &[serde_json::Value], desc: &str) {
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(
        error_of(&all[0]),
        Some(("GenericError".into(), desc.into()))
    );
    assert_eq!(all[1], json!({"return": {}, "id": "after"}));
}

#[test]
fn a_100_mib_string_gives_one_error_and_holds_nothing_after_it() {
    const CHUNK: usize = 1 << 20;
    let head =
        b"{\"execute\":\"guest-file-write\",\"arguments\":{\"handle\":1000,\"buf-b64\":\"".to_vec();
    let body = (0..100).map(|_| vec![b'A'; CHUNK]);
    let tail = b"\"}}".to_vec();
    let (all, held) = feed_parts(
        std::iter::once(head)
            .chain(body)
            .chain(std::iter::once(tail)),
    );
    assert_one_error_then_ping(&all, "JSON token size limit exceeded");
    assert_eq!(held, 0);
}

#[test]
fn a_3_mi_token_array_gives_exactly_one_error_line() {
    const ELEMENTS: usize = 3 << 20;
    let head = b"{\"execute\":\"guest-kinds\",\"arguments\":{\"any\":[1".to_vec();
    let body = (0..ELEMENTS / 4096).map(|_| b",1".repeat(4096));
    let tail = b"]}}".to_vec();
    let (all, held) = feed_parts(
        std::iter::once(head)
            .chain(body)
            .chain(std::iter::once(tail)),
    );
    assert_one_error_then_ping(&all, "JSON token count limit exceeded");
    assert_eq!(held, 0);
}

#[test]
fn nesting_10000_deep_gives_one_error() {
    let deep = [
        b"{\"execute\":\"guest-kinds\",\"arguments\":{\"any\":".to_vec(),
        b"[".repeat(10_000),
        b"]".repeat(10_000),
        b"}}".to_vec(),
    ];
    let (all, held) = feed_parts(deep);
    assert_one_error_then_ping(&all, "JSON nesting depth limit exceeded");
    assert_eq!(held, 0);
    // Never closed: swallowed until 0xFF.
    let (all, _) = feed_parts([b"[".repeat(10_000), PING.to_vec(), b"\xff".to_vec()]);
    assert_one_error_then_ping(&all, "JSON nesting depth limit exceeded");
}

#[test]
fn nesting_counts_the_request_object() {
    // The request object and `arguments` make 2 levels; 1022 arrays make 1024.
    let request = |arrays: usize| {
        [
            b"{\"execute\":\"guest-kinds\",\"arguments\":{\"any\":".to_vec(),
            b"[".repeat(arrays),
            b"]".repeat(arrays),
            b"}}".to_vec(),
        ]
        .concat()
    };
    let (mut session, mut agent) = session();
    let mut out = Vec::new();
    session.feed(&request(1022), &mut out, &mut agent);
    // Too deep for serde_json's own reader: look at the text.
    let expected = [
        b"{\"return\": {\"any\": ".to_vec(),
        b"[".repeat(1022),
        b"]".repeat(1022),
        b"}}\n".to_vec(),
    ]
    .concat();
    assert_eq!(out, expected);
    let (all, _) = feed_parts([request(1023)]);
    assert_one_error_then_ping(&all, "JSON nesting depth limit exceeded");
}

#[test]
fn custom_limits() {
    let (mut session, mut agent) = session_with(Limits {
        token_size: 64,
        token_count: 12,
        nesting: 2,
    });
    let mut out = Vec::new();
    session.feed(b"{\"execute\":\"guest-ping\"}", &mut out, &mut agent);
    session.feed(
        b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1}}",
        &mut out,
        &mut agent,
    );
    session.feed(
        b"{\"id\":[[1]],\"execute\":\"guest-ping\"}",
        &mut out,
        &mut agent,
    );
    session.feed(
        format!("{{\"execute\":\"{}\"}}", "x".repeat(64)).as_bytes(),
        &mut out,
        &mut agent,
    );
    let all = responses(&out);
    assert_eq!(all[0], json!({"return": {}}));
    assert_eq!(
        error_of(&all[1]).unwrap().1,
        "JSON token count limit exceeded"
    );
    assert_eq!(
        error_of(&all[2]).unwrap().1,
        "JSON nesting depth limit exceeded"
    );
    assert_eq!(
        error_of(&all[3]).unwrap().1,
        "JSON token size limit exceeded"
    );
    assert_eq!(all.len(), 4);
}

#[test]
fn a_large_write_in_small_reads() {
    let payload = vec![0x5A_u8; 6 << 20];
    let request = format!(
        "{{\"execute\":\"guest-file-write\",\"arguments\":{{\"handle\":1000,\"buf-b64\":\"{}\"}}}}",
        qga_types::base64::encode(&payload)
    );
    let (mut session, mut agent) = session();
    let mut out = Vec::new();
    for chunk in request.as_bytes().chunks(65536) {
        session.feed(chunk, &mut out, &mut agent);
    }
    assert_eq!(
        responses(&out),
        [json!({"return": {"count": 6 << 20, "eof": false}})]
    );
    assert_eq!(agent.written, 6 << 20);
    assert_eq!(session.buffered_len(), 0);
}
