//! The wire contract of PROTOCOL.md that belongs to this crate: framing, responses,
//! `id`, guest-sync-delimited, success-response, and every row of the error table
//! that is not a command's own.

mod common;

use common::handler::{FakeAgent, COMMANDS};
use common::{error_of, one_error, responses, run, session};
use qga_dispatch::Session;
use serde_json::json;

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn several_objects_on_one_line_one_over_many_lines_no_trailing_newline() {
    let out = run(b"{\"execute\":\"guest-ping\"}{\"execute\":\"guest-ping\"} {\n\"execute\"\n:\n\"guest-sync\",\n\"arguments\": {\"id\": 5}\n}");
    assert_eq!(
        text(&out),
        "{\"return\": {}}\n{\"return\": {}}\n{\"return\": 5}\n"
    );
}

#[test]
fn whitespace_and_empty_lines_get_no_response() {
    assert_eq!(run(b"\n\n  \t\r\n"), b"");
    assert_eq!(
        text(&run(b"\n\n{\"execute\":\"guest-ping\"}\n\n")),
        "{\"return\": {}}\n"
    );
}

#[test]
fn ff_resets_silently() {
    assert_eq!(
        text(&run(
            b"{\"execute\":\"guest-pi\xff{\"execute\":\"guest-ping\"}"
        )),
        "{\"return\": {}}\n"
    );
    assert_eq!(run(b"\xff\xff\xff"), b"");
    assert_eq!(
        run(b"{\"execute\": \"guest-sync\", \"arguments\": {\"id\": 1\xff"),
        b""
    );
}

#[test]
fn guest_sync_delimited_is_prefixed_with_ff() {
    let out = run(b"\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":12345}}");
    assert_eq!(out, b"\xff{\"return\": 12345}\n");
    // Not on failure: no prefix.
    let out = run(b"{\"execute\":\"guest-sync-delimited\"}");
    assert_eq!(
        text(&out),
        "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Parameter 'id' is missing\"}}\n"
    );
    // Not for guest-sync.
    assert_eq!(
        text(&run(
            b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1}}"
        )),
        "{\"return\": 1}\n"
    );
}

#[test]
fn success_response_false_writes_nothing_on_success_and_the_error_on_failure() {
    let (mut session, mut agent) = session();
    let mut out = Vec::new();
    session.feed(
        b"{\"execute\":\"guest-shutdown\",\"id\":1}",
        &mut out,
        &mut agent,
    );
    assert_eq!(out, b"");
    assert_eq!(agent.calls, ["guest-shutdown"]);
    agent.shutdown_fails = true;
    session.feed(
        b"{\"execute\":\"guest-shutdown\",\"arguments\":{\"mode\":\"halt\"},\"id\":2}",
        &mut out,
        &mut agent,
    );
    assert_eq!(
        text(&out),
        "{\"error\": {\"class\": \"GenericError\", \"desc\": \"cannot shut down (mode Some(\\\"halt\\\"))\"}, \"id\": 2}\n"
    );
    // Argument errors are written too.
    out.clear();
    session.feed(
        b"{\"execute\":\"guest-shutdown\",\"arguments\":{\"mode\":1}}",
        &mut out,
        &mut agent,
    );
    assert_eq!(
        one(&out),
        (
            "GenericError".into(),
            "Invalid parameter type for 'mode', expected: string".into()
        )
    );
}

fn one(out: &[u8]) -> (String, String) {
    let all = responses(out);
    assert_eq!(all.len(), 1, "{all:?}");
    error_of(&all[0]).expect("an error")
}

#[test]
fn id_is_echoed_on_success_and_on_every_kind_of_error() {
    for id in [
        json!(1),
        json!("x"),
        json!(null),
        json!([1, {"a": true}]),
        json!({"n": 1.5}),
        json!(-7),
        json!(u64::MAX),
    ] {
        let cases = [
            (json!({"execute": "guest-ping", "id": id}), None),
            (
                json!({"execute": "guest-nope", "id": id}),
                Some("The command guest-nope has not been found"),
            ),
            (
                json!({"execute": 1, "id": id}),
                Some("QMP input member 'execute' must be a string"),
            ),
            (json!({"id": id}), Some("QMP input lacks member 'execute'")),
            (
                json!({"execute": "guest-ping", "arguments": 1, "id": id}),
                Some("QMP input member 'arguments' must be an object"),
            ),
            (
                json!({"execute": "guest-ping", "foo": 1, "id": id}),
                Some("QMP input member 'foo' is unexpected"),
            ),
            (
                json!({"execute": "guest-ping", "arguments": {"a": 1}, "id": id}),
                Some("Parameter 'a' is unexpected"),
            ),
        ];
        for (request, error) in cases {
            let out = responses(&run(request.to_string().as_bytes()));
            assert_eq!(out.len(), 1);
            assert_eq!(out[0]["id"], id, "{request}");
            assert_eq!(
                error_of(&out[0]).map(|e| e.1),
                error.map(str::to_owned),
                "{request}"
            );
        }
    }
    // No id member, no id in the response; single-quoted input is fine.
    assert_eq!(
        text(&run(b"{'execute': 'guest-ping'}")),
        "{\"return\": {}}\n"
    );
}

#[test]
fn no_id_on_json_errors() {
    let out = responses(&run(b"{\"execute\": \"guest-ping\", \"id\": 1, }"));
    assert_eq!(
        out,
        [json!({"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}})]
    );
}

#[test]
fn error_table_rows_of_the_protocol_layer() {
    let rows: &[(&[u8], &str, &str)] = &[
        (b"{\"execute\":\"guest-foo\"}", "CommandNotFound", "The command guest-foo has not been found"),
        (b"{\"execute\":\"guest-file-read\"}", "GenericError", "Parameter 'handle' is missing"),
        (b"{\"execute\":\"guest-file-read\",\"arguments\":{\"handle\":\"1000\"}}", "GenericError", "Invalid parameter type for 'handle', expected: integer"),
        (b"{\"execute\":\"guest-kinds\",\"arguments\":{\"text\":1}}", "GenericError", "Invalid parameter type for 'text', expected: string"),
        (b"{\"execute\":\"guest-kinds\",\"arguments\":{\"flag\":\"yes\"}}", "GenericError", "Invalid parameter type for 'flag', expected: boolean"),
        (b"{\"execute\":\"guest-kinds\",\"arguments\":{\"number\":\"1\"}}", "GenericError", "Invalid parameter type for 'number', expected: number"),
        (b"{\"execute\":\"guest-set-vcpus\",\"arguments\":{\"vcpus\":{}}}", "GenericError", "Invalid parameter type for 'vcpus', expected: array"),
        (b"{\"execute\":\"guest-set-vcpus\",\"arguments\":{\"vcpus\":[1]}}", "GenericError", "Invalid parameter type for 'vcpus[0]', expected: object"),
        (b"{\"execute\":\"guest-file-read\",\"arguments\":{\"handle\":1000,\"foo\":1}}", "GenericError", "Parameter 'foo' is unexpected"),
        (b"{\"execute\":\"guest-kinds\",\"arguments\":{\"seek\":\"foo\"}}", "GenericError", "Parameter 'seek' does not accept value 'foo'"),
        (b"{\"execute\":\"guest-file-seek\",\"arguments\":{\"handle\":1000,\"offset\":0,\"whence\":\"foo\"}}", "GenericError", "Parameter 'whence' does not accept value 'foo'"),
        (b"{\"execute\":\"guest-ping\",\"arguments\":[]}", "GenericError", "QMP input member 'arguments' must be an object"),
        (b"{\"arguments\":{}}", "GenericError", "QMP input lacks member 'execute'"),
        (b"{\"execute\":[\"guest-ping\"]}", "GenericError", "QMP input member 'execute' must be a string"),
        (b"{\"execute\":\"guest-ping\",\"foo\":1}", "GenericError", "QMP input member 'foo' is unexpected"),
        (b"{\"exec-oob\":\"guest-ping\"}", "GenericError", "QMP input member 'exec-oob' is unexpected"),
        (b"[\"guest-ping\"]", "GenericError", "QMP input must be a JSON object"),
        (b"\"guest-ping\" ", "GenericError", "QMP input must be a JSON object"),
        (b"{\"execute\":}", "GenericError", "JSON parse error, expecting value"),
        (b"{\"execute\":bad}", "GenericError", "JSON parse error, invalid keyword 'bad'"),
        (b"{\"execute\":\"guest-\xc3\x28\"}", "GenericError", "JSON parse error, invalid UTF-8 sequence in string"),
        (b"{\"execute\":\"guest-ping\",\"execute\":\"guest-ping\"}", "GenericError", "JSON parse error, duplicate key"),
        (b"{\"execute\":\"guest-kinds\",\"arguments\":{\"bytes\":\"a*b=\"}}", "GenericError", "Base64 data contains invalid characters"),
    ];
    for (input, class, desc) in rows {
        assert_eq!(
            one(&run(input)),
            (class.to_string(), desc.to_string()),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn block_and_allow_lists() {
    let mut session = Session::new(COMMANDS);
    let mut agent = FakeAgent::default();
    agent.policy.block(["guest-ping"]);
    let mut out = Vec::new();
    session.feed(
        b"{\"execute\":\"guest-ping\",\"id\":3}",
        &mut out,
        &mut agent,
    );
    assert_eq!(
        text(&out),
        "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"Command guest-ping has been disabled\"}, \"id\": 3}\n"
    );
    assert!(agent.calls.is_empty());
    // An unknown command is unknown before it is disabled.
    agent.policy.block(["guest-foo"]);
    out.clear();
    session.feed(b"{\"execute\":\"guest-foo\"}", &mut out, &mut agent);
    assert_eq!(one(&out).1, "The command guest-foo has not been found");
    // The policy is checked before the arguments.
    out.clear();
    session.feed(
        b"{\"execute\":\"guest-ping\",\"arguments\":{\"bad\":1}}",
        &mut out,
        &mut agent,
    );
    assert_eq!(one(&out).1, "Command guest-ping has been disabled");

    let mut agent = FakeAgent::default();
    agent.policy.allow(["guest-sync"]);
    out.clear();
    session.feed(
        b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1}}{\"execute\":\"guest-info\"}",
        &mut out,
        &mut agent,
    );
    let all = responses(&out);
    assert_eq!(all[0], json!({"return": 1}));
    assert_eq!(
        error_of(&all[1]),
        Some((
            "CommandNotFound".into(),
            "Command guest-info has been disabled".into()
        ))
    );
}

#[test]
fn frozen_state_applies_from_the_next_request_in_the_same_read() {
    let (mut session, mut agent) = session();
    let mut out = Vec::new();
    session.feed(
        b"{\"execute\":\"guest-fsfreeze-freeze\"}{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/true\"}}\
          {\"execute\":\"guest-ping\"}{\"execute\":\"guest-info\"}{\"execute\":\"guest-fsfreeze-thaw\"}\
          {\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/true\"}}",
        &mut out,
        &mut agent,
    );
    let all = responses(&out);
    assert_eq!(all.len(), 6);
    assert_eq!(all[0], json!({"return": 1}));
    assert_eq!(
        error_of(&all[1]),
        Some((
            "CommandNotFound".into(),
            "Command guest-exec has been disabled: the agent is in frozen state".into()
        ))
    );
    assert_eq!(all[2], json!({"return": {}}));
    let info = &all[3]["return"]["supported_commands"];
    let enabled = |name: &str| {
        info.as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["enabled"]
            .clone()
    };
    assert_eq!(enabled("guest-exec"), json!(false));
    assert_eq!(enabled("guest-fsfreeze-thaw"), json!(true));
    assert_eq!(
        info.as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "guest-shutdown")
            .unwrap()["success-response"],
        json!(false)
    );
    assert_eq!(all[4], json!({"return": 1}));
    assert_eq!(all[5], json!({"return": {"pid": 4242}}));
    assert_eq!(
        agent
            .calls
            .iter()
            .filter(|c| c.starts_with("guest-exec"))
            .count(),
        1
    );
}

#[test]
fn commands_own_errors_pass_through() {
    assert_eq!(
        one_error(b"{\"execute\":\"guest-file-read\",\"arguments\":{\"handle\":999999}}"),
        "handle '999999' has not been found"
    );
    assert_eq!(
        one_error(
            b"{\"execute\":\"guest-file-read\",\"arguments\":{\"handle\":1000,\"count\":50331649}}"
        ),
        "value '50331649' is invalid for argument count"
    );
    assert_eq!(
        one_error(b"{\"execute\":\"guest-file-seek\",\"arguments\":{\"handle\":1000,\"offset\":0,\"whence\":5}}"),
        "invalid whence code 5"
    );
}

#[test]
fn a_reconnect_can_reset_a_half_sent_request() {
    let (mut session, mut agent) = session();
    let mut out = Vec::new();
    session.feed(b"{\"execute\": \"guest-sy", &mut out, &mut agent);
    assert!(session.is_pending());
    session.reset();
    session.feed(b"{\"execute\":\"guest-ping\"}", &mut out, &mut agent);
    assert_eq!(text(&out), "{\"return\": {}}\n");
}

#[test]
fn replies_are_spliced_with_qemu_spacing() {
    let out =
        run(b"{\"execute\":\"guest-file-read\",\"arguments\":{\"handle\":1000},\"id\":\"r1\"}");
    assert_eq!(
        text(&out),
        "{\"return\": {\"count\": 5, \"buf-b64\": \"aGVsbG8=\", \"eof\": true}, \"id\": \"r1\"}\n"
    );
}
