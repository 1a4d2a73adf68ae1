//! How much one message may ask of the agent.
//!
//! QEMU's JSON streamer caps every message (`qobject/json-streamer.c`); ours applies
//! the same caps, and they can be changed for tests or for a constrained guest.

/// The caps on one message. A message over any of them is answered with one error
/// and skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of all the tokens of one message together (whitespace between tokens
    /// not counted): `JSON token size limit exceeded` above it.
    pub token_size: usize,
    /// Tokens in one message: `JSON token count limit exceeded` above it.
    pub token_count: usize,
    /// Open objects and arrays at once, the outermost one included: `JSON nesting
    /// depth limit exceeded` above it.
    pub nesting: usize,
}

impl Limits {
    /// QEMU's values: 64 MiB of tokens, 2 Mi tokens, 1024 levels.
    pub const QEMU: Limits = Limits {
        token_size: 64 << 20,
        token_count: 2 << 20,
        nesting: 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::QEMU
    }
}
