//! Any bytes, cut anywhere: the framer never panics, gives the same frames however
//! the input is cut, and holds no more than the limits allow.

#![no_main]

use libfuzzer_sys::fuzz_target;
use qga_dispatch::{Frame, Framer, Limits};

const LIMITS: Limits = Limits { token_size: 4096, token_count: 256, nesting: 16 };

fn frames(data: &[u8], piece: usize) -> Vec<Result<Vec<u8>, String>> {
    let mut framer = Framer::new(LIMITS);
    let mut out = Vec::new();
    for mut chunk in data.chunks(piece.max(1)) {
        while let Some(frame) = framer.next_frame(&mut chunk) {
            out.push(match frame {
                Frame::Message(m) => Ok(m.to_vec()),
                Frame::Error(e) => Err(e.desc),
            });
        }
        // Stored whitespace shrinks to one byte per run, except in the read where the
        // message began: bounded by the limits and one read.
        assert!(framer.buffered_len() <= LIMITS.token_size + LIMITS.token_count + 1 + piece);
    }
    out
}

/// Messages compared by meaning: a message that spans reads has its whitespace runs
/// shrunk, one read whole does not.
fn squeeze(frames: Vec<Result<Vec<u8>, String>>) -> Vec<Result<String, String>> {
    frames
        .into_iter()
        .map(|f| f.map(|m| qga_dispatch::json::parse(&m).map(|v| v.to_string()).unwrap_or_else(|e| e.desc)))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let (piece, data) = match data.split_first() {
        Some((&piece, rest)) => (usize::from(piece % 16) + 1, rest),
        None => return,
    };
    assert_eq!(squeeze(frames(data, data.len())), squeeze(frames(data, piece)));
});
