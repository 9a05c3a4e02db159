//! One WebSocket (or `SseSocket`, which has its members) and its four event handlers.
//!
//! Each connection gets a generation number; its handlers carry it, so an event from a connection the socket has
//! already let go of (after `Transmit::Close`) is recognized and ignored. Handlers hold only a weak reference to
//! the socket's state.

use crate::driver::Shared;
use ferrocast_protocol::{Encoded, base64};
use js_sys::{Array, Function, Reflect, Uint8Array};
use std::rc::{Rc, Weak};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{BinaryType, WebSocket};

/// What a transport event does to the socket's state.
pub(crate) type React = fn(&Rc<Shared>, u32, JsValue);

/// The socket's reactions to its connection's events.
pub(crate) struct Reactions {
    pub(crate) open: React,
    pub(crate) close: React,
    pub(crate) error: React,
    pub(crate) message: React,
}

/// An open or opening connection.
pub(crate) struct Transport {
    pub(crate) generation: u32,
    socket: WebSocket,
    _handlers: [Closure<dyn FnMut(JsValue)>; 4],
}

impl Transport {
    /// `new constructor(url, protocols)`, with its events routed to `reactions`.
    pub(crate) fn open(
        constructor: &Function,
        url: &str,
        auth_token: Option<&str>,
        generation: u32,
        shared: &Weak<Shared>,
        reactions: &Reactions,
    ) -> Result<Transport, JsValue> {
        let url = JsValue::from_str(url);
        let args = match auth_token {
            // As phoenix.js 1.8: the token travels as a subprotocol, so it stays out of URLs and access logs.
            Some(token) => {
                let protocol = format!("base64url.bearer.phx.{}", base64::encode_url_unpadded(token.as_bytes()));
                Array::of2(&url, &Array::of2(&"phoenix".into(), &protocol.into()))
            }
            None => Array::of1(&url),
        };
        let socket: WebSocket = Reflect::construct(constructor, &args)?.unchecked_into();
        Ok(Transport::attach(socket, generation, shared, reactions))
    }

    /// Routes a connection's events to `reactions`: a WebSocket, or anything with its members (`SseSocket`).
    pub(crate) fn attach(
        socket: WebSocket,
        generation: u32,
        shared: &Weak<Shared>,
        reactions: &Reactions,
    ) -> Transport {
        socket.set_binary_type(BinaryType::Arraybuffer);
        let handler = |react: React| {
            let shared = shared.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
                if let Some(shared) = shared.upgrade() {
                    react(&shared, generation, event);
                }
            })
        };
        let handlers =
            [handler(reactions.open), handler(reactions.close), handler(reactions.error), handler(reactions.message)];
        socket.set_onopen(Some(handlers[0].as_ref().unchecked_ref()));
        socket.set_onclose(Some(handlers[1].as_ref().unchecked_ref()));
        socket.set_onerror(Some(handlers[2].as_ref().unchecked_ref()));
        socket.set_onmessage(Some(handlers[3].as_ref().unchecked_ref()));
        Transport { generation, socket, _handlers: handlers }
    }

    /// Sends one message. Binary data is copied out of wasm memory first: a transport may keep the buffer (the
    /// `ws` package queues it when the socket is busy) after wasm memory has moved on.
    pub(crate) fn send(&self, encoded: &Encoded) -> Result<(), JsValue> {
        match encoded {
            Encoded::Text(text) => self.socket.send_with_str(text),
            Encoded::Binary(bytes) => self.socket.send_with_array_buffer(&Uint8Array::from(bytes.as_slice()).buffer()),
        }
    }

    /// Detaches the handlers and closes the connection; `closed` (if any) is called when the close completes.
    pub(crate) fn close(self, code: u16, reason: &str, closed: Option<&Function>) {
        self.detach();
        self.socket.set_onclose(closed);
        // Closing a connection that is still opening fires `error`. A browser only dispatches it; Node's `ws`
        // throws it when nobody listens, which would end the process, so a listener that ignores it stays.
        IGNORE_ERRORS.with(|ignore| self.socket.set_onerror(Some(ignore.as_ref().unchecked_ref())));
        if self.socket.close_with_code_and_reason(code, reason).is_err() {
            // Browsers only let a page close with 1000 or 3000-4999.
            let _ = self.socket.close();
        }
    }

    /// Lets go of a connection that has already closed.
    pub(crate) fn detach(&self) {
        self.socket.set_onopen(None);
        self.socket.set_onclose(None);
        self.socket.set_onerror(None);
        self.socket.set_onmessage(None);
    }
}

thread_local! {
    /// The error handler of connections being let go of: one for all of them, made once.
    static IGNORE_ERRORS: Closure<dyn Fn(JsValue)> = Closure::new(|_: JsValue| {});
}
