//! `TransportChoice`: which transport each connection attempt of a socket goes over, WebSocket or the relay's
//! event-stream socket, as the protocol's [`ferrocast_protocol::client::TransportChoice`] decides, behind the one
//! entry point [`transport_choice`] (`client/js/stream-machines.js` calls it). The entries that have the
//! event-stream socket hand it to the JavaScript `Socket` (`useEventStreamSocket`); the core has neither, and its
//! sockets use WebSockets only.

use ferrocast_protocol::client::{self, Switch, Transport, Transports};
use wasm_bindgen::prelude::*;

use crate::boundary::{Table, exchange};

/// The operations of [`transport_choice`]: each takes the arguments listed with it and returns what it says.
pub mod op {
    /// Lets go of the choice.
    pub const FREE: u8 = 0;
    /// `allowed`: one socket's choice of what it may use: 0 WebSocket or the event-stream socket, 1 WebSocket only,
    /// 2 the event-stream socket only; its handle (the one given is not read).
    pub const NEW: u8 = 1;
    /// `websockets`: whether this attempt opens the event-stream socket (at [`STREAM_URL`]) rather than a
    /// WebSocket, given whether the host has WebSockets.
    pub const ATTEMPT: u8 = 2;
    /// `websocketUrl`, on no choice: the event-stream socket's URL beside a WebSocket URL.
    pub const STREAM_URL: u8 = 3;
    /// The attempt opened.
    pub const OPENED: u8 = 4;
    /// `status`: the attempt closed; `status` is the HTTP status of a refused event-stream request, if any. Returns
    /// what the choice does about it: 0 nothing, 1 it switches to the event stream, 2 to WebSockets, 3 it rules
    /// the event-stream socket out for the socket's life.
    pub const CLOSED: u8 = 5;
}

thread_local! {
    static CHOICES: Table<client::TransportChoice> = const { Table::new() };
}

/// Operation `op` (see [`op`]) on the choice behind `handle`, with its arguments; its results.
#[wasm_bindgen(js_name = transportChoice)]
pub fn transport_choice(handle: u32, op: u8, len: u32) -> u32 {
    exchange(len, |input, out| {
        CHOICES.with(|choices| match op {
            op::FREE => choices.remove(handle),
            op::NEW => {
                let allowed = match input.number().unwrap_or_default() as u8 {
                    1 => Transports::Only(Transport::WebSocket),
                    2 => Transports::Only(Transport::EventStream),
                    _ => Transports::Both,
                };
                out.number(f64::from(choices.insert(client::TransportChoice::new(allowed))));
            }
            op::STREAM_URL => out.text(&Transport::EventStream.url(input.text().unwrap_or_default())),
            op => {
                choices.with(handle, |choice| match op {
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
                });
            }
        });
    })
}
