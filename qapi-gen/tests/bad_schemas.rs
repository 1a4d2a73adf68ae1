//! Every schema under `tests/bad/` is rejected with exactly the message in the
//! `.err` file beside it. `QAPI_GEN_BLESS=1 cargo test -p qapi-gen` rewrites them.

use std::path::Path;

#[test]
fn bad_schemas_fail_with_their_messages() {
    let dir = Path::new("tests/bad");
    let bless = std::env::var_os("QAPI_GEN_BLESS").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/bad exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 60, "only {} bad cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let actual = match qapi_gen::load(case) {
            Ok(_) => "(no error)\n".to_owned(),
            Err(e) => format!("{e}\n").replace("tests/bad/", ""),
        };
        let expected_path = case.with_extension("err");
        if bless {
            std::fs::write(&expected_path, &actual).expect("writable expected file");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            failures.push(format!(
                "{}:\n  expected: {expected:?}\n  actual:   {actual:?}",
                case.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
