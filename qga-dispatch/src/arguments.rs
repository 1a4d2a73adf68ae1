//! The `arguments` of one request, handed to the generated `dispatch`.
//!
//! `dispatch` either parses them into the command's argument type or checks that
//! there are none. Both answer with QEMU's texts (see the `de` module) and move the
//! values out rather than copy them.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::de;
use crate::error::Error;

/// The members of a request's `arguments` object (empty when it had none).
#[derive(Debug)]
pub struct Arguments<'a> {
    members: &'a mut Map<String, Value>,
}

impl<'a> Arguments<'a> {
    /// The arguments in `members`; parsing takes the values out of it.
    pub fn new(members: &'a mut Map<String, Value>) -> Self {
        Arguments { members }
    }

    /// Whether there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Deserializes the arguments as `T`, the command's argument type.
    ///
    /// ```
    /// # use qga_dispatch::Arguments;
    /// #[derive(Debug, serde::Deserialize)]
    /// #[serde(deny_unknown_fields)]
    /// struct Read { handle: i64, count: Option<i64> }
    /// let mut members = serde_json::from_str(r#"{"handle": "x"}"#).unwrap();
    /// let error = Arguments::new(&mut members).parse::<Read>().unwrap_err();
    /// assert_eq!(error.desc, "Invalid parameter type for 'handle', expected: integer");
    /// ```
    pub fn parse<T: DeserializeOwned>(self) -> Result<T, Error> {
        de::from_map(std::mem::take(self.members)).map_err(|e| Error::generic(e.into_desc()))
    }

    /// Checks that there are no arguments, for a command that takes none.
    pub fn empty(self) -> Result<(), Error> {
        match self.members.keys().next() {
            None => Ok(()),
            Some(name) => Err(Error::generic(format!("Parameter '{name}' is unexpected"))),
        }
    }
}
