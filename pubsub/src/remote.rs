//! Channels answered somewhere else: an application's backend, asked over HTTP by `ferrocast-hooks`.
//!
//! A [`Remote`] decides a topic's joins and answers its pushes with futures, so a session goes on with its other
//! topics while it waits. The session keeps the order (see [`crate::session`]): on one topic, a frame waits until
//! the answer to the one before it has arrived, so a backend sees a connection's pushes on a topic one at a time, in
//! the order sent, and the client gets their replies in that order. Different topics and connections wait
//! concurrently.
//!
//! Every future a remote gives must end: an answer, or a refusal that says why (the hooks' time limit turns a
//! backend that does not answer into `backend_timeout`). The session runs each on a task of its own, so a push's
//! answer is applied (its broadcasts published, its receipt finished) even when the connection that sent it has
//! gone by then: the client's resend on its next connection gets the reply instead of reaching the backend again.

use crate::channel::{SocketInfo, reason};
use crate::outbox::CloseReason;
use ferrocast_protocol::Payload;
use serde_json::{Map, Value};
use std::pin::Pin;
use std::sync::Arc;

/// What a remote's answer arrives as.
pub type Answer<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What a transport knows about a connection that a remote channel passes on to its backend.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Caller {
    /// The connection's id as the backend knows it (the connect hook's `client`).
    pub client: String,
    /// How the client is connected: `websocket` or `sse`.
    pub transport: &'static str,
    /// The serializer's version, `1.0.0` or `2.0.0`.
    pub protocol: &'static str,
    /// The request headers the relay forwards (an allow list), as sent at connect.
    pub headers: Vec<(String, String)>,
    /// What the connect hook said of the connection (`info`), passed back with every call.
    pub info: Option<Value>,
}

/// A join a remote accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteJoin {
    /// The join reply's response.
    pub response: Payload,
    /// The member's presence meta, tracked under the user (or the client, for a connection without one).
    pub presence: Option<Map<String, Value>>,
}

/// Why a remote refused a join.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The join error's response (`{"reason": …}`).
    Error(Payload),
    /// Refused, and the connection is to close with this code and reason (after the join error, whose reason is
    /// the close's).
    Disconnect(CloseReason),
}

/// A remote's answer to a push: always a reply, and broadcasts to publish on the topic first.
#[derive(Debug, Clone, PartialEq)]
pub struct RemotePush {
    /// `ok` or `error`.
    pub status: String,
    /// The reply's response.
    pub response: Payload,
    /// Events to broadcast to the topic, in order, before the reply goes out.
    pub broadcasts: Vec<(String, Payload)>,
    /// The connection closes with this after the reply.
    pub disconnect: Option<CloseReason>,
}

impl RemotePush {
    /// An `error` reply with this response and nothing broadcast.
    pub fn error(response: Payload) -> Self {
        RemotePush { status: "error".to_owned(), response, broadcasts: Vec::new(), disconnect: None }
    }

    /// An `error` reply that says why, then the connection closed with `close`.
    pub fn disconnect(close: CloseReason) -> Self {
        RemotePush { disconnect: Some(close.clone()), ..RemotePush::error(reason(&close.reason)) }
    }
}

/// A channel whose joins and pushes are answered by someone else.
pub trait Remote: Send + Sync + std::fmt::Debug + 'static {
    /// Whether `socket` may join `topic` with `params`: the join, or the refusal's response
    /// (`{"reason": …}`).
    fn join(&self, socket: &SocketInfo, topic: &str, params: &Payload) -> Answer<Result<RemoteJoin, Refusal>>;

    /// The answer to the event `event` pushed on `topic`, a topic this connection joined.
    fn push(&self, socket: &SocketInfo, topic: &str, event: &str, payload: &Payload) -> Answer<RemotePush>;
}

/// The remotes a relay asks, by topic pattern: one for joins and one for pushes, each optional.
#[derive(Debug, Clone, Default)]
pub struct RemoteRoute {
    /// Decides joins; a topic with no join remote is joined as soon as it is asked.
    pub join: Option<Arc<dyn Remote>>,
    /// Answers pushes; a topic with no push remote answers every push `{"reason": "unknown event"}`.
    pub push: Option<Arc<dyn Remote>>,
}
