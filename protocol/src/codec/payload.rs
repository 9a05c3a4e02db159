//! A JSON frame's payload slot: any JSON value, or a server reply's `{"response": .., "status": ..}`.
//!
//! Payloads stay text. Reading keeps a borrowed slice of the input (a serde_json `RawValue`) and copies it once into
//! the frame, so the relay never parses and re-serializes what it forwards.

use super::json_out::JsonOut;

/// Writes a reply's payload, `response` before `status` as Phoenix does. `response` is JSON text.
pub(crate) fn write_reply_payload(out: &mut dyn JsonOut, response: &str, status: &str) {
    out.raw("{\"response\":");
    out.raw(response);
    out.raw(",\"status\":");
    out.string(status);
    out.raw("}");
}

#[cfg(feature = "json")]
pub(crate) use read::{PayloadReader, PayloadText, reread_as_reply};

#[cfg(feature = "json")]
mod read {
    use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess};
    use serde_json::value::RawValue;

    use crate::codec::error::{DecodeError, JsonKind};
    use crate::codec::json_read::{FieldKey, FirstError, JsonShape, Key, Scalar, Shaped, parse_whole};
    use crate::frame::{Ext, Frame, Message, Payload, Reply};

    /// A payload as read: the raw JSON, or a reply's parts.
    pub(crate) enum PayloadText<'de> {
        /// Any JSON value, as it appeared in the input.
        Plain(&'de RawValue),
        /// A server reply's payload, or why it is not one.
        Reply(Result<ReplyParts<'de>, DecodeError>),
    }

    /// The parts of a reply payload.
    pub(crate) struct ReplyParts<'de> {
        /// The reply's status, such as `ok`.
        pub(crate) status: String,
        /// The reply's response, as it appeared in the input.
        pub(crate) response: &'de RawValue,
    }

    /// Reads a payload slot, as a reply's payload when the frame is known to be a server's `phx_reply`.
    pub(crate) struct PayloadReader {
        /// Whether to read the payload as `{"response": .., "status": ..}`.
        pub(crate) as_reply: bool,
    }

    impl<'de> DeserializeSeed<'de> for PayloadReader {
        type Value = PayloadText<'de>;

        fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<PayloadText<'de>, D::Error> {
            if self.as_reply {
                Shaped(ReplyReader).deserialize(deserializer).map(PayloadText::Reply)
            } else {
                de::Deserialize::deserialize(deserializer).map(PayloadText::Plain)
            }
        }
    }

    /// Reads an already extracted payload as a reply's. V1 objects may name the payload before the event, so the
    /// payload is only known to be a reply's after it was read.
    pub(crate) fn reread_as_reply(payload: &RawValue) -> Result<ReplyParts<'_>, DecodeError> {
        parse_whole(payload.get(), Shaped(ReplyReader))?
    }

    /// Reads `{"response": .., "status": ..}`; other keys are ignored.
    struct ReplyReader;

    /// The keys of a reply payload.
    enum ReplyField {
        Response,
        Status,
        Unknown,
    }

    impl FieldKey for ReplyField {
        fn from_key(key: &str) -> Self {
            match key {
                "response" => ReplyField::Response,
                "status" => ReplyField::Status,
                _ => ReplyField::Unknown,
            }
        }
    }

    impl<'de> JsonShape<'de> for ReplyReader {
        type Output = Result<ReplyParts<'de>, DecodeError>;

        fn expecting(&self) -> &'static str {
            "a reply payload object"
        }

        fn other(self, found: JsonKind) -> Self::Output {
            Err(DecodeError::ReplyPayloadNotAnObject { found })
        }

        fn object<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Output, M::Error> {
            let mut response: Option<&'de RawValue> = None;
            let mut status: Option<String> = None;
            let mut problem = FirstError::default();
            while let Some(field) = map.next_key_seed(Key::<ReplyField>::seed())? {
                match field {
                    ReplyField::Response if response.is_some() => {
                        map.next_value::<IgnoredAny>()?;
                        problem.record(DecodeError::DuplicateField("response"));
                    }
                    ReplyField::Response => response = Some(map.next_value()?),
                    ReplyField::Status if status.is_some() => {
                        map.next_value::<IgnoredAny>()?;
                        problem.record(DecodeError::DuplicateField("status"));
                    }
                    ReplyField::Status => match map.next_value::<Scalar>()?.into_string("status") {
                        Ok(text) => status = Some(text),
                        Err(error) => problem.record(error),
                    },
                    ReplyField::Unknown => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(problem.check().and_then(|()| {
                Ok(ReplyParts {
                    response: response.ok_or(DecodeError::MissingField("response"))?,
                    status: status.ok_or(DecodeError::MissingField("status"))?,
                })
            }))
        }
    }

    impl PayloadText<'_> {
        /// Builds the frame this payload belongs to: a reply when it was read as a reply's payload, else a message.
        /// Copies the payload text once, out of the input.
        pub(crate) fn into_frame(
            self,
            join_ref: Option<String>,
            r#ref: Option<String>,
            topic: String,
            event: String,
            ext: Option<Ext>,
        ) -> Result<Frame, DecodeError> {
            Ok(match self {
                PayloadText::Plain(payload) => Frame::Message(Message {
                    join_ref,
                    r#ref,
                    topic,
                    event,
                    payload: Payload::Json(payload.get().to_owned()),
                    ext,
                }),
                PayloadText::Reply(parts) => {
                    let parts = parts?;
                    Frame::Reply(Reply {
                        join_ref,
                        r#ref,
                        topic,
                        status: parts.status,
                        response: Payload::Json(parts.response.get().to_owned()),
                        ext,
                    })
                }
            })
        }
    }
}
