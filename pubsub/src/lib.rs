//! Ferrocast's backend: topics and fanout, presence, channel routing, and the server side of a socket.
//!
//! Nothing here knows about HTTP or WebSockets: the relay hands each connection's messages to a [`Session`] and
//! writes out what its [`Outbox`] holds. That keeps channel logic testable without sockets, and reusable by the
//! workflow engine and the Redis backend.
//!
//! - `auth`: tokens, and who may join, publish and act in a zone.
//! - `limits`: channels per connection, and the rate limiter on what a connection sends.
//! - `outbox`: a connection's bounded outbound queue, and the slow-consumer policy.
//! - `broadcast_queue`: broadcasts whose publisher does not wait for their fanout, fanned out in order on a thread
//!   of their own.
//! - `hub`: topics and their subscribers, and each broadcast handed to all of them; topics are sharded over locks
//!   (`sharded`, which also holds the poison-tolerant lock helpers).
//! - `wire`: what a subscriber's connection speaks, and broadcasts encoded once per serializer.
//! - `history`: each topic's numbered broadcasts, kept for clients that come back.
//! - `loss_notice`: what live subscribers are told when broadcasts numbered elsewhere were lost for good.
//! - `fanout_timing`: how long broadcasts take to reach every subscriber's queue.
//! - `following`: whether a hub receives a topic's broadcasts, for relays that receive only the topics joined there.
//! - `presence`: who is on each topic, with coalesced `presence_diff`s; `presence_text`: presence as JSON text, and
//!   a large topic's `presence_state` kept between joins, in chunks every joiner's frame shares.
//! - `receipts`: pushes already handled, per client socket, so a push sent again is not handled twice;
//!   `push_once`: the same across relays, and a push answered once Redis has its broadcasts.
//! - `channel` and `router`: the channel API, topic patterns, scopes and plugs.
//! - `handlers`: channels built from closures, with events routed by name or `*` splat.
//! - `remote`: topics whose joins and pushes an application's backend answers, later.
//! - `session`: one connection's joins, leaves, events and heartbeats; `joined`: the steps every join and leave
//!   take, for a session and an event stream alike.
//! - `event_stream`: one server-sent event stream reading several topics, resumable by its event ids.
//! - `cluster`: several relays on one Redis, sharing broadcasts, history and presence.
//! - `tap`: what happens on the hub (broadcasts, topics occupied and vacated), told to a listener: the webhooks.
//!
//! This is the engine, not its applications: the built-in channels (`room:*`, `zone:*`, `reactor:*`) live in
//! `ferrocast-channels`, on the API above, and this crate depends on no channel and not on the workflow engine.

mod auth;
mod broadcast_queue;
mod channel;
mod cluster;
mod event_stream;
mod fanout_timing;
mod following;
mod handlers;
mod history;
mod hub;
mod joined;
mod lanes;
mod limits;
mod loss_notice;
mod outbox;
mod presence;
mod presence_text;
mod push_once;
mod receipts;
mod remote;
mod router;
mod session;
mod sharded;
mod sweeper;
mod tap;
mod wire;

pub use auth::{Claims, Identity, TokenError, TokenVerifier};
pub use broadcast_queue::{Broadcast, BroadcastQueue, FanoutStopped, QUEUED_BYTES, QUEUED_REQUESTS};
pub use channel::{Channel, Context, Outcome, SocketInfo, reason};
pub use cluster::{
    Cluster, ClusterError, ClusterSettings, ClusterSnapshot, JOURNAL, Journal, JournaledBroadcast, NUMBERED_FIELD,
    RedisEndpoint, RedisLink, read_numbered, redis_client,
};
pub use event_stream::{EventStream, Refused};
pub use fanout_timing::{FanoutSnapshot, FanoutTiming};
pub use following::{FollowGuard, Following};
pub use handlers::Handlers;
pub use history::{HistoryLimits, HistoryUsage, Retained};
pub use hub::{HistoryPage, Hub, Published, Upstream};
pub use lanes::Landed;
pub use limits::SessionLimits;
pub use outbox::{CLOSE_SLOW_CONSUMER, CloseReason, Numbered, OutFrame, Outbox, OutboxLimits};
pub use presence::{PresenceHub, PresenceReplica};
pub use receipts::{ReceiptLimits, Receipts};
pub use remote::{Answer, Caller, Refusal, Remote, RemoteJoin, RemotePush, RemoteRoute};
pub use router::{Plug, PlugContext, Router, topic_matches};
pub use session::{Backend, Session, SessionError};
pub use tap::Tap;
pub use wire::{ConnId, Subscriber, Wire};
