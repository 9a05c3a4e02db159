//! The webhooks' HTTP API: `GET /api/webhooks` (the endpoints and their state), `GET /api/webhooks/{name}/dead`
//! (the batches that will not be retried) and `POST /api/webhooks/{name}/redeliver` (send them again, with their
//! ids). A backend's routes: a bearer token with `publish`, except in dev mode; 404 without webhooks or for an
//! unknown endpoint.

use crate::auth;
use crate::state::Relay;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferrocast_hooks::webhooks::Webhooks;
use serde_json::json;
use std::sync::Arc;

/// `GET /api/webhooks`.
pub(crate) async fn list(State(relay): State<Arc<Relay>>, headers: HeaderMap) -> Response {
    match allowed(&relay, &headers) {
        Ok(webhooks) => Json(json!({ "webhooks": webhooks.list() })).into_response(),
        Err(refused) => *refused,
    }
}

/// `GET /api/webhooks/{name}/dead`.
pub(crate) async fn dead(State(relay): State<Arc<Relay>>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    let webhooks = match allowed(&relay, &headers) {
        Ok(webhooks) => webhooks,
        Err(refused) => return *refused,
    };
    match webhooks.dead(&name).await {
        Ok(Some(dead)) => Json(json!({ "dead": dead })).into_response(),
        Ok(None) => unknown(&name),
        Err(error) => unavailable(&error),
    }
}

/// `POST /api/webhooks/{name}/redeliver`.
pub(crate) async fn redeliver(
    State(relay): State<Arc<Relay>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let webhooks = match allowed(&relay, &headers) {
        Ok(webhooks) => webhooks,
        Err(refused) => return *refused,
    };
    match webhooks.redeliver(&name).await {
        Ok(Some(count)) => Json(json!({ "redelivered": count })).into_response(),
        Ok(None) => unknown(&name),
        Err(error) => unavailable(&error),
    }
}

/// The relay's webhooks, for a caller that may publish; otherwise the answer (boxed: a response is large).
fn allowed<'r>(relay: &'r Arc<Relay>, headers: &HeaderMap) -> Result<&'r Webhooks, Box<Response>> {
    match auth::identify(relay, auth::bearer_token(headers), "webhooks request") {
        Ok(identity) if identity.may_publish() => {}
        Ok(_) => return Err(Box::new(auth::forbidden("the webhooks API"))),
        Err(refused) => return Err(Box::new(refused.into_response())),
    }
    relay.webhooks.as_deref().ok_or_else(|| {
        Box::new((StatusCode::NOT_FOUND, "no webhooks: start the relay with --webhook NAME=URL\n").into_response())
    })
}

/// The queue on Redis could not be reached.
fn unavailable(error: &str) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, format!("the webhooks' queue on Redis: {error}\n")).into_response()
}

fn unknown(name: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("no webhook is named {name:?}\n")).into_response()
}
