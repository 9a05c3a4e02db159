//! `TransportChoice`: which transport each connection attempt of a socket goes over, WebSocket or the relay's
//! event-stream socket, as the protocol's [`ferrocast_protocol::client::TransportChoice`] decides, behind the
//! held machines' entry point (`held.rs`; `client/js/stream-machines.js` calls it). The entries that have the
//! event-stream socket hand it to the JavaScript `Socket` (`useEventStreamSocket`); the core has neither, and its
//! sockets use WebSockets only.

use ferrocast_protocol::client::{Switch, Transport, TransportChoice, Transports};

use crate::boundary::{Input, Output};

/// The operations of a transport choice, on the held machines' entry point (`held.rs`, which numbers the operations
/// of its machines apart): each takes the arguments listed with it and returns what it says.
pub mod op {
    /// `allowed`: one socket's choice of what it may use: 0 WebSocket or the event-stream socket, 1 WebSocket only,
    /// 2 the event-stream socket only; its handle (the one given is not read).
    pub const NEW: u8 = 16;
    /// `websockets`: whether this attempt opens the event-stream socket (at [`STREAM_URL`]) rather than a
    /// WebSocket, given whether the host has WebSockets.
    pub const ATTEMPT: u8 = 17;
    /// `websocketUrl`, on no choice: the event-stream socket's URL beside a WebSocket URL.
    pub const STREAM_URL: u8 = 18;
    /// No arguments or result: the attempt opened, so its transport works and the close that ends it leaves the
    /// choice as it is.
    pub const OPENED: u8 = 19;
    /// `status`: the attempt closed; `status` is the HTTP status of a refused event-stream request, if any. Returns
    /// what the choice does about it: 0 nothing, 1 it switches to the event stream, 2 to WebSockets, 3 it rules
    /// the event-stream socket out for the socket's life.
    pub const CLOSED: u8 = 20;
}

/// See [`op::NEW`].
pub fn read(input: &mut Input<'_>) -> TransportChoice {
    TransportChoice::new(match input.number().unwrap_or_default() as u8 {
        1 => Transports::Only(Transport::WebSocket),
        2 => Transports::Only(Transport::EventStream),
        _ => Transports::Both,
    })
}

/// Operation `op` (see [`op`]) on `choice`, with its arguments; its results.
pub fn step(choice: &mut TransportChoice, op: u8, input: &mut Input<'_>, out: &mut Output) {
    match op {
        op::ATTEMPT => out.flag(choice.attempt(input.flag()) == Transport::EventStream),
        op::OPENED => choice.opened(),
        op::CLOSED => {
            let status = input.number().map(|status| status as u16);
            out.number(match choice.closed(status) {
                None => 0.0,
                Some(Switch::NeverOpened { to: Transport::EventStream }) => 1.0,
                Some(Switch::NeverOpened { to: Transport::WebSocket }) => 2.0,
                Some(Switch::NoEventStreamSocket { .. }) => 3.0,
            });
        }
        _ => {}
    }
}

/// [`op::STREAM_URL`].
pub fn stream_url(input: &mut Input<'_>, out: &mut Output) {
    out.text(&Transport::EventStream.url(input.text().unwrap_or_default()));
}
