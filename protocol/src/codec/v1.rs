//! The V1 JSON serializer (`vsn=1.0.0`, and sockets with no `vsn`): one JSON object per text frame.
//!
//! Clients send `{"topic","event","payload","ref","join_ref"}`; phoenix.js leaves `join_ref` out of heartbeats, so
//! it is written only when there is one. Servers send `{"event","payload","ref","topic"}` and never a join ref: the
//! V1 wire has no place for a server's join ref, which is why decoding recovers it for `phx_close` and `phx_error`
//! (see [`decode`]). Ferrocast's extension is an `"ext"` key. V1 has no binary frames.

use super::ext::write_ext;
use super::json_out::render;
use super::payload::write_reply_payload;
use crate::frame::{Frame, Sender};

/// Encodes `frame`, sent by `sender`, as a V1 text frame; `payload` is its payload or response, which is JSON text.
pub(crate) fn encode(sender: Sender, frame: &Frame, payload: &str) -> String {
    render(|out| {
        let write_payload = |out: &mut dyn super::json_out::JsonOut| match frame {
            Frame::Message(_) => out.raw(payload),
            Frame::Reply(reply) => write_reply_payload(out, payload, &reply.status),
        };
        match sender {
            Sender::Client => {
                out.raw("{\"topic\":");
                out.string(frame.topic());
                out.raw(",\"event\":");
                out.string(frame.event());
                out.raw(",\"payload\":");
                write_payload(out);
                out.raw(",\"ref\":");
                out.optional_string(frame.r#ref());
                if let Some(join_ref) = frame.join_ref() {
                    out.raw(",\"join_ref\":");
                    out.string(join_ref);
                }
            }
            Sender::Server => {
                out.raw("{\"event\":");
                out.string(frame.event());
                out.raw(",\"payload\":");
                write_payload(out);
                out.raw(",\"ref\":");
                out.optional_string(frame.r#ref());
                out.raw(",\"topic\":");
                out.string(frame.topic());
            }
        }
        if let Some(ext) = frame.ext() {
            out.raw(",\"ext\":");
            write_ext(out, ext);
        }
        out.raw("}");
    })
}

#[cfg(feature = "json")]
pub(crate) use read::decode;

#[cfg(feature = "json")]
mod read {
    use serde::de::{IgnoredAny, MapAccess};

    use crate::codec::error::{DecodeError, JsonKind};
    use crate::codec::ext::ExtReader;
    use crate::codec::json_read::{FieldKey, FirstError, JsonShape, Key, Scalar, Shaped, parse_whole};
    use crate::codec::payload::{PayloadReader, PayloadText, reread_as_reply};
    use crate::frame::{Ext, Frame, Sender, event};

    /// Decodes a V1 text frame sent by `sender`. Unknown keys are ignored.
    ///
    /// From a server, `phx_close` and `phx_error` get `join_ref = ref`: V1 servers have no join ref field and put
    /// the closing channel's join ref in `ref` instead. Other server frames have no join ref, whatever keys they hold. The client state machine compares it with the channel's
    /// join ref to ignore an old channel's close, as it does with V2's real join ref.
    pub(crate) fn decode(sender: Sender, text: &str) -> Result<Frame, DecodeError> {
        parse_whole(text, Shaped(FrameReader { sender }))?
    }

    /// Reads the frame object.
    struct FrameReader {
        sender: Sender,
    }

    /// The keys of a V1 frame.
    enum FrameField {
        Topic,
        Event,
        Payload,
        Ref,
        JoinRef,
        Ext,
        Unknown,
    }

    impl FieldKey for FrameField {
        fn from_key(key: &str) -> Self {
            match key {
                "topic" => FrameField::Topic,
                "event" => FrameField::Event,
                "payload" => FrameField::Payload,
                "ref" => FrameField::Ref,
                "join_ref" => FrameField::JoinRef,
                "ext" => FrameField::Ext,
                _ => FrameField::Unknown,
            }
        }
    }

    /// The fields of a V1 frame as read, before they are checked.
    #[derive(Default)]
    struct Fields<'de> {
        topic: Option<Scalar>,
        event: Option<Scalar>,
        payload: Option<PayloadText<'de>>,
        r#ref: Option<Scalar>,
        join_ref: Option<Scalar>,
        ext: Option<Option<Ext>>,
    }

    /// Reads one value into `slot`, or skips it and records a duplicate when the key came before.
    fn read_once<'de, M, T>(
        map: &mut M,
        slot: &mut Option<T>,
        name: &'static str,
        problem: &mut FirstError,
        read: impl FnOnce(&mut M) -> Result<T, M::Error>,
    ) -> Result<(), M::Error>
    where
        M: MapAccess<'de>,
    {
        if slot.is_some() {
            map.next_value::<IgnoredAny>()?;
            problem.record(DecodeError::DuplicateField(name));
        } else {
            *slot = Some(read(map)?);
        }
        Ok(())
    }

    impl<'de> JsonShape<'de> for FrameReader {
        type Output = Result<Frame, DecodeError>;

        fn expecting(&self) -> &'static str {
            "a V1 frame object"
        }

        fn other(self, found: JsonKind) -> Self::Output {
            Err(DecodeError::NotAnObject { found })
        }

        fn object<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Output, M::Error> {
            let mut fields = Fields::default();
            let mut problem = FirstError::default();
            let scalar = |map: &mut M| map.next_value::<Scalar>();
            while let Some(field) = map.next_key_seed(Key::<FrameField>::seed())? {
                let problem = &mut problem;
                match field {
                    FrameField::Topic => read_once(&mut map, &mut fields.topic, "topic", problem, scalar)?,
                    FrameField::Event => read_once(&mut map, &mut fields.event, "event", problem, scalar)?,
                    FrameField::Ref => read_once(&mut map, &mut fields.r#ref, "ref", problem, scalar)?,
                    FrameField::JoinRef => read_once(&mut map, &mut fields.join_ref, "join_ref", problem, scalar)?,
                    FrameField::Payload => {
                        // Servers write the event first, so a reply's payload is usually known to be one here.
                        let as_reply = self.sender == Sender::Server
                            && fields.event.as_ref().is_some_and(|event| event.is_str(event::REPLY));
                        let read = |map: &mut M| map.next_value_seed(PayloadReader { as_reply });
                        read_once(&mut map, &mut fields.payload, "payload", problem, read)?;
                    }
                    FrameField::Ext => {
                        let read = |map: &mut M| map.next_value_seed(Shaped(ExtReader));
                        read_once(&mut map, &mut fields.ext, "ext", problem, read)?;
                    }
                    FrameField::Unknown => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(problem.check().and_then(|()| self.assemble(fields)))
        }
    }

    impl FrameReader {
        /// Checks the fields read and builds the frame.
        fn assemble(self, fields: Fields<'_>) -> Result<Frame, DecodeError> {
            let topic = fields.topic.ok_or(DecodeError::MissingField("topic"))?.into_string("topic")?;
            let event = fields.event.ok_or(DecodeError::MissingField("event"))?.into_string("event")?;
            let mut payload = fields.payload.ok_or(DecodeError::MissingField("payload"))?;
            let r#ref = fields.r#ref.map_or(Ok(None), |value| value.into_optional_string("ref"))?;
            let join_ref = match self.sender {
                Sender::Client => fields.join_ref.map_or(Ok(None), |value| value.into_optional_string("join_ref"))?,
                // The V1 server wire has no join ref field: a `join_ref` key is not Phoenix's, and is ignored like
                // any unknown key, so what decodes is what the wire can carry back.
                Sender::Server => (event == event::CLOSE || event == event::ERROR).then(|| r#ref.clone()).flatten(),
            };
            if self.sender == Sender::Server {
                payload = match payload {
                    PayloadText::Plain(raw) if event == event::REPLY => PayloadText::Reply(reread_as_reply(raw)),
                    read => read,
                };
            }
            payload.into_frame(join_ref, r#ref, topic, event, fields.ext.flatten())
        }
    }
}
