//! How long broadcasts take to reach every subscriber's queue, as a histogram the relay exports.
//!
//! The hub times every broadcast (from HTTP, from a channel, or a presence diff) in one place, so the figure
//! covers all of them. Recording is three relaxed atomic adds (the one bucket the time falls in, the count, the
//! sum), so publishers on different cores barely touch shared cache lines; the cumulative counts Prometheus wants
//! are summed when scraped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds: 10 µs to 1 s.
pub(crate) const FANOUT_BUCKETS: [f64; 10] = [0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 1.0];

/// A histogram of fanout times.
#[derive(Debug, Default)]
pub struct FanoutTiming {
    /// Broadcasts per bucket alone (above the previous bound, at most this one); the last slot is above 1 s.
    buckets: [AtomicU64; FANOUT_BUCKETS.len() + 1],
    count: AtomicU64,
    nanos: AtomicU64,
}

/// What a [`FanoutTiming`] holds at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct FanoutSnapshot {
    /// For each bucket's upper bound (10 µs to 1 s), how many broadcasts took at most that long.
    pub buckets: Vec<(f64, u64)>,
    /// How many broadcasts were timed.
    pub count: u64,
    /// Their total time, in seconds.
    pub sum_seconds: f64,
}

impl FanoutTiming {
    /// Records one broadcast.
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = FANOUT_BUCKETS.iter().position(|bound| seconds <= *bound).unwrap_or(FANOUT_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.nanos.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The counts so far, cumulative per bound.
    pub fn snapshot(&self) -> FanoutSnapshot {
        let mut at_most = 0;
        let buckets = FANOUT_BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(|(bound, bucket)| {
                at_most += bucket.load(Ordering::Relaxed);
                (*bound, at_most)
            })
            .collect();
        FanoutSnapshot {
            buckets,
            count: self.count.load(Ordering::Relaxed),
            sum_seconds: self.nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative() {
        let timing = FanoutTiming::default();
        timing.observe(Duration::from_micros(3));
        timing.observe(Duration::from_micros(700));
        timing.observe(Duration::from_secs(2));
        let snapshot = timing.snapshot();
        assert_eq!(snapshot.count, 3);
        assert_eq!(snapshot.buckets[0], (0.000_01, 1));
        assert_eq!(snapshot.buckets[4], (0.001, 2));
        assert_eq!(snapshot.buckets[9], (1.0, 2), "2 s is above every bound, counted only in +Inf");
        assert!((snapshot.sum_seconds - 2.000_703).abs() < 1e-9);
    }
}
