//! The engine's one clock: the milliseconds the core is told, the timers that wake runs, and the wall-clock times
//! that events carry.
//!
//! Runs are told milliseconds since the engine started, from tokio's monotonic clock (so tests can pause and
//! advance it); events and status pages show Unix milliseconds, the engine's start plus that offset.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin: Instant,
    unix_origin_ms: u64,
}

impl Clock {
    pub(crate) fn start() -> Self {
        let unix_origin_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64);
        Clock { origin: Instant::now(), unix_origin_ms }
    }

    /// Milliseconds since the engine started: the `now` runs are told.
    pub(crate) fn now(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    /// When a run's time `at` comes, for a timer.
    pub(crate) fn instant(&self, at: u64) -> Instant {
        self.origin + Duration::from_millis(at)
    }

    /// A run's time `at` as Unix milliseconds.
    pub(crate) fn unix_ms(&self, at: u64) -> u64 {
        self.unix_origin_ms + at
    }
}
