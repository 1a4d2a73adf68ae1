//! Argument parsing: QEMU's texts for every kind of member, full member names for
//! nested ones, and the unsigned integers QEMU lets through but we do not.

mod common;

use common::{argument_error, returns};
use serde_json::json;

fn kinds_error(arguments: serde_json::Value) -> String {
    argument_error("guest-kinds", arguments)
}

#[test]
fn every_kind_accepts_its_own_values() {
    let all = json!({
        "u8": 255, "u16": 65535, "u32": 4294967295_u64, "u64": u64::MAX,
        "i8": -128, "i16": -32768, "i32": -2147483648_i64, "i64": i64::MIN,
        "number": 1.5, "flag": false, "text": "", "any": {"x": [null, 1.5, "s"]}, "nothing": null,
        "list": [0, 1, 4294967295_u64], "seek": "end", "bytes": "aGVsbG8="
    });
    assert_eq!(returns("guest-kinds", all.clone()), all);
    assert_eq!(returns("guest-kinds", json!({})), json!({}));
    assert_eq!(
        returns("guest-kinds", json!({"number": 2.5e300})),
        json!({"number": 2.5e300})
    );
    assert_eq!(
        returns("guest-kinds", json!({"any": null})),
        json!({"any": null})
    );
}

#[test]
fn wrong_kinds() {
    for (member, wrong, expected) in [
        ("i64", json!("1"), "integer"),
        ("i64", json!(1.5), "integer"),
        ("i64", json!(1.0), "integer"),
        ("i64", json!(9223372036854775808_u64), "integer"),
        ("i32", json!(true), "integer"),
        ("text", json!(1), "string"),
        ("text", json!(["a"]), "string"),
        ("flag", json!(0), "boolean"),
        ("flag", json!("true"), "boolean"),
        ("number", json!("1.5"), "number"),
        ("number", json!(null), "number"),
        ("list", json!({}), "array"),
        ("list", json!("1,2"), "array"),
        ("seek", json!(0), "string"),
        ("nothing", json!(0), "null"),
        ("text", json!(null), "string"),
    ] {
        assert_eq!(
            kinds_error(json!({ member: wrong })),
            format!("Invalid parameter type for '{member}', expected: {expected}"),
            "{member} = {wrong}"
        );
    }
}

#[test]
fn unsigned_integers_refuse_negatives_floats_and_overflow() {
    for (member, bad, expected) in [
        ("u64", json!(-1), "uint64"),
        ("u64", json!(1.5), "uint64"),
        ("u64", json!(1.0), "uint64"),
        ("u64", json!(1.1805916207174113e21), "uint64"),
        ("u64", json!("1"), "uint64"),
        ("u64", json!(null), "uint64"),
        ("u32", json!(-1), "uint32_t"),
        ("u32", json!(4294967296_u64), "uint32_t"),
        ("u32", json!(1.5), "uint64"),
        ("u16", json!(65536), "uint16_t"),
        ("u8", json!(256), "uint8_t"),
        ("u8", json!(-1), "uint8_t"),
    ] {
        assert_eq!(
            kinds_error(json!({ member: bad })),
            format!("Parameter '{member}' expects {expected}"),
            "{member} = {bad}"
        );
    }
    // 2^70 as written on the wire: a float after parsing, refused.
    let request = br#"{"execute":"guest-kinds","arguments":{"u64":1180591620717411303424}}"#;
    assert_eq!(common::one_error(request), "Parameter 'u64' expects uint64");
    assert_eq!(
        kinds_error(json!({"list": [1, -1]})),
        "Parameter 'list[1]' expects uint32_t"
    );
}

#[test]
fn signed_integers_out_of_range() {
    assert_eq!(
        kinds_error(json!({"i8": 128})),
        "Parameter 'i8' expects int8_t"
    );
    assert_eq!(
        kinds_error(json!({"i16": -32769})),
        "Parameter 'i16' expects int16_t"
    );
    assert_eq!(
        kinds_error(json!({"i32": 2147483648_u64})),
        "Parameter 'i32' expects int32_t"
    );
    assert_eq!(
        kinds_error(json!({"i32": 1e10})),
        "Invalid parameter type for 'i32', expected: integer"
    );
}

#[test]
fn missing_and_unexpected() {
    assert_eq!(
        argument_error("guest-exec", json!({})),
        "Parameter 'path' is missing"
    );
    assert_eq!(
        argument_error("guest-exec", json!({"path": "/bin/true", "foo": 1})),
        "Parameter 'foo' is unexpected"
    );
    assert_eq!(
        argument_error("guest-ping", json!({"foo": 1})),
        "Parameter 'foo' is unexpected"
    );
    assert_eq!(
        argument_error("guest-info", json!({"x": null})),
        "Parameter 'x' is unexpected"
    );
    // A bad known member is found before an unexpected one, whatever their order.
    assert_eq!(
        argument_error("guest-exec", json!({"aaa": 1, "path": 5})),
        "Invalid parameter type for 'path', expected: string"
    );
    assert_eq!(
        argument_error("guest-exec", json!({"path": "/bin/true", "arg": ["a", 1]})),
        "Invalid parameter type for 'arg[1]', expected: string"
    );
}

#[test]
fn nested_members_are_named_in_full() {
    let vcpus =
        |list: serde_json::Value| argument_error("guest-set-vcpus", json!({ "vcpus": list }));
    assert_eq!(
        vcpus(json!([{"logical-id": 0, "online": true}, {"logical-id": 1}])),
        "Parameter 'vcpus[1].online' is missing"
    );
    assert_eq!(
        vcpus(json!([{"logical-id": 0, "online": 1}])),
        "Invalid parameter type for 'vcpus[0].online', expected: boolean"
    );
    assert_eq!(
        vcpus(json!([{"logical-id": 0, "online": true, "x": 1}])),
        "Parameter 'vcpus[0].x' is unexpected"
    );
    assert_eq!(
        vcpus(json!([{"logical-id": 0, "online": true, "can-offline": null}])),
        "Invalid parameter type for 'vcpus[0].can-offline', expected: boolean"
    );
    assert_eq!(
        returns(
            "guest-set-vcpus",
            json!({"vcpus": [{"logical-id": 0, "online": true}, {"logical-id": 1, "online": false, "can-offline": true}]})
        ),
        json!(2)
    );
    assert_eq!(returns("guest-set-vcpus", json!({"vcpus": []})), json!(0));
}

#[test]
fn optional_members_may_be_absent_but_not_null() {
    assert_eq!(
        returns("guest-file-read", json!({"handle": 1000}))["count"],
        json!(5)
    );
    assert_eq!(
        argument_error("guest-file-read", json!({"handle": 1000, "count": null})),
        "Invalid parameter type for 'count', expected: integer"
    );
}

#[test]
fn alternates_pick_by_kind() {
    let seek = |whence: serde_json::Value| json!({"handle": 1000, "offset": 3, "whence": whence});
    assert_eq!(
        returns("guest-file-seek", seek(json!(1))),
        json!({"position": 13, "eof": false})
    );
    assert_eq!(
        returns("guest-file-seek", seek(json!("end"))),
        json!({"position": 103, "eof": false})
    );
    assert_eq!(
        argument_error("guest-file-seek", seek(json!("END"))),
        "Parameter 'whence' does not accept value 'END'"
    );
    assert_eq!(
        argument_error("guest-file-seek", seek(json!(true))),
        "Invalid parameter type for 'whence', expected: GuestFileWhence"
    );
    assert_eq!(
        argument_error("guest-file-seek", seek(json!(1.5))),
        "Invalid parameter type for 'whence', expected: GuestFileWhence"
    );
    assert_eq!(
        argument_error("guest-file-seek", seek(json!(null))),
        "Invalid parameter type for 'whence', expected: GuestFileWhence"
    );
}

#[test]
fn base64_members() {
    assert_eq!(
        returns("guest-kinds", json!({"bytes": "aGVsbG8"})),
        json!({"bytes": "aGVsbG8="})
    );
    assert_eq!(
        kinds_error(json!({"bytes": "a b"})),
        "Base64 data contains invalid characters"
    );
    assert_eq!(
        kinds_error(json!({"bytes": 5})),
        "Invalid parameter type for 'bytes', expected: string"
    );
}
