//! The order steps run in, the concurrency limit, and the exact notifications of a run.

mod support;

use ferrocast_reactor::{Arg, Command, Event, EventKind, Outcome, RunStatus, Step, Task, Workflow};
use serde_json::{Value, json};
use support::{Reply, Sim, succeed_after};

#[test]
fn a_step_starts_only_after_the_steps_it_reads_and_gets_their_results() {
    // a diamond (a -> b, c -> d) beside an independent step, declared out of order.
    let workflow = Workflow::builder("diamond")
        .input("order")
        .step("d", Step::action("d").arg("left", Arg::result("b")).arg("right", Arg::result("c")))
        .step("b", Step::action("b").arg("from_a", Arg::result("a")))
        .step("c", Step::action("c").arg("from_a", Arg::result("a")).arg("limit", Arg::value(3)))
        .step("a", Step::action("a").arg("order", Arg::input("order")))
        .step("solo", Step::action("solo"))
        .returns("d")
        .build()
        .expect("it builds");
    let delays = |task: &Task| match task.step.as_str() {
        "a" => 5,
        "b" => 30,
        "c" => 10,
        _ => 1,
    };
    let script = Box::new(move |command: &Command| {
        let done = Value::String(format!("{} done", command.task()));
        Some((delays(command.task()), Reply::Outcome(Outcome::Ok(done))))
    });
    let mut sim = Sim::start(workflow, json!({ "order": 42 }), 1, script);
    sim.finish();

    assert_eq!(sim.run.status(), RunStatus::Completed);
    let completed_at = |step: &str| {
        sim.events
            .iter()
            .find(|event| matches!(&event.kind, EventKind::StepCompleted { task, .. } if task.step == step))
            .map(|event| event.at)
            .expect("the step completed")
    };
    for (at, command) in &sim.commands {
        let Command::Run { task, arguments, .. } = command else { panic!("only runs: {command:?}") };
        let step = sim.run.workflow().step(&task.step).expect("a known step");
        for (name, source) in step.arguments() {
            if let Arg::Result(dependency) = source {
                assert!(completed_at(dependency) <= *at, "{task} started at {at}, before {dependency} completed");
                assert_eq!(arguments[name], json!(format!("{dependency} done")));
            }
        }
    }
    assert_eq!(sim.tasks_of("run"), ["a", "solo", "b", "c", "d"], "ready steps start in declaration order");
    assert_eq!(
        sim.commands[0].1,
        Command::Run {
            task: Task::step("a"),
            action: "a".into(),
            attempt: 1,
            arguments: support::object(json!({ "order": 42 })),
        }
    );
    assert_eq!(sim.run.outcome(), Some(Outcome::Ok(json!("d done"))));
    assert_eq!(sim.run.finished_at(), Some(5 + 30 + 1));
}

#[test]
fn never_more_than_max_concurrency_attempts_run() {
    let mut builder = Workflow::builder("wide").max_concurrency(3);
    for index in 0..10 {
        builder = builder.step(format!("s{index}"), Step::action("work"));
    }
    // Durations differ, so slots free up at different times.
    let script = Box::new(|command: &Command| {
        let index: u64 = command.task().step[1..].parse().expect("s<n>");
        Some((10 + index * 7 % 5, Reply::Outcome(Outcome::Ok(json!(index)))))
    });
    let mut sim = Sim::start(builder.build().expect("it builds"), Value::Null, 1, script);
    assert_eq!(sim.tasks_of("run"), ["s0", "s1", "s2"], "the first three start at once, the rest wait");
    sim.finish();
    assert_eq!(sim.max_running, 3);
    assert_eq!(sim.tasks_of("run").len(), 10);
    assert_eq!(sim.run.status(), RunStatus::Completed);
}

#[test]
fn map_elements_share_the_concurrency_limit_with_other_steps() {
    let workflow = Workflow::builder("mixed")
        .max_concurrency(4)
        .step("other", Step::action("slow"))
        .step("each", Step::map("work", Arg::value(json!([1, 2, 3, 4, 5, 6, 7, 8])), 8))
        .build()
        .expect("it builds");
    let mut sim = Sim::start(workflow, Value::Null, 1, succeed_after(10));
    assert_eq!(sim.tasks_of("run"), ["other", "each[0]", "each[1]", "each[2]"]);
    sim.finish();
    assert_eq!(sim.max_running, 4);
    assert_eq!(sim.run.status(), RunStatus::Completed);
}

#[test]
fn the_notifications_of_a_run_with_a_retry() {
    let workflow = Workflow::builder("greet")
        .input("name")
        .step("lookup", Step::action("lookup").arg("name", Arg::input("name")))
        // A backoff of 0 ms makes the retry's delay certain, so every timestamp can be asserted.
        .step("format", Step::action("format").arg("user", Arg::result("lookup")).max_retries(1).backoff(0, 0))
        .build()
        .expect("it builds");
    let script = Box::new(|command: &Command| match command {
        Command::Run { task, .. } if task.step == "lookup" => Some((10, Reply::Outcome(Outcome::Ok(json!("ada"))))),
        Command::Run { attempt: 1, .. } => Some((5, Reply::Outcome(Outcome::Retry("busy".into())))),
        _ => Some((7, Reply::Outcome(Outcome::Ok(json!("Hello, ada"))))),
    });
    let mut sim = Sim::start(workflow, json!({ "name": "Ada" }), 1, script);
    sim.finish();

    let lookup = || Task::step("lookup");
    let format = || Task::step("format");
    let expected = [
        (0, EventKind::RunStarted),
        (0, EventKind::StepStarted { task: lookup(), attempt: 1 }),
        (10, EventKind::StepCompleted { task: lookup(), attempt: 1, duration_ms: 10 }),
        (10, EventKind::StepStarted { task: format(), attempt: 1 }),
        (
            15,
            EventKind::StepRetrying { task: format(), attempt: 1, duration_ms: 5, reason: "busy".into(), delay_ms: 0 },
        ),
        (15, EventKind::StepStarted { task: format(), attempt: 2 }),
        (22, EventKind::StepCompleted { task: format(), attempt: 2, duration_ms: 7 }),
        (22, EventKind::RunCompleted { duration_ms: 22, result: json!("Hello, ada") }),
    ];
    let expected: Vec<Event> = expected.into_iter().map(|(at, kind)| Event { at, kind }).collect();
    assert_eq!(sim.events, expected);
    assert!(sim.run.poll_event().is_none() && sim.run.poll_command().is_none() && sim.run.poll_timeout().is_none());

    let record = sim.run.step("format").expect("a step");
    assert_eq!((record.attempts, record.started_at, record.finished_at), (2, Some(10), Some(22)));
    assert_eq!(record.result, Some(json!("Hello, ada")));
    assert_eq!(record.error.as_deref(), Some("busy"), "the latest error stays on the record");
}
