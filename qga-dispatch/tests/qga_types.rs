//! The generated argument types of qga-types read through `Arguments` with QEMU's
//! texts: the contract between the generator's serde code and this runtime.

use qga_dispatch::Arguments;
use qga_types::commands::{
    GuestFileSeekArguments, GuestFileWriteArguments, GuestSetVcpusArguments,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

fn parse<T: DeserializeOwned>(arguments: Value) -> Result<T, String> {
    let Value::Object(mut members) = arguments else {
        panic!("not an object")
    };
    Arguments::new(&mut members)
        .parse::<T>()
        .map_err(|e| e.desc)
}

#[test]
fn alternate_with_an_enum_branch() {
    let ok = |whence: Value| {
        parse::<GuestFileSeekArguments>(json!({"handle": 1, "offset": 0, "whence": whence}))
    };
    assert!(ok(json!(2)).is_ok());
    assert!(ok(json!("cur")).is_ok());
    assert_eq!(
        ok(json!("foo")).unwrap_err(),
        "Parameter 'whence' does not accept value 'foo'"
    );
    let wrong = ok(json!(true)).unwrap_err();
    assert!(
        wrong.starts_with("Invalid parameter type for 'whence', expected: "),
        "{wrong}"
    );
    assert_eq!(
        parse::<GuestFileSeekArguments>(json!({"handle": 1, "whence": 0})).unwrap_err(),
        "Parameter 'offset' is missing"
    );
}

#[test]
fn nested_structs_and_base64() {
    assert_eq!(
        parse::<GuestSetVcpusArguments>(json!({"vcpus": [{"logical-id": 0}]})).unwrap_err(),
        "Parameter 'vcpus[0].online' is missing"
    );
    assert_eq!(
        parse::<GuestSetVcpusArguments>(
            json!({"vcpus": [{"logical-id": 0, "online": true, "foo": 1}]})
        )
        .unwrap_err(),
        "Parameter 'vcpus[0].foo' is unexpected"
    );
    let write =
        parse::<GuestFileWriteArguments>(json!({"handle": 1, "buf-b64": "aGVsbG8="})).unwrap();
    assert_eq!(write.buf_b64, b"hello");
    assert_eq!(
        parse::<GuestFileWriteArguments>(json!({"handle": 1, "buf-b64": "!!"})).unwrap_err(),
        "Base64 data contains invalid characters"
    );
}
