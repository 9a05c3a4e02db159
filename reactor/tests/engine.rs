//! The engine on tokio (in paused time): runs started by name, their events published in order on their topics,
//! summaries on `reactor:runs`, statuses, limits, panics and child runs.

use ferrocast_reactor::demo::{self, PIPELINE, PIPELINE_STAGES};
use ferrocast_reactor::engine::{Catalog, Engine, EngineLimits, Listing, Notifier, RUNS_TOPIC, StartError, run_topic};
use ferrocast_reactor::{Arg, Outcome, Step, Workflow};
use serde_json::{Map, Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Everything published, in order.
#[derive(Default)]
struct Recorder {
    published: Mutex<Vec<(String, String, Value)>>,
}

impl Notifier for Recorder {
    fn publish(&self, topic: &str, event: &str, payload: String) {
        let payload = serde_json::from_str(&payload).expect("payloads are JSON");
        self.published.lock().unwrap().push((topic.to_owned(), event.to_owned(), payload));
    }
}

impl Recorder {
    fn on(&self, topic: &str) -> Vec<(String, Value)> {
        let published = self.published.lock().unwrap();
        published
            .iter()
            .filter(|(t, _, _)| t == topic)
            .map(|(_, event, payload)| (event.clone(), payload.clone()))
            .collect()
    }

    fn names_on(&self, topic: &str) -> Vec<String> {
        self.on(topic)
            .into_iter()
            .map(|(event, payload)| match payload.get("step") {
                Some(step) => format!("{event} {}", step.as_str().unwrap()),
                None => event,
            })
            .collect()
    }
}

fn engine_with(catalog: Catalog, limits: EngineLimits) -> (Engine, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    (Engine::new(catalog, recorder.clone(), limits), recorder)
}

fn inputs(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

/// Lets the engine's tasks run until `run_id` has finished (time is paused, so sleeps pass at once).
async fn until_finished(engine: &Engine, run_id: &str) -> Value {
    for _ in 0..10_000 {
        let status = engine.status(run_id).expect("the run is known");
        if ["completed", "failed", "halted"].contains(&status["status"].as_str().unwrap()) {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("run {run_id} did not finish");
}

#[tokio::test(start_paused = true)]
async fn the_pipeline_publishes_every_step_in_order_then_completes() {
    let (engine, recorder) = engine_with(demo::catalog(), EngineLimits::default());
    let run_id = engine.start(PIPELINE, inputs(json!({ "duration_ms": 50 }))).unwrap();
    let status = until_finished(&engine, &run_id).await;
    assert_eq!(status["status"], "completed");

    let mut expected = vec!["run_started".to_owned()];
    for stage in PIPELINE_STAGES {
        expected.push(format!("step_started {stage}"));
        expected.push(format!("step_completed {stage}"));
    }
    expected.push("run_completed".to_owned());
    let topic = run_topic(&run_id);
    assert_eq!(recorder.names_on(&topic), expected);

    let events = recorder.on(&topic);
    let seqs: Vec<u64> = events.iter().map(|(_, payload)| payload["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>(), "seq counts from 1 without gaps");
    let times: Vec<u64> = events.iter().map(|(_, payload)| payload["at"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "times never go back: {times:?}");
    assert!(times[0] > 1_700_000_000_000, "times are Unix milliseconds: {}", times[0]);
    let (_, completed) = &events[2];
    assert_eq!(completed["duration_ms"], 50);
    assert_eq!(completed["attempt"], 1);
    assert_eq!(completed["result"]["simulated"], true);
    let (_, last) = events.last().unwrap();
    assert_eq!(last["duration_ms"], 400, "eight stages of 50 ms");
    assert_eq!(last["result"]["stage"], "k8s:deploy");

    let summaries = recorder.on(RUNS_TOPIC);
    let names: Vec<&str> = summaries.iter().map(|(event, _)| event.as_str()).collect();
    assert_eq!(names, ["run_started", "run_completed"]);
    assert_eq!(summaries[1].1["run_id"], run_id.as_str());
    assert_eq!(summaries[1].1["steps_completed"], 8);
    assert_eq!(summaries[1].1["steps_total"], 8);
    assert_eq!(summaries[1].1["status"], "completed");
    assert!(summaries[1].1.get("result").is_none(), "summaries leave results out");

    let steps = status["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 8);
    assert!(
        steps.iter().all(|step| step["state"] == "completed" && step["attempts"] == 1 && step["duration_ms"] == 50)
    );
    assert_eq!(status["outcome"]["ok"]["stage"], "k8s:deploy");
}

#[tokio::test(start_paused = true)]
async fn an_injected_failure_is_retried_with_backoff_and_the_run_recovers() {
    let (engine, recorder) = engine_with(demo::catalog(), EngineLimits::default());
    let run = inputs(json!({ "duration_ms": 10, "fail_step": "dspy:convert", "fail_times": 2 }));
    let run_id = engine.start(PIPELINE, run).unwrap();
    assert_eq!(until_finished(&engine, &run_id).await["status"], "completed");
    let events = recorder.on(&run_topic(&run_id));
    let retries: Vec<&Value> =
        events.iter().filter(|(event, _)| event == "step_retrying").map(|(_, payload)| payload).collect();
    assert_eq!(retries.len(), 2);
    for (n, retry) in retries.iter().enumerate() {
        assert_eq!(retry["step"], "dspy:convert");
        assert_eq!(retry["attempt"], n as u64 + 1);
        let delay = retry["delay_ms"].as_u64().unwrap();
        assert!(delay <= 200 << n, "full jitter under the ceiling: {delay}");
        assert!(retry["reason"].as_str().unwrap().contains("simulated failure"));
    }
    let third = events.iter().find(|(event, payload)| event == "step_completed" && payload["step"] == "dspy:convert");
    assert_eq!(third.unwrap().1["attempt"], 3);
}

#[tokio::test(start_paused = true)]
async fn a_stage_that_keeps_failing_undoes_the_completed_ones_last_first() {
    let (engine, recorder) = engine_with(demo::catalog(), EngineLimits::default());
    let run = inputs(json!({ "duration_ms": 10, "fail_step": "erlang:generate", "fail_times": 3 }));
    let run_id = engine.start(PIPELINE, run).unwrap();
    let status = until_finished(&engine, &run_id).await;
    assert_eq!(status["status"], "failed");
    assert!(status["outcome"]["error"].as_str().unwrap().starts_with("erlang:generate: simulated failure"));

    let names = recorder.names_on(&run_topic(&run_id));
    let tail: Vec<&str> =
        names.iter().skip_while(|name| *name != "step_failed erlang:generate").map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            "step_failed erlang:generate",
            "step_undone bitactor:spawn",
            "step_undone dspy:convert",
            "step_undone turtle:generate",
            "step_undone ontology:create",
            "run_compensated",
            "run_failed erlang:generate",
        ]
    );
    let summaries: Vec<String> = recorder.on(RUNS_TOPIC).into_iter().map(|(event, _)| event).collect();
    assert_eq!(summaries, ["run_started", "run_compensated", "run_failed"]);
    let states: Vec<&str> = status["steps"].as_array().unwrap().iter().map(|s| s["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["undone", "undone", "undone", "undone", "failed", "pending", "pending", "pending"]);
}

#[tokio::test(start_paused = true)]
async fn starts_are_refused_with_reasons() {
    let limits = EngineLimits { max_running: 2, keep_finished: 10 };
    let (engine, _) = engine_with(demo::catalog(), limits);
    assert_eq!(engine.start("nope", Map::new()), Err(StartError::UnknownWorkflow("nope".into())));
    let unexpected = engine.start(PIPELINE, inputs(json!({ "colour": "red" }))).unwrap_err();
    assert!(unexpected.to_string().contains("has no input 'colour'"), "{unexpected}");

    let slow = || inputs(json!({ "duration_ms": 1_000 }));
    let first = engine.start(PIPELINE, slow()).unwrap();
    engine.start(PIPELINE, slow()).unwrap();
    assert_eq!(engine.start(PIPELINE, slow()), Err(StartError::TooManyRuns(2)));
    until_finished(&engine, &first).await;
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(engine.start(PIPELINE, slow()).is_ok(), "a finished run frees its slot");
}

#[tokio::test(start_paused = true)]
async fn only_the_last_finished_runs_are_kept() {
    let limits = EngineLimits { max_running: 10, keep_finished: 2 };
    let (engine, _) = engine_with(demo::catalog(), limits);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let id = engine.start(PIPELINE, inputs(json!({ "duration_ms": 1 }))).unwrap();
        until_finished(&engine, &id).await;
        ids.push(id);
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(engine.status(&ids[0]).is_none(), "the oldest finished run is forgotten");
    assert!(engine.status(&ids[1]).is_some() && engine.status(&ids[2]).is_some());
}

fn one_step(name: &str, action: &str) -> Listing {
    Listing::new(Workflow::builder(name).step("only", Step::action(action).max_retries(0)).build().unwrap())
}

#[tokio::test(start_paused = true)]
async fn a_panicking_action_fails_its_step_instead_of_wedging_the_run() {
    let catalog = Catalog::new()
        .workflow(one_step("boom", "explode"))
        .workflow(one_step("ghost", "unregistered"))
        .action_fn("explode", |_call| async { panic!("deliberately") });
    let (engine, recorder) = engine_with(catalog, EngineLimits::default());
    let boom = engine.start("boom", Map::new()).unwrap();
    assert_eq!(until_finished(&engine, &boom).await["outcome"]["error"], "only: the action panicked");
    let ghost = engine.start("ghost", Map::new()).unwrap();
    let status = until_finished(&engine, &ghost).await;
    assert_eq!(status["outcome"]["error"], "only: no action named 'unregistered' is registered");
    assert_eq!(
        recorder.names_on(&run_topic(&boom)),
        ["run_started", "step_started only", "step_failed only", "run_compensated", "run_failed only"]
    );
}

/// Sets its flag when dropped: when the future holding it is dropped, finished or aborted.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn an_attempt_that_times_out_is_aborted_rather_than_left_running() {
    let flag = Arc::new(AtomicBool::new(false));
    let hung = Arc::clone(&flag);
    let step = Step::action("hang").max_retries(0).timeout_ms(100);
    let catalog = Catalog::new()
        .workflow(Listing::new(Workflow::builder("hang").step("only", step).build().unwrap()))
        .action_fn("hang", move |_call| {
            let guard = DropFlag(Arc::clone(&hung));
            async move {
                let _guard = guard;
                std::future::pending::<Outcome>().await // a call that never answers
            }
        });
    let (engine, _) = engine_with(catalog, EngineLimits::default());
    let run_id = engine.start("hang", Map::new()).unwrap();
    let status = until_finished(&engine, &run_id).await;
    assert_eq!(status["outcome"]["error"], "only: timed out after 100 ms");
    for _ in 0..100 {
        if flag.load(Ordering::SeqCst) {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(flag.load(Ordering::SeqCst), "the hung attempt was aborted, and what it held dropped");
}

#[tokio::test(start_paused = true)]
async fn a_sub_workflow_runs_as_a_child_with_a_topic_naming_its_parent() {
    let child = Workflow::builder("double")
        .input("n")
        .step("twice", Step::action("twice").arg("n", Arg::input("n")))
        .build()
        .unwrap();
    let parent = Workflow::builder("outer")
        .input("n")
        .step("inner", Step::workflow(Arc::new(child)).arg("n", Arg::input("n")))
        .step("plus_one", Step::action("plus_one").arg("x", Arg::result("inner")))
        .build()
        .unwrap();
    let catalog = Catalog::new()
        .workflow(Listing::new(parent))
        .action_fn("twice", |call| async move { Outcome::Ok(json!(call.arguments["n"].as_i64().unwrap() * 2)) })
        .action_fn("plus_one", |call| async move { Outcome::Ok(json!(call.arguments["x"].as_i64().unwrap() + 1)) });
    let (engine, recorder) = engine_with(catalog, EngineLimits { max_running: 1, keep_finished: 10 });
    let run_id = engine.start("outer", inputs(json!({ "n": 20 }))).unwrap();
    let status = until_finished(&engine, &run_id).await;
    assert_eq!(status["outcome"]["ok"], 41, "the child ran although max_running is 1: children do not count");

    let summaries = recorder.on(RUNS_TOPIC);
    let child_started =
        summaries.iter().find(|(event, payload)| event == "run_started" && payload["parent"] == run_id.as_str());
    let child_id = child_started.expect("the child's start is summarized, naming its parent").1["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        recorder.names_on(&run_topic(&child_id)),
        ["run_started", "step_started twice", "step_completed twice", "run_completed"]
    );
    assert_eq!(engine.status(&child_id).unwrap()["parent"], run_id.as_str());
}

#[tokio::test(start_paused = true)]
async fn the_listing_shows_each_workflow_with_its_inputs_and_step_graph() {
    let (engine, _) = engine_with(demo::catalog(), EngineLimits::default());
    let workflows = engine.workflows();
    let names: Vec<&str> = workflows.as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["pipeline", "reverse_flow"]);
    let pipeline = &workflows[0];
    assert_eq!(pipeline["simulation"], true);
    assert!(pipeline["description"].as_str().unwrap().starts_with("Simulation"));
    assert_eq!(pipeline["inputs"][0], json!({ "name": "duration_ms", "default": 300 }));
    assert_eq!(pipeline["steps"][1]["name"], "turtle:generate");
    assert_eq!(pipeline["steps"][1]["depends_on"], json!(["ontology:create"]));
    assert_eq!(pipeline["steps"][0]["depends_on"], json!([]));
    assert_eq!(pipeline["steps"][0]["max_retries"], 2);
    assert_eq!(pipeline["steps"][0]["undo"], true);
}

#[test]
fn starting_outside_a_runtime_is_an_error_not_a_panic() {
    let (engine, _) = engine_with(demo::catalog(), EngineLimits::default());
    assert_eq!(engine.start(PIPELINE, Map::new()), Err(StartError::NoRuntime));
}
