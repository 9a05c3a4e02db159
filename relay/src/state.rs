//! What every request and connection of one relay shares: the backend (hub, presence, the built-in channels'
//! router), the queue the HTTP API's broadcasts are fanned out from, the workflow engine publishing through the
//! hub, the link to Redis with `--pubsub redis://…`, the counters, the event-stream sockets by token, and the
//! graceful shutdown, which fans out what was accepted, closes connections with 1001 in batches, then leaves the
//! cluster.

use crate::config::Config;
use crate::metrics::Metrics;
use ferrocast_channels::builtin_router;
use ferrocast_channels::reactor::hub_notifier;
use ferrocast_hooks::webhooks::{RedisQueue, Webhooks};
use ferrocast_pubsub::{Backend, BroadcastQueue, Hub, PresenceHub, QUEUED_BYTES, QUEUED_REQUESTS};
use ferrocast_pubsub::{Cluster, ClusterError, ClusterSettings, Journal};
use ferrocast_reactor::engine::Engine;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// How far apart shutdown batches close.
const SHUTDOWN_BATCH_GAP: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub(crate) struct Relay {
    pub(crate) config: Config,
    pub(crate) backend: Arc<Backend>,
    /// The broadcasts of `POST /api/broadcast`, answered once queued here and fanned out on a thread of their own.
    pub(crate) fanout: BroadcastQueue,
    /// Runs the workflows of the `reactor:*` channel and the workflow API, publishing through the hub.
    pub(crate) engine: Engine,
    /// The link to the other relays, when they share a Redis.
    pub(crate) cluster: Option<Cluster>,
    pub(crate) metrics: Metrics,
    /// Webhooks out, the hub's tap, when endpoints are configured.
    pub(crate) webhooks: Option<Arc<Webhooks>>,
    /// Sockets over server-sent events, by token.
    pub(crate) sse_sessions: Arc<crate::sse_sessions::SseSessions>,
    joined_channels: AtomicI64,
    /// `Some(n)` once shutting down, `n` being how many connections were open then (to size the batches).
    shutdown: watch::Sender<Option<u64>>,
    all_closed: Notify,
    /// Set once the relay is asked to stop: `GET /healthz` answers 503 from then on.
    draining: AtomicBool,
}

impl Relay {
    /// The relay's shared state; with a cluster, its hub and presence are routed through Redis from the start.
    /// Fails for cluster settings that cannot work (`InvalidInput`), or when the fanout thread cannot start.
    pub(crate) fn new(config: Config) -> std::io::Result<Arc<Self>> {
        let hub = Arc::new(Hub::with_history(config.history));
        hub.spawn_sweeper();
        let fanout = BroadcastQueue::start(hub.clone(), QUEUED_REQUESTS, QUEUED_BYTES)?;
        let presence = PresenceHub::new(hub.clone(), config.presence_window);
        let has_webhooks = !config.webhooks.endpoints.is_empty();
        let cluster = match &config.cluster {
            Some(settings) => {
                // The broadcasts the webhooks want go into the journal with their publish (the queue on Redis).
                let webhooks = config.webhooks.clone();
                let journal = has_webhooks.then(|| Journal::new(move |topic| webhooks.journals(topic)));
                let settings = ClusterSettings { journal, ..settings.clone() };
                Some(
                    Cluster::start(settings, &hub, &presence)
                        .map_err(|error: ClusterError| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?,
                )
            }
            None => None,
        };
        let webhooks = match has_webhooks {
            false => None,
            true => {
                let on_redis = config.cluster.as_ref().zip(cluster.as_ref()).map(|(settings, cluster)| RedisQueue {
                    url: settings.url.clone(),
                    relay: cluster.relay_id().to_owned(),
                    ca: settings.ca.clone(),
                });
                let webhooks = Webhooks::start(config.webhooks.clone(), on_redis)
                    .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
                hub.tap_with(webhooks.clone());
                Some(webhooks)
            }
        };
        let engine = Engine::new(config.workflows.clone(), hub_notifier(hub.clone()), config.runs);
        let router = builtin_router(engine.clone());
        // The backend's topics before the built-in channels: a hook pattern wins over a channel route.
        let router = match &config.hooks {
            Some(hooks) => hooks.routes(router),
            None => router,
        };
        let backend = Arc::new(Backend { limits: config.limits, ..Backend::new(hub, presence, router) });
        backend.receipts.spawn_sweeper();
        Ok(Arc::new(Relay {
            config,
            backend,
            fanout,
            engine,
            cluster,
            webhooks,
            metrics: Metrics::default(),
            sse_sessions: Arc::default(),
            joined_channels: AtomicI64::new(0),
            shutdown: watch::channel(None).0,
            all_closed: Notify::new(),
            draining: AtomicBool::new(false),
        }))
    }

    /// Whether another connection would pass the connection limit.
    pub(crate) fn at_connection_limit(&self) -> bool {
        let full = self.metrics.connections.load(Ordering::Relaxed) >= self.config.max_connections as u64;
        if full {
            self.metrics.refused_connections.fetch_add(1, Ordering::Relaxed);
        }
        full
    }

    /// Counts a connection until the returned guard drops.
    pub(crate) fn open_connection(self: &Arc<Self>) -> OpenConnection {
        self.metrics.connections.fetch_add(1, Ordering::Relaxed);
        self.metrics.connections_total.fetch_add(1, Ordering::Relaxed);
        OpenConnection { relay: Arc::clone(self) }
    }

    pub(crate) fn joined_channels_changed(&self, delta: i64) {
        self.joined_channels.fetch_add(delta, Ordering::Relaxed);
    }

    pub(crate) fn joined_channels(&self) -> u64 {
        self.joined_channels.load(Ordering::Relaxed).max(0) as u64
    }

    pub(crate) fn shutting_down(&self) -> bool {
        self.shutdown.borrow().is_some()
    }

    pub(crate) fn shutdown_signal(&self) -> ShutdownSignal {
        ShutdownSignal { receiver: self.shutdown.subscribe(), batch: self.config.shutdown_batch.max(1) }
    }

    /// Whether the relay has been asked to stop (it may still serve, draining).
    pub(crate) fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Fails the health check, then keeps serving for `--shutdown-drain-ms`, so a load balancer sends the relay
    /// no new connections by the time it closes its sockets.
    pub(crate) async fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
        let drain = self.config.shutdown_drain;
        if !drain.is_zero() {
            tracing::info!(?drain, "asked to stop: failing the health check while still serving");
            tokio::time::sleep(drain).await;
        }
    }

    /// Fans out the broadcasts already accepted, then tells every connection to close, in batches, and waits until
    /// they have.
    pub(crate) async fn shut_down(&self) {
        // Accepted means delivered to whoever is connected: the sockets close after their queues are written.
        let _ = self.fanout.fanned_out().await;
        let open = self.metrics.connections.load(Ordering::Relaxed);
        tracing::info!(open, "shutting down: closing sockets with 1001 in batches");
        let closed = self.all_closed.notified();
        self.shutdown.send_replace(Some(open));
        if self.metrics.connections.load(Ordering::Relaxed) > 0 {
            closed.await;
        }
        if let Some(webhooks) = &self.webhooks {
            webhooks.leave().await;
        }
        if let Some(cluster) = &self.cluster {
            cluster.leave().await;
        }
    }
}

/// Keeps a connection counted.
#[derive(Debug)]
pub(crate) struct OpenConnection {
    relay: Arc<Relay>,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        if self.relay.metrics.connections.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.relay.all_closed.notify_waiters();
        }
    }
}

/// A connection's view of the shutdown.
#[derive(Debug)]
pub(crate) struct ShutdownSignal {
    receiver: watch::Receiver<Option<u64>>,
    batch: usize,
}

impl ShutdownSignal {
    /// Completes when it is this connection's turn to close: connections are spread over batches of about
    /// `shutdown_batch`, `SHUTDOWN_BATCH_GAP` apart, so their clients do not all reconnect in the same instant.
    pub(crate) async fn wait_turn(&mut self, conn: u64) {
        // The value is copied out at once: the watch guard must not live across an await.
        let open = self.receiver.wait_for(Option::is_some).await.map(|open| open.unwrap_or(1).max(1));
        let Ok(open) = open else { return std::future::pending().await };
        let batches = open.div_ceil(self.batch as u64);
        tokio::time::sleep(SHUTDOWN_BATCH_GAP * (conn % batches) as u32).await;
    }
}
