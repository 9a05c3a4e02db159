//! `reactor:*`: workflow runs, started and watched over a socket.
//!
//! - `reactor:runs` carries a summary of every run's run-level events; `reactor:<run_id>` carries all of one run's
//!   events in order (see `ferrocast_reactor::engine`). Both replay their kept history to a joiner, so whoever joins
//!   a run's topic after it started still sees it from `run_started`.
//! - Joining `reactor:<run_id>` replies `{"run": status}` with the run's status and table of steps (`null` for a run
//!   this relay does not know), so a page can draw the run even after its history has expired.
//! - `workflow:execute` with `{"workflow": name, "inputs": {…}}` starts a run and replies `{"run_id", "topic"}`; it
//!   needs a token that may join `reactor:runs`. Refusals reply `error` with a `reason`: `unknown workflow`,
//!   `bad inputs` (with `detail`), `too many runs`, `unauthorized`, or `expected {"workflow": string, "inputs":
//!   object}`.
//! - `workflow:list` replies `{"workflows": [...]}`, the registered workflows with their inputs and step graphs;
//!   `run:status` with `{"run_id"}` replies the run's status, or `error` `{"reason": "no such run"}`.

use crate::room::json_object;
use ferrocast_protocol::Payload;
use ferrocast_pubsub::Hub;
use ferrocast_pubsub::{Channel, Context, Outcome, reason};
use ferrocast_reactor::engine::{Engine, Notifier, RUNS_TOPIC, StartError, run_topic};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The `reactor:*` channel, serving one engine.
#[derive(Debug, Clone)]
pub struct Reactor {
    engine: Engine,
}

impl Reactor {
    /// The channel for `engine`'s runs.
    pub fn new(engine: Engine) -> Self {
        Reactor { engine }
    }
}

impl Channel for Reactor {
    fn join(&self, ctx: &mut Context<'_>, _params: &Payload) -> Result<Payload, Payload> {
        if ctx.topic == RUNS_TOPIC {
            return Ok(Payload::empty());
        }
        Ok(json_payload(&json!({ "run": self.engine.status(ctx.splat) })))
    }

    fn handle_in(&self, ctx: &mut Context<'_>, event: &str, payload: Payload) -> Outcome {
        match event {
            "workflow:execute" => self.execute(ctx, &payload),
            "workflow:list" => Outcome::ok(json_payload(&json!({ "workflows": self.engine.workflows() }))),
            "run:status" => {
                let request = json_object(&payload);
                match request.get("run_id").and_then(Value::as_str).and_then(|run_id| self.engine.status(run_id)) {
                    Some(status) => Outcome::ok(json_payload(&status)),
                    None => Outcome::error(reason("no such run")),
                }
            }
            _ => Outcome::error(reason("unknown event")),
        }
    }

    fn replays_history(&self) -> bool {
        true
    }
}

impl Reactor {
    fn execute(&self, ctx: &Context<'_>, payload: &Payload) -> Outcome {
        if !ctx.socket.identity.may_join(RUNS_TOPIC) {
            return Outcome::error(reason("unauthorized"));
        }
        let request = json_object(payload);
        let workflow = request.get("workflow").and_then(Value::as_str);
        let inputs = match request.get("inputs") {
            None | Some(Value::Null) => Some(Map::new()),
            Some(Value::Object(inputs)) => Some(inputs.clone()),
            Some(_) => None,
        };
        let (Some(workflow), Some(inputs)) = (workflow, inputs) else {
            return Outcome::error(reason(r#"expected {"workflow": string, "inputs": object}"#));
        };
        match self.engine.start(workflow, inputs) {
            Ok(run_id) => Outcome::ok(json_payload(&json!({ "run_id": run_id, "topic": run_topic(&run_id) }))),
            Err(refused) => Outcome::error(json_payload(&start_refusal(&refused))),
        }
    }
}

/// A refused start as an error response: a short `reason` to branch on and a `detail` to show.
pub fn start_refusal(refused: &StartError) -> Value {
    let reason = match refused {
        StartError::UnknownWorkflow(_) => "unknown workflow",
        StartError::Inputs(_) => "bad inputs",
        StartError::TooManyRuns(_) => "too many runs",
        StartError::NoRuntime => "engine unavailable",
    };
    json!({ "reason": reason, "detail": refused.to_string() })
}

fn json_payload(value: &Value) -> Payload {
    Payload::Json(value.to_string())
}

/// `hub` as the engine's notifier: every run event is a numbered broadcast, kept in its topic's history, so
/// recovery and replay work for runs as for any topic.
pub fn hub_notifier(hub: Arc<Hub>) -> Arc<dyn Notifier> {
    Arc::new(HubNotifier(hub))
}

/// The hub, as the engine's notifier (a wrapper: this crate owns neither `Hub` nor `Notifier`, so it cannot
/// implement the one for the other).
struct HubNotifier(Arc<Hub>);

impl Notifier for HubNotifier {
    fn publish(&self, topic: &str, event: &str, payload: String) {
        self.0.broadcast(topic, event, &Payload::Json(payload));
    }
}
