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

#[test]
fn runtime_names_the_support_items_path() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("s.json");
    std::fs::write(
        &schema,
        "##\n# @Colour:\n#\n# @red: red\n##\n{ 'enum': 'Colour', 'data': ['red'] }\n\
         ##\n# @paint:\n#\n# @c: which\n##\n{ 'command': 'paint', 'data': { 'c': 'Colour' } }\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let (schema, out) = (schema.to_str().unwrap(), out.to_str().unwrap());
    let run = qapi_gen(&[schema, "-o", out, "--runtime", "qga_types"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let types = std::fs::read_to_string(Path::new(out).join(qapi_gen::TYPES)).unwrap();
    assert!(
        types.contains("impl qga_types::Command for Paint"),
        "{types}"
    );
    assert!(types.contains("qga_types::InvalidEnumValue"), "{types}");
    assert!(!types.contains("crate::"), "{types}");

    // By default the support items are the crate's own, as in qga-types.
    let run = qapi_gen(&[schema, "-o", out]);
    assert!(run.status.success());
    let types = std::fs::read_to_string(Path::new(out).join(qapi_gen::TYPES)).unwrap();
    assert!(types.contains("impl crate::Command for Paint"), "{types}");

    // A runtime that is not a path is refused before anything is written.
    let elsewhere = dir.path().join("elsewhere");
    let run = qapi_gen(&[
        schema,
        "-o",
        elsewhere.to_str().unwrap(),
        "--runtime",
        "not a path",
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&run.stderr),
        "qapi-gen: --runtime: `not a path` is not a Rust path\n"
    );
    assert!(!elsewhere.exists());

    let help = qapi_gen(&["--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--runtime PATH") && help.contains("OUT_DIR"),
        "{help}"
    );
}
