//! What travels on the wire, in memory form.
//!
//! A Phoenix Channels frame carries five things: the join ref of the channel it belongs to, the ref of the push it
//! is or answers, a topic, an event and a payload. Serializers (see [`crate::codec`]) differ only in how they lay
//! these out. A `phx_reply` is its own type here because its payload has a fixed shape (`status` and `response`)
//! and, in binary frames, the status travels in the header rather than in the payload.

/// A frame's payload: JSON text, or raw bytes for binary frames.
///
/// JSON payloads stay as text: the relay forwards most of them untouched, and each side parses them with what it
/// has at hand (serde_json natively, the browser's `JSON.parse` in the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A JSON value, as valid JSON text.
    Json(String),
    /// Raw bytes, sent as a V2 binary frame.
    Binary(Vec<u8>),
}

impl Payload {
    /// The empty JSON object `{}`, the payload of heartbeats, leaves and bare replies.
    pub fn empty() -> Self {
        Payload::Json("{}".to_owned())
    }

    /// How many bytes the payload occupies on the wire, for queue limits.
    pub fn len(&self) -> usize {
        match self {
            Payload::Json(text) => text.len(),
            Payload::Binary(bytes) => bytes.len(),
        }
    }

    /// Whether the payload has no bytes at all (an empty binary payload).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where a message stands in its topic's history: Ferrocast's recovery extension.
///
/// The relay numbers every broadcast on a topic with an increasing `offset`. The `epoch` names one continuous
/// history: when the history is lost (an in-memory relay restarts), the epoch changes and old offsets mean nothing.
/// Clients treat both as opaque and only hand them back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The offset of a message within its topic's history, at most [`Position::MAX_OFFSET`].
    pub offset: u64,
    /// The name of the history the offset belongs to.
    pub epoch: String,
}

impl Position {
    /// The largest offset a frame carries: 2⁵³ − 1, the largest integer a JavaScript number holds exactly, since a
    /// browser client hands offsets back as numbers. Decoders read a larger one as no position.
    pub const MAX_OFFSET: u64 = (1 << 53) - 1;
}

/// Ferrocast's extension fields, carried beside a frame's payload where a Phoenix peer ignores them.
///
/// In V2 JSON this is a sixth array element, in V1 JSON an `"ext"` key, in binary frames kind 3 (see
/// `protocol/PROTOCOL.md`). Its meaning depends on the frame it rides on:
/// - on a client's `phx_join`: the client speaks the extension, and `position` is the last one it saw on the topic;
/// - on a broadcast: the broadcast's own position;
/// - on a join reply: the topic's current position, and whether every missed message was replayed (`recovered`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ext {
    /// A position in the topic's history (see above for which one).
    pub position: Option<Position>,
    /// On a join reply: `true` when the relay replayed everything after the offered position.
    pub recovered: Option<bool>,
}

/// An event on a topic: a client's push, a server's push to one channel, or a broadcast.
///
/// A server push to one channel carries that channel's `join_ref` and no `ref`; a broadcast carries neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<P = Payload> {
    /// The join ref of the channel the message belongs to, if any.
    pub join_ref: Option<String>,
    /// The ref of a push that expects a reply, if any.
    pub r#ref: Option<String>,
    /// The topic, such as `room:lobby`, or `phoenix` for heartbeats.
    pub topic: String,
    /// The event name, such as `phx_join` or `new_msg`.
    pub event: String,
    /// The payload, as [`Payload`] or in the embedding's own form (see [`Frame`]).
    pub payload: P,
    /// Ferrocast's extension fields, if present.
    pub ext: Option<Ext>,
}

/// The server's reply (`phx_reply`) to a client's push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply<P = Payload> {
    /// The join ref of the channel that answered; `None` for `unmatched topic` and heartbeat replies.
    pub join_ref: Option<String>,
    /// The ref of the push this answers; `None` when the push had none.
    pub r#ref: Option<String>,
    /// The topic of the push.
    pub topic: String,
    /// `ok` or `error` from Phoenix servers; kept as text because channels may use their own.
    pub status: String,
    /// The reply's response.
    pub response: P,
    /// Ferrocast's extension fields, if present (join replies).
    pub ext: Option<Ext>,
}

/// One frame, in either direction.
///
/// `P` is the payload type: [`Payload`] where this crate encodes and decodes, or whatever the embedding decodes
/// payloads into when it feeds frames to the [`crate::client`] machine (the browser client hands frames in as
/// [`crate::client::Inbound`] views and keeps their payloads in JavaScript).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<P = Payload> {
    /// An event: push or broadcast.
    Message(Message<P>),
    /// A reply to a push.
    Reply(Reply<P>),
}

impl<P> Frame<P> {
    /// The frame's topic.
    pub fn topic(&self) -> &str {
        match self {
            Frame::Message(message) => &message.topic,
            Frame::Reply(reply) => &reply.topic,
        }
    }

    /// The frame's event; a reply's event is `phx_reply`.
    pub fn event(&self) -> &str {
        match self {
            Frame::Message(message) => &message.event,
            Frame::Reply(_) => event::REPLY,
        }
    }

    /// The frame's join ref.
    pub fn join_ref(&self) -> Option<&str> {
        match self {
            Frame::Message(message) => message.join_ref.as_deref(),
            Frame::Reply(reply) => reply.join_ref.as_deref(),
        }
    }

    /// The frame's payload: a message's payload or a reply's response.
    pub fn payload(&self) -> &P {
        match self {
            Frame::Message(message) => &message.payload,
            Frame::Reply(reply) => &reply.response,
        }
    }

    /// The frame's extension fields.
    pub fn ext(&self) -> Option<&Ext> {
        match self {
            Frame::Message(message) => message.ext.as_ref(),
            Frame::Reply(reply) => reply.ext.as_ref(),
        }
    }

    /// The frame's ref.
    pub fn r#ref(&self) -> Option<&str> {
        match self {
            Frame::Message(message) => message.r#ref.as_deref(),
            Frame::Reply(reply) => reply.r#ref.as_deref(),
        }
    }
}

/// Who sent a frame. Binary frames of kind 0 are laid out differently in each direction, and only frames from the
/// server are read as replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The browser or another client.
    Client,
    /// The relay or a Phoenix server.
    Server,
}

/// The serializer a socket speaks, chosen by the `vsn` connect parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vsn {
    /// `vsn=1.0.0` (and no `vsn` at all): JSON objects, text frames only.
    V1,
    /// `vsn=2.0.0`: JSON arrays in text frames, and binary frames for binary payloads.
    V2,
}

impl Vsn {
    /// The serializer for a `vsn` connect parameter; a missing one means V1, as in Phoenix. `None` for versions
    /// this crate does not speak, which a server refuses at the upgrade (Phoenix answers 403).
    pub fn from_param(vsn: Option<&str>) -> Option<Vsn> {
        match vsn {
            None | Some("1.0.0") => Some(Vsn::V1),
            Some("2.0.0") => Some(Vsn::V2),
            Some(_) => None,
        }
    }

    /// The value of the `vsn` connect parameter for this serializer.
    pub fn as_param(self) -> &'static str {
        match self {
            Vsn::V1 => "1.0.0",
            Vsn::V2 => "2.0.0",
        }
    }
}

/// One WebSocket message's data, as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireData<'a> {
    /// A text message: a JSON frame, of either version.
    Text(&'a str),
    /// A binary message: a V2 binary frame; V1 has none.
    Binary(&'a [u8]),
}

/// One WebSocket message's data, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoded {
    /// Send as a text message.
    Text(String),
    /// Send as a binary message.
    Binary(Vec<u8>),
}

impl Encoded {
    /// The data as received on the other side.
    pub fn as_wire(&self) -> WireData<'_> {
        match self {
            Encoded::Text(text) => WireData::Text(text),
            Encoded::Binary(bytes) => WireData::Binary(bytes),
        }
    }
}

/// The reserved topic and event names of the protocol.
pub mod event {
    /// The topic of heartbeats.
    pub const PHOENIX_TOPIC: &str = "phoenix";
    /// A heartbeat, on the `phoenix` topic.
    pub const HEARTBEAT: &str = "heartbeat";
    /// Join a topic.
    pub const JOIN: &str = "phx_join";
    /// Leave a topic.
    pub const LEAVE: &str = "phx_leave";
    /// A reply to a push.
    pub const REPLY: &str = "phx_reply";
    /// The server closed a channel.
    pub const CLOSE: &str = "phx_close";
    /// A channel crashed on the server.
    pub const ERROR: &str = "phx_error";
}

/// The connect parameter that names a client socket across its reconnects (`ferrocast_sid`, 16 to 64 characters
/// of `[0-9A-Za-z_-]`, random, made once per socket). A Ferrocast relay remembers, per identity, which push refs it
/// has handled and what it replied, so a push the client sends again after a lost connection is answered without
/// being handled twice. Phoenix servers see an ordinary connect parameter.
pub const SOCKET_ID_PARAM: &str = "ferrocast_sid";

/// The connect parameter with which a client asks for batch messages (`ferrocast_batch=1`): when frames queue up
/// for its socket, a Ferrocast relay sends consecutive text frames as one message, `[frame, frame, ...]` (see
/// [`write_batch`](crate::codec::write_batch)). Only V2 sockets get batches; Phoenix servers ignore the parameter.
pub const BATCH_PARAM: &str = "ferrocast_batch";

/// Whether `id` is a well-formed socket identity: long enough not to be guessed, short enough to keep, and safe in
/// a URL and a log line.
pub fn is_valid_socket_id(id: &str) -> bool {
    (16..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
