//! The Ferrocast relay: WebSockets speaking Phoenix Channels (V1 and V2, text and binary) and an HTTP API, in
//! front of the backend crates. It is transport only: pub/sub, presence and the channel API live in
//! `ferrocast-pubsub`, the built-in channels in `ferrocast-channels`, workflows in `ferrocast-reactor`; this crate
//! moves bytes between sockets and sessions.
//!
//! - `driver`: the one loop every connection runs, over a transport that reads and writes; `close`: the close codes
//!   and why each is sent.
//! - `ws`: the WebSocket endpoint and its transport; `ws_handshake`: its upgrade; `batching`: batch messages for
//!   the sockets that ask.
//! - `sse`: server-sent event streams of topics; `sse_body`: the response body a stream's connection writes.
//! - `sse_socket`: a Phoenix socket over server-sent events and HTTP POST, for networks that block WebSockets;
//!   `sse_sessions`: its sessions by token, for the POSTs.
//! - `http`: publishing, history, presence, health and metrics; `api_thread`: those on an address and a thread of
//!   their own (`--api-listen`).
//! - `workflows`: listing workflows, starting runs and reading their status, for `ferrocast-reactor`'s engine.
//! - `webhooks_api`: the webhooks' endpoints, dead letters and redelivery (`ferrocast-hooks` sends them).
//! - `auth`: where each client puts its token, and the 403 for a refused one.
//! - `admission`: whether a new socket or stream is let in (shutdown, token or connect hook, connection limit),
//!   answered alike; `lifetime`: when a connection's life ends, and its extension by the refresh hook.
//! - `origin`: the check of a page's origin on every route a page could use in a user's name; `config`: the
//!   settings, with the origins allowed (`config/origins.rs`, `--allow-origin`), which the CORS answers of the
//!   event-stream routes use too.
//! - `state`: what connections share, and the graceful shutdown; `metrics`: the counters of `GET /metrics`.

mod admission;
mod api_thread;
mod auth;
mod batching;
mod close;
mod config;
mod driver;
mod http;
mod large_messages;
mod lifetime;
mod metrics;
mod origin;
mod sse;
mod sse_body;
mod sse_sessions;
mod sse_socket;
mod state;
mod webhooks_api;
mod workflows;
mod ws;
mod ws_handshake;

pub use close::{
    CLOSE_EXPIRED, CLOSE_GOING_AWAY, CLOSE_IDLE, CLOSE_MALFORMED, CLOSE_NORMAL, CLOSE_NOT_UTF8, CLOSE_POLICY,
    CLOSE_TOO_BIG,
};
pub use config::{AllowedOrigins, Config, SseLimits};

use axum::Router;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use state::Relay;
use std::future::Future;
use std::sync::Arc;

/// Pages on other origins (a Nuxt dev server beside the relay) read event streams with `fetch`, sending an
/// `Authorization` header, and post frames, so these routes answer CORS: for the origins the relay allows (see
/// [`origin`]), which no other page can then read from. No cookies are involved.
fn sse_cors(origins: &AllowedOrigins) -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderName, Method, header};
    let origins = origins.clone();
    let allowed = tower_http::cors::AllowOrigin::predicate(move |origin, request| {
        let host = request.headers.get(header::HOST).and_then(|host| host.to_str().ok());
        origin.to_str().is_ok_and(|origin| origins.allows(origin, host))
    });
    tower_http::cors::CorsLayer::new()
        .allow_origin(allowed)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, HeaderName::from_static("last-event-id")])
}

/// Serves on `listener` until `shutdown` completes, then closes every socket with 1001 (in batches) and returns.
/// With [`Config::cluster`], it first waits until it has reached Redis and read the shared history back.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run(listener, None, config, shutdown).await
}

/// [`serve`], and the routes backends call (publishing, history, presence, health, metrics) on `api_listener` too,
/// from a thread of their own (see `api_thread.rs`); that port stops after the main one.
pub async fn serve_with_api(
    listener: tokio::net::TcpListener,
    api_listener: std::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run(listener, Some(api_listener), config, shutdown).await
}

/// Without TCP_NODELAY, a frame written right after another waits for the client's delayed ACK (~40 ms on Linux): a
/// broadcast followed by its reply would arrive 40 ms apart. Frames are already batched per write.
fn set_nodelay(tcp: &mut tokio::net::TcpStream) {
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::warn!(%error, "could not set TCP_NODELAY");
    }
}

/// What backends call: publishing, history, presence, health and metrics.
fn backend_routes(relay: &Arc<Relay>) -> Router<Arc<Relay>> {
    Router::new()
        .route("/api/broadcast", post(http::broadcast))
        .route("/api/history/{topic}", get(http::history))
        .route("/api/presence/{topic}", get(http::presence))
        .route("/api/webhooks", get(webhooks_api::list))
        .route("/api/webhooks/{name}/dead", get(webhooks_api::dead))
        .route("/api/webhooks/{name}/redeliver", post(webhooks_api::redeliver))
        .route_layer(axum::middleware::from_fn_with_state(relay.clone(), origin::check))
        .route("/healthz", get(http::healthz))
        .route("/metrics", get(http::metrics))
}

async fn run(
    listener: tokio::net::TcpListener,
    api_listener: Option<std::net::TcpListener>,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let relay = Relay::new(config)?;
    if let Some(cluster) = &relay.cluster {
        // With Sentinel: sentinels that do not answer, or name no such master, stop the relay with the reason; with
        // a cluster, nodes that do not answer or are no cluster.
        cluster.check().await.map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
        // A relay that served before reading the shared history back would tell clients their recovery failed.
        tracing::info!(relay = cluster.relay_id(), "reading what Redis holds before serving");
        cluster.ready().await;
    }
    if let Ok(listen) = listener.local_addr() {
        tracing::info!(%listen, "ferrocast-relay serving: http://{listen}");
    }
    let cors = sse_cors(&relay.config.origins);
    // Every route a page could use in a user's name checks the page's origin first.
    let mut app = Router::new()
        .route("/socket/websocket", get(ws::upgrade))
        .route("/sse", get(sse::stream).layer(cors.clone()))
        .route("/socket/sse", get(sse_socket::open).post(sse_socket::send).layer(cors))
        .route("/api/workflows", get(workflows::list))
        .route("/api/workflows/{name}/runs", post(workflows::start))
        .route("/api/runs/{id}", get(workflows::status))
        .route_layer(axum::middleware::from_fn_with_state(relay.clone(), origin::check))
        .merge(backend_routes(&relay));
    if let Some(client) = &relay.config.client_dir {
        app = app.nest_service("/ferrocast", tower_http::services::ServeDir::new(client));
    }
    if let Some(www) = &relay.config.www {
        app = app.fallback_service(tower_http::services::ServeDir::new(www));
    }
    let app = app.with_state(relay.clone());
    let listener = listener.tap_io(set_nodelay);
    let api = match api_listener {
        Some(api_listener) => {
            if let Ok(listen) = api_listener.local_addr() {
                tracing::info!(%listen, "serving the backend API on a thread of its own: http://{listen}");
            }
            Some(api_thread::ApiThread::start(api_listener, backend_routes(&relay), relay.clone())?)
        }
        None => None,
    };
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Still serving, new connections too, while the balancer's health checks see the relay go.
            relay.drain().await;
            relay.shut_down().await;
        })
        .await;
    if let Some(api) = api {
        api.stop().await?;
    }
    served
}
