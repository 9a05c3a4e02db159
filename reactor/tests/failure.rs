//! When a step fails: undo of completed steps, compensation, and halts.

mod support;

use ferrocast_reactor::{Arg, Command, Compensation, EventKind, Outcome, RunStatus, Step, Task, TaskState, Workflow};
use serde_json::{Value, json};
use support::{Reply, Sim, answer_ok};

/// An order saga: reserve, then charge and (in parallel) notify and audit, then ship, then a step after ship.
fn order_saga() -> Workflow {
    Workflow::builder("order")
        .step("reserve", Step::action("reserve").with_undo())
        .step("charge", Step::action("charge").arg("reservation", Arg::result("reserve")).with_undo())
        .step("notify", Step::action("notify").arg("reservation", Arg::result("reserve")))
        .step("audit", Step::action("audit").arg("reservation", Arg::result("reserve")).with_undo())
        .step("ship", Step::action("ship").arg("payment", Arg::result("charge")).with_undo())
        .step("thank", Step::action("thank").arg("shipment", Arg::result("ship")))
        .build()
        .expect("it builds")
}

/// Steps take these times; `ship` fails; undos take 3 ms, and `undo_error` names one that fails.
fn order_script(undo_error: Option<&'static str>) -> support::Script {
    Box::new(move |command: &Command| match command {
        Command::Undo { task, .. } if Some(task.step.as_str()) == undo_error => {
            Some((3, Reply::Undo(Err("refund API down".into()))))
        }
        Command::Undo { .. } => Some((3, Reply::Undo(Ok(())))),
        Command::Run { task, .. } => {
            let (delay, outcome) = match task.step.as_str() {
                "reserve" => (10, Outcome::Ok(json!("R1"))),
                "charge" => (10, Outcome::Ok(json!("C1"))),
                "notify" => (5, Outcome::Ok(json!("N1"))),
                // Still running when `ship` fails: it completes, so it must be undone too.
                "audit" => (100, Outcome::Ok(json!("A1"))),
                "ship" => (5, Outcome::Error("no courier".into())),
                _ => (1, Outcome::Ok(Value::Null)),
            };
            Some((delay, Reply::Outcome(outcome)))
        }
        other => panic!("unexpected {other:?}"),
    })
}

#[test]
fn completed_steps_are_undone_dependents_first_after_running_steps_finish() {
    let mut sim = Sim::start(order_saga(), Value::Null, 1, order_script(None));
    sim.finish();

    assert_eq!(
        sim.event_names(),
        [
            "run_started",
            "step_started reserve",
            "step_completed reserve",
            "step_started charge",
            "step_started notify",
            "step_started audit",
            "step_completed notify",
            "step_completed charge",
            "step_started ship",
            "step_failed ship",
            "step_completed audit",
            "step_undone audit",
            "step_undone charge",
            "step_undone reserve",
            "run_compensated",
            "run_failed",
        ]
    );
    // `notify` has no undo, `ship` failed and `thank` never started: none of them is undone.
    assert_eq!(sim.tasks_of("undo"), ["audit", "charge", "reserve"]);
    assert!(!sim.tasks_of("run").contains(&"thank".to_owned()));
    let undo_starts: Vec<u64> =
        sim.commands.iter().filter(|(_, c)| matches!(c, Command::Undo { .. })).map(|(at, _)| *at).collect();
    assert_eq!(undo_starts, [110, 113, 116], "undo waits for `audit`, then goes one at a time");
    assert!(sim.commands.iter().any(|(_, command)| *command
        == Command::Undo { task: Task::step("charge"), action: "charge".into(), result: json!("C1") }));

    let tail: Vec<_> = sim.events.iter().rev().take(2).map(|event| (event.at, event.kind.clone())).collect();
    assert_eq!(
        tail,
        [
            (119, EventKind::RunFailed { duration_ms: 119, task: Task::step("ship"), error: "no courier".into() }),
            (119, EventKind::RunCompensated { duration_ms: 9, undone: 3, undo_failures: 0 }),
        ]
    );
    assert_eq!(
        sim.step_states(),
        [
            ("reserve", TaskState::Undone),
            ("charge", TaskState::Undone),
            ("notify", TaskState::Completed),
            ("audit", TaskState::Undone),
            ("ship", TaskState::Failed),
            ("thank", TaskState::Pending),
        ]
    );
    assert_eq!(sim.run.outcome(), Some(Outcome::Error("ship: no courier".into())));
}

#[test]
fn a_failed_undo_is_reported_and_the_other_undos_still_run() {
    let mut sim = Sim::start(order_saga(), Value::Null, 1, order_script(Some("charge")));
    sim.finish();
    assert_eq!(sim.tasks_of("undo"), ["audit", "charge", "reserve"]);
    assert!(sim.events.iter().any(|event| event.kind
        == EventKind::StepUndoFailed { task: Task::step("charge"), duration_ms: 3, error: "refund API down".into() }));
    assert!(
        sim.events
            .iter()
            .any(|event| matches!(event.kind, EventKind::RunCompensated { undone: 2, undo_failures: 1, .. }))
    );
    let charge = sim.run.step("charge").expect("a step");
    assert_eq!((charge.state, charge.error.as_deref()), (TaskState::UndoFailed, Some("refund API down")));
    assert_eq!(sim.run.status(), RunStatus::Failed);
}

/// One step with a compensation, whose attempts all fail, and a step that reads it.
fn compensated(max_retries: u32, decide: fn(u32) -> Compensation) -> Sim {
    let workflow = Workflow::builder("w")
        .step("pay", Step::action("pay").with_compensate().max_retries(max_retries).backoff(0, 0))
        .step("receipt", Step::action("receipt").arg("payment", Arg::result("pay")))
        .build()
        .expect("it builds");
    let script = Box::new(move |command: &Command| match command {
        Command::Run { task, attempt, .. } if task.step == "pay" => {
            Some((10, Reply::Outcome(Outcome::Error(format!("declined #{attempt}")))))
        }
        Command::Compensate { attempt, .. } => Some((2, Reply::Compensation(decide(*attempt)))),
        other => Some(answer_ok(other, 1)),
    });
    let mut sim = Sim::start(workflow, Value::Null, 1, script);
    sim.finish();
    sim
}

#[test]
fn a_compensation_can_retry_its_step() {
    let sim = compensated(2, |_| Compensation::Retry);
    let compensations: Vec<_> = sim.commands.iter().filter(|(_, c)| matches!(c, Command::Compensate { .. })).collect();
    assert_eq!(
        compensations[0],
        &(
            10,
            Command::Compensate {
                task: Task::step("pay"),
                action: "pay".into(),
                attempt: 1,
                error: "declined #1".into(),
            }
        )
    );
    // Three attempts (max_retries 2), each compensated; the third's retry is refused and the failure stands.
    assert_eq!(sim.starts_of(&Task::step("pay")), [0, 12, 24]);
    assert_eq!(compensations.len(), 3);
    assert!(sim.events.iter().any(|event| matches!(
        &event.kind,
        EventKind::StepRetrying { attempt: 1, duration_ms: 12, reason, .. } if reason == "declined #1"
    )));
    let failed = sim.events.iter().find(|event| matches!(event.kind, EventKind::StepFailed { .. }));
    assert_eq!(failed.map(|event| event.at), Some(36));
    assert_eq!(sim.run.status(), RunStatus::Failed);
}

#[test]
fn a_compensation_can_retry_into_a_success() {
    let workflow = Workflow::builder("w")
        .step("pay", Step::action("pay").with_compensate().backoff(0, 0))
        .build()
        .expect("it builds");
    let script = Box::new(|command: &Command| match command {
        Command::Run { attempt: 1, .. } => Some((10, Reply::Outcome(Outcome::Error("declined".into())))),
        Command::Compensate { .. } => Some((0, Reply::Compensation(Compensation::Retry))),
        _ => Some((10, Reply::Outcome(Outcome::Ok(json!("paid"))))),
    });
    let mut sim = Sim::start(workflow, Value::Null, 1, script);
    sim.finish();
    assert_eq!(
        sim.event_names(),
        [
            "run_started",
            "step_started pay",
            "step_retrying pay",
            "step_started pay",
            "step_completed pay",
            "run_completed",
        ]
    );
    assert_eq!(sim.run.outcome(), Some(Outcome::Ok(json!("paid"))));
}

#[test]
fn a_compensation_can_continue_with_a_value_in_place_of_the_result() {
    let sim = compensated(3, |_| Compensation::Continue(json!("pay later")));
    assert_eq!(sim.starts_of(&Task::step("pay")), [0], "continuing does not retry");
    let completed = sim
        .events
        .iter()
        .find(|event| matches!(&event.kind, EventKind::StepCompleted { task, .. } if task.step == "pay"));
    assert_eq!(
        completed.map(|event| (event.at, event.kind.clone())),
        Some((12, EventKind::StepCompleted { task: Task::step("pay"), attempt: 1, duration_ms: 12 }))
    );
    let receipt_arguments = sim.commands.iter().find_map(|(_, command)| match command {
        Command::Run { task, arguments, .. } if task.step == "receipt" => Some(arguments.clone()),
        _ => None,
    });
    assert_eq!(receipt_arguments.map(|arguments| arguments["payment"].clone()), Some(json!("pay later")));
    assert_eq!(sim.run.status(), RunStatus::Completed);
}

#[test]
fn a_compensation_retry_without_retries_left_lets_the_failure_stand() {
    let sim = compensated(0, |_| Compensation::Retry);
    assert_eq!(sim.starts_of(&Task::step("pay")), [0]);
    assert_eq!(
        sim.event_names(),
        ["run_started", "step_started pay", "step_failed pay", "run_compensated", "run_failed",]
    );
}

#[test]
fn a_halt_stops_scheduling_waits_for_running_steps_and_undoes_nothing() {
    let workflow = Workflow::builder("w")
        .step("a", Step::action("a").with_undo())
        .step("gate", Step::action("gate").arg("a", Arg::result("a")).with_undo())
        .step("side", Step::action("side").arg("a", Arg::result("a")).with_undo())
        .step("after", Step::action("after").arg("gate", Arg::result("gate")))
        .build()
        .expect("it builds");
    let script = Box::new(|command: &Command| match command.task().step.as_str() {
        "gate" => Some((5, Reply::Outcome(Outcome::Halt("waiting for approval".into())))),
        "side" => Some((50, Reply::Outcome(Outcome::Ok(json!("side done"))))),
        _ => Some(answer_ok(command, 10)),
    });
    let mut sim = Sim::start(workflow, Value::Null, 1, script);
    sim.finish();

    assert_eq!(
        sim.event_names(),
        [
            "run_started",
            "step_started a",
            "step_completed a",
            "step_started gate",
            "step_started side",
            "step_completed side",
            "run_halted",
        ]
    );
    assert!(sim.tasks_of("undo").is_empty());
    let last = sim.events.last().expect("events");
    assert_eq!(
        (last.at, &last.kind),
        (
            60,
            &EventKind::RunHalted { duration_ms: 60, task: Task::step("gate"), reason: "waiting for approval".into() }
        )
    );
    assert_eq!(
        sim.step_states(),
        [
            ("a", TaskState::Completed),
            ("gate", TaskState::Halted),
            ("side", TaskState::Completed),
            ("after", TaskState::Pending),
        ]
    );
    assert_eq!(sim.run.status(), RunStatus::Halted);
    assert_eq!(sim.run.outcome(), Some(Outcome::Halt("gate: waiting for approval".into())));
}

#[test]
fn a_failure_while_halting_is_recorded_but_the_run_still_halts() {
    let workflow = Workflow::builder("w")
        .step("stop", Step::action("stop"))
        .step("breaks", Step::action("breaks").with_compensate())
        .build()
        .expect("it builds");
    let script = Box::new(|command: &Command| match command.task().step.as_str() {
        "stop" => Some((1, Reply::Outcome(Outcome::Halt("enough".into())))),
        _ => Some((5, Reply::Outcome(Outcome::Error("broken".into())))),
    });
    let mut sim = Sim::start(workflow, Value::Null, 1, script);
    sim.finish();
    assert!(sim.tasks_of("compensate").is_empty(), "a stopping run compensates nothing");
    assert_eq!(sim.run.step("breaks").map(|record| record.state), Some(TaskState::Failed));
    assert_eq!(sim.run.status(), RunStatus::Halted);
}

#[test]
fn a_compensation_still_deciding_when_another_step_fails_is_awaited() {
    let workflow = Workflow::builder("w")
        .step("pay", Step::action("pay").with_compensate().with_undo())
        .step("breaks", Step::action("breaks"))
        .build()
        .expect("it builds");
    let script = Box::new(|command: &Command| match command {
        Command::Run { task, .. } if task.step == "pay" => Some((1, Reply::Outcome(Outcome::Error("declined".into())))),
        Command::Run { .. } => Some((5, Reply::Outcome(Outcome::Error("broken".into())))),
        // The compensation decides after `breaks` failed; its value is a result like any other, so it is undone.
        Command::Compensate { .. } => Some((20, Reply::Compensation(Compensation::Continue(json!("IOU"))))),
        other => Some(answer_ok(other, 0)),
    });
    let mut sim = Sim::start(workflow, Value::Null, 1, script);
    sim.finish();
    let undo = sim.commands.iter().find(|(_, command)| matches!(command, Command::Undo { .. }));
    assert_eq!(
        undo,
        Some(&(21, Command::Undo { task: Task::step("pay"), action: "pay".into(), result: json!("IOU") }))
    );
    assert!(matches!(
        &sim.events.last().expect("events").kind,
        EventKind::RunFailed { task, error, .. } if task.step == "breaks" && error == "broken"
    ));
}

#[test]
fn a_map_cut_short_by_another_failure_is_not_left_running() {
    let workflow = Workflow::builder("w")
        .max_concurrency(1)
        .step("breaks", Step::action("breaks"))
        .step("each", Step::map("each", Arg::value(json!([1, 2, 3])), 3))
        .build()
        .expect("it builds");
    let script = Box::new(|command: &Command| match command.task().step.as_str() {
        "breaks" => Some((5, Reply::Outcome(Outcome::Error("broken".into())))),
        _ => Some(answer_ok(command, 1)),
    });
    let mut sim = Sim::start(workflow, Value::Null, 1, script);
    sim.finish();
    let each = sim.run.step("each").expect("a step");
    assert_eq!(each.state, TaskState::Cancelled);
    assert!(each.items.iter().all(|item| item.state == TaskState::Pending), "no element ever started");
    assert_eq!(sim.run.status(), RunStatus::Failed);
}
