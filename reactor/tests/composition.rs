//! Steps made of other work: sub-workflows and maps.

mod support;

use ferrocast_reactor::{Arg, Command, EventKind, Outcome, RunStatus, Step, Task, TaskState, Workflow};
use serde_json::{Value, json};
use std::sync::Arc;
use support::{Reply, Sim, answer_ok};

/// A child workflow that doubles `n`, failing (after undoing its first step) when `n` is negative.
fn doubler() -> Arc<Workflow> {
    let workflow = Workflow::builder("doubler")
        .input("n")
        .step("check", Step::action("check").arg("n", Arg::input("n")).with_undo())
        .step("double", Step::action("double").arg("n", Arg::input("n")).arg("checked", Arg::result("check")))
        .build()
        .expect("it builds");
    Arc::new(workflow)
}

/// Runs a child run to its end in simulated time, as an executor would.
fn run_child(workflow: Arc<Workflow>, inputs: serde_json::Map<String, Value>) -> Sim {
    let script = Box::new(|command: &Command| match command {
        Command::Run { task, arguments, .. } if task.step == "double" => {
            let n = arguments["n"].as_i64().expect("n is a number");
            let outcome = if n < 0 { Outcome::Error(format!("cannot double {n}")) } else { Outcome::Ok(json!(n * 2)) };
            Some((4, Reply::Outcome(outcome)))
        }
        other => Some(answer_ok(other, 3)),
    });
    let mut child = Sim::start_shared(workflow, Value::Object(inputs), 5, script);
    child.finish();
    child
}

fn parent(n: i64) -> (Sim, std::rc::Rc<std::cell::RefCell<Vec<Sim>>>) {
    let workflow = Workflow::builder("parent")
        .step("pick", Step::action("pick"))
        .step("sub", Step::workflow(doubler()).arg("n", Arg::result("pick")))
        .step("report", Step::action("report").arg("doubled", Arg::result("sub")))
        .build()
        .expect("it builds");
    let children = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen = std::rc::Rc::clone(&children);
    let script = Box::new(move |command: &Command| match command {
        Command::RunWorkflow { workflow, inputs, .. } => {
            let child = run_child(Arc::clone(workflow), inputs.clone());
            let reply = (child.now, Reply::Outcome(child.run.outcome().expect("the child ended")));
            seen.borrow_mut().push(child);
            Some(reply)
        }
        Command::Run { task, .. } if task.step == "pick" => Some((1, Reply::Outcome(Outcome::Ok(json!(n))))),
        other => Some(answer_ok(other, 1)),
    });
    let mut sim = Sim::start(workflow, Value::Null, 1, script);
    sim.finish();
    (sim, children)
}

#[test]
fn a_sub_workflow_step_runs_a_child_run_and_takes_its_result() {
    let (sim, children) = parent(21);
    let workflow_command = sim.commands.iter().find(|(_, c)| matches!(c, Command::RunWorkflow { .. }));
    let Some((1, Command::RunWorkflow { task, attempt: 1, workflow, inputs })) = workflow_command else {
        panic!("the child is asked for once `pick` completed: {workflow_command:?}")
    };
    assert_eq!((task, workflow.name()), (&Task::step("sub"), "doubler"));
    assert_eq!(Value::Object(inputs.clone()), json!({ "n": 21 }));
    assert_eq!(children.borrow()[0].run.status(), RunStatus::Completed);
    assert_eq!(sim.run.step("sub").and_then(|record| record.result.clone()), Some(json!(42)));
    let report = sim.commands.iter().find_map(|(_, command)| match command {
        Command::Run { task, arguments, .. } if task.step == "report" => Some(arguments["doubled"].clone()),
        _ => None,
    });
    assert_eq!(report, Some(json!(42)));
    assert_eq!(sim.run.status(), RunStatus::Completed);
}

#[test]
fn a_failed_child_undoes_its_own_steps_and_fails_its_step() {
    let (sim, children) = parent(-1);
    let child = &children.borrow()[0];
    assert_eq!(child.tasks_of("undo"), ["check"], "the child undid its completed step");
    assert_eq!(child.run.outcome(), Some(Outcome::Error("double: cannot double -1".into())));
    let failed = sim.events.iter().find(|event| matches!(event.kind, EventKind::StepFailed { .. }));
    assert!(matches!(
        failed.map(|event| &event.kind),
        Some(EventKind::StepFailed { task, error, .. }) if task.step == "sub" && error == "double: cannot double -1"
    ));
    assert_eq!(sim.run.status(), RunStatus::Failed);
}

/// A map step squaring each input number, `batch_size` at a time, and a step that sums the squares.
fn squares(batch_size: usize, numbers: Value, fail_on: Option<i64>) -> Sim {
    let workflow = Workflow::builder("squares")
        .input("numbers")
        .step(
            "square",
            Step::map("square", Arg::input("numbers"), batch_size).arg("unit", Arg::value("m²")).with_undo(),
        )
        .step("sum", Step::action("sum").arg("squares", Arg::result("square")))
        .build()
        .expect("it builds");
    let script = Box::new(move |command: &Command| match command {
        Command::Run { task, arguments, .. } if task.step == "square" => {
            let n = arguments["item"].as_i64().expect("a number");
            assert_eq!(arguments["unit"], json!("m²"), "elements get the step's arguments too");
            let outcome =
                if Some(n) == fail_on { Outcome::Error(format!("{n} is cursed")) } else { Outcome::Ok(json!(n * n)) };
            // Later elements take longer, so a batch ends with its slowest element.
            Some((10 + n as u64, Reply::Outcome(outcome)))
        }
        other => Some(answer_ok(other, 1)),
    });
    let mut sim = Sim::start(workflow, json!({ "numbers": numbers }), 1, script);
    sim.finish();
    sim
}

#[test]
fn a_map_step_runs_its_action_per_element_in_batches() {
    let sim = squares(2, json!([1, 2, 3, 4, 5]), None);
    assert_eq!(sim.tasks_of("run"), ["square[0]", "square[1]", "square[2]", "square[3]", "square[4]", "sum"]);
    let start = |item| sim.starts_of(&Task::item("square", item))[0];
    // Batch [0, 1] ends at 12 (element 1 takes 12 ms), batch [2, 3] at 12 + 14, then [4].
    assert_eq!((start(0), start(1), start(2), start(3), start(4)), (0, 0, 12, 12, 26));
    assert_eq!(sim.run.step("square").and_then(|record| record.result.clone()), Some(json!([1, 4, 9, 16, 25])));
    let record = sim.run.step("square").expect("a step");
    assert_eq!(record.items.len(), 5);
    assert!(record.items.iter().all(|item| item.state == TaskState::Completed && item.attempts == 1));
    let names = sim.event_names();
    assert_eq!(names.first().map(String::as_str), Some("run_started"));
    assert_eq!(names[1], "step_started square", "the map starts as a whole, then its elements");
    assert_eq!(
        names[names.len() - 4..],
        ["step_completed square", "step_started sum", "step_completed sum", "run_completed"]
    );
    assert_eq!(sim.run.status(), RunStatus::Completed);
}

#[test]
fn a_failed_element_fails_its_map_and_completed_elements_are_undone() {
    let sim = squares(2, json!([1, 2, 3, 4]), Some(3));
    // Batch [0, 1] completes; in batch [2, 3], element 2 fails at 25 while element 3 runs until 26.
    assert_eq!(sim.tasks_of("undo"), ["square[3]", "square[1]", "square[0]"]);
    let step_failed = sim
        .events
        .iter()
        .find(|event| matches!(&event.kind, EventKind::StepFailed { task, .. } if *task == Task::step("square")));
    assert!(matches!(
        step_failed.map(|event| &event.kind),
        Some(EventKind::StepFailed { error, .. }) if error == "element 2 failed: 3 is cursed"
    ));
    assert!(matches!(
        &sim.events.last().expect("events").kind,
        EventKind::RunFailed { task, error, .. } if *task == Task::item("square", 2) && error == "3 is cursed"
    ));
    let record = sim.run.step("square").expect("a step");
    let states: Vec<TaskState> = record.items.iter().map(|item| item.state).collect();
    assert_eq!(states, [TaskState::Undone, TaskState::Undone, TaskState::Failed, TaskState::Undone]);
    assert!(!sim.tasks_of("run").contains(&"sum".to_owned()));
}

#[test]
fn a_map_over_something_not_an_array_fails_its_step() {
    let sim = squares(2, json!({ "not": "a list" }), None);
    assert_eq!(
        sim.event_names(),
        ["run_started", "step_started square", "step_failed square", "run_compensated", "run_failed",]
    );
    assert_eq!(
        sim.run.outcome(),
        Some(Outcome::Error("square: a map step needs an array to map over, and got an object".into()))
    );
}

#[test]
fn a_map_over_an_empty_array_completes_at_once() {
    let sim = squares(3, json!([]), None);
    assert_eq!(sim.run.step("square").and_then(|record| record.result.clone()), Some(json!([])));
    assert_eq!(sim.tasks_of("run"), ["sum"]);
    assert_eq!(sim.run.status(), RunStatus::Completed);
}

#[test]
fn an_empty_map_as_the_last_step_ends_the_run_once() {
    // Found by tests/invariants.rs: completing `first` activates the empty map, which completes within that
    // completion and is the run's last step.
    let workflow = Workflow::builder("w")
        .step("first", Step::action("first"))
        .step("each", Step::map("each", Arg::value(json!([])), 2).arg("after", Arg::result("first")))
        .build()
        .expect("it builds");
    let mut sim = Sim::start(workflow, Value::Null, 1, Box::new(|command: &Command| Some(answer_ok(command, 1))));
    sim.finish();
    assert_eq!(
        sim.event_names(),
        [
            "run_started",
            "step_started first",
            "step_completed first",
            "step_started each",
            "step_completed each",
            "run_completed",
        ]
    );
}

#[test]
fn an_empty_map_at_the_start_activates_its_dependents_once() {
    // Found by tests/invariants.rs: the empty map completes while the run is choosing its first steps.
    let workflow = Workflow::builder("w")
        .step("each", Step::map("each", Arg::value(json!([])), 2))
        .step("then", Step::action("then").arg("all", Arg::result("each")))
        .build()
        .expect("it builds");
    let mut sim = Sim::start(workflow, Value::Null, 1, Box::new(|command: &Command| Some(answer_ok(command, 1))));
    sim.finish();
    assert_eq!(sim.tasks_of("run"), ["then"]);
    assert_eq!(sim.run.status(), RunStatus::Completed);
}
