//! Malformed input, one message at a time: each gets exactly the error lines expected,
//! and the request after it is answered normally.

mod common;

use common::{error_of, responses, session};
use serde_json::json;

/// Feeds `input`, then a ping; checks the errors and that the ping is answered.
fn check(input: &[u8], errors: &[&str]) {
    let (mut session, mut agent) = session();
    let mut out = Vec::new();
    session.feed(input, &mut out, &mut agent);
    session.feed(
        b"\n{\"execute\":\"guest-ping\",\"id\":\"after\"}",
        &mut out,
        &mut agent,
    );
    let all = responses(&out);
    let shown = String::from_utf8_lossy(input);
    assert_eq!(all.len(), errors.len() + 1, "{shown:?} gave {all:?}");
    for (response, expected) in all.iter().zip(errors) {
        let (class, desc) =
            error_of(response).unwrap_or_else(|| panic!("{shown:?}: {response} is no error"));
        assert_eq!(class, "GenericError", "{shown:?}");
        assert_eq!(&desc, expected, "{shown:?}");
    }
    assert_eq!(
        all.last(),
        Some(&json!({"return": {}, "id": "after"})),
        "{shown:?}"
    );
}

#[test]
fn stray_closers_and_separators() {
    check(b"}", &["JSON parse error, expecting value"]);
    check(b"]", &["JSON parse error, expecting value"]);
    check(b",", &["JSON parse error, expecting value"]);
    check(b":", &["JSON parse error, expecting value"]);
}

#[test]
fn an_extra_closer_after_a_good_request() {
    let (mut session, mut agent) = session();
    let mut out = Vec::new();
    session.feed(b"{\"execute\":\"guest-ping\"}}", &mut out, &mut agent);
    let all = responses(&out);
    assert_eq!(all[0], json!({"return": {}}));
    assert_eq!(
        error_of(&all[1]).unwrap().1,
        "JSON parse error, expecting value"
    );
    assert_eq!(all.len(), 2);
}

#[test]
fn syntax_errors() {
    check(b"{\"execute\":}", &["JSON parse error, expecting value"]);
    check(
        b"{\"execute\" \"guest-ping\"}",
        &["JSON parse error, missing : in object pair"],
    );
    check(
        b"{\"execute\":\"guest-ping\" \"id\":1}",
        &["JSON parse error, expected separator in dict"],
    );
    check(
        b"{\"execute\":\"guest-ping\",}",
        &["JSON parse error, expecting value"],
    );
    check(b"[1 2]", &["JSON parse error, expected separator in list"]);
    check(b"[1,]", &["JSON parse error, expecting value"]);
    check(
        b"{1:2}",
        &["JSON parse error, key is not a string in object"],
    );
    check(
        b"{null:2}",
        &["JSON parse error, key is not a string in object"],
    );
    check(b"{\"a\":1,\"a\":1}", &["JSON parse error, duplicate key"]);
    check(
        b"{\"execute\":\"guest-ping\",\"execute\":\"guest-ping\"}",
        &["JSON parse error, duplicate key"],
    );
    check(
        b"{\"execute\":\"guest-ping\",\"arguments\":{\"a\":{},\"a\":{}}}",
        &["JSON parse error, duplicate key"],
    );
}

#[test]
fn bad_words() {
    check(b"tru", &["JSON parse error, invalid keyword 'tru'"]);
    check(b"nul", &["JSON parse error, invalid keyword 'nul'"]);
    check(b"True", &["JSON parse error, stray 'T'"]);
    check(
        b"garbage in",
        &[
            "JSON parse error, invalid keyword 'garbage'",
            "JSON parse error, invalid keyword 'in'",
        ],
    );
    check(b"@", &["JSON parse error, stray '@'"]);
    check(b"{\"execute\": @}", &["JSON parse error, stray '@'"]);
    check(b"{\"execute\": %s}", &["JSON parse error, stray '%'"]);
    check(b"\x00", &["JSON parse error, stray '\0'"]);
    check(
        b"\x00\x00\x00{\"id\":1}",
        &[
            "JSON parse error, stray '\0'",
            "QMP input lacks member 'execute'",
        ],
    );
    check("é".as_bytes(), &["JSON parse error, stray '\u{fffd}'"]);
}

#[test]
fn bad_numbers() {
    check(b"01", &["JSON parse error, stray '01'"]);
    check(b"-", &["JSON parse error, stray '-'"]);
    check(b"1.e5", &["JSON parse error, stray '1.e'"]);
    check(b"[1e]", &["JSON parse error, stray '1e]'"]);
    check(
        b"{\"execute\":\"guest-ping\",\"id\":1e999}",
        &["JSON parse error, number out of range '1e999'"],
    );
}

#[test]
fn bad_strings() {
    check(
        b"{\"execute\":\"guest-\x00ping\"}",
        &["JSON parse error, stray '\"guest-\0'"],
    );
    check(
        b"{\"execute\":\"guest-\nping\"}",
        &["JSON parse error, stray '\"guest-\n'"],
    );
    check(
        b"{\"execute\":\"\\\x01\"}",
        &["JSON parse error, stray '\"\\\x01'"],
    );
    check(
        b"{\"execute\":\"\xfe\"}",
        &["JSON parse error, stray '\"\u{fffd}'"],
    );
    check(
        b"{\"execute\":\"\xc3\x28\"}",
        &["JSON parse error, invalid UTF-8 sequence in string"],
    );
    check(
        b"{\"execute\":\"\xed\xa0\x80\"}",
        &["JSON parse error, invalid UTF-8 sequence in string"],
    );
    check(
        b"{\"execute\":\"\x80\"}",
        &["JSON parse error, invalid UTF-8 sequence in string"],
    );
    check(
        b"{\"\xc0\xaf\":1}",
        &["JSON parse error, invalid UTF-8 sequence in string"],
    );
    check(
        b"{\"execute\":\"\xef\xbf\xbf\"}",
        &["JSON parse error, invalid UTF-8 sequence in string"],
    );
    check(
        b"{\"execute\":\"\\x\"}",
        &["JSON parse error, invalid escape sequence in string"],
    );
    check(
        b"{\"execute\":\"\\u12G4\"}",
        &["JSON parse error, \\u12G4 is not a valid Unicode character"],
    );
    check(
        b"{\"execute\":\"\\uDC00\"}",
        &["JSON parse error, \\uDC00 is not a valid Unicode character"],
    );
}

#[test]
fn not_a_request() {
    check(b"[]", &["QMP input must be a JSON object"]);
    check(b"42", &["QMP input must be a JSON object"]);
    check(b"\"guest-ping\"", &["QMP input must be a JSON object"]);
    check(b"null", &["QMP input must be a JSON object"]);
    check(b"{}", &["QMP input lacks member 'execute'"]);
    check(
        b"{\"execute\": null}",
        &["QMP input member 'execute' must be a string"],
    );
    check(
        b"{\"execute\": \"guest-ping\", \"arguments\": null}",
        &["QMP input member 'arguments' must be an object"],
    );
    check(
        b"{\"execute\":\"guest-ping\",\"exec-oob\":\"x\"}",
        &["QMP input member 'exec-oob' is unexpected"],
    );
    check(
        b"{\"execute\":\"guest-ping\",\"arguments\":{\"x\":1}}",
        &["Parameter 'x' is unexpected"],
    );
}

#[test]
fn bad_numbers_for_integers() {
    check(
        b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1.5}}",
        &["Invalid parameter type for 'id', expected: integer"],
    );
    check(
        b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1.0}}",
        &["Invalid parameter type for 'id', expected: integer"],
    );
    check(
        b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":9223372036854775808}}",
        &["Invalid parameter type for 'id', expected: integer"],
    );
    check(
        b"{\"execute\":\"guest-kinds\",\"arguments\":{\"u64\":-1}}",
        &["Parameter 'u64' expects uint64"],
    );
    check(
        b"{\"execute\":\"guest-kinds\",\"arguments\":{\"u64\":1180591620717411303424}}",
        &["Parameter 'u64' expects uint64"],
    );
    check(
        b"{\"execute\":\"guest-kinds\",\"arguments\":{\"u32\":-1}}",
        &["Parameter 'u32' expects uint32_t"],
    );
}

#[test]
fn resynchronisation_with_ff() {
    check(b"{\"execute\":\"guest-ping\"\xff", &[]);
    check(b"{\"execute\":\"guest-pi\xff", &[]);
    check(
        b"{\"execute\":\"guest-ping\",\"arguments\":{\"a\":[[[\xff",
        &[],
    );
    check(b"{\"execute\":\"guest\\\xff", &[]);
    check(b"\xff", &[]);
    check(b"{'execute':'\xff", &[]);
}

#[test]
fn a_truncated_message_swallows_what_follows_until_ff() {
    let (mut session, mut agent) = session();
    let mut out = Vec::new();
    session.feed(b"{\"execute\":\"guest-ping\"", &mut out, &mut agent);
    session.feed(b"{\"execute\":\"guest-ping\"}", &mut out, &mut agent);
    assert!(out.is_empty());
    assert!(session.is_pending());
    session.feed(b"\xff{\"execute\":\"guest-ping\"}", &mut out, &mut agent);
    assert_eq!(responses(&out), [json!({"return": {}})]);
}
