//! The machines JavaScript holds besides the socket's, behind one entry point, [`held`], in one table of handles:
//! a `Presence`'s tracker ([`PresenceMachine`]), an `EventStream`'s machine ([`EventStreamMachine`]), an
//! event-stream socket's ([`SseSocketMachine`]) and a socket's choice of transport ([`TransportChoice`]), as the
//! build's features have them. `client/js/held.js` calls it.
//!
//! One entry point for them all, not one each: each entry point costs the module its own way in and out of the
//! mailbox (`boundary.rs`) and its own table. Their operations are numbered apart, in their modules' `op`, so a
//! handle's operation needs no kind beside it.

#[cfg(feature = "streams")]
use ferrocast_protocol::client::TransportChoice;
use wasm_bindgen::prelude::*;

use crate::boundary::{Table, exchange};
#[cfg(feature = "streams")]
use crate::event_stream::{self, EventStreamMachine};
#[cfg(feature = "presence")]
use crate::presence::{self, PresenceMachine};
#[cfg(feature = "streams")]
use crate::sse_transport::{self, SseSocketMachine};
#[cfg(feature = "streams")]
use crate::transport_choice;

/// Lets go of the machine behind the handle, whatever its kind.
const FREE: u8 = 0;

/// One machine of the table.
enum Held {
    #[cfg(feature = "presence")]
    Presence(PresenceMachine),
    #[cfg(feature = "streams")]
    Events(EventStreamMachine),
    #[cfg(feature = "streams")]
    Socket(SseSocketMachine),
    #[cfg(feature = "streams")]
    Choice(TransportChoice),
}

thread_local! {
    static MACHINES: Table<Held> = const { Table::new() };
}

/// Operation `op` (of `presence::op`, `event_stream::op`, `sse_transport::op` or `transport_choice::op`, or
/// [`FREE`]) on the machine behind `handle`, with its arguments; its results. An operation on a machine of another
/// kind does nothing.
#[wasm_bindgen]
pub fn held(handle: u32, op: u8, len: u32) -> u32 {
    exchange(len, |input, out| {
        MACHINES.with(|machines| {
            let made = match op {
                FREE => return machines.remove(handle),
                #[cfg(feature = "presence")]
                presence::op::NEW => Held::Presence(PresenceMachine::new()),
                #[cfg(feature = "streams")]
                event_stream::op::NEW => Held::Events(EventStreamMachine::read(input)),
                #[cfg(feature = "streams")]
                sse_transport::op::NEW => Held::Socket(SseSocketMachine::read(input)),
                #[cfg(feature = "streams")]
                transport_choice::op::NEW => Held::Choice(transport_choice::read(input)),
                #[cfg(feature = "streams")]
                event_stream::op::IS_EVENT_STREAM => return event_stream::is_event_stream(input, out),
                #[cfg(feature = "streams")]
                transport_choice::op::STREAM_URL => return transport_choice::stream_url(input, out),
                op => {
                    machines.with(handle, |machine| match machine {
                        #[cfg(feature = "presence")]
                        Held::Presence(machine) => machine.step(op, input, out),
                        #[cfg(feature = "streams")]
                        Held::Events(machine) => machine.step(op, input, out),
                        #[cfg(feature = "streams")]
                        Held::Socket(machine) => machine.step(op, input, out),
                        #[cfg(feature = "streams")]
                        Held::Choice(choice) => transport_choice::step(choice, op, input, out),
                    });
                    return;
                }
            };
            out.number(f64::from(machines.insert(made)));
        });
    })
}
