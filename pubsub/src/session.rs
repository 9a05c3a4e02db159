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
//!
//! A topic a [`Remote`](crate::Remote) serves is joined and pushed to later: the session asks, goes on with its other
//! topics, and completes the join or replies to the push when the connection's driver hands the answer back
//! ([`Session::take_answers`], [`Session::land`]). Frames on that topic wait in order meanwhile (`lanes`).

use crate::auth::Identity;
use crate::channel::{Outcome, Pushed, SocketInfo, reason};
use crate::following::{FollowGuard, Following};
use crate::hub::{Hub, Published};
use crate::joined::{Accepted, Connection, Handler, Joined, replay_from_start, run_plugs};
use crate::lanes::{InFlight, Landed, LandedAnswer, Lanes, Waiting};
use crate::limits::{RateLimiter, SessionLimits, Verdict};
use crate::outbox::{OutFrame, Outbox};
use crate::presence::PresenceHub;
use crate::presence_text::SharedJson;
use crate::push_once::{self, PushOrigin};
use crate::receipts::{Claim, Receipts, ReplyTo};
use crate::remote::{Caller, Refusal, Remote, RemoteJoin, RemotePush, RemoteRoute};
use crate::router::Router;
use crate::wire::{ConnId, Subscriber, Wire};
use ferrocast_protocol::codec::{DecodeError, decode, encode};
use ferrocast_protocol::frame::event;
use ferrocast_protocol::{
    BATCH_PARAM, Encoded, Ext, Frame, Message, Payload, Reply, SOCKET_ID_PARAM, Sender, Vsn, WireData,
    is_valid_socket_id,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

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
    /// Frames waiting for a remote's answer; `None` when no topic is a remote's.
    lanes: Option<Box<Lanes>>,
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
        let socket = SocketInfo { conn: Some(conn), params, identity, caller: Arc::default() };
        let rate = RateLimiter::new(&backend.limits, Instant::now());
        // Frames wait in lanes for a remote's answer, and for a topic the relay does not follow yet.
        let lanes = (backend.router.has_remotes() || backend.hub.has_upstream()).then(|| Box::new(Lanes::new()));
        Session { backend, socket, conn, vsn, outbox, joined: HashMap::new(), socket_id, rate, lanes }
    }

    /// The same session, with what its transport knows of the connection, for the backends remote topics ask.
    pub fn with_caller(mut self, caller: Caller) -> Self {
        self.socket.caller = Arc::new(caller);
        self
    }

    /// Where the answers of remote topics arrive, to be handed to [`Session::land`]; `None` once taken, and for a
    /// session of a router without remote topics. The connection's driver takes it when it starts.
    pub fn take_answers(&mut self) -> Option<mpsc::UnboundedReceiver<Box<Landed>>> {
        self.lanes.as_mut()?.answers.take()
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
            _ => {
                if let Some(message) = self.wait_for_earlier(message) {
                    self.dispatch(message);
                }
            }
        }
        Ok(())
    }

    /// A topic's join, leave or event.
    fn dispatch(&mut self, message: Message) {
        match message.event.as_str() {
            event::JOIN => self.join(message),
            event::LEAVE => self.leave(message),
            _ => self.event(message),
        }
    }

    /// The message back when nothing on its topic waits for a remote; otherwise it queues behind what does (or is
    /// refused, when the connection has too much waiting).
    fn wait_for_earlier(&mut self, message: Message) -> Option<Message> {
        let Some(lanes) = self.lanes.as_mut() else { return Some(message) };
        match lanes.wait(message) {
            Waiting::Go(message) => Some(message),
            Waiting::Queued => None,
            Waiting::Full(message) => {
                self.reply(message.join_ref, message.r#ref, message.topic, "error", reason("too many frames waiting"));
                None
            }
        }
    }

    /// Applies a remote's answer (see [`Session::take_answers`]), then runs the frames that waited for it.
    pub fn land(&mut self, landed: Landed) {
        let Landed { topic, answer } = landed;
        let Some(in_flight) = self.lanes.as_mut().and_then(|lanes| lanes.land(&topic)) else { return };
        match (in_flight, answer) {
            (InFlight::Join { join_ref, r#ref, ext, replaced, followed }, LandedAnswer::Join(answer)) => {
                self.finish_remote_join(&topic, join_ref, r#ref, ext, replaced, answer);
                drop(followed);
            }
            (InFlight::Follow(message), LandedAnswer::Followed) => self.join(*message),
            (InFlight::Push { join_ref, r#ref }, LandedAnswer::Push(answer)) => {
                if r#ref.is_some() {
                    self.reply(join_ref, r#ref, topic.clone(), &answer.status, answer.response);
                }
                if let Some(close) = answer.disconnect {
                    self.outbox.close(close);
                }
            }
            (in_flight, _) => {
                // Answers land as they were asked: a mismatch would be a bug here, never the client's doing.
                tracing::error!(conn = self.conn.0, %topic, "a remote answer landed for another request");
                if let Some(lanes) = self.lanes.as_mut() {
                    lanes.start(&topic, in_flight);
                }
                return;
            }
        }
        while let Some(message) = self.lanes.as_mut().and_then(|lanes| lanes.next(&topic)) {
            self.dispatch(message);
        }
    }

    fn join(&mut self, message: Message) {
        if !self.socket.identity.may_join(&message.topic) {
            return self.refuse(message, "unauthorized");
        }
        let joining = self.lanes.as_ref().map_or(0, |lanes| lanes.joins_in_flight());
        if !self.joined.contains_key(&message.topic) && self.joined.len() + joining >= self.backend.limits.max_channels
        {
            return self.refuse(message, "too many channels");
        }
        let backend = Arc::clone(&self.backend);
        // Held until the subscription is made, so the relay cannot stop following the topic in between.
        let followed = match backend.hub.follow(&message.topic) {
            Following::Now(guard) => guard,
            Following::Soon(followed) => return self.join_once_followed(message, followed),
        };
        if let Some(remote) = backend.router.remote(&message.topic) {
            return self.join_remote(message, remote, followed);
        }
        let Some(routed) = backend.router.route(&message.topic) else { return self.unmatched(message) };
        let Message { join_ref, r#ref, topic, payload: params, ext, .. } = message;
        // A join with Ferrocast's extension asks for positions, and for a replay after the one it offers; a channel
        // that replays its history gives every joiner the replay, from the start when no position is offered.
        let positioned = ext.is_some();
        let replays = routed.channel.replays_history();
        // The join ref of the channel this join replaces, if any; its phx_close follows this join's reply.
        let replaced = self.end_replaced(&topic);
        // Subscribe before the channel runs: whatever it reads (a presence_state) then misses nothing broadcast
        // after, such as a diff flushed while the join is under way. A refused join unsubscribes again.
        let subscriber = self.subscriber(positioned, join_ref.clone());
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
                for (event, pushed) in pushes {
                    self.push_pushed(join_ref.clone(), &topic, event, pushed);
                }
                self.joined.insert(topic, joined);
            }
            Err(response) => {
                self.reply(join_ref, r#ref, topic.clone(), "error", response);
                self.close_replaced(&topic, replaced);
            }
        }
    }

    /// Parks a join until the relay follows its topic (see [`crate::following`]); frames on the topic queue behind
    /// it meanwhile, and it is handled anew when the topic is followed.
    fn join_once_followed(&mut self, message: Message, followed: impl Future<Output = ()> + Send + 'static) {
        let Some(lanes) = self.lanes.as_mut() else {
            // Sessions of a hub with an upstream always have lanes; without them the join could only be lost.
            return self.refuse(message, "the relay cannot follow this topic");
        };
        let landed = lanes.landed.clone();
        let topic = message.topic.clone();
        lanes.start(&topic, InFlight::Follow(Box::new(message)));
        tokio::spawn(async move {
            followed.await;
            let _ = landed.send(Box::new(Landed { topic, answer: LandedAnswer::Followed }));
        });
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
        let channel = match &joined.handler {
            Handler::Channel(channel) => Arc::clone(channel),
            Handler::Remote(remote) => {
                let (remote, join_ref) = (remote.clone(), joined.join_ref.clone());
                return self.push_remote(remote, join_ref, r#ref, topic, event, payload, receipt);
            }
        };
        let (outcome, pushes, published) =
            match run_plugs(&joined.plugs, &topic, &event, &payload, &self.socket, &joined.assigns) {
                Err(response) => (Outcome::error(response), Vec::new(), Vec::new()),
                Ok(()) => {
                    let connection = Connection { backend: &self.backend, socket: &self.socket, conn: self.conn };
                    let mut ctx = connection.context(&topic, &joined.splat, &mut joined.assigns);
                    // With several relays, a push of a named socket makes its broadcasts once, wherever it is sent.
                    ctx.origin = receipt
                        .as_ref()
                        .filter(|_| self.backend.hub.has_upstream())
                        .map(|(socket_id, push_ref)| std::cell::RefCell::new(PushOrigin::new(socket_id, push_ref)));
                    let outcome = channel.handle_in(&mut ctx, &event, payload);
                    let published = ctx.origin.take().map(|origin| origin.into_inner().published);
                    (outcome, ctx.pushes, published.unwrap_or_default())
                }
            };
        let join_ref = joined.join_ref.clone();
        for (event, pushed) in pushes {
            self.push_pushed(join_ref.clone(), &topic, event, pushed);
        }
        let outcome = match outcome {
            Outcome::Reply(status, response) if !published.is_empty() => {
                return self.reply_once_published(join_ref, r#ref, topic, receipt, published, status, response);
            }
            outcome => outcome,
        };
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

    /// Replies to a push once Redis has the broadcasts it made (see [`crate::push_once`]), as a remote's answer
    /// lands: frames behind it on its topic wait, and its receipt is kept where it is answered.
    #[allow(clippy::too_many_arguments)]
    fn reply_once_published(
        &mut self,
        join_ref: Option<String>,
        r#ref: Option<String>,
        topic: String,
        receipt: Option<(String, String)>,
        published: Vec<Published>,
        status: String,
        response: Payload,
    ) {
        let Some(lanes) = self.lanes.as_mut() else {
            // Sessions of a hub with an upstream always have lanes.
            return self.reply(join_ref, r#ref, topic, &status, response);
        };
        let landed = lanes.landed.clone();
        lanes.start(&topic, InFlight::Push { join_ref, r#ref });
        let backend = Arc::clone(&self.backend);
        tokio::spawn(async move {
            let answer = push_once::reply_once_published(published, status, response).await;
            if let Some((socket_id, push_ref)) = receipt {
                let reply = Some((answer.status.clone(), answer.response.clone()));
                backend.receipts.finish(&socket_id, &topic, &push_ref, reply);
            }
            let _ = landed.send(Box::new(Landed { topic, answer: LandedAnswer::Push(answer) }));
        });
    }

    /// Starts a join of a remote's topic: asks its join remote, or joins at once when only its pushes are remote.
    fn join_remote(&mut self, message: Message, remote: RemoteRoute, followed: FollowGuard) {
        let Message { join_ref, r#ref, topic, payload: params, ext, .. } = message;
        let replaced = self.end_replaced(&topic);
        let Some(join) = remote.join else {
            let accepted = Ok(RemoteJoin { response: Payload::empty(), presence: None });
            return self.finish_remote_join(&topic, join_ref, r#ref, ext, replaced, accepted);
        };
        let Some(lanes) = self.lanes.as_mut() else { return };
        let asked = join.join(&self.socket, &topic, &params);
        let landed = lanes.landed.clone();
        lanes.start(&topic, InFlight::Join { join_ref, r#ref, ext, replaced, followed });
        let topic_back = topic.clone();
        tokio::spawn(async move {
            let answer = asked.await;
            let _ = landed.send(Box::new(Landed { topic: topic_back, answer: LandedAnswer::Join(answer) }));
        });
    }

    /// Completes a remote topic's join with its answer: subscribed, replied to (with the position and the missed
    /// broadcasts for a join that asked for them), the replaced channel closed, the presence tracked.
    fn finish_remote_join(
        &mut self,
        topic: &str,
        join_ref: Option<String>,
        r#ref: Option<String>,
        ext: Option<Ext>,
        replaced: Option<Option<String>>,
        answer: Result<RemoteJoin, Refusal>,
    ) {
        let RemoteJoin { response, presence } = match answer {
            Ok(accepted) => accepted,
            Err(Refusal::Error(response)) => {
                self.reply(join_ref, r#ref, topic.to_owned(), "error", response);
                return self.close_replaced(topic, replaced);
            }
            Err(Refusal::Disconnect(close)) => {
                self.reply(join_ref, r#ref, topic.to_owned(), "error", reason(&close.reason));
                self.close_replaced(topic, replaced);
                return self.outbox.close(close);
            }
        };
        let backend = Arc::clone(&self.backend);
        let positioned = ext.is_some();
        let subscribed = backend.hub.subscribe(topic, self.subscriber(positioned, join_ref.clone()));
        if positioned {
            let offered = ext.and_then(|ext| ext.position);
            backend.hub.catch_up(topic, self.conn, offered.as_ref(), &subscribed, |position, recovered| {
                let ext = Some(Ext { position: Some(position.clone()), recovered });
                self.send_reply(join_ref.clone(), r#ref, topic.to_owned(), "ok", response, ext);
            });
        } else {
            self.reply(join_ref.clone(), r#ref, topic.to_owned(), "ok", response);
        }
        self.close_replaced(topic, replaced);
        if let Some(meta) = presence {
            // An anonymous member (no user, or the connect hook's `""`) is its connection.
            let user = self.socket.identity.user_id().filter(|user| !user.is_empty());
            let key = user.unwrap_or(&self.socket.caller.client).to_owned();
            backend.presence.track(topic, &key, self.conn, meta);
            let state = backend.presence.shared_state(topic);
            self.push_shared(join_ref.clone(), topic, "presence_state".to_owned(), state);
        }
        let push = backend.router.remote(topic).and_then(|remote| remote.push);
        let joined = Joined {
            join_ref,
            handler: Handler::Remote(push),
            plugs: Vec::new(),
            splat: String::new(),
            assigns: serde_json::Map::new(),
        };
        self.joined.insert(topic.to_owned(), joined);
    }

    /// Asks a remote topic's push remote for the answer to a push; the reply goes out when it lands. Its
    /// broadcasts and its receipt are applied where it is answered, so they are even if this connection is gone.
    #[allow(clippy::too_many_arguments)]
    fn push_remote(
        &mut self,
        remote: Option<Arc<dyn Remote>>,
        join_ref: Option<String>,
        r#ref: Option<String>,
        topic: String,
        event: String,
        payload: Payload,
        receipt: Option<(String, String)>,
    ) {
        let (Some(remote), Some(lanes)) = (remote, self.lanes.as_mut()) else {
            let response = reason("unknown event");
            if let Some((socket_id, push_ref)) = receipt {
                let reply = Some(("error".to_owned(), response.clone()));
                self.backend.receipts.finish(&socket_id, &topic, &push_ref, reply);
            }
            return self.reply(join_ref, r#ref, topic, "error", response);
        };
        let asked = remote.push(&self.socket, &topic, &event, &payload);
        let landed = lanes.landed.clone();
        lanes.start(&topic, InFlight::Push { join_ref, r#ref });
        let backend = Arc::clone(&self.backend);
        tokio::spawn(async move {
            let mut answer = asked.await;
            // With several relays, a push of a named socket makes its broadcasts once, and is answered once Redis
            // has them (see push_once.rs).
            let mut origin = receipt.as_ref().filter(|_| backend.hub.has_upstream());
            let mut origin = origin.take().map(|(socket_id, push_ref)| PushOrigin::new(socket_id, push_ref));
            for (event, payload) in &answer.broadcasts {
                match origin.as_mut() {
                    Some(origin) => origin.broadcast(&backend.hub, &topic, event, payload),
                    None => {
                        backend.hub.broadcast(&topic, event, payload);
                    }
                }
            }
            if let Some(origin) = origin.filter(|origin| !origin.published.is_empty()) {
                let disconnect = answer.disconnect.take();
                let published = push_once::reply_once_published(origin.published, answer.status, answer.response);
                answer = RemotePush { disconnect, ..published.await };
            }
            if let Some((socket_id, push_ref)) = receipt {
                let reply = Some((answer.status.clone(), answer.response.clone()));
                backend.receipts.finish(&socket_id, &topic, &push_ref, reply);
            }
            let _ = landed.send(Box::new(Landed { topic, answer: LandedAnswer::Push(answer) }));
        });
    }

    /// Ends the channel a new join of `topic` replaces, if any: the join ref its `phx_close` will carry.
    fn end_replaced(&mut self, topic: &str) -> Option<Option<String>> {
        self.joined.remove(topic).map(|replaced| {
            let join_ref = replaced.join_ref.clone();
            self.end(topic, replaced);
            join_ref
        })
    }

    /// This connection as a subscriber of a topic joined with `join_ref`.
    fn subscriber(&self, positioned: bool, join_ref: Option<String>) -> Subscriber {
        Subscriber {
            conn: self.conn,
            wire: Wire::Phoenix(self.vsn),
            outbox: Arc::clone(&self.outbox),
            positioned,
            join_ref,
        }
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

    fn push_pushed(&mut self, join_ref: Option<String>, topic: &str, event: String, pushed: Pushed) {
        match pushed {
            Pushed::Payload(payload) => self.push(join_ref, topic, event, payload),
            Pushed::Shared(json) => self.push_shared(join_ref, topic, event, json),
        }
    }

    /// A push whose payload is JSON in shared parts (a topic's presences): the frame is encoded around the payload,
    /// and queued as its head, the payload's parts and its tail, so the parts stay shared with every other joiner's
    /// frame until written.
    fn push_shared(&mut self, join_ref: Option<String>, topic: &str, event: String, json: SharedJson) {
        if json.parts().len() < 2 {
            return self.push(join_ref, topic, event, Payload::Json(json.to_text()));
        }
        // The payload goes in verbatim; a NUL byte is nowhere else in a text frame (strings escape it).
        let payload = Payload::Json(SHARED_PAYLOAD.to_owned());
        let message = Message { join_ref, r#ref: None, topic: topic.to_owned(), event, payload, ext: None };
        let encoded = match encode(self.vsn, Sender::Server, &Frame::Message(message)) {
            Ok(Encoded::Text(text)) => text,
            Ok(Encoded::Binary(_)) => unreachable!("a JSON payload makes a text frame"),
            Err(error) => return tracing::warn!(conn = self.conn.0, %error, "dropped a frame this socket cannot carry"),
        };
        let Some(at) = encoded.find(SHARED_PAYLOAD) else {
            return tracing::warn!(conn = self.conn.0, "dropped a frame whose payload was not found in it");
        };
        let encoded = bytes::Bytes::from(encoded);
        let mut parts = Vec::with_capacity(json.parts().len() + 2);
        parts.push(encoded.slice(..at));
        parts.extend(json.into_parts());
        parts.push(encoded.slice(at + SHARED_PAYLOAD.len()..));
        self.outbox.push(OutFrame::text_in_parts(parts));
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

/// What stands for a shared payload while its frame is encoded around it.
const SHARED_PAYLOAD: &str = "\0";

impl Drop for Session {
    fn drop(&mut self) {
        for (topic, joined) in std::mem::take(&mut self.joined) {
            self.end(&topic, joined);
        }
    }
}
