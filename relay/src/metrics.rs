//! Counters for `GET /metrics`, in Prometheus's text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the fanout latency histogram's buckets, in seconds.
const FANOUT_BUCKETS: [f64; 10] = [0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 1.0];

/// The relay's counters; every update is one atomic add, so no request waits for another.
#[derive(Debug, Default)]
pub struct Metrics {
    pub(crate) connections: AtomicU64,
    pub(crate) connections_total: AtomicU64,
    pub(crate) frames_in: AtomicU64,
    pub(crate) frames_out: AtomicU64,
    pub(crate) malformed_frames: AtomicU64,
    pub(crate) slow_consumers: AtomicU64,
    pub(crate) idle_timeouts: AtomicU64,
    fanout_buckets: [AtomicU64; FANOUT_BUCKETS.len()],
    fanout_count: AtomicU64,
    fanout_micros: AtomicU64,
}

impl Metrics {
    /// Records how long one broadcast took to reach every subscriber's queue.
    pub(crate) fn observe_fanout(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        for (bound, bucket) in FANOUT_BUCKETS.iter().zip(&self.fanout_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.fanout_count.fetch_add(1, Ordering::Relaxed);
        self.fanout_micros.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    /// The text exposition; `joined_channels` is read from the sessions at scrape time.
    pub(crate) fn render(&self, joined_channels: u64) -> String {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        metric("ferrocast_connections", "gauge", "Open WebSocket connections.", get(&self.connections));
        metric(
            "ferrocast_connections_total",
            "counter",
            "WebSocket connections accepted.",
            get(&self.connections_total),
        );
        metric("ferrocast_joined_channels", "gauge", "Channels joined over all connections.", joined_channels);
        metric("ferrocast_frames_in_total", "counter", "Frames received from clients.", get(&self.frames_in));
        metric("ferrocast_frames_out_total", "counter", "Frames written to clients.", get(&self.frames_out));
        metric(
            "ferrocast_malformed_frames_total",
            "counter",
            "Connections closed for a malformed frame.",
            get(&self.malformed_frames),
        );
        metric(
            "ferrocast_slow_consumers_total",
            "counter",
            "Connections closed for not keeping up.",
            get(&self.slow_consumers),
        );
        metric(
            "ferrocast_idle_timeouts_total",
            "counter",
            "Connections closed for sending nothing.",
            get(&self.idle_timeouts),
        );
        let name = "ferrocast_broadcast_fanout_seconds";
        let _ =
            writeln!(out, "# HELP {name} Time to hand an HTTP broadcast to every subscriber.\n# TYPE {name} histogram");
        for (bound, bucket) in FANOUT_BUCKETS.iter().zip(&self.fanout_buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", get(bucket));
        }
        let count = get(&self.fanout_count);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", get(&self.fanout_micros) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
        out
    }
}
