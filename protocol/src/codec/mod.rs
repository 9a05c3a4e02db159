//! Frames to bytes and back, for the V1 JSON, V2 JSON and V2 binary serializers.
//!
//! - [`encode`] works without serde_json (the browser build has none): JSON payloads are already text and are
//!   inserted verbatim, and strings are escaped by hand exactly as serde_json would.
//! - `decode` reads text frames with serde_json (feature `json`) and binary frames without it; [`decode_binary`]
//!   is the binary half on its own, for builds without the feature.
//!
//! Which layout a frame takes depends on the serializer, on who sends it and on its payload: on V2, a binary
//! payload makes a binary frame and a JSON payload a text frame. Decoding needs the sender too, because binary push
//! frames are laid out differently in each direction and only a server's `phx_reply` is a [`Reply`](crate::Reply).
//! Ferrocast's extension fields ([`Ext`]) ride where Phoenix peers ignore them.

mod batch;
mod binary;
mod error;
mod ext;
mod json_out;
#[cfg(feature = "json")]
mod json_read;
mod json_string;
mod payload;
mod v1;
mod v2_json;

pub use batch::{is_batch, write_batch};
pub use error::{DecodeError, EncodeError, JsonKind};

#[cfg(feature = "json")]
use crate::frame::WireData;
use crate::frame::{Encoded, Frame, Payload, Sender, Vsn, event};

/// Encodes a frame sent by `sender` with the serializer `vsn`.
///
/// Fails when the serializer cannot express the frame: a binary payload on V1, a header field over 255 bytes in a
/// binary frame, extension fields a binary frame has no room for, or a frame `sender` never sends (a reply from a
/// client, a server message named `phx_reply`, which would read back as a reply).
///
/// V1 has no join ref in server frames, so a server frame's join ref is not written there (see `decode` for how
/// `phx_close` and `phx_error` get theirs back). Refs must be non-empty to survive binary frames, where an empty ref
/// and a missing one are both length 0.
pub fn encode(vsn: Vsn, sender: Sender, frame: &Frame) -> Result<Encoded, EncodeError> {
    match (sender, frame) {
        (Sender::Client, Frame::Reply(_)) => return Err(EncodeError::ReplyFromClient),
        (Sender::Server, Frame::Message(message)) if message.event == event::REPLY => {
            return Err(EncodeError::ReplyEventInServerMessage);
        }
        _ => {}
    }
    match (vsn, frame.payload()) {
        (Vsn::V1, Payload::Json(payload)) => Ok(Encoded::Text(v1::encode(sender, frame, payload))),
        (Vsn::V1, Payload::Binary(_)) => Err(EncodeError::BinaryPayloadOnV1),
        (Vsn::V2, Payload::Json(payload)) => Ok(Encoded::Text(v2_json::encode(frame, payload))),
        (Vsn::V2, Payload::Binary(payload)) => binary::encode(sender, frame, payload).map(Encoded::Binary),
    }
}

/// Decodes one WebSocket message sent by `sender` on a socket speaking `vsn`.
///
/// JSON payloads are kept as the exact text received. From a server, the event `phx_reply` makes a
/// [`Reply`](crate::Reply); from a client it is an ordinary event.
///
/// From a V1 server, `phx_close` and `phx_error` get `join_ref = ref`: V1 servers put the closing channel's join ref
/// in `ref`, and the client needs it to ignore an old channel's close.
#[cfg(feature = "json")]
pub fn decode(vsn: Vsn, sender: Sender, data: WireData<'_>) -> Result<Frame, DecodeError> {
    match (vsn, data) {
        (Vsn::V1, WireData::Text(text)) => v1::decode(sender, text),
        (Vsn::V1, WireData::Binary(_)) => Err(DecodeError::BinaryOnV1),
        (Vsn::V2, WireData::Text(text)) => v2_json::decode(sender, text),
        (Vsn::V2, WireData::Binary(bytes)) => decode_binary(sender, bytes),
    }
}

/// Decodes a V2 binary frame sent by `sender`. Needs no JSON support: binary payloads are raw bytes.
pub fn decode_binary(sender: Sender, bytes: &[u8]) -> Result<Frame, DecodeError> {
    binary::decode(sender, bytes)
}
