//! Any bytes through a whole session with the test handler: never a panic, and every
//! output line is one JSON response (after an optional 0xFF).

#![no_main]

#[path = "../../tests/common/handler.rs"]
mod handler;

use libfuzzer_sys::fuzz_target;
use qga_dispatch::{Limits, Session};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { token_size: 1 << 16, token_count: 1024, nesting: 32 };
    let mut session = Session::with_limits(handler::COMMANDS, limits);
    let mut agent = handler::FakeAgent::default();
    let mut out = Vec::new();
    for chunk in data.chunks(7) {
        session.feed(chunk, &mut out, &mut agent);
    }
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = line.strip_prefix(&[0xFF]).unwrap_or(line);
        let value: serde_json::Value = serde_json::from_slice(line).expect("a response is JSON");
        assert!(value.get("return").is_some() || value.get("error").is_some());
    }
});
