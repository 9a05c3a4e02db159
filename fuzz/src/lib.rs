//! What Ferrocast's fuzz targets share with each other and with the seed generator (`examples/make_seeds.rs`).
//!
//! - [`round_trip`]: the property every decoder target checks: a frame that decodes re-encodes, and the
//!   re-encoding decodes to the same frame.
//! - [`chunks`]: cutting one input into the chunks a network might deliver, for the event-stream reader.
//! - [`script`]: the input format of the `session` target, a few connections' client frames in order.

pub mod chunks;
pub mod round_trip;
pub mod script;
