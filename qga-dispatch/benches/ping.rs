//! One guest-ping: bytes in, framed, parsed, checked, dispatched, answered.
//! Target: at most 1 µs.

#[path = "../tests/common/handler.rs"]
mod handler;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use qga_dispatch::Session;

fn ping(c: &mut Criterion) {
    let mut session = Session::new(handler::COMMANDS);
    let mut agent = handler::FakeAgent::default();
    let mut out = Vec::with_capacity(256);
    c.bench_function("guest-ping decode-dispatch-encode", |b| {
        b.iter(|| {
            out.clear();
            session.feed(
                black_box(b"{\"execute\":\"guest-ping\"}\n"),
                &mut out,
                &mut agent,
            );
            agent.calls.clear();
            black_box(&out);
        })
    });
    c.bench_function("guest-sync with id", |b| {
        b.iter(|| {
            out.clear();
            session.feed(
                black_box(b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1234567},\"id\":\"req-1\"}\n"),
                &mut out,
                &mut agent,
            );
            agent.calls.clear();
            black_box(&out);
        })
    });
}

criterion_group!(benches, ping);
criterion_main!(benches);
