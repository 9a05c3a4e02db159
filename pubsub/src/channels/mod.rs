//! The built-in channels, and the router the relay serves them with.

mod room;
pub mod zone;

pub use room::Room;
pub use zone::Zone;

use crate::router::Router;

/// The relay's default routes: `room:*` and `zone:*`.
pub fn builtin_router() -> Router {
    Router::new().channel("room:*", Room).channel("zone:*", Zone::default())
}
