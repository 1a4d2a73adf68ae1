//! `qapi-gen SCHEMA [-o DIR] [--runtime PATH]`: checks a QAPI schema and writes the
//! generated Rust (`types.rs`, `dispatch.rs`) and the reference manual
//! (`reference.md`) into DIR, through the library's front door ([`qapi_gen::load`],
//! [`qapi_gen::generate`]), as `cargo xtask regen` does.

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: qapi-gen SCHEMA [-o DIR] [--runtime PATH]";

const HELP: &str = "
Checks SCHEMA (a QAPI schema, QEMU 10.2's language) and writes types.rs,
dispatch.rs and reference.md into DIR (default: .).

  -o, --output-dir DIR  where the outputs go
  --runtime PATH        the Rust path under which types.rs names its support
                        items (Command, Empty, InvalidEnumValue, the base64 serde
                        module); default `crate`, for a crate that holds them
                        itself as qga-types does. `--runtime qga_types` makes
                        types.rs a module of any crate that depends on qga-types.

From a build script, call the library instead: qapi_gen::load(SCHEMA), then
qapi_gen::generate(&schema, &Options { runtime: \"qga_types\".into(), .. }),
write each output into OUT_DIR, and include!(concat!(env!(\"OUT_DIR\"),
\"/types.rs\")) where the types belong.";

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let mut schema = None;
    let mut out = None;
    let mut runtime = None;
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("-o" | "--output-dir") => match args.next() {
                Some(dir) => out = Some(PathBuf::from(dir)),
                None => return usage(),
            },
            Some("--runtime") => match args.next().map(|p| p.into_string()) {
                // Checked here so that a bad path is an error, not the
                // generator's panic.
                Some(Ok(path)) if syn::parse_str::<syn::Path>(&path).is_ok() => {
                    runtime = Some(path)
                }
                Some(Ok(path)) => {
                    eprintln!("qapi-gen: --runtime: `{path}` is not a Rust path");
                    return ExitCode::from(2);
                }
                _ => return usage(),
            },
            Some("-h" | "--help") => {
                println!("{USAGE}\n{HELP}");
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
    let mut options = qapi_gen::emit::Options {
        generator: "qapi-gen".into(),
        source: qapi_gen::source_name(&schema),
        ..Default::default()
    };
    if let Some(runtime) = runtime {
        options.runtime = runtime;
    }
    for (name, text) in qapi_gen::generate(&model, &options) {
        let path = out.join(name);
        if let Err(e) = std::fs::create_dir_all(&out).and_then(|()| std::fs::write(&path, text)) {
            eprintln!("qapi-gen: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
