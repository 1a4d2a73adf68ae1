//! Large schemas split over many included files load, and in order; what is
//! generated from them does not depend on how many threads generate it.

#[path = "support/synth.rs"]
mod synth;

#[test]
fn a_25000_line_schema_over_40_files_loads() {
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = synth::write_schema(dir.path(), 40, 7);
    assert!(lines >= 25_000, "only {lines} lines");
    let schema = qapi_gen::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(schema.entities.len(), 40 * 7 * 7);
    assert_eq!(schema.commands().count(), 280);
    // Module 0 is included first (through the chain), so its definitions come first.
    assert_eq!(schema.entities[0].name(), "Mod0Def0Kind");
    assert!(schema.free_docs.len() >= 40);
}

#[test]
fn the_outputs_do_not_depend_on_the_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = synth::write_schema(dir.path(), 6, 7);
    let schema = qapi_gen::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let generate = |threads| {
        let options = qapi_gen::emit::Options {
            threads,
            ..Default::default()
        };
        qapi_gen::emit::generate_all(&schema, &options)
    };
    let one = generate(1);
    assert_eq!(one, generate(3));
    assert_eq!(
        one[0].1,
        qapi_gen::emit::types(&schema, &Default::default())
    );
    assert_eq!(
        one[1].1,
        qapi_gen::emit::dispatch(&schema, &Default::default())
    );
}
