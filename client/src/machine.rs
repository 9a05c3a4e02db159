//! `Machine`: the protocol's client state machine behind the few entry points the JavaScript layer
//! (`client/js/`) drives it through.
//!
//! The JavaScript layer owns every browser object (the WebSocket, the timer, page events, the application's
//! callbacks) and the public classes; this side owns every protocol decision. Inputs go in as numbers, strings
//! and the JavaScript values the application gave; what the machine wants done comes back from [`Machine::drain`]
//! as one flat array of records (a tag, then that tag's fields), so one call carries a whole step's outputs and
//! no closure or callback crosses the boundary. The records, in the order the machine produced them (transport
//! actions first), are listed in [`Tag`]; `client/js/records.js` reads them.
//!
//! Nothing here calls into the application: JavaScript runs the callbacks after `drain` has returned, so a
//! callback may call back in.

use crate::decode::{Decoded, decode};
use crate::options;
use crate::values::{opt_str, payload_from_js};
use ferrocast_protocol::client::{
    CLOSE_NORMAL, ChannelId, ClientError, DropReason, Event, PushId, Socket, Switch, Transmit, Transport,
    TransportChoice, Transports,
};
use ferrocast_protocol::frame::event;
use ferrocast_protocol::{BATCH_PARAM, Encoded, SOCKET_ID_PARAM, Vsn, base64};
use js_sys::{Array, Uint8Array};
use std::collections::VecDeque;
use wasm_bindgen::prelude::*;

/// The first element of each record [`Machine::drain`] returns; the fields that follow are listed with each.
#[repr(u8)]
enum Tag {
    /// Open a connection (`Machine::attempt` says over which transport, to which URL).
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
    /// `channel, event, payload, ref, joinRef`: a message for a channel.
    Message = 6,
    /// `push, status, response, kept`: a push's outcome; `kept` when the push is a join, which reports every
    /// attempt, so its callbacks stay.
    Reply = 7,
    /// `channel`: a channel closed for good, after its `phx_close` message record; its objects can go.
    ChannelClose = 8,
    /// `channel, event, reason`: a push dropped unsent (`queue_full`, `expired`, `channel_closed`).
    Dropped = 9,
    /// `channel, offset, epoch`: missed messages could not all be replayed (`offset` and `epoch` may be null).
    RecoveryFailed = 10,
    /// `attempt, delayMs`: a reconnect is scheduled.
    ReconnectScheduled = 11,
    /// No heartbeat reply came in time.
    HeartbeatTimeout = 12,
    /// `why, data`: a frame that could not be read was ignored.
    Ignored = 13,
}

/// One socket's protocol state, as the JavaScript layer's `Socket` holds it.
#[wasm_bindgen]
pub struct Machine {
    socket: Socket<JsValue>,
    transports: TransportChoice,
    /// The endpoint with `/websocket` appended, as phoenix.js keeps it.
    end_point: String,
    /// The socket's identity across reconnects, made at the first connection when `recovery` is on.
    socket_id: Option<String>,
    batch: bool,
    /// The frames of the last message received, handed to the machine one per [`Machine::step`].
    frames: VecDeque<Result<Decoded, String>>,
    /// The message the last frames came in, for the record of one that could not be read.
    data: JsValue,
    /// Why each frame that could not be read was ignored, with the message it came in, for the next `drain`.
    ignored: Vec<(String, JsValue)>,
}

#[wasm_bindgen]
impl Machine {
    /// Reads `new Socket(endPoint, opts)`'s options (throwing an `Error` that names a wrong one); `streams` says
    /// whether this build can open the relay's event-stream socket.
    #[wasm_bindgen(constructor)]
    pub fn new(end_point: &str, opts: &JsValue, seed: f64, streams: bool) -> Result<Machine, JsError> {
        let (options, settings) = options::parse(end_point, opts)?;
        let allowed = match settings.transports {
            Transports::Only(Transport::EventStream) if !streams => {
                return Err(JsError::new(
                    "Socket option `transport: \"sse\"` needs the event-stream transport: import @ferrocast/client",
                ));
            }
            Transports::Both if !streams => Transports::Only(Transport::WebSocket),
            allowed => allowed,
        };
        Ok(Machine {
            socket: Socket::new(options, seed as u64),
            transports: TransportChoice::new(allowed),
            end_point: settings.end_point,
            socket_id: None,
            batch: settings.batch,
            frames: VecDeque::new(),
            data: JsValue::UNDEFINED,
            ignored: Vec::new(),
        })
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
                Event::Message { channel, event, payload, r#ref, join_ref } => record(&[
                    tag(Tag::Message),
                    id(channel),
                    event.into(),
                    payload,
                    opt_str(r#ref.as_deref()),
                    opt_str(join_ref.as_deref()),
                ]),
                Event::Reply { push, channel, status, response } => {
                    let kept = self.socket.channel_join_push(channel) == Some(push);
                    let response = response.unwrap_or_else(|| js_sys::Object::new().into());
                    record(&[tag(Tag::Reply), push_id(push), status.into(), response, kept.into()])
                }
                // A channel's error and close reach its bindings as the events phoenix.js triggers for them.
                Event::ChannelError { channel, reason } => record(&[
                    tag(Tag::Message),
                    id(channel),
                    event::ERROR.into(),
                    reason.unwrap_or(JsValue::UNDEFINED),
                    JsValue::NULL,
                    JsValue::NULL,
                ]),
                Event::ChannelClose { channel } => {
                    let channel = id(channel);
                    let (none, null) = (JsValue::UNDEFINED, JsValue::NULL);
                    record(&[tag(Tag::Message), channel.clone(), event::CLOSE.into(), none, null.clone(), null]);
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
        for (why, data) in self.ignored.drain(..) {
            record(&[tag(Tag::Ignored), why.into(), data]);
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

    /// Which transport this attempt opens, given whether the host has WebSockets: `true` for the relay's
    /// event-stream socket, at [`Machine::stream_url`].
    pub fn attempt(&mut self, websockets: bool) -> bool {
        self.transports.attempt(websockets) == Transport::EventStream
    }

    /// The WebSocket subprotocol that carries `authToken`, after `phoenix`: as phoenix.js 1.8 sends it, so the
    /// token stays out of URLs and access logs.
    #[wasm_bindgen(js_name = tokenProtocol)]
    pub fn token_protocol(token: &str) -> String {
        ["base64url.bearer.phx.", &base64::encode_url_unpadded(token.as_bytes())].concat()
    }

    /// The event-stream socket's URL beside a WebSocket URL.
    #[wasm_bindgen(js_name = streamUrl)]
    pub fn stream_url(&self, websocket_url: &str) -> String {
        Transport::EventStream.url(websocket_url)
    }

    /// The connection opened.
    pub fn opened(&mut self, now: f64) {
        self.transports.opened();
        self.socket.handle_open(now as u64);
    }

    /// The connection closed; `status` is the HTTP status of a refused event-stream request. Returns what the
    /// transport choice did about it: 0 nothing, 1 it switches to the event stream, 2 to WebSockets, 3 it rules
    /// the event-stream socket out.
    pub fn closed(&mut self, now: f64, code: u16, reason: &str, status: Option<u16>) -> u8 {
        let switched = match self.transports.closed(status) {
            None => 0,
            Some(Switch::NeverOpened { to: Transport::EventStream }) => 1,
            Some(Switch::NeverOpened { to: Transport::WebSocket }) => 2,
            Some(Switch::NoEventStreamSocket { .. }) => 3,
        };
        self.socket.handle_close(now as u64, code, reason);
        switched
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

    /// Decodes one WebSocket message's `data`; returns how many frames it held, for as many [`Machine::step`]s.
    /// `messages` asks for the object `onMessage` callbacks get with each.
    pub fn receive(&mut self, data: JsValue, messages: bool) -> u32 {
        let vsn = self.socket.options().vsn;
        decode(vsn, &data, messages, |frame| self.frames.push_back(frame));
        self.data = data;
        self.frames.len() as u32
    }

    /// Hands the machine the next frame of the last message; returns its `onMessage` object, if asked for. A
    /// frame that could not be read becomes an [`Tag::Ignored`] record.
    pub fn step(&mut self, now: f64) -> JsValue {
        match self.frames.pop_front() {
            Some(Ok(Decoded { frame, message })) => {
                self.socket.handle_frame(now as u64, frame);
                message.unwrap_or(JsValue::UNDEFINED)
            }
            Some(Err(why)) => {
                self.ignored.push((why, self.data.clone()));
                JsValue::UNDEFINED
            }
            None => JsValue::UNDEFINED,
        }
    }

    /// A new channel object for `topic`; `params` is its join payload (`undefined` for a function's, given later).
    pub fn channel(&mut self, topic: &str, params: &JsValue) -> Result<u32, JsError> {
        let params = payload_from_js(params, &channel_params(topic))?;
        Ok(self.socket.channel(topic, params).into())
    }

    /// The params the channel's next join sends: what its params function returned.
    #[wasm_bindgen(js_name = setParams)]
    pub fn set_params(&mut self, channel: u32, params: &JsValue) -> Result<(), JsError> {
        let topic = self.socket.channel_topic(channel.into()).unwrap_or_default().to_owned();
        let params = payload_from_js(params, &channel_params(&topic))?;
        self.socket.set_channel_params(channel.into(), params).map_err(error)
    }

    /// Joins the channel; returns the join's push, which reports every attempt.
    pub fn join(&mut self, now: f64, channel: u32, timeout: Option<u32>) -> Result<u32, JsError> {
        self.socket.join(now as u64, channel.into(), timeout.map(u64::from)).map(u32::from).map_err(error)
    }

    /// Sends `event` on the channel, or queues it while the channel is not joined; returns the push.
    pub fn push(
        &mut self,
        now: f64,
        channel: u32,
        event: &str,
        payload: &JsValue,
        timeout: Option<u32>,
    ) -> Result<u32, JsError> {
        let topic = self.socket.channel_topic(channel.into()).unwrap_or_default();
        let payload = payload_from_js(payload, &["push \"", event, "\" to \"", topic, "\""].concat())?;
        let pushed = self.socket.push(now as u64, channel.into(), event, payload, timeout.map(u64::from));
        pushed.map(u32::from).map_err(error)
    }

    /// Leaves the channel; returns the leave's push.
    pub fn leave(&mut self, now: f64, channel: u32, timeout: Option<u32>) -> Result<u32, JsError> {
        self.socket.leave(now as u64, channel.into(), timeout.map(u64::from)).map(u32::from).map_err(error)
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

fn tag(tag: Tag) -> JsValue {
    JsValue::from(tag as u8)
}

fn id(channel: ChannelId) -> JsValue {
    JsValue::from(u32::from(channel))
}

fn push_id(push: PushId) -> JsValue {
    JsValue::from(u32::from(push))
}

fn channel_params(topic: &str) -> String {
    ["channel \"", topic, "\" params"].concat()
}

fn error(error: ClientError) -> JsError {
    JsError::new(&error.to_string())
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

/// The names of a channel's close and error events, `[close, error]`, which `onClose` and `onError` bind.
#[wasm_bindgen(js_name = channelEvents)]
pub fn channel_events() -> Array {
    Array::of2(&event::CLOSE.into(), &event::ERROR.into())
}

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues`, in browsers, workers and Node alike.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(bytes: &mut [u8]);
}
