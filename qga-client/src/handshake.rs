//! The handshake that puts a client in step with the agent.
//!
//! The manual asks a client to issue `guest-sync-delimited` with a fresh random id on
//! connecting and after any timeout, preceded by a `0xFF` byte so that the agent drops
//! any partial request, and then to ignore everything until the response carrying that
//! id. The agent writes `0xFF` just before that response, so a client can also drop any
//! partial response it had read. QEMU's agent answers the client's `0xFF` itself with an
//! error line (`JSON parse error, stray '\uFFFD'`); like any other stale output, it is
//! skipped.

use qga_types::commands::{GuestSyncDelimited, GuestSyncDelimitedArguments};

use crate::framing::{Decoder, Frame, SENTINEL};
use crate::message::{encode, parse_reply, MaybeInt, Reply};

/// A fresh id for a sync request: random, non-negative and within the 53 bits that any
/// JSON implementation keeps exactly.
pub(crate) fn new_id() -> i64 {
    let random = getrandom::u64().unwrap_or_else(|_| fallback_random());
    (random >> 11) as i64
}

/// Entropy for the (unheard-of) case that the OS random source fails: the clock and the
/// process id, mixed. Uniqueness, not secrecy, is what the id needs.
fn fallback_random() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = nanos ^ (u64::from(std::process::id()) << 32);
    // splitmix64's finaliser.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Appends a `0xFF` (which makes the agent drop any partial input) and a
/// `guest-sync-delimited` request with `id` to `out`.
pub(crate) fn encode_sync(out: &mut Vec<u8>, id: i64) {
    out.push(SENTINEL);
    // Cannot fail: the arguments are one integer.
    encode::<GuestSyncDelimited>(out, Some(&GuestSyncDelimitedArguments { id }))
        .expect("a sync request encodes");
}

/// Whether a message is the answer to the sync request with `id`.
pub(crate) fn is_reply(message: &[u8], id: i64) -> bool {
    matches!(parse_reply::<MaybeInt>(message), Ok(Reply::Return(MaybeInt(Some(n)))) if n == id)
}

/// Reads the frames `decoder` holds until the answer to the sync `id`; whether it
/// came. Everything else is stale and skipped: other responses, garbage, the agent's
/// complaint about a 0xFF, frames too large to keep.
pub(crate) fn find_reply(decoder: &mut Decoder, id: i64) -> bool {
    loop {
        match decoder.next_frame() {
            Ok(Some(Frame::Message(range))) => {
                if is_reply(decoder.bytes(range), id) {
                    return true;
                }
            }
            Ok(Some(Frame::Sentinel | Frame::Garbage(_))) | Err(_) => {}
            Ok(None) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{encode_sync, is_reply, new_id};

    #[test]
    fn ids_are_fresh_and_in_range() {
        let a = new_id();
        let b = new_id();
        assert_ne!(a, b);
        assert!((0..1 << 53).contains(&a));
    }

    #[test]
    fn the_request_starts_with_a_sentinel() {
        let mut out = Vec::new();
        encode_sync(&mut out, 5);
        assert_eq!(
            out,
            b"\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":5}}"
        );
    }

    #[test]
    fn recognises_only_its_own_answer() {
        assert!(is_reply(br#"{"return": 77}"#, 77));
        assert!(!is_reply(br#"{"return": 78}"#, 77));
        assert!(!is_reply(
            br#"{"error": {"class": "GenericError", "desc": "JSON parse error, stray '\uFFFD'"}}"#,
            77
        ));
        assert!(!is_reply(br#"{"return": {}}"#, 77));
        assert!(!is_reply(b"{\"return\": 77", 77));
    }
}
