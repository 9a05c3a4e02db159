//! What the client state machine asks of its embedding: transport actions and application events.
//!
//! The socket hands each output, as it makes it, to its [`Outputs`]: [`Queues`] by default, which `poll_transmit`
//! and `poll_event` drain; an embedding may give its own, as the browser client does to write each as a record for
//! JavaScript at once, frames unencoded. Frames pass as views both ways: `handle_inbound` takes an [`Inbound`] (the
//! frame's strings borrowed, its payload beside them), which `handle_frame` lends a decoded frame's parts to, and
//! [`Outputs::send`] is given an [`Outgoing`] over what the socket holds, its refs as numbers. Only [`Queues`] makes
//! owned frames and events of them.

use super::refs;
use crate::frame::{Encoded, Ext, Frame, Message, Payload, Position};
use std::collections::VecDeque;

/// Identifies a channel object created with [`super::Socket::channel`].
///
/// Several channel objects may exist for one topic, as in phoenix.js; each has its own id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub(crate) u32);

/// Identifies one push: a join, a leave or an application push. A channel's join keeps one id across rejoins, so
/// reply callbacks registered on it fire on every (re)join, as phoenix.js's `joinPush` hooks do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PushId(pub(crate) u32);

/// The ids as plain numbers, for an embedding that hands them across a boundary that carries only numbers (the
/// browser client's JavaScript layer). An id made up on the other side names no channel or push: the machine
/// answers it with [`super::ClientError::UnknownChannel`] or ignores it, as it does any stale id.
macro_rules! id_as_number {
    ($id:ident) => {
        impl From<$id> for u32 {
            fn from(id: $id) -> u32 {
                id.0
            }
        }

        impl From<u32> for $id {
            fn from(number: u32) -> $id {
                $id(number)
            }
        }
    };
}

id_as_number!(ChannelId);
id_as_number!(PushId);

/// Something the embedding must do to the transport, in this order. What is sent is `F`: the encoded message as
/// [`Socket::poll_transmit`](super::Socket::poll_transmit) gives it, or the frame, as [`Queues`] keeps it until then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit<F = Encoded> {
    /// Open a new connection. Report the outcome with `handle_open` or `handle_close`.
    Connect,
    /// Send one WebSocket message on the open connection.
    Send(F),
    /// Close the connection with this code and reason, and detach from it: the machine already treats it as
    /// closed, so no `handle_close` or frame from it should follow.
    Close {
        /// The WebSocket close code.
        code: u16,
        /// The reason for the close frame: the one given to `disconnect`, or `heartbeat timeout`.
        reason: String,
    },
}

/// A frame the socket sends, as it holds its parts: borrowed, and its refs numbers, written as text only when the
/// frame is encoded ([`Outgoing::to_frame`]), so an embedding that lays frames out itself (the browser client) copies
/// no string and formats no number for a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outgoing<'a> {
    /// The join ref of the channel it is sent on; `None` for heartbeats, or a push before any join was sent.
    pub join_ref: Option<u64>,
    /// The frame's ref, fresh from the socket's counter (a push sent again keeps its first); its reply carries it.
    pub r#ref: u64,
    /// The channel's topic, or `phoenix` for a heartbeat.
    pub topic: &'a str,
    /// `phx_join`, `phx_leave`, `heartbeat`, or the event of an application push.
    pub event: &'a str,
    /// The payload; `None` for the empty object `{}` (leaves and heartbeats).
    pub payload: Option<&'a Payload>,
    /// A join's extension: `Some` with the position it resumes from, if it has one; `None` for no extension.
    pub resume: Option<Option<&'a Position>>,
}

impl Outgoing<'_> {
    /// The frame, its refs as text.
    pub fn to_frame(&self) -> Frame {
        Frame::Message(Message {
            join_ref: self.join_ref.map(refs::text),
            r#ref: Some(refs::text(self.r#ref)),
            topic: self.topic.to_owned(),
            event: self.event.to_owned(),
            payload: self.payload.cloned().unwrap_or_else(Payload::empty),
            ext: self.resume.map(|position| Ext { position: position.cloned(), recovered: None }),
        })
    }
}

/// A frame from the server as the socket reads it, its strings borrowed:
/// [`Socket::handle_inbound`](super::Socket::handle_inbound) takes it with the frame's payload beside it, so an
/// embedding that keeps the frame's parts itself (the browser client) hands them in without copying them into a
/// [`Frame`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inbound<'a> {
    /// With `topic`, picks the channels the frame is for: `None` for every channel of the topic, otherwise only the
    /// one whose latest join sent it.
    pub join_ref: Option<&'a str>,
    /// The frame's ref. A reply's names the push it answers, as the exact decimal form of the ref that push was
    /// sent with; any other text names none.
    pub r#ref: Option<&'a str>,
    /// The topic the frame is for (`phoenix` for a heartbeat's reply).
    pub topic: &'a str,
    /// A message's event; `phx_reply` for a reply.
    pub event: &'a str,
    /// A reply's status: `Some` makes the frame a reply, whose payload is its response.
    pub status: Option<&'a str>,
    /// Ferrocast's extension fields, if present.
    pub ext: Option<Ext>,
}

/// Why a push was dropped without being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The offline queue was full: with `Overflow::Reject`, the new push; with `Overflow::DropOldest`, the oldest.
    QueueFull,
    /// The push waited in the offline queue longer than its time to live.
    Expired,
    /// The push's channel closed before the push could be sent.
    ChannelClosed,
}

/// The status of a push's outcome: the server's reply status, or a timeout.
pub const TIMEOUT: &str = "timeout";

/// Something that happened, for the application. A `channel` field is the id that
/// [`Socket::channel`](super::Socket::channel) returned; a `push` field, the id returned by `join`, `push` or
/// `leave`.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs, reason = "`channel` and `push`, the only fields without a comment, are described once above")]
pub enum Event<P> {
    /// The connection opened. Errored channels, and joins that were waiting for it, are sent now.
    Open,
    /// The connection closed (or was given up on, after a heartbeat timeout).
    Close {
        /// As the transport reported it, or as the machine closed with: `disconnect`'s, or 1000 after a
        /// heartbeat timeout.
        code: u16,
        /// From the same source as `code`; `heartbeat timeout` after one.
        reason: String,
        /// `true` when the application asked for it with `disconnect`.
        clean: bool,
    },
    /// The transport reported an error.
    Error,
    /// A reconnect is scheduled.
    ReconnectScheduled {
        /// The number of this attempt, counting from 1 since the last open.
        attempt: u32,
        /// How long until the attempt.
        delay_ms: u64,
    },
    /// No heartbeat reply arrived in time: the connection is closed and will be reopened.
    HeartbeatTimeout,
    /// A message for a channel: a push from the server or a broadcast.
    Message {
        /// The channel it is for; a broadcast comes once for each channel object joined to its topic.
        channel: ChannelId,
        /// The frame's event: never `phx_reply`, `phx_close` or `phx_error`, which come as `Reply`, `ChannelClose`
        /// and `ChannelError`.
        event: String,
        /// The frame's payload, as the embedding decoded it.
        payload: P,
        /// The frame's ref.
        r#ref: Option<String>,
        /// The frame's join ref.
        join_ref: Option<String>,
    },
    /// The final outcome of a push: the server's reply, or [`TIMEOUT`]. Every push gets exactly one, except a
    /// channel's join, which gets one per attempt.
    Reply {
        push: PushId,
        channel: ChannelId,
        /// `ok`, `error` (or another status from the server), or [`TIMEOUT`].
        status: String,
        /// The reply's response; `None` for a timeout, or for a reply the machine made up (a leave while offline).
        response: Option<P>,
    },
    /// A channel errored: the server reported `phx_error`, or the connection dropped. It rejoins by itself.
    ChannelError {
        channel: ChannelId,
        /// The `phx_error` payload; `None` when the connection dropped.
        reason: Option<P>,
    },
    /// A channel closed for good: left, or closed by the server.
    ChannelClose { channel: ChannelId },
    /// A push was dropped without being sent. Its [`Event::Reply`] with [`TIMEOUT`] follows.
    Dropped {
        push: PushId,
        channel: ChannelId,
        /// The event it would have sent.
        event: String,
        /// Why it was dropped: a full queue may drop an older push than the one just made.
        reason: DropReason,
    },
    /// A rejoin could not replay everything missed since the channel's last position (the history was too short or
    /// lost). The application should reload its state.
    RecoveryIncomplete {
        channel: ChannelId,
        /// The topic's current position, from which the channel continues.
        position: Option<Position>,
    },
}

/// Where a [`Socket`](super::Socket) puts its outputs as it makes them, in the order it makes them.
///
/// [`Queues`], the default, keeps them until they are polled. An embedding that hands them on in a form of its own
/// gives its own: the browser client writes each as a record for JavaScript at once, so its wasm has no queue of
/// events and no second pass over one.
pub trait Outputs<P> {
    /// Open a new connection (see [`Transmit::Connect`]). An embedding does the transport actions of a step before it
    /// tells the application that step's events.
    fn connect(&mut self);
    /// Send this frame on the open connection.
    fn send(&mut self, frame: Outgoing<'_>);
    /// Close the connection with this code and reason, and detach from it (see [`Transmit::Close`]).
    fn close(&mut self, code: u16, reason: &str);
    /// Something that happened, for the application.
    fn event(&mut self, event: Event<P>);

    /// A message for a channel, from the frame being handled: [`Event::Message`] with the frame's strings.
    fn message(&mut self, channel: ChannelId, frame: &Inbound<'_>, payload: P) {
        let (event, r#ref, join_ref) =
            (frame.event.to_owned(), frame.r#ref.map(str::to_owned), frame.join_ref.map(str::to_owned));
        self.event(Event::Message { channel, event, payload, r#ref, join_ref });
    }

    /// A push's outcome: [`Event::Reply`].
    fn reply(&mut self, push: PushId, channel: ChannelId, status: &str, response: Option<P>) {
        self.event(Event::Reply { push, channel, status: status.to_owned(), response });
    }

    /// The connection closed: [`Event::Close`].
    fn closed(&mut self, code: u16, reason: &str, clean: bool) {
        self.event(Event::Close { code, reason: reason.to_owned(), clean });
    }
}

/// The outputs kept in order for `poll_transmit` and `poll_event`.
#[derive(Debug)]
pub struct Queues<P> {
    pub(crate) transmits: VecDeque<Transmit<Frame>>,
    pub(crate) events: VecDeque<Event<P>>,
}

impl<P> Default for Queues<P> {
    fn default() -> Self {
        Queues { transmits: VecDeque::new(), events: VecDeque::new() }
    }
}

impl<P> Outputs<P> for Queues<P> {
    fn connect(&mut self) {
        self.transmits.push_back(Transmit::Connect);
    }

    fn send(&mut self, frame: Outgoing<'_>) {
        self.transmits.push_back(Transmit::Send(frame.to_frame()));
    }

    fn close(&mut self, code: u16, reason: &str) {
        self.transmits.push_back(Transmit::Close { code, reason: reason.to_owned() });
    }

    fn event(&mut self, event: Event<P>) {
        self.events.push_back(event);
    }
}
