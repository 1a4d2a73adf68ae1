//! The argument deserializer's error: serde's kinds, worded as QEMU words them once
//! the path of the offending value is known.
//!
//! serde reports a missing field or a bad enum value from inside a `Visitor`, which
//! does not know where it is. Such errors travel up unresolved until the deserializer
//! of the enclosing value adds its path; errors the deserializer makes itself are
//! resolved where they arise.

use std::fmt;

use super::path::Path;

/// An error while reading arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeError(Kind);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// The final text.
    Resolved(String),
    /// A text from a `Deserialize` impl (such as QEMU's base64 error), used as is.
    Custom(String),
    MissingField(String),
    UnknownField(String),
    UnknownVariant(String),
    /// A value of the wrong kind; what was expected.
    InvalidType(String),
    /// A value of the right kind out of range; what was expected.
    InvalidValue(String),
}

impl DeError {
    /// `Invalid parameter type for 'P', expected: <what>` (QEMU's
    /// QERR_INVALID_PARAMETER_TYPE).
    pub(crate) fn invalid_type_at(path: &Path<'_>, what: &str) -> Self {
        DeError(Kind::InvalidType(what.to_owned())).at(path)
    }

    /// `Parameter 'P' expects <what>` (QEMU's QERR_INVALID_PARAMETER_VALUE).
    pub(crate) fn expects_at(path: &Path<'_>, what: &str) -> Self {
        DeError(Kind::InvalidValue(what.to_owned())).at(path)
    }

    /// An error whose text is final.
    pub(crate) fn resolved(text: String) -> Self {
        DeError(Kind::Resolved(text))
    }

    /// Words the error for a value at `path` (for a struct, the struct's path), unless
    /// it already has its words.
    pub(crate) fn at(self, path: &Path<'_>) -> Self {
        let text = match self.0 {
            Kind::Resolved(_) | Kind::Custom(_) => return self,
            Kind::MissingField(field) => format!("Parameter '{}' is missing", path.member(&field)),
            Kind::UnknownField(field) => {
                format!("Parameter '{}' is unexpected", path.member(&field))
            }
            Kind::UnknownVariant(value) => {
                format!("Parameter '{path}' does not accept value '{value}'")
            }
            Kind::InvalidType(what) => {
                format!("Invalid parameter type for '{path}', expected: {what}")
            }
            Kind::InvalidValue(what) => format!("Parameter '{path}' expects {what}"),
        };
        DeError(Kind::Resolved(text))
    }

    /// The text for the error response.
    pub(crate) fn into_desc(self) -> String {
        match self.at(&Path::Root).0 {
            Kind::Resolved(text) | Kind::Custom(text) => text,
            // `at` resolves every other kind; Display words them anyway.
            other => DeError(other).to_string(),
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Resolved(text) | Kind::Custom(text) => f.write_str(text),
            Kind::MissingField(field) => write!(f, "Parameter '{field}' is missing"),
            Kind::UnknownField(field) => write!(f, "Parameter '{field}' is unexpected"),
            Kind::UnknownVariant(value) => write!(f, "value '{value}' is not accepted"),
            Kind::InvalidType(what) => write!(f, "Invalid parameter type, expected: {what}"),
            Kind::InvalidValue(what) => write!(f, "expected {what}"),
        }
    }
}

impl std::error::Error for DeError {}

impl serde::de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(Kind::Custom(msg.to_string()))
    }

    fn invalid_type(_: serde::de::Unexpected<'_>, expected: &dyn serde::de::Expected) -> Self {
        DeError(Kind::InvalidType(expected.to_string()))
    }

    fn invalid_value(_: serde::de::Unexpected<'_>, expected: &dyn serde::de::Expected) -> Self {
        DeError(Kind::InvalidValue(expected.to_string()))
    }

    fn invalid_length(_: usize, expected: &dyn serde::de::Expected) -> Self {
        DeError(Kind::InvalidValue(expected.to_string()))
    }

    fn unknown_variant(variant: &str, _: &'static [&'static str]) -> Self {
        DeError(Kind::UnknownVariant(variant.to_owned()))
    }

    fn unknown_field(field: &str, _: &'static [&'static str]) -> Self {
        DeError(Kind::UnknownField(field.to_owned()))
    }

    fn missing_field(field: &'static str) -> Self {
        DeError(Kind::MissingField(field.to_owned()))
    }

    fn duplicate_field(field: &'static str) -> Self {
        // The JSON parser refuses duplicate keys, so only an alias can get here.
        DeError(Kind::Custom(format!("Parameter '{field}' is given twice")))
    }
}

#[cfg(test)]
mod tests {
    use serde::de::Error as _;

    use super::*;

    #[test]
    fn resolved_at_the_innermost_path_only() {
        let vcpus = Path::Member(&Path::Root, "vcpus");
        let first = Path::Index(&vcpus, 1);
        let e = DeError::missing_field("online")
            .at(&first)
            .at(&vcpus)
            .at(&Path::Root);
        assert_eq!(e.into_desc(), "Parameter 'vcpus[1].online' is missing");
        let whence = Path::Member(&Path::Root, "whence");
        assert_eq!(
            DeError::unknown_variant("foo", &[]).at(&whence).into_desc(),
            "Parameter 'whence' does not accept value 'foo'"
        );
        assert_eq!(
            DeError::custom("Base64 data contains invalid characters")
                .at(&whence)
                .into_desc(),
            "Base64 data contains invalid characters"
        );
        assert_eq!(
            DeError::unknown_field("foo", &[]).into_desc(),
            "Parameter 'foo' is unexpected"
        );
    }
}
