//! Generates the types of `schema.json` into OUT_DIR, naming qga-types' support items
//! (`Command`, `Empty`, `InvalidEnumValue`, `base64`) as `qga_types::...`.

use std::path::{Path, PathBuf};

fn main() {
    let schema_path = Path::new("schema.json");
    println!("cargo::rerun-if-changed={}", schema_path.display());
    let schema = match qapi_gen::load(schema_path) {
        Ok(schema) => schema,
        Err(e) => panic!("{e}"),
    };
    let options = qapi_gen::emit::Options {
        runtime: "qga_types".into(),
        source: qapi_gen::source_name(schema_path),
        generator: "the build script".into(),
        ..Default::default()
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (name, text) in qapi_gen::generate(&schema, &options) {
        if name == qapi_gen::TYPES {
            std::fs::write(out.join(name), text).expect("OUT_DIR is writable");
        }
    }
}
