//! The request envelope: `{"execute": NAME, "arguments": {...}, "id": ANY}`.
//!
//! Checked as QEMU's `qmp_dispatch_check_obj` does, with its texts: the top level must
//! be an object, `execute` a string, `arguments` an object, and nothing else may
//! appear (`exec-oob` included: the agent has no out-of-band execution). `id` can be
//! any value; it is given back in the response, on errors too.

use serde_json::{Map, Value};

use crate::arguments::Arguments;
use crate::error::Error;

/// A well-formed request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    name: String,
    arguments: Map<String, Value>,
    id: Option<Value>,
}

/// A malformed request: the error to answer with, and the `id` to answer it with.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// What is wrong.
    pub error: Error,
    /// The request's `id`, if it was an object with one.
    pub id: Option<Value>,
}

impl Request {
    /// Checks a parsed message.
    ///
    /// ```
    /// # use qga_dispatch::Request;
    /// let rejected = Request::from_value(serde_json::json!({"execute": 1, "id": 7})).unwrap_err();
    /// assert_eq!(rejected.error.desc, "QMP input member 'execute' must be a string");
    /// assert_eq!(rejected.id, Some(serde_json::json!(7)));
    /// ```
    pub fn from_value(value: Value) -> Result<Request, Rejected> {
        let Value::Object(mut members) = value else {
            return Err(Rejected {
                error: Error::generic("QMP input must be a JSON object"),
                id: None,
            });
        };
        let id = members.remove("id");
        let mut name = None;
        let mut arguments = Map::new();
        for (key, value) in members {
            let problem = match (key.as_str(), value) {
                ("execute", Value::String(text)) => {
                    name = Some(text);
                    continue;
                }
                ("execute", _) => "QMP input member 'execute' must be a string".to_owned(),
                ("arguments", Value::Object(members)) => {
                    arguments = members;
                    continue;
                }
                ("arguments", _) => "QMP input member 'arguments' must be an object".to_owned(),
                (other, _) => format!("QMP input member '{other}' is unexpected"),
            };
            return Err(Rejected {
                error: Error::generic(problem),
                id,
            });
        }
        match name {
            Some(name) => Ok(Request {
                name,
                arguments,
                id,
            }),
            None => Err(Rejected {
                error: Error::generic("QMP input lacks member 'execute'"),
                id,
            }),
        }
    }

    /// The command's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `id` to echo.
    pub fn id(&self) -> Option<&Value> {
        self.id.as_ref()
    }

    /// The command's name and its arguments, to call `dispatch` with.
    pub fn call(&mut self) -> (&str, Arguments<'_>) {
        (&self.name, Arguments::new(&mut self.arguments))
    }

    /// The name, the arguments and the id at once.
    pub(crate) fn parts(&mut self) -> (&str, Arguments<'_>, Option<&Value>) {
        (
            &self.name,
            Arguments::new(&mut self.arguments),
            self.id.as_ref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reject(value: Value) -> (String, Option<Value>) {
        let rejected = Request::from_value(value).unwrap_err();
        (rejected.error.desc, rejected.id)
    }

    #[test]
    fn envelope_errors_have_qemus_texts_and_keep_the_id() {
        assert_eq!(
            reject(json!([1])),
            ("QMP input must be a JSON object".into(), None)
        );
        assert_eq!(
            reject(json!("guest-ping")),
            ("QMP input must be a JSON object".into(), None)
        );
        assert_eq!(
            reject(json!({"id": 1})),
            ("QMP input lacks member 'execute'".into(), Some(json!(1)))
        );
        assert_eq!(
            reject(json!({"execute": null})),
            ("QMP input member 'execute' must be a string".into(), None)
        );
        assert_eq!(
            reject(json!({"execute": "guest-ping", "arguments": [], "id": "a"})),
            (
                "QMP input member 'arguments' must be an object".into(),
                Some(json!("a"))
            )
        );
        assert_eq!(
            reject(json!({"execute": "guest-ping", "foo": 1})),
            ("QMP input member 'foo' is unexpected".into(), None)
        );
        assert_eq!(
            reject(json!({"exec-oob": "guest-ping", "id": [1]})),
            (
                "QMP input member 'exec-oob' is unexpected".into(),
                Some(json!([1]))
            )
        );
    }

    #[test]
    fn a_good_request() {
        let mut request = Request::from_value(
            json!({"execute": "guest-sync", "arguments": {"id": 5}, "id": {"k": null}}),
        )
        .unwrap();
        assert_eq!(request.name(), "guest-sync");
        assert_eq!(request.id(), Some(&json!({"k": null})));
        let (name, arguments) = request.call();
        assert_eq!(name, "guest-sync");
        assert!(!arguments.is_empty());
        let bare = Request::from_value(json!({"execute": "guest-ping"})).unwrap();
        assert_eq!(bare.id(), None);
    }
}
