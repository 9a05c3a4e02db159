//! The server side of one connection: joins, leaves, events and heartbeats, as a Phoenix socket answers them.
//!
//! The relay feeds each WebSocket message to [`Session::handle`]; everything the session sends goes into the
//! connection's [`Outbox`], in order. Behaviour follows the frames of a real Phoenix 1.7 server
//! (`shared/protocol/phoenix-wire-transcripts.md`):
//! - replies carry the channel's join ref, whatever join ref the client sent with the event;
//! - an event for a topic this socket has not joined, or an unrouted join, gets `unmatched topic` with no join ref;
//! - a second join of a joined topic replaces the channel: the new join's reply comes first, then the old
//!   channel's `phx_close`;
//! - a leave gets its reply, then `phx_close`; a leave with an old join ref gets nothing; a leave of a topic that
//!   is not joined still gets `ok`.
//!
//! Ferrocast adds what a relay facing the internet needs: a join outside the token's topics gets `unauthorized`,
//! a join past the channel limit `too many channels`, and a frame over the rate limit `rate_limited` (see
//! [`crate::limits`]).

use crate::auth::Identity;
use crate::channel::{Outcome, SocketInfo, reason};
use crate::hub::Hub;
use crate::joined::{Accepted, Connection, Joined, replay_from_start, run_plugs};
use crate::limits::{RateLimiter, SessionLimits, Verdict};
use crate::outbox::{OutFrame, Outbox};
use crate::presence::PresenceHub;
use crate::receipts::{Claim, Receipts, ReplyTo};
use crate::router::Router;
use crate::wire::{ConnId, Subscriber, Wire};
use ferrocast_protocol::codec::{DecodeError, decode, encode};
use ferrocast_protocol::frame::event;
use ferrocast_protocol::{
    BATCH_PARAM, Ext, Frame, Message, Payload, Reply, SOCKET_ID_PARAM, Sender, Vsn, WireData, is_valid_socket_id,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// What every session of a process shares: topics, presence and routes.
#[derive(Debug)]
pub struct Backend {
    /// Topics and their subscribers.
    pub hub: Arc<Hub>,
    /// Who is on each topic: channels track their joins with [`Context::track`](crate::Context::track).
    pub presence: Arc<PresenceHub>,
    /// Which channel, behind which plugs, serves each topic; set when the backend is made.
    pub router: Router,
    /// Pushes already handled, per client socket.
    pub receipts: Arc<Receipts>,
    /// What each connection may ask.
    pub limits: SessionLimits,
}

impl Backend {
    /// A backend with these parts, and receipts and sessions within the default limits.
    pub fn new(hub: Arc<Hub>, presence: Arc<PresenceHub>, router: Router) -> Self {
        Backend { hub, presence, router, receipts: Arc::new(Receipts::default()), limits: SessionLimits::default() }
    }
}

/// Why a connection must close.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// A message that is not a frame (Phoenix closes with 1011).
    #[error(transparent)]
    Malformed(#[from] DecodeError),
    /// The client kept sending over its rate limit after being refused.
    #[error("kept sending over the rate limit")]
    RateLimited,
}

/// One connection's protocol state.
pub struct Session {
    backend: Arc<Backend>,
    socket: SocketInfo,
    conn: ConnId,
    vsn: Vsn,
    outbox: Arc<Outbox>,
    joined: HashMap<String, Joined>,
    /// The client's socket identity, when it gave one: its pushes are then handled once across reconnects.
    socket_id: Option<String>,
    rate: RateLimiter,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("conn", &self.conn)
            .field("vsn", &self.vsn)
            .field("joined", &self.joined.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Session {
    /// A session for a new connection of `identity` speaking `vsn`, sending into `outbox`.
    pub fn new(
        backend: Arc<Backend>,
        mut params: HashMap<String, String>,
        vsn: Vsn,
        outbox: Arc<Outbox>,
        identity: Identity,
    ) -> Self {
        let conn = ConnId::next();
        // The identity is the protocol's, not the application's: channels do not see it among the params. A
        // malformed one is ignored, so the socket works as a phoenix.js socket does.
        let socket_id = params.remove(SOCKET_ID_PARAM).filter(|id| is_valid_socket_id(id));
        // The batch request is the transport's (it reads it before making the session), not the channels'.
        params.remove(BATCH_PARAM);
        let socket = SocketInfo { conn: Some(conn), params, identity };
        let rate = RateLimiter::new(&backend.limits, Instant::now());
        Session { backend, socket, conn, vsn, outbox, joined: HashMap::new(), socket_id, rate }
    }

    /// The connection's id.
    pub fn conn(&self) -> ConnId {
        self.conn
    }

    /// How many channels are joined.
    pub fn joined_count(&self) -> usize {
        self.joined.len()
    }

    /// Handles one WebSocket message. A message that is not a frame, or a client that keeps sending over its rate
    /// limit, is an error: the connection should close, and nothing already sent is affected.
    pub fn handle(&mut self, data: WireData<'_>) -> Result<(), SessionError> {
        let Frame::Message(message) = decode(self.vsn, Sender::Client, data)? else {
            // Decoding a client's frame never yields a reply: from a client, phx_reply is an ordinary event.
            return Ok(());
        };
        match self.rate.take(Instant::now()) {
            Verdict::Allowed => {}
            Verdict::Refused => {
                // Only a push with a ref can be answered; one without is dropped, as it would be unanswered.
                if message.r#ref.is_some() {
                    self.reply(message.join_ref, message.r#ref, message.topic, "error", reason("rate_limited"));
                }
                return Ok(());
            }
            Verdict::Abusive => return Err(SessionError::RateLimited),
        }
        match (message.topic.as_str(), message.event.as_str()) {
            (event::PHOENIX_TOPIC, event::HEARTBEAT) => {
                self.reply(None, message.r#ref, message.topic, "ok", Payload::empty());
            }
            (event::PHOENIX_TOPIC, _) => self.unmatched(message),
            (_, event::JOIN) => self.join(message),
            (_, event::LEAVE) => self.leave(message),
            _ => self.event(message),
        }
        Ok(())
    }

    fn join(&mut self, message: Message) {
        if !self.socket.identity.may_join(&message.topic) {
            return self.refuse(message, "unauthorized");
        }
        if !self.joined.contains_key(&message.topic) && self.joined.len() >= self.backend.limits.max_channels {
            return self.refuse(message, "too many channels");
        }
        let backend = Arc::clone(&self.backend);
        let Some(routed) = backend.router.route(&message.topic) else { return self.unmatched(message) };
        let Message { join_ref, r#ref, topic, payload: params, ext, .. } = message;
        // A join with Ferrocast's extension asks for positions, and for a replay after the one it offers; a channel
        // that replays its history gives every joiner the replay, from the start when no position is offered.
        let positioned = ext.is_some();
        let replays = routed.channel.replays_history();
        // The join ref of the channel this join replaces, if any; its phx_close follows this join's reply.
        let replaced = self.joined.remove(&topic).map(|replaced| {
            let join_ref = replaced.join_ref.clone();
            self.end(&topic, replaced);
            join_ref
        });
        // Subscribe before the channel runs: whatever it reads (a presence_state) then misses nothing broadcast
        // after, such as a diff flushed while the join is under way. A refused join unsubscribes again.
        let subscriber = Subscriber {
            conn: self.conn,
            wire: Wire::Phoenix(self.vsn),
            outbox: Arc::clone(&self.outbox),
            positioned,
            join_ref: join_ref.clone(),
        };
        let subscribed = if replays {
            backend.hub.subscribe_to_replay(&topic, subscriber)
        } else {
            backend.hub.subscribe(&topic, subscriber)
        };
        match self.connection().join(&topic, routed, &params, join_ref.clone()) {
            Ok(Accepted { joined, response, pushes }) => {
                if positioned || replays {
                    // The reply carries the topic's position and whether the offered one was recovered; the missed
                    // broadcasts follow it, then live ones.
                    let offered = ext.and_then(|ext| ext.position);
                    let replay_from = if replays { replay_from_start(&subscribed) } else { subscribed };
                    backend.hub.catch_up(&topic, self.conn, offered.as_ref(), &replay_from, |position, recovered| {
                        let ext = positioned.then(|| Ext { position: Some(position.clone()), recovered });
                        self.send_reply(join_ref.clone(), r#ref, topic.clone(), "ok", response, ext);
                    });
                } else {
                    self.reply(join_ref.clone(), r#ref, topic.clone(), "ok", response);
                }
                self.close_replaced(&topic, replaced);
                for (event, payload) in pushes {
                    self.push(join_ref.clone(), &topic, event, payload);
                }
                self.joined.insert(topic, joined);
            }
            Err(response) => {
                self.reply(join_ref, r#ref, topic.clone(), "error", response);
                self.close_replaced(&topic, replaced);
            }
        }
    }

    fn leave(&mut self, message: Message) {
        let Message { join_ref, r#ref, topic, .. } = message;
        let Some(joined) = self.joined.get(&topic) else {
            return self.reply(join_ref, r#ref, topic, "ok", Payload::empty());
        };
        if join_ref.is_some() && join_ref != joined.join_ref {
            return; // A leave meant for an older join of this topic: Phoenix does not answer it.
        }
        let current = joined.join_ref.clone();
        if let Some(joined) = self.joined.remove(&topic) {
            self.end(&topic, joined);
        }
        self.reply(current.clone(), r#ref, topic.clone(), "ok", Payload::empty());
        self.control(current, &topic, event::CLOSE);
    }

    fn event(&mut self, message: Message) {
        // The session's fields are borrowed apart, so the joined channel is used in place: nothing of it is cloned
        // per event but the join ref the frames carry.
        let Some(joined) = self.joined.get_mut(&message.topic) else { return self.unmatched(message) };
        // A push from a socket with an identity is handled once, however many times its connections send it.
        let receipt = match (&self.socket_id, &message.r#ref) {
            (Some(socket_id), Some(push_ref)) => {
                let reply_to =
                    || ReplyTo { outbox: Arc::clone(&self.outbox), vsn: self.vsn, join_ref: joined.join_ref.clone() };
                match self.backend.receipts.claim(socket_id, &message.topic, push_ref, reply_to) {
                    Claim::New => Some((socket_id.clone(), push_ref.clone())),
                    Claim::Handled(reply) => return reply_to().send(&message.topic, push_ref, &reply),
                    Claim::Waiting => return,
                }
            }
            _ => None,
        };
        let Message { r#ref, topic, event, payload, .. } = message;
        let (outcome, pushes) = match run_plugs(&joined.plugs, &topic, &event, &payload, &self.socket, &joined.assigns)
        {
            Err(response) => (Outcome::error(response), Vec::new()),
            Ok(()) => {
                let connection = Connection { backend: &self.backend, socket: &self.socket, conn: self.conn };
                let mut ctx = connection.context(&topic, &joined.splat, &mut joined.assigns);
                let outcome = joined.channel.handle_in(&mut ctx, &event, payload);
                (outcome, ctx.pushes)
            }
        };
        let join_ref = joined.join_ref.clone();
        for (event, payload) in pushes {
            self.push(join_ref.clone(), &topic, event, payload);
        }
        if let Some((socket_id, push_ref)) = receipt {
            let reply = match &outcome {
                Outcome::Reply(status, response) | Outcome::Stop(Some((status, response))) => {
                    Some((status.clone(), response.clone()))
                }
                Outcome::NoReply | Outcome::Stop(None) | Outcome::Crash => None,
            };
            self.backend.receipts.finish(&socket_id, &topic, &push_ref, reply);
        }
        let ended = match outcome {
            Outcome::Reply(status, response) => {
                self.reply(join_ref, r#ref, topic, &status, response);
                return;
            }
            Outcome::NoReply => return,
            Outcome::Stop(reply) => {
                if let Some((status, response)) = reply {
                    self.reply(join_ref.clone(), r#ref, topic.clone(), &status, response);
                }
                event::CLOSE
            }
            Outcome::Crash => event::ERROR,
        };
        if let Some(joined) = self.joined.remove(&topic) {
            self.end(&topic, joined);
        }
        self.control(join_ref, &topic, ended);
    }

    /// Refuses a join before any channel sees it, as a channel refusing it would.
    fn refuse(&mut self, message: Message, why: &str) {
        self.reply(message.join_ref, message.r#ref, message.topic, "error", reason(why));
    }

    fn unmatched(&mut self, message: Message) {
        self.reply(None, message.r#ref, message.topic, "error", reason("unmatched topic"));
    }

    /// After a replacing join's reply, the replaced channel's `phx_close`, as Phoenix orders them.
    fn close_replaced(&mut self, topic: &str, replaced_join_ref: Option<Option<String>>) {
        if let Some(join_ref) = replaced_join_ref {
            self.control(join_ref, topic, event::CLOSE);
        }
    }

    /// Ends a joined channel (see [`Connection::leave`]).
    fn end(&self, topic: &str, joined: Joined) {
        self.connection().leave(topic, joined);
    }

    /// This connection, as its channels run for it.
    fn connection(&self) -> Connection<'_> {
        Connection { backend: &self.backend, socket: &self.socket, conn: self.conn }
    }

    fn reply(
        &mut self,
        join_ref: Option<String>,
        r#ref: Option<String>,
        topic: String,
        status: &str,
        response: Payload,
    ) {
        self.send_reply(join_ref, r#ref, topic, status, response, None);
    }

    fn send_reply(
        &self,
        join_ref: Option<String>,
        r#ref: Option<String>,
        topic: String,
        status: &str,
        response: Payload,
        ext: Option<Ext>,
    ) {
        let status = status.to_owned();
        self.send(Frame::Reply(Reply { join_ref, r#ref, topic, status, response, ext }));
    }

    /// `phx_close` or `phx_error`: `[join_ref, join_ref, topic, event, {}]`.
    fn control(&mut self, join_ref: Option<String>, topic: &str, event: &str) {
        let message = Message {
            join_ref: join_ref.clone(),
            r#ref: join_ref,
            topic: topic.to_owned(),
            event: event.to_owned(),
            payload: Payload::empty(),
            ext: None,
        };
        self.send(Frame::Message(message));
    }

    fn push(&mut self, join_ref: Option<String>, topic: &str, event: String, payload: Payload) {
        let message = Message { join_ref, r#ref: None, topic: topic.to_owned(), event, payload, ext: None };
        self.send(Frame::Message(message));
    }

    fn send(&self, frame: Frame) {
        match encode(self.vsn, Sender::Server, &frame) {
            Ok(encoded) => {
                self.outbox.push(OutFrame::from_encoded(encoded));
            }
            Err(error) => tracing::warn!(conn = self.conn.0, %error, "dropped a frame this socket cannot carry"),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for (topic, joined) in std::mem::take(&mut self.joined) {
            self.end(&topic, joined);
        }
    }
}
