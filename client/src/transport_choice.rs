//! `TransportChoice`: which transport each connection attempt of a socket goes over, WebSocket or the relay's
//! event-stream socket, as the protocol's [`ferrocast_protocol::client::TransportChoice`] decides. The entries that
//! have the event-stream socket hand it to the JavaScript `Socket` (`useEventStreamSocket`); the core has neither,
//! and its sockets use WebSockets only.

use ferrocast_protocol::client::{self, Switch, Transport, Transports};
use wasm_bindgen::prelude::*;

/// One socket's choice, told what became of each attempt.
#[wasm_bindgen]
pub struct TransportChoice(client::TransportChoice);

#[wasm_bindgen]
impl TransportChoice {
    /// What the socket may use: 0 WebSocket or the event-stream socket, 1 WebSocket only, 2 the event-stream socket
    /// only.
    #[wasm_bindgen(constructor)]
    pub fn new(allowed: u8) -> TransportChoice {
        TransportChoice(client::TransportChoice::new(match allowed {
            1 => Transports::Only(Transport::WebSocket),
            2 => Transports::Only(Transport::EventStream),
            _ => Transports::Both,
        }))
    }

    /// Whether this attempt opens the event-stream socket (at [`TransportChoice::stream_url`]) rather than a
    /// WebSocket, given whether the host has WebSockets.
    pub fn attempt(&mut self, websockets: bool) -> bool {
        self.0.attempt(websockets) == Transport::EventStream
    }

    /// The event-stream socket's URL beside a WebSocket URL.
    #[wasm_bindgen(js_name = streamUrl)]
    pub fn stream_url(websocket_url: &str) -> String {
        Transport::EventStream.url(websocket_url)
    }

    /// The attempt opened.
    pub fn opened(&mut self) {
        self.0.opened();
    }

    /// The attempt closed; `status` is the HTTP status of a refused event-stream request. Returns what the choice
    /// does about it: 0 nothing, 1 it switches to the event stream, 2 to WebSockets, 3 it rules the event-stream
    /// socket out for the socket's life.
    pub fn closed(&mut self, status: Option<u16>) -> u8 {
        match self.0.closed(status) {
            None => 0,
            Some(Switch::NeverOpened { to: Transport::EventStream }) => 1,
            Some(Switch::NeverOpened { to: Transport::WebSocket }) => 2,
            Some(Switch::NoEventStreamSocket { .. }) => 3,
        }
    }
}
