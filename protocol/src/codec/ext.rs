//! Ferrocast's extension object, `{"offset":43,"epoch":"k3","recovered":true}`, in JSON frames.
//!
//! It is a V2 frame's sixth array element or a V1 frame's `"ext"` key; Phoenix peers ignore both. `offset` and
//! `epoch` appear together (the [`Position`](crate::frame::Position)) or not at all, and `recovered` appears when it
//! is set, so `Ext::default()` is `{}`.

use super::json_out::JsonOut;
use crate::frame::Ext;

/// Writes `ext` as a JSON object.
pub(crate) fn write_ext(out: &mut dyn JsonOut, ext: &Ext) {
    out.raw("{");
    if let Some(position) = &ext.position {
        out.raw("\"offset\":");
        out.number(position.offset);
        out.raw(",\"epoch\":");
        out.string(&position.epoch);
    }
    if let Some(recovered) = ext.recovered {
        if ext.position.is_some() {
            out.raw(",");
        }
        out.raw(if recovered { "\"recovered\":true" } else { "\"recovered\":false" });
    }
    out.raw("}");
}

#[cfg(feature = "json")]
pub(crate) use read::ExtReader;

#[cfg(feature = "json")]
mod read {
    use serde::de::{IgnoredAny, MapAccess};

    use crate::codec::error::JsonKind;
    use crate::codec::json_read::{FieldKey, JsonShape, Key, Scalar};
    use crate::frame::{Ext, Position};

    /// Reads an extension object. Anything else, or an object with unknown keys, duplicate keys, values of the wrong
    /// type, an offset past [`Position::MAX_OFFSET`], or only one of `offset` and `epoch`, is not an extension and reads as `None`: it may be a Phoenix peer's
    /// extra element, which Phoenix ignores too.
    pub(crate) struct ExtReader;

    /// The keys of an extension object.
    enum ExtField {
        Offset,
        Epoch,
        Recovered,
        Unknown,
    }

    impl FieldKey for ExtField {
        fn from_key(key: &str) -> Self {
            match key {
                "offset" => ExtField::Offset,
                "epoch" => ExtField::Epoch,
                "recovered" => ExtField::Recovered,
                _ => ExtField::Unknown,
            }
        }
    }

    impl<'de> JsonShape<'de> for ExtReader {
        type Output = Option<Ext>;

        fn expecting(&self) -> &'static str {
            "an extension object"
        }

        fn other(self, _: JsonKind) -> Option<Ext> {
            None
        }

        fn object<M: MapAccess<'de>>(self, mut map: M) -> Result<Option<Ext>, M::Error> {
            let mut offset = None;
            let mut epoch = None;
            let mut recovered = None;
            let mut valid = true;
            while let Some(field) = map.next_key_seed(Key::<ExtField>::seed())? {
                match field {
                    ExtField::Offset => match map.next_value::<Scalar>()? {
                        Scalar::Unsigned(value) if offset.is_none() && value <= Position::MAX_OFFSET => {
                            offset = Some(value)
                        }
                        _ => valid = false,
                    },
                    ExtField::Epoch => match map.next_value::<Scalar>()? {
                        Scalar::Str(value) if epoch.is_none() => epoch = Some(value),
                        _ => valid = false,
                    },
                    ExtField::Recovered => match map.next_value::<Scalar>()? {
                        Scalar::Bool(value) if recovered.is_none() => recovered = Some(value),
                        _ => valid = false,
                    },
                    ExtField::Unknown => {
                        map.next_value::<IgnoredAny>()?;
                        valid = false;
                    }
                }
            }
            let position = match (offset, epoch) {
                (Some(offset), Some(epoch)) => Some(Position { offset, epoch }),
                (None, None) => None,
                _ => return Ok(None),
            };
            Ok(valid.then_some(Ext { position, recovered }))
        }
    }
}
