//! Any bytes as one message: parsing and request checking never panic, and what
//! parses as JSON parses the same after a round trip through serde_json.

#![no_main]

use libfuzzer_sys::fuzz_target;
use qga_dispatch::{json, Request};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = json::parse_nested(data, 64) else {
        return;
    };
    let text = value.to_string();
    assert_eq!(json::parse_nested(text.as_bytes(), 64).ok(), Some(value.clone()));
    if let Ok(mut request) = Request::from_value(value) {
        let (name, arguments) = request.call();
        let _ = (name.len(), arguments.is_empty());
    }
});
