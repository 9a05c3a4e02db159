//! The `ferrocast` package owns the workspace's cross-crate tests (`tests/`) and benchmarks (`benches/`).
//!
//! Its library only re-exports `ferrocast-protocol`; the tests and benchmarks name the workspace crates they use
//! (this package's dependencies) directly.

pub use ferrocast_protocol as protocol;
