//! The HTTP API: publishing, presence, health and metrics.

use crate::state::Relay;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrocast_protocol::Payload;
use serde_json::{Value, json};
use std::sync::Arc;

/// `POST /api/broadcast` with `{"topic", "event", "payload"}`: answers `{"ok": true}` once every subscriber has
/// the message in its queue.
pub(crate) async fn broadcast(State(relay): State<Arc<Relay>>, body: Bytes) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(&format!("the body is not JSON: {error}")),
    };
    let field = |name: &str| request.get(name).and_then(Value::as_str).filter(|value| !value.is_empty());
    let (Some(topic), Some(event)) = (field("topic"), field("event")) else {
        return bad_request("expected {\"topic\": string, \"event\": string, \"payload\": any JSON}");
    };
    let payload = Payload::Json(request.get("payload").unwrap_or(&json!({})).to_string());
    relay.backend.hub.broadcast(topic, event, &payload);
    Json(json!({ "ok": true })).into_response()
}

/// `GET /api/presence/{topic}`: the topic's presences, as `presence_state` has them.
pub(crate) async fn presence(State(relay): State<Arc<Relay>>, Path(topic): Path<String>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], relay.backend.presence.state(&topic)).into_response()
}

/// `GET /healthz`: 200 once the relay serves.
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /metrics`: Prometheus text format.
pub(crate) async fn metrics(State(relay): State<Arc<Relay>>) -> Response {
    let body = relay.metrics.render(relay.joined_channels(), &relay.backend.hub.fanout_timing().snapshot());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "ok": false, "error": message }))).into_response()
}
