//! `ferrocast-relay`: run the relay.

use clap::Parser;
use ferrocast_pubsub::{HistoryLimits, OutboxLimits};
use ferrocast_relay::{Config, SseLimits};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The Ferrocast relay: Phoenix Channels over WebSocket, and an HTTP API, for the front end beside it.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "FERROCAST_LISTEN", default_value = "127.0.0.1:4000")]
    listen: SocketAddr,
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
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
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
        },
        sse: SseLimits {
            keep_alive: Duration::from_secs(args.sse_keepalive.max(1)),
            max_topics: args.sse_max_topics.max(1),
            retry: Duration::from_millis(args.sse_retry_ms),
        },
        ..Config::default()
    };
    raise_open_file_limit();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, "ferrocast-relay serving: http://{}", listener.local_addr()?);
    ferrocast_relay::serve(listener, config, shutdown_requested()).await
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
