//! A serde `Deserializer` over the parsed `arguments` that behaves like QEMU's input
//! visitor (`qapi/qobject-input-visitor.c`, `qapi/qapi-visit-core.c`).
//!
//! Every `deserialize_*` checks the JSON kind against what the type asks for and
//! answers in QEMU's words, with the member's full name:
//! - `Invalid parameter type for 'handle', expected: integer` (string, boolean,
//!   number, array, object, null likewise);
//! - `Parameter 'path' is missing`, `Parameter 'foo' is unexpected`;
//! - `Parameter 'whence' does not accept value 'foo'` for an enum;
//! - `Parameter 'x' expects uint64` for an unsigned integer that is negative, too
//!   large, a float or not a number (QEMU accepts -1 there; we do not), and
//!   `Parameter 'x' expects int32_t` / `uint32_t` ... for a sized integer out of range.
//!
//! The members of a struct are visited in the struct's order and unknown members last,
//! so a bad known member is reported before an unexpected one, as QEMU does. An
//! optional member that is present must have a value of its type: `null` is not
//! "absent" (QEMU's rule too). Values are moved out of the tree, never copied: a
//! 48 MiB base64 string reaches its field as the same allocation.

mod error;
mod path;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde_json::{Map, Number, Value};

pub(crate) use error::DeError;
pub(crate) use path::Path;

/// Deserializes `T` from the members of an `arguments` object.
pub(crate) fn from_map<T: DeserializeOwned>(members: Map<String, Value>) -> Result<T, DeError> {
    T::deserialize(ValueDe {
        value: Value::Object(members),
        path: Path::Root,
    })
    .map_err(|e: DeError| e.at(&Path::Root))
}

/// One value and where it is.
struct ValueDe<'p> {
    value: Value,
    path: Path<'p>,
}

impl ValueDe<'_> {
    /// The value is not of the kind the type wants.
    fn wrong_kind(&self, wanted: &str) -> DeError {
        DeError::invalid_type_at(&self.path, wanted)
    }
}

/// An unsigned integer up to `max` (named `name`), with QEMU's texts: `uint64` when the
/// value is not an unsigned 64-bit integer at all, `uintN_t` when it is out of range.
fn unsigned(value: &Value, path: &Path<'_>, max: u64, name: &str) -> Result<u64, DeError> {
    match value {
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) if u <= max => Ok(u),
            (Some(_), _) | (None, Some(_)) if max != u64::MAX => {
                Err(DeError::expects_at(path, name))
            }
            _ => Err(DeError::expects_at(path, "uint64")),
        },
        _ => Err(DeError::expects_at(path, "uint64")),
    }
}

/// A signed integer in `min..=max`, with QEMU's texts.
fn signed(value: &Value, path: &Path<'_>, min: i64, max: i64, name: &str) -> Result<i64, DeError> {
    match value.as_i64() {
        Some(i) if (min..=max).contains(&i) => Ok(i),
        Some(_) => Err(DeError::expects_at(path, name)),
        None => Err(DeError::invalid_type_at(path, "integer")),
    }
}

fn float(n: &Number) -> f64 {
    // Without serde_json's arbitrary_precision every number has an f64 value.
    n.as_f64().unwrap_or(f64::NAN)
}

macro_rules! signed_method {
    ($method:ident, $visit:ident, $ty:ty, $name:literal) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let n = signed(
                &self.value,
                &self.path,
                <$ty>::MIN.into(),
                <$ty>::MAX.into(),
                $name,
            )?;
            // `signed` checked the range.
            let n = <$ty>::try_from(n).map_err(|_| DeError::expects_at(&self.path, $name))?;
            visitor.$visit(n).map_err(|e: DeError| e.at(&self.path))
        }
    };
}

macro_rules! unsigned_method {
    ($method:ident, $visit:ident, $ty:ty, $name:literal) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let n = unsigned(&self.value, &self.path, <$ty>::MAX.into(), $name)?;
            // `unsigned` checked the range.
            let n = <$ty>::try_from(n).map_err(|_| DeError::expects_at(&self.path, $name))?;
            visitor.$visit(n).map_err(|e: DeError| e.at(&self.path))
        }
    };
}

impl<'de> de::Deserializer<'de> for ValueDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let ValueDe { value, path } = self;
        let result = match value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => visitor.visit_i64(i),
                (None, Some(u)) => visitor.visit_u64(u),
                (None, None) => visitor.visit_f64(float(&n)),
            },
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => visitor.visit_seq(SeqDe::new(items, &path)),
            Value::Object(members) => {
                visitor.visit_map(MapDe::new(members.into_iter().collect(), &path))
            }
        };
        result.map_err(|e: DeError| e.at(&path))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Bool(b) => visitor.visit_bool(b).map_err(|e: DeError| e.at(&self.path)),
            _ => Err(self.wrong_kind("boolean")),
        }
    }

    signed_method!(deserialize_i8, visit_i8, i8, "int8_t");
    signed_method!(deserialize_i16, visit_i16, i16, "int16_t");
    signed_method!(deserialize_i32, visit_i32, i32, "int32_t");

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value.as_i64() {
            Some(i) => visitor.visit_i64(i).map_err(|e: DeError| e.at(&self.path)),
            None => Err(self.wrong_kind("integer")),
        }
    }

    unsigned_method!(deserialize_u8, visit_u8, u8, "uint8_t");
    unsigned_method!(deserialize_u16, visit_u16, u16, "uint16_t");
    unsigned_method!(deserialize_u32, visit_u32, u32, "uint32_t");
    unsigned_method!(deserialize_u64, visit_u64, u64, "uint64");

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.value {
            Value::Number(n) => visitor
                .visit_f64(float(n))
                .map_err(|e: DeError| e.at(&self.path)),
            _ => Err(self.wrong_kind("number")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::String(s) => visitor
                .visit_string(s)
                .map_err(|e: DeError| e.at(&self.path)),
            _ => Err(self.wrong_kind("string")),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_byte_buf(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::String(s) => visitor
                .visit_byte_buf(s.into_bytes())
                .map_err(|e: DeError| e.at(&self.path)),
            _ => Err(self.wrong_kind("string")),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // Present means present, `null` included: the inner type judges the value.
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Null => visitor.visit_unit().map_err(|e: DeError| e.at(&self.path)),
            _ => Err(self.wrong_kind("null")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let ValueDe { value, path } = self;
        match value {
            Value::Array(items) => visitor
                .visit_seq(SeqDe::new(items, &path))
                .map_err(|e: DeError| e.at(&path)),
            _ => Err(DeError::invalid_type_at(&path, "array")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let ValueDe { value, path } = self;
        match value {
            Value::Object(members) => visitor
                .visit_map(MapDe::new(members.into_iter().collect(), &path))
                .map_err(|e: DeError| e.at(&path)),
            _ => Err(DeError::invalid_type_at(&path, "object")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let ValueDe { value, path } = self;
        let Value::Object(mut members) = value else {
            return Err(DeError::invalid_type_at(&path, "object"));
        };
        // Known members in the struct's order, then the others: QEMU visits the
        // members it knows and only then complains of the rest.
        let mut ordered = Vec::with_capacity(members.len());
        for field in fields {
            if let Some((key, value)) = members.remove_entry(*field) {
                ordered.push((key, value));
            }
        }
        ordered.extend(members);
        visitor
            .visit_map(MapDe::new(ordered, &path))
            .map_err(|e: DeError| e.at(&path))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            Value::String(s) => visitor
                .visit_enum(UnitVariant(s))
                .map_err(|e: DeError| e.at(&self.path)),
            _ => Err(self.wrong_kind("string")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

/// The elements of an array, each with its index in its path.
struct SeqDe<'a> {
    items: std::vec::IntoIter<Value>,
    index: usize,
    parent: &'a Path<'a>,
}

impl<'a> SeqDe<'a> {
    fn new(items: Vec<Value>, parent: &'a Path<'a>) -> Self {
        SeqDe {
            items: items.into_iter(),
            index: 0,
            parent,
        }
    }
}

impl<'de> de::SeqAccess<'de> for SeqDe<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(value) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(ValueDe {
            value,
            path: Path::Index(self.parent, index),
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The members of an object, each with its name in its path.
struct MapDe<'a> {
    members: std::vec::IntoIter<(String, Value)>,
    /// The member whose key was just read; its value comes next.
    current: Option<(String, Value)>,
    parent: &'a Path<'a>,
}

impl<'a> MapDe<'a> {
    fn new(members: Vec<(String, Value)>, parent: &'a Path<'a>) -> Self {
        MapDe {
            members: members.into_iter(),
            current: None,
            parent,
        }
    }
}

impl<'de> de::MapAccess<'de> for MapDe<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, value)) = self.members.next() else {
            return Ok(None);
        };
        let current = self.current.insert((key, value));
        // Errors about the key itself (unknown field) are worded by the struct.
        seed.deserialize(de::value::StrDeserializer::<DeError>::new(&current.0))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((key, value)) = self.current.take() else {
            return Err(DeError::resolved(
                "a member's value was asked for before its key".into(),
            ));
        };
        seed.deserialize(ValueDe {
            value,
            path: Path::Member(self.parent, &key),
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len())
    }
}

/// An enum value: a string naming a unit variant (QAPI enums have nothing else).
struct UnitVariant(String);

impl<'de> de::EnumAccess<'de> for UnitVariant {
    type Error = DeError;
    type Variant = UnitOnly;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, UnitOnly), DeError> {
        let name: de::value::StringDeserializer<DeError> = self.0.into_deserializer();
        seed.deserialize(name).map(|variant| (variant, UnitOnly))
    }
}

struct UnitOnly;

impl<'de> de::VariantAccess<'de> for UnitOnly {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value, DeError> {
        Err(de::Error::invalid_type(
            de::Unexpected::UnitVariant,
            &"newtype variant",
        ))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, DeError> {
        Err(de::Error::invalid_type(
            de::Unexpected::UnitVariant,
            &"tuple variant",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, DeError> {
        Err(de::Error::invalid_type(
            de::Unexpected::UnitVariant,
            &"struct variant",
        ))
    }
}
