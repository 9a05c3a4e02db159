//! `SseSocket`: a connection that behaves as a WebSocket to the socket, over a relay's event-stream socket
//! (`GET /socket/sse` to receive, `POST /socket/sse?token=…` to send), for networks that block WebSockets.
//!
//! It has the WebSocket members the socket uses (`onopen`, `onclose`, `onerror`, `onmessage`, `binaryType`,
//! `send`, `close`), so the transport code drives it exactly as a WebSocket. It opens when the stream's first event
//! gives the session's token; every later event is one frame. Frames sent while a POST is on its way wait and go
//! together in the next one, so they reach the relay in order. Binary frames travel in base64, a `binary` event
//! one way and a posted line the other: the framing is `ferrocast_protocol::sse_socket`'s, the relay's too. When the
//! server answers the stream's request with something other than an event stream, the close event carries its HTTP
//! `status` beside `code` and `reason`: the socket's transport choice learns from it whether the server has an
//! event-stream socket at all.

use crate::fetch_stream::{FetchStream, Report, Thenable, global_fetch};
use crate::values::{get, set};
use ferrocast_protocol::WireData;
use ferrocast_protocol::client::Transport;
use ferrocast_protocol::sse;
use ferrocast_protocol::sse_socket::{self, Received, StreamEvent};
use js_sys::{ArrayBuffer, Function, Object, Promise, Uint8Array};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// The close code for a connection that broke, as a browser reports a WebSocket that did.
const CLOSE_ABNORMAL: u16 = 1006;

/// A WebSocket-shaped connection over server-sent events and POST requests; pass `transport: "sse"` to `Socket`.
#[wasm_bindgen]
pub struct SseSocket {
    inner: Rc<Inner>,
}

#[derive(Default)]
struct Handlers {
    open: Option<Function>,
    close: Option<Function>,
    error: Option<Function>,
    message: Option<Function>,
}

#[derive(Default)]
struct Inner {
    handlers: RefCell<Handlers>,
    stream: RefCell<Option<FetchStream>>,
    /// Where frames go, once the session's token is known.
    post_url: RefCell<Option<String>>,
    /// Frames waiting for the POST on its way to finish, as the next POST's body.
    outgoing: RefCell<String>,
    posting: Cell<bool>,
    closed: Cell<bool>,
    /// Called when a POST settles: `[answered, failed]`.
    post_callbacks: RefCell<Vec<Function>>,
}

#[wasm_bindgen]
impl SseSocket {
    /// `new SseSocket(url)`, `url` being the socket's WebSocket URL (`ws://host/socket/websocket?…`): the event
    /// stream is the same path with `/sse`, over HTTP.
    #[wasm_bindgen(constructor)]
    pub fn new(url: &str, _protocols: JsValue) -> Result<SseSocket, JsError> {
        Self::open(&Transport::EventStream.url(url), None)
    }

    /// The socket at its event-stream URL (`http://host/socket/sse?…`), `authToken` (if any) sent as
    /// `Authorization: Bearer`: how the JavaScript `Socket` opens one when its transport choice says so.
    pub fn connect(stream_url: &str, auth_token: Option<String>) -> Result<SseSocket, JsError> {
        Self::open(stream_url, auth_token.as_deref())
    }

    /// As a WebSocket's.
    #[wasm_bindgen(setter)]
    pub fn set_onopen(&self, handler: Option<Function>) {
        self.inner.handlers.borrow_mut().open = handler;
    }

    /// As a WebSocket's.
    #[wasm_bindgen(setter)]
    pub fn set_onclose(&self, handler: Option<Function>) {
        self.inner.handlers.borrow_mut().close = handler;
    }

    /// As a WebSocket's.
    #[wasm_bindgen(setter)]
    pub fn set_onerror(&self, handler: Option<Function>) {
        self.inner.handlers.borrow_mut().error = handler;
    }

    /// As a WebSocket's.
    #[wasm_bindgen(setter)]
    pub fn set_onmessage(&self, handler: Option<Function>) {
        self.inner.handlers.borrow_mut().message = handler;
    }

    /// Accepted for the WebSocket's sake; frames are text here.
    #[wasm_bindgen(setter, js_name = binaryType)]
    pub fn set_binary_type(&self, _binary_type: JsValue) {}

    /// Sends a frame: text as it is, an `ArrayBuffer` (a binary frame) as a base64 line.
    pub fn send(&self, frame: JsValue) -> Result<(), JsError> {
        {
            let mut body = self.inner.outgoing.borrow_mut();
            match (frame.as_string(), frame.dyn_ref::<ArrayBuffer>()) {
                (Some(text), _) => sse_socket::write_post_line(&mut body, WireData::Text(&text)),
                (None, Some(buffer)) => {
                    sse_socket::write_post_line(&mut body, WireData::Binary(&Uint8Array::new(buffer).to_vec()));
                }
                (None, None) => return Err(JsError::new("a frame is a string or an ArrayBuffer")),
            }
        }
        self.inner.flush();
        Ok(())
    }

    /// Ends the stream; `onclose` follows, as a WebSocket's does.
    pub fn close(&self, code: Option<u16>, reason: Option<String>) {
        self.inner.finish(code.unwrap_or(1000), &reason.unwrap_or_default(), true, None);
    }
}

impl SseSocket {
    /// The stream at `stream_url` (`http://host/socket/sse?…`), with the socket's `authToken` sent as
    /// `Authorization: Bearer` on its request, which the relay reads where a WebSocket would carry it as a
    /// subprotocol.
    pub(crate) fn open(stream_url: &str, auth_token: Option<&str>) -> Result<SseSocket, JsError> {
        let inner = Rc::new(Inner::default());
        let weak = Rc::downgrade(&inner);
        let reader = Rc::new(RefCell::new(sse::Reader::new()));
        let headers = Object::new();
        if let Some(token) = auth_token {
            crate::values::set(&headers, "Authorization", format!("Bearer {token}"));
        }
        let url = stream_url.to_owned();
        let stream = FetchStream::open(stream_url, &headers, reader, move |report| {
            if let Some(inner) = weak.upgrade() {
                inner.reported(&url, report);
            }
        })
        .map_err(|_| JsError::new("no fetch in this environment: the \"sse\" transport needs fetch"))?;
        *inner.stream.borrow_mut() = Some(stream);
        let weak = Rc::downgrade(&inner);
        *inner.post_callbacks.borrow_mut() =
            [true, false].into_iter().map(|answered| post_callback(weak.clone(), answered)).collect();
        Ok(SseSocket { inner })
    }
}

fn post_callback(inner: Weak<Inner>, answered: bool) -> Function {
    Closure::<dyn FnMut(JsValue)>::new(move |response: JsValue| {
        if let Some(inner) = inner.upgrade() {
            inner.posted(answered && get(&response, "ok").is_truthy());
        }
    })
    .into_js_value()
    .unchecked_into()
}

impl Inner {
    fn reported(&self, stream_url: &str, report: Report) {
        match report {
            Report::Opened => {}
            Report::Event(event) => match sse_socket::read_event(&event) {
                Ok(StreamEvent::Session { token }) => {
                    *self.post_url.borrow_mut() = Some(sse_socket::post_url(stream_url, token));
                    self.fire(|handlers| handlers.open.clone(), &Object::new());
                    self.flush();
                }
                Ok(StreamEvent::Frame(frame)) => {
                    let message = Object::new();
                    match frame {
                        Received::Text(text) => set(&message, "data", text),
                        Received::Binary(bytes) => set(&message, "data", Uint8Array::from(bytes.as_slice()).buffer()),
                    }
                    self.fire(|handlers| handlers.message.clone(), &message);
                }
                Err(error) => self.finish(CLOSE_ABNORMAL, error.as_str(), false, None),
            },
            Report::Ended(end) => {
                let (reason, status) = match end {
                    crate::fetch_stream::End::Closed => (String::new(), None),
                    crate::fetch_stream::End::Refused { status, message } => {
                        (format!("{status} {message}"), Some(status))
                    }
                    crate::fetch_stream::End::Failed(message) => (message, None),
                };
                self.fire(|handlers| handlers.error.clone(), &Object::new());
                self.finish(CLOSE_ABNORMAL, &reason, false, status);
            }
        }
    }

    /// Posts what waits, unless a POST is on its way (it posts the rest when it returns) or there is no session.
    fn flush(&self) {
        if self.posting.get() || self.closed.get() {
            return;
        }
        let Some(url) = self.post_url.borrow().clone() else { return };
        let body = std::mem::take(&mut *self.outgoing.borrow_mut());
        if body.is_empty() {
            return;
        }
        let init = Object::new();
        set(&init, "method", "POST");
        set(&init, "body", body.as_str());
        let headers = Object::new();
        set(&headers, "content-type", "text/plain");
        set(&init, "headers", headers);
        match global_fetch(&url, &init) {
            Ok(promise) => {
                self.posting.set(true);
                let callbacks = self.post_callbacks.borrow();
                promise.unchecked_ref::<Thenable>().then(&callbacks[0], &callbacks[1]);
            }
            Err(_) => self.finish(CLOSE_ABNORMAL, "could not post", false, None),
        }
    }

    /// A POST returned: frames that waited go next; a refused or failed one means the session is gone.
    fn posted(&self, ok: bool) {
        self.posting.set(false);
        if ok {
            self.flush();
        } else {
            self.finish(CLOSE_ABNORMAL, "the session is gone", false, None);
        }
    }

    /// Ends the connection once, and calls `onclose` after the current task, as a WebSocket does. `status` is the
    /// HTTP status of a refused stream request.
    fn finish(&self, code: u16, reason: &str, clean: bool, status: Option<u16>) {
        if self.closed.replace(true) {
            return;
        }
        if let Some(stream) = self.stream.borrow_mut().take() {
            stream.abort();
        }
        let Some(onclose) = self.handlers.borrow().close.clone() else { return };
        let event = Object::new();
        set(&event, "code", code);
        set(&event, "reason", reason);
        set(&event, "wasClean", clean);
        if let Some(status) = status {
            set(&event, "status", status);
        }
        let deliver: Function = Closure::once_into_js(move || {
            let _ = onclose.call1(&JsValue::NULL, &event);
        })
        .unchecked_into();
        Promise::resolve(&JsValue::UNDEFINED).unchecked_ref::<Thenable>().then(&deliver, &deliver);
    }

    /// Calls a handler with the state released, as application code may call back in.
    fn fire(&self, handler: impl Fn(&Handlers) -> Option<Function>, event: &Object) {
        if self.closed.get() {
            return;
        }
        let handler = handler(&self.handlers.borrow());
        if let Some(handler) = handler {
            let _ = handler.call1(&JsValue::NULL, event);
        }
    }
}
