//! `Socket`: one connection to a Phoenix Channels server, as phoenix.js's `Socket`.

use crate::channel::Channel;
use crate::driver::{ChannelHooks, Shared, State};
use crate::options;
use crate::values::{get, keys, opt_number, set};
use ferrocast_protocol::client::CLOSE_NORMAL;
use ferrocast_protocol::{BATCH_PARAM, SOCKET_ID_PARAM, Vsn};
use js_sys::{Function, Object};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// A connection to a Phoenix Channels server (`/socket` on a Ferrocast relay or a Phoenix app).
///
/// Reconnects with jittered backoff, rejoins its channels, queues pushes while offline (bounded, and every drop
/// reported), and checks the connection when the page comes back. Nothing happens before `connect()`.
#[wasm_bindgen]
pub struct Socket {
    shared: Rc<Shared>,
}

#[wasm_bindgen]
impl Socket {
    /// `new Socket("/socket", {params: {token}})`; see README for every option.
    #[wasm_bindgen(constructor)]
    pub fn new(end_point: &str, opts: JsValue) -> Result<Socket, JsError> {
        let (options, settings) = options::parse(end_point, &opts)?;
        Ok(Socket { shared: Shared::new(options, settings) })
    }

    /// Opens the connection, and keeps it open (reconnecting as needed) until `disconnect()`.
    pub fn connect(&self) {
        self.shared.drive(|state, _| {
            state.wanted = true;
            state.suspended = false;
            state.machine.connect();
        });
    }

    /// Closes the connection and stops reconnecting; `callback` runs once it is closed. Channels rejoin on the next
    /// `connect()`.
    pub fn disconnect(&self, callback: Option<Function>, code: Option<u16>, reason: Option<String>) {
        self.shared.drive(|state, now| {
            state.wanted = false;
            state.suspended = false;
            state.disconnected = callback;
            state.machine.disconnect(now, code.unwrap_or(CLOSE_NORMAL), reason.as_deref().unwrap_or(""));
        });
        // Already closed: the machine had nothing to close, so the callback is due now.
        let callback = self.shared.state.borrow_mut().disconnected.take();
        if let Some(callback) = callback {
            crate::values::call(&callback, &[]);
        }
    }

    /// Calls `callback()` whenever the connection opens; returns a ref for `off`.
    #[wasm_bindgen(js_name = onOpen)]
    pub fn on_open(&self, callback: Function) -> String {
        self.hook(callback, |hooks| &mut hooks.open)
    }

    /// Calls `callback({code, reason, wasClean})` whenever the connection closes; returns a ref for `off`.
    #[wasm_bindgen(js_name = onClose)]
    pub fn on_close(&self, callback: Function) -> String {
        self.hook(callback, |hooks| &mut hooks.close)
    }

    /// Calls `callback(error)` on transport errors; returns a ref for `off`.
    #[wasm_bindgen(js_name = onError)]
    pub fn on_error(&self, callback: Function) -> String {
        self.hook(callback, |hooks| &mut hooks.error)
    }

    /// Calls `callback({join_ref, ref, topic, event, payload})` for every frame received; returns a ref for `off`.
    #[wasm_bindgen(js_name = onMessage)]
    pub fn on_message(&self, callback: Function) -> String {
        self.hook(callback, |hooks| &mut hooks.message)
    }

    /// Calls `callback({topic, event, reason})` for every push the offline queue drops without sending
    /// (`reason`: `"queue_full"`, `"expired"` or `"channel_closed"`); the push's `timeout` callbacks follow.
    #[wasm_bindgen(js_name = onQueueDrop)]
    pub fn on_queue_drop(&self, callback: Function) -> String {
        self.hook(callback, |hooks| &mut hooks.queue_drop)
    }

    /// Removes the callbacks registered under these refs.
    pub fn off(&self, refs: Vec<String>) {
        self.shared.state.borrow_mut().hooks.off(&refs);
    }

    /// Whether the connection is open.
    #[wasm_bindgen(js_name = isConnected)]
    pub fn is_connected(&self) -> bool {
        self.shared.state.borrow().machine.is_connected()
    }

    /// `"connecting"`, `"open"` or `"closed"`.
    #[wasm_bindgen(js_name = connectionState)]
    pub fn connection_state(&self) -> String {
        self.shared.state.borrow().machine.connection_state().as_str().to_owned()
    }

    /// A fresh message ref.
    #[wasm_bindgen(js_name = makeRef)]
    pub fn make_ref(&self) -> String {
        self.shared.state.borrow_mut().machine.make_ref()
    }

    /// The URL the next connection opens, params and `vsn` included. A `params` function is called for it, as
    /// phoenix.js does; one that is async cannot be waited for here, and the URL then has no params.
    #[wasm_bindgen(js_name = endPointURL)]
    pub fn end_point_url_js(&self) -> String {
        let params = self.shared.state.borrow().settings.params.clone();
        // The application's function runs with the state released.
        let params = crate::connection_values::call_if_function(&params).unwrap_or(JsValue::UNDEFINED);
        end_point_url(&mut self.shared.state.borrow_mut(), &params)
    }

    /// A channel object for `topic`, joined with `params` (an object, or a function called before each join).
    pub fn channel(&self, topic: &str, params: JsValue) -> Result<Channel, JsError> {
        // A params function is called by `join()`, before every join; until then the params are empty.
        let payload = if params.is_function() {
            ferrocast_protocol::Payload::empty()
        } else {
            crate::values::payload_from_js(&params, &format!("channel \"{topic}\" params"))?
        };
        let mut state = self.shared.state.borrow_mut();
        let id = state.machine.channel(topic, payload);
        let hooks = ChannelHooks { topic: topic.to_owned(), params, bindings: Vec::new(), next_binding: 1 };
        state.channels.insert(id, hooks);
        drop(state);
        Ok(Channel::new(self.shared.clone(), id, topic.to_owned()))
    }

    /// Counters for dashboards: `{state, reconnectAttempts, nextRetryInMs, queuedPushes, queuedBytes,
    /// awaitingReply, lastHeartbeatRttMs}`; the times are `null` when there is none.
    #[wasm_bindgen(js_name = getStats)]
    pub fn get_stats(&self) -> Object {
        let stats = self.shared.state.borrow().machine.stats(crate::timer::now_ms());
        let object = Object::new();
        set(&object, "state", stats.state.as_str());
        set(&object, "reconnectAttempts", stats.reconnect_attempts);
        set(&object, "nextRetryInMs", opt_number(stats.next_retry_in_ms));
        set(&object, "queuedPushes", stats.queued_pushes as u32);
        set(&object, "queuedBytes", stats.queued_bytes as u32);
        set(&object, "awaitingReply", stats.awaiting_reply as u32);
        set(&object, "lastHeartbeatRttMs", opt_number(stats.last_heartbeat_rtt_ms));
        object
    }

    fn hook(
        &self,
        callback: Function,
        list: impl FnOnce(&mut crate::driver::SocketHooks) -> &mut Vec<(String, Function)>,
    ) -> String {
        let mut state = self.shared.state.borrow_mut();
        let r#ref = state.machine.make_ref();
        list(&mut state.hooks).push((r#ref.clone(), callback));
        r#ref
    }
}

/// phoenix.js's URL: the endpoint with `params` (the option's value, or what its function gave) and `vsn` in the
/// query, made absolute from the page's location when it starts with `/`.
pub(crate) fn end_point_url(state: &mut State, params: &JsValue) -> String {
    if state.machine.options().recovery && state.settings.socket_id.is_none() {
        state.settings.socket_id = Some(random_socket_id());
    }
    let settings = &state.settings;
    let (end_point, socket_id, batch) = (&settings.end_point, &settings.socket_id, settings.batch);
    let vsn = state.machine.options().vsn;
    let mut query = Vec::new();
    serialize(params, None, &mut query);
    if let Some(socket_id) = socket_id {
        query.push(format!("{SOCKET_ID_PARAM}={socket_id}"));
    }
    if batch && vsn == Vsn::V2 {
        query.push(format!("{BATCH_PARAM}=1"));
    }
    query.push(format!("vsn={}", vsn.as_param()));
    let separator = if end_point.contains('?') { '&' } else { '?' };
    let uri = format!("{end_point}{separator}{}", query.join("&"));
    if !uri.starts_with('/') {
        return uri;
    }
    let location = get(&js_sys::global(), "location");
    let secure = get(&location, "protocol").as_string().is_some_and(|protocol| protocol.starts_with("https"));
    let scheme = if secure { "wss" } else { "ws" };
    if uri.starts_with("//") {
        return format!("{scheme}:{uri}");
    }
    match get(&location, "host").as_string() {
        Some(host) => format!("{scheme}://{host}{uri}"),
        None => uri,
    }
}

/// Query parameters as phoenix.js writes them: nested objects as `parent[key]=value`.
fn serialize(params: &JsValue, parent: Option<&str>, out: &mut Vec<String>) {
    for key in keys(params) {
        let name = parent.map_or_else(|| key.clone(), |parent| format!("{parent}[{key}]"));
        let value = get(params, &key);
        if value.is_null() {
            // `typeof null` is "object" to phoenix.js, which then finds no keys in it.
        } else if value.is_object() {
            serialize(&value, Some(&name), out);
        } else {
            out.push(format!("{}={}", encode_uri_component(&name.as_str().into()), encode_uri_component(&value)));
        }
    }
}

/// 128 random bits from the platform's cryptographic generator, base64url: a socket identity no other client can
/// guess, so no other client can be answered with this socket's replies.
fn random_socket_id() -> String {
    let mut bytes = [0u8; 16];
    get_random_values(&mut bytes);
    ferrocast_protocol::base64::encode_url_unpadded(&bytes)
}

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues`, in browsers, workers and Node alike.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(bytes: &mut [u8]);

    /// `String(value)`, percent-encoded, as phoenix.js writes query parameters.
    #[wasm_bindgen(js_name = encodeURIComponent)]
    fn encode_uri_component(value: &JsValue) -> String;
}
