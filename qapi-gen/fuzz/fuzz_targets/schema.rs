//! Any bytes as a schema file: parse and check never panic nor hang; a bad schema
//! gives one message located in the file; a good one generates Rust that parses.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use qapi_gen::emit::{generate_all, Options};

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.json");
    match qapi_gen::load_bytes(path, data) {
        Ok(schema) => {
            for (name, text) in generate_all(&schema, &Options::default()) {
                if name.ends_with(".rs") {
                    if let Err(e) = syn::parse_file(&text) {
                        panic!("{name} does not parse: {e}\n{text}");
                    }
                }
            }
        }
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.starts_with("fuzz.json:"),
                "an error without its place: {message}"
            );
        }
    }
});
