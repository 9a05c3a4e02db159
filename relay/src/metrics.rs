//! Counters for `GET /metrics`, in Prometheus's text format.

use ferrocast_pubsub::FanoutSnapshot;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

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
    pub(crate) sse_streams_total: AtomicU64,
    pub(crate) refused_tokens: AtomicU64,
    pub(crate) refused_origins: AtomicU64,
    pub(crate) refused_connections: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) oversized_messages: AtomicU64,
}

impl Metrics {
    /// The text exposition; `joined_channels` and `fanout` are read from the backend at scrape time.
    pub(crate) fn render(&self, joined_channels: u64, fanout: &FanoutSnapshot) -> String {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        metric(
            "ferrocast_connections",
            "gauge",
            "Open WebSocket connections and event streams.",
            get(&self.connections),
        );
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
        metric(
            "ferrocast_sse_streams_total",
            "counter",
            "Server-sent event streams opened (open ones count among the connections).",
            get(&self.sse_streams_total),
        );
        metric(
            "ferrocast_refused_tokens_total",
            "counter",
            "Requests refused for a missing, expired, forged or malformed token.",
            get(&self.refused_tokens),
        );
        metric(
            "ferrocast_refused_origins_total",
            "counter",
            "Requests refused for a page origin not allowed.",
            get(&self.refused_origins),
        );
        metric(
            "ferrocast_refused_connections_total",
            "counter",
            "Connections refused at the connection limit.",
            get(&self.refused_connections),
        );
        metric(
            "ferrocast_rate_limited_total",
            "counter",
            "Connections closed for sending over their rate limit after being refused.",
            get(&self.rate_limited),
        );
        metric(
            "ferrocast_oversized_messages_total",
            "counter",
            "Connections closed for a message over the size limit (1009).",
            get(&self.oversized_messages),
        );
        let name = "ferrocast_broadcast_fanout_seconds";
        let help = "Time to hand a broadcast (HTTP, channel or presence) to every subscriber's queue.";
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, count) in &fanout.buckets {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", fanout.count);
        let _ = writeln!(out, "{name}_sum {}", fanout.sum_seconds);
        let _ = writeln!(out, "{name}_count {}", fanout.count);
        out
    }
}
