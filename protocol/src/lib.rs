//! Ferrocast's protocol core: the Phoenix Channels wire format, the client state machine and presence, with no I/O.
//!
//! This crate never touches a socket, a timer or a clock. Bytes come in as arguments and go out as return values;
//! time is a number of milliseconds the caller passes in. That keeps one implementation usable by the browser
//! client (wasm), the relay, the native test client and the load generator, and lets tests run hours of simulated
//! reconnects in microseconds.
//!
//! - [`frame`]: what travels on the wire, in memory form.
//! - [`codec`]: frames to bytes and back, for the V1 JSON, V2 JSON and V2 binary serializers.
//! - [`client`]: the client's socket, channels and pushes as a poll-style state machine.
//! - [`presence`]: who is on a topic, merged from `presence_state` and `presence_diff` as phoenix.js does.
//! - [`sse`]: server-sent events, written and read as EventSource reads them.
//! - [`sse_socket`]: the relay's Phoenix socket over an event stream and POSTs, framed the same on both sides.
//! - [`base64`]: the base64 of binary frames on that socket and of tokens in a WebSocket subprotocol.
//! - [`rng`]: a seeded generator for jitter, which the reactor's retries share.
//! - [`sorted_map`]: the small map the machine and the browser client keep their entries in.

pub mod base64;
pub mod client;
pub mod codec;
pub mod frame;
pub mod presence;
pub mod rng;
pub mod sorted_map;
pub mod sse;
pub mod sse_socket;
mod text;

pub use frame::{
    BATCH_PARAM, Encoded, Ext, Frame, Message, Payload, Position, Reply, SOCKET_ID_PARAM, Sender, Vsn, WireData,
    is_valid_socket_id,
};
