//! Time to load (parse + check + model) and generate from a schema: the project's
//! qga-schema.json, and a synthetic QMP-sized schema of 25 000 lines in 40 files.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "../tests/support/synth.rs"]
mod synth;

fn generate(path: &Path) -> usize {
    let schema = qapi_gen::load(path).expect("the schema is valid");
    qapi_gen::emit::generate_all(&schema, &Default::default())
        .iter()
        .map(|(_, text)| text.len())
        .sum()
}

fn bench(c: &mut Criterion) {
    let qga = Path::new(env!("CARGO_MANIFEST_DIR")).join("../qga-schema.json");
    c.bench_function("qga-schema.json: load + emit", |b| {
        b.iter(|| generate(&qga))
    });

    let dir = tempfile::tempdir().expect("a temp dir");
    let (path, lines) = synth::write_schema(dir.path(), 40, 7);
    assert!(lines >= 25_000);
    c.bench_function("synthetic 25k lines / 40 files: load + emit", |b| {
        b.iter(|| generate(&path))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
