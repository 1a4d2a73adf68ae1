//! Large schemas split over many included files load, and in order.

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
