//! Serde support for members that are bytes in Rust and base64 text on the wire.
//!
//! The schema marks such members with the `base64` member feature; the generator puts
//! `#[serde(with = "crate::base64")]` (or `crate::base64::option`) on them.
//!
//! Encoding, and decoding of well-formed text, use the processor's vector
//! instructions (base64-simd): these members carry up to 48 MiB.

use base64_simd::STANDARD;
use serde::{Deserialize, Deserializer, Serializer};

/// Writes `bytes` as a standard, padded base64 string.
pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&encode(bytes))
}

/// Reads a base64 string into bytes, with QEMU's error text for bad input.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
    decode(&text).map_err(serde::de::Error::custom)
}

/// Decodes base64 text as QEMU's agent does: padding optional, whitespace not allowed.
pub fn decode(text: &str) -> Result<Vec<u8>, InvalidBase64> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine as _;
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    // Canonical padded text, what every encoder sends, decodes fast; whatever the
    // strict decoder takes, the lenient one takes too, with the same bytes.
    STANDARD
        .decode_to_vec(text)
        .or_else(|_| LENIENT.decode(text))
        .map_err(|_| InvalidBase64)
}

/// Encodes bytes as standard, padded base64.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode_to_string(bytes)
}

/// Appends the standard, padded base64 text of `bytes` to `out`.
///
/// Pieces of one text join into the encoding of the whole as long as each piece
/// but the last is a multiple of 3 bytes long.
pub fn encode_append(bytes: &[u8], out: &mut Vec<u8>) {
    STANDARD.encode_append(bytes, out);
}

/// Base64 text that does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidBase64;

impl std::fmt::Display for InvalidBase64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Base64 data contains invalid characters")
    }
}

impl std::error::Error for InvalidBase64 {}

/// The same for optional members.
pub mod option {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `Some(bytes)` as base64; `None` is skipped by the field's attributes.
    pub fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => super::serialize(bytes, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Reads an optional base64 string.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<std::borrow::Cow<'de, str>>::deserialize(deserializer)? {
            Some(text) => super::decode(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_errors() {
        assert_eq!(super::encode(b"hello"), "aGVsbG8=");
        assert_eq!(super::decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(super::decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(super::decode("").unwrap(), b"");
        assert_eq!(
            super::decode("a*b=").unwrap_err().to_string(),
            "Base64 data contains invalid characters"
        );
    }

    #[test]
    fn fast_and_lenient_decoders_agree() {
        // Every length around the vector widths, padded or not, with trailing bits.
        let bytes: Vec<u8> = (0..300u32).map(|i| (i * 151 % 256) as u8).collect();
        for n in 0..bytes.len() {
            let text = super::encode(&bytes[..n]);
            assert_eq!(super::decode(&text).unwrap(), &bytes[..n], "{n}");
            let bare = text.trim_end_matches('=');
            assert_eq!(super::decode(bare).unwrap(), &bytes[..n], "{n} unpadded");
        }
        assert_eq!(super::decode("YR==").unwrap(), b"a");
        for bad in ["Y", "YW=J", "YW J", "YWJj\n", "****"] {
            assert!(super::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pieces_join_on_multiples_of_three() {
        let bytes: Vec<u8> = (0..100u8).collect();
        let mut out = b"x".to_vec();
        for piece in bytes.chunks(33) {
            super::encode_append(piece, &mut out);
        }
        assert_eq!(&out[1..], super::encode(&bytes).as_bytes());
    }
}
