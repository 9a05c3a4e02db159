//! Workflows end to end over a real relay: a run started over the `reactor:*` channel delivers every step event in
//! order, a failing one its compensation, a late joiner (phoenix.js-style, Ferrocast-positioned, or a server-sent
//! event stream) replays the run from its start, and the HTTP API lists, starts and reports runs.

#[path = "support/sse.rs"]
mod sse;
mod support;

use ferrocast_reactor::demo::{PIPELINE_STAGES, REVERSE_FLOW_STAGES};
use ferrocast_reactor::engine::EngineLimits;
use ferrocast_relay::Config;
use serde_json::{Value, json};
use sse::SseStream;
use std::time::Duration;
use support::{Client, TestRelay, http};

const V2: &str = "?vsn=2.0.0";

/// A socket joined to `reactor:runs`.
async fn runs_socket(relay: &TestRelay) -> Client {
    let mut client = Client::connect("starter", &relay.url(V2)).await;
    client.send(r#"["1","1","reactor:runs","phx_join",{}]"#).await;
    client.expect(r#"["1","1","reactor:runs","phx_reply",{"response":{},"status":"ok"}]"#).await;
    client
}

/// Pushes `workflow:execute` and returns the reply's status and response, skipping the summaries that the
/// `reactor:runs` topic broadcasts meanwhile.
async fn execute(client: &mut Client, request: Value) -> (String, Value) {
    client.send(&json!(["1", "2", "reactor:runs", "workflow:execute", request]).to_string()).await;
    loop {
        let frame = client.next_json().await;
        if frame[3] == "phx_reply" && frame[1] == "2" {
            return (frame[4]["status"].as_str().unwrap().to_owned(), frame[4]["response"].clone());
        }
    }
}

/// Joins `topic` (phoenix.js-style, or with Ferrocast's extension offering `offered`) and reads its events until
/// the run's last; returns the join reply and the events as `(name, payload)`.
async fn watch(client: &mut Client, topic: &str, offered: Option<Value>) -> (Value, Vec<(String, Value)>) {
    let join = match offered {
        None => json!(["3", "3", topic, "phx_join", {}]),
        Some(offered) => json!(["3", "3", topic, "phx_join", {}, offered]),
    };
    client.send(&join.to_string()).await;
    let reply = client.next_json().await;
    assert_eq!(reply[3], "phx_reply", "{reply}");
    assert_eq!(reply[4]["status"], "ok", "{reply}");
    let mut events = Vec::new();
    loop {
        let frame = client.next_json().await;
        assert_eq!(frame[2], topic, "{frame}");
        let name = frame[3].as_str().unwrap().to_owned();
        let ended = ["run_completed", "run_failed", "run_halted"].contains(&name.as_str());
        events.push((name, frame[4].clone()));
        if frame.get(5).is_some() {
            events.last_mut().unwrap().1["_position"] = frame[5].clone();
        }
        if ended {
            return (reply, events);
        }
    }
}

/// `step_completed ontology:create`, `run_started`…: an event's name and its step, if any.
fn labels(events: &[(String, Value)]) -> Vec<String> {
    events
        .iter()
        .map(|(name, payload)| match payload.get("step").and_then(Value::as_str) {
            Some(step) => format!("{name} {step}"),
            None => name.clone(),
        })
        .collect()
}

fn completed_run(stages: &[&str]) -> Vec<String> {
    let mut expected = vec!["run_started".to_owned()];
    for stage in stages {
        expected.push(format!("step_started {stage}"));
        expected.push(format!("step_completed {stage}"));
    }
    expected.push("run_completed".to_owned());
    expected
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_started_over_the_channel_delivers_every_step_event_in_order() {
    let relay = TestRelay::start(Config::default()).await;
    let mut starter = runs_socket(&relay).await;
    let (status, response) =
        execute(&mut starter, json!({ "workflow": "pipeline", "inputs": { "duration_ms": 30 } })).await;
    assert_eq!(status, "ok", "{response}");
    let run_id = response["run_id"].as_str().unwrap().to_owned();
    assert_eq!(response["topic"], format!("reactor:{run_id}"));

    // Joined while the run is under way: the replay from its start, then live events, without a gap or a repeat.
    let mut watcher = Client::connect("watcher", &relay.url(V2)).await;
    tokio::time::sleep(Duration::from_millis(70)).await;
    let (reply, events) = watch(&mut watcher, &format!("reactor:{run_id}"), None).await;
    assert_eq!(reply[4]["response"]["run"]["run_id"], run_id.as_str(), "the join reply carries the run's status");
    assert_eq!(labels(&events), completed_run(&PIPELINE_STAGES));
    let seqs: Vec<u64> = events.iter().map(|(_, payload)| payload["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=18).collect::<Vec<_>>());
    assert!(events.iter().all(|(_, payload)| payload.get("_position").is_none()), "phoenix.js frames stay plain");
    let durations: Vec<u64> = events
        .iter()
        .filter(|(name, _)| name == "step_completed")
        .map(|(_, payload)| payload["duration_ms"].as_u64().unwrap())
        .collect();
    assert!(durations.iter().all(|&ms| (30..1_000).contains(&ms)), "{durations:?}");

    // The summary topic saw the run start and complete.
    let mut summaries = Vec::new();
    while summaries.len() < 2 {
        let frame = starter.next_json().await;
        if frame[4]["run_id"] == run_id.as_str() {
            summaries.push((frame[3].as_str().unwrap().to_owned(), frame[4]["steps_completed"].clone()));
        }
    }
    assert_eq!(summaries, [("run_started".to_owned(), json!(0)), ("run_completed".to_owned(), json!(8))]);

    // After the end, a Ferrocast client with no position replays the whole run with positions, and the status
    // table agrees.
    let mut late = Client::connect("late", &relay.url(V2)).await;
    let (reply, replayed) = watch(&mut late, &format!("reactor:{run_id}"), Some(json!({}))).await;
    assert_eq!(reply[5]["offset"], 18, "{reply}");
    assert_eq!(labels(&replayed), completed_run(&PIPELINE_STAGES));
    assert_eq!(replayed[0].1["_position"]["offset"], 1);
    let (code, body) = http(&relay, "GET", &format!("/api/runs/{run_id}"), "").await;
    assert_eq!(code, 200, "{body}");
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["status"], "completed");
    let states: Vec<&str> = status["steps"].as_array().unwrap().iter().map(|s| s["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["completed"; 8]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_delivers_its_retries_and_compensation() {
    let relay = TestRelay::start(Config::default()).await;
    let mut starter = runs_socket(&relay).await;
    let inputs = json!({ "duration_ms": 5, "fail_step": "erlang:extract", "fail_times": 5 });
    let (status, response) = execute(&mut starter, json!({ "workflow": "reverse_flow", "inputs": inputs })).await;
    assert_eq!(status, "ok", "{response}");
    let run_id = response["run_id"].as_str().unwrap();
    let mut watcher = Client::connect("watcher", &relay.url(V2)).await;
    let (_, events) = watch(&mut watcher, &format!("reactor:{run_id}"), None).await;

    let mut expected = vec!["run_started".to_owned()];
    for stage in &REVERSE_FLOW_STAGES[..3] {
        expected.extend([format!("step_started {stage}"), format!("step_completed {stage}")]);
    }
    for attempt in 1..=3 {
        expected.push("step_started erlang:extract".to_owned());
        expected
            .push(if attempt < 3 { "step_retrying erlang:extract" } else { "step_failed erlang:extract" }.to_owned());
    }
    for stage in REVERSE_FLOW_STAGES[..3].iter().rev() {
        expected.push(format!("step_undone {stage}"));
    }
    expected.extend(["run_compensated".to_owned(), "run_failed erlang:extract".to_owned()]);
    assert_eq!(labels(&events), expected);
    let (_, compensated) = events.iter().find(|(name, _)| name == "run_compensated").unwrap();
    assert_eq!(compensated["undone"], 3);
    let attempts: Vec<&Value> =
        events.iter().filter(|(name, _)| name == "step_started").map(|(_, payload)| &payload["attempt"]).collect();
    assert_eq!(attempts, [&json!(1), &json!(1), &json!(1), &json!(1), &json!(2), &json!(3)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_starts_answer_with_reasons() {
    let config = Config { runs: EngineLimits { max_running: 1, ..EngineLimits::default() }, ..Config::default() };
    let relay = TestRelay::start(config).await;
    let mut starter = runs_socket(&relay).await;
    let (status, response) = execute(&mut starter, json!({ "workflow": "nope" })).await;
    assert_eq!((status.as_str(), &response["reason"]), ("error", &json!("unknown workflow")));
    let (status, response) = execute(&mut starter, json!({ "workflow": "pipeline", "inputs": { "x": 1 } })).await;
    assert_eq!((status.as_str(), &response["reason"]), ("error", &json!("bad inputs")));
    assert!(response["detail"].as_str().unwrap().contains("has no input 'x'"), "{response}");
    let (status, response) = execute(&mut starter, json!({ "inputs": {} })).await;
    assert_eq!(status, "error");
    assert!(response["reason"].as_str().unwrap().starts_with("expected"), "{response}");

    let (status, _) = execute(&mut starter, json!({ "workflow": "pipeline", "inputs": { "duration_ms": 2000 } })).await;
    assert_eq!(status, "ok");
    let (status, response) = execute(&mut starter, json!({ "workflow": "pipeline" })).await;
    assert_eq!((status.as_str(), &response["reason"]), ("error", &json!("too many runs")));
    let (code, body) = http(&relay, "POST", "/api/workflows/pipeline/runs", "").await;
    assert_eq!(code, 429, "{body}");
    assert!(body.contains("too many runs"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_api_lists_starts_and_reports_runs() {
    let relay = TestRelay::start(Config::default()).await;
    let (code, body) = http(&relay, "GET", "/api/workflows", "").await;
    assert_eq!(code, 200, "{body}");
    let listing: Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> =
        listing["workflows"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["pipeline", "reverse_flow"]);
    assert_eq!(listing["workflows"][0]["steps"][7]["depends_on"], json!(["reactor:execute"]));

    let (code, body) =
        http(&relay, "POST", "/api/workflows/reverse_flow/runs", r#"{"inputs": {"duration_ms": 5}}"#).await;
    assert_eq!(code, 201, "{body}");
    let run_id = serde_json::from_str::<Value>(&body).unwrap()["run_id"].as_str().unwrap().to_owned();
    let mut status = Value::Null;
    for _ in 0..200 {
        let (code, body) = http(&relay, "GET", &format!("/api/runs/{run_id}"), "").await;
        assert_eq!(code, 200, "{body}");
        status = serde_json::from_str(&body).unwrap();
        if status["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["outcome"]["ok"]["stage"], "typer:generate");
    let names: Vec<&str> = status["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, REVERSE_FLOW_STAGES);

    for (method, path, body, code) in [
        ("POST", "/api/workflows/nope/runs", "", 404),
        ("POST", "/api/workflows/pipeline/runs", r#"{"inputs": {"colour": "red"}}"#, 400),
        ("POST", "/api/workflows/pipeline/runs", r#"{"duration_ms": 5}"#, 400),
        ("POST", "/api/workflows/pipeline/runs", "not json", 400),
        ("GET", "/api/runs/0000000000000000", "", 404),
    ] {
        let (status, answer) = http(&relay, method, path, body).await;
        assert_eq!(status, code, "{method} {path} {body}: {answer}");
        assert!(answer.contains("\"ok\":false"), "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_of_a_finished_run_replays_it_from_the_start() {
    let relay = TestRelay::start(Config::default()).await;
    let (code, body) = http(&relay, "POST", "/api/workflows/pipeline/runs", r#"{"inputs": {"duration_ms": 1}}"#).await;
    assert_eq!(code, 201, "{body}");
    let run_id = serde_json::from_str::<Value>(&body).unwrap()["run_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let topic = format!("reactor:{run_id}");
    let mut stream = SseStream::open(relay.addr, &format!("/sse?topic={topic}"), &[]).await.unwrap();
    let subscribed = stream.next().await;
    assert_eq!(subscribed.event, "ferrocast:subscribed");
    let mut names = Vec::new();
    while names.last().is_none_or(|name| name != "run_completed") {
        let event = stream.next().await;
        names.push(event.event.clone());
    }
    assert_eq!(names.len(), 18, "{names:?}");
    assert_eq!(names[0], "run_started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejoin_resumes_from_its_position_and_one_that_cannot_replays_the_whole_run() {
    let relay = TestRelay::start(Config::default()).await;
    let (code, body) = http(&relay, "POST", "/api/workflows/pipeline/runs", r#"{"inputs": {"duration_ms": 1}}"#).await;
    assert_eq!(code, 201, "{body}");
    let run_id = serde_json::from_str::<Value>(&body).unwrap()["run_id"].as_str().unwrap().to_owned();
    let topic = format!("reactor:{run_id}");
    let mut first = Client::connect("first", &relay.url(V2)).await;
    let (_, events) = watch(&mut first, &topic, Some(json!({}))).await;
    let epoch = events[0].1["_position"]["epoch"].clone();

    // Back with the position of the tenth event: the eight after it, and `recovered: true`.
    let mut back = Client::connect("back", &relay.url(V2)).await;
    let (reply, resumed) = watch(&mut back, &topic, Some(json!({ "offset": 10, "epoch": epoch }))).await;
    assert_eq!(reply[5]["recovered"], true, "{reply}");
    let seqs: Vec<u64> = resumed.iter().map(|(_, payload)| payload["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (11..=18).collect::<Vec<_>>());

    // Back with a position from another epoch (a restarted relay's): `recovered: false`, and the whole run again.
    let mut lost = Client::connect("lost", &relay.url(V2)).await;
    let (reply, replayed) = watch(&mut lost, &topic, Some(json!({ "offset": 10, "epoch": "gone-1" }))).await;
    assert_eq!(reply[5]["recovered"], false, "{reply}");
    assert_eq!(labels(&replayed), completed_run(&PIPELINE_STAGES));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedding_program_serves_its_own_workflows_and_a_halt_undoes_nothing() {
    use ferrocast_reactor::engine::{Catalog, Listing};
    use ferrocast_reactor::{Arg, Outcome, Step, Workflow};
    let workflow = Workflow::builder("deploy")
        .input("region")
        .step("reserve", Step::action("reserve").arg("region", Arg::input("region")).with_undo())
        .step("approve", Step::action("approve").arg("reserved", Arg::result("reserve")))
        .build()
        .unwrap();
    let workflows = Catalog::new()
        .workflow(Listing::new(workflow).description("needs a person's approval"))
        .action_fn("reserve", |call| async move { Outcome::Ok(json!({ "slot": call.arguments["region"] })) })
        .action_fn("approve", |_| async { Outcome::Halt("waiting for a person to approve".into()) });
    let relay = TestRelay::start(Config { workflows, ..Config::default() }).await;
    let (code, body) = http(&relay, "GET", "/api/workflows", "").await;
    assert_eq!(code, 200);
    let names: Vec<String> = serde_json::from_str::<Value>(&body).unwrap()["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["deploy"], "the embedding program's catalog replaces the demo");

    let mut starter = runs_socket(&relay).await;
    let (status, response) = execute(&mut starter, json!({ "workflow": "deploy", "inputs": { "region": "eu" } })).await;
    assert_eq!(status, "ok", "{response}");
    let mut watcher = Client::connect("watcher", &relay.url(V2)).await;
    let topic = response["topic"].as_str().unwrap();
    let (_, events) = watch(&mut watcher, topic, None).await;
    assert_eq!(
        labels(&events),
        ["run_started", "step_started reserve", "step_completed reserve", "step_started approve", "run_halted approve"]
    );
    assert_eq!(events[4].1["reason"], "waiting for a person to approve");
    assert_eq!(events[2].1["result"], json!({ "slot": "eu" }));
}
