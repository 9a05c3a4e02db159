//! The channel API: what a channel implements, and what it can do while handling a join or an event.
//!
//! A [`Channel`] answers a join (`join`), each event the client pushes (`handle_in`, returning an [`Outcome`]) and
//! the end of the join (`leave`); a [`Context`] lets it broadcast, push to its own client, track presence and keep
//! per-join assigns. A channel whose topics tell a story from their start says so with
//! [`Channel::replays_history`].

use crate::auth::Identity;
use crate::hub::Hub;
use crate::presence::PresenceHub;
use crate::presence_text::SharedJson;
use crate::push_once::PushOrigin;
use crate::remote::Caller;
use crate::wire::ConnId;
use ferrocast_protocol::Payload;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// What a channel answers to an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Reply to the push with this status (`ok`, `error`, …) and response.
    Reply(String, Payload),
    /// Send nothing back.
    NoReply,
    /// Close the channel, after replying if there is a reply: Phoenix's `{:stop, reason, reply, socket}`.
    Stop(Option<(String, Payload)>),
    /// The channel failed: the client gets `phx_error` and rejoins.
    Crash,
}

impl Outcome {
    /// `ok` with this response.
    pub fn ok(response: Payload) -> Self {
        Outcome::Reply("ok".to_owned(), response)
    }

    /// `error` with this response.
    pub fn error(response: Payload) -> Self {
        Outcome::Reply("error".to_owned(), response)
    }
}

/// A JSON error response `{"reason": reason}`, as Phoenix channels and plugs answer refusals.
pub fn reason(reason: &str) -> Payload {
    Payload::Json(serde_json::json!({ "reason": reason }).to_string())
}

/// The connection a channel runs on.
#[derive(Debug, Clone)]
pub struct SocketInfo {
    /// The connection's id, unique for the process's lifetime; sessions and event streams always set it.
    pub conn: Option<ConnId>,
    /// The connect parameters (the WebSocket URL's query), such as `token`.
    pub params: HashMap<String, String>,
    /// Who is connected: the token's user, or anonymous in dev mode.
    pub identity: Identity,
    /// What the transport knows of the connection, for the backends remote channels ask.
    pub caller: Arc<Caller>,
}

/// A channel: joined per topic, it answers the events pushed to it.
///
/// One value serves every connection (the relay shares it); what one join needs to remember goes in
/// [`Context::assigns`].
pub trait Channel: Send + Sync + 'static {
    /// Decides a join. `Ok` carries the join reply's response, `Err` the refusal's (such as
    /// `{"reason": "unauthorized"}`).
    fn join(&self, ctx: &mut Context<'_>, params: &Payload) -> Result<Payload, Payload>;

    /// Handles an event pushed by the client.
    fn handle_in(&self, ctx: &mut Context<'_>, event: &str, payload: Payload) -> Outcome;

    /// Whether a join with no position to resume from replays the topic's kept history from its oldest broadcast
    /// instead of starting at the present. For topics that tell a story from its start, such as a workflow run's
    /// events: a late joiner sees the run from `run_started`. A join that offers a position it can resume from
    /// gets only what it missed, as on any topic; one whose position cannot be served gets the whole replay.
    fn replays_history(&self) -> bool {
        false
    }

    /// Called once when a joined channel ends, however it ends: left, stopped, crashed, replaced by a new join of
    /// the topic, or its connection gone. Its presence is untracked and its subscription dropped right after.
    fn leave(&self, _ctx: &mut Context<'_>) {}
}

/// The payload of a push a channel made.
#[derive(Debug)]
pub(crate) enum Pushed {
    /// A payload of its own.
    Payload(Payload),
    /// JSON in parts shared with other pushes (a topic's presences).
    Shared(SharedJson),
}

impl Pushed {
    /// The payload in one piece.
    pub(crate) fn into_payload(self) -> Payload {
        match self {
            Pushed::Payload(payload) => payload,
            Pushed::Shared(json) => Payload::Json(json.to_text()),
        }
    }
}

/// What a channel can do while it handles a join or an event.
pub struct Context<'a> {
    /// The whole topic joined (`room:lobby`): the one `broadcast`, `track` and `presence_state` act on.
    pub topic: &'a str,
    /// The part of the topic matched by the route's `*` (`lobby` for `room:lobby` under `room:*`).
    pub splat: &'a str,
    /// The connection: its id, connect params and identity.
    pub socket: &'a SocketInfo,
    /// Values this join keeps between events, set during the join (Phoenix's socket assigns).
    pub assigns: &'a mut Map<String, Value>,
    pub(crate) conn: ConnId,
    pub(crate) hub: &'a Hub,
    pub(crate) presence: &'a Arc<PresenceHub>,
    /// Pushes to this channel's client, sent by the session in order around the reply.
    pub(crate) pushes: Vec<(String, Pushed)>,
    /// The push being handled, when its broadcasts must be made once across relays (see [`crate::push_once`]).
    pub(crate) origin: Option<std::cell::RefCell<PushOrigin>>,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("topic", &self.topic).field("assigns", &self.assigns).finish_non_exhaustive()
    }
}

impl Context<'_> {
    /// Broadcasts to every subscriber of the topic, this connection included; returns how many received it (0 when
    /// relays share a Redis: the broadcast reaches subscribers when it comes back numbered, see
    /// [`Cluster`](crate::Cluster)).
    pub fn broadcast(&self, event: &str, payload: &Payload) -> usize {
        let Some(origin) = &self.origin else { return self.hub.broadcast(self.topic, event, payload) };
        origin.borrow_mut().broadcast(self.hub, self.topic, event, payload);
        0
    }

    /// Pushes an event to this channel's client only: after the reply of a join, before the reply of an event.
    pub fn push(&mut self, event: &str, payload: Payload) {
        self.pushes.push((event.to_owned(), Pushed::Payload(payload)));
    }

    /// Pushes the topic's presences to this channel's client as `presence_state`, as
    /// `ctx.push("presence_state", ctx.presence_state())` does, but in parts shared with the other joiners' states:
    /// a join storm then holds one encoding of its members, not one per joiner.
    pub fn push_presence_state(&mut self) {
        let state = self.presence.shared_state(self.topic);
        self.pushes.push(("presence_state".to_owned(), Pushed::Shared(state)));
    }

    /// Tracks this connection's presence on the topic under `key`; returns the meta's `phx_ref`.
    pub fn track(&self, key: &str, meta: Map<String, Value>) -> String {
        self.presence.track(self.topic, key, self.conn, meta)
    }

    /// The topic's presences, as a `presence_state` payload.
    pub fn presence_state(&self) -> Payload {
        Payload::Json(self.presence.state(self.topic))
    }

    /// The keys present on the topic, in the order they first joined.
    pub fn presence_members(&self) -> Vec<String> {
        self.presence.members(self.topic)
    }
}
