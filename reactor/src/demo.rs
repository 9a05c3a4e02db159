//! The built-in demo workflows: simulations of the seed design's code-generation pipeline and of its reverse
//! flow, for dashboards and tests. No step does real work; each waits for its duration and says so in its result
//! (`"simulated": true`), and the listings are marked `simulation`.
//!
//! Both are chains of eight stages, each reading the one before it. Their inputs, all optional:
//! - `duration_ms` (default 300): how long each stage takes; `durations` (default `{}`): per-stage overrides,
//!   such as `{"dspy:convert": 1500}`. Each is at most [`MAX_STAGE_MS`].
//! - `fail_step` (default `null`) and `fail_times` (default 0): the stage named fails its first `fail_times`
//!   attempts. Each stage is tried at most [`ATTEMPTS`] times (two retries with backoff), so `fail_times` 1 or 2
//!   shows retries and a recovery, and 3 or more fails the stage for good: the stages completed before it are
//!   undone, last first, and the run ends with `run_compensated` then `run_failed`.

use crate::Task;
use crate::command::Outcome;
use crate::engine::{Action, BoxFuture, Call, Catalog, Listing};
use crate::step::{Arg, Step};
use crate::workflow::Workflow;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// The pipeline's name.
pub const PIPELINE: &str = "pipeline";
/// The pipeline's stages, in order.
pub const PIPELINE_STAGES: [&str; 8] = [
    "ontology:create",
    "turtle:generate",
    "dspy:convert",
    "bitactor:spawn",
    "erlang:generate",
    "ash:create",
    "reactor:execute",
    "k8s:deploy",
];

/// The reverse flow's name.
pub const REVERSE_FLOW: &str = "reverse_flow";
/// The reverse flow's stages, in order: from a deployment back to the types it was generated from.
pub const REVERSE_FLOW_STAGES: [&str; 8] = [
    "k8s:observe",
    "reactor:trace",
    "ash:introspect",
    "erlang:extract",
    "bitactor:profile",
    "ttl:derive",
    "turtle:parse",
    "typer:generate",
];

/// The longest a stage may be asked to take.
pub const MAX_STAGE_MS: u64 = 60_000;
/// How many times a stage is tried at most.
pub const ATTEMPTS: u32 = 3;

/// The action every stage runs.
const SIMULATE: &str = "simulate";

/// The demo workflows and their action.
pub fn catalog() -> Catalog {
    let pipeline = chain(PIPELINE, &PIPELINE_STAGES).description(
        "Simulation of the seed design's pipeline: an ontology through Turtle, DSPy, BitActor, Erlang and Ash to a \
         reactor and a Kubernetes deployment.",
    );
    let reverse = chain(REVERSE_FLOW, &REVERSE_FLOW_STAGES).description(
        "Simulation of the reverse flow: from a running deployment back through the reactor, Ash, Erlang, \
         BitActor and TTL to Turtle and generated types.",
    );
    Catalog::new().workflow(pipeline).workflow(reverse).action(SIMULATE, Simulate)
}

/// A chain of stages, each reading the result of the one before, all undoable.
fn chain(name: &str, stages: &[&str]) -> Listing {
    let mut builder = Workflow::builder(name)
        .input("duration_ms")
        .input("durations")
        .input("fail_step")
        .input("fail_times")
        .returns(*stages.last().expect("a chain has stages"));
    for (index, stage) in stages.iter().enumerate() {
        let mut step = Step::action(SIMULATE)
            .arg("duration_ms", Arg::input("duration_ms"))
            .arg("durations", Arg::input("durations"))
            .arg("fail_step", Arg::input("fail_step"))
            .arg("fail_times", Arg::input("fail_times"))
            .max_retries(ATTEMPTS - 1)
            .backoff(200, 2_000)
            // A stage never legitimately takes longer than its longest duration: a stuck one is tried again.
            .timeout_ms(MAX_STAGE_MS + 5_000)
            .with_undo();
        if let Some(previous) = index.checked_sub(1).map(|previous| stages[previous]) {
            step = step.arg("previous", Arg::result(previous));
        }
        builder = builder.step(*stage, step);
    }
    let workflow = builder.build().expect("the demo chains are valid workflows");
    Listing::new(workflow)
        .simulation()
        .default_input("duration_ms", 300)
        .default_input("durations", json!({}))
        .default_input("fail_step", Value::Null)
        .default_input("fail_times", 0)
}

/// A stage: waits its duration, then fails if failure injection says so, or returns what it "made".
struct Simulate;

impl Action for Simulate {
    fn run(&self, call: Call) -> BoxFuture<Outcome> {
        Box::pin(async move {
            let stage = call.task.step.as_str();
            let plan = match Plan::read(stage, &call.arguments) {
                Ok(plan) => plan,
                Err(error) => return Outcome::Error(error),
            };
            tokio::time::sleep(Duration::from_millis(plan.duration_ms)).await;
            if plan.fails && call.attempt <= plan.fail_times {
                return Outcome::Retry(format!(
                    "simulated failure of {stage}: attempt {} of the {} set to fail",
                    call.attempt, plan.fail_times
                ));
            }
            Outcome::Ok(json!({
                "stage": stage,
                "simulated": true,
                "attempt": call.attempt,
                "duration_ms": plan.duration_ms,
                "artifact": format!("{stage} (simulated)"),
            }))
        })
    }

    fn undo(&self, _task: Task, result: Value) -> BoxFuture<Result<(), String>> {
        // Rolling back takes about half as long as the stage did.
        let duration_ms = result.get("duration_ms").and_then(Value::as_u64).unwrap_or(0).min(MAX_STAGE_MS) / 2;
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(duration_ms)).await;
            Ok(())
        })
    }
}

/// What a stage's arguments ask of it.
#[derive(Debug, PartialEq)]
struct Plan {
    duration_ms: u64,
    fails: bool,
    fail_times: u32,
}

impl Plan {
    fn read(stage: &str, arguments: &Map<String, Value>) -> Result<Plan, String> {
        let milliseconds = |value: &Value, name: &str| match value.as_u64() {
            Some(ms) if ms <= MAX_STAGE_MS => Ok(ms),
            _ => Err(format!("{name} must be a whole number of milliseconds from 0 to {MAX_STAGE_MS}, not {value}")),
        };
        let duration_ms = match arguments.get("durations").and_then(|durations| durations.get(stage)) {
            Some(duration) => milliseconds(duration, &format!("durations[{stage:?}]"))?,
            None => milliseconds(arguments.get("duration_ms").unwrap_or(&Value::Null), "duration_ms")?,
        };
        let fail_step = arguments.get("fail_step").unwrap_or(&Value::Null);
        let fail_times = arguments.get("fail_times").unwrap_or(&Value::Null);
        let fail_times = match fail_times.as_u64() {
            Some(times) => u32::try_from(times).unwrap_or(u32::MAX),
            None => return Err(format!("fail_times must be a whole number, 0 or more, not {fail_times}")),
        };
        Ok(Plan { duration_ms, fails: fail_step.as_str() == Some(stage), fail_times })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn a_plan_reads_durations_overrides_and_failure_injection() {
        let args = arguments(json!({
            "duration_ms": 40, "durations": { "dspy:convert": 90 }, "fail_step": "dspy:convert", "fail_times": 2
        }));
        assert_eq!(Plan::read("dspy:convert", &args), Ok(Plan { duration_ms: 90, fails: true, fail_times: 2 }));
        assert_eq!(Plan::read("ash:create", &args), Ok(Plan { duration_ms: 40, fails: false, fail_times: 2 }));
    }

    #[test]
    fn a_plan_refuses_durations_that_are_not_bounded_milliseconds() {
        let base = json!({ "durations": {}, "fail_step": null, "fail_times": 0 });
        for bad in [json!(-1), json!("300"), json!(MAX_STAGE_MS + 1), json!(1.5)] {
            let mut args = arguments(base.clone());
            args.insert("duration_ms".into(), bad.clone());
            let error = Plan::read("k8s:deploy", &args).unwrap_err();
            assert!(error.contains("duration_ms must be"), "{bad}: {error}");
        }
        let args = arguments(json!({ "duration_ms": 1, "durations": {}, "fail_step": null, "fail_times": "x" }));
        assert!(Plan::read("k8s:deploy", &args).unwrap_err().contains("fail_times"));
    }

    #[test]
    fn both_chains_have_eight_stages_each_reading_the_one_before() {
        let catalog = catalog();
        for (name, stages) in [(PIPELINE, PIPELINE_STAGES), (REVERSE_FLOW, REVERSE_FLOW_STAGES)] {
            let workflow = catalog.listing(name).unwrap().workflow();
            assert_eq!(workflow.step_names().collect::<Vec<_>>(), stages);
            for pair in stages.windows(2) {
                assert_eq!(workflow.depends_on(pair[1]).collect::<Vec<_>>(), [pair[0]]);
            }
            assert_eq!(workflow.returns(), stages[7]);
        }
    }
}
