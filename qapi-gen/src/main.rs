//! `qapi-gen SCHEMA -o DIR`: checks a QAPI schema and writes the generated Rust
//! (`types.rs`, `dispatch.rs`) and the reference manual (`reference.md`) into DIR,
//! through the library's front door ([`qapi_gen::load`], [`qapi_gen::generate`]),
//! as `cargo xtask regen` does.

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
    let options = qapi_gen::emit::Options {
        generator: "qapi-gen".into(),
        source: qapi_gen::source_name(&schema),
        ..Default::default()
    };
    for (name, text) in qapi_gen::generate(&model, &options) {
        let path = out.join(name);
        if let Err(e) = std::fs::create_dir_all(&out).and_then(|()| std::fs::write(&path, text)) {
            eprintln!("qapi-gen: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
