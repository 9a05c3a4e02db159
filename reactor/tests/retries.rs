//! Retries with full-jitter backoff, `max_retries`, and attempt timeouts, in simulated time.

mod support;

use ferrocast_reactor::{Arg, Backoff, Command, EventKind, Outcome, ReportError, RunStatus, Step, Task, Workflow};
use serde_json::{Value, json};
use support::{Reply, Sim};

/// A workflow of one step that asks to be retried every time, after 10 ms.
fn always_retrying(seed: u64) -> Sim {
    let workflow = Workflow::builder("flaky")
        .step("call", Step::action("call").max_retries(4).backoff(100, 500))
        .build()
        .expect("it builds");
    let script = Box::new(|_: &Command| Some((10, Reply::Outcome(Outcome::Retry("503 from upstream".into())))));
    let mut sim = Sim::start(workflow, Value::Null, seed, script);
    sim.finish();
    sim
}

/// `(attempt, at, delay_ms)` of each `StepRetrying`.
fn retries(sim: &Sim) -> Vec<(u32, u64, u64)> {
    sim.events
        .iter()
        .filter_map(|event| match event.kind {
            EventKind::StepRetrying { attempt, delay_ms, .. } => Some((attempt, event.at, delay_ms)),
            _ => None,
        })
        .collect()
}

#[test]
fn retries_wait_a_full_jitter_delay_and_stop_at_max_retries() {
    let backoff = Backoff { base_ms: 100, cap_ms: 500 };
    let mut largest = [0u64; 4];
    let mut distinct = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let sim = always_retrying(seed);
        let retries = retries(&sim);
        assert_eq!(retries.iter().map(|retry| retry.0).collect::<Vec<_>>(), [1, 2, 3, 4], "seed {seed}");
        let starts = sim.starts_of(&Task::step("call"));
        assert_eq!(starts.len(), 5, "one attempt and max_retries retries");
        for (index, &(attempt, at, delay_ms)) in retries.iter().enumerate() {
            assert!(delay_ms <= backoff.ceiling_ms(attempt), "seed {seed}: retry {attempt} waited {delay_ms} ms");
            assert_eq!(starts[index + 1], at + delay_ms, "the next attempt starts when the delay is over");
            largest[index] = largest[index].max(delay_ms);
            distinct.insert((index, delay_ms));
        }
        assert_eq!(sim.run.status(), RunStatus::Failed);
        let last = sim.events.iter().rev().find(|event| matches!(event.kind, EventKind::StepFailed { .. }));
        assert!(matches!(
            &last.expect("the step failed").kind,
            EventKind::StepFailed { attempt: 5, error, .. } if error == "503 from upstream"
        ));
    }
    // The ceilings are 100, 200, 400 and 500 ms; over 200 seeds each is nearly reached, and delays vary.
    for (index, ceiling) in [100, 200, 400, 500].into_iter().enumerate() {
        assert!(largest[index] > ceiling * 9 / 10, "retry {}: largest delay {}", index + 1, largest[index]);
    }
    assert!(distinct.len() > 300, "delays are spread, not fixed");
}

#[test]
fn the_same_seed_gives_the_same_delays() {
    assert_eq!(retries(&always_retrying(9)), retries(&always_retrying(9)));
    assert_eq!(always_retrying(9).events, always_retrying(9).events);
    assert_ne!(retries(&always_retrying(9)), retries(&always_retrying(10)));
}

#[test]
fn a_step_without_retries_fails_on_its_first_retry_request() {
    let workflow = Workflow::builder("w").step("once", Step::action("x").max_retries(0)).build().expect("it builds");
    let script = Box::new(|_: &Command| Some((3, Reply::Outcome(Outcome::Retry("nope".into())))));
    let mut sim = Sim::start(workflow, Value::Null, 1, script);
    sim.finish();
    assert_eq!(
        sim.event_names(),
        ["run_started", "step_started once", "step_failed once", "run_compensated", "run_failed"]
    );
}

#[test]
fn a_timed_out_attempt_is_retried_and_its_late_outcome_is_ignored() {
    let workflow = Workflow::builder("w")
        .step("slow", Step::action("x").timeout_ms(1_000).max_retries(1).backoff(50, 50))
        .step("after", Step::action("y").arg("value", Arg::result("slow")))
        .build()
        .expect("it builds");
    let script = Box::new(|command: &Command| match command {
        Command::Run { task, attempt: 1, .. } if task.step == "slow" => {
            Some((1_500, Reply::Outcome(Outcome::Ok(json!("late")))))
        }
        Command::Run { task, .. } if task.step == "slow" => Some((200, Reply::Outcome(Outcome::Ok(json!("fresh"))))),
        _ => Some((1, Reply::Outcome(Outcome::Ok(json!("after done"))))),
    });
    let mut sim = Sim::start(workflow, Value::Null, 3, script);
    assert_eq!(sim.run.poll_timeout(), Some(1_000), "the first attempt's deadline");
    sim.finish();

    let (retry_at, delay_ms) = sim
        .events
        .iter()
        .find_map(|event| match &event.kind {
            EventKind::StepRetrying { attempt: 1, duration_ms: 1_000, reason, delay_ms, .. }
                if reason == "timed out after 1000 ms" =>
            {
                Some((event.at, *delay_ms))
            }
            _ => None,
        })
        .expect("the timeout became a retry");
    assert_eq!(retry_at, 1_000);
    assert_eq!(sim.starts_of(&Task::step("slow")), [0, 1_000 + delay_ms]);
    assert_eq!(sim.refused, [ReportError::NotRunning { task: Task::step("slow"), attempt: 1 }]);
    assert_eq!(
        sim.refused[0].to_string(),
        "attempt 1 of 'slow' is not running: it timed out, was already reported, or never started"
    );
    assert_eq!(sim.run.step("slow").and_then(|record| record.result.clone()), Some(json!("fresh")));
    let after = sim.commands.iter().find_map(|(_, command)| match command {
        Command::Run { task, arguments, .. } if task.step == "after" => Some(arguments["value"].clone()),
        _ => None,
    });
    assert_eq!(after, Some(json!("fresh")), "the late result never reaches a dependent");
    assert_eq!(sim.run.status(), RunStatus::Completed);
}

#[test]
fn a_step_that_keeps_timing_out_fails_once_its_retries_are_spent() {
    let workflow = Workflow::builder("w")
        .step("hang", Step::action("x").timeout_ms(100).max_retries(2).backoff(0, 0))
        .build()
        .expect("it builds");
    let mut sim = Sim::start(workflow, Value::Null, 1, Box::new(|_: &Command| None));
    sim.finish();
    assert_eq!(sim.starts_of(&Task::step("hang")), [0, 100, 200]);
    let failed = sim.events.iter().find(|event| matches!(event.kind, EventKind::StepFailed { .. }));
    assert_eq!(
        failed.map(|event| (event.at, event.kind.clone())),
        Some((
            300,
            EventKind::StepFailed {
                task: Task::step("hang"),
                attempt: 3,
                duration_ms: 100,
                error: "timed out after 100 ms".into(),
            }
        ))
    );
    assert_eq!(sim.run.status(), RunStatus::Failed);
    assert_eq!(sim.run.poll_timeout(), None, "a finished run asks for nothing");
}
