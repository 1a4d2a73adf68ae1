//! A small driver for profilers (`valgrind --tool=callgrind`, `perf`): loads a
//! schema and runs the backends, a chosen stage a chosen number of times.
//!
//! `cargo run --release -p qapi-gen --example profile -- SCHEMA|synth [STAGE] [N] [OUT]`
//!
//! STAGE is `load`, `types`, `dispatch`, `manual`, `all` (the default: every
//! backend on one load) or `full` (load and every backend, each time); `synth`
//! stands for the bench's synthetic 25 000-line schema, written to a temp dir. With
//! OUT, the outputs of the last run are written into that directory, to compare
//! before and after a change. `THREADS=N` sets `Options::threads` (default: 1, so
//! that instruction counts are those of one thread). `REFERENCE=1` formats every
//! Rust item with quote and prettyplease (`Options::reference_printer`), to compare
//! with the direct printer.

use std::path::PathBuf;

#[path = "../tests/support/synth.rs"]
mod synth;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(schema) = args.first() else {
        eprintln!("usage: profile SCHEMA|synth [load|types|dispatch|manual|all] [N] [OUT]");
        std::process::exit(2);
    };
    let stage = args.get(1).map_or("all", String::as_str);
    let n: usize = args.get(2).map_or(1, |n| n.parse().expect("a count"));
    let out = args.get(3).map(PathBuf::from);
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = if schema == "synth" {
        synth::write_schema(dir.path(), 40, 7).0
    } else {
        PathBuf::from(schema)
    };
    let options = qapi_gen::emit::Options {
        threads: std::env::var("THREADS").map_or(1, |n| n.parse().expect("a thread count")),
        reference_printer: std::env::var_os("REFERENCE").is_some(),
        ..Default::default()
    };
    let mut outputs = Vec::new();
    if stage == "load" || stage == "full" {
        let start = std::time::Instant::now();
        for _ in 0..n {
            let model = qapi_gen::load(&path).expect("a valid schema");
            if stage == "full" {
                std::hint::black_box(qapi_gen::emit::generate_all(&model, &options));
            }
        }
        if n > 0 {
            eprintln!("{stage}: {:?} per run", start.elapsed() / n as u32);
        }
        return;
    }
    let model = qapi_gen::load(&path).expect("a valid schema");
    let start = std::time::Instant::now();
    for _ in 0..n {
        outputs = match stage {
            "types" => vec![("types.rs", qapi_gen::emit::types(&model, &options))],
            "dispatch" => vec![("dispatch.rs", qapi_gen::emit::dispatch(&model, &options))],
            "manual" => vec![("reference.md", qapi_gen::emit::manual(&model, &options))],
            "all" => qapi_gen::emit::generate_all(&model, &options),
            other => panic!("unknown stage {other}"),
        };
        std::hint::black_box(&outputs);
    }
    if n > 0 {
        eprintln!("{stage}: {:?} per run", start.elapsed() / n as u32);
    }
    if let Some(out) = out {
        std::fs::create_dir_all(&out).expect("a writable output dir");
        for (name, text) in outputs {
            std::fs::write(out.join(name), text).expect("a writable output file");
        }
    }
}
