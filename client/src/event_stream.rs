//! `EventStream`: a relay's server-sent events (`GET /sse?topic=…`), read as the browser's `EventSource` reads
//! them, with what EventSource lacks: request headers (`Authorization`), data parsed as JSON and given with its
//! Ferrocast topic, reconnects with full-jitter backoff that resume from the last id as a query parameter, a final
//! error that says why (status and the server's message), and a callback when a resume could not replay everything.
//!
//! Like EventSource it connects when constructed and until `close()`, so it is made where the page runs (a mounted
//! hook), not while a module is imported or a page is rendered on the server; importing the module touches nothing.
//!
//! Each request is a [`FetchStream`]; this file tells the protocol's [`EventStreamReconnect`] how each one ended and
//! does what it answers (reconnect when, or stay closed; which URL resumes). The state is never borrowed while the
//! application's callbacks run, so they may call `close()` or `off()`.

use crate::fetch_stream::{End, FetchStream, Report, Thenable, is_thenable};
use crate::options::{Field, jittered};
use crate::timer::{Timer, now_ms};
use crate::values::{call, get, keys, opt_str, set};
use ferrocast_protocol::client::{AfterEnd, Backoff, EventStreamReconnect, ReadyState, StreamEnd};
use ferrocast_protocol::sse::{self, SUBSCRIBED_EVENT};
use js_sys::{Function, JSON, Object};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// Server-sent events from a Ferrocast relay (`new EventStream("/sse?topic=room:lobby", {headers})`), or from
/// any event stream. Connects at once, as EventSource does, and reconnects until `close()` or a refusal; as
/// EventSource, it keeps going when the page lets go of the object.
#[wasm_bindgen]
pub struct EventStream {
    shared: Rc<Shared>,
}

/// What the stream object, its request's reports and its reconnect timer share.
struct Shared {
    state: RefCell<State>,
}

struct State {
    /// The URL as given; each request adds the id to resume from.
    url: String,
    /// The request headers, or the function that gives them.
    headers: Headers,
    /// When to reconnect and where to resume, and the `readyState`.
    reconnect: EventStreamReconnect,
    /// One reader for all the requests: it keeps the last id and the server's `retry` across them.
    reader: Rc<RefCell<sse::Reader>>,
    request: Option<FetchStream>,
    timer: Timer,
    on_timer: Option<Function>,
    /// Callbacks by ref and by event name, lifecycle ones under the names below.
    hooks: Vec<(u32, String, Function)>,
    next_ref: u32,
    /// The stream's hold on itself until it closes: the requests and the timer hold it weakly, and the JavaScript
    /// object may be collected (wasm-bindgen frees it then) while the page still wants the events.
    running: Option<Rc<Shared>>,
}

/// The names `onOpen`, `onError` and `onRecoveryFailed` register under among the event bindings: an event name is
/// one line of the stream, so none starts with a line break.
const OPEN_HOOK: &str = "\nopen";
const ERROR_HOOK: &str = "\nerror";
const RECOVERY_FAILED_HOOK: &str = "\nrecovery_failed";

/// The class name option errors give.
const EVENT_STREAM: &str = "EventStream";

/// The `headers` option.
enum Headers {
    /// The application's, and `Accept` as EventSource sends it: the same for every request.
    Fixed(JsValue),
    /// A function giving the application's headers (or a promise of them), called before every request, so a
    /// token that expired is fetched afresh for the reconnect.
    Computed(Function),
}

#[wasm_bindgen]
impl EventStream {
    /// `new EventStream(url, {headers, lastEventId, backoff: {baseMs, maxMs, jitter}})`, `headers` an object or a
    /// function returning one (or a promise of one); see README.
    #[wasm_bindgen(constructor)]
    pub fn new(url: &str, options: JsValue) -> Result<EventStream, JsError> {
        let (headers, first_id, backoff) = parse_options(&options)?;
        let seed = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
        let shared = Rc::new(Shared {
            state: RefCell::new(State {
                url: url.to_owned(),
                headers,
                reconnect: EventStreamReconnect::new(backoff, first_id, seed),
                reader: Rc::default(),
                request: None,
                timer: Timer::default(),
                on_timer: None,
                hooks: Vec::new(),
                next_ref: 1,
                running: None,
            }),
        });
        if matches!(shared.state.borrow().headers, Headers::Computed(_)) {
            connect_soon(&shared);
        } else {
            connect(&shared).map_err(|_| JsError::new("EventStream needs `fetch` and `AbortController`"))?;
        }
        shared.state.borrow_mut().running = Some(shared.clone());
        Ok(EventStream { shared })
    }

    /// Calls `callback(data, {event, topic, lastEventId})` for every `event` (`"message"` for unnamed ones), with
    /// `data` parsed as JSON (the raw text when it is not JSON) and `topic` `null` when the server gave none;
    /// returns a ref for `off`.
    pub fn on(&self, event: &str, callback: Function) -> u32 {
        self.hook(event, callback)
    }

    /// Removes the callback registered under `ref` (by `on`, `onOpen`, `onError` or `onRecoveryFailed`).
    pub fn off(&self, r#ref: u32) {
        self.shared.state.borrow_mut().hooks.retain(|(hooked, _, _)| *hooked != r#ref);
    }

    /// Calls `callback()` whenever the stream opens (the server answered 200 with an event stream).
    #[wasm_bindgen(js_name = onOpen)]
    pub fn on_open(&self, callback: Function) -> u32 {
        self.hook(OPEN_HOOK, callback)
    }

    /// Calls `callback({status, message})` when a request fails or the stream drops: then `readyState` is 0 and
    /// the stream reconnects. A refusal (a status below 500, `message` the server's reason) is final: `readyState`
    /// is 2. `status` is 0 when there was no HTTP answer or the stream broke mid-way.
    #[wasm_bindgen(js_name = onError)]
    pub fn on_error(&self, callback: Function) -> u32 {
        self.hook(ERROR_HOOK, callback)
    }

    /// Calls `callback({topic, offset, epoch, recovered: false})` when a resume could not replay everything the
    /// topic broadcast meanwhile (the relay's history did not reach back, or it restarted): reload what the topic
    /// feeds. The stream goes on from the topic's current position.
    #[wasm_bindgen(js_name = onRecoveryFailed)]
    pub fn on_recovery_failed(&self, callback: Function) -> u32 {
        self.hook(RECOVERY_FAILED_HOOK, callback)
    }

    /// 0 connecting (or waiting to reconnect), 1 open, 2 closed, as EventSource's.
    #[wasm_bindgen(getter, js_name = readyState)]
    pub fn ready_state(&self) -> u8 {
        self.shared.state.borrow().reconnect.ready_state() as u8
    }

    /// The id the next connection resumes from: hand it to a later stream's `lastEventId` option to go on where
    /// this one stopped.
    #[wasm_bindgen(getter, js_name = lastEventId)]
    pub fn last_event_id(&self) -> String {
        self.shared.state.borrow().resume_id()
    }

    /// Stops the stream for good: the request is aborted, no reconnect follows and no callback runs after this.
    pub fn close(&self) {
        let (request, running) = {
            let mut state = self.shared.state.borrow_mut();
            state.reconnect.close();
            state.timer.cancel();
            (state.request.take(), state.running.take())
        };
        drop((request, running));
    }

    fn hook(&self, name: &str, callback: Function) -> u32 {
        let mut state = self.shared.state.borrow_mut();
        let r#ref = state.next_ref;
        state.next_ref += 1;
        state.hooks.push((r#ref, name.to_owned(), callback));
        r#ref
    }
}

impl State {
    fn resume_id(&self) -> String {
        self.reconnect.resume_id(self.reader.borrow().last_event_id()).to_owned()
    }

    /// Between requests, with the next one yet to be made.
    fn waiting(&self) -> bool {
        self.reconnect.ready_state() == ReadyState::Connecting && self.request.is_none()
    }

    /// The callbacks registered under `name`.
    fn callbacks(&self, name: &str) -> Vec<Function> {
        self.hooks.iter().filter(|(_, hooked, _)| hooked == name).map(|(_, _, callback)| callback.clone()).collect()
    }
}

/// Starts the next request: at once with fixed headers, or once the `headers` function's value is ready. Fails only
/// where `fetch` does not exist.
fn connect(shared: &Rc<Shared>) -> Result<(), JsValue> {
    let headers = match &shared.state.borrow().headers {
        Headers::Fixed(headers) => Ok(headers.clone()),
        Headers::Computed(function) => Err(function.clone()),
    };
    let function = match headers {
        Ok(headers) => return open(shared, &headers),
        Err(function) => function,
    };
    match function.call0(&JsValue::NULL) {
        Err(thrown) => headers_failed(shared, &thrown),
        Ok(value) if is_thenable(&value) => {
            let (given, failed) = (headers_callback(shared, true), headers_callback(shared, false));
            value.unchecked_ref::<Thenable>().then(&given, &failed);
        }
        Ok(value) => headers_given(shared, &value),
    }
    Ok(())
}

/// Connects from the reconnect timer, at once: a `headers` function is first called after the constructor has
/// returned and the page has registered `onError`, which must hear what the function throws.
fn connect_soon(shared: &Rc<Shared>) {
    let mut state = shared.state.borrow_mut();
    let on_timer = state.on_timer.get_or_insert_with(|| reconnect_handler(shared)).clone();
    state.timer.arm(Some(now_ms()), &on_timer);
}

/// What the promise of the `headers` function's value calls: with the headers when `given`, otherwise with why it
/// rejected. Nothing once the stream was closed meanwhile.
fn headers_callback(shared: &Rc<Shared>, given: bool) -> Function {
    let weak = Rc::downgrade(shared);
    Closure::<dyn FnMut(JsValue)>::new(move |value: JsValue| {
        let Some(shared) = weak.upgrade() else { return };
        if !shared.state.borrow().waiting() {
            return;
        }
        if given { headers_given(&shared, &value) } else { headers_failed(&shared, &value) }
    })
    .into_js_value()
    .unchecked_into()
}

/// Opens the request with the headers the function gave, or fails it when they are not an object of strings.
fn headers_given(shared: &Rc<Shared>, given: &JsValue) {
    match with_accept(given) {
        Ok(headers) => {
            if open(shared, &headers).is_err() {
                ended(shared, 0, "fetch is no longer available".into(), StreamEnd::CannotRequest);
            }
        }
        Err(unusable) => ended(shared, 0, message_of(&unusable.into()), StreamEnd::Dropped),
    }
}

/// A `headers` function that threw or rejected fails its request as a dropped stream does: `onError`, then a
/// reconnect after the backoff, which calls it again.
fn headers_failed(shared: &Rc<Shared>, reason: &JsValue) {
    let message = format!("{EVENT_STREAM} option `headers` failed: {}", message_of(reason));
    ended(shared, 0, message, StreamEnd::Dropped);
}

/// An `Error`'s message, or a thrown string.
fn message_of(reason: &JsValue) -> String {
    get(reason, "message").as_string().or_else(|| reason.as_string()).unwrap_or_default()
}

/// Opens a request with `headers`, resuming from the last id.
fn open(shared: &Rc<Shared>, headers: &JsValue) -> Result<(), JsValue> {
    let mut state = shared.state.borrow_mut();
    let url = state.reconnect.request_url(&state.url, state.reader.borrow().last_event_id());
    let weak = Rc::downgrade(shared);
    let request = FetchStream::open(&url, headers, state.reader.clone(), move |report| {
        if let Some(shared) = weak.upgrade() {
            on_report(&shared, report);
        }
    })?;
    state.request = Some(request);
    Ok(())
}

fn on_report(shared: &Rc<Shared>, report: Report) {
    match report {
        Report::Opened => {
            let opened = {
                let mut state = shared.state.borrow_mut();
                state.reconnect.opened();
                state.callbacks(OPEN_HOOK)
            };
            for callback in opened {
                call(&callback, &[]);
            }
        }
        Report::Event(event) => deliver(shared, &event),
        Report::Ended(End::Closed) => ended(shared, 0, "the server ended the stream".into(), StreamEnd::Dropped),
        Report::Ended(End::Failed(message)) => ended(shared, 0, message, StreamEnd::Dropped),
        Report::Ended(End::Refused { status, message }) => {
            let message = if message.is_empty() { format!("HTTP status {status}") } else { message };
            ended(shared, status, message, StreamEnd::Refused { status });
        }
    }
}

/// Calls the event's callbacks, and the recovery callbacks when a topic's resume came back incomplete.
fn deliver(shared: &Rc<Shared>, event: &sse::Event) {
    let (bound, recovery) = {
        let state = shared.state.borrow();
        let recovery = if event.event == SUBSCRIBED_EVENT { state.callbacks(RECOVERY_FAILED_HOOK) } else { Vec::new() };
        (state.callbacks(&event.event), recovery)
    };
    if bound.is_empty() && recovery.is_empty() {
        return;
    }
    let data = JSON::parse(&event.data).unwrap_or_else(|_| event.data.as_str().into());
    if !bound.is_empty() {
        let meta = Object::new();
        set(&meta, "event", event.event.as_str());
        set(&meta, "topic", opt_str(event.topic.as_deref()));
        set(&meta, "lastEventId", event.last_event_id.as_str());
        for callback in bound {
            call(&callback, &[data.clone(), meta.clone().into()]);
        }
    }
    if !recovery.is_empty() && get(&data, "recovered").as_bool() == Some(false) {
        for callback in recovery {
            call(&callback, std::slice::from_ref(&data));
        }
    }
}

/// The request is over: reconnect when the rule says, or stay closed; `onError` either way.
fn ended(shared: &Rc<Shared>, status: u16, message: String, end: StreamEnd) {
    let (request, running, errors) = {
        let mut state = shared.state.borrow_mut();
        let mut running = None;
        let server_retry_ms = state.reader.borrow().retry_ms();
        match state.reconnect.ended(end, server_retry_ms, now_ms()) {
            AfterEnd::Closed => running = state.running.take(),
            AfterEnd::ReconnectAt(at_ms) => {
                let on_timer = state.on_timer.get_or_insert_with(|| reconnect_handler(shared)).clone();
                state.timer.arm(Some(at_ms), &on_timer);
            }
        }
        (state.request.take(), running, state.callbacks(ERROR_HOOK))
    };
    drop((request, running));
    let error = Object::new();
    set(&error, "status", status);
    set(&error, "message", message);
    for callback in errors {
        call(&callback, &[error.clone().into()]);
    }
}

fn reconnect_handler(shared: &Rc<Shared>) -> Function {
    let weak = Rc::downgrade(shared);
    Closure::<dyn FnMut()>::new(move || {
        let Some(shared) = weak.upgrade() else { return };
        let waiting = {
            let mut state = shared.state.borrow_mut();
            state.timer.fired();
            state.waiting()
        };
        if waiting && connect(&shared).is_err() {
            // `fetch` was there when the stream was made; should it have gone, there is nothing to retry with.
            ended(&shared, 0, "fetch is no longer available".into(), StreamEnd::CannotRequest);
        }
    })
    .into_js_value()
    .unchecked_into()
}

/// Reads `{headers, lastEventId, backoff}`, with errors that name the option.
fn parse_options(options: &JsValue) -> Result<(Headers, String, Backoff), JsError> {
    let mut headers = Headers::Fixed(with_accept(&JsValue::UNDEFINED)?);
    let mut first_id = String::new();
    let mut backoff = Backoff::default_reconnect();
    if !(options.is_undefined() || options.is_null()) {
        let field = Field::top(options, EVENT_STREAM, &["headers", "lastEventId", "backoff"])?;
        if let Some(given) = field.value("headers") {
            headers = match given.dyn_into::<Function>() {
                Ok(function) => Headers::Computed(function),
                Err(given) => Headers::Fixed(with_accept(&given)?),
            };
        }
        first_id = field.string("lastEventId")?.unwrap_or_default();
        if let Some(given) = field.value("backoff") {
            backoff = jittered(&given, EVENT_STREAM)?;
        }
    }
    Ok((headers, first_id, backoff))
}

/// The application's headers (an object of strings, or nothing), with `Accept` as EventSource sends it.
fn with_accept(given: &JsValue) -> Result<JsValue, JsError> {
    let headers = Object::new();
    set(&headers, "accept", "text/event-stream");
    if !(given.is_undefined() || given.is_null()) {
        let field = Field::nested(given, EVENT_STREAM, "headers", &[])?;
        for name in keys(given) {
            if let Some(value) = field.string(&name)? {
                set(&headers, &name, value);
            }
        }
    }
    Ok(headers.into())
}
