//! What every command descriptor provides.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A command of the protocol, as a type: its wire name, argument type and return type.
///
/// Descriptors are unit structs generated in [`crate::commands`]; a client sends
/// `Arguments` and reads back `Returns`, a server does the reverse.
pub trait Command {
    /// The name on the wire, such as `guest-file-open`.
    const NAME: &'static str;
    /// Whether the agent answers on success (`false` for guest-shutdown and guest-suspend-*).
    const SUCCESS_RESPONSE: bool;
    /// The `arguments` object ([`Empty`] when the command takes none).
    type Arguments: Serialize + DeserializeOwned;
    /// The `return` value ([`Empty`] when the command returns nothing).
    type Returns: Serialize + DeserializeOwned;
}

/// An empty object: the arguments of a command that takes none, or the `{}` that a
/// command without a return value answers with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Empty {}

#[cfg(test)]
mod tests {
    use super::Empty;

    #[test]
    fn empty_is_an_object_both_ways() {
        assert_eq!(serde_json::to_string(&Empty {}).unwrap(), "{}");
        let back: Empty = serde_json::from_str(r#"{"ignored": 1}"#).unwrap();
        assert_eq!(back, Empty {});
        assert!(serde_json::from_str::<Empty>("null").is_err());
    }
}
