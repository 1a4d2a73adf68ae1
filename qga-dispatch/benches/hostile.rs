//! What a hostile message costs: an array of 3 Mi integers (over the 2 Mi token limit)
//! and a 100 MiB string (over the 64 MiB size limit), each answered with one error.

#[path = "../tests/common/handler.rs"]
mod handler;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use qga_dispatch::Session;

fn run(session: &mut Session, agent: &mut handler::FakeAgent, message: &[u8]) -> usize {
    let mut out = Vec::new();
    for chunk in message.chunks(64 << 10) {
        session.feed(chunk, &mut out, agent);
    }
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
    out.len()
}

fn hostile(c: &mut Criterion) {
    let mut tokens = b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":[1".to_vec();
    tokens.extend(b",1".repeat((3 << 20) - 1));
    tokens.extend_from_slice(b"]}}");
    let mut string = b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":\"".to_vec();
    string.resize(string.len() + (100 << 20), b'A');
    string.extend_from_slice(b"\"}}");

    let mut session = Session::new(handler::COMMANDS);
    let mut agent = handler::FakeAgent::default();
    let mut group = c.benchmark_group("hostile");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(tokens.len() as u64));
    group.bench_function("3 Mi-token array", |b| {
        b.iter(|| black_box(run(&mut session, &mut agent, &tokens)))
    });
    group.throughput(Throughput::Bytes(string.len() as u64));
    group.bench_function("100 MiB string", |b| {
        b.iter(|| black_box(run(&mut session, &mut agent, &string)))
    });
    group.finish();
}

criterion_group!(benches, hostile);
criterion_main!(benches);
