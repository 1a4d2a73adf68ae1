//! The `qapi-gen` command, as a new user runs it: on QEMU 10.2's guest agent schema
//! it writes the outputs, named as the library names them; on a bad schema it
//! prints QEMU's message and fails.

use std::path::Path;
use std::process::Command;

fn qapi_gen(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_qapi-gen"))
        .args(args)
        .output()
        .expect("qapi-gen runs")
}

#[test]
fn writes_every_output_for_qemu_s_guest_agent_schema() {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/reference/qemu-10.2/qga/qapi-schema.json");
    let out = tempfile::tempdir().unwrap();
    let run = qapi_gen(&[schema.to_str().unwrap(), "-o", out.path().to_str().unwrap()]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for name in [qapi_gen::TYPES, qapi_gen::DISPATCH, qapi_gen::MANUAL] {
        let text = std::fs::read_to_string(out.path().join(name)).unwrap();
        assert!(
            text.contains("from qapi-schema.json; do not edit"),
            "{name}"
        );
    }
}

#[test]
fn reports_a_bad_schema_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("bad.json");
    std::fs::write(&schema, "##\n# @Foo:\n#\n# @a: one\n#   two\n# three\n##\n{ 'struct': 'Foo', 'data': { 'a': 'int' } }\n").unwrap();
    let run = qapi_gen(&[schema.to_str().unwrap(), "-o", dir.path().to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(
        stderr,
        format!(
            "{}:6:1: unexpected de-indent (expected at least 2 spaces)\n",
            schema.display()
        )
    );
    assert!(!dir.path().join(qapi_gen::TYPES).exists());
}
