//! Reading JSON frames with serde_json, in one pass and with errors that name the field.
//!
//! The visitors here never fail on a value of the wrong type: they report what they found ([`Scalar`],
//! [`JsonShape::other`]) and the frame decoders turn that into a [`DecodeError`] naming the field. Failing inside serde
//! would leave the rest of the array or object unread, and serde_json would then report trailing characters instead
//! of the real problem. Only JSON syntax errors (and serde_json's nesting limit) stop a parse early.

use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::error::{DecodeError, JsonKind};

/// Parses all of `text` with `seed`, rejecting anything but whitespace after the value.
pub(crate) fn parse_whole<'de, S>(text: &'de str, seed: S) -> Result<S::Value, DecodeError>
where
    S: DeserializeSeed<'de>,
{
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = seed.deserialize(&mut deserializer).map_err(invalid_json)?;
    deserializer.end().map_err(invalid_json)?;
    Ok(value)
}

/// A JSON syntax error, with serde_json's description and position.
fn invalid_json(error: serde_json::Error) -> DecodeError {
    DecodeError::InvalidJson(error.to_string())
}

/// Any JSON value, kept only as far as the frame fields need: strings, booleans and unsigned integers.
#[derive(Debug)]
pub(crate) enum Scalar {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A non-negative integer that fits in a u64.
    Unsigned(u64),
    /// Any other number.
    OtherNumber,
    /// A string, its escapes decoded.
    Str(String),
    /// An array, skipped.
    Array,
    /// An object, skipped.
    Object,
}

impl Scalar {
    /// The kind of value this was, for error messages.
    pub(crate) fn kind(&self) -> JsonKind {
        match self {
            Scalar::Null => JsonKind::Null,
            Scalar::Bool(_) => JsonKind::Bool,
            Scalar::Unsigned(_) | Scalar::OtherNumber => JsonKind::Number,
            Scalar::Str(_) => JsonKind::String,
            Scalar::Array => JsonKind::Array,
            Scalar::Object => JsonKind::Object,
        }
    }

    /// The string `field` must hold.
    pub(crate) fn into_string(self, field: &'static str) -> Result<String, DecodeError> {
        match self {
            Scalar::Str(text) => Ok(text),
            other => Err(DecodeError::WrongType { field, expected: "a string", found: other.kind() }),
        }
    }

    /// The string or null `field` must hold (refs are either).
    pub(crate) fn into_optional_string(self, field: &'static str) -> Result<Option<String>, DecodeError> {
        match self {
            Scalar::Str(text) => Ok(Some(text)),
            Scalar::Null => Ok(None),
            other => Err(DecodeError::WrongType { field, expected: "a string or null", found: other.kind() }),
        }
    }

    /// Whether this is the string `expected`.
    pub(crate) fn is_str(&self, expected: &str) -> bool {
        matches!(self, Scalar::Str(text) if text == expected)
    }
}

impl<'de> de::Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// Builds a [`Scalar`] from whatever value comes.
struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }

    fn visit_none<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Scalar, E> {
        Ok(Scalar::Unsigned(value))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Scalar, E> {
        Ok(Scalar::OtherNumber)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Scalar, E> {
        Ok(Scalar::OtherNumber)
    }

    fn visit_str<E>(self, value: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar, A::Error> {
        skip_elements(seq)?;
        Ok(Scalar::Array)
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Scalar, M::Error> {
        skip_entries(map)?;
        Ok(Scalar::Object)
    }
}

/// Reads and discards the rest of an array.
pub(crate) fn skip_elements<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Reads and discards the rest of an object.
pub(crate) fn skip_entries<'de, M: MapAccess<'de>>(mut map: M) -> Result<(), M::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// The fields of one kind of JSON object, recognized from their keys.
pub(crate) trait FieldKey: Sized {
    /// The field a key names; unknown keys map to a catch-all variant.
    fn from_key(key: &str) -> Self;
}

/// Reads an object key as a [`FieldKey`], without allocating.
pub(crate) struct Key<K>(PhantomData<K>);

impl<K> Key<K> {
    /// A seed for one key.
    pub(crate) fn seed() -> Self {
        Key(PhantomData)
    }
}

impl<'de, K: FieldKey> DeserializeSeed<'de> for Key<K> {
    type Value = K;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<K, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, K: FieldKey> Visitor<'de> for Key<K> {
    type Value = K;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<K, E> {
        Ok(K::from_key(key))
    }
}

/// A reader for one container shape (array or object) that accepts, and reports, any other value.
pub(crate) trait JsonShape<'de>: Sized {
    /// What reading produces.
    type Output;

    /// Says what was expected, for serde's messages (only seen with JSON syntax errors).
    fn expecting(&self) -> &'static str;

    /// The value was not the shape this reader wants; `found` says what it was.
    fn other(self, found: JsonKind) -> Self::Output;

    /// Reads an array. By default arrays are another shape: skipped and reported.
    fn array<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Output, A::Error> {
        skip_elements(seq)?;
        Ok(self.other(JsonKind::Array))
    }

    /// Reads an object. By default objects are another shape: skipped and reported.
    fn object<M: MapAccess<'de>>(self, map: M) -> Result<Self::Output, M::Error> {
        skip_entries(map)?;
        Ok(self.other(JsonKind::Object))
    }
}

/// Adapts a [`JsonShape`] to serde: a seed that reads any value and hands it to the shape reader.
pub(crate) struct Shaped<T>(pub(crate) T);

impl<'de, T: JsonShape<'de>> DeserializeSeed<'de> for Shaped<T> {
    type Value = T::Output;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<T::Output, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, T: JsonShape<'de>> Visitor<'de> for Shaped<T> {
    type Value = T::Output;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0.expecting())
    }

    fn visit_unit<E>(self) -> Result<T::Output, E> {
        Ok(self.0.other(JsonKind::Null))
    }

    fn visit_none<E>(self) -> Result<T::Output, E> {
        Ok(self.0.other(JsonKind::Null))
    }

    fn visit_bool<E>(self, _: bool) -> Result<T::Output, E> {
        Ok(self.0.other(JsonKind::Bool))
    }

    fn visit_u64<E>(self, _: u64) -> Result<T::Output, E> {
        Ok(self.0.other(JsonKind::Number))
    }

    fn visit_i64<E>(self, _: i64) -> Result<T::Output, E> {
        Ok(self.0.other(JsonKind::Number))
    }

    fn visit_f64<E>(self, _: f64) -> Result<T::Output, E> {
        Ok(self.0.other(JsonKind::Number))
    }

    fn visit_str<E>(self, _: &str) -> Result<T::Output, E> {
        Ok(self.0.other(JsonKind::String))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T::Output, A::Error> {
        self.0.array(seq)
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<T::Output, M::Error> {
        self.0.object(map)
    }
}

/// Remembers the first problem found while reading on, so that the whole value is still consumed.
#[derive(Default)]
pub(crate) struct FirstError(Option<DecodeError>);

impl FirstError {
    /// Records `error` unless an earlier one is already recorded.
    pub(crate) fn record(&mut self, error: DecodeError) {
        self.0.get_or_insert(error);
    }

    /// Fails with the recorded problem, if any.
    pub(crate) fn check(self) -> Result<(), DecodeError> {
        self.0.map_or(Ok(()), Err)
    }
}
