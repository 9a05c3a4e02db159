//! The state one socket's objects share, and the loop that drives the protocol machine.
//!
//! After every input (an API call, a transport event, the timer) the loop drains the machine: it performs the
//! transport actions, then calls the application's callbacks. It never holds the state borrowed while JavaScript
//! runs, so a callback may call back into the socket (push from `onOpen`, leave from a reply), which runs the loop
//! again from inside. Last, it arms the timer for the machine's next deadline.

use crate::connection_values::{self, Gathered};
use crate::decode::decode;
use crate::lifecycle::Lifecycle;
use crate::options::Settings;
use crate::sse_transport::SseSocket;
use crate::timer::{Timer, now_ms};
use crate::transport::{Reactions, Transport};
use crate::values::{call, get, opt_str, set};
use ferrocast_protocol::client::{
    ChannelId, ConnectionState, DropReason, Event, Options, PushId, Socket as Machine, Switch, Transmit,
    Transport as TransportKind, TransportChoice,
};
use ferrocast_protocol::frame::event;
use ferrocast_protocol::sorted_map::SortedMap;
use js_sys::{Function, Object};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// Everything behind one `Socket` and its channels, pushes and presences.
pub(crate) struct Shared {
    pub(crate) state: RefCell<State>,
}

/// A socket's state.
pub(crate) struct State {
    pub(crate) machine: Machine<JsValue>,
    pub(crate) settings: Settings,
    /// The application wants a connection (`connect` was called, `disconnect` was not).
    pub(crate) wanted: bool,
    /// The page was hidden while connected; `pageshow` reconnects.
    pub(crate) suspended: bool,
    transport: Option<Transport>,
    generation: u32,
    pub(crate) hooks: SocketHooks,
    pub(crate) channels: SortedMap<ChannelId, ChannelHooks>,
    pub(crate) pushes: SortedMap<PushId, Rc<RefCell<PushHooks>>>,
    timer: Timer,
    on_timer: Option<Function>,
    lifecycle: Option<Lifecycle>,
    /// The last transport error event, for `onError` callbacks.
    last_error: JsValue,
    /// `disconnect`'s callback, called when the close completes.
    pub(crate) disconnected: Option<Function>,
    /// Which transport each attempt goes over: the protocol's rule, told what became of every attempt.
    transports: TransportChoice,
}

/// Socket-level callbacks, each under the ref `onOpen` (and the others) returned.
#[derive(Default)]
pub(crate) struct SocketHooks {
    pub(crate) open: Vec<(String, Function)>,
    pub(crate) close: Vec<(String, Function)>,
    pub(crate) error: Vec<(String, Function)>,
    pub(crate) message: Vec<(String, Function)>,
    pub(crate) queue_drop: Vec<(String, Function)>,
}

impl SocketHooks {
    /// Removes the callbacks registered under any of `refs`.
    pub(crate) fn off(&mut self, refs: &[String]) {
        for list in [&mut self.open, &mut self.close, &mut self.error, &mut self.message, &mut self.queue_drop] {
            list.retain(|(r#ref, _)| !refs.contains(r#ref));
        }
    }
}

/// The binding name `Channel.onRecoveryFailed` registers under: not an event name a server sends.
pub(crate) const RECOVERY_FAILED: &str = "ferrocast:recovery_failed";

/// A channel object's bindings (`channel.on`) and its params.
pub(crate) struct ChannelHooks {
    pub(crate) topic: String,
    /// The join params: an object, or a function called before each join.
    pub(crate) params: JsValue,
    pub(crate) bindings: Vec<(String, u32, Function)>,
    pub(crate) next_binding: u32,
}

/// A push's `receive` callbacks, and the reply it got (for callbacks added later).
#[derive(Default)]
pub(crate) struct PushHooks {
    pub(crate) hooks: Vec<(String, Function)>,
    pub(crate) received: Option<(String, JsValue)>,
}

/// Callbacks to run once the state is no longer borrowed.
#[derive(Default)]
struct Calls(Vec<(Function, Vec<JsValue>)>);

impl Calls {
    /// Queues each of `callbacks` with `args`; the last one takes them, the others get copies (most events have
    /// one callback, and copying a JavaScript value is a call into JavaScript).
    fn all<'a>(&mut self, callbacks: impl IntoIterator<Item = &'a Function>, mut args: Vec<JsValue>) {
        let mut callbacks = callbacks.into_iter().peekable();
        while let Some(callback) = callbacks.next() {
            let args = if callbacks.peek().is_some() { args.clone() } else { std::mem::take(&mut args) };
            self.0.push((callback.clone(), args));
        }
    }

    fn run(self) {
        for (callback, args) in self.0 {
            call(&callback, &args);
        }
    }
}

impl Shared {
    pub(crate) fn new(options: Options, settings: Settings) -> Rc<Shared> {
        let seed = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
        let transports = TransportChoice::new(settings.transports);
        Rc::new(Shared {
            state: RefCell::new(State {
                machine: Machine::new(options, seed),
                settings,
                wanted: false,
                suspended: false,
                transport: None,
                generation: 0,
                hooks: SocketHooks::default(),
                channels: SortedMap::default(),
                pushes: SortedMap::default(),
                timer: Timer::default(),
                on_timer: None,
                lifecycle: None,
                last_error: JsValue::UNDEFINED,
                disconnected: None,
                transports,
            }),
        })
    }

    /// Runs `input` on the machine, then drains it.
    pub(crate) fn drive<T>(self: &Rc<Self>, input: impl FnOnce(&mut State, u64) -> T) -> T {
        self.drive_at(now_ms(), input)
    }

    /// [`Shared::drive`] at a time the caller read: the frames of one batch arrived together.
    fn drive_at<T>(self: &Rc<Self>, now: u64, input: impl FnOnce(&mut State, u64) -> T) -> T {
        let result = {
            let mut state = self.state.borrow_mut();
            input(&mut state, now)
        };
        pump(self);
        result
    }
}

impl State {
    /// Calls the logger, if there is one; `message` is only built when there is.
    pub(crate) fn log(&self, kind: &str, message: impl FnOnce() -> String, data: JsValue) {
        if let Some(logger) = &self.settings.logger {
            call(logger, &[kind.into(), message().into(), data]);
        }
    }

    /// Turns one machine event into callbacks.
    fn route(&mut self, event: Event<JsValue>, calls: &mut Calls) {
        match event {
            Event::Open => calls.all(callbacks(&self.hooks.open), Vec::new()),
            Event::Close { code, reason, clean } => {
                let event = Object::new();
                set(&event, "code", code);
                set(&event, "reason", reason.as_str());
                set(&event, "wasClean", clean);
                self.log("transport", || format!("close {code} {reason}"), event.clone().into());
                calls.all(callbacks(&self.hooks.close), vec![event.into()]);
            }
            Event::Error => {
                let error = std::mem::replace(&mut self.last_error, JsValue::UNDEFINED);
                self.log("transport", || "error".to_owned(), error.clone());
                calls.all(callbacks(&self.hooks.error), vec![error]);
            }
            Event::ReconnectScheduled { attempt, delay_ms } => {
                self.log("transport", || format!("reconnect attempt {attempt} in {delay_ms} ms"), JsValue::UNDEFINED);
            }
            Event::HeartbeatTimeout => {
                self.log("transport", || "heartbeat timeout: reconnecting".to_owned(), JsValue::UNDEFINED);
            }
            Event::Message { channel, event, payload, r#ref, join_ref } => {
                self.trigger(
                    channel,
                    &event,
                    vec![payload, opt_str(r#ref.as_deref()), opt_str(join_ref.as_deref())],
                    calls,
                );
            }
            Event::Reply { push, channel, status, response } => {
                let response = response.unwrap_or_else(|| Object::new().into());
                let join_push = self.machine.channel_join_push(channel) == Some(push);
                let hooks = if join_push { self.pushes.get(&push).cloned() } else { self.pushes.remove(&push) };
                if let Some(hooks) = hooks {
                    let mut hooks = hooks.borrow_mut();
                    let matching =
                        hooks.hooks.iter().filter(|(wanted, _)| *wanted == status).map(|(_, callback)| callback);
                    calls.all(matching, vec![response.clone()]);
                    hooks.received = Some((status, response));
                }
            }
            Event::ChannelError { channel, reason } => {
                self.trigger(channel, event::ERROR, vec![reason.unwrap_or(JsValue::UNDEFINED)], calls);
            }
            Event::ChannelClose { channel } => {
                self.trigger(channel, event::CLOSE, Vec::new(), calls);
                if let Some(join_push) = self.machine.channel_join_push(channel) {
                    self.pushes.remove(&join_push);
                }
                self.channels.remove(&channel);
            }
            Event::Dropped { push: _, channel, event, reason } => {
                let dropped = Object::new();
                let topic = self.channels.get(&channel).map(|hooks| hooks.topic.clone()).unwrap_or_default();
                set(&dropped, "topic", topic.as_str());
                set(&dropped, "event", event.as_str());
                set(&dropped, "reason", drop_reason(reason));
                self.log(
                    "push",
                    || format!("dropped {topic} {event}: {}", drop_reason(reason)),
                    dropped.clone().into(),
                );
                calls.all(callbacks(&self.hooks.queue_drop), vec![dropped.into()]);
            }
            Event::RecoveryIncomplete { channel, position } => {
                let Some(topic) = self.channels.get(&channel).map(|hooks| hooks.topic.as_str()) else { return };
                let lost = Object::new();
                set(&lost, "topic", topic);
                if let Some(position) = position {
                    set(&lost, "offset", position.offset as f64);
                    set(&lost, "epoch", position.epoch.as_str());
                }
                self.log(
                    "channel",
                    || format!("{topic}: missed messages could not all be recovered"),
                    lost.clone().into(),
                );
                self.trigger(channel, RECOVERY_FAILED, vec![lost.into()], calls);
            }
        }
    }

    /// Calls a channel's bindings for `event`.
    fn trigger(&self, channel: ChannelId, event: &str, args: Vec<JsValue>, calls: &mut Calls) {
        if let Some(hooks) = self.channels.get(&channel) {
            calls.all(
                hooks.bindings.iter().filter(|(bound, _, _)| bound == event).map(|(_, _, callback)| callback),
                args,
            );
        }
    }
}

/// The functions of a socket-level callback list.
fn callbacks(list: &[(String, Function)]) -> impl Iterator<Item = &Function> {
    list.iter().map(|(_, callback)| callback)
}

fn drop_reason(reason: DropReason) -> &'static str {
    match reason {
        DropReason::QueueFull => "queue_full",
        DropReason::Expired => "expired",
        DropReason::ChannelClosed => "channel_closed",
    }
}

/// Drains the machine until it has nothing left, then arms the timer.
pub(crate) fn pump(shared: &Rc<Shared>) {
    loop {
        let (transmits, calls) = {
            let mut state = shared.state.borrow_mut();
            let transmits: Vec<Transmit> = std::iter::from_fn(|| state.machine.poll_transmit()).collect();
            let mut calls = Calls::default();
            while let Some(event) = state.machine.poll_event() {
                state.route(event, &mut calls);
            }
            (transmits, calls)
        };
        if transmits.is_empty() && calls.0.is_empty() {
            break;
        }
        for transmit in transmits {
            perform(shared, transmit);
        }
        calls.run();
    }
    let mut state = shared.state.borrow_mut();
    let at = state.machine.poll_timeout();
    let State { timer, on_timer, .. } = &mut *state;
    timer.arm(at, on_timer.get_or_insert_with(|| timer_handler(shared)));
}

fn timer_handler(shared: &Rc<Shared>) -> Function {
    let weak = Rc::downgrade(shared);
    let closure = Closure::<dyn FnMut()>::new(move || {
        if let Some(shared) = weak.upgrade() {
            shared.state.borrow_mut().timer.fired();
            shared.drive(|state, now| state.machine.handle_timeout(now));
        }
    });
    closure.into_js_value().unchecked_into()
}

/// Does one transport action.
fn perform(shared: &Rc<Shared>, transmit: Transmit) {
    match transmit {
        Transmit::Connect => connect(shared),
        Transmit::Send(encoded) => {
            let state = shared.state.borrow();
            if let Some(transport) = &state.transport {
                state.log("push", || "send".to_owned(), encoded_for_log(&encoded));
                if let Err(error) = transport.send(&encoded) {
                    state.log("transport", || "send failed".to_owned(), error);
                }
            }
        }
        Transmit::Close { code, reason } => {
            let mut state = shared.state.borrow_mut();
            let disconnected = state.disconnected.take();
            match state.transport.take() {
                Some(transport) => transport.close(code, &reason, disconnected.as_ref()),
                None => {
                    drop(state);
                    if let Some(callback) = disconnected {
                        call(&callback, &[]);
                    }
                }
            }
        }
    }
}

fn encoded_for_log(encoded: &ferrocast_protocol::Encoded) -> JsValue {
    match encoded {
        ferrocast_protocol::Encoded::Text(text) => text.as_str().into(),
        ferrocast_protocol::Encoded::Binary(bytes) => format!("<{} bytes>", bytes.len()).into(),
    }
}

/// Starts a connection attempt: gathers the `params` and `authToken` values (the application's functions run with
/// the state released), then opens the connection, at once when they are plain values, or once their promises
/// settle. An attempt is known by its generation: when the values come, `disconnect()` or a newer attempt may have
/// made them stale, and then nothing is opened.
fn connect(shared: &Rc<Shared>) {
    let (generation, params, auth_token) = {
        let mut state = shared.state.borrow_mut();
        if state.lifecycle.is_none() {
            state.lifecycle = Lifecycle::listen(&Rc::downgrade(shared));
        }
        state.generation += 1;
        (state.generation, state.settings.params.clone(), state.settings.auth_token.clone())
    };
    let weak = Rc::downgrade(shared);
    let later = move |gathered| {
        let Some(shared) = weak.upgrade() else { return };
        let stale = {
            let state = shared.state.borrow();
            state.generation != generation || state.machine.connection_state() != ConnectionState::Connecting
        };
        if !stale {
            shared.drive(|state, _| state.open(&shared, generation, gathered));
        }
    };
    // Ready now: this runs inside the pump, which goes on draining the machine after it.
    if let Some(gathered) = connection_values::gather(&params, &auth_token, later) {
        shared.state.borrow_mut().open(shared, generation, gathered);
    }
}

impl State {
    /// Opens attempt `generation`'s connection with the values gathered for it, or fails the attempt as a refused
    /// connection fails: the machine reports the error and schedules the next attempt, queued pushes stay queued.
    fn open(&mut self, shared: &Rc<Shared>, generation: u32, gathered: Gathered) {
        let opened = match gathered {
            Ok(values) => {
                let url = crate::socket::end_point_url(self, &values.params);
                let opened = self.open_transport(shared, generation, &url, values.auth_token.as_deref());
                opened.map_err(|error| (error, "could not open the WebSocket"))
            }
            Err(error) => Err((error, "could not get `params` or `authToken`")),
        };
        if let Err((error, reason)) = opened {
            // The constructor threw (a malformed URL, a blocked port), or the values could not be had: report it as
            // the failed attempt it is, so the machine schedules the next one.
            self.last_error = error;
            let now = now_ms();
            self.machine.handle_error(now);
            self.machine.handle_close(now, 1006, reason);
        }
    }

    /// A WebSocket to `websocket_url`, or the relay's event-stream socket beside it, as the transport choice says.
    fn open_transport(
        &mut self,
        shared: &Rc<Shared>,
        generation: u32,
        websocket_url: &str,
        auth_token: Option<&str>,
    ) -> Result<(), JsValue> {
        let constructor = match self.settings.transport.clone() {
            Some(constructor) => Some(constructor),
            None => get(&js_sys::global(), "WebSocket").dyn_into::<Function>().ok(),
        };
        let kind = self.transports.attempt(constructor.is_some());
        let url = kind.url(websocket_url);
        self.log("transport", || format!("connecting to {url}"), JsValue::UNDEFINED);
        let reactions = Reactions { open: on_open, close: on_close, error: on_error, message: on_message };
        let transport = match &constructor {
            _ if kind == TransportKind::EventStream => SseSocket::open(&url, auth_token)
                .map(|socket| {
                    let socket = JsValue::from(socket).unchecked_into();
                    Transport::attach(socket, generation, &Rc::downgrade(shared), &reactions)
                })
                .map_err(JsValue::from),
            Some(constructor) => {
                Transport::open(constructor, &url, auth_token, generation, &Rc::downgrade(shared), &reactions)
            }
            None => Err(JsValue::from_str(
                "no WebSocket in this environment: pass the `transport` option (under Node, the `ws` package's WebSocket)",
            )),
        }?;
        self.transport = Some(transport);
        Ok(())
    }
}

fn current(shared: &Rc<Shared>, generation: u32) -> bool {
    shared.state.borrow().transport.as_ref().is_some_and(|transport| transport.generation == generation)
}

fn on_open(shared: &Rc<Shared>, generation: u32, _event: JsValue) {
    if !current(shared, generation) {
        return;
    }
    let _ = refresh_channel_params(shared, None);
    shared.drive(|state, now| {
        state.transports.opened();
        state.machine.handle_open(now);
    });
}

fn on_close(shared: &Rc<Shared>, generation: u32, event: JsValue) {
    if !current(shared, generation) {
        return;
    }
    let code = get(&event, "code").as_f64().map_or(1006, |code| code as u16);
    let reason = get(&event, "reason").as_string().unwrap_or_default();
    // The HTTP status of a refused event-stream request (`SseSocket` says it; a WebSocket never can).
    let refused = get(&event, "status").as_f64().map(|status| status as u16);
    shared.drive(|state, now| {
        if let Some(transport) = state.transport.take() {
            transport.detach();
        }
        match state.transports.closed(refused) {
            Some(Switch::NeverOpened { to }) => {
                let to = if to == TransportKind::EventStream { "server-sent events" } else { "WebSocket" };
                state.log("transport", || format!("could not open twice: trying {to}"), JsValue::UNDEFINED);
            }
            Some(Switch::NoEventStreamSocket { status }) => state.log(
                "transport",
                || format!("the server has no event-stream socket ({status}): WebSocket only from now on"),
                JsValue::UNDEFINED,
            ),
            None => {}
        }
        state.machine.handle_close(now, code, &reason);
    });
}

fn on_error(shared: &Rc<Shared>, generation: u32, event: JsValue) {
    if !current(shared, generation) {
        return;
    }
    shared.drive(|state, now| {
        state.last_error = event;
        state.machine.handle_error(now);
    });
}

fn on_message(shared: &Rc<Shared>, generation: u32, event: JsValue) {
    if !current(shared, generation) {
        return;
    }
    let data = get(&event, "data");
    let (vsn, with_message) = {
        let state = shared.state.borrow();
        (state.machine.options().vsn, !state.hooks.message.is_empty())
    };
    let now = now_ms();
    decode(vsn, &data, with_message, |decoded| match decoded {
        Ok(decoded) => {
            shared.drive_at(now, |state, now| state.machine.handle_frame(now, decoded.frame));
            if let Some(message) = decoded.message {
                // As phoenix.js: channel callbacks first (the drive above), then `onMessage`.
                let hooks: Vec<Function> = callbacks(&shared.state.borrow().hooks.message).cloned().collect();
                for hook in hooks {
                    call(&hook, std::slice::from_ref(&message));
                }
            }
        }
        Err(why) => shared.state.borrow().log("transport", || format!("ignored a frame: {why}"), data.clone()),
    });
}

/// Calls the params functions of channels that have one (all of them, or `only` that one), so their next join sends
/// fresh params (phoenix.js evaluates them on every join). A function that throws, or returns something that is not
/// JSON, leaves that channel's last params in place: the error is thrown to `join()` for `only`, and logged on a
/// reconnect.
pub(crate) fn refresh_channel_params(shared: &Rc<Shared>, only: Option<ChannelId>) -> Result<(), JsError> {
    let functions: Vec<(ChannelId, String, Function)> = shared
        .state
        .borrow()
        .channels
        .iter()
        .filter(|(id, _)| only.is_none_or(|only| only == **id))
        .filter_map(|(id, hooks)| {
            hooks.params.dyn_ref::<Function>().map(|function| (*id, hooks.topic.clone(), function.clone()))
        })
        .collect();
    for (id, topic, function) in functions {
        let what = format!("channel \"{topic}\" params");
        let params = function.call0(&JsValue::NULL).map_err(|_| JsError::new(&format!("{what}: the function threw")));
        match params.and_then(|params| crate::values::payload_from_js(&params, &what)) {
            Ok(payload) => {
                let _ = shared.state.borrow_mut().machine.set_channel_params(id, payload);
            }
            Err(error) if only.is_some() => return Err(error),
            Err(error) => shared.state.borrow().log("channel", || what, JsValue::from(error)),
        }
    }
    Ok(())
}
