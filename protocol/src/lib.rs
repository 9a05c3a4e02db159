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
//! - [`rng`]: a seeded generator for jitter, which the reactor's retries share.

pub mod client;
pub mod codec;
pub mod frame;
pub mod presence;
pub mod rng;
pub mod sse;

pub use frame::{
    BATCH_PARAM, Encoded, Ext, Frame, Message, Payload, Position, Reply, SOCKET_ID_PARAM, Sender, Vsn, WireData,
    is_valid_socket_id,
};
