//! `Machine`: the protocol's client state machine behind the few entry points the JavaScript layer
//! (`client/js/`) drives it through.
//!
//! The JavaScript layer owns every browser object (the WebSocket, the timer, page events, the application's
//! callbacks and payloads) and the public classes; this side owns every protocol decision. Inputs go in as numbers
//! and strings; what the machine wants done comes back from [`Machine::drain`] as one flat array of records (a tag,
//! then that tag's fields), so one call carries a whole step's outputs and no closure crosses the boundary. The
//! records, in the order the machine produced them (transport actions first), are listed in [`Tag`];
//! `client/js/records.js` reads them.
//!
//! Payloads never enter wasm: the machine only carries them, and everything it reports about a frame is reported
//! while that frame is being handled (the JavaScript layer drains after each frame). So the machine is a
//! `Socket<()>`: a record says "the frame's message" or "the frame's reply's response", and JavaScript puts in the
//! fields and the value it parsed. Outbound payloads come in already serialized (JSON text) or as bytes.
//!
//! Nothing here calls into the application, except the `reconnectAfterMs` and `rejoinAfterMs` functions the
//! backoff asks: JavaScript runs the callbacks after `drain` has returned, so a callback may call back in.

use ferrocast_protocol::client::{
    Backoff, CLOSE_NORMAL, ChannelId, ClientError, DropReason, Event, Options, Overflow, PushId, QueueOptions, Socket,
    Transmit,
};
use ferrocast_protocol::frame::event;
use ferrocast_protocol::{
    BATCH_PARAM, Encoded, Ext, Frame, Message, Payload, Position, Reply, SOCKET_ID_PARAM, Vsn, base64,
};
use js_sys::{Array, Function, Uint8Array};
use wasm_bindgen::prelude::*;

/// The first element of each record [`Machine::drain`] returns; the fields that follow are listed with each.
#[repr(u8)]
enum Tag {
    /// Open a connection, to [`Machine::url`] (over the transport the entry's `TransportChoice` says, if it has
    /// one).
    Connect = 0,
    /// `data`: send it, a string or an `ArrayBuffer`.
    Send = 1,
    /// `code, reason`: close the connection and let go of it.
    Close = 2,
    /// The connection opened.
    Open = 3,
    /// `code, reason, wasClean`: the connection closed.
    Closed = 4,
    /// The transport reported an error.
    Error = 5,
    /// `channel`: the frame's message (its event, payload, ref and join ref) for a channel.
    Message = 6,
    /// `push, status, response, kept`: a push's outcome; `response` is 1 for the frame's reply's response and 0
    /// for none (a timeout, or a reply the machine made up); `kept` when the push is a join, which reports every
    /// attempt, so its callbacks stay.
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

/// One socket's protocol state, as the JavaScript layer's `Socket` holds it.
#[wasm_bindgen]
pub struct Machine {
    socket: Socket<()>,
    /// The endpoint with `/websocket` appended, as phoenix.js keeps it.
    end_point: String,
    /// The socket's identity across reconnects, made at the first connection when `recovery` is on.
    socket_id: Option<String>,
    batch: bool,
    /// The last frame's topic, event and epoch, which the next frame may leave out.
    last: LastNames,
    /// Why the last refused call was refused ([`Machine::refused`]).
    refused: String,
}

/// See [`Machine::frame`].
#[derive(Default)]
struct LastNames {
    topic: String,
    event: String,
    epoch: String,
}

/// The flag of [`Machine::frame`]'s `ext` for an extension with a position.
const POSITION: u8 = 4;

/// `given`, remembered as the last; or the last, when none is given.
fn remembered(last: &mut String, given: Option<String>) -> String {
    if let Some(given) = given {
        last.clone_from(&given);
        return given;
    }
    last.clone()
}

#[wasm_bindgen]
impl Machine {
    /// A machine with the options `new Socket(endPoint, opts)` was given, read and checked by
    /// `client/js/options.js`; what is `undefined` takes the protocol's default. `transports`: 0 WebSocket or the
    /// event-stream socket, 1 WebSocket only, 2 the event-stream socket only.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        end_point: &str,
        seed: f64,
        v1: bool,
        batch: bool,
        timeout: Option<f64>,
        heartbeat_interval: Option<f64>,
        heartbeat_timeout: Option<f64>,
        probe_timeout: Option<f64>,
        recovery: Option<bool>,
        backoff: &[f64],
        reconnect_after: Option<Function>,
        rejoin_after: Option<Function>,
        queue: &[f64],
        drop_oldest: bool,
    ) -> Machine {
        let defaults = Options::default();
        let ms = |value: Option<f64>, default: u64| value.map_or(default, |ms| ms as u64);
        let given = |values: &[f64], at: usize| values.get(at).copied().filter(|value| !value.is_nan());
        let Backoff::Jittered { base_ms, max_ms, jitter } = Backoff::default_reconnect() else { unreachable!() };
        let options = Options {
            vsn: if v1 { Vsn::V1 } else { Vsn::V2 },
            timeout_ms: ms(timeout, defaults.timeout_ms),
            heartbeat_interval_ms: ms(heartbeat_interval, defaults.heartbeat_interval_ms),
            heartbeat_timeout_ms: heartbeat_timeout.map(|ms| ms as u64),
            probe_timeout_ms: ms(probe_timeout, defaults.probe_timeout_ms),
            reconnect: match reconnect_after {
                Some(function) => custom_backoff(function),
                None => Backoff::Jittered {
                    base_ms: ms(given(backoff, 0), base_ms),
                    max_ms: ms(given(backoff, 1), max_ms),
                    jitter: given(backoff, 2).unwrap_or(jitter),
                },
            },
            rejoin: rejoin_after.map_or(defaults.rejoin, custom_backoff),
            queue: QueueOptions {
                max_messages: given(queue, 0).map_or(defaults.queue.max_messages, |n| n as usize),
                max_bytes: given(queue, 1).map_or(defaults.queue.max_bytes, |n| n as usize),
                ttl_ms: given(queue, 2).map(|ms| ms as u64),
                overflow: if drop_oldest { Overflow::DropOldest } else { Overflow::Reject },
            },
            recovery: recovery.unwrap_or(defaults.recovery),
        };
        Machine {
            socket: Socket::new(options, seed as u64),
            end_point: [end_point, "/websocket"].concat(),
            socket_id: None,
            batch,
            last: LastNames::default(),
            refused: String::new(),
        }
    }

    /// Everything the machine produced since the last call, as records (see [`Tag`]).
    pub fn drain(&mut self) -> Array {
        let out = Array::new();
        let record = |fields: &[JsValue]| {
            for field in fields {
                out.push(field);
            }
        };
        while let Some(transmit) = self.socket.poll_transmit() {
            match transmit {
                Transmit::Connect => record(&[tag(Tag::Connect)]),
                Transmit::Send(Encoded::Text(text)) => record(&[tag(Tag::Send), text.into()]),
                Transmit::Send(Encoded::Binary(bytes)) => {
                    // A copy of its own: a transport may keep the buffer (the `ws` package queues it when busy)
                    // after wasm memory has moved on.
                    record(&[tag(Tag::Send), Uint8Array::from(bytes.as_slice()).buffer().into()])
                }
                Transmit::Close { code, reason } => record(&[tag(Tag::Close), code.into(), reason.into()]),
            }
        }
        while let Some(event) = self.socket.poll_event() {
            match event {
                Event::Open => record(&[tag(Tag::Open)]),
                Event::Close { code, reason, clean } => {
                    record(&[tag(Tag::Closed), code.into(), reason.into(), clean.into()])
                }
                Event::Error => record(&[tag(Tag::Error)]),
                Event::ReconnectScheduled { attempt, delay_ms } => {
                    record(&[tag(Tag::ReconnectScheduled), attempt.into(), (delay_ms as f64).into()])
                }
                Event::HeartbeatTimeout => record(&[tag(Tag::HeartbeatTimeout)]),
                // The frame's own fields, which the JavaScript layer has: no string crosses for each message.
                Event::Message { channel, .. } => record(&[tag(Tag::Message), id(channel)]),
                Event::Reply { push, channel, status, response } => {
                    let kept = self.socket.channel_join_push(channel) == Some(push);
                    let response = u8::from(response.is_some());
                    record(&[tag(Tag::Reply), push_id(push), status.into(), response.into(), kept.into()])
                }
                // A channel's error and close reach its bindings as the events phoenix.js triggers for them.
                Event::ChannelError { channel, reason } => record(&[
                    tag(Tag::ChannelEvent),
                    id(channel),
                    event::ERROR.into(),
                    u8::from(reason.is_some()).into(),
                    1.into(),
                ]),
                Event::ChannelClose { channel } => {
                    let channel = id(channel);
                    record(&[tag(Tag::ChannelEvent), channel.clone(), event::CLOSE.into(), 0.into(), 0.into()]);
                    record(&[tag(Tag::ChannelClose), channel]);
                }
                Event::Dropped { push: _, channel, event, reason } => {
                    record(&[tag(Tag::Dropped), id(channel), event.into(), drop_reason(reason).into()])
                }
                Event::RecoveryIncomplete { channel, position } => {
                    let (offset, epoch) = match position {
                        Some(position) => ((position.offset as f64).into(), position.epoch.into()),
                        None => (JsValue::NULL, JsValue::NULL),
                    };
                    record(&[tag(Tag::RecoveryFailed), id(channel), offset, epoch])
                }
            }
        }
        out
    }

    /// When to call [`Machine::timeout`] next, in machine time; -1 for never.
    pub fn deadline(&self) -> f64 {
        self.socket.poll_timeout().map_or(-1.0, |at| at as f64)
    }

    /// The deadline came: heartbeats, reconnects, push timeouts.
    pub fn timeout(&mut self, now: f64) {
        self.socket.handle_timeout(now as u64);
    }

    /// Opens the connection, and keeps it open until `disconnect`.
    pub fn connect(&mut self) {
        self.socket.connect();
    }

    /// Closes the connection (1000 unless `code` says otherwise) and stops reconnecting.
    pub fn disconnect(&mut self, now: f64, code: Option<u16>, reason: Option<String>) {
        self.socket.disconnect(now as u64, code.unwrap_or(CLOSE_NORMAL), reason.as_deref().unwrap_or(""));
    }

    /// Checks the connection now (the page came back, the network returned).
    pub fn probe(&mut self, now: f64) {
        self.socket.probe(now as u64);
    }

    /// The URL the next connection opens: the endpoint, the application's `query` (its `params`, as phoenix.js
    /// writes them), this socket's id when it recovers, the batch parameter and `vsn`.
    pub fn url(&mut self, query: &str) -> String {
        if self.socket.options().recovery && self.socket_id.is_none() {
            self.socket_id = Some(random_socket_id());
        }
        let vsn = self.socket.options().vsn;
        let mut url = self.end_point.clone();
        let mut add = |parameter: &str| {
            if parameter.is_empty() {
                return;
            }
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(parameter);
        };
        add(query);
        if let Some(socket_id) = &self.socket_id {
            add(&[SOCKET_ID_PARAM, "=", socket_id].concat());
        }
        if self.batch && vsn == Vsn::V2 {
            add(&[BATCH_PARAM, "=1"].concat());
        }
        add(&["vsn=", vsn.as_param()].concat());
        url
    }

    /// The WebSocket subprotocol that carries `authToken`, after `phoenix`: as phoenix.js 1.8 sends it, so the
    /// token stays out of URLs and access logs.
    #[wasm_bindgen(js_name = tokenProtocol)]
    pub fn token_protocol(token: &str) -> String {
        ["base64url.bearer.phx.", &base64::encode_url_unpadded(token.as_bytes())].concat()
    }

    /// The connection opened.
    pub fn opened(&mut self, now: f64) {
        self.socket.handle_open(now as u64);
    }

    /// The connection closed.
    pub fn closed(&mut self, now: f64, code: u16, reason: &str) {
        self.socket.handle_close(now as u64, code, reason);
    }

    /// The connection reported an error (its close follows).
    pub fn errored(&mut self, now: f64) {
        self.socket.handle_error(now as u64);
    }

    /// An attempt that could not open at all (the constructor threw, `params` could not be had): it fails as a
    /// refused connection does, so the machine schedules the next one.
    pub fn failed(&mut self, now: f64, reason: &str) {
        self.socket.handle_error(now as u64);
        self.socket.handle_close(now as u64, 1006, reason);
    }

    /// Hands the machine one frame the JavaScript layer decoded (`client/js/decode.js`); its payload stays there.
    /// `status` makes it a reply; `ext` is Ferrocast's extension when the frame has one: `recovered` in its low
    /// bits (0 none, 1 false, 2 true), and [`POSITION`] when it has a position (`offset` and `epoch`). A `topic`,
    /// `event` or position's `epoch` left out is the previous frame's: the frames of a batch mostly share them, and
    /// a string kept here is cheaper than one copied in again for each frame.
    #[allow(clippy::too_many_arguments)]
    pub fn frame(
        &mut self,
        now: f64,
        join_ref: Option<String>,
        r#ref: Option<String>,
        topic: Option<String>,
        event: Option<String>,
        status: Option<String>,
        ext: Option<u8>,
        offset: f64,
        epoch: Option<String>,
    ) {
        let topic = remembered(&mut self.last.topic, topic);
        let event = remembered(&mut self.last.event, event);
        let ext = ext.map(|flags| Ext {
            position: (flags & POSITION != 0)
                .then(|| Position { offset: offset as u64, epoch: remembered(&mut self.last.epoch, epoch) }),
            recovered: match flags & !POSITION {
                0 => None,
                recovered => Some(recovered == 2),
            },
        });
        let frame = match status {
            Some(status) => Frame::Reply(Reply { join_ref, r#ref, topic, status, response: (), ext }),
            None => Frame::Message(Message { join_ref, r#ref, topic, event, payload: (), ext }),
        };
        self.socket.handle_frame(now as u64, frame);
    }

    /// A new channel object for `topic`; `params` is its join payload as JSON text (`undefined` for `{}`, or for a
    /// params function's, given before each join).
    pub fn channel(&mut self, topic: &str, params: Option<String>) -> u32 {
        self.socket.channel(topic, params.map_or_else(Payload::empty, Payload::Json)).into()
    }

    /// The params the channel's next join sends: what its params function returned, as JSON text. -1 when it
    /// cannot (see [`Machine::refused`]), else 0.
    #[wasm_bindgen(js_name = setParams)]
    pub fn set_params(&mut self, channel: u32, params: String) -> f64 {
        let set = self.socket.set_channel_params(channel.into(), Payload::Json(params));
        self.outcome(set.map(|()| 0))
    }

    /// Joins the channel; returns the join's push, which reports every attempt, or -1 (see [`Machine::refused`]).
    pub fn join(&mut self, now: f64, channel: u32, timeout: Option<u32>) -> f64 {
        let joined = self.socket.join(now as u64, channel.into(), timeout.map(u64::from));
        self.outcome(joined.map(u32::from))
    }

    /// Sends `event` on the channel, or queues it while the channel is not joined; returns the push, or -1 (see
    /// [`Machine::refused`]). The payload is JSON text, or `bytes` for a binary frame.
    pub fn push(
        &mut self,
        now: f64,
        channel: u32,
        event: &str,
        json: Option<String>,
        bytes: Option<Vec<u8>>,
        timeout: Option<u32>,
    ) -> f64 {
        let payload = match (json, bytes) {
            (_, Some(bytes)) => Payload::Binary(bytes),
            (json, None) => json.map_or_else(Payload::empty, Payload::Json),
        };
        let pushed = self.socket.push(now as u64, channel.into(), event, payload, timeout.map(u64::from));
        self.outcome(pushed.map(u32::from))
    }

    /// Leaves the channel; returns the leave's push, or -1 (see [`Machine::refused`]).
    pub fn leave(&mut self, now: f64, channel: u32, timeout: Option<u32>) -> f64 {
        let left = self.socket.leave(now as u64, channel.into(), timeout.map(u64::from));
        self.outcome(left.map(u32::from))
    }

    /// Why the last call that returned -1 was refused: the message the JavaScript layer throws.
    pub fn refused(&self) -> String {
        self.refused.clone()
    }

    /// The join push of a channel, which keeps its id across rejoins; -1 when there is none.
    #[wasm_bindgen(js_name = joinPush)]
    pub fn join_push(&self, channel: u32) -> f64 {
        self.socket.channel_join_push(channel.into()).map_or(-1.0, |push| f64::from(u32::from(push)))
    }

    /// `closed`, `errored`, `joined`, `joining` or `leaving`.
    #[wasm_bindgen(js_name = channelState)]
    pub fn channel_state(&self, channel: u32) -> String {
        self.socket.channel_state(channel.into()).as_str().to_owned()
    }

    /// The ref of the channel's current join.
    #[wasm_bindgen(js_name = joinRef)]
    pub fn join_ref(&self, channel: u32) -> Option<String> {
        self.socket.channel_join_ref(channel.into()).map(str::to_owned)
    }

    /// `connecting`, `open` or `closed`.
    #[wasm_bindgen(js_name = connectionState)]
    pub fn connection_state(&self) -> String {
        self.socket.connection_state().as_str().to_owned()
    }

    /// Whether the connection is open.
    #[wasm_bindgen(js_name = isConnected)]
    pub fn is_connected(&self) -> bool {
        self.socket.is_connected()
    }

    /// A fresh message ref.
    #[wasm_bindgen(js_name = makeRef)]
    pub fn make_ref(&mut self) -> String {
        self.socket.make_ref()
    }

    /// `getStats()`'s figures: reconnect attempts, next retry (-1: none), queued pushes, queued bytes, awaiting
    /// reply, last heartbeat round trip (-1: none).
    pub fn stats(&self, now: f64) -> Vec<f64> {
        let stats = self.socket.stats(now as u64);
        let optional = |ms: Option<u64>| ms.map_or(-1.0, |ms| ms as f64);
        vec![
            f64::from(stats.reconnect_attempts),
            optional(stats.next_retry_in_ms),
            stats.queued_pushes as f64,
            stats.queued_bytes as f64,
            stats.awaiting_reply as f64,
            optional(stats.last_heartbeat_rtt_ms),
        ]
    }
}

impl Machine {
    /// A call's result as its entry point returns it: the number, or -1 with the reason kept for `refused()`. A
    /// number and a getter, not a thrown `JsError`: the JavaScript layer throws, and the wasm carries no error
    /// objects.
    fn outcome(&mut self, result: Result<u32, ClientError>) -> f64 {
        result.map_or_else(
            |error| {
                self.refused = error.message();
                -1.0
            },
            f64::from,
        )
    }
}

fn tag(tag: Tag) -> JsValue {
    JsValue::from(tag as u8)
}

fn id(channel: ChannelId) -> JsValue {
    JsValue::from(u32::from(channel))
}

fn push_id(push: PushId) -> JsValue {
    JsValue::from(u32::from(push))
}

fn drop_reason(reason: DropReason) -> &'static str {
    match reason {
        DropReason::QueueFull => "queue_full",
        DropReason::Expired => "expired",
        DropReason::ChannelClosed => "channel_closed",
    }
}

/// 128 random bits from the platform's cryptographic generator, base64url: a socket identity no other client can
/// guess, so no other client can be answered with this socket's replies.
fn random_socket_id() -> String {
    let mut bytes = [0u8; 16];
    get_random_values(&mut bytes);
    base64::encode_url_unpadded(&bytes)
}

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues`, in browsers, workers and Node alike.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(bytes: &mut [u8]);
}

/// The event names the JavaScript layer acts on, `[close, error, reply]`: a channel's close and error, which
/// `onClose` and `onError` bind, and a reply, which the decoder tells apart.
#[wasm_bindgen(js_name = protocolEvents)]
pub fn protocol_events() -> Array {
    Array::of3(&event::CLOSE.into(), &event::ERROR.into(), &event::REPLY.into())
}

/// phoenix.js's `reconnectAfterMs(tries)` and `rejoinAfterMs(tries)`. A result that is not a number counts as
/// one second, so a faulty function cannot make the socket retry in a tight loop.
fn custom_backoff(function: Function) -> Backoff {
    Backoff::Custom(Box::new(move |tries| {
        let delay = function.call1(&JsValue::NULL, &JsValue::from(tries)).ok().and_then(|value| value.as_f64());
        match delay {
            Some(ms) if ms.is_finite() && ms >= 0.0 => ms as u64,
            _ => 1_000,
        }
    }))
}
