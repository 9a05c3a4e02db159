//! The V2 JSON serializer (`vsn=2.0.0`) for text frames: `[join_ref, ref, topic, event, payload]`.
//!
//! A reply is `[join_ref, ref, topic, "phx_reply", {"response": .., "status": ..}]`. Ferrocast's extension rides as
//! a sixth element, an object (see [`super::ext`]); Phoenix ignores elements after the fifth, and so does decoding
//! here unless the sixth is a valid extension object.

use super::ext::write_ext;
use super::json_out::render;
use super::payload::write_reply_payload;
use crate::frame::{Frame, event};

/// Encodes `frame` as a V2 text frame; `payload` is its payload or response, which is JSON text.
pub(crate) fn encode(frame: &Frame, payload: &str) -> String {
    render(|out| {
        out.raw("[");
        out.optional_string(frame.join_ref());
        out.raw(",");
        out.optional_string(frame.r#ref());
        out.raw(",");
        out.string(frame.topic());
        out.raw(",");
        match frame {
            Frame::Message(message) => {
                out.string(&message.event);
                out.raw(",");
                out.raw(payload);
            }
            Frame::Reply(reply) => {
                out.string(event::REPLY);
                out.raw(",");
                write_reply_payload(out, payload, &reply.status);
            }
        }
        if let Some(ext) = frame.ext() {
            out.raw(",");
            write_ext(out, ext);
        }
        out.raw("]");
    })
}

#[cfg(feature = "json")]
pub(crate) use read::decode;

#[cfg(feature = "json")]
mod read {
    use serde::de::SeqAccess;

    use crate::codec::error::{DecodeError, JsonKind};
    use crate::codec::ext::ExtReader;
    use crate::codec::json_read::{JsonShape, Scalar, Shaped, parse_whole, skip_elements};
    use crate::codec::payload::{PayloadReader, PayloadText};
    use crate::frame::{Ext, Frame, Sender, event};

    /// Decodes a V2 text frame sent by `sender`, reading the array once.
    pub(crate) fn decode(sender: Sender, text: &str) -> Result<Frame, DecodeError> {
        parse_whole(text, Shaped(FrameReader { sender }))?
    }

    /// Reads the frame array. From a server, a `phx_reply` event makes the payload a reply's.
    struct FrameReader {
        sender: Sender,
    }

    impl<'de> JsonShape<'de> for FrameReader {
        type Output = Result<Frame, DecodeError>;

        fn expecting(&self) -> &'static str {
            "a V2 frame array"
        }

        fn other(self, found: JsonKind) -> Self::Output {
            Err(DecodeError::NotAnArray { found })
        }

        fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Output, A::Error> {
            let too_few = |found| Ok(Err(DecodeError::TooFewElements { found }));
            let Some(join_ref) = seq.next_element::<Scalar>()? else {
                return too_few(0);
            };
            let Some(r#ref) = seq.next_element::<Scalar>()? else {
                return too_few(1);
            };
            let Some(topic) = seq.next_element::<Scalar>()? else {
                return too_few(2);
            };
            let Some(event) = seq.next_element::<Scalar>()? else {
                return too_few(3);
            };
            let as_reply = self.sender == Sender::Server && event.is_str(event::REPLY);
            let Some(payload) = seq.next_element_seed(PayloadReader { as_reply })? else {
                return too_few(4);
            };
            let ext = seq.next_element_seed(Shaped(ExtReader))?.flatten();
            skip_elements(seq)?;
            Ok(assemble(join_ref, r#ref, topic, event, payload, ext))
        }
    }

    /// Checks the elements read and builds the frame; the first element at fault is the one reported.
    fn assemble(
        join_ref: Scalar,
        r#ref: Scalar,
        topic: Scalar,
        event: Scalar,
        payload: PayloadText<'_>,
        ext: Option<Ext>,
    ) -> Result<Frame, DecodeError> {
        let join_ref = join_ref.into_optional_string("join_ref")?;
        let r#ref = r#ref.into_optional_string("ref")?;
        let topic = topic.into_string("topic")?;
        let event = event.into_string("event")?;
        payload.into_frame(join_ref, r#ref, topic, event, ext)
    }
}
