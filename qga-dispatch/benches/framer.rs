//! Framing one 48 MiB guest-file-write message (a 64 MiB base64 string would be over
//! QEMU's limit; 48 MiB of text is the largest read QEMU allows, base64-encoded).
//! Target: at least 1 GB/s.

#[path = "../tests/common/handler.rs"]
mod handler;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use qga_dispatch::{json, Frame, Framer, Session};

/// A guest-file-write request of `len` bytes in all.
fn request(len: usize) -> Vec<u8> {
    let head = b"{\"execute\":\"guest-file-write\",\"arguments\":{\"handle\":1000,\"buf-b64\":\"";
    let tail = b"\"}}\n";
    let body = len - head.len() - tail.len();
    let mut message = Vec::with_capacity(len);
    message.extend_from_slice(head);
    message.extend(b"QUJD".iter().cycle().take(body / 4 * 4));
    message.extend_from_slice(tail);
    message
}

fn frame_all(framer: &mut Framer, chunks: &mut dyn Iterator<Item = &[u8]>) -> usize {
    let mut total = 0;
    for mut chunk in chunks {
        while let Some(frame) = framer.next_frame(&mut chunk) {
            match frame {
                Frame::Message(m) => total += m.len(),
                Frame::Error(e) => panic!("{e}"),
            }
        }
    }
    total
}

fn framer(c: &mut Criterion) {
    let message = request(48 << 20);
    let mut group = c.benchmark_group("48 MiB guest-file-write");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(message.len() as u64));
    let mut framer = Framer::default();
    group.bench_function("framer, one read", |b| {
        b.iter(|| black_box(frame_all(&mut framer, &mut std::iter::once(&message[..]))))
    });
    group.bench_function("framer, 64 KiB reads", |b| {
        b.iter(|| black_box(frame_all(&mut framer, &mut message.chunks(64 << 10))))
    });
    group.bench_function("framer, 64 KiB reads, cold buffer", |b| {
        b.iter(|| {
            // A reset gives the buffer back: every message faults in fresh pages.
            framer.reset();
            black_box(frame_all(&mut framer, &mut message.chunks(64 << 10)))
        })
    });
    group.bench_function("framer + JSON parse", |b| {
        b.iter(|| {
            let mut input = &message[..];
            match framer.next_frame(&mut input) {
                Some(Frame::Message(m)) => black_box(json::parse(m).map(|_| ()).is_ok()),
                _ => panic!("no message"),
            }
        })
    });
    let mut session = Session::new(handler::COMMANDS);
    let mut agent = handler::FakeAgent::default();
    let mut out = Vec::new();
    group.bench_function("whole request: frame, parse, base64, dispatch", |b| {
        b.iter(|| {
            out.clear();
            for chunk in message.chunks(64 << 10) {
                session.feed(chunk, &mut out, &mut agent);
            }
            agent.calls.clear();
            black_box(&out);
        })
    });
    group.finish();
}

criterion_group!(benches, framer);
criterion_main!(benches);
