//! The `Socket` constructor's options: phoenix.js's, and Ferrocast's own.
//!
//! Option objects hold functions (`params`, `authToken`, `reconnectAfterMs`, `logger`, `transport`), which a serde
//! deserializer cannot carry, so they are read field by field. A misspelt or mistyped option throws an `Error` that
//! names it; options phoenix.js has and this client does not need (`longPollFallbackMs`, `encode`, ...) are
//! accepted and ignored, so switching from phoenix.js stays a one-line change.

use crate::values::get;
use ferrocast_protocol::Vsn;
use ferrocast_protocol::client::{Backoff, Options, Overflow, QueueOptions, Transport, Transports};
use js_sys::Function;
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsError};

/// The options that stay on the JavaScript side of the socket.
pub(crate) struct Settings {
    /// The endpoint with `/websocket` appended, as phoenix.js keeps it.
    pub(crate) end_point: String,
    /// `params`: an object, a function returning one or a promise of one (called on every connection attempt), or
    /// `undefined`.
    pub(crate) params: JsValue,
    /// `authToken`, sent as a WebSocket subprotocol: a string, a function as `params`, or `undefined`.
    pub(crate) auth_token: JsValue,
    /// `transport`: a WebSocket constructor (the `ws` package under Node); `globalThis.WebSocket` by default.
    pub(crate) transport: Option<Function>,
    /// `logger(kind, message, data)`.
    pub(crate) logger: Option<Function>,
    /// The socket's identity across reconnects, made at the first connection when `recovery` is on.
    pub(crate) socket_id: Option<String>,
    /// What the socket may connect over (`transport`).
    pub(crate) transports: Transports,
    /// `batch` (default true): ask the relay to send frames that queue up as one message, which the browser
    /// handles far faster than one message per frame. Servers that do not know the parameter ignore it.
    pub(crate) batch: bool,
}

const PHOENIX_OPTIONS: [&str; 16] = [
    "transport",
    "encode",
    "decode",
    "timeout",
    "heartbeatIntervalMs",
    "reconnectAfterMs",
    "rejoinAfterMs",
    "logger",
    "longpollerTimeout",
    "params",
    "vsn",
    "binaryType",
    "sessionStorage",
    "longPollFallbackMs",
    "debug",
    "authToken",
];
const FERROCAST_OPTIONS: [&str; 6] = ["backoff", "queue", "heartbeatTimeoutMs", "probeTimeoutMs", "recovery", "batch"];

/// Reads the options object given to `new Socket(endPoint, opts)`.
pub(crate) fn parse(end_point: &str, opts: &JsValue) -> Result<(Options, Settings), JsError> {
    let mut options = Options::default();
    let mut settings = Settings {
        end_point: format!("{end_point}/websocket"),
        params: JsValue::UNDEFINED,
        auth_token: JsValue::UNDEFINED,
        transport: None,
        logger: None,
        socket_id: None,
        transports: Transports::Both,
        batch: true,
    };
    if opts.is_undefined() || opts.is_null() {
        return Ok((options, settings));
    }
    let field = Field::top(opts, SOCKET, &[PHOENIX_OPTIONS.as_slice(), FERROCAST_OPTIONS.as_slice()].concat())?;
    if let Some(ms) = field.ms("timeout")? {
        options.timeout_ms = ms;
    }
    if let Some(ms) = field.ms("heartbeatIntervalMs")? {
        options.heartbeat_interval_ms = ms;
    }
    options.heartbeat_timeout_ms = field.ms("heartbeatTimeoutMs")?;
    if let Some(ms) = field.ms("probeTimeoutMs")? {
        options.probe_timeout_ms = ms;
    }
    if let Some(recovery) = field.boolean("recovery")? {
        options.recovery = recovery;
    }
    if let Some(batch) = field.boolean("batch")? {
        settings.batch = batch;
    }
    options.vsn = match field.string("vsn")?.as_deref() {
        None | Some("2.0.0") => Vsn::V2,
        Some("1.0.0") => Vsn::V1,
        Some(other) => {
            return Err(JsError::new(&format!("Socket option `vsn` must be \"1.0.0\" or \"2.0.0\", not \"{other}\"")));
        }
    };
    match field.string("binaryType")?.as_deref() {
        None | Some("arraybuffer") => {}
        Some(other) => {
            return Err(JsError::new(&format!(
                "Socket option `binaryType` must be \"arraybuffer\" (binary payloads are ArrayBuffers), not \"{other}\""
            )));
        }
    }
    let reconnect_fn = field.function("reconnectAfterMs")?;
    let backoff = get(opts, "backoff");
    options.reconnect = match (reconnect_fn, backoff.is_undefined()) {
        (Some(_), false) => return Err(JsError::new("give either `reconnectAfterMs` or `backoff`, not both")),
        (Some(function), true) => custom_backoff(function),
        (None, false) => jittered(&backoff, SOCKET)?,
        (None, true) => Backoff::default_reconnect(),
    };
    if let Some(function) = field.function("rejoinAfterMs")? {
        options.rejoin = custom_backoff(function);
    }
    let queue = get(opts, "queue");
    if !queue.is_undefined() {
        options.queue = queue_options(&queue)?;
    }
    let params = get(opts, "params");
    if !(params.is_undefined() || params.is_object() || params.is_function()) {
        return Err(field.wrong("params", "an object or a function returning one (or a promise of one)"));
    }
    settings.params = params;
    if let Some(token) = field.value("authToken") {
        if !(token.is_string() || token.is_function()) {
            return Err(field.wrong("authToken", "a string or a function returning one (or a promise of one)"));
        }
        settings.auth_token = token;
    }
    match get(opts, "transport").as_string().as_deref() {
        Some("sse") => settings.transports = Transports::Only(Transport::EventStream),
        Some("websocket") => settings.transports = Transports::Only(Transport::WebSocket),
        Some(other) => {
            let message = format!(
                "Socket option `transport` must be \"websocket\", \"sse\" or a WebSocket class, not \"{other}\""
            );
            return Err(JsError::new(&message));
        }
        None => {
            settings.transport = field.function("transport")?;
            if settings.transport.is_some() {
                settings.transports = Transports::Only(Transport::WebSocket);
            }
        }
    }
    settings.logger = field.function("logger")?;
    Ok((options, settings))
}

/// `{baseMs, maxMs, jitter}` of a `class` (`Socket`, `EventStream`) option object: exponential backoff with
/// jitter.
pub(crate) fn jittered(backoff: &JsValue, class: &'static str) -> Result<Backoff, JsError> {
    let Backoff::Jittered { base_ms, max_ms, jitter } = Backoff::default_reconnect() else { unreachable!() };
    let field = Field::nested(backoff, class, "backoff", &["baseMs", "maxMs", "jitter"])?;
    let jitter = match field.number("jitter")? {
        None => jitter,
        Some(value) if (0.0..=1.0).contains(&value) => value,
        Some(_) => return Err(field.wrong("jitter", "between 0 and 1")),
    };
    Ok(Backoff::Jittered {
        base_ms: field.ms("baseMs")?.unwrap_or(base_ms),
        max_ms: field.ms("maxMs")?.unwrap_or(max_ms),
        jitter,
    })
}

/// `{maxMessages, maxBytes, ttlMs, overflow}`: the offline queue's limits.
fn queue_options(queue: &JsValue) -> Result<QueueOptions, JsError> {
    let defaults = QueueOptions::default();
    let field = Field::nested(queue, SOCKET, "queue", &["maxMessages", "maxBytes", "ttlMs", "overflow"])?;
    let overflow = match field.string("overflow")?.as_deref() {
        None | Some("reject") => Overflow::Reject,
        Some("drop-oldest") => Overflow::DropOldest,
        Some(other) => {
            return Err(JsError::new(&format!(
                "Socket option `queue.overflow` must be \"reject\" or \"drop-oldest\", not \"{other}\""
            )));
        }
    };
    Ok(QueueOptions {
        max_messages: field.ms("maxMessages")?.map_or(defaults.max_messages, |n| n as usize),
        max_bytes: field.ms("maxBytes")?.map_or(defaults.max_bytes, |n| n as usize),
        ttl_ms: field.ms("ttlMs")?,
        overflow,
    })
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

/// The class whose options `Socket` reads.
const SOCKET: &str = "Socket";

/// Typed reads of one options object of a class (`Socket`, `EventStream`), with errors that name the option.
pub(crate) struct Field {
    object: JsValue,
    class: &'static str,
    /// The name of a nested object (`backoff`), or `None` for the options themselves.
    name: Option<&'static str>,
}

impl Field {
    /// The options object given to `class`'s constructor, which may hold only the `known` keys.
    pub(crate) fn top(object: &JsValue, class: &'static str, known: &[&str]) -> Result<Field, JsError> {
        if !object.is_object() || object.is_function() {
            return Err(JsError::new(&format!("{class} options must be an object")));
        }
        if let Some(key) = crate::values::keys(object).into_iter().find(|key| !known.contains(&key.as_str())) {
            return Err(JsError::new(&format!("unknown {class} option `{key}`")));
        }
        Ok(Field { object: object.clone(), class, name: None })
    }

    /// The object option `name`, which may hold only the `known` keys (any key when `known` is empty).
    pub(crate) fn nested(
        object: &JsValue,
        class: &'static str,
        name: &'static str,
        known: &[&str],
    ) -> Result<Field, JsError> {
        if !object.is_object() || object.is_function() {
            return Err(JsError::new(&format!("{class} option `{name}` must be an object")));
        }
        let unknown =
            crate::values::keys(object).into_iter().find(|key| !known.is_empty() && !known.contains(&key.as_str()));
        if let Some(key) = unknown {
            let expected = known.join(", ");
            return Err(JsError::new(&format!("unknown {class} option `{name}.{key}`: expected {expected}")));
        }
        Ok(Field { object: object.clone(), class, name: Some(name) })
    }

    pub(crate) fn value(&self, key: &str) -> Option<JsValue> {
        let value = get(&self.object, key);
        (!value.is_undefined() && !value.is_null()).then_some(value)
    }

    pub(crate) fn wrong(&self, key: &str, expected: &str) -> JsError {
        let option = self.name.map_or_else(|| key.to_owned(), |name| format!("{name}.{key}"));
        JsError::new(&format!("{} option `{option}` must be {expected}", self.class))
    }

    fn number(&self, key: &str) -> Result<Option<f64>, JsError> {
        match self.value(key) {
            None => Ok(None),
            Some(value) => {
                value.as_f64().filter(|n| n.is_finite()).map(Some).ok_or_else(|| self.wrong(key, "a number"))
            }
        }
    }

    /// A non-negative whole number (milliseconds, counts, bytes).
    fn ms(&self, key: &str) -> Result<Option<u64>, JsError> {
        match self.number(key)? {
            None => Ok(None),
            Some(n) if n >= 0.0 && n.fract() == 0.0 => Ok(Some(n as u64)),
            Some(_) => Err(self.wrong(key, "a whole number, 0 or more")),
        }
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, JsError> {
        self.value(key).map(|value| value.as_bool().ok_or_else(|| self.wrong(key, "true or false"))).transpose()
    }

    pub(crate) fn string(&self, key: &str) -> Result<Option<String>, JsError> {
        self.value(key).map(|value| value.as_string().ok_or_else(|| self.wrong(key, "a string"))).transpose()
    }

    fn function(&self, key: &str) -> Result<Option<Function>, JsError> {
        self.value(key).map(|value| value.dyn_into::<Function>().map_err(|_| self.wrong(key, "a function"))).transpose()
    }
}
