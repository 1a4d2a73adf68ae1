//! The error of parsing a string into a generated enum.

use std::fmt;

/// A string that is not a value of the enum it was parsed as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEnumValue {
    enum_name: &'static str,
    value: String,
}

impl InvalidEnumValue {
    /// `value` is not a value of the schema's enum `enum_name`.
    pub fn new(enum_name: &'static str, value: &str) -> Self {
        InvalidEnumValue {
            enum_name,
            value: value.to_owned(),
        }
    }

    /// The rejected text.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for InvalidEnumValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' is not a value of {}", self.value, self.enum_name)
    }
}

impl std::error::Error for InvalidEnumValue {}
