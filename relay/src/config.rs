//! The relay's settings, with their defaults.

mod origins;

pub use origins::AllowedOrigins;

use ferrocast_hooks::Hooks;
use ferrocast_hooks::webhooks::WebhookSettings;
use ferrocast_pubsub::ClusterSettings;
use ferrocast_pubsub::TokenVerifier;
use ferrocast_pubsub::{HistoryLimits, OutboxLimits, SessionLimits};
use ferrocast_reactor::demo;
use ferrocast_reactor::engine::{Catalog, EngineLimits};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How the relay runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Static files to serve at `/` (the demo), if any.
    pub www: Option<PathBuf>,
    /// The browser client's no-bundler build, served at `/ferrocast/`, if any.
    pub client_dir: Option<PathBuf>,
    /// A socket that sends nothing for this long is closed with 1002, as Phoenix (Bandit) does. Default 60 s.
    pub idle_timeout: Duration,
    /// How long presence changes gather before one `presence_diff` goes out. Default 50 ms.
    pub presence_window: Duration,
    /// Bounds of each connection's outbound queue; a connection that fills it is closed as a slow consumer.
    pub outbox: OutboxLimits,
    /// How much history each topic keeps for clients that come back. Default 1,000 broadcasts, 1 MiB, 5 minutes.
    pub history: HistoryLimits,
    /// The WebSocket read buffer per connection, the largest part of an idle connection's memory. Default 2 KiB:
    /// what clients send is mostly small frames, and a larger one is simply read in several reads. Measured per idle
    /// joined connection (BENCHMARKS.md): axum's default (128 KiB) costs ~135 KiB, 4 KiB ~8.5 KiB, 2 KiB ~6.5 KiB.
    pub read_buffer: usize,
    /// The largest WebSocket message accepted. Default 1 MiB.
    pub max_message: usize,
    /// How many sockets close at a time when shutting down, so clients do not all reconnect at once.
    pub shutdown_batch: usize,
    /// How long the relay keeps serving once asked to stop, with `GET /healthz` answering 503, so that a load
    /// balancer's health checks take it out of rotation before its sockets close. Default 0.
    pub shutdown_drain: Duration,
    /// Server-sent event streams: keep-alive interval, topics per stream, reconnection time.
    pub sse: SseLimits,
    /// Checks connection tokens; `None` is dev mode, where every connection is anonymous and may do anything.
    pub tokens: Option<Arc<TokenVerifier>>,
    /// The pages allowed to open sockets and read streams, besides the relay's own host.
    pub origins: AllowedOrigins,
    /// The most connections (sockets and event streams) open at once; more are refused with 503. Default 100,000.
    pub max_connections: usize,
    /// Channels per connection and the rate limit on what a connection sends.
    pub limits: SessionLimits,
    /// The workflows `reactor:*` and the workflow API start, with their actions. Default: the demo simulations.
    pub workflows: Catalog,
    /// Workflow runs: how many run at once, and how many finished ones keep their status.
    pub runs: EngineLimits,
    /// The Redis this relay shares its topics, history and presence through with other relays; `None` keeps them
    /// in this process only (the default).
    pub cluster: Option<ClusterSettings>,
    /// The application's backend hooks (`--proxy-*`): who may connect and join, and the pushes of its topics.
    pub hooks: Option<Arc<Hooks>>,
    /// Webhooks out (`--webhook*`): none without endpoints.
    pub webhooks: WebhookSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            www: None,
            client_dir: None,
            idle_timeout: Duration::from_secs(60),
            presence_window: Duration::from_millis(50),
            outbox: OutboxLimits::default(),
            history: HistoryLimits::default(),
            read_buffer: 2 * 1024,
            max_message: 1 << 20,
            shutdown_batch: 500,
            shutdown_drain: Duration::ZERO,
            sse: SseLimits::default(),
            tokens: None,
            origins: AllowedOrigins::new(&[], true).unwrap_or_default(),
            max_connections: 100_000,
            limits: SessionLimits::default(),
            workflows: demo::catalog(),
            runs: EngineLimits::default(),
            cluster: None,
            hooks: None,
            webhooks: WebhookSettings::default(),
        }
    }
}

/// The keep-alive interval, topic limit and reconnection time of event streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseLimits {
    /// A comment goes out when a stream has been quiet this long. Default 15 s.
    pub keep_alive: Duration,
    /// The most topics one stream reads. Default 16.
    pub max_topics: usize,
    /// The reconnection time sent in `retry`, to which each stream adds up to half again at random. Default 2 s.
    pub retry: Duration,
}

impl Default for SseLimits {
    fn default() -> Self {
        SseLimits { keep_alive: Duration::from_secs(15), max_topics: 16, retry: Duration::from_secs(2) }
    }
}
