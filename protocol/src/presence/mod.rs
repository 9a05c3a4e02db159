//! Who is on a topic, merged from `presence_state` and `presence_diff` frames exactly as phoenix.js 1.7 does.
//!
//! Phoenix tracks presences as a map from a key (usually a user id) to an entry whose `metas` list holds one meta
//! per connection, each tagged with a unique `phx_ref`. The server sends the whole map once after a join
//! (`presence_state`) and then only changes (`presence_diff`). This module merges both into a [`State`] and
//! reports, in the order phoenix.js would call its `onJoin`, `onLeave` and `onSync` callbacks, what happened.
//!
//! The module is sans-IO and never calls back into application code: [`sync_state`], [`sync_diff`] and the
//! [`Presence`] tracker return the events instead, so a caller holding a borrow (or living across a wasm
//! boundary) can dispatch them when it is ready. Their `_into` forms hand each change to a [`Changes`] of the
//! caller's as it is made, borrowing what the map keeps: the browser client writes its records from there.
//!
//! The payload values are opaque: everything is generic over `V`, the type the application uses for a meta
//! object and for an entry's extra fields. With the `json` feature, [`State::from_json`] and [`Diff::from_json`]
//! parse the wire format into `V = serde_json::Value`; the browser build instead parses with the browser and
//! builds these types itself.
//!
//! Keys are ordered as a JavaScript object orders its properties (see [`State::list`]), because that is the
//! order in which phoenix.js visits them and therefore the order of its callbacks.

mod error;
#[cfg(feature = "json")]
mod json;
mod keys;
mod order;
mod sync;
mod tracker;
mod types;

pub use error::PresenceError;
pub use order::is_array_index;
pub use sync::{Changes, sync_diff, sync_diff_into, sync_state, sync_state_into};
pub use tracker::{Presence, PresenceEvent};
pub use types::{Change, Diff, Entry, Meta, State};
