//! Generates the types of QEMU 10.2's QMP schema (`../shared/reference/qemu-10.2/qapi`,
//! beside the workspace) into OUT_DIR over qga-types' runtime. Where that folder is
//! missing the module is empty and `cfg(qmp_schema)` is not set, so the tests can say
//! why they did not run.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rustc-check-cfg=cfg(qmp_schema)");
    // The schema's conditions (CONFIG_BLKIO, TARGET_S390X, ...) become features the
    // generated code tests; none is enabled here, as in a build of QEMU without them.
    println!("cargo::rustc-check-cfg=cfg(feature, values(any()))");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let schema_path = manifest.join("../../../shared/reference/qemu-10.2/qapi/qapi-schema.json");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let types = out.join(qapi_gen::TYPES);
    println!("cargo::rerun-if-changed={}", schema_path.display());
    if !schema_path.exists() {
        std::fs::write(&types, "").expect("OUT_DIR is writable");
        return;
    }
    let schema = qapi_gen::load(&schema_path).unwrap_or_else(|e| panic!("{e}"));
    for file in schema_files(&schema_path) {
        println!("cargo::rerun-if-changed={}", file.display());
    }
    let options = qapi_gen::emit::Options {
        runtime: "qga_types".into(),
        source: qapi_gen::source_name(&schema_path),
        generator: "the build script of qapi-gen-qmp-check".into(),
        ..Default::default()
    };
    for (name, text) in qapi_gen::generate(&schema, &options) {
        if name == qapi_gen::TYPES {
            std::fs::write(&types, text).expect("OUT_DIR is writable");
        }
    }
    println!("cargo::rustc-cfg=qmp_schema");
}

/// The schema's folder's JSON files (what it includes).
fn schema_files(schema: &Path) -> Vec<PathBuf> {
    let dir = schema.parent().expect("a file in a folder");
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default()
}
