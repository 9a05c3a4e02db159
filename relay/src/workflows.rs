//! The workflow API: list the workflows, start a run, read a run's status. The engine and its catalog live in
//! ferrocast-reactor; this only turns requests into its calls and its answers into HTTP.
//!
//! Each needs a bearer token that may join the topic concerned (`reactor:runs` to list and start, the run's topic
//! to read it) or publish, except in dev mode: the same rights as watching over the `reactor:*` channel.

use crate::http::{bad_request, refusal_to_read};
use crate::state::Relay;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrocast_channels::reactor::start_refusal;
use ferrocast_reactor::engine::{RUNS_TOPIC, StartError, run_topic};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// `GET /api/workflows`: `{"workflows": [{"name", "description", "simulation", "inputs", "returns",
/// "max_concurrency", "steps": [{"name", "kind", "runs", "depends_on", …}]}]}`.
pub(crate) async fn list(State(relay): State<Arc<Relay>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refusal_to_read(&relay, &headers, RUNS_TOPIC) {
        return refusal;
    }
    Json(json!({ "workflows": relay.engine.workflows() })).into_response()
}

/// `POST /api/workflows/{name}/runs` with `{"inputs": {…}}` (or no body, for the defaults): starts a run and
/// answers 201 `{"run_id", "topic"}` with `Location: /api/runs/{run_id}`. 404 for an unknown workflow, 400 for a
/// body or inputs the workflow does not take, 429 when the most runs allowed at once are running.
pub(crate) async fn start(
    State(relay): State<Arc<Relay>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = refusal_to_read(&relay, &headers, RUNS_TOPIC) {
        return refusal;
    }
    let Some(inputs) = inputs_of(&body) else {
        return bad_request(r#"expected no body, or {"inputs": object}"#);
    };
    match relay.engine.start(&name, inputs) {
        Ok(run_id) => {
            let location = format!("/api/runs/{run_id}");
            let body = json!({ "run_id": run_id, "topic": run_topic(&run_id) });
            (StatusCode::CREATED, [(header::LOCATION, location)], Json(body)).into_response()
        }
        Err(refused) => {
            let status = match refused {
                StartError::UnknownWorkflow(_) => StatusCode::NOT_FOUND,
                StartError::Inputs(_) => StatusCode::BAD_REQUEST,
                StartError::TooManyRuns(_) => StatusCode::TOO_MANY_REQUESTS,
                StartError::NoRuntime => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let mut body = start_refusal(&refused);
            body["ok"] = Value::Bool(false);
            (status, Json(body)).into_response()
        }
    }
}

/// The inputs of a start request: none for an empty body, the `inputs` object of `{"inputs": {…}}`.
fn inputs_of(body: &[u8]) -> Option<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(Map::new());
    }
    let Ok(Value::Object(mut request)) = serde_json::from_slice(body) else { return None };
    let inputs = match request.remove("inputs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(inputs)) => inputs,
        Some(_) => return None,
    };
    request.is_empty().then_some(inputs)
}

/// `GET /api/runs/{id}`: the run's status and table of steps, as `ferrocast_reactor::engine::Engine::status` has
/// them. 404 for a run this relay never ran or has forgotten (it keeps the last 1,000 finished).
pub(crate) async fn status(
    State(relay): State<Arc<Relay>>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = refusal_to_read(&relay, &headers, &run_topic(&run_id)) {
        return refusal;
    }
    match relay.engine.status(&run_id) {
        Some(status) => Json(status).into_response(),
        None => {
            let error = "no such run: this relay never ran it, or has forgotten it";
            (StatusCode::NOT_FOUND, Json(json!({ "ok": false, "error": error }))).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_request_is_no_body_or_an_inputs_object() {
        assert_eq!(inputs_of(b""), Some(Map::new()));
        assert_eq!(inputs_of(b" \n"), Some(Map::new()));
        assert_eq!(inputs_of(b"{}"), Some(Map::new()));
        assert_eq!(inputs_of(br#"{"inputs": {"a": 1}}"#).unwrap()["a"], 1);
        assert_eq!(inputs_of(br#"{"inputs": [1]}"#), None);
        assert_eq!(inputs_of(br#"{"duration_ms": 5}"#), None, "inputs outside `inputs` are refused, not ignored");
        assert_eq!(inputs_of(b"[1]"), None);
        assert_eq!(inputs_of(b"{"), None);
    }
}
