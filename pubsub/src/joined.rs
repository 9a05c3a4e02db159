//! A channel a connection joined, and the steps every join and leave take whatever the connection: a Phoenix
//! socket's [`Session`](crate::Session) or a server-sent [`EventStream`](crate::EventStream).
//!
//! A join runs once the connection is subscribed to the topic (so what the channel reads, a `presence_state`,
//! misses nothing broadcast after): the route's plugs, then the channel's `join`. A refused join leaves nothing
//! behind, not even presence the channel tracked before refusing; a leave runs the channel's `leave` hook, then
//! the connection's subscription and presence on the topic go. Subscribing, and what the joiner is sent, stay with
//! each connection, as they differ by wire.

use crate::channel::{Channel, Context, Pushed, SocketInfo};
use crate::remote::Remote;
use crate::router::{Plug, PlugContext, Routed};
use crate::session::Backend;
use crate::wire::ConnId;
use ferrocast_protocol::frame::event;
use ferrocast_protocol::{Payload, Position};
use serde_json::{Map, Value};
use std::sync::Arc;

/// A channel joined on a connection: what its events and its leave run with.
pub(crate) struct Joined {
    /// The join ref of the join that made it, which a socket's frames for the channel carry (none on a stream).
    pub(crate) join_ref: Option<String>,
    pub(crate) handler: Handler,
    /// The route's plugs, which run before each event too.
    pub(crate) plugs: Vec<Arc<dyn Plug>>,
    /// What the route's `*` matched.
    pub(crate) splat: String,
    /// What the plugs and the channel keep for this connection.
    pub(crate) assigns: Map<String, Value>,
}

/// What answers a joined topic's events.
#[derive(Clone)]
pub(crate) enum Handler {
    /// A channel in this process.
    Channel(Arc<dyn Channel>),
    /// An application's backend, asked later; `None` for a topic whose pushes no remote answers.
    Remote(Option<Arc<dyn Remote>>),
}

/// A join the channel accepted.
pub(crate) struct Accepted {
    pub(crate) joined: Joined,
    /// The channel's response to the join.
    pub(crate) response: Payload,
    /// What the channel pushed to the joiner while joining, to follow the reply.
    pub(crate) pushes: Vec<(String, Pushed)>,
}

/// The connection a channel runs for. Made from a connection's fields, so the connection may hold one of its joined
/// channels mutably at the same time.
pub(crate) struct Connection<'a> {
    pub(crate) backend: &'a Backend,
    pub(crate) socket: &'a SocketInfo,
    pub(crate) conn: ConnId,
}

impl Connection<'_> {
    /// Joins `topic` through `routed` with `params`, the connection already subscribed to it, for the join ref
    /// `join_ref`: the channel joined, or its refusal (the connection then forgotten on the topic).
    pub(crate) fn join(
        &self,
        topic: &str,
        routed: Routed<'_>,
        params: &Payload,
        join_ref: Option<String>,
    ) -> Result<Accepted, Payload> {
        let mut assigns = Map::new();
        let joined = run_plugs(routed.plugs, topic, event::JOIN, params, self.socket, &assigns).and_then(|()| {
            let mut ctx = self.context(topic, &routed.splat, &mut assigns);
            let response = routed.channel.join(&mut ctx, params)?;
            Ok((response, ctx.pushes))
        });
        match joined {
            Ok((response, pushes)) => {
                let handler = Handler::Channel(Arc::clone(routed.channel));
                let joined = Joined { join_ref, handler, plugs: routed.plugs.to_vec(), splat: routed.splat, assigns };
                Ok(Accepted { joined, response, pushes })
            }
            Err(response) => {
                self.forget(topic);
                Err(response)
            }
        }
    }

    /// Ends a joined channel: its `leave` hook, then the connection's subscription and presence on the topic go.
    /// Pushes to a channel that is ending have nowhere to go; its broadcasts have already gone out.
    pub(crate) fn leave(&self, topic: &str, mut joined: Joined) {
        if let Handler::Channel(channel) = &joined.handler {
            let mut ctx = self.context(topic, &joined.splat, &mut joined.assigns);
            channel.leave(&mut ctx);
        }
        self.forget(topic);
    }

    /// What a channel can use while it runs on `topic`.
    pub(crate) fn context<'a>(
        &'a self,
        topic: &'a str,
        splat: &'a str,
        assigns: &'a mut Map<String, Value>,
    ) -> Context<'a> {
        let Connection { backend, socket, conn } = *self;
        Context {
            topic,
            splat,
            socket,
            assigns,
            conn,
            hub: &backend.hub,
            presence: &backend.presence,
            pushes: Vec::new(),
            origin: None,
        }
    }

    /// Drops the connection's subscription and presence on `topic`.
    pub(crate) fn forget(&self, topic: &str) {
        self.backend.hub.unsubscribe(topic, self.conn);
        self.backend.presence.untrack(topic, self.conn);
    }
}

/// Runs the route's plugs for `event` on `topic`: the first refusal's response, if one refuses.
pub(crate) fn run_plugs(
    plugs: &[Arc<dyn Plug>],
    topic: &str,
    event: &str,
    payload: &Payload,
    socket: &SocketInfo,
    assigns: &Map<String, Value>,
) -> Result<(), Payload> {
    let ctx = PlugContext { topic, event, payload, socket, assigns };
    plugs.iter().try_for_each(|plug| plug.call(&ctx))
}

/// Where a join that replays its topic's history starts when no offered position can be served: before the oldest
/// broadcast of the epoch the join subscribed in.
pub(crate) fn replay_from_start(subscribed: &Position) -> Position {
    Position { offset: 0, epoch: subscribed.epoch.clone() }
}
