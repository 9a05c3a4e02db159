//! What a subscriber's connection speaks, and a broadcast encoded for it: the bytes the hub hands every subscriber
//! of one wire, made once per serializer (and with or without the broadcast's position) however many subscribers
//! share it. Phoenix frames in V1 or V2, or the fields of a server-sent event.

use crate::outbox::{Numbered, OutFrame, Outbox};
use ferrocast_protocol::codec::encode;
use ferrocast_protocol::sse::{self, SUBSCRIBED_EVENT};
use ferrocast_protocol::{Ext, Frame, Message, Payload, Position, Sender, Vsn};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Identifies one connection for the lifetime of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl ConnId {
    /// A new, never used id.
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ConnId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// What a subscriber's connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// Phoenix Channels frames in this serializer.
    Phoenix(Vsn),
    /// Server-sent events: `topic`, `event` and `data` fields, the stream writing each event's `id`.
    EventStream,
}

/// One connection subscribed to a topic.
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// The connection. A topic holds one subscription per connection: subscribing again replaces it.
    pub conn: ConnId,
    /// What it speaks.
    pub wire: Wire,
    /// Where its frames go.
    pub outbox: Arc<Outbox>,
    /// Whether it speaks Ferrocast's recovery extension: its broadcasts carry their position, and its numbered
    /// broadcasts wait from [`Hub::subscribe`](crate::Hub::subscribe) until
    /// [`Hub::catch_up`](crate::Hub::catch_up), which replays what it missed first.
    pub positioned: bool,
    /// The join ref of the channel it joined (Phoenix wire), for the `phx_error` that ends its subscription when
    /// broadcasts were lost (see `loss_notice.rs`).
    pub join_ref: Option<String>,
}

/// A broadcast frame, encoded the first time a subscriber needs it for each serializer, with and without its
/// position.
pub(crate) struct EncodedOnce<'a> {
    topic: &'a str,
    event: &'a str,
    payload: &'a Payload,
    /// The broadcast's offset and its topic's epoch, when it is numbered.
    position: Option<(u64, &'a Arc<str>)>,
    /// Indexed by wire (V1, V2, event stream), then by whether the position is included.
    slots: [[Option<Option<OutFrame>>; 2]; 3],
}

impl<'a> EncodedOnce<'a> {
    pub(crate) fn new(
        topic: &'a str,
        event: &'a str,
        payload: &'a Payload,
        position: Option<(u64, &'a Arc<str>)>,
    ) -> Self {
        EncodedOnce { topic, event, payload, position, slots: Default::default() }
    }

    pub(crate) fn for_subscriber(&mut self, subscriber: &Subscriber) -> Option<&OutFrame> {
        let (topic, event, payload) = (self.topic, self.event, self.payload);
        let position = if subscriber.positioned { self.position } else { None };
        let wire_slot = match subscriber.wire {
            Wire::Phoenix(Vsn::V1) => 0,
            Wire::Phoenix(Vsn::V2) => 1,
            Wire::EventStream => 2,
        };
        self.slots[wire_slot][usize::from(position.is_some())]
            .get_or_insert_with(|| {
                // Made here, only when a positioned subscriber needs it, not for every broadcast.
                let at = position.map(|(offset, epoch)| Position { offset, epoch: epoch.to_string() });
                encode_broadcast(subscriber.wire, topic, event, payload, at)
            })
            .as_ref()
    }
}

/// A broadcast frame for one wire, with its position when given; `None` when the wire cannot carry the payload
/// (binary on V1 or an event stream, or a line break in an event stream's topic or event name).
pub(crate) fn encode_broadcast(
    wire: Wire,
    topic: &str,
    event: &str,
    payload: &Payload,
    at: Option<Position>,
) -> Option<OutFrame> {
    let vsn = match wire {
        Wire::Phoenix(vsn) => vsn,
        Wire::EventStream => return encode_event(topic, event, payload, at),
    };
    let frame = Frame::Message(Message {
        join_ref: None,
        r#ref: None,
        topic: topic.to_owned(),
        event: event.to_owned(),
        payload: payload.clone(),
        ext: at.map(|position| Ext { position: Some(position), recovered: None }),
    });
    encode(vsn, Sender::Server, &frame).ok().map(OutFrame::from_encoded)
}

/// A broadcast as the fields of a server-sent event, without the `id` and the blank line that end it: the stream
/// adds those, since the id holds the positions of all its topics.
pub(crate) fn encode_event(topic: &str, event: &str, payload: &Payload, at: Option<Position>) -> Option<OutFrame> {
    let Payload::Json(json) = payload else { return None };
    if !sse::is_single_line(topic) || !sse::is_single_line(event) {
        return None;
    }
    let mut fields = String::with_capacity(topic.len() + event.len() + json.len() + 24);
    sse::write_field(&mut fields, "topic", topic);
    sse::write_field(&mut fields, "event", event);
    sse::write_field(&mut fields, "data", json);
    let numbered = at.map(|position| Arc::new(Numbered { topic: topic.to_owned(), position }));
    Some(OutFrame { text: true, bytes: fields.into(), rest: None, numbered })
}

/// The `ferrocast:subscribed` event that starts a topic on a stream, or tells it of a loss: where the topic is
/// (`current`) and whether everything missed was replayed, encoded as a broadcast at `at`, the position the reader
/// holds once it is through, so its id says so.
pub(crate) fn encode_subscribed(
    topic: &str,
    current: &Position,
    recovered: Option<bool>,
    at: Position,
) -> Option<OutFrame> {
    let data = serde_json::json!({
        "topic": topic,
        "offset": current.offset,
        "epoch": current.epoch,
        "recovered": recovered,
    });
    encode_event(topic, SUBSCRIBED_EVENT, &Payload::Json(data.to_string()), Some(at))
}
