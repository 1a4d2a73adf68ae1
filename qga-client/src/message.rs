//! Requests out, replies in: the JSON shapes of the protocol on the client's side.
//!
//! A request is `{"execute": NAME, "arguments": {...}}`; a reply is `{"return": VALUE}`
//! or `{"error": {"class": ..., "desc": ...}}`, possibly with other members (`id`).
//! [`parse_reply`] reads a reply in one pass, deserialising the `return` value straight
//! into the caller's type, which may borrow from the input (a file chunk's base64 text
//! is then never copied). [`encode`] and [`decode`] take the name and the types from a
//! command's descriptor ([`qga_types::Command`]).

use std::fmt;
use std::marker::PhantomData;

use qga_types::Command;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A request object.
#[derive(Serialize)]
struct Request<'a, A: ?Sized> {
    execute: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    arguments: Option<&'a A>,
}

/// Appends the request for `name` to `out`.
pub(crate) fn encode_request<A: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    name: &str,
    arguments: Option<&A>,
) -> Result<(), Error> {
    serde_json::to_writer(
        &mut *out,
        &Request {
            execute: name,
            arguments,
        },
    )
    .map_err(|source| Error::Encode {
        command: name.to_owned(),
        source,
    })
}

/// Appends the request for the command `C` to `out`; `None` sends no `arguments`
/// member at all.
pub(crate) fn encode<C: Command>(
    out: &mut Vec<u8>,
    arguments: Option<&C::Arguments>,
) -> Result<(), Error> {
    encode_request(out, C::NAME, arguments)
}

/// The `error` member of a reply.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub(crate) class: String,
    #[serde(default)]
    pub(crate) desc: String,
}

/// A reply: the `return` value, or the agent's error.
#[derive(Debug)]
pub(crate) enum Reply<R> {
    Return(R),
    Error(ErrorBody),
}

/// Parses a reply whose `return` value is an `R`.
pub(crate) fn parse_reply<'de, R: Deserialize<'de>>(
    bytes: &'de [u8],
) -> serde_json::Result<Reply<R>> {
    serde_json::from_slice(bytes)
}

/// Parses the reply to `command` and turns an error reply into an [`Error`].
///
/// Broken JSON is a [`Error::Protocol`] (the stream is suspect); valid JSON of the wrong
/// shape is an [`Error::UnexpectedReply`].
pub(crate) fn decode_reply<'de, R: Deserialize<'de>>(
    command: &str,
    bytes: &'de [u8],
) -> Result<R, Error> {
    match parse_reply::<R>(bytes) {
        Ok(Reply::Return(value)) => Ok(value),
        Ok(Reply::Error(body)) => Err(Error::from_agent(command, &body.class, &body.desc)),
        Err(e) if e.is_data() => Err(Error::UnexpectedReply {
            command: command.to_owned(),
            source: e,
        }),
        Err(e) => Err(Error::Protocol(format!(
            "bad JSON in the reply to {command}: {e}"
        ))),
    }
}

/// Parses the reply to the command `C` into its return type; see [`decode_reply`].
pub(crate) fn decode<C: Command>(bytes: &[u8]) -> Result<C::Returns, Error> {
    decode_reply::<C::Returns>(C::NAME, bytes)
}

impl<'de, R: Deserialize<'de>> Deserialize<'de> for Reply<R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ReplyVisitor<R>(PhantomData<R>);

        impl<'de, R: Deserialize<'de>> Visitor<'de> for ReplyVisitor<R> {
            type Value = Reply<R>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a reply object with `return` or `error`")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Reply<R>, A::Error> {
                let mut reply = None;
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Return if reply.is_none() => {
                            reply = Some(Reply::Return(map.next_value()?))
                        }
                        Key::Error if reply.is_none() => {
                            reply = Some(Reply::Error(map.next_value()?))
                        }
                        Key::Return | Key::Error => {
                            return Err(de::Error::custom("a reply with both `return` and `error`"))
                        }
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                reply.ok_or_else(|| de::Error::custom("a reply without `return` or `error`"))
            }
        }

        deserializer.deserialize_map(ReplyVisitor(PhantomData))
    }
}

/// The members of a reply that matter.
enum Key {
    Return,
    Error,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl Visitor<'_> for KeyVisitor {
            type Value = Key;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "return" => Key::Return,
                    "error" => Key::Error,
                    _ => Key::Other,
                })
            }
        }

        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// A `return` value that is kept only when it is an integer (a sync id); anything else
/// is skipped without building it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MaybeInt(pub(crate) Option<i64>);

impl<'de> Deserialize<'de> for MaybeInt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MaybeIntVisitor;

        impl<'de> Visitor<'de> for MaybeIntVisitor {
            type Value = MaybeInt;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<MaybeInt, E> {
                Ok(MaybeInt(Some(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<MaybeInt, E> {
                Ok(MaybeInt(i64::try_from(v).ok()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<MaybeInt, E> {
                Ok(MaybeInt(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<MaybeInt, E> {
                Ok(MaybeInt(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<MaybeInt, E> {
                Ok(MaybeInt(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<MaybeInt, E> {
                Ok(MaybeInt(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeInt, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeInt(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeInt, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeInt(None))
            }
        }

        deserializer.deserialize_any(MaybeIntVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::{decode, decode_reply, encode, encode_request, parse_reply, MaybeInt, Reply};
    use crate::error::Error;
    use qga_types::commands::{GuestFileClose, GuestFileCloseArguments, GuestFsfreezeThaw};
    use serde::Deserialize;
    use std::borrow::Cow;

    #[test]
    fn encodes_requests() {
        let mut out = Vec::new();
        encode_request::<()>(&mut out, "guest-ping", None).unwrap();
        assert_eq!(out, br#"{"execute":"guest-ping"}"#);
        out.clear();
        encode_request(
            &mut out,
            "guest-file-open",
            Some(&serde_json::json!({"path": "/x"})),
        )
        .unwrap();
        assert_eq!(
            out,
            br#"{"execute":"guest-file-open","arguments":{"path":"/x"}}"#
        );
        out.clear();
        encode::<GuestFileClose>(&mut out, Some(&GuestFileCloseArguments { handle: 3 })).unwrap();
        assert_eq!(
            out,
            br#"{"execute":"guest-file-close","arguments":{"handle":3}}"#
        );
        out.clear();
        encode::<GuestFsfreezeThaw>(&mut out, None).unwrap();
        assert_eq!(out, br#"{"execute":"guest-fsfreeze-thaw"}"#);
    }

    #[test]
    fn parses_replies_in_one_pass() {
        let Reply::Return(v) =
            parse_reply::<i64>(br#"{"return": 3, "id": [1, {"x": 2}]}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(v, 3);
        let Reply::Error(e) =
            parse_reply::<i64>(br#"{"id": 1, "error": {"class": "GenericError", "desc": "no"}}"#)
                .unwrap()
        else {
            panic!()
        };
        assert_eq!((e.class.as_str(), e.desc.as_str()), ("GenericError", "no"));
        assert!(parse_reply::<i64>(br#"{"id": 1}"#).is_err());
        assert!(parse_reply::<i64>(br#"{"return": 1, "error": {}}"#).is_err());
        assert!(parse_reply::<i64>(br#"[1]"#).is_err());
        // A null return is a value, not an absent one.
        let Reply::Return(v) = parse_reply::<serde_json::Value>(br#"{"return": null}"#).unwrap()
        else {
            panic!()
        };
        assert!(v.is_null());
    }

    #[test]
    fn return_values_can_borrow() {
        #[derive(Deserialize)]
        struct Chunk<'a> {
            #[serde(borrow, rename = "buf-b64")]
            buf: Cow<'a, str>,
        }
        let input = br#"{"return": {"count": 3, "buf-b64": "YWJj", "eof": true}}"#;
        let Reply::Return(chunk) = parse_reply::<Chunk<'_>>(input).unwrap() else {
            panic!()
        };
        assert!(matches!(chunk.buf, Cow::Borrowed("YWJj")));
    }

    #[test]
    fn sorts_decoding_failures() {
        assert!(matches!(
            decode_reply::<i64>("x", br#"{"return": "s"}"#),
            Err(Error::UnexpectedReply { .. })
        ));
        assert!(matches!(
            decode_reply::<i64>("x", br#"{"return": 1,,}"#),
            Err(Error::Protocol(_))
        ));
        assert_eq!(decode::<GuestFsfreezeThaw>(br#"{"return": 2}"#).unwrap(), 2);
        assert!(matches!(
            decode_reply::<i64>("guest-x", br#"{"error": {"class": "CommandNotFound", "desc": "The command guest-x has not been found"}}"#),
            Err(Error::CommandNotFound { .. })
        ));
    }

    #[test]
    fn maybe_int_skips_anything_else() {
        let parse = |s: &str| match parse_reply::<MaybeInt>(s.as_bytes()).unwrap() {
            Reply::Return(m) => m.0,
            Reply::Error(_) => panic!(),
        };
        assert_eq!(parse(r#"{"return": 12345}"#), Some(12345));
        assert_eq!(parse(r#"{"return": {"pid": 3}}"#), None);
        assert_eq!(parse(r#"{"return": [1, 2]}"#), None);
        assert_eq!(parse(r#"{"return": "7"}"#), None);
    }
}
