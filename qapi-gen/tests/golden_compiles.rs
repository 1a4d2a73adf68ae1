//! Every golden `tests/good/NAME.types.rs` compiles against the runtime it targets
//! (`qga_types`) under the workspace's lints, and JSON as QEMU writes it round-trips
//! through the generated types. `golden.rs` checks that no case is missing here.

// The fixtures' conditions name cargo features this test crate does not have: their
// items compile out, as they do for a consumer built without the feature.
#![allow(unexpected_cfgs)]

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// Declares a module per fixture; most of their types are only compiled, not used.
macro_rules! fixtures {
    ($($module:ident: $file:literal,)*) => {
        $(
            #[allow(dead_code)]
            mod $module {
                include!($file);
            }
        )*
    };
}

fixtures! {
    alternate_if: "good/alternate-if.types.rs",
    alternate_int_enum: "good/alternate-int-enum.types.rs",
    alternate_number_bool_null: "good/alternate-number-bool-null.types.rs",
    alternate_str_struct: "good/alternate-str-struct.types.rs",
    alternate_uint_qtype: "good/alternate-uint-qtype.types.rs",
    alternate_union_array: "good/alternate-union-array.types.rs",
    arrays: "good/arrays.types.rs",
    base64: "good/base64.types.rs",
    builtins: "good/builtins.types.rs",
    command_allow_oob: "good/command-allow-oob.types.rs",
    command_allow_preconfig: "good/command-allow-preconfig.types.rs",
    command_boxed: "good/command-boxed.types.rs",
    command_coroutine: "good/command-coroutine.types.rs",
    command_gen_false: "good/command-gen-false.types.rs",
    command_inline: "good/command-inline.types.rs",
    command_named: "good/command-named.types.rs",
    command_no_data: "good/command-no-data.types.rs",
    command_returns: "good/command-returns.types.rs",
    command_success_response: "good/command-success-response.types.rs",
    deprecated_if: "good/deprecated-if.types.rs",
    deprecated: "good/deprecated.types.rs",
    doc_control_chars: "good/doc-control-chars.types.rs",
    doc_free_form: "good/doc-free-form.types.rs",
    doc_layout: "good/doc-layout.types.rs",
    doc_markup: "good/doc-markup.types.rs",
    doc_sections: "good/doc-sections.types.rs",
    enum_basic: "good/enum-basic.types.rs",
    enum_empty: "good/enum-empty.types.rs",
    enum_names: "good/enum-names.types.rs",
    enum_prefix: "good/enum-prefix.types.rs",
    enum_value_features: "good/enum-value-features.types.rs",
    enum_value_if: "good/enum-value-if.types.rs",
    event_defs: "good/events.types.rs",
    features_everywhere: "good/features-everywhere.types.rs",
    if_all_any_not: "good/if-all-any-not.types.rs",
    if_members: "good/if-members.types.rs",
    if_string: "good/if-string.types.rs",
    include: "good/include.types.rs",
    keywords: "good/keywords.types.rs",
    lexer_details: "good/lexer-details.types.rs",
    member_names: "good/member-names.types.rs",
    name_clash_serde: "good/name-clash-serde.types.rs",
    name_clash_std: "good/name-clash-std.types.rs",
    optional: "good/optional.types.rs",
    pragma: "good/pragma.types.rs",
    qga_mini: "good/qga-mini.types.rs",
    qtype: "good/qtype.types.rs",
    rfqdn: "good/rfqdn.types.rs",
    struct_base: "good/struct-base.types.rs",
    struct_empty: "good/struct-empty.types.rs",
    struct_recursive: "good/struct-recursive.types.rs",
    union_if: "good/union-if.types.rs",
    union_inline_base: "good/union-inline-base.types.rs",
    union_named_base: "good/union-named-base.types.rs",
    union_partial_branches: "good/union-partial-branches.types.rs",
    union_branch_union: "good/union-branch-union.types.rs",
}

/// Reads `json` as a `T`, checks that it writes back the same JSON, returns it.
#[track_caller]
fn round_trip<T: Serialize + DeserializeOwned + Debug>(json: Value) -> T {
    let value: T = serde_json::from_value(json.clone())
        .unwrap_or_else(|e| panic!("{json} does not read: {e}"));
    assert_eq!(serde_json::to_value(&value).expect("writes"), json);
    value
}

/// The error of reading `json` as a `T`, which must fail.
#[track_caller]
fn refused<T: DeserializeOwned + Debug>(json: Value) -> String {
    match serde_json::from_value::<T>(json.clone()) {
        Ok(value) => panic!("{json} was read as {value:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn builtins_map_to_their_rust_types() {
    let json = json!({
        "s": "x", "n": 1.5, "i": -1, "i8": -128, "i16": 300, "i32": 70000, "i64": -5_000_000_000i64,
        "u8": 255, "u16": 65535, "u32": 4_000_000_000u32, "u64": u64::MAX, "sz": 1024, "b": true,
        "nul": null, "a": { "any": [1, "two"] }, "q": "qdict"
    });
    let b: builtins::Builtins = round_trip(json.clone());
    assert_eq!((b.i8, b.u64, b.q), (-128, u64::MAX, builtins::QType::Qdict));
    let mut too_big = json;
    too_big["u8"] = json!(256);
    assert!(refused::<builtins::Builtins>(too_big).contains("u8"));
}

#[test]
fn arrays_and_optional_members() {
    let a: arrays::Arrays = round_trip(json!({
        "ints": [1, 2], "strs": ["a"], "colours": ["red", "green"],
        "points": [{ "x": 1, "y": 2 }], "anys": [null, 1]
    }));
    assert_eq!(a.maybe_points, None);
    let o: optional::Optional = round_trip(json!({ "required": "r" }));
    assert_eq!(o.s, None);
    round_trip::<optional::Optional>(
        json!({ "required": "r", "level": "high", "inner": { "v": 1 }, "list": [] }),
    );
}

#[test]
fn base_members_come_inline() {
    let leaf: struct_base::Leaf = round_trip(json!({ "id": 1, "name": "n", "extra": true }));
    assert_eq!(
        (leaf.id, leaf.name.as_str(), leaf.extra),
        (1, "n", Some(true))
    );
    let empty: struct_empty::Holder = round_trip(json!({ "nothing": {} }));
    assert_eq!(empty.nothing, struct_empty::Nothing {});
}

#[test]
fn recursive_types_are_boxed() {
    let image: struct_recursive::Image = round_trip(
        json!({ "name": "top", "backing": { "name": "base", "backing": { "name": "root" } } }),
    );
    assert_eq!(
        image.backing.and_then(|b| b.backing).map(|b| b.name),
        Some("root".to_owned())
    );
    round_trip::<struct_recursive::Node>(
        json!({ "kind": "pair", "left": { "kind": "leaf" }, "right": { "kind": "leaf" } }),
    );
    round_trip::<struct_recursive::Chain>(json!({ "next": { "next": 3 } }));
}

#[test]
fn enums_have_wire_names_and_conversions() {
    use enum_basic::Fruit;
    assert_eq!(Fruit::ALL, &[Fruit::Apple, Fruit::Banana]);
    assert_eq!(Fruit::Banana.to_string(), "banana");
    assert_eq!("apple".parse::<Fruit>(), Ok(Fruit::Apple));
    assert_eq!(
        "cherry".parse::<Fruit>().unwrap_err().to_string(),
        "'cherry' is not a value of Fruit"
    );
    assert_eq!(round_trip::<Fruit>(json!("banana")), Fruit::Banana);
    assert!(refused::<Fruit>(json!("Banana")).contains("unknown variant"));

    use enum_names::{Arch, Dashed, Key};
    for value in Key::ALL {
        assert_eq!(round_trip::<Key>(json!(value.as_str())), *value);
    }
    assert_eq!(
        Key::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        ["1", "2", "f1", "kp-0", "a"]
    );
    assert_eq!(
        Arch::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        ["i386", "x86-64", "s390x", "v2-3"]
    );
    assert_eq!(round_trip::<Arch>(json!("x86-64")), Arch::X86_64);
    assert_eq!(round_trip::<Dashed>(json!("virtio-net")), Dashed::VirtioNet);
    assert_eq!(enum_prefix::Direction::Up.as_str(), "up");
    assert!(enum_empty::Never::ALL.is_empty());
    refused::<enum_empty::Never>(json!("anything"));
}

#[test]
fn conditional_values_compile_out() {
    use enum_value_if::Platform;
    assert_eq!(Platform::ALL, &[Platform::Any]);
    refused::<Platform>(json!("linux"));
    refused::<union_if::Storage>(json!({ "backend": "aio", "depth": 1 }));
    round_trip::<union_if::Storage>(json!({ "backend": "file", "path": "/p" }));
    round_trip::<if_members::Stats>(json!({ "total": 1 }));
    round_trip::<if_members::GetStatsArgs>(json!({ "verbose": true }));
    refused::<if_members::GetStatsArgs>(json!({ "verbose": true, "filter": "f" }));
    round_trip::<alternate_if::Target>(json!("/dev/null"));
    refused::<alternate_if::Target>(json!({ "fd": 1 }));
}

#[test]
fn unions_are_flat_on_the_wire() {
    use union_inline_base::{Circle, Shape, ShapeBranch};
    let shape: Shape = round_trip(json!({ "kind": "circle", "name": "c", "radius": 1.5 }));
    assert_eq!(
        shape,
        Shape {
            name: "c".into(),
            kind: ShapeBranch::Circle(Circle { radius: 1.5 })
        }
    );
    assert!(refused::<Shape>(json!({ "kind": "circle", "name": "c" })).contains("radius"));
    assert!(refused::<Shape>(json!({ "kind": "triangle", "name": "t" })).contains("triangle"));

    use union_named_base::{Device, DeviceBranch, PciAddress};
    let device: Device = round_trip(
        json!({ "id": "d0", "type": "pci", "bus": 1, "vendor-id": 4660, "device-id": 1 }),
    );
    assert_eq!(
        device.r#type,
        DeviceBranch::Pci(PciAddress {
            vendor_id: 4660,
            device_id: 1
        })
    );

    use union_partial_branches::{Endpoint, EndpointBranch};
    let stdio: Endpoint = round_trip(json!({ "transport": "stdio" }));
    assert_eq!(stdio.transport, EndpointBranch::Stdio);
    round_trip::<Endpoint>(json!({ "transport": "tcp", "host": "h", "port": 22 }));
    // A branch that is a union itself: its discriminator and members are flat too.
    use union_branch_union::Figure;
    round_trip::<Figure>(
        json!({ "shape": "round", "name": "r", "roundness": "circle", "radius": 1.0 }),
    );
    round_trip::<Figure>(json!({ "shape": "square", "name": "s", "side": 2.0 }));
    refused::<Figure>(json!({ "shape": "round", "name": "r", "radius": 1.0 }));

    // A branch's struct refuses members it does not have when it is an argument type.
    round_trip::<command_boxed::Choice>(json!({ "kind": "x", "x": 1 }));
    refused::<command_boxed::Choice>(json!({ "kind": "x", "x": 1, "y": 2 }));
}

#[test]
fn alternates_pick_the_branch_by_json_kind() {
    use alternate_int_enum::{Policy, SizeOrPolicy};
    assert_eq!(
        round_trip::<SizeOrPolicy>(json!(4096)),
        SizeOrPolicy::Size(4096)
    );
    assert_eq!(
        round_trip::<SizeOrPolicy>(json!("auto")),
        SizeOrPolicy::Policy(Policy::Auto)
    );
    assert!(refused::<SizeOrPolicy>(json!(-1)).contains("u32"));
    assert!(refused::<SizeOrPolicy>(json!(1.5)).contains("SizeOrPolicy"));
    assert!(refused::<SizeOrPolicy>(json!("sometimes")).contains("sometimes"));
    refused::<SizeOrPolicy>(json!(true));

    use alternate_str_struct::{Credentials, Login};
    assert_eq!(
        round_trip::<Login>(json!("t0k3n")),
        Login::Token("t0k3n".into())
    );
    let login: Login = round_trip(json!({ "user": "u" }));
    assert_eq!(
        login,
        Login::Credentials(Credentials {
            user: "u".into(),
            password: None
        })
    );

    use alternate_number_bool_null::Setting;
    assert_eq!(
        serde_json::from_value::<Setting>(json!(2)).unwrap(),
        Setting::Ratio(2.0)
    );
    assert_eq!(round_trip::<Setting>(json!(0.5)), Setting::Ratio(0.5));
    assert_eq!(round_trip::<Setting>(json!(false)), Setting::Flag(false));
    assert_eq!(round_trip::<Setting>(json!(null)), Setting::Unset(()));
    refused::<Setting>(json!("0.5"));

    use alternate_union_array::Changes;
    let one: Changes = round_trip(json!({ "op": "add", "id": 1 }));
    assert!(matches!(one, Changes::One(_)));
    let many: Changes = round_trip(json!([{ "op": "add", "id": 1 }, { "op": "remove", "id": 2 }]));
    assert!(matches!(many, Changes::Many(ref v) if v.len() == 2));

    use alternate_uint_qtype::CountOrKind;
    assert_eq!(
        round_trip::<CountOrKind>(json!(u64::MAX)),
        CountOrKind::Count(u64::MAX)
    );
    assert_eq!(
        round_trip::<CountOrKind>(json!("qlist")),
        CountOrKind::Kind(alternate_uint_qtype::QType::Qlist)
    );
}

#[test]
fn command_descriptors() {
    use qga_types::{Command, Empty};
    fn describe<C: Command>() -> (&'static str, bool) {
        (C::NAME, C::SUCCESS_RESPONSE)
    }
    assert_eq!(
        describe::<command_inline::commands::FileWrite>(),
        ("file-write", true)
    );
    assert_eq!(
        describe::<command_success_response::commands::PowerOff>(),
        ("power-off", false)
    );
    assert_eq!(
        describe::<command_gen_false::commands::ByHand>(),
        ("by-hand", true)
    );

    let args: <command_inline::commands::FileWrite as Command>::Arguments =
        round_trip(json!({ "handle": 1, "data": "x" }));
    assert_eq!(args.count, None);
    // Arguments refuse unknown members; returns accept them.
    assert!(refused::<command_inline::commands::FileWriteArguments>(
        json!({ "handle": 1, "data": "", "x": 1 })
    )
    .contains("unknown field"));
    let result: <command_inline::commands::FileWrite as Command>::Returns =
        serde_json::from_value(json!({ "count": 1, "eof": false, "added-later": 1 })).unwrap();
    assert_eq!(result.count, 1);

    let _: fn() -> <command_no_data::commands::Ping as Command>::Arguments = Empty::default;
    let _: fn() -> <command_no_data::commands::Ping as Command>::Returns = Empty::default;
    let _: fn() -> <command_no_data::commands::EmptyData as Command>::Arguments = Empty::default;
    let _: Option<<command_named::commands::Open as Command>::Arguments> =
        None::<command_named::OpenRequest>;
    let _: Option<<command_boxed::commands::BoxedUnion as Command>::Arguments> =
        None::<command_boxed::Choice>;
    let _: Option<<command_returns::commands::GetInts as Command>::Returns> = None::<Vec<i64>>;
    let _: Option<<command_returns::commands::GetAny as Command>::Returns> = None::<Value>;
    let _: Option<<command_returns::commands::GetAlt as Command>::Returns> =
        None::<command_returns::IntOrObj>;
    let _: Option<<keywords::commands::Self_ as Command>::Returns> = None::<keywords::Keywords>;
}

#[test]
fn events_have_names_and_data() {
    assert_eq!(event_defs::events::Shutdown::NAME, "SHUTDOWN");
    assert_eq!(event_defs::events::JobChanged::NAME, "JOB_CHANGED");
    let data: event_defs::events::ShutdownData = round_trip(json!({ "guest": true }));
    assert!(data.guest);
    round_trip::<event_defs::JobEvent>(json!({ "kind": "copy", "id": "j" }));
}

#[test]
fn base64_members_are_bytes() {
    let chunk: base64::Chunk = round_trip(json!({ "data": "aGVsbG8=", "label": "l" }));
    assert_eq!(chunk.data, b"hello");
    assert_eq!(chunk.more, None);
    let chunk: base64::Chunk = round_trip(json!({ "data": "", "more": "AAE=", "label": "l" }));
    assert_eq!(chunk.more.as_deref(), Some(&[0u8, 1][..]));
    refused::<base64::Chunk>(json!({ "data": "not base64!", "label": "l" }));
    let put: base64::commands::PutArguments = round_trip(json!({ "buf-b64": "AA==", "name": "n" }));
    assert_eq!(put.buf_b64, [0]);
}

#[test]
fn names_that_rust_reserves_or_spells_differently() {
    let k: keywords::Keywords = round_trip(json!({
        "type": "t", "match": 1, "self": true, "super": false, "crate": true,
        "async": false, "gen": true, "fn": "self", "loop": 2
    }));
    assert_eq!(
        (k.r#type.as_str(), k.self_, k.r#fn),
        ("t", true, keywords::Keyword::Self_)
    );
    let args: keywords::commands::MoveArguments = round_trip(json!({ "where": "w", "in": 1 }));
    assert_eq!(args.r#in, 1);

    let n: member_names::Names = round_trip(json!({
        "with-dash": 1, "with_underscore": 2, "mixedCase": 3, "mixed-case": 4, "ABC": 5, "x1-2": 6
    }));
    assert_eq!((n.mixed_case, n.mixed_case_, n.abc, n.x1_2), (3, 4, 5, 6));
    let legacy: pragma::Legacy =
        round_trip(json!({ "VCPUCount": 1, "camelCase": "c", "snake_case": true }));
    assert_eq!(legacy.vcpu_count, 1);

    let thing: rfqdn::OrgExampleThing =
        round_trip(json!({ "__org.example_colour": "__org.example_infrared" }));
    assert_eq!(
        thing.__org_example_colour,
        rfqdn::OrgExampleColour::OrgExampleInfrared
    );
}

#[test]
fn schema_types_may_share_standard_names() {
    let v: name_clash_std::Vec = round_trip(json!({ "items": [{ "str": "a" }] }));
    assert_eq!(v.items[0].str, "a");
    round_trip::<name_clash_std::Box>(json!({ "inner": { "inner": {} } }));
    round_trip::<name_clash_std::Either>(json!("ok"));
    round_trip::<name_clash_std::Either>(json!({ "str": "s" }));
    round_trip::<name_clash_serde::Either>(json!({ "x": 1 }));
    round_trip::<name_clash_serde::Either>(json!(1));
}

#[test]
#[allow(deprecated)]
fn deprecated_items_still_work() {
    use deprecated::{Mode, ModeUnion, ModeUnionBranch, Settings};
    let s: Settings = round_trip(json!({ "new": 1, "old": 2 }));
    assert_eq!(s.old, Some(2));
    assert_eq!(Mode::ALL, &[Mode::Fresh, Mode::Stale]);
    let u: ModeUnion = round_trip(json!({ "mode": "stale", "new": 1 }));
    assert!(matches!(u.mode, ModeUnionBranch::Stale(_)));
}

#[test]
fn a_small_guest_agent_schema() {
    use qga_mini::commands::GuestExecArguments;
    use qga_mini::{GuestExecCaptureOutput, GuestExecCaptureOutputMode};
    let args: GuestExecArguments = round_trip(json!({
        "path": "/bin/true", "arg": ["-x"], "input-data": "aGk=", "capture-output": "merged"
    }));
    assert_eq!(args.input_data.as_deref(), Some(&b"hi"[..]));
    assert_eq!(
        args.capture_output,
        Some(GuestExecCaptureOutput::Mode(
            GuestExecCaptureOutputMode::Merged
        ))
    );
    let args: GuestExecArguments = round_trip(json!({ "path": "p", "capture-output": true }));
    assert_eq!(
        args.capture_output,
        Some(GuestExecCaptureOutput::Flag(true))
    );
    assert!(
        refused::<GuestExecArguments>(json!({ "path": "p", "capture-output": 1 }))
            .contains("GuestExecCaptureOutput")
    );

    let info: qga_mini::GuestDeviceInfo = round_trip(
        json!({ "driver-name": "d", "id": { "type": "pci", "vendor-id": 1, "device-id": 2 } }),
    );
    assert!(info.id.is_some());
}
