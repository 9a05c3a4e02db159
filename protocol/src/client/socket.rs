//! The client's socket: one connection, its channels and their pushes, as a poll-style state machine.
//!
//! Inputs are the application's calls (`connect`, `channel`, `join`, `push`, `leave`, `probe`, `disconnect`) and
//! the transport's reports (`handle_open`, `handle_close`, `handle_error`, `handle_frame`), plus
//! `handle_timeout` when the time from `poll_timeout` has come. After any input, drain `poll_transmit` (do it to
//! the transport, in order) and `poll_event` (tell the application), then arm a timer for `poll_timeout`.
//!
//! Behaviour follows phoenix.js 1.7 unless a comment says otherwise. The differences are deliberate:
//! - a bounded offline queue with a time to live replaces phoenix.js's unbounded send buffer, and reports drops;
//! - reconnects use jittered backoff by default;
//! - a join waits for the connection without timing out, instead of timing out offline and sending a stale join
//!   and leave when the connection returns;
//! - a leave in progress when the connection drops completes at once (the server forgot the channel with the
//!   connection) instead of waiting for its timeout;
//! - heartbeats have their own timeout, and `probe` checks the connection on demand.

use super::channel::{Channel, ChannelState, PendingLeave};
use super::heartbeat::{Due, Heartbeat};
use super::options::Options;
use super::output::{ChannelId, DropReason, Event, Inbound, Outgoing, Outputs, PushId, Queues, TIMEOUT, Transmit};
use super::queue::{Admission, OfflineQueue, Queued};
use super::refs;
use crate::codec::encode;
use crate::frame::{Ext, Frame, Message, Payload, Position, Reply, Sender, Vsn, event};
use crate::rng::Rng;
use crate::text::joined;

use crate::sorted_map::SortedMap;

/// The WebSocket close code for a normal closure. phoenix.js does not reconnect after a server closes with it.
pub const CLOSE_NORMAL: u16 = 1000;

/// The connection's state, named as phoenix.js's `connectionState()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// A connection is being opened.
    Connecting,
    /// The connection is open.
    Open,
    /// No connection, and none being opened: before `connect`, after `disconnect`, or while a reconnect waits.
    Closed,
}

impl ConnectionState {
    /// The name phoenix.js uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Connecting => "connecting",
            ConnectionState::Open => "open",
            ConnectionState::Closed => "closed",
        }
    }
}

/// Counters for dashboards (`getStats()` in the browser client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// The connection's state.
    pub state: ConnectionState,
    /// Reconnect attempts since the connection was last open.
    pub reconnect_attempts: u32,
    /// Time until the next reconnect attempt, if one is scheduled.
    pub next_retry_in_ms: Option<u64>,
    /// Pushes waiting in the offline queue.
    pub queued_pushes: usize,
    /// Bytes waiting in the offline queue.
    pub queued_bytes: usize,
    /// Pushes sent and awaiting their reply.
    pub awaiting_reply: usize,
    /// The round trip of the latest answered heartbeat.
    pub last_heartbeat_rtt_ms: Option<u64>,
}

/// Misuse of the socket's API, reported to the caller instead of being acted on.
///
/// Its text is [`ClientError::message`], put together without `core::fmt` so that the browser client's wasm,
/// which throws it, carries no formatting machinery (README, Size).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs, reason = "the fields are the channel's topic and the pushed event, which `message` names")]
pub enum ClientError {
    /// The channel was never created on this socket, or was closed and forgotten.
    UnknownChannel,
    /// `join` was called twice on one channel object.
    AlreadyJoined(String),
    /// `push` was called before `join`.
    NotJoined { topic: String, event: String },
    /// `push` was called on a channel that is leaving or closed.
    ChannelClosed { topic: String, event: String },
    /// The push cannot be encoded with this socket's serializer.
    Unencodable {
        topic: String,
        event: String,
        /// What the serializer cannot express.
        why: &'static str,
    },
}

impl ClientError {
    /// What went wrong and what to do about it, for the application's developer.
    pub fn message(&self) -> String {
        match self {
            ClientError::UnknownChannel => {
                "no such channel: it was never created on this socket, or it has closed".into()
            }
            ClientError::AlreadyJoined(topic) => {
                joined(&["tried to join '", topic, "' twice: join can only be called once per channel object"])
            }
            ClientError::NotJoined { topic, event } => {
                joined(&["tried to push '", event, "' to '", topic, "' before joining: call join() first"])
            }
            ClientError::ChannelClosed { topic, event } => {
                joined(&["tried to push '", event, "' to '", topic, "', which is leaving or closed"])
            }
            ClientError::Unencodable { topic, event, why } => {
                joined(&["cannot push '", event, "' to '", topic, "': ", why])
            }
        }
    }
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for ClientError {}

/// A push sent and awaiting its reply. It keeps what was sent, so it can go again after a lost connection.
#[derive(Debug, Clone)]
struct InFlight {
    sent: Queued,
    deadline: u64,
}

/// What a push deadline refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Deadline {
    at: u64,
    push: PushId,
}

/// The client state machine. `P` is the type of inbound payloads, which the machine only carries: see
/// [`crate::frame::Frame`].
///
/// `O` is where its outputs go as it makes them: [`Queues`] by default, which keeps them for [`Socket::poll_transmit`]
/// and [`Socket::poll_event`].
#[derive(Debug)]
pub struct Socket<P, O = Queues<P>> {
    options: Options,
    rng: Rng,
    connection: ConnectionState,
    /// The application wants a connection: `connect` was called and `disconnect` was not.
    wanted: bool,
    reconnect_at: Option<u64>,
    reconnect_tries: u32,
    heartbeat: Heartbeat,
    last_ref: u64,
    next_id: u32,
    /// Channel objects in creation order, which is the order phoenix.js dispatches in.
    channels: Vec<Channel>,
    queue: OfflineQueue,
    /// Sent pushes by ref.
    in_flight: SortedMap<u64, InFlight>,
    /// Expiry times of queued pushes and reply deadlines of sent ones, soonest first.
    push_deadlines: SortedMap<Deadline, ()>,
    /// What to do to the transport and what to tell the application, in the order made.
    out: O,
    _payloads: core::marker::PhantomData<P>,
}

impl<P: Clone> Socket<P> {
    /// A socket with these options, its outputs kept for polling. `seed` seeds the backoff jitter: pass real
    /// randomness in production and a constant in tests.
    pub fn new(options: Options, seed: u64) -> Self {
        Socket::with_outputs(options, seed, Queues::default())
    }

    // ----- Outputs -----

    /// The next thing to do to the transport.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        loop {
            return Some(match self.out.transmits.pop_front()? {
                Transmit::Connect => Transmit::Connect,
                Transmit::Send(frame) => match encode(self.options.vsn, Sender::Client, &frame) {
                    Ok(encoded) => Transmit::Send(encoded),
                    // `push` refuses what cannot be encoded, and control frames always can: this is unreachable,
                    // and dropping the frame is the safe answer if it is not.
                    Err(_) => {
                        debug_assert!(false, "an accepted push could not be encoded");
                        continue;
                    }
                },
                Transmit::Close { code, reason } => Transmit::Close { code, reason },
            });
        }
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event<P>> {
        self.out.events.pop_front()
    }
}

impl<P: Clone, O: Outputs<P>> Socket<P, O> {
    /// A socket with these options whose outputs go to `out` as they are made.
    pub fn with_outputs(options: Options, seed: u64, out: O) -> Self {
        let queue = OfflineQueue::new(options.queue.clone());
        Socket {
            options,
            rng: Rng::new(seed),
            connection: ConnectionState::Closed,
            wanted: false,
            reconnect_at: None,
            reconnect_tries: 0,
            heartbeat: Heartbeat::default(),
            last_ref: 0,
            next_id: 0,
            channels: Vec::new(),
            queue,
            in_flight: SortedMap::default(),
            push_deadlines: SortedMap::default(),
            out,
            _payloads: core::marker::PhantomData,
        }
    }

    // ----- Getters -----

    /// Where the outputs went, for an embedding with outputs of its own to take them.
    pub fn outputs_mut(&mut self) -> &mut O {
        &mut self.out
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The connection's state.
    pub fn connection_state(&self) -> ConnectionState {
        self.connection
    }

    /// Whether the connection is open.
    pub fn is_connected(&self) -> bool {
        self.connection == ConnectionState::Open
    }

    /// A channel's state; a channel that closed and was forgotten is `Closed`.
    pub fn channel_state(&self, channel: ChannelId) -> ChannelState {
        self.record(channel).map_or(ChannelState::Closed, |channel| channel.state)
    }

    /// A channel's current join ref (phoenix.js's `channel.joinRef()` is its decimal form).
    pub fn channel_join_ref(&self, channel: ChannelId) -> Option<u64> {
        self.record(channel).and_then(|channel| channel.join_ref)
    }

    /// A channel's join push, whose replies report every join attempt.
    pub fn channel_join_push(&self, channel: ChannelId) -> Option<PushId> {
        self.record(channel).map(|channel| channel.join_push)
    }

    /// The last history position a channel received.
    pub fn channel_position(&self, channel: ChannelId) -> Option<&Position> {
        self.record(channel).and_then(|channel| channel.position.as_ref())
    }

    /// Counters for dashboards.
    pub fn stats(&self, now: u64) -> Stats {
        Stats {
            state: self.connection,
            reconnect_attempts: self.reconnect_tries,
            next_retry_in_ms: self.reconnect_at.map(|at| at.saturating_sub(now)),
            queued_pushes: self.queue.len(),
            queued_bytes: self.queue.bytes(),
            awaiting_reply: self.in_flight.len(),
            last_heartbeat_rtt_ms: self.heartbeat.last_rtt_ms(),
        }
    }

    /// A fresh ref, as phoenix.js's `makeRef()`: a counter starting at 1, whose decimal form is the text sent.
    pub fn make_ref(&mut self) -> u64 {
        self.next_ref()
    }

    /// A fresh ref, as the machine keeps it (`refs`).
    fn next_ref(&mut self) -> u64 {
        self.last_ref = self.last_ref.wrapping_add(1);
        self.last_ref
    }

    /// When `handle_timeout` should next be called, if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        // A plain loop rather than an iterator chain: the same result in half the browser client's wasm.
        let mut earliest: Option<u64> = None;
        let mut consider = |at: Option<u64>| {
            if let Some(at) = at {
                earliest = Some(earliest.map_or(at, |earliest| earliest.min(at)));
            }
        };
        consider(self.reconnect_at);
        consider(self.heartbeat.deadline());
        consider(self.push_deadlines.first().map(|(deadline, ())| deadline.at));
        for channel in &self.channels {
            consider(channel.join_deadline);
            consider(channel.rejoin_at);
            consider(channel.leave.as_ref().map(|leave| leave.deadline));
        }
        earliest
    }

    // ----- The application's calls -----

    /// Opens the connection, and keeps it open until `disconnect`.
    pub fn connect(&mut self) {
        self.wanted = true;
        if self.connection == ConnectionState::Closed {
            self.reconnect_at = None;
            self.open_connection();
        }
    }

    /// Closes the connection and stops reconnecting. Channels error and rejoin on the next `connect`.
    pub fn disconnect(&mut self, now: u64, code: u16, reason: &str) {
        self.wanted = false;
        self.reconnect_at = None;
        self.reconnect_tries = 0;
        if self.connection != ConnectionState::Closed {
            self.out.close(code, reason);
            self.connection_lost(now, code, reason, true);
        }
    }

    /// Checks the connection now, when the page becomes visible or the network returns: an open connection gets a
    /// heartbeat that must be answered within `probe_timeout_ms`; a closed one that is waiting to reconnect
    /// reconnects at once.
    pub fn probe(&mut self, now: u64) {
        match self.connection {
            ConnectionState::Open if self.heartbeat.is_pending() => {
                self.heartbeat.tighten(now + self.options.probe_timeout_ms);
            }
            ConnectionState::Open => self.send_heartbeat(now, self.options.probe_timeout_ms),
            ConnectionState::Closed if self.reconnect_at.is_some() => {
                self.reconnect_at = None;
                self.open_connection();
            }
            ConnectionState::Closed | ConnectionState::Connecting => {}
        }
    }

    /// Creates a channel object for `topic`, joined with `params` on every join attempt.
    pub fn channel(&mut self, topic: &str, params: Payload) -> ChannelId {
        let id = ChannelId(self.next_id());
        let join_push = PushId(self.next_id());
        self.channels.push(Channel::new(id, topic.to_owned(), params, join_push, self.options.timeout_ms));
        id
    }

    /// Replaces the payload sent with the channel's next join attempts (phoenix.js evaluates a params function on
    /// every join; the embedding calls this when the value changes).
    pub fn set_channel_params(&mut self, channel: ChannelId, params: Payload) -> Result<(), ClientError> {
        self.record_mut(channel).ok_or(ClientError::UnknownChannel)?.params = params;
        Ok(())
    }

    /// Joins the channel; returns the join push, whose replies report this and every later join attempt.
    pub fn join(&mut self, now: u64, channel: ChannelId, timeout_ms: Option<u64>) -> Result<PushId, ClientError> {
        let timeout_ms = timeout_ms.unwrap_or(self.options.timeout_ms);
        let record = self.record_mut(channel).ok_or(ClientError::UnknownChannel)?;
        if record.joined_once {
            return Err(ClientError::AlreadyJoined(record.topic.clone()));
        }
        record.joined_once = true;
        record.join_timeout_ms = timeout_ms;
        let join_push = record.join_push;
        self.rejoin(now, channel);
        Ok(join_push)
    }

    /// Pushes an event to the channel. It goes out at once when the channel is joined, and otherwise waits in the
    /// offline queue. Its outcome arrives as one [`Event::Reply`].
    pub fn push(
        &mut self,
        now: u64,
        channel: ChannelId,
        event: &str,
        payload: Payload,
        timeout_ms: Option<u64>,
    ) -> Result<PushId, ClientError> {
        let timeout_ms = timeout_ms.unwrap_or(self.options.timeout_ms);
        let record = self.record(channel).ok_or(ClientError::UnknownChannel)?;
        let state = record.state;
        // The topic is copied into an error only: a push that is accepted copies nothing of it.
        let (topic, event_name) = (|| record.topic.clone(), || event.to_owned());
        if !record.joined_once {
            return Err(ClientError::NotJoined { topic: topic(), event: event_name() });
        }
        if record.is(&[ChannelState::Leaving, ChannelState::Closed]) {
            return Err(ClientError::ChannelClosed { topic: topic(), event: event_name() });
        }
        if let Payload::Binary(_) = payload {
            let refuse = |why| ClientError::Unencodable { topic: topic(), event: event_name(), why };
            if self.options.vsn == Vsn::V1 {
                return Err(refuse("binary payloads need vsn 2.0.0"));
            }
            if record.topic.len() > 255 || event.len() > 255 {
                return Err(refuse("a binary frame's topic and event are at most 255 bytes"));
            }
        }
        let push = PushId(self.next_id());
        let can_send = self.is_connected() && state == ChannelState::Joined;
        let expires_at = now + self.queue.ttl_ms(timeout_ms);
        let queued = Queued { push, channel, event: event.to_owned(), payload, timeout_ms, expires_at, sent_ref: None };
        if can_send {
            debug_assert!(!self.queue.has_channel(channel), "a joined channel's queue is flushed on join");
            self.send_push(now, queued);
        } else {
            self.enqueue(queued);
        }
        Ok(push)
    }

    /// Leaves the channel; returns the leave push. The channel closes when the server confirms, when the leave
    /// times out, or at once when there is no joined channel on the server to leave.
    pub fn leave(&mut self, now: u64, channel: ChannelId, timeout_ms: Option<u64>) -> Result<PushId, ClientError> {
        let timeout_ms = timeout_ms.unwrap_or(self.options.timeout_ms);
        let leave_push = PushId(self.next_id());
        let connected = self.is_connected();
        let record = self.record_mut(channel).ok_or(ClientError::UnknownChannel)?;
        if let Some(pending) = &record.leave {
            return Ok(pending.push);
        }
        let was_joined = record.state == ChannelState::Joined;
        record.rejoin_at = None;
        record.join_deadline = None;
        record.state = ChannelState::Leaving;
        let join_ref = record.join_ref;
        if connected && join_ref.is_some() {
            let leave_ref = self.next_ref();
            self.send_control(Some(channel), join_ref, leave_ref, event::LEAVE);
            if was_joined {
                let deadline = now + timeout_ms;
                let pending = PendingLeave { push: leave_push, r#ref: leave_ref, deadline };
                if let Some(record) = self.record_mut(channel) {
                    record.leave = Some(pending);
                }
                return Ok(leave_push);
            }
        }
        // No joined channel on the server waits for this leave (phoenix.js answers `ok` itself here too).
        self.out.reply(leave_push, channel, "ok", None);
        self.close_channel(channel);
        Ok(leave_push)
    }

    // ----- The transport's reports -----

    /// The connection opened, as asked by [`Transmit::Connect`]. Ignored unless a connection is being opened.
    pub fn handle_open(&mut self, now: u64) {
        if self.connection != ConnectionState::Connecting {
            return;
        }
        self.connection = ConnectionState::Open;
        self.reconnect_tries = 0;
        self.reconnect_at = None;
        self.heartbeat.start(now, self.options.heartbeat_interval_ms);
        self.out.event(Event::Open);
        for id in self.channel_ids() {
            let Some(channel) = self.record_mut(id) else { continue };
            channel.rejoin_tries = 0;
            channel.rejoin_at = None;
            let join_waiting = channel.state == ChannelState::Joining && channel.join_deadline.is_none();
            if channel.state == ChannelState::Errored || join_waiting {
                self.rejoin(now, id);
            }
        }
    }

    /// The connection closed, or could not be opened.
    pub fn handle_close(&mut self, now: u64, code: u16, reason: &str) {
        if self.connection == ConnectionState::Closed {
            return;
        }
        let clean = !self.wanted;
        self.connection_lost(now, code, reason, clean);
        // As phoenix.js: a server that closes with 1000 means it, so only other codes reconnect.
        if self.wanted && code != CLOSE_NORMAL {
            self.schedule_reconnect(now);
        }
    }

    /// The transport reported an error; a close follows.
    pub fn handle_error(&mut self, _now: u64) {
        self.out.event(Event::Error);
        for channel in &mut self.channels {
            channel.rejoin_tries = 0;
            channel.rejoin_at = None;
        }
    }

    /// A frame arrived from the server.
    pub fn handle_frame(&mut self, now: u64, frame: Frame<P>) {
        match frame {
            Frame::Reply(Reply { join_ref, r#ref, topic, status, response, ext }) => {
                let (join_ref, r#ref) = (join_ref.as_deref(), r#ref.as_deref());
                let reply = Inbound { join_ref, r#ref, topic: &topic, event: event::REPLY, status: Some(&status), ext };
                self.handle_inbound(now, reply, response);
            }
            Frame::Message(Message { join_ref, r#ref, topic, event, payload, ext }) => {
                let (join_ref, r#ref) = (join_ref.as_deref(), r#ref.as_deref());
                let message = Inbound { join_ref, r#ref, topic: &topic, event: &event, status: None, ext };
                self.handle_inbound(now, message, payload);
            }
        }
    }

    /// A frame arrived from the server, its parts borrowed and its payload (a reply's response) beside them.
    pub fn handle_inbound(&mut self, now: u64, frame: Inbound<'_>, payload: P) {
        if self.connection != ConnectionState::Open {
            return;
        }
        match frame.status {
            Some(status) => self.handle_reply(now, &frame, status, payload),
            None => self.handle_message(now, frame, payload),
        }
    }

    /// Time has come: act on everything due at `now`.
    pub fn handle_timeout(&mut self, now: u64) {
        match self.heartbeat.due(now) {
            Some(Due::TimedOut) if self.is_connected() => self.heartbeat_timed_out(now),
            Some(Due::Send) if self.is_connected() => {
                self.send_heartbeat(now, self.options.heartbeat_timeout());
            }
            _ => {}
        }
        if self.reconnect_at.is_some_and(|at| at <= now) && self.connection == ConnectionState::Closed {
            self.reconnect_at = None;
            self.reconnect_tries += 1;
            self.open_connection();
        }
        for id in self.channel_ids() {
            let Some(channel) = self.record(id) else { continue };
            if channel.join_deadline.is_some_and(|at| at <= now) {
                self.join_timed_out(now, id);
            }
            let Some(channel) = self.record(id) else { continue };
            if channel.leave.as_ref().is_some_and(|leave| leave.deadline <= now) {
                self.leave_finished(id, TIMEOUT, None);
            }
            let connected = self.is_connected();
            let Some(channel) = self.record_mut(id) else { continue };
            if channel.rejoin_at.is_some_and(|at| at <= now) {
                channel.rejoin_at = None;
                channel.rejoin_tries += 1;
                if connected {
                    self.rejoin(now, id);
                }
            }
        }
        while let Some(deadline) =
            self.push_deadlines.first().map(|(deadline, ())| *deadline).filter(|deadline| deadline.at <= now)
        {
            self.push_deadlines.remove(&deadline);
            self.push_timed_out(deadline.push);
        }
    }

    // ----- Connection -----

    fn open_connection(&mut self) {
        self.connection = ConnectionState::Connecting;
        self.out.connect();
    }

    fn schedule_reconnect(&mut self, now: u64) {
        let attempt = self.reconnect_tries + 1;
        let delay_ms = self.options.reconnect.delay_ms(attempt, &mut self.rng);
        self.reconnect_at = Some(now + delay_ms);
        self.out.event(Event::ReconnectScheduled { attempt, delay_ms });
    }

    /// The connection is gone: stop heartbeats and error the channels (phoenix.js's `triggerChanError`).
    fn connection_lost(&mut self, now: u64, code: u16, reason: &str, clean: bool) {
        self.connection = ConnectionState::Closed;
        self.heartbeat.stop();
        self.requeue_unacknowledged();
        for id in self.channel_ids() {
            let Some(channel) = self.record(id) else { continue };
            match channel.state {
                ChannelState::Joined | ChannelState::Joining => self.channel_errored(now, id, None),
                // The server dropped the channel with the connection: the leave is complete.
                ChannelState::Leaving => self.leave_finished(id, "ok", None),
                ChannelState::Errored | ChannelState::Closed => {}
            }
        }
        self.out.closed(code, reason, clean);
    }

    fn send_heartbeat(&mut self, now: u64, timeout_ms: u64) {
        let heartbeat_ref = self.next_ref();
        self.heartbeat.sent(heartbeat_ref, now, timeout_ms);
        self.send_control(None, None, heartbeat_ref, event::HEARTBEAT);
    }

    fn heartbeat_timed_out(&mut self, now: u64) {
        self.out.event(Event::HeartbeatTimeout);
        let reason = "heartbeat timeout";
        self.out.close(CLOSE_NORMAL, reason);
        self.connection_lost(now, CLOSE_NORMAL, reason, false);
        self.schedule_reconnect(now);
    }

    // ----- Channels -----

    /// Sends the channel's join, or leaves it waiting for the connection. A channel object joining a topic that
    /// another object of this socket has joined makes that one leave first, as phoenix.js does.
    fn rejoin(&mut self, now: u64, id: ChannelId) {
        let Some(channel) = self.record(id) else { return };
        if channel.state == ChannelState::Leaving {
            return;
        }
        let duplicate = self.channels.iter().find(|other| {
            other.id != id && other.topic == channel.topic && other.is(&[ChannelState::Joined, ChannelState::Joining])
        });
        if let Some(duplicate) = duplicate.map(|other| other.id) {
            let _ = self.leave(now, duplicate, None);
        }
        let connected = self.is_connected();
        let join_ref = connected.then(|| self.next_ref());
        let recovery = self.options.recovery;
        let Some(channel) = self.channels.iter_mut().find(|channel| channel.id == id) else { return };
        channel.state = ChannelState::Joining;
        channel.rejoin_at = None;
        channel.join_ref = join_ref;
        let Some(join_ref) = join_ref else {
            channel.join_deadline = None;
            return;
        };
        channel.join_deadline = Some(now + channel.join_timeout_ms);
        self.out.send(Outgoing {
            join_ref: Some(join_ref),
            r#ref: join_ref,
            topic: &channel.topic,
            event: event::JOIN,
            payload: Some(&channel.params),
            resume: recovery.then_some(channel.position.as_ref()),
        });
    }

    fn schedule_rejoin(&mut self, now: u64, id: ChannelId) {
        if !self.is_connected() {
            return; // The channel rejoins when the connection opens.
        }
        let Some(channel) = self.channels.iter_mut().find(|channel| channel.id == id) else { return };
        let delay = self.options.rejoin.delay_ms(channel.rejoin_tries + 1, &mut self.rng);
        channel.rejoin_at = Some(now + delay);
    }

    fn join_replied(&mut self, now: u64, id: ChannelId, status: &str, response: P, ext: Option<Ext>) {
        let Some(channel) = self.record_mut(id) else { return };
        channel.join_deadline = None;
        let join_push = channel.join_push;
        let ok = status == "ok";
        if ok {
            channel.state = ChannelState::Joined;
            channel.rejoin_tries = 0;
            channel.rejoin_at = None;
            channel.server_deduplicates = ext.is_some();
            if let Some(ext) = ext {
                if ext.position.is_some() {
                    channel.position = ext.position.clone();
                }
                if ext.recovered == Some(false) {
                    self.out.event(Event::RecoveryIncomplete { channel: id, position: ext.position });
                }
            }
        } else {
            channel.state = ChannelState::Errored;
        }
        self.out.reply(join_push, id, status, Some(response));
        if ok {
            for queued in self.queue.take_channel(id) {
                self.push_deadlines.remove(&Deadline { at: queued.expires_at, push: queued.push });
                self.send_push(now, queued);
            }
        } else {
            self.schedule_rejoin(now, id);
        }
    }

    /// phoenix.js's join timeout: tell the server to drop the half-made channel, then rejoin later.
    fn join_timed_out(&mut self, now: u64, id: ChannelId) {
        let Some(channel) = self.record_mut(id) else { return };
        channel.join_deadline = None;
        channel.state = ChannelState::Errored;
        let join_push = channel.join_push;
        let join_ref = channel.join_ref.take();
        self.out.reply(join_push, id, TIMEOUT, None);
        if self.is_connected() {
            let leave_ref = self.next_ref();
            self.send_control(Some(id), join_ref, leave_ref, event::LEAVE);
        }
        self.schedule_rejoin(now, id);
    }

    /// phoenix.js's channel `onError`: a join in progress is abandoned and the channel rejoins later.
    fn channel_errored(&mut self, now: u64, id: ChannelId, reason: Option<P>) {
        let Some(channel) = self.record_mut(id) else { return };
        if channel.state == ChannelState::Joining {
            channel.join_ref = None;
        }
        channel.join_deadline = None;
        channel.state = ChannelState::Errored;
        self.out.event(Event::ChannelError { channel: id, reason });
        self.schedule_rejoin(now, id);
    }

    fn leave_finished(&mut self, id: ChannelId, status: &str, response: Option<P>) {
        let Some(channel) = self.record_mut(id) else { return };
        if let Some(leave) = channel.leave.take() {
            self.out.reply(leave.push, id, status, response);
        }
        self.close_channel(id);
    }

    /// The channel is closed for good: forget it, and drop the pushes still waiting for it.
    fn close_channel(&mut self, id: ChannelId) {
        self.channels.retain(|channel| channel.id != id);
        self.out.event(Event::ChannelClose { channel: id });
        for queued in self.queue.take_channel(id) {
            self.push_deadlines.remove(&Deadline { at: queued.expires_at, push: queued.push });
            self.report_dropped(queued, DropReason::ChannelClosed);
        }
    }

    // ----- Pushes -----

    fn enqueue(&mut self, queued: Queued) {
        let (push, expires_at) = (queued.push, queued.expires_at);
        match self.queue.offer(queued) {
            Admission::Queued { evicted } => {
                self.push_deadlines.insert(Deadline { at: expires_at, push }, ());
                for old in evicted {
                    self.push_deadlines.remove(&Deadline { at: old.expires_at, push: old.push });
                    self.report_dropped(old, DropReason::QueueFull);
                }
            }
            Admission::Refused(queued, reason) => self.report_dropped(queued, reason),
        }
    }

    fn send_push(&mut self, now: u64, queued: Queued) {
        let Some(at) = self.channels.iter().position(|channel| channel.id == queued.channel) else {
            self.report_dropped(queued, DropReason::ChannelClosed);
            return;
        };
        // A push sent again keeps its ref and its reply deadline: it is the same push, and the application was
        // promised one reply within its timeout.
        let (push_ref, deadline) = match queued.sent_ref {
            Some(sent_ref) => (sent_ref, queued.expires_at),
            None => (self.next_ref(), now + queued.timeout_ms),
        };
        self.push_deadlines.insert(Deadline { at: deadline, push: queued.push }, ());
        // Nothing above changes the channels, so the channel is still at its place.
        let channel = &self.channels[at];
        self.out.send(Outgoing {
            join_ref: channel.join_ref,
            r#ref: push_ref,
            topic: &channel.topic,
            event: &queued.event,
            payload: Some(&queued.payload),
            resume: None,
        });
        self.in_flight.insert(push_ref, InFlight { sent: Queued { sent_ref: Some(push_ref), ..queued }, deadline });
    }

    /// The connection dropped: pushes awaiting a reply on channels whose server deduplicates go back to the queue,
    /// to be sent again with the same ref once their channel rejoins. On other servers (Phoenix) a push may have
    /// been handled already and sending it again could handle it twice, so it waits for its reply or timeout, as
    /// with phoenix.js.
    fn requeue_unacknowledged(&mut self) {
        let mut deduplicated = Vec::new();
        for (push_ref, in_flight) in self.in_flight.iter() {
            if self.record(in_flight.sent.channel).is_some_and(|channel| channel.server_deduplicates) {
                deduplicated.push(*push_ref);
            }
        }
        let mut requeued = Vec::with_capacity(deduplicated.len());
        for push_ref in deduplicated {
            let Some(InFlight { sent, deadline }) = self.in_flight.remove(&push_ref) else { continue };
            // Waiting in the queue, it expires when its reply would have timed out: the deadline entry is the same.
            requeued.push(Queued { expires_at: deadline, ..sent });
        }
        self.queue.requeue_unacknowledged(requeued);
    }

    fn push_timed_out(&mut self, push: PushId) {
        if let Some(queued) = self.queue.take_push(push) {
            self.report_dropped(queued, DropReason::Expired);
            return;
        }
        let in_flight = self.in_flight.iter().find(|(_, in_flight)| in_flight.sent.push == push);
        let Some(push_ref) = in_flight.map(|(push_ref, _)| *push_ref) else { return };
        if let Some(in_flight) = self.in_flight.remove(&push_ref) {
            self.out.reply(push, in_flight.sent.channel, TIMEOUT, None);
        }
    }

    /// Reports a push dropped unsent, then its timeout: every push ends with exactly one reply.
    fn report_dropped(&mut self, queued: Queued, reason: DropReason) {
        let Queued { push, channel, event, .. } = queued;
        self.out.event(Event::Dropped { push, channel, event, reason });
        self.out.reply(push, channel, TIMEOUT, None);
    }

    // ----- Inbound frames -----

    fn handle_reply(&mut self, now: u64, reply: &Inbound<'_>, status: &str, response: P) {
        // A ref that is not one this socket could have made answers nothing.
        let reply_ref = reply.r#ref.and_then(refs::parse);
        if self.heartbeat.answered(reply_ref, now, self.options.heartbeat_interval_ms) {
            return;
        }
        let Some(reply_ref) = reply_ref else { return };
        let members = self.members(reply.topic, reply.join_ref);
        for id in members {
            let Some(channel) = self.record(id) else { continue };
            if channel.join_ref == Some(reply_ref) && channel.join_deadline.is_some() {
                self.join_replied(now, id, status, response, reply.ext.clone());
                return;
            }
            if channel.leave.as_ref().is_some_and(|leave| leave.r#ref == reply_ref) {
                self.leave_finished(id, status, Some(response));
                return;
            }
            if self.in_flight.get(&reply_ref).is_some_and(|in_flight| in_flight.sent.channel == id) {
                if let Some(InFlight { sent, deadline }) = self.in_flight.remove(&reply_ref) {
                    self.push_deadlines.remove(&Deadline { at: deadline, push: sent.push });
                    self.out.reply(sent.push, id, status, Some(response));
                }
                return;
            }
        }
    }

    fn handle_message(&mut self, now: u64, message: Inbound<'_>, payload: P) {
        let members = self.members(message.topic, message.join_ref);
        let Some((&last, others)) = members.split_last() else { return };
        // Nearly every message has one member: it takes the payload, the others get copies.
        for &id in others {
            self.deliver(now, id, &message, payload.clone());
        }
        self.deliver(now, last, &message, payload);
    }

    /// One channel's share of a message.
    fn deliver(&mut self, now: u64, id: ChannelId, message: &Inbound<'_>, payload: P) {
        match message.event {
            // A close settles a leave in progress: the server has dropped the channel.
            event::CLOSE => self.leave_finished(id, "ok", None),
            event::ERROR => self.channel_errored(now, id, Some(payload)),
            _ => {
                let position = message.ext.as_ref().and_then(|ext| ext.position.as_ref());
                if let (Some(position), Some(channel)) = (position, self.record_mut(id)) {
                    channel.position = Some(position.clone());
                }
                self.out.message(id, message, payload);
            }
        }
    }

    // ----- Helpers -----

    fn members(&self, topic: &str, join_ref: Option<&str>) -> Vec<ChannelId> {
        let join_ref = join_ref.map(refs::parse);
        let mut members = Vec::new();
        for channel in &self.channels {
            if channel.is_member(topic, join_ref) {
                members.push(channel.id);
            }
        }
        members
    }

    /// Sends a frame with the empty payload, a leave on a channel's topic or a heartbeat on `phoenix`.
    fn send_control(&mut self, channel: Option<ChannelId>, join_ref: Option<u64>, r#ref: u64, event: &str) {
        let topic = match channel {
            None => event::PHOENIX_TOPIC,
            Some(id) => match self.channels.iter().find(|channel| channel.id == id) {
                Some(channel) => &channel.topic,
                None => return,
            },
        };
        self.out.send(Outgoing { join_ref, r#ref, topic, event, payload: None, resume: None });
    }

    fn channel_ids(&self) -> Vec<ChannelId> {
        let mut ids = Vec::with_capacity(self.channels.len());
        for channel in &self.channels {
            ids.push(channel.id);
        }
        ids
    }

    fn record(&self, id: ChannelId) -> Option<&Channel> {
        self.channels.iter().find(|channel| channel.id == id)
    }

    fn record_mut(&mut self, id: ChannelId) -> Option<&mut Channel> {
        self.channels.iter_mut().find(|channel| channel.id == id)
    }

    fn next_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }
}
