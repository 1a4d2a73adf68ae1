//! Under CI the QMP schema must have been found and generated (`../shared` is laid
//! beside the workspace there); elsewhere its absence is only said.

#[test]
fn the_qmp_schema_was_generated() {
    let under_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if !qapi_gen_qmp_check::GENERATED {
        assert!(
            !under_ci,
            "QEMU 10.2's QMP schema was not found beside the workspace"
        );
        eprintln!("skipping: QEMU 10.2's QMP schema is not beside the workspace");
    }
}
