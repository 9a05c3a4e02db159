//! The built-in channels, and the router the relay serves them with.

mod room;

pub use room::Room;

use crate::router::Router;

/// The relay's default routes: `room:*`.
pub fn builtin_router() -> Router {
    Router::new().channel("room:*", Room)
}
