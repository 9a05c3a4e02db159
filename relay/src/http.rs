//! The HTTP API: publishing, history, presence, health and metrics.

use crate::auth;
use crate::state::Relay;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use ferrocast_protocol::Payload;
use ferrocast_pubsub::{Broadcast, Retained};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// `POST /api/broadcast` with `{"topic", "event", "payload"}`, or an array of them to publish many in one request
/// (in order): answers `{"ok": true}` (for an array `{"ok": true, "published": N}`) once the messages are queued for
/// fanout, without waiting for it (see `broadcast_queue.rs` in ferrocast-pubsub); they reach subscribers in the
/// order they were queued, and a later `GET /api/history` sees them. 503 once the relay is shutting down. A bad
/// message anywhere in an array gets 400 and nothing of the request is published.
/// Payloads are kept as the text they came in (valid JSON, checked), not parsed into values and written again.
/// Needs a bearer token with `publish` (401 without one, 403 without the claim), except in dev mode.
pub(crate) async fn broadcast(State(relay): State<Arc<Relay>>, headers: HeaderMap, body: Bytes) -> Response {
    match auth::identify(&relay, auth::bearer_token(&headers), "publish request") {
        Ok(identity) if identity.may_publish() => {}
        Ok(_) => return auth::forbidden("publishing"),
        Err(refused) => return refused.into_response(),
    }
    let is_array = body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[');
    let requests: Vec<&RawValue> = if is_array {
        match serde_json::from_slice(&body) {
            Ok(requests) => requests,
            Err(error) => return bad_request(&format!("the body is not a JSON array: {error}")),
        }
    } else {
        match serde_json::from_slice(&body) {
            Ok(request) => vec![request],
            Err(error) => return bad_request(&format!("the body is not JSON: {error}")),
        }
    };
    let mut messages = Vec::with_capacity(requests.len());
    for (n, request) in requests.iter().enumerate() {
        let message = serde_json::from_str::<Publish<'_>>(request.get()).ok().filter(Publish::is_complete);
        let Some(Publish { topic, event, payload }) = message else {
            let at = if is_array { format!(" (message {n})") } else { String::new() };
            return bad_request(&format!(
                "expected {{\"topic\": string, \"event\": string, \"payload\": any JSON}}{at}"
            ));
        };
        let payload = Payload::Json(payload.map_or_else(|| "{}".to_owned(), |payload| payload.get().to_owned()));
        messages.push(Broadcast { topic: topic.into_owned(), event: event.into_owned(), payload });
    }
    let published = messages.len();
    if relay.cluster.as_ref().is_some_and(|cluster| !cluster.has_room_for(published)) {
        let refused = "the queue for Redis is full (--redis-queue): nothing was published; try again\n";
        return (StatusCode::SERVICE_UNAVAILABLE, [(axum::http::header::RETRY_AFTER, "1")], refused).into_response();
    }
    if relay.fanout.publish(messages).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "the relay is shutting down\n").into_response();
    }
    if is_array {
        Json(json!({ "ok": true, "published": published })).into_response()
    } else {
        Json(json!({ "ok": true })).into_response()
    }
}

/// One message to publish, borrowed from the request's body.
#[derive(serde::Deserialize)]
struct Publish<'a> {
    #[serde(borrow)]
    topic: Cow<'a, str>,
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
}

impl Publish<'_> {
    fn is_complete(&self) -> bool {
        !self.topic.is_empty() && !self.event.is_empty()
    }
}

/// `GET /api/presence/{topic}`: the topic's presences, as `presence_state` has them.
pub(crate) async fn presence(
    State(relay): State<Arc<Relay>>,
    Path(topic): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = refusal_to_read(&relay, &headers, &topic) {
        return refusal;
    }
    ([(header::CONTENT_TYPE, "application/json")], relay.backend.presence.state(&topic)).into_response()
}

/// A topic's history and presence are for a token that may join the topic, or publish (a backend's token): the
/// answer to any other request.
pub(crate) fn refusal_to_read(relay: &Arc<Relay>, headers: &HeaderMap, topic: &str) -> Option<Response> {
    match auth::identify(relay, auth::bearer_token(headers), "API request") {
        Ok(identity) if identity.may_read(topic) => None,
        Ok(_) => Some(auth::forbidden(topic)),
        Err(refused) => Some(refused.into_response()),
    }
}

/// `GET /api/history/{topic}?since=OFFSET`: the broadcasts kept for a topic after `since` (all kept ones without
/// it), oldest first, with the topic's current position and whether nothing after `since` is missing:
/// `{"topic", "epoch", "offset", "complete", "messages": [{"offset", "event", "payload"}]}`. A binary payload comes
/// as `"binary": "<base64>"` instead of `"payload"`. A topic with no history (never broadcast on, or expired) is
/// not an error for a reader: it is empty, at offset 0 of the epoch `none`, so a page's first load asks for it
/// without a 404 in its console. 400 for a `since` that is not a number. Presence and history need a bearer token that may join the
/// topic or publish, except in dev mode.
pub(crate) async fn history(
    State(relay): State<Arc<Relay>>,
    Path(topic): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = refusal_to_read(&relay, &headers, &topic) {
        return refusal;
    }
    let since = match query.get("since").map(|since| since.parse::<u64>()) {
        None => None,
        Some(Ok(since)) => Some(since),
        Some(Err(_)) => return bad_request("`since` must be an offset: a whole number, 0 or more"),
    };
    // What a publisher's answered POST queued is in the history it reads next.
    if relay.fanout.fanned_out().await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "the relay is shutting down\n").into_response();
    }
    // With several relays, a topic this relay does not follow is read from Redis first (see following.rs).
    let _followed = relay.backend.hub.followed(&topic).await;
    let page = relay.backend.hub.history(&topic, since);
    let messages: Vec<Value> = page.messages.iter().map(retained_json).collect();
    let body = json!({
        "topic": topic,
        "epoch": page.position.epoch,
        "offset": page.position.offset,
        "complete": page.complete,
        "messages": messages,
    });
    Json(body).into_response()
}

fn retained_json(retained: &Retained) -> Value {
    let mut message = json!({ "offset": retained.offset, "event": retained.event });
    match &retained.payload {
        // Kept payloads were valid JSON when they were broadcast.
        Payload::Json(text) => message["payload"] = serde_json::from_str(text).unwrap_or(Value::Null),
        Payload::Binary(bytes) => message["binary"] = Value::String(BASE64_STANDARD.encode(bytes)),
    }
    message
}

/// `GET /healthz`: 200 once the relay serves; 503 once it is asked to stop (draining), so a load balancer takes it
/// out of rotation before it closes its sockets.
pub(crate) async fn healthz(State(relay): State<Arc<Relay>>) -> Response {
    match relay.draining() {
        false => "ok\n".into_response(),
        true => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
    }
}

/// `GET /metrics`: Prometheus text format.
pub(crate) async fn metrics(State(relay): State<Arc<Relay>>) -> Response {
    let cluster = relay.cluster.as_ref().map(|cluster| cluster.snapshot());
    let hub = &relay.backend.hub;
    let mut body =
        relay.metrics.render(relay.joined_channels(), hub.history_usage(), &hub.fanout_timing().snapshot(), cluster);
    if let Some(hooks) = &relay.config.hooks {
        hooks.render_metrics(&mut body);
    }
    if let Some(webhooks) = &relay.webhooks {
        webhooks.render_metrics(&mut body);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

pub(crate) fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "ok": false, "error": message }))).into_response()
}
