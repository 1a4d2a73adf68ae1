//! Every schema `tests/good/NAME.json` generates exactly the files beside it:
//! `NAME.types.rs`, `NAME.dispatch.rs` and `NAME.md`. `QAPI_GEN_BLESS=1 cargo test -p
//! qapi-gen` rewrites them; the diff shows what a change to the generator does.
//! (Files under `tests/good/include/` are included by cases, not cases themselves.)
//! `golden_compiles.rs` compiles every `NAME.types.rs` and round-trips JSON through it.

use std::path::{Path, PathBuf};

use qapi_gen::emit::{self, Options};

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir("tests/good")
        .expect("tests/good exists")
        .map(|e| e.expect("a readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    cases.sort();
    cases
}

fn name(case: &Path) -> String {
    case.file_stem()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

/// The options the expected files are generated with: the types reach their runtime
/// as `qga_types`, which is what `golden_compiles.rs` builds them against.
fn options(name: &str) -> Options {
    Options {
        runtime: "qga_types".into(),
        types: "qga_types".into(),
        source: format!("{name}.json"),
        generator: "QAPI_GEN_BLESS=1 cargo test -p qapi-gen".into(),
        ..Options::default()
    }
}

#[test]
fn good_schemas_generate_their_expected_files() {
    let bless = std::env::var_os("QAPI_GEN_BLESS").is_some();
    let cases = cases();
    assert!(cases.len() >= 40, "only {} good cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = name(case);
        let schema = match qapi_gen::load(case) {
            Ok(schema) => schema,
            Err(e) => {
                failures.push(format!("{}: does not load:\n{e}", case.display()));
                continue;
            }
        };
        let options = options(&name);
        let outputs = [
            ("types.rs", emit::types(&schema, &options)),
            ("dispatch.rs", emit::dispatch(&schema, &options)),
            ("md", emit::manual(&schema, &options)),
        ];
        for (extension, actual) in outputs {
            let expected_path = case.with_extension(extension);
            if bless {
                std::fs::write(&expected_path, &actual).expect("a writable expected file");
                continue;
            }
            let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
            if actual != expected {
                failures.push(format!(
                    "{} differs (QAPI_GEN_BLESS=1 rewrites it)",
                    expected_path.display()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every case's types are compiled by `golden_compiles.rs`; a new case must be
/// added there.
#[test]
fn every_case_is_compiled() {
    let compiled = std::fs::read_to_string("tests/golden_compiles.rs")
        .expect("tests/golden_compiles.rs exists");
    let missing: Vec<String> = cases()
        .iter()
        .map(|case| name(case))
        .filter(|name| !compiled.contains(&format!("\"good/{name}.types.rs\"")))
        .collect();
    assert!(
        missing.is_empty(),
        "add to tests/golden_compiles.rs: {}",
        missing.join(", ")
    );
}
