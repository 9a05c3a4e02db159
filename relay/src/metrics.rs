//! Counters for `GET /metrics`, in Prometheus's text format.

use ferrocast_pubsub::ClusterSnapshot;
use ferrocast_pubsub::{FanoutSnapshot, HistoryUsage};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// The relay's counters; every update is one atomic add, so no request waits for another.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) connections: AtomicU64,
    pub(crate) connections_total: AtomicU64,
    pub(crate) frames_in: AtomicU64,
    pub(crate) frames_out: AtomicU64,
    pub(crate) malformed_frames: AtomicU64,
    pub(crate) slow_consumers: AtomicU64,
    pub(crate) idle_timeouts: AtomicU64,
    pub(crate) expired_connections: AtomicU64,
    pub(crate) sse_streams_total: AtomicU64,
    pub(crate) refused_tokens: AtomicU64,
    pub(crate) refused_origins: AtomicU64,
    pub(crate) refused_connections: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) oversized_messages: AtomicU64,
}

impl Metrics {
    /// The text exposition; `joined_channels`, `history`, `fanout` and `cluster` (the link to Redis, when there is
    /// one) are read from the backend at scrape time.
    pub(crate) fn render(
        &self,
        joined_channels: u64,
        history: HistoryUsage,
        fanout: &FanoutSnapshot,
        cluster: Option<ClusterSnapshot>,
    ) -> String {
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
            "ferrocast_expired_connections_total",
            "counter",
            "Connections closed at the end of their life (a connect hook's expire_at), not extended.",
            get(&self.expired_connections),
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
        metric(
            "ferrocast_history_bytes",
            "gauge",
            "Payload bytes the histories of every topic keep together (at most --history-total-bytes).",
            history.kept_bytes,
        );
        metric(
            "ferrocast_history_full_total",
            "counter",
            "Broadcasts not kept in history because every topic's history together was full.",
            history.not_kept,
        );
        if let Some(cluster) = cluster {
            render_cluster(&mut metric, &cluster);
        }
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

/// The link to Redis: whether it is up, and every gap it met.
fn render_cluster(metric: &mut impl FnMut(&str, &str, &str, u64), cluster: &ClusterSnapshot) {
    let rows: [(&str, &str, &str, u64); 18] = [
        (
            "ferrocast_redis_connected",
            "gauge",
            "1 while the relay is linked to Redis, reading the channels of the topics it follows.",
            u64::from(cluster.connected),
        ),
        (
            "ferrocast_redis_topics_followed",
            "gauge",
            "Topics this relay follows in Redis: those its clients joined.",
            cluster.topics_followed,
        ),
        ("ferrocast_redis_disconnects_total", "counter", "Times the link to Redis was lost.", cluster.disconnects),
        (
            "ferrocast_redis_published_total",
            "counter",
            "Broadcasts of this relay numbered by Redis.",
            cluster.published,
        ),
        (
            "ferrocast_redis_publish_retries_total",
            "counter",
            "Publishes sent again because Redis did not answer (each is done once).",
            cluster.publish_retries,
        ),
        ("ferrocast_redis_queued", "gauge", "Broadcasts of this relay waiting for Redis.", cluster.queued),
        (
            "ferrocast_redis_dropped_total",
            "counter",
            "Broadcasts dropped because the queue for Redis was full.",
            cluster.dropped,
        ),
        ("ferrocast_redis_received_total", "counter", "Numbered broadcasts received from Redis.", cluster.received),
        (
            "ferrocast_redis_refilled_total",
            "counter",
            "Broadcasts missed on the channel and read back from their streams.",
            cluster.refilled,
        ),
        (
            "ferrocast_redis_lost_total",
            "counter",
            "Broadcasts missed on the channel and no longer in their streams.",
            cluster.lost,
        ),
        (
            "ferrocast_redis_history_resets_total",
            "counter",
            "Topics whose shared history started again under a new epoch (Redis lost or expired it).",
            cluster.history_resets,
        ),
        (
            "ferrocast_redis_rewound_total",
            "counter",
            "Topics Redis came back without broadcasts this relay had seen, whose series it started again.",
            cluster.rewound,
        ),
        (
            "ferrocast_loss_notices_total",
            "counter",
            "Subscribers told that broadcasts they followed were lost for good (channels rejoin, recovered: false).",
            cluster.loss_notices,
        ),
        (
            "ferrocast_redis_malformed_total",
            "counter",
            "Messages from Redis not of Ferrocast's form.",
            cluster.malformed,
        ),
        ("ferrocast_cluster_peers", "gauge", "Other relays whose presence this one holds.", cluster.peers),
        (
            "ferrocast_cluster_peers_expired_total",
            "counter",
            "Other relays that went silent, whose members were removed.",
            cluster.peers_expired,
        ),
        (
            "ferrocast_cluster_presence_resent_total",
            "counter",
            "Presence changes sent again to a relay that missed them.",
            cluster.presence_resent,
        ),
        (
            "ferrocast_cluster_presence_states_total",
            "counter",
            "Times all of this relay's presence was sent, to a relay that missed more changes than are kept.",
            cluster.presence_states,
        ),
    ];
    for (name, kind, help, value) in rows {
        metric(name, kind, help, value);
    }
}
