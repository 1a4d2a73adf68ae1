//! Serde support for members that are bytes in Rust and base64 text on the wire.
//!
//! The schema marks such members with the `base64` member feature; the generator puts
//! `#[serde(with = "crate::base64")]` (or `crate::base64::option`) on them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serializer};

/// Writes `bytes` as a standard, padded base64 string.
pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&STANDARD.encode(bytes))
}

/// Reads a base64 string into bytes, with QEMU's error text for bad input.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
    decode(&text).map_err(serde::de::Error::custom)
}

/// Decodes base64 text as QEMU's agent does: padding optional, whitespace not allowed.
pub fn decode(text: &str) -> Result<Vec<u8>, InvalidBase64> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    LENIENT.decode(text).map_err(|_| InvalidBase64)
}

/// Encodes bytes as standard, padded base64.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
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
}
