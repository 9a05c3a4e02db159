//! The `ferrocast` package owns the workspace's cross-crate tests (`tests/`) and benchmarks (`benches/`).
//!
//! It re-exports the workspace crates so a test can reach all of them through one dependency.

pub use ferrocast_protocol as protocol;
