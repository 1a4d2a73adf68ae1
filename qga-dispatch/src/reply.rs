//! The return value of a command, already encoded.
//!
//! The generated `dispatch` serializes the handler's return value once, into a
//! [`Reply`]; the response writer splices these bytes into `{"return": ...}` as they
//! are, so a large reply (a 48 MiB file read) is neither parsed again nor copied
//! into an intermediate `Value`.

use serde::Serialize;

use crate::response::write_json;
use crate::Error;

/// A command's return value as JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    json: String,
}

impl Reply {
    /// Encodes `value`.
    pub fn new<T: Serialize + ?Sized>(value: &T) -> Result<Reply, Error> {
        let mut json = Vec::new();
        write_json(&mut json, value)
            .map_err(|e| Error::generic(format!("failed to encode the reply: {e}")))?;
        // serde_json writes UTF-8 only.
        let json = String::from_utf8(json)
            .map_err(|e| Error::generic(format!("failed to encode the reply: {e}")))?;
        Ok(Reply { json })
    }

    /// `{}`: the reply of a command that returns nothing.
    pub fn empty() -> Reply {
        Reply {
            json: "{}".to_owned(),
        }
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.json
    }

    /// The JSON text, owned.
    pub fn into_string(self) -> String {
        self.json
    }
}

#[cfg(test)]
mod tests {
    use super::Reply;

    #[test]
    fn encodes_once_with_qemu_spacing() {
        assert_eq!(Reply::empty().as_str(), "{}");
        assert_eq!(Reply::new(&12345_i64).unwrap().as_str(), "12345");
        assert_eq!(Reply::new(&qga_types::Empty {}).unwrap().as_str(), "{}");
        let map: std::collections::BTreeMap<(i32, i32), i32> = [((1, 2), 3)].into();
        assert!(Reply::new(&map)
            .unwrap_err()
            .desc
            .starts_with("failed to encode the reply: "));
    }
}
