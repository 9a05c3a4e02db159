//! The V2 serializer's binary frames, for binary payloads.
//!
//! A binary frame is a kind byte, one length byte per header field, the fields, then the payload:
//!
//! | kind | sender | layout                                                                         |
//! |------|--------|--------------------------------------------------------------------------------|
//! | 0    | client | `00 len(jr) len(ref) len(topic) len(event) jr ref topic event payload`         |
//! | 0    | server | `00 len(jr) len(topic) len(event) jr topic event payload` (a push, no ref)      |
//! | 1    | server | `01 len(jr) len(ref) len(topic) len(status) jr ref topic status payload`        |
//! | 2    | server | `02 len(topic) len(event) topic event payload` (a broadcast)                   |
//! | 3    | server | `03 len(topic) len(event) len(epoch) topic event epoch offset payload`         |
//!
//! Kinds 0 to 2 are Phoenix's; kind 3 is Ferrocast's broadcast with a position, its offset 8 bytes big-endian.
//! A missing ref or join ref has length 0, so an empty one reads back as missing.

use super::error::{DecodeError, EncodeError};
use crate::frame::{Ext, Frame, Message, Payload, Position, Reply, Sender, event};

/// A client's push, or a server's push to one channel.
const PUSH: u8 = 0;
/// A server's reply.
const REPLY: u8 = 1;
/// A server's broadcast.
const BROADCAST: u8 = 2;
/// A server's broadcast with its position in the topic's history (Ferrocast's extension).
const POSITIONED_BROADCAST: u8 = 3;

/// Encodes `frame`, sent by `sender`, whose payload or response is the binary `payload`.
pub(crate) fn encode(sender: Sender, frame: &Frame, payload: &[u8]) -> Result<Vec<u8>, EncodeError> {
    match (sender, frame) {
        (Sender::Client, Frame::Reply(_)) => Err(EncodeError::ReplyFromClient),
        (Sender::Client, Frame::Message(message)) => encode_client_push(message, payload),
        (Sender::Server, Frame::Message(message)) => encode_server_message(message, payload),
        (Sender::Server, Frame::Reply(reply)) => encode_reply(reply, payload),
    }
}

fn encode_client_push(message: &Message, payload: &[u8]) -> Result<Vec<u8>, EncodeError> {
    if message.ext.is_some() {
        return Err(EncodeError::ExtInBinaryFrame("a client's binary push has no room for it"));
    }
    let fields = [
        Field::new("join_ref", optional_bytes(&message.join_ref))?,
        Field::new("ref", optional_bytes(&message.r#ref))?,
        Field::new("topic", message.topic.as_bytes())?,
        Field::new("event", message.event.as_bytes())?,
    ];
    Ok(assemble(PUSH, &fields, None, payload))
}

fn encode_server_message(message: &Message, payload: &[u8]) -> Result<Vec<u8>, EncodeError> {
    if message.r#ref.is_some() {
        return Err(EncodeError::RefInBinaryServerMessage);
    }
    let topic = Field::new("topic", message.topic.as_bytes())?;
    let event = Field::new("event", message.event.as_bytes())?;
    match (&message.join_ref, &message.ext) {
        (Some(join_ref), None) => {
            let join_ref = Field::new("join_ref", join_ref.as_bytes())?;
            Ok(assemble(PUSH, &[join_ref, topic, event], None, payload))
        }
        (Some(_), Some(_)) => Err(EncodeError::ExtInBinaryFrame("a push to one channel has no room for it")),
        (None, None) => Ok(assemble(BROADCAST, &[topic, event], None, payload)),
        (None, Some(Ext { position: Some(position), recovered: None })) => {
            let epoch = Field::new("epoch", position.epoch.as_bytes())?;
            Ok(assemble(POSITIONED_BROADCAST, &[topic, event, epoch], Some(position.offset), payload))
        }
        (None, Some(Ext { position: None, .. })) => Err(EncodeError::ExtInBinaryFrame(
            "a binary broadcast carries a position and nothing else, and this has none",
        )),
        (None, Some(Ext { recovered: Some(_), .. })) => {
            Err(EncodeError::ExtInBinaryFrame("a binary broadcast cannot carry `recovered`"))
        }
    }
}

fn encode_reply(reply: &Reply, payload: &[u8]) -> Result<Vec<u8>, EncodeError> {
    if reply.ext.is_some() {
        return Err(EncodeError::ExtInBinaryFrame("a binary reply has no room for it"));
    }
    let fields = [
        Field::new("join_ref", optional_bytes(&reply.join_ref))?,
        Field::new("ref", optional_bytes(&reply.r#ref))?,
        Field::new("topic", reply.topic.as_bytes())?,
        Field::new("status", reply.status.as_bytes())?,
    ];
    Ok(assemble(REPLY, &fields, None, payload))
}

/// A header field and its one-byte length.
struct Field<'a> {
    len: u8,
    bytes: &'a [u8],
}

impl<'a> Field<'a> {
    /// The field `name` holding `bytes`, if its length fits in a byte.
    fn new(name: &'static str, bytes: &'a [u8]) -> Result<Self, EncodeError> {
        let len = u8::try_from(bytes.len()).map_err(|_| EncodeError::FieldTooLong { field: name, len: bytes.len() })?;
        Ok(Field { len, bytes })
    }
}

/// A ref's bytes; a missing ref is empty.
fn optional_bytes(text: &Option<String>) -> &[u8] {
    text.as_deref().unwrap_or_default().as_bytes()
}

/// Lays out a frame: kind, lengths, fields, the offset if any, payload, in one allocation.
fn assemble(kind: u8, fields: &[Field<'_>], offset: Option<u64>, payload: &[u8]) -> Vec<u8> {
    let offset_len = if offset.is_some() { 8 } else { 0 };
    let fields_len: usize = fields.iter().map(|field| field.bytes.len()).sum();
    let mut frame = Vec::with_capacity(1 + fields.len() + fields_len + offset_len + payload.len());
    frame.push(kind);
    frame.extend(fields.iter().map(|field| field.len));
    for field in fields {
        frame.extend_from_slice(field.bytes);
    }
    if let Some(offset) = offset {
        frame.extend_from_slice(&offset.to_be_bytes());
    }
    frame.extend_from_slice(payload);
    frame
}

/// Decodes a binary frame sent by `sender`.
///
/// A server's push or broadcast named `phx_reply` is refused: a reply is kind 1, and the message could not be sent
/// on as it came, since every other wire reads that event from a server as a reply (so `encode` refuses it too).
pub(crate) fn decode(sender: Sender, bytes: &[u8]) -> Result<Frame, DecodeError> {
    let frame = decode_kind(sender, bytes)?;
    match &frame {
        Frame::Message(message) if sender == Sender::Server && message.event == event::REPLY => {
            Err(DecodeError::ReplyEventInBinaryMessage(bytes[0]))
        }
        _ => Ok(frame),
    }
}

/// Decodes a binary frame by its kind.
fn decode_kind(sender: Sender, bytes: &[u8]) -> Result<Frame, DecodeError> {
    let (&kind, rest) = bytes.split_first().ok_or(DecodeError::EmptyBinaryFrame)?;
    let mut reader = Reader { rest };
    match (sender, kind) {
        (Sender::Client, PUSH) => {
            let [join_ref, r#ref, topic, event] = reader.lengths(kind)?;
            Ok(Frame::Message(Message {
                join_ref: reader.optional_text("join_ref", join_ref)?,
                r#ref: reader.optional_text("ref", r#ref)?,
                topic: reader.text("topic", topic)?,
                event: reader.text("event", event)?,
                payload: reader.payload(),
                ext: None,
            }))
        }
        (Sender::Server, PUSH) => {
            let [join_ref, topic, event] = reader.lengths(kind)?;
            Ok(Frame::Message(Message {
                join_ref: reader.optional_text("join_ref", join_ref)?,
                r#ref: None,
                topic: reader.text("topic", topic)?,
                event: reader.text("event", event)?,
                payload: reader.payload(),
                ext: None,
            }))
        }
        (Sender::Server, REPLY) => {
            let [join_ref, r#ref, topic, status] = reader.lengths(kind)?;
            Ok(Frame::Reply(Reply {
                join_ref: reader.optional_text("join_ref", join_ref)?,
                r#ref: reader.optional_text("ref", r#ref)?,
                topic: reader.text("topic", topic)?,
                status: reader.text("status", status)?,
                response: reader.payload(),
                ext: None,
            }))
        }
        (Sender::Server, BROADCAST) => {
            let [topic, event] = reader.lengths(kind)?;
            Ok(Frame::Message(Message {
                join_ref: None,
                r#ref: None,
                topic: reader.text("topic", topic)?,
                event: reader.text("event", event)?,
                payload: reader.payload(),
                ext: None,
            }))
        }
        (Sender::Server, POSITIONED_BROADCAST) => {
            let [topic, event, epoch] = reader.lengths(kind)?;
            let topic = reader.text("topic", topic)?;
            let event = reader.text("event", event)?;
            let epoch = reader.text("epoch", epoch)?;
            let offset = reader.offset()?;
            Ok(Frame::Message(Message {
                join_ref: None,
                r#ref: None,
                topic,
                event,
                payload: reader.payload(),
                ext: Some(Ext { position: Some(Position { offset, epoch }), recovered: None }),
            }))
        }
        (Sender::Client, REPLY | BROADCAST | POSITIONED_BROADCAST) => Err(DecodeError::BinaryKindFromClient(kind)),
        (_, unknown) => Err(DecodeError::UnknownBinaryKind(unknown)),
    }
}

/// Reads a binary frame front to back; every read checks what remains.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// The `N` header lengths of a frame of `kind`.
    fn lengths<const N: usize>(&mut self, kind: u8) -> Result<[usize; N], DecodeError> {
        let truncated = DecodeError::TruncatedHeader { kind, needed: N, remaining: self.rest.len() };
        let (header, rest) = self.rest.split_first_chunk::<N>().ok_or(truncated)?;
        self.rest = rest;
        Ok(header.map(usize::from))
    }

    /// The next `len` bytes, the field `field`.
    fn take(&mut self, field: &'static str, len: usize) -> Result<&'a [u8], DecodeError> {
        let truncated = DecodeError::Truncated { field, len, remaining: self.rest.len() };
        let (taken, rest) = self.rest.split_at_checked(len).ok_or(truncated)?;
        self.rest = rest;
        Ok(taken)
    }

    /// The text field `field` of `len` bytes.
    fn text(&mut self, field: &'static str, len: usize) -> Result<String, DecodeError> {
        let bytes = self.take(field, len)?;
        let text = core::str::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8(field))?;
        Ok(text.to_owned())
    }

    /// The ref field `field` of `len` bytes; length 0 means there is none.
    fn optional_text(&mut self, field: &'static str, len: usize) -> Result<Option<String>, DecodeError> {
        Ok(Some(self.text(field, len)?).filter(|text| !text.is_empty()))
    }

    /// A kind 3 frame's offset, 8 bytes big-endian, at most [`Position::MAX_OFFSET`].
    fn offset(&mut self) -> Result<u64, DecodeError> {
        let truncated = DecodeError::Truncated { field: "offset", len: 8, remaining: self.rest.len() };
        let (bytes, rest) = self.rest.split_first_chunk::<8>().ok_or(truncated)?;
        self.rest = rest;
        let offset = u64::from_be_bytes(*bytes);
        if offset > Position::MAX_OFFSET {
            return Err(DecodeError::OffsetTooLarge(offset));
        }
        Ok(offset)
    }

    /// Everything left: the payload.
    fn payload(self) -> Payload {
        Payload::Binary(self.rest.to_vec())
    }
}
