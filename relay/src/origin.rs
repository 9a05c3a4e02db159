//! The check against cross-site WebSocket hijacking, as Phoenix's `check_origin`.
//!
//! A browser names the page's origin in the `Origin` header of a WebSocket upgrade and of cross-origin requests;
//! without this check any site a user visits could open a socket to the relay in the user's name. Requests without
//! the header come from programs, not pages, and pass; which origins are allowed is [`crate::AllowedOrigins`].

use crate::state::Relay;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Refuses, with 403, a request from a page whose origin is not allowed.
pub(crate) async fn check(State(relay): State<Arc<Relay>>, request: Request, next: Next) -> Response {
    if relay.config.origins.admits(request.headers()) {
        return next.run(request).await;
    }
    relay.metrics.refused_origins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let origin = request.headers().get(header::ORIGIN).and_then(|origin| origin.to_str().ok()).unwrap_or_default();
    tracing::info!(origin, path = request.uri().path(), "refused a request from a page whose origin is not allowed");
    let body = format!("origin {origin} not allowed: start the relay with --allow-origin {origin}\n");
    (StatusCode::FORBIDDEN, body).into_response()
}
