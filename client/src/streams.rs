//! The event streams' machines behind one entry point, [`streams`]: an `EventStream`'s ([`EventStreamMachine`]), an
//! event-stream socket's ([`SseSocketMachine`]) and a socket's choice of transport ([`TransportChoice`]), in one
//! table of handles. `client/js/stream-machines.js` calls it.
//!
//! One entry point for the three, not one each: each entry point costs the module its own way in and out of the
//! mailbox (`boundary.rs`) and its own table, and the three machines only ever come together. Their operations are
//! numbered apart, in their modules' `op`, so a handle's operation needs no kind beside it.

use ferrocast_protocol::client::TransportChoice;
use wasm_bindgen::prelude::*;

use crate::boundary::{Table, exchange};
use crate::event_stream::{self, EventStreamMachine};
use crate::sse_transport::{self, SseSocketMachine};
use crate::transport_choice;

/// Lets go of the machine behind the handle, whatever its kind.
const FREE: u8 = 0;

/// One machine of the table.
enum Stream {
    Events(EventStreamMachine),
    Socket(SseSocketMachine),
    Choice(TransportChoice),
}

thread_local! {
    static STREAMS: Table<Stream> = const { Table::new() };
}

/// Operation `op` (of `event_stream::op`, `sse_transport::op` or `transport_choice::op`, or [`FREE`]) on the
/// machine behind `handle`, with its arguments; its results. An operation on a machine of another kind does nothing.
#[wasm_bindgen]
pub fn streams(handle: u32, op: u8, len: u32) -> u32 {
    exchange(len, |input, out| {
        STREAMS.with(|streams| {
            let made = match op {
                FREE => return streams.remove(handle),
                event_stream::op::NEW => Stream::Events(EventStreamMachine::read(input)),
                sse_transport::op::NEW => Stream::Socket(SseSocketMachine::read(input)),
                transport_choice::op::NEW => Stream::Choice(transport_choice::read(input)),
                event_stream::op::IS_EVENT_STREAM => return event_stream::is_event_stream(input, out),
                transport_choice::op::STREAM_URL => return transport_choice::stream_url(input, out),
                op => {
                    streams.with(handle, |stream| match stream {
                        Stream::Events(machine) => machine.step(op, input, out),
                        Stream::Socket(machine) => machine.step(op, input, out),
                        Stream::Choice(choice) => transport_choice::step(choice, op, input, out),
                    });
                    return;
                }
            };
            out.number(f64::from(streams.insert(made)));
        });
    })
}
