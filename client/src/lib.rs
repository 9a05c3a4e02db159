//! Ferrocast's browser client, the wasm half: the protocol's rules behind narrow entry points that the JavaScript
//! layer (`client/js/`, which holds the public classes) drives, and the classes still written in Rust.
//!
//! - [`boundary`]: how a call crosses: its arguments in as one byte string of typed values, its results out as
//!   another, the machines in tables JavaScript holds handles to (`client/js/boundary.js` is the other side).
//! - [`machine`]: the protocol's client state machine behind one entry point (an operation on a handle; a step's
//!   records drained out in one call); the JavaScript `Socket` (`client/js/machine.js` calls it) owns the
//!   WebSocket, the timer, page events and the callbacks. What to send, when to retry and what a frame means is
//!   decided by `ferrocast_protocol::client`, which is tested natively in simulated time.
//! - [`presence`]: `PresenceMachine`, the protocol's presence tracker, which the JavaScript `Presence`
//!   (`client/js/presence.js`) drives, with metas as handles to the objects it keeps.
//! - [`event_stream`]: `EventStreamMachine`, the rules of the JavaScript `EventStream` (server-sent events from a
//!   relay's `/sse`): the event-stream reader and the reconnect rule; [`sse_transport`]: `SseSocketMachine`, the
//!   framing of the JavaScript `SseSocket`, a WebSocket-shaped connection over the relay's event-stream socket, which
//!   a `Socket` opens when [`transport_choice`] says so. Both take chunks of the stream as text and return what
//!   they read as one run of values; the JavaScript classes own `fetch`, the body's reader, the timer and the
//!   callbacks.
//! - [`held`]: the one entry point of the machines JavaScript holds besides the socket's: trackers and the
//!   event-stream machines.
//!
//! Every machine crosses the boundary the same way: an operation on a handle into a [`boundary`] table behind an
//! entry point (the socket's, and [`held`] for the others), so the glue has no class wrappers
//! (`client/js/machine.js`, `client/js/held.js`).
//!
//! Features pick what a build has: `machine` alone is `@ferrocast/client/core`; `presence` and `streams` join it
//! in the full package.
//!
//! Nothing here touches `window`, `fetch` or a timer, so the module can be imported during server-side rendering.

// Each feature uses the part of it its machines need.
#[cfg(any(feature = "machine", feature = "presence", feature = "streams"))]
#[cfg_attr(not(all(feature = "machine", feature = "presence", feature = "streams")), allow(dead_code))]
mod boundary;
#[cfg(feature = "streams")]
pub mod event_stream;
#[cfg(any(feature = "presence", feature = "streams"))]
pub mod held;
#[cfg(feature = "machine")]
pub mod machine;
#[cfg(feature = "presence")]
pub mod presence;
#[cfg(feature = "streams")]
pub mod sse_transport;

#[cfg(feature = "streams")]
pub mod transport_choice;

/// The allocator of the wasm build: rlsf's TLSF (constant time to allocate and free, free neighbours merged) in
/// place of the standard library's dlmalloc, which is larger in the module a page downloads, and of talc, which was
/// 0.1 KB larger in every entry (README, Size). Single-threaded wasm only (no `atomics`), which is what
/// `wasm32-unknown-unknown` builds; native builds and tests keep the system allocator. No `unsafe`: the
/// constructor is safe.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: rlsf::GlobalTlsf<MergedPools> = rlsf::GlobalTlsf::new();

/// rlsf's options for this module. Its pools stay merged (the default): the module's memory only grows at its end,
/// so each new piece extends the last pool and one large allocation can use all of it, as a presence list of
/// thousands of members needs. No reallocation in place: a growing vector moves, as with most allocators, and that
/// routine is 0.4 KB gzip of the module.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
struct MergedPools;

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
impl rlsf::GlobalTlsfOptions for MergedPools {
    const ENABLE_REALLOCATION: bool = false;
}
