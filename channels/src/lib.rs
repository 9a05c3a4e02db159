//! The built-in channels, and the router the relay serves them with.
//!
//! - [`Room`]: `room:*`, chat with presence, answering as the reference channel of the Phoenix transcripts does, so
//!   the same clients and test scripts work against Phoenix and against Ferrocast.
//! - [`zone`]: `zone:*`, a shared space where agents move, interact and consume resources, each event checked
//!   against the join's permission bits.
//! - [`reactor`]: `reactor:*`, workflow runs of a `ferrocast_reactor` engine, started and watched over a socket,
//!   and [`reactor::hub_notifier`], through which the engine publishes their events on the hub.
//!
//! `ferrocast-pubsub` is the engine (hub, history, presence, sessions, routing, the cluster); these channels are
//! applications of it, written against its public channel API like any user's, so pubsub depends on no channel and
//! not on the workflow engine. A new kind of channel goes here, as a module beside these, with its route in
//! [`builtin_router`].

pub mod reactor;
mod room;
pub mod zone;

pub use reactor::Reactor;
pub use room::Room;
pub use zone::Zone;

use ferrocast_pubsub::Router;
use ferrocast_reactor::engine::Engine;

/// The relay's default routes: `room:*`, `zone:*`, and `reactor:*` for `engine`'s runs.
pub fn builtin_router(engine: Engine) -> Router {
    Router::new().channel("room:*", Room).channel("zone:*", Zone::default()).channel("reactor:*", Reactor::new(engine))
}
