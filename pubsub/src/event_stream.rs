//! One server-sent event stream: a read-only reader of several topics, with positions it can resume from.
//!
//! A stream joins each of its topics as a channel join would (the route's plugs and the channel's `join` decide,
//! with the stream's params), subscribes with positions, and catches up from the position the reader offers (the
//! `Last-Event-ID` of its last connection). Each topic starts with a `ferrocast:subscribed` event saying where the
//! topic is and whether everything missed was replayed; the missed broadcasts follow, then live ones. Every numbered
//! event carries an `id` holding the position of every topic of the stream ([`sse::stream_id`]), so a reader that
//! reconnects with it, however many topics it reads, misses nothing.
//!
//! The hub encodes a broadcast once for every stream on its topic (`Wire::EventStream`: the `topic`, `event` and
//! `data` fields); the `id`, which holds every topic's position and so differs per stream, is the stream's own. The
//! relay turns the stream's outbox into the HTTP response: [`EventStream::write`] adds each event's `id` and the
//! blank line that ends it.

use crate::auth::Identity;
use crate::channel::{Pushed, SocketInfo, reason};
use crate::following::FollowGuard;
use crate::joined::{Connection, Joined, replay_from_start};
use crate::outbox::{OutFrame, Outbox};
use crate::session::Backend;
use crate::wire::{ConnId, Subscriber, Wire, encode_event, encode_subscribed};
use ferrocast_protocol::{Payload, Position, sse};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// The longest topic name a stream accepts.
const MAX_TOPIC_LEN: usize = 255;

/// Why a stream was not opened; the relay answers with an HTTP status and this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No `topic` was given.
    #[error("give at least one topic: /sse?topic=room:lobby")]
    NoTopic,
    /// More topics than the stream limit.
    #[error("a stream reads at most {max} topics")]
    TooManyTopics {
        /// The `max_topics` that [`EventStream::open`] was given.
        max: usize,
    },
    /// An empty topic, a topic with a line break, or one longer than 255 bytes.
    #[error("bad topic {0:?}: 1 to {MAX_TOPIC_LEN} bytes, no line break")]
    BadTopic(String),
    /// No channel serves the topic.
    #[error("unmatched topic {0:?}")]
    Unmatched(String),
    /// The topic's plugs or channel refused the join, with this response.
    #[error("join of {topic:?} refused{}", json_detail(.response))]
    Join {
        /// The first topic refused; the topics joined before it are left again.
        topic: String,
        /// The refusal, as a channel join's error response.
        response: Payload,
    },
}

/// A JSON refusal's response, after a colon; a binary one is not shown.
fn json_detail(response: &Payload) -> String {
    match response {
        Payload::Json(json) => format!(": {json}"),
        _ => String::new(),
    }
}

/// A topic the stream joined.
struct StreamTopic {
    topic: String,
    joined: Joined,
    /// The topic's position when the stream subscribed (its start, for a channel that replays its history): the
    /// replay starts there when the offered one cannot be served.
    subscribed: Position,
    /// The position the reader has been sent up to, written into every event's id.
    position: Option<Position>,
}

/// An open stream. Dropping it leaves every topic.
pub struct EventStream {
    backend: Arc<Backend>,
    socket: SocketInfo,
    conn: ConnId,
    joined: Vec<StreamTopic>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let topics: Vec<&str> = self.joined.iter().map(|joined| joined.topic.as_str()).collect();
        f.debug_struct("EventStream").field("conn", &self.conn).field("topics", &topics).finish()
    }
}

impl EventStream {
    /// Follows the `topics` a stream of `identity` may read, for [`EventStream::open`] to call while the guards
    /// live: with several relays, a topic this relay does not follow yet is followed first, so the stream's replay
    /// and what comes after it are complete (see [`crate::following`]). A request for more than `max_topics`, which
    /// `open` refuses, follows none.
    pub async fn follow(
        backend: &Backend,
        topics: &[String],
        max_topics: usize,
        identity: &Identity,
    ) -> Vec<FollowGuard> {
        let mut followed = Vec::new();
        if topics.len() <= max_topics {
            for topic in topics.iter().filter(|topic| identity.may_join(topic)) {
                followed.push(backend.hub.followed(topic).await);
            }
        }
        followed
    }

    /// Joins `topics` (duplicates count once) with `params`, resuming after `last_event_id`, and queues the first
    /// events into `outbox`. Refused as a whole when any topic is refused.
    pub fn open(
        backend: Arc<Backend>,
        topics: &[String],
        max_topics: usize,
        last_event_id: Option<&str>,
        params: HashMap<String, String>,
        identity: Identity,
        outbox: Arc<Outbox>,
    ) -> Result<Self, Refused> {
        let mut unique: Vec<&String> = Vec::with_capacity(topics.len());
        for topic in topics {
            if !unique.contains(&topic) {
                unique.push(topic);
            }
        }
        if unique.is_empty() {
            return Err(Refused::NoTopic);
        }
        if unique.len() > max_topics {
            return Err(Refused::TooManyTopics { max: max_topics });
        }
        if let Some(bad) = unique.iter().find(|t| t.is_empty() || t.len() > MAX_TOPIC_LEN || !sse::is_single_line(t)) {
            return Err(Refused::BadTopic((*bad).clone()));
        }
        if let Some(forbidden) = unique.iter().find(|topic| !identity.may_join(topic)) {
            return Err(Refused::Join { topic: (*forbidden).clone(), response: reason("unauthorized") });
        }
        // An id that does not fit offers a position no history has, so every topic says `recovered: false`
        // rather than the stream failing: a browser's EventSource stops reconnecting on an error status.
        let unservable = Position { offset: 0, epoch: String::new() };
        let offered = match last_event_id.filter(|id| !id.is_empty()) {
            None => vec![None; unique.len()],
            Some(id) => sse::stream_id::read(id, unique.len()).unwrap_or_else(|| vec![Some(unservable); unique.len()]),
        };
        let conn = ConnId::next();
        let mut stream = EventStream {
            backend,
            socket: SocketInfo { conn: Some(conn), params, identity, caller: Arc::default() },
            conn,
            joined: vec![],
        };
        // The join params are the stream's query params, as a JSON object, for channels that read them.
        let join_params = Payload::Json(json!(stream.socket.params).to_string());
        // Per topic, as a channel join: the subscribed event, the replay, then what the channel pushed on join.
        for (index, (topic, offered)) in unique.iter().zip(&offered).enumerate() {
            let pushes = stream.join(topic, &join_params, &outbox)?;
            stream.catch_up(index, offered.as_ref(), &outbox);
            for (name, pushed) in pushes {
                if let Some(frame) = encode_event(topic, &name, &pushed.into_payload(), None) {
                    outbox.push(frame);
                }
            }
        }
        Ok(stream)
    }

    /// Writes one frame of the stream's outbox as it goes on the wire: its fields, then the `id` when it moves a
    /// topic's position, then the blank line that dispatches it.
    pub fn write(&mut self, frame: &OutFrame, out: &mut Vec<u8>) {
        for part in frame.parts() {
            out.extend_from_slice(part);
        }
        if let Some(numbered) = &frame.numbered {
            if let Some(joined) = self.joined.iter_mut().find(|joined| joined.topic == numbered.topic) {
                joined.position = Some(numbered.position.clone());
            }
            let positions = self.joined.iter().map(|joined| joined.position.as_ref());
            out.extend_from_slice(b"id: ");
            out.extend_from_slice(sse::stream_id::write(positions).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
    }

    /// The stream's connection id.
    pub fn conn(&self) -> ConnId {
        self.conn
    }

    /// The topics read, in id order.
    pub fn topics(&self) -> impl Iterator<Item = &str> {
        self.joined.iter().map(|joined| joined.topic.as_str())
    }

    /// Joins one topic; returns what the channel pushed to the joiner, which reaches the reader as events.
    fn join(&mut self, topic: &str, params: &Payload, outbox: &Arc<Outbox>) -> Result<Vec<(String, Pushed)>, Refused> {
        let backend = Arc::clone(&self.backend);
        if backend.router.remote(topic).is_some() {
            // A backend's answer comes later, and a stream's topics are joined before its first event: such a topic
            // is read over a socket, where the join waits for its answer.
            let response = reason("a backend decides this topic's joins: join it over a socket");
            return Err(Refused::Join { topic: topic.to_owned(), response });
        }
        let Some(routed) = backend.router.route(topic) else { return Err(Refused::Unmatched(topic.to_owned())) };
        let subscriber = Subscriber {
            conn: self.conn,
            wire: Wire::EventStream,
            outbox: Arc::clone(outbox),
            positioned: true,
            join_ref: None,
        };
        let subscribed = backend.hub.subscribe(topic, subscriber);
        // A channel that replays its history replays it to a stream too, from its start unless the reader resumes.
        let subscribed = if routed.channel.replays_history() { replay_from_start(&subscribed) } else { subscribed };
        let accepted = self
            .connection()
            .join(topic, routed, params, None)
            .map_err(|response| Refused::Join { topic: topic.to_owned(), response })?;
        self.joined.push(StreamTopic { topic: topic.to_owned(), joined: accepted.joined, subscribed, position: None });
        Ok(accepted.pushes)
    }

    fn catch_up(&self, index: usize, offered: Option<&Position>, outbox: &Outbox) {
        let StreamTopic { topic, subscribed, .. } = &self.joined[index];
        self.backend.hub.catch_up(topic, self.conn, offered, subscribed, |current, recovered| {
            // The reader holds this position once the event is through: the offered one when it can be served,
            // otherwise where the stream subscribed, which is where the replay then starts.
            let replay_from = match (recovered, offered) {
                (Some(true), Some(offered)) => offered.clone(),
                _ => subscribed.clone(),
            };
            if let Some(frame) = encode_subscribed(topic, current, recovered, replay_from) {
                outbox.push(frame);
            }
        });
    }

    /// This stream, as its channels run for it.
    fn connection(&self) -> Connection<'_> {
        Connection { backend: &self.backend, socket: &self.socket, conn: self.conn }
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        for StreamTopic { topic, joined, .. } in std::mem::take(&mut self.joined) {
            self.connection().leave(&topic, joined);
        }
    }
}
