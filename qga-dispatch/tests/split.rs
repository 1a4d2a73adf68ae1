//! Property: a valid stream decodes to the same messages however it is cut into
//! reads, and a partial message followed by 0xFF changes nothing.

use proptest::prelude::*;
use qga_dispatch::{json, Frame, Framer};
use serde_json::{Map, Number, Value};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<u64>().prop_map(|n| Value::Number(n.into())),
        any::<f64>()
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(Value::Number),
        "[ -~éß€😀\n\t\u{0}\u{1f}]{0,16}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("[a-z'\"-]{0,6}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A tiny deterministic generator for layout choices.
struct Choices(u64);

impl Choices {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }

    fn space(&mut self, out: &mut String) {
        out.push_str(["", "", " ", "\n", "\t", " \r\n  "][self.next(6) as usize]);
    }
}

/// Writes `value` as QEMU's dialect allows: either quote, escapes or not, any spacing.
fn render(value: &Value, c: &mut Choices, out: &mut String) {
    c.space(out);
    match value {
        Value::String(s) => render_str(s, c, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    c.space(out);
                    out.push(',');
                }
                render(item, c, out);
            }
            c.space(out);
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (key, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                c.space(out);
                render_str(key, c, out);
                c.space(out);
                out.push(':');
                render(item, c, out);
            }
            c.space(out);
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
    c.space(out);
}

fn render_str(s: &str, c: &mut Choices, out: &mut String) {
    let quote = if c.next(2) == 0 { '"' } else { '\'' };
    out.push(quote);
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' if c.next(2) == 0 => out.push_str("\\n"),
            ch if ch == quote => {
                out.push('\\');
                out.push(ch);
            }
            ch if u32::from(ch) < 0x20 || c.next(4) == 0 => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            ch => out.push(ch),
        }
    }
    out.push(quote);
}

/// Feeds `stream` cut at `cuts`; returns every message parsed.
fn decode(stream: &[u8], cuts: &[usize]) -> Vec<Value> {
    let mut framer = Framer::default();
    let mut values = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&stream.len())) {
        let mut input = &stream[start..end.max(start)];
        start = end.max(start);
        while let Some(frame) = framer.next_frame(&mut input) {
            match frame {
                Frame::Message(message) => values.push(json::parse(message).expect("valid")),
                Frame::Error(e) => panic!("unexpected error {e}"),
            }
        }
    }
    assert!(!framer.is_pending());
    values
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_cut_gives_the_same_messages(
        values in prop::collection::vec(value(), 1..6),
        seed in any::<u64>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut choices = Choices(seed);
        let mut text = String::new();
        for value in &values {
            render(value, &mut choices, &mut text);
            // A top-level number or keyword ends only at the next delimiter.
            text.push('\n');
        }
        let stream = text.into_bytes();
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        cuts.sort_unstable();
        prop_assert_eq!(&decode(&stream, &[]), &values);
        prop_assert_eq!(&decode(&stream, &cuts), &values);
        let every_byte: Vec<usize> = (1..stream.len()).collect();
        prop_assert_eq!(&decode(&stream, &every_byte), &values);
    }

    #[test]
    fn a_partial_message_then_ff_changes_nothing(
        values in prop::collection::vec(value(), 1..4),
        junk in prop::collection::vec(value(), 1..4),
        seed in any::<u64>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut choices = Choices(seed);
        let mut text = Vec::new();
        for (value, junk) in values.iter().zip(junk.iter().cycle()) {
            // An unfinished array holding the junk, then the reset.
            let mut partial = String::from("[");
            render(junk, &mut choices, &mut partial);
            let partial = partial.into_bytes();
            text.extend_from_slice(&partial[..cut.index(partial.len()).max(1)]);
            text.push(0xFF);
            let mut good = String::new();
            render(value, &mut choices, &mut good);
            good.push(' ');
            text.extend_from_slice(good.as_bytes());
        }
        prop_assert_eq!(&decode(&text, &[]), &values);
        let every_byte: Vec<usize> = (1..text.len()).collect();
        prop_assert_eq!(&decode(&text, &every_byte), &values);
    }
}
