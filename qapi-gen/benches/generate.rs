//! Time to load (parse + check + model) and generate from a schema: the project's
//! qga-schema.json, QEMU 10.2's guest agent schema and its whole QMP schema (46
//! files, 26 400 lines; targets: ≤ 10 ms and ≤ 50 ms on one thread), and a
//! synthetic QMP-sized schema of 25 000 lines in 40 files.
//! Each schema is measured whole (load + every backend, the figure the targets are
//! about), whole on one thread, and stage by stage on one thread: load, then each
//! backend on the loaded model.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use qapi_gen::emit::{self, Options};

#[path = "../tests/support/synth.rs"]
mod synth;

fn generate(path: &Path, options: &Options) -> usize {
    let schema = qapi_gen::load(path).expect("the schema is valid");
    emit::generate_all(&schema, options)
        .iter()
        .map(|(_, text)| text.len())
        .sum()
}

/// The whole job with the default options (the machine's threads), the same on one
/// thread, then each stage on one thread.
fn stages(c: &mut Criterion, label: &str, path: &Path) {
    let threaded = Options::default();
    let one = Options {
        threads: 1,
        ..Options::default()
    };
    c.bench_function(&format!("{label}: load + emit"), |b| {
        b.iter(|| generate(path, &threaded))
    });
    c.bench_function(&format!("{label}: load + emit, 1 thread"), |b| {
        b.iter(|| generate(path, &one))
    });
    c.bench_function(&format!("{label}: load"), |b| {
        b.iter(|| qapi_gen::load(path).expect("the schema is valid"))
    });
    let schema = qapi_gen::load(path).expect("the schema is valid");
    c.bench_function(&format!("{label}: emit types"), |b| {
        b.iter(|| emit::types(&schema, &one))
    });
    c.bench_function(&format!("{label}: emit dispatch"), |b| {
        b.iter(|| emit::dispatch(&schema, &one))
    });
    c.bench_function(&format!("{label}: emit manual"), |b| {
        b.iter(|| emit::manual(&schema, &one))
    });
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    stages(c, "qga-schema.json", &root.join("qga-schema.json"));

    let qemu = root.join("../shared/reference/qemu-10.2");
    stages(c, "QEMU 10.2 qga", &qemu.join("qga/qapi-schema.json"));
    stages(c, "QEMU 10.2 QMP", &qemu.join("qapi/qapi-schema.json"));

    let dir = tempfile::tempdir().expect("a temp dir");
    let (path, lines) = synth::write_schema(dir.path(), 40, 7);
    assert!(lines >= 25_000);
    stages(c, "synthetic 25k lines / 40 files", &path);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
