//! Ferrocast's browser client: the phoenix.js 1.7 API (`Socket`, `Channel`, `Push`, `Presence`) as a WebAssembly
//! module, around the `ferrocast-protocol` state machine.
//!
//! This crate is the I/O shell only: it opens WebSockets, runs one timer, listens to page events and converts
//! between JavaScript values and the machine's types. What to send, when to retry and what a frame means is decided
//! by `ferrocast_protocol::client`, which is tested natively in simulated time.
//!
//! - One file per JavaScript class: [`socket`], [`channel`], [`push`], [`presence`].
//! - [`driver`]: the state every object of one socket shares, and the loop that runs the machine and calls back
//!   into JavaScript without holding a borrow.
//! - [`event_stream`]: `EventStream`, server-sent events from a relay's `/sse`, over `fetch_stream` (one fetched
//!   event stream); [`sse_transport`]: `SseSocket`, a WebSocket-shaped connection over the relay's event-stream
//!   socket, used by `transport: "sse"` and as the fallback when WebSockets cannot open.
//! - [`transport`]: one WebSocket and its event handlers; [`decode`]: frames from the browser's `JSON.parse`;
//!   [`values`]: payloads, option reading, errors; [`timer`]: the one timer; [`lifecycle`]: page events;
//!   [`connection_values`]: the `params` and `authToken` each connection attempt waits for.
//!
//! Nothing here touches `window`, `WebSocket` or a timer before `connect()`, so the module can be imported during
//! server-side rendering.

#[cfg(feature = "classes")]
pub mod channel;
#[cfg(feature = "classes")]
mod connection_values;
#[cfg(feature = "classes")]
mod decode;
#[cfg(all(test, feature = "classes"))]
mod decoder_parity;
#[cfg(feature = "classes")]
mod driver;
#[cfg(feature = "classes")]
pub mod event_stream;
#[cfg(feature = "classes")]
mod fetch_stream;
#[cfg(feature = "classes")]
mod lifecycle;
#[cfg(feature = "machine")]
pub mod machine;
#[cfg(feature = "classes")]
mod options;
#[cfg(feature = "classes")]
pub mod presence;
#[cfg(feature = "classes")]
pub mod push;
#[cfg(feature = "classes")]
pub mod socket;
#[cfg(feature = "classes")]
pub mod sse_transport;
#[cfg(feature = "classes")]
mod timer;
#[cfg(feature = "classes")]
mod transport;
#[cfg(feature = "streams")]
pub mod transport_choice;
#[cfg(feature = "classes")]
mod values;

#[cfg(feature = "classes")]
pub use channel::Channel;
#[cfg(feature = "classes")]
pub use event_stream::EventStream;
#[cfg(feature = "machine")]
pub use machine::Machine;
#[cfg(feature = "classes")]
pub use presence::Presence;
#[cfg(feature = "classes")]
pub use push::Push;
#[cfg(feature = "classes")]
pub use socket::Socket;
#[cfg(feature = "classes")]
pub use sse_transport::SseSocket;

/// The allocator of the wasm build: talc in place of the standard library's dlmalloc, which is larger in the
/// module a page downloads (see README, Size). Single-threaded wasm only (no `atomics`), which is what
/// `wasm32-unknown-unknown` builds; native builds and tests keep the system allocator. No `unsafe`: talc's
/// wasm constructor is safe.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
