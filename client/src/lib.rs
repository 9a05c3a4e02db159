//! Ferrocast's browser client, the wasm half: what the JavaScript layer (`client/js/`, which holds the phoenix.js
//! API: `Socket`, `Channel`, `Push`) drives, and the classes still written in Rust.
//!
//! - [`machine`]: `Machine`, the protocol's client state machine behind a few narrow entry points (inputs in as
//!   numbers and strings, one flat array of records drained out); the JavaScript `Socket` owns the WebSocket, the
//!   timer, page events and the callbacks. What to send, when to retry and what a frame means is decided by
//!   `ferrocast_protocol::client`, which is tested natively in simulated time.
//! - [`presence`]: `Presence`, over a channel object's `on` and `joinRef`.
//! - [`event_stream`]: `EventStream`, server-sent events from a relay's `/sse`, over `fetch_stream` (one fetched
//!   event stream); [`sse_transport`]: `SseSocket`, a WebSocket-shaped connection over the relay's event-stream
//!   socket, which a `Socket` opens when [`transport_choice`] says so.
//! - [`values`]: object helpers; [`options`]: `EventStream`'s options; [`timer`]: its timer.
//!
//! Features pick what a build has: `machine` alone is `@ferrocast/client/core`; `presence` and `streams` join it
//! in the full package.
//!
//! Nothing here touches `window`, `fetch` or a timer before it is asked to connect, so the module can be imported
//! during server-side rendering.

#[cfg(feature = "streams")]
mod event_stream;
#[cfg(feature = "streams")]
mod fetch_stream;
#[cfg(feature = "machine")]
pub mod machine;
#[cfg(feature = "streams")]
mod options;
#[cfg(feature = "presence")]
pub mod presence;
#[cfg(feature = "streams")]
mod sse_transport;
#[cfg(feature = "streams")]
mod timer;
#[cfg(feature = "streams")]
pub mod transport_choice;
#[cfg(any(feature = "presence", feature = "streams"))]
mod values;

#[cfg(feature = "streams")]
pub use event_stream::EventStream;
#[cfg(feature = "machine")]
pub use machine::Machine;
#[cfg(feature = "presence")]
pub use presence::Presence;
#[cfg(feature = "streams")]
pub use sse_transport::SseSocket;

/// The allocator of the wasm build: talc in place of the standard library's dlmalloc, which is larger in the
/// module a page downloads (see README, Size). Single-threaded wasm only (no `atomics`), which is what
/// `wasm32-unknown-unknown` builds; native builds and tests keep the system allocator. No `unsafe`: talc's
/// wasm constructor is safe.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
