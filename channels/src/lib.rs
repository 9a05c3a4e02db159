//! The built-in channels, and the router the relay serves them with.

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
