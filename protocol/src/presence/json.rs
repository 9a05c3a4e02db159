//! Reading presence payloads from JSON text, and writing them back as `serde_json::Value`s.
//!
//! `serde_json::Map` sorts its keys unless serde_json's `preserve_order` feature is on, and the order of presence
//! keys decides the order of events. So the top-level objects are read with a visitor into an ordered map, while
//! entries and metas, whose inner key order nobody observes, are ordinary `Value`s.

use std::fmt;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::error::PresenceError;
use super::types::{Change, Diff, Entry, Meta, State};

/// A JSON object read in text order; a repeated key keeps its first place and last value, as `JSON.parse` does.
struct OrderedObject(IndexMap<String, Value>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = OrderedObject;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut object = IndexMap::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    object.insert(key, value);
                }
                Ok(OrderedObject(object))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// Either an object read in order, or any other value (kept only to report it is not an object).
enum MaybeObject {
    Object(OrderedObject),
    Other,
}

impl<'de> Deserialize<'de> for MaybeObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AnyVisitor;
        impl<'de> Visitor<'de> for AnyVisitor {
            type Value = MaybeObject;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                OrderedObject::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(MaybeObject::Object)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeObject::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeObject::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MaybeObject::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MaybeObject::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeObject::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(MaybeObject::Other)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(MaybeObject::Other)
            }
        }
        deserializer.deserialize_any(AnyVisitor)
    }
}

/// The top level of a diff: only `joins` and `leaves` matter, anything else is skipped.
struct RawDiff {
    joins: Option<MaybeObject>,
    leaves: Option<MaybeObject>,
}

impl<'de> Deserialize<'de> for RawDiff {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DiffVisitor;
        impl<'de> Visitor<'de> for DiffVisitor {
            type Value = RawDiff;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a presence diff object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut diff = RawDiff { joins: None, leaves: None };
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "joins" => diff.joins = Some(map.next_value()?),
                        "leaves" => diff.leaves = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(diff)
            }
        }
        deserializer.deserialize_map(DiffVisitor)
    }
}

/// Reads one entry, checking that it has a `metas` array of objects with string `phx_ref`s.
fn entry_from_value(key: &str, value: Value) -> Result<Entry<Value>, PresenceError> {
    let Value::Object(mut fields) = value else {
        return Err(PresenceError::EntryNotObject { key: key.to_owned() });
    };
    let Some(Value::Array(raw_metas)) = fields.remove("metas") else {
        return Err(PresenceError::MissingMetas { key: key.to_owned() });
    };
    let mut metas = Vec::with_capacity(raw_metas.len());
    for (index, meta) in raw_metas.into_iter().enumerate() {
        let Value::Object(ref object) = meta else {
            return Err(PresenceError::MetaNotObject { key: key.to_owned(), index });
        };
        let Some(Value::String(phx_ref)) = object.get("phx_ref") else {
            return Err(PresenceError::MissingPhxRef { key: key.to_owned(), index });
        };
        metas.push(Meta { phx_ref: phx_ref.clone(), value: meta });
    }
    let extra = if fields.is_empty() { None } else { Some(Value::Object(fields)) };
    Ok(Entry { metas, extra })
}

/// Reads every entry of an ordered object.
fn entries(object: OrderedObject) -> Result<Vec<(String, Entry<Value>)>, PresenceError> {
    object
        .0
        .into_iter()
        .map(|(key, value)| {
            let entry = entry_from_value(&key, value)?;
            Ok((key, entry))
        })
        .collect()
}

/// Reads `joins` or `leaves` of a diff.
fn diff_side(side: Option<MaybeObject>, field: &'static str) -> Result<Vec<(String, Entry<Value>)>, PresenceError> {
    match side {
        Some(MaybeObject::Object(object)) => entries(object),
        Some(MaybeObject::Other) => Err(PresenceError::NotAnObject { what: field }),
        None => Err(PresenceError::MissingField { field }),
    }
}

impl State<Value> {
    /// Parses a `presence_state` payload: `{"key": {"metas": [{"phx_ref": "...", ...}], ...}, ...}`.
    ///
    /// Keys keep the order of the text; a repeated key keeps its first place and last entry, as with `JSON.parse`.
    pub fn from_json(text: &str) -> Result<Self, PresenceError> {
        let MaybeObject::Object(object) = serde_json::from_str::<MaybeObject>(text)? else {
            return Err(PresenceError::NotAnObject { what: "state" });
        };
        Ok(entries(object)?.into_iter().collect())
    }

    /// The map as a JSON object, as phoenix.js holds it.
    ///
    /// `serde_json::Map` sorts keys, so the result does not keep the map's order; use [`State::list`] for that.
    pub fn to_json_value(&self) -> Value {
        Value::Object(self.iter().map(|(key, entry)| (key.to_owned(), entry.to_json_value())).collect())
    }
}

impl Diff<Value> {
    /// Parses a `presence_diff` payload: `{"joins": {...}, "leaves": {...}}`, each side shaped like a state.
    ///
    /// Both fields are required, as phoenix.js requires them; other fields are ignored.
    pub fn from_json(text: &str) -> Result<Self, PresenceError> {
        let raw = match serde_json::from_str::<RawDiff>(text) {
            Ok(raw) => raw,
            Err(error) if error.is_data() => {
                return Err(PresenceError::NotAnObject { what: "diff" });
            }
            Err(error) => return Err(error.into()),
        };
        Ok(Diff { joins: diff_side(raw.joins, "joins")?, leaves: diff_side(raw.leaves, "leaves")? })
    }
}

impl Entry<Value> {
    /// The entry as phoenix.js holds it: the extra fields with `metas`, the list of meta objects, beside them.
    pub fn to_json_value(&self) -> Value {
        let mut object = match &self.extra {
            Some(Value::Object(extra)) => extra.clone(),
            _ => Map::new(),
        };
        object.insert("metas".to_owned(), Value::Array(self.metas.iter().map(|meta| meta.value.clone()).collect()));
        Value::Object(object)
    }
}

impl Change<Value> {
    /// The change as the arguments phoenix.js passes to its callback: `[key, current, joined]` for a join
    /// (with `null` for no current entry) and `[key, current, left]` for a leave.
    pub fn to_json_value(&self) -> Value {
        match self {
            Change::Join { key, current, joined } => Value::Array(vec![
                Value::String(key.clone()),
                current.as_ref().map_or(Value::Null, Entry::to_json_value),
                joined.to_json_value(),
            ]),
            Change::Leave { key, current, left } => {
                Value::Array(vec![Value::String(key.clone()), current.to_json_value(), left.to_json_value()])
            }
        }
    }
}
