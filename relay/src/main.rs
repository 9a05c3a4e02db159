//! `ferrocast-relay`: run the relay.

mod config_file;

use clap::Parser;
use config_file::ConfigFile;
use ferrocast_hooks::webhooks::WebhookSettings;
use ferrocast_hooks::{HookSettings, Hooks, pattern_and_url};
use ferrocast_pubsub::ClusterSettings;
use ferrocast_pubsub::TokenVerifier;
use ferrocast_pubsub::{HistoryLimits, OutboxLimits, SessionLimits};
use ferrocast_reactor::engine::EngineLimits;
use ferrocast_relay::{AllowedOrigins, Config, SseLimits};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The relay's allocator. glibc's malloc kept what a join storm allocated and freed: states of 10,000 members are
/// ~750 KB each, and once freed they stayed in its arenas (320 KiB a member once a 10,000-member storm settled,
/// against 13.4 with jemalloc). jemalloc returns freed pages to the system: built with a background thread and a
/// 1 s decay (`.cargo/config.toml`), within about a second, even while the relay is idle.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The Ferrocast relay: Phoenix Channels over WebSocket, and an HTTP API, for the front end beside it.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "FERROCAST_LISTEN", default_value = "127.0.0.1:4000")]
    listen: SocketAddr,
    /// Also serve what backends call (POST /api/broadcast, history, presence, /healthz, /metrics) on this address,
    /// from a thread of its own: their answers never wait behind the sockets' work. Keep it off the public network.
    #[arg(long, env = "FERROCAST_API_LISTEN")]
    api_listen: Option<SocketAddr>,
    /// Directory of static files to serve at / (the demo).
    #[arg(long, env = "FERROCAST_WWW")]
    www: Option<PathBuf>,
    /// Directory of the browser client's no-bundler build (`client/pkg/web`), served at /ferrocast/ so a page can
    /// `import init, { Socket } from "/ferrocast/ferrocast_client.js"`.
    #[arg(long, env = "FERROCAST_CLIENT_DIR")]
    client_dir: Option<PathBuf>,
    /// Close sockets that send nothing for this many seconds.
    #[arg(long, env = "FERROCAST_IDLE_TIMEOUT", default_value_t = 60)]
    idle_timeout: u64,
    /// Gather presence changes for this many milliseconds before broadcasting one diff.
    #[arg(long, env = "FERROCAST_PRESENCE_WINDOW_MS", default_value_t = 50)]
    presence_window_ms: u64,
    /// Broadcasts each topic keeps for clients that reconnect (0 keeps none).
    #[arg(long, env = "FERROCAST_HISTORY_SIZE", default_value_t = 1000)]
    history_size: usize,
    /// Payload bytes each topic's history keeps at most.
    #[arg(long, env = "FERROCAST_HISTORY_BYTES", default_value_t = 1 << 20)]
    history_bytes: usize,
    /// Seconds a broadcast stays in its topic's history.
    #[arg(long, env = "FERROCAST_HISTORY_TTL", default_value_t = 300)]
    history_ttl: u64,
    /// Payload bytes the histories of every topic keep together at most.
    #[arg(long, env = "FERROCAST_HISTORY_TOTAL_BYTES", default_value_t = HistoryLimits::default().max_total_bytes)]
    history_total_bytes: usize,
    /// Frames that may wait for one connection before it is closed as a slow consumer (1013).
    #[arg(long, env = "FERROCAST_OUTBOX_FRAMES", default_value_t = OutboxLimits::default().max_frames)]
    outbox_frames: usize,
    /// Bytes of frames that may wait for one connection before it is closed as a slow consumer (1013).
    #[arg(long, env = "FERROCAST_OUTBOX_BYTES", default_value_t = OutboxLimits::default().max_bytes)]
    outbox_bytes: usize,
    /// Seconds an event stream (GET /sse) may be quiet before a keep-alive comment goes out.
    #[arg(long, env = "FERROCAST_SSE_KEEPALIVE", default_value_t = 15)]
    sse_keepalive: u64,
    /// The most topics one event stream may read.
    #[arg(long, env = "FERROCAST_SSE_MAX_TOPICS", default_value_t = 16)]
    sse_max_topics: usize,
    /// Milliseconds an event stream's reader waits before reconnecting (`retry:`; each stream adds up to half again
    /// at random).
    #[arg(long, env = "FERROCAST_SSE_RETRY_MS", default_value_t = 2000)]
    sse_retry_ms: u64,
    /// The secret connection tokens (JWTs) are signed with, HS256. Without a secret or a key the relay runs in dev
    /// mode: every connection is anonymous and may do anything.
    #[arg(long, env = "FERROCAST_JWT_SECRET", hide_env_values = true, conflicts_with = "jwt_public_key")]
    jwt_secret: Option<String>,
    /// A PEM file with the public key connection tokens are signed for: RS256 (RSA) or ES256 (P-256).
    #[arg(long, env = "FERROCAST_JWT_PUBLIC_KEY")]
    jwt_public_key: Option<PathBuf>,
    /// Run in dev mode on a non-loopback address (no secret or key: anyone may connect and do anything).
    #[arg(long, env = "FERROCAST_DEV")]
    dev: bool,
    /// Pages that may open sockets and read streams, besides the relay's own host: `*`, an origin
    /// (`https://app.example.com`) or `//host` (any scheme and port; `//*.example.com` for subdomains). Repeat
    /// it, or separate with commas. In dev mode, pages on loopback hosts are allowed too.
    #[arg(long, env = "FERROCAST_ALLOW_ORIGIN", value_delimiter = ',')]
    allow_origin: Vec<String>,
    /// The most sockets and event streams open at once; more get 503.
    #[arg(long, env = "FERROCAST_MAX_CONNECTIONS", default_value_t = 100_000)]
    max_connections: usize,
    /// The most channels one socket may join; a join past it gets the error `too many channels`.
    #[arg(long, env = "FERROCAST_MAX_CHANNELS", default_value_t = SessionLimits::default().max_channels)]
    max_channels: usize,
    /// Frames a second one connection may send on average; the excess gets the reply error `rate_limited`, and a
    /// connection that keeps on is closed (1008).
    #[arg(long, env = "FERROCAST_RATE_LIMIT", default_value_t = SessionLimits::default().frames_per_second)]
    rate_limit: u32,
    /// Frames a connection may send at once above the average rate.
    #[arg(long, env = "FERROCAST_RATE_BURST", default_value_t = SessionLimits::default().burst)]
    rate_burst: u32,
    /// The largest message a client may send, in bytes; a larger one closes the socket with 1009.
    #[arg(long, env = "FERROCAST_MAX_MESSAGE_BYTES", default_value_t = Config::default().max_message)]
    max_message_bytes: usize,
    /// The most workflow runs running at once (started over `reactor:*` or `POST /api/workflows/{name}/runs`);
    /// another start is refused (`too many runs`, HTTP 429).
    #[arg(long, env = "FERROCAST_MAX_RUNS", default_value_t = EngineLimits::default().max_running)]
    max_runs: usize,
    /// Where topics, history and presence live: `memory` (this relay only) or `redis://host:port`, shared by every
    /// relay given the same Redis; or `redis+sentinel://host:port[,host:port…]/MASTER`, the master Redis Sentinels
    /// name, found again after a failover; or `redis+cluster://host:port[,host:port…]`, a Redis Cluster (7 or
    /// later), each topic on the master of its hash slot, over sharded pub/sub (not with --webhook). `rediss…`
    /// for TLS.
    #[arg(long, env = "FERROCAST_PUBSUB", default_value = "memory")]
    pubsub: String,
    /// With `rediss://` (or `rediss+sentinel://`, `rediss+cluster://`): a PEM file of the CA the Redis servers'
    /// certificates must chain to (a private Redis's own CA); without it, the system's roots.
    #[arg(long, env = "FERROCAST_REDIS_CA")]
    redis_ca: Option<PathBuf>,
    /// With Redis: milliseconds between this relay's heartbeats to the others.
    #[arg(long, env = "FERROCAST_PRESENCE_HEARTBEAT_MS", default_value_t = 1000)]
    presence_heartbeat_ms: u64,
    /// With Redis: milliseconds of silence after which another relay's members leave.
    #[arg(long, env = "FERROCAST_PRESENCE_TIMEOUT_MS", default_value_t = 5000)]
    presence_timeout_ms: u64,
    /// Milliseconds the relay keeps serving after SIGTERM, answering GET /healthz with 503, so a load balancer
    /// stops sending it connections before it closes them (behind HAProxy checking every second: 3000).
    #[arg(long, env = "FERROCAST_SHUTDOWN_DRAIN_MS", default_value_t = 0)]
    shutdown_drain_ms: u64,
    /// With Redis: broadcasts that may wait for Redis while it is away; more are dropped and counted.
    #[arg(long, env = "FERROCAST_REDIS_QUEUE", default_value_t = 100_000)]
    redis_queue: usize,
    /// Ask this URL whether a socket without an accepted token may connect, and who it is (README, "Backend
    /// hooks").
    #[arg(long, env = "FERROCAST_PROXY_CONNECT")]
    proxy_connect: Option<String>,
    /// PATTERN=URL: ask URL whether a socket may join a topic matching PATTERN (`app:*`). Repeat it, or separate
    /// with commas; the first matching pattern wins, over the built-in channels too.
    #[arg(long, env = "FERROCAST_PROXY_JOIN", value_delimiter = ',')]
    proxy_join: Vec<String>,
    /// PATTERN=URL: hand URL the pushes on topics matching PATTERN, and reply with its answers. Repeatable.
    #[arg(long, env = "FERROCAST_PROXY_PUSH", value_delimiter = ',')]
    proxy_push: Vec<String>,
    /// Ask this URL to extend a connection before its `expire_at`; without it, the connection closes then (3005).
    #[arg(long, env = "FERROCAST_PROXY_REFRESH")]
    proxy_refresh: Option<String>,
    /// Seconds a hook may take to answer, connecting included; later is `backend_timeout`.
    #[arg(long, env = "FERROCAST_PROXY_TIMEOUT", default_value_t = 5.0)]
    proxy_timeout: f64,
    /// Sign every hook request with this secret (`X-Ferrocast-Signature`, HMAC-SHA256).
    #[arg(long, env = "FERROCAST_PROXY_SECRET", hide_env_values = true)]
    proxy_secret: Option<String>,
    /// A request header of the client's connect request to pass on to every hook (Cookie, Authorization).
    /// Repeatable; X-Request-Id always is.
    #[arg(long, env = "FERROCAST_PROXY_HEADER", value_delimiter = ',')]
    proxy_header: Vec<String>,
    /// NAME=URL: send events to this webhook endpoint (README, "Webhooks"). Repeat it for several.
    #[arg(long, env = "FERROCAST_WEBHOOK", value_delimiter = ' ')]
    webhook: Vec<String>,
    /// NAME=whsec_…: the endpoint's Standard Webhooks secret (required).
    #[arg(long, env = "FERROCAST_WEBHOOK_SECRET", value_delimiter = ' ', hide_env_values = true)]
    webhook_secret: Vec<String>,
    /// NAME=KIND,KIND: the kinds the endpoint is sent (broadcast, channel.occupied, channel.vacated, presence.join,
    /// presence.leave, run.*); all without it.
    #[arg(long, env = "FERROCAST_WEBHOOK_EVENTS", value_delimiter = ' ')]
    webhook_events: Vec<String>,
    /// NAME=PATTERN,PATTERN: the topics the endpoint is sent events of; all without it.
    #[arg(long, env = "FERROCAST_WEBHOOK_TOPICS", value_delimiter = ' ')]
    webhook_topics: Vec<String>,
    /// Events that may wait per endpoint; past it the oldest go to the dead letters. [default: 10000]
    #[arg(long, env = "FERROCAST_WEBHOOK_QUEUE")]
    webhook_queue: Option<usize>,
    /// Seconds a batch is retried before it goes to the dead letters. [default: 86400]
    #[arg(long, env = "FERROCAST_WEBHOOK_MAX_AGE")]
    webhook_max_age: Option<u64>,
    /// Milliseconds a topic must stay empty before `channel.vacated` is sent. [default: 5000]
    #[arg(long, env = "FERROCAST_WEBHOOK_VACATED_DELAY_MS")]
    webhook_vacated_delay_ms: Option<u64>,
    /// The longest wait between two attempts, in milliseconds (each wait is drawn at random under it).
    /// [default: 60000]
    #[arg(long, env = "FERROCAST_WEBHOOK_RETRY_MAX_MS")]
    webhook_retry_max_ms: Option<u64>,
    /// A TOML file with what is awkward in flags: `[[webhooks.endpoint]]` entries and `[webhooks]` limits (README,
    /// "Webhooks"). Flags win over it.
    #[arg(long, env = "FERROCAST_CONFIG")]
    config: Option<PathBuf>,
}

/// The `--pubsub` schemes of Redis: an address, the master Redis Sentinels name, or a Redis Cluster's nodes.
const REDIS_SCHEMES: [&str; 6] =
    ["redis://", "rediss://", "redis+sentinel://", "rediss+sentinel://", "redis+cluster://", "rediss+cluster://"];

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    let tokens = match (&args.jwt_secret, &args.jwt_public_key) {
        (Some(secret), _) => Some(Arc::new(TokenVerifier::hs256(secret.as_bytes()))),
        (None, Some(path)) => {
            let pem = std::fs::read(path)
                .map_err(|error| exit_with(format!("--jwt-public-key {}: {error}", path.display())))?;
            Some(Arc::new(
                TokenVerifier::from_public_key_pem(&pem)
                    .map_err(|error| exit_with(format!("--jwt-public-key {}: {error}", path.display())))?,
            ))
        }
        (None, None) => None,
    };
    if tokens.is_none() {
        let public = [Some(args.listen), args.api_listen].into_iter().flatten().find(|addr| !addr.ip().is_loopback());
        if let Some(public) = public.filter(|_| !args.dev) {
            return Err(exit_with(format!(
                "refusing to listen on {public} in dev mode: anyone could connect and do anything. Give --jwt-secret \
                 or --jwt-public-key, or --dev to run without authentication anyway"
            )));
        }
        tracing::warn!(
            "dev mode: no --jwt-secret or --jwt-public-key, so every connection is anonymous and may do anything"
        );
    }
    let origins = AllowedOrigins::new(&args.allow_origin, tokens.is_none()).map_err(exit_with)?;
    let cluster = match args.pubsub.as_str() {
        "memory" => None,
        url if REDIS_SCHEMES.iter().any(|scheme| url.starts_with(scheme)) => Some(ClusterSettings {
            heartbeat: Duration::from_millis(args.presence_heartbeat_ms.max(10)),
            presence_timeout: Duration::from_millis(args.presence_timeout_ms.max(args.presence_heartbeat_ms * 2)),
            max_queued: args.redis_queue.max(1),
            ca: match &args.redis_ca {
                Some(path) => Some(
                    std::fs::read(path)
                        .map_err(|error| exit_with(format!("--redis-ca {}: {error}", path.display())))?,
                ),
                None => None,
            },
            ..ClusterSettings::new(url)
        }),
        other => {
            return Err(exit_with(format!(
                "--pubsub {other}: expected memory, redis://host:port, rediss://host:port, \
                 redis+sentinel://host:port[,host:port…]/MASTER or redis+cluster://host:port[,host:port…]"
            )));
        }
    };
    let hooks = hooks(&args).map_err(exit_with)?;
    let webhooks = webhooks(&args).map_err(exit_with)?;
    let config = Config {
        www: args.www,
        client_dir: args.client_dir,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        presence_window: Duration::from_millis(args.presence_window_ms),
        outbox: OutboxLimits { max_frames: args.outbox_frames.max(1), max_bytes: args.outbox_bytes.max(1) },
        history: HistoryLimits {
            max_messages: args.history_size,
            max_bytes: args.history_bytes,
            ttl: Duration::from_secs(args.history_ttl),
            max_total_bytes: args.history_total_bytes,
        },
        sse: SseLimits {
            keep_alive: Duration::from_secs(args.sse_keepalive.max(1)),
            max_topics: args.sse_max_topics.max(1),
            retry: Duration::from_millis(args.sse_retry_ms),
        },
        tokens,
        origins,
        max_connections: args.max_connections.max(1),
        limits: SessionLimits {
            max_channels: args.max_channels.max(1),
            frames_per_second: args.rate_limit.max(1),
            burst: args.rate_burst.max(1),
        },
        max_message: args.max_message_bytes.max(1024),
        shutdown_drain: Duration::from_millis(args.shutdown_drain_ms),
        runs: EngineLimits { max_running: args.max_runs.max(1), ..EngineLimits::default() },
        cluster,
        hooks,
        webhooks,
        ..Config::default()
    };
    raise_open_file_limit();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let served = match args.api_listen {
        Some(api_listen) => {
            let api_listener = std::net::TcpListener::bind(api_listen)
                .map_err(|error| exit_with(format!("--api-listen {api_listen}: {error}")))?;
            ferrocast_relay::serve_with_api(listener, api_listener, config, shutdown_requested()).await
        }
        None => ferrocast_relay::serve(listener, config, shutdown_requested()).await,
    };
    served.map_err(|error| exit_with(error.to_string()))
}

/// The backend hooks of the `--proxy-*` flags, if any is given.
fn hooks(args: &Args) -> Result<Option<Arc<Hooks>>, String> {
    let routes = |flag: &str, given: &[String]| -> Result<Vec<(String, String)>, String> {
        given.iter().map(|text| pattern_and_url(text).map_err(|error| format!("--{flag} {error}"))).collect()
    };
    if !(args.proxy_timeout > 0.0 && args.proxy_timeout <= 3600.0) {
        return Err(format!("--proxy-timeout {}: expected seconds, above 0 and at most 3600", args.proxy_timeout));
    }
    let settings = HookSettings {
        connect: args.proxy_connect.clone(),
        joins: routes("proxy-join", &args.proxy_join)?,
        pushes: routes("proxy-push", &args.proxy_push)?,
        refresh: args.proxy_refresh.clone(),
        timeout: Duration::from_secs_f64(args.proxy_timeout),
        secret: args.proxy_secret.clone(),
        headers: args.proxy_header.clone(),
        max_answer_bytes: args.max_message_bytes.max(1024),
        ..HookSettings::default()
    };
    if !settings.any() {
        return Ok(None);
    }
    Hooks::new(settings).map(Some).map_err(|error| format!("--proxy-*: {error}"))
}

/// The webhooks of the configuration file and the `--webhook*` flags, the flags winning (none without endpoints).
fn webhooks(args: &Args) -> Result<WebhookSettings, String> {
    let file = match &args.config {
        Some(path) => ConfigFile::read(path)?,
        None => ConfigFile::default(),
    };
    let section = &file.webhooks;
    let mut endpoints = section.endpoints()?;
    endpoints.extend(WebhookSettings::endpoints_from_flags(
        &args.webhook,
        &args.webhook_secret,
        &args.webhook_events,
        &args.webhook_topics,
    )?);
    WebhookSettings::check(&endpoints)?;
    let defaults = WebhookSettings::default();
    let millis =
        |flag: Option<u64>, file: Option<u64>, default: Duration| flag.or(file).map_or(default, Duration::from_millis);
    Ok(WebhookSettings {
        endpoints,
        queue: args.webhook_queue.or(section.queue).unwrap_or(defaults.queue).max(1),
        max_age: args
            .webhook_max_age
            .or(section.max_age_seconds)
            .map_or(defaults.max_age, |seconds| Duration::from_secs(seconds.max(1))),
        vacated_delay: millis(args.webhook_vacated_delay_ms, section.vacated_delay_ms, defaults.vacated_delay),
        retry_max: millis(args.webhook_retry_max_ms, section.retry_max_ms, defaults.retry_max)
            .max(Duration::from_millis(1)),
        ..defaults
    })
}

/// Logs why the relay cannot start, as the error `main` returns.
fn exit_with(message: String) -> std::io::Error {
    tracing::error!("{message}");
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
}

/// Every connection holds a file descriptor, and the usual soft limit (1,024) would cap the relay at about that many
/// sockets: raise it to the hard limit, as servers that hold many connections do, and say what the cap is.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open-file limit (the most sockets the relay can hold, less a few)"),
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_requested() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(terminate) => terminate,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
