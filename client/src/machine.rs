//! `Machine`: the protocol's client state machine behind the one entry point the JavaScript layer
//! (`client/js/machine.js`) drives it through.
//!
//! The JavaScript layer owns every browser object (the WebSocket, the timer, page events, the application's
//! callbacks and payloads) and the public classes; this side owns every protocol decision. A call is an operation
//! ([`op`]) on a machine's handle, with its arguments and results as bytes (`boundary.rs`); what the machine wants
//! done comes back from [`op::DRAIN`], or from [`op::FRAME`] for what a frame produced, as one run of records (a
//! tag, then that tag's fields), so one call carries a whole step's outputs and no closure crosses the boundary.
//! The records, in the order the machine produced them (transport actions first), are listed in [`Tag`];
//! `client/js/records.js` reads them.
//!
//! A frame is one call ([`op::FRAME`]): its numbers are the entry point's own arguments and only its strings are in
//! the mailbox, a topic, event or epoch left out being the previous frame's, so most frames of a batch write none.
//! The socket reads it as an `Inbound` view over those strings, and the frames it sends leave as `Outgoing` views,
//! laid out as a `Send` record's fields with refs as numbers that JavaScript writes as text: the wasm copies no
//! frame's strings (but a position's epoch, which the channel keeps) and formats no number. The socket's outputs
//! are written as it makes them into two buffers, transport actions and events, so the wasm keeps no queue and a
//! drain is two copies. `client/js/machine.js` drains only when a call was made since the last drain, and asks the
//! deadline, after every message, through an entry point of its own that takes and returns a number
//! (`machineDeadline`).
//!
//! Received payloads never enter wasm: everything the machine reports about a frame comes back with that frame's
//! call. So the machine is a `Socket<()>`: a record says "the frame's message" or "the frame's reply's response",
//! and JavaScript puts in the fields and the value it parsed. Outbound payloads come in already serialized (JSON
//! text) or as bytes, and go out inside the fields of a `Send` record, which JavaScript lays out as a frame.
//!
//! Nothing here calls into the application, except the `reconnectAfterMs` and `rejoinAfterMs` functions the
//! backoff asks: JavaScript runs the callbacks after a drain has returned, so a callback may call back in.

use ferrocast_protocol::client::{
    Backoff, CLOSE_NORMAL, ChannelId, ClientError, DropReason, Event, Inbound, Options, Outgoing, Outputs, Overflow,
    PushId, Socket,
};
use ferrocast_protocol::frame::event;
use ferrocast_protocol::{BATCH_PARAM, Ext, Payload, Position, SOCKET_ID_PARAM, Vsn, base64};
use wasm_bindgen::prelude::*;

use crate::boundary::{Input, Output, Table, exchange};

/// The first value of each record [`op::DRAIN`] returns; the fields that follow are listed with each.
#[repr(u8)]
enum Tag {
    /// Open a connection, to [`Machine::url`] (over the transport the entry's `TransportChoice` says, if it has
    /// one).
    Connect = 0,
    /// `joinRef, ref, topic, event, payload, ext`: send this frame, which `client/js/encode.js` lays out. The refs
    /// are numbers, sent as their decimal form, and the join ref may be `undefined` (none); `payload` is JSON text,
    /// or an `ArrayBuffer` for a binary push; `ext` is `undefined` for none, `null` for an empty one, or a
    /// position's offset followed by its epoch.
    Send = 1,
    /// `code, reason`: close the connection and let go of it.
    Close = 2,
    /// No fields: the connection opened.
    Open = 3,
    /// `code, reason, wasClean`: the connection closed.
    Closed = 4,
    /// The transport reported an error.
    Error = 5,
    /// `channel`: the frame's message (its event, payload, ref and join ref) for a channel.
    Message = 6,
    /// `push, status, response`: a push's outcome; `response` is 1 for the frame's reply's response and 0 for none
    /// (a timeout, or a reply the machine made up). A join's push reports every attempt, so JavaScript keeps its
    /// callbacks after one.
    Reply = 7,
    /// `channel`: a channel closed for good, after its `phx_close` record; its objects can go.
    ChannelClose = 8,
    /// `channel, event, reason`: a push dropped unsent (`queue_full`, `expired`, `channel_closed`).
    Dropped = 9,
    /// `channel, offset, epoch`: missed messages could not all be replayed (`offset` and `epoch` may be null).
    RecoveryFailed = 10,
    /// `attempt, delayMs`: a reconnect is scheduled.
    ReconnectScheduled = 11,
    /// No heartbeat reply came in time.
    HeartbeatTimeout = 12,
    /// `channel, event, payload, arguments`: a channel's error (`phx_error`, with the frame's payload when
    /// `payload` is 1) or close (`phx_close`), which its bindings get with `arguments` (0 or 1) arguments.
    ChannelEvent = 13,
}

/// The operations of [`machine`]: each takes the arguments listed with it and returns what it says.
pub mod op {
    /// Lets go of the machine.
    pub const FREE: u8 = 0;
    /// Everything the machine produced since the last drain, as records (see [`super::Tag`]).
    pub const DRAIN: u8 = 1;
    // 2 is the deadline, an entry point of its own: `super::machine_deadline`.
    /// `now`: the deadline came (heartbeats, reconnects, push timeouts).
    pub const TIMEOUT: u8 = 3;
    /// Opens the connection, and keeps it open until [`DISCONNECT`].
    pub const CONNECT: u8 = 4;
    /// `now, code, reason`: closes the connection (1000 unless `code` says otherwise) and stops reconnecting.
    pub const DISCONNECT: u8 = 5;
    /// `now`: checks the connection now (the page came back, the network returned).
    pub const PROBE: u8 = 6;
    /// `random`: the query parameters the protocol adds to the URL the next connection opens, after the
    /// application's `params`, as name and value pairs: this socket's id when it recovers, the batch parameter,
    /// `vsn`. `random` is 16 bytes from the platform's cryptographic generator, which the socket's id is made of
    /// the first time it is needed.
    pub const URL: u8 = 7;
    /// `token`: the WebSocket subprotocol that carries `authToken`, after `phoenix`: as phoenix.js 1.8 sends it, so
    /// the token stays out of URLs and access logs. Needs no machine.
    pub const TOKEN_PROTOCOL: u8 = 8;
    /// `now`: the connection opened.
    pub const OPENED: u8 = 9;
    /// `now, code, reason`: the connection closed.
    pub const CLOSED: u8 = 10;
    /// `now`: the connection reported an error (its close follows).
    pub const ERRORED: u8 = 11;
    /// `now, reason`: an attempt that could not open at all (the constructor threw, `params` could not be had):
    /// it fails as a refused connection does, so the machine schedules the next one.
    pub const FAILED: u8 = 12;
    /// One frame the JavaScript layer decoded (`client/js/decode.js`); its payload stays there. It takes
    /// [`super::machine`]'s numbers: `now`; `ext`, Ferrocast's extension when the frame has one (-1 for none),
    /// `recovered` in its low bits (0 none, 1 false, 2 true) and [`super::POSITION`] when it has a position
    /// (`offset`, and an epoch); `texts`, the bits of the frame's strings the arguments hold, in this order: join
    /// ref (bit 0), ref (1), topic (2), event (3), a reply's status (4; it makes the frame a reply), the position's
    /// epoch (5). A topic, event or epoch left out is the previous frame's: the frames of a batch mostly share
    /// them, and most frames have no ref. Returns the records the frame produced, as [`DRAIN`] does.
    pub const FRAME: u8 = 13;
    /// `topic, params`: a new channel object for `topic`, its id; `params` is its join payload as JSON text
    /// (`undefined` for `{}`, or for a params function's, given before each join).
    pub const CHANNEL: u8 = 14;
    /// `channel, params`: the params the channel's next join sends, as JSON text: what its params function
    /// returned. An outcome.
    pub const SET_PARAMS: u8 = 15;
    /// `now, channel, timeout`: joins the channel. An outcome: the join's push, which reports every attempt.
    pub const JOIN: u8 = 16;
    /// `now, channel, event, json, bytes, timeout`: sends `event` on the channel, or queues it while the channel is
    /// not joined. The payload is JSON text, or `bytes` for a binary frame. An outcome: the push.
    pub const PUSH: u8 = 17;
    /// `now, channel, timeout`: leaves the channel. An outcome: the leave's push.
    pub const LEAVE: u8 = 18;
    /// `channel`: the channel's join push, which keeps its id across rejoins; -1 when there is none.
    pub const JOIN_PUSH: u8 = 19;
    /// `channel`: `closed`, `errored`, `joined`, `joining` or `leaving`.
    pub const CHANNEL_STATE: u8 = 20;
    /// `channel`: the ref of the channel's current join, as a number, or `undefined`.
    pub const JOIN_REF: u8 = 21;
    /// `connecting`, `open` or `closed`.
    pub const CONNECTION_STATE: u8 = 22;
    /// Whether the connection is open.
    pub const IS_CONNECTED: u8 = 23;
    /// A fresh message ref, as a number (its decimal form is the ref).
    pub const MAKE_REF: u8 = 24;
    /// `now`: `getStats()`'s figures: reconnect attempts, next retry (`null`: none), queued pushes, queued bytes,
    /// awaiting reply, last heartbeat round trip (`null`: none).
    pub const STATS: u8 = 25;
    /// The event names the JavaScript layer acts on, `close, error, reply`: a channel's close and error, which
    /// `onClose` and `onError` bind, and a reply, which the decoder tells apart. Needs no machine.
    pub const PROTOCOL_EVENTS: u8 = 26;
    /// `seed, v1, batch, timeout, heartbeatInterval, heartbeatTimeout, probeTimeout, recovery, baseMs,
    /// maxMs, jitter, maxMessages, maxBytes, ttlMs, dropOldest, reconnectAfterMs, rejoinAfterMs`: a machine with the
    /// options `new Socket(endPoint, opts)` was given, read and checked by `client/js/options.js`, where what is
    /// `undefined` or `NaN` takes the protocol's default, and the two functions are the keys `client/js/machine.js`
    /// keeps them under (see [`super::custom_backoff`]). Its handle.
    pub const NEW: u8 = 27;
}

/// One socket's protocol state, as the JavaScript layer's `Socket` holds it (by its handle).
struct Machine {
    socket: Socket<(), Records>,
    /// The socket's identity across reconnects, made at the first connection when `recovery` is on.
    socket_id: Option<String>,
    batch: bool,
    /// The last frame's topic, event and epoch, which the next frame may leave out.
    last: LastNames,
}

/// See [`op::FRAME`].
#[derive(Default)]
struct LastNames {
    topic: String,
    event: String,
    epoch: String,
}

/// [`op::FRAME`]'s numbers, which [`machine`] takes as arguments of its own.
#[derive(Clone, Copy)]
struct Numbers {
    now: f64,
    ext: f64,
    offset: f64,
    texts: u32,
}

/// The flag of [`op::FRAME`]'s `ext` for an extension with a position.
const POSITION: u8 = 4;

thread_local! {
    static MACHINES: Table<Machine> = const { Table::new() };
}

/// `given`, remembered as the last; or the last, when none is given.
fn remember(last: &mut String, given: Option<&str>) {
    if let Some(given) = given {
        given.clone_into(last);
    }
}

/// When to call [`op::TIMEOUT`] next on the machine behind `handle`, in machine time; -1 for never. An entry point of
/// its own, outside the mailbox, as the timer is armed again after every message a page receives.
#[wasm_bindgen(js_name = machineDeadline)]
pub fn machine_deadline(handle: u32) -> f64 {
    let mut deadline = -1.0;
    with_machine(handle, &mut |machine| {
        deadline = machine.socket.poll_timeout().map_or(-1.0, |at| at as f64);
    });
    deadline
}

/// `step` on the machine behind `handle`, if there is one and it is not in a call already (see [`Table::with`]).
/// Behind a reference, so both entry points share one copy of the way into the table.
fn with_machine(handle: u32, step: &mut dyn FnMut(&mut Machine)) {
    MACHINES.with(|machines| machines.with(handle, step));
}

impl Machine {
    /// See [`op::NEW`].
    fn new(input: &mut Input<'_>) -> Machine {
        // The protocol's defaults, each replaced by what is given, in the order `op::NEW` lists them.
        let mut options = Options::default();
        let seed = input.number().unwrap_or_default();
        if input.flag() {
            options.vsn = Vsn::V1;
        }
        let batch = input.flag();
        let given = |input: &mut Input<'_>| input.number().filter(|value| !value.is_nan());
        let ms = |input: &mut Input<'_>, ms: &mut u64| {
            if let Some(given) = given(input) {
                *ms = given as u64;
            }
        };
        ms(input, &mut options.timeout_ms);
        ms(input, &mut options.heartbeat_interval_ms);
        options.heartbeat_timeout_ms = given(input).map(|ms| ms as u64);
        ms(input, &mut options.probe_timeout_ms);
        if let Some(recovery) = input.maybe_flag() {
            options.recovery = recovery;
        }
        // The default reconnect is jittered (`Backoff::default_reconnect`), which `backoff` tunes.
        if let Backoff::Jittered { base_ms, max_ms, jitter } = &mut options.reconnect {
            ms(input, base_ms);
            ms(input, max_ms);
            if let Some(given) = given(input) {
                *jitter = given;
            }
        }
        let queue = &mut options.queue;
        let count = |input: &mut Input<'_>, count: &mut usize| {
            if let Some(given) = given(input) {
                *count = given as usize;
            }
        };
        count(input, &mut queue.max_messages);
        count(input, &mut queue.max_bytes);
        queue.ttl_ms = given(input).map(|ms| ms as u64);
        if input.flag() {
            queue.overflow = Overflow::DropOldest;
        }
        if let Some(key) = input.number() {
            options.reconnect = custom_backoff(key as u32);
        }
        if let Some(key) = input.number() {
            options.rejoin = custom_backoff(key as u32);
        }
        let socket = Socket::with_outputs(options, seed as u64, Records::default());
        Machine { socket, socket_id: None, batch, last: LastNames::default() }
    }
}

/// Operation `op` (see [`op`]) on the machine behind `handle`, with its arguments; its results. Nothing at all
/// when the machine is in a call already (see [`Table::with`]).
///
/// A frame's numbers come as arguments of their own (only [`op::FRAME`] reads them, the others leave them out):
/// every message a page receives is at least one frame, and writing all nine of its fields as values cost about as
/// much as handling the frame (BENCHMARKS.md, the fourth round of issue 21), where the usual frame of a batch now
/// writes none.
#[wasm_bindgen]
pub fn machine(handle: u32, op: u8, len: u32, now: f64, ext: f64, offset: f64, texts: u32) -> u32 {
    exchange(len, |input, out| match op {
        op::FREE => MACHINES.with(|machines| machines.remove(handle)),
        op::NEW => out.number(f64::from(MACHINES.with(|machines| machines.insert(Machine::new(input))))),
        op::TOKEN_PROTOCOL => {
            let token = input.text().unwrap_or_default();
            out.text(&(String::from("base64url.bearer.phx.") + &base64::encode_url_unpadded(token.as_bytes())));
        }
        op::PROTOCOL_EVENTS => {
            for name in [event::CLOSE, event::ERROR, event::REPLY] {
                out.text(name);
            }
        }
        op => {
            let frame = Numbers { now, ext, offset, texts };
            with_machine(handle, &mut |machine| machine.step(op, frame, input, out));
        }
    })
}

impl Machine {
    fn step(&mut self, op: u8, frame: Numbers, input: &mut Input<'_>, out: &mut Output) {
        let socket = &mut self.socket;
        match op {
            op::DRAIN => self.drain(out),
            op::FRAME => {
                self.frame(frame, input);
                self.drain(out);
            }
            op::TIMEOUT => socket.handle_timeout(now(input)),
            op::CONNECT => socket.connect(),
            op::DISCONNECT => {
                let now = now(input);
                let code = input.number().map_or(CLOSE_NORMAL, |code| code as u16);
                socket.disconnect(now, code, input.text().unwrap_or_default());
            }
            op::PROBE => socket.probe(now(input)),
            op::URL => self.url_parameters(input.bytes().unwrap_or_default(), out),
            op::OPENED => socket.handle_open(now(input)),
            op::CLOSED => {
                let now = now(input);
                let code = input.number().unwrap_or_default() as u16;
                socket.handle_close(now, code, input.text().unwrap_or_default());
            }
            op::ERRORED => socket.handle_error(now(input)),
            op::FAILED => {
                let now = now(input);
                socket.handle_error(now);
                socket.handle_close(now, 1006, input.text().unwrap_or_default());
            }
            op::CHANNEL => {
                let topic = input.text().unwrap_or_default();
                let params = input.text().map_or_else(Payload::empty, |json| Payload::Json(json.to_owned()));
                out.number(f64::from(u32::from(socket.channel(topic, params))));
            }
            op::SET_PARAMS => {
                let channel = channel(input);
                let params = Payload::Json(input.text().unwrap_or_default().to_owned());
                outcome(out, socket.set_channel_params(channel, params).map(|()| 0));
            }
            op::JOIN => {
                let (now, channel) = (now(input), channel(input));
                let joined = socket.join(now, channel, timeout(input));
                outcome(out, joined.map(u32::from));
            }
            op::PUSH => {
                let (now, channel) = (now(input), channel(input));
                let event = input.text().unwrap_or_default();
                let json = input.text();
                let payload = match input.bytes() {
                    Some(bytes) => Payload::Binary(bytes.to_vec()),
                    None => json.map_or_else(Payload::empty, |json| Payload::Json(json.to_owned())),
                };
                let pushed = socket.push(now, channel, event, payload, timeout(input));
                outcome(out, pushed.map(u32::from));
            }
            op::LEAVE => {
                let (now, channel) = (now(input), channel(input));
                let left = socket.leave(now, channel, timeout(input));
                outcome(out, left.map(u32::from));
            }
            op::JOIN_PUSH => {
                let push = socket.channel_join_push(channel(input));
                out.number(push.map_or(-1.0, |push| f64::from(u32::from(push))));
            }
            op::CHANNEL_STATE => out.text(socket.channel_state(channel(input)).as_str()),
            op::JOIN_REF => match socket.channel_join_ref(channel(input)) {
                Some(join_ref) => out.number(join_ref as f64),
                None => out.undefined(),
            },
            op::CONNECTION_STATE => out.text(socket.connection_state().as_str()),
            op::IS_CONNECTED => out.flag(socket.is_connected()),
            op::MAKE_REF => out.number(socket.make_ref() as f64),
            op::STATS => {
                let stats = socket.stats(now(input));
                out.number(f64::from(stats.reconnect_attempts));
                out.maybe(stats.next_retry_in_ms.map(|ms| ms as f64));
                out.number(stats.queued_pushes as f64);
                out.number(stats.queued_bytes as f64);
                out.number(stats.awaiting_reply as f64);
                out.maybe(stats.last_heartbeat_rtt_ms.map(|ms| ms as f64));
            }
            _ => {}
        }
    }

    /// The records made since the last drain: the transport actions, then the application's events.
    fn drain(&mut self, out: &mut Output) {
        let records = self.socket.outputs_mut();
        out.append(&mut records.transmits);
        out.append(&mut records.events);
    }

    fn url_parameters(&mut self, random: &[u8], out: &mut Output) {
        let Options { recovery, vsn, .. } = *self.socket.options();
        if recovery && self.socket_id.is_none() {
            // 128 random bits, base64url: a socket identity no other client can guess, so no other client can be
            // answered with this socket's replies.
            self.socket_id = Some(base64::encode_url_unpadded(random));
        }
        if let Some(socket_id) = &self.socket_id {
            out.text(SOCKET_ID_PARAM);
            out.text(socket_id);
        }
        if self.batch && vsn == Vsn::V2 {
            out.text(BATCH_PARAM);
            out.text("1");
        }
        out.text("vsn");
        out.text(vsn.as_param());
    }

    fn frame(&mut self, Numbers { now, ext, offset, texts }: Numbers, input: &mut Input<'_>) {
        let now = now as u64;
        let mut text = |bit: u32| if texts & (1 << bit) != 0 { input.text() } else { None };
        let join_ref = text(0);
        let r#ref = text(1);
        let last = &mut self.last;
        remember(&mut last.topic, text(2));
        remember(&mut last.event, text(3));
        let status = text(4);
        let epoch = text(5);
        let ext = (ext >= 0.0).then_some(ext as u8).map(|flags| Ext {
            position: (flags & POSITION != 0).then(|| {
                remember(&mut last.epoch, epoch);
                Position { offset: offset as u64, epoch: last.epoch.clone() }
            }),
            recovered: match flags & !POSITION {
                0 => None,
                recovered => Some(recovered == 2),
            },
        });
        let frame = Inbound { join_ref, r#ref, topic: &last.topic, event: &last.event, status, ext };
        self.socket.handle_inbound(now, frame, ());
    }
}

/// The records a step makes, written as the socket makes them: its transport actions and its events for the
/// application apart, as JavaScript does the first before it tells the application the second.
#[derive(Default)]
struct Records {
    transmits: Output,
    events: Output,
}

impl Outputs<()> for Records {
    fn connect(&mut self) {
        tag(&mut self.transmits, Tag::Connect);
    }

    fn send(&mut self, frame: Outgoing<'_>) {
        let out = &mut self.transmits;
        tag(out, Tag::Send);
        match frame.join_ref {
            Some(join_ref) => out.number(join_ref as f64),
            None => out.undefined(),
        }
        out.number(frame.r#ref as f64);
        out.text(frame.topic);
        out.text(frame.event);
        match frame.payload {
            None => out.text("{}"),
            Some(Payload::Json(json)) => out.text(json),
            Some(Payload::Binary(bytes)) => out.bytes(bytes),
        }
        // A client's extension is a join's: the position it resumes from, or none (`{}`).
        match frame.resume {
            None => out.undefined(),
            Some(None) => out.null(),
            Some(Some(position)) => {
                out.number(position.offset as f64);
                out.text(&position.epoch);
            }
        }
    }

    fn close(&mut self, code: u16, reason: &str) {
        let out = &mut self.transmits;
        tag(out, Tag::Close);
        out.number(f64::from(code));
        out.text(reason);
    }

    // Inlined where the socket makes each event, which is one place for each kind: the match folds away there, and
    // no event is built to be taken apart (0.2 KB gzip).
    #[inline(always)]
    fn event(&mut self, event: Event<()>) {
        let out = &mut self.events;
        match event {
            Event::Open => tag(out, Tag::Open),
            Event::Close { code, reason, clean } => self.closed(code, &reason, clean),
            Event::Error => tag(out, Tag::Error),
            Event::ReconnectScheduled { attempt, delay_ms } => {
                tag(out, Tag::ReconnectScheduled);
                out.number(f64::from(attempt));
                out.number(delay_ms as f64);
            }
            Event::HeartbeatTimeout => tag(out, Tag::HeartbeatTimeout),
            Event::Message { channel, .. } => self.message(channel, &Inbound::default(), ()),
            Event::Reply { push, channel, status, response } => self.reply(push, channel, &status, response),
            // A channel's error and close reach its bindings as the events phoenix.js triggers for them.
            Event::ChannelError { channel, reason } => {
                tag(out, Tag::ChannelEvent);
                id(out, channel);
                out.text(event::ERROR);
                out.flag(reason.is_some());
                out.flag(true);
            }
            Event::ChannelClose { channel } => {
                tag(out, Tag::ChannelEvent);
                id(out, channel);
                out.text(event::CLOSE);
                out.flag(false);
                out.flag(false);
                tag(out, Tag::ChannelClose);
                id(out, channel);
            }
            Event::Dropped { push: _, channel, event, reason } => {
                tag(out, Tag::Dropped);
                id(out, channel);
                out.text(&event);
                out.text(drop_reason(reason));
            }
            Event::RecoveryIncomplete { channel, position } => {
                tag(out, Tag::RecoveryFailed);
                id(out, channel);
                match position {
                    Some(position) => {
                        out.number(position.offset as f64);
                        out.text(&position.epoch);
                    }
                    None => {
                        out.null();
                        out.null();
                    }
                }
            }
        }
    }

    // The frame's own fields, which the JavaScript layer has: no string crosses for each message.
    fn message(&mut self, channel: ChannelId, _: &Inbound<'_>, (): ()) {
        tag(&mut self.events, Tag::Message);
        id(&mut self.events, channel);
    }

    fn closed(&mut self, code: u16, reason: &str, clean: bool) {
        let out = &mut self.events;
        tag(out, Tag::Closed);
        out.number(f64::from(code));
        out.text(reason);
        out.flag(clean);
    }

    fn reply(&mut self, push: PushId, _: ChannelId, status: &str, response: Option<()>) {
        let out = &mut self.events;
        tag(out, Tag::Reply);
        out.number(f64::from(u32::from(push)));
        out.text(status);
        out.flag(response.is_some());
    }
}

/// A call's result: the number, or -1 and the reason, which the JavaScript layer throws. A number and a reason, not
/// a thrown `JsError`: the wasm carries no error objects.
fn outcome(out: &mut Output, result: Result<u32, ClientError>) {
    match result {
        Ok(number) => out.number(f64::from(number)),
        Err(error) => {
            out.number(-1.0);
            out.text(&error.message());
        }
    }
}

/// A call's `now`, in machine time.
fn now(input: &mut Input<'_>) -> u64 {
    input.number().unwrap_or_default() as u64
}

fn channel(input: &mut Input<'_>) -> ChannelId {
    (input.number().unwrap_or_default() as u32).into()
}

fn timeout(input: &mut Input<'_>) -> Option<u64> {
    input.number().map(|ms| ms as u64)
}

fn tag(out: &mut Output, tag: Tag) {
    out.number(f64::from(tag as u8));
}

fn id(out: &mut Output, channel: ChannelId) {
    out.number(f64::from(u32::from(channel)));
}

fn drop_reason(reason: DropReason) -> &'static str {
    match reason {
        DropReason::QueueFull => "queue_full",
        DropReason::Expired => "expired",
        DropReason::ChannelClosed => "channel_closed",
    }
}

/// phoenix.js's `reconnectAfterMs(tries)` and `rejoinAfterMs(tries)`, the function `client/js/machine.js` keeps
/// under `key`. A result that is not a number counts as one second, so a faulty function cannot make the socket
/// retry in a tight loop.
fn custom_backoff(key: u32) -> Backoff {
    Backoff::Custom(Box::new(move |tries| {
        let ms = custom_delay(key, tries);
        if ms.is_finite() && ms >= 0.0 { ms as u64 } else { 1_000 }
    }))
}

// The application's functions stay in JavaScript, in a map on the global object that `client/js/machine.js` fills:
// a function handed to wasm would cost the externref table and its glue, and a module of the package's own could
// not be shared, as the bundler target's glue is a module apart from the bundle. Keys are unique across copies of
// the package on one page, so two copies can share the map.
#[wasm_bindgen(
    inline_js = "export function delay(key, tries) { return globalThis[Symbol.for(\"@ferrocast/client: backoff functions\")].get(key)(tries) }"
)]
extern "C" {
    /// What the function under `key` gives for `tries`: `NaN` when it threw or gave no number.
    #[wasm_bindgen(js_name = delay)]
    fn custom_delay(key: u32, tries: u32) -> f64;
}
