//! Why a frame could not be encoded or decoded.
//!
//! Every variant names the field or the shape that was wrong, so that a log line is enough to see what a peer sent.

use core::fmt;

/// Why a frame could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The V1 serializer only has text frames, so it cannot carry raw bytes.
    #[error("binary payloads cannot be encoded with the V1 serializer (vsn=1.0.0 has no binary frames)")]
    BinaryPayloadOnV1,
    /// Only servers reply; a `phx_reply` from a client would be read as an ordinary event.
    #[error("a client cannot send a reply (Frame::Reply); only servers send phx_reply")]
    ReplyFromClient,
    /// A server frame with the event `phx_reply` is always read back as a reply, so it must be built as one.
    #[error("a server message cannot have the event \"phx_reply\"; send a Frame::Reply instead")]
    ReplyEventInServerMessage,
    /// Binary frames store each header field's length in one byte.
    #[error("{field} is {len} bytes, but binary frames allow at most 255")]
    FieldTooLong {
        /// The field that is too long: `join_ref`, `ref`, `topic`, `event`, `status` or `epoch`.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// Binary server pushes and broadcasts have no ref in their header.
    #[error("a binary message from the server cannot carry a ref (only replies answer a ref)")]
    RefInBinaryServerMessage,
    /// Binary frames carry extension fields only as a broadcast's position (kind 3).
    #[error("cannot encode ext in a binary frame: {0}")]
    ExtInBinaryFrame(&'static str),
}

/// Why data received on a socket is not a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The text is not JSON; the message is the JSON parser's, with the line and column.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// A V2 text frame is a JSON array.
    #[error("expected a V2 frame (a JSON array), got {found}")]
    NotAnArray {
        /// What the text held instead.
        found: JsonKind,
    },
    /// A V1 text frame is a JSON object.
    #[error("expected a V1 frame (a JSON object), got {found}")]
    NotAnObject {
        /// What the text held instead.
        found: JsonKind,
    },
    /// A V2 text frame has join_ref, ref, topic, event and payload.
    #[error("expected a JSON array of at least 5 elements, got {found}")]
    TooFewElements {
        /// How many elements the array had.
        found: usize,
    },
    /// A required field is absent (a V1 frame's key, or a reply payload's `status` or `response`).
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// An object names the same field twice, so which value counts would be a guess.
    #[error("duplicate field `{0}`")]
    DuplicateField(&'static str),
    /// A field holds the wrong kind of JSON value.
    #[error("{field} must be {expected}, got {found}")]
    WrongType {
        /// The field, such as `join_ref` or `topic`.
        field: &'static str,
        /// What it must be, such as `a string or null`.
        expected: &'static str,
        /// What it was.
        found: JsonKind,
    },
    /// A server's `phx_reply` payload is `{"response": .., "status": ..}`.
    #[error("a phx_reply payload must be a JSON object with status and response, got {found}")]
    ReplyPayloadNotAnObject {
        /// What the payload was.
        found: JsonKind,
    },
    /// The V1 serializer has no binary frames.
    #[error("binary frames are not part of the V1 serializer (vsn=1.0.0)")]
    BinaryOnV1,
    /// A binary frame needs at least its kind byte.
    #[error("binary frame is empty: it has no kind byte")]
    EmptyBinaryFrame,
    /// The first byte of a binary frame is not a known kind.
    #[error("unknown binary frame kind {0}")]
    UnknownBinaryKind(u8),
    /// A server's binary push or broadcast (kind 0, 2 or 3) named `phx_reply`: replies are kind 1.
    #[error("binary frame kind {0} is a message, which a server cannot name phx_reply (replies are kind 1)")]
    ReplyEventInBinaryMessage(u8),
    /// Binary replies and broadcasts (kinds 1, 2 and 3) only flow from server to client.
    #[error("binary frame kind {0} can only be sent by a server")]
    BinaryKindFromClient(u8),
    /// The frame ends inside its header of field lengths.
    #[error("binary frame truncated: a kind {kind} header has {needed} length bytes, {remaining} remain")]
    TruncatedHeader {
        /// The frame's kind.
        kind: u8,
        /// How many length bytes the kind's header has.
        needed: usize,
        /// How many bytes followed the kind byte.
        remaining: usize,
    },
    /// The frame ends before a field its header announced.
    #[error("binary frame truncated: header says {field} is {len} bytes, {remaining} remain")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Its announced length.
        len: usize,
        /// How many bytes were left.
        remaining: usize,
    },
    /// Topics, events, refs and statuses are text.
    #[error("{0} is not valid UTF-8")]
    NotUtf8(&'static str),
    /// A binary broadcast's position past [`Position::MAX_OFFSET`](crate::frame::Position::MAX_OFFSET), which no
    /// client could hand back exactly.
    #[error("binary frame's offset {0} is past 2^53 - 1")]
    OffsetTooLarge(u64),
}

/// The kind of a JSON value, to say what was found where something else was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs, reason = "each variant is the JSON kind it is named after, as its `Display` text says")]
pub enum JsonKind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl fmt::Display for JsonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonKind::Null => "null",
            JsonKind::Bool => "a boolean",
            JsonKind::Number => "a number",
            JsonKind::String => "a string",
            JsonKind::Array => "an array",
            JsonKind::Object => "an object",
        })
    }
}
