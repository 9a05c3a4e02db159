//! Invariants of every run, checked over thousands of random workflows driven with random outcomes, delays,
//! timeouts, compensations and undo failures, in simulated time.

mod support;

use ferrocast_reactor::{
    Arg, Command, Compensation, EventKind, Outcome, RunStatus, Step, Task, TaskState, Work, Workflow,
};
use serde_json::{Value, json};
use std::cell::Cell;
use std::collections::BTreeSet;
use std::rc::Rc;
use support::{Reply, Sim};

/// A small generator for the test's own choices (xorshift64*).
#[derive(Clone)]
struct Dice(Rc<Cell<u64>>);

impl Dice {
    fn new(seed: u64) -> Self {
        Dice(Rc::new(Cell::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)))
    }

    fn below(&self, bound: u64) -> u64 {
        let mut x = self.0.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound
    }

    fn chance(&self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A random DAG: each step reads some earlier steps; some are maps; every attempt has a timeout, so runs end.
fn random_workflow(dice: &Dice) -> Workflow {
    let steps = 2 + dice.below(7) as usize;
    let mut builder = Workflow::builder("random").max_concurrency(1 + dice.below(4) as usize);
    for index in 0..steps {
        let mut step = if dice.chance(25) {
            let elements: Vec<u64> = (0..dice.below(5)).collect();
            Step::map("each", Arg::value(json!(elements)), 1 + dice.below(3) as usize)
        } else {
            Step::action("act")
        };
        for earlier in 0..index {
            if dice.chance(40) {
                step = step.arg(format!("from_{earlier}"), Arg::result(format!("s{earlier}")));
            }
        }
        step = step.timeout_ms(50).max_retries(dice.below(3) as u32).backoff(10, 40);
        if dice.chance(70) {
            step = step.with_undo();
        }
        if dice.chance(40) {
            step = step.with_compensate();
        }
        builder = builder.step(format!("s{index}"), step);
    }
    builder.build().expect("a DAG of earlier steps builds")
}

fn random_script(dice: Dice) -> support::Script {
    Box::new(move |command: &Command| match command {
        Command::Run { .. } => {
            let delay = 1 + dice.below(70); // Sometimes past the 50 ms timeout.
            let outcome = match dice.below(100) {
                0..=64 => Outcome::Ok(json!(dice.below(1_000))),
                65..=76 => Outcome::Retry("flaky".into()),
                77..=89 => Outcome::Error("broken".into()),
                90..=92 => Outcome::Halt("stop".into()),
                _ => return None, // Never answered: only the timeout ends it.
            };
            Some((delay, Reply::Outcome(outcome)))
        }
        Command::Compensate { .. } => {
            let decision = match dice.below(3) {
                0 => Compensation::Retry,
                1 => Compensation::Continue(json!("instead")),
                _ => Compensation::Fail,
            };
            Some((dice.below(20), Reply::Compensation(decision)))
        }
        Command::Undo { .. } => {
            let result = if dice.chance(85) { Ok(()) } else { Err("undo failed".into()) };
            Some((dice.below(10), Reply::Undo(result)))
        }
        Command::RunWorkflow { .. } => panic!("no sub-workflows here"),
    })
}

#[test]
fn every_random_run_keeps_the_invariants() {
    let mut endings = BTreeSet::new();
    for seed in 0..3_000 {
        let dice = Dice::new(seed);
        let workflow = random_workflow(&dice);
        let mut sim = Sim::start(workflow, Value::Null, seed, random_script(dice.clone()));
        sim.finish();
        check(&sim, seed);
        endings.insert(sim.run.status().name());
    }
    assert_eq!(endings.len(), 3, "the random runs reached every ending: {endings:?}");
}

fn check(sim: &Sim, seed: u64) {
    let run = &sim.run;
    let workflow = run.workflow();
    let context = format!("seed {seed}: {:?}", sim.event_names());

    // It ends, once, with its last event; nothing is left to do.
    assert!(run.status().is_finished(), "{context}");
    let terminal = |kind: &EventKind| {
        matches!(kind, EventKind::RunCompleted { .. } | EventKind::RunFailed { .. } | EventKind::RunHalted { .. })
    };
    assert_eq!(sim.events.iter().filter(|event| terminal(&event.kind)).count(), 1, "{context}");
    assert!(terminal(&sim.events.last().expect("events").kind), "{context}");
    assert_eq!(sim.events[0].kind, EventKind::RunStarted, "{context}");
    assert_eq!(run.poll_timeout(), None, "{context}");
    let compensated = sim.events.iter().position(|event| matches!(event.kind, EventKind::RunCompensated { .. }));
    match run.status() {
        RunStatus::Failed => assert_eq!(compensated, Some(sim.events.len() - 2), "{context}"),
        _ => assert_eq!(compensated, None, "{context}"),
    }
    assert!(sim.events.windows(2).all(|pair| pair[0].at <= pair[1].at), "time only moves forward: {context}");

    // Concurrency.
    assert!(sim.max_running <= workflow.max_concurrency(), "{context}");

    // No attempt starts before the steps it reads have completed.
    let position_of = |wanted: &dyn Fn(&EventKind) -> bool| sim.events.iter().position(|event| wanted(&event.kind));
    for (index, event) in sim.events.iter().enumerate() {
        let EventKind::StepStarted { task, .. } = &event.kind else { continue };
        let step = workflow.step(&task.step).expect("a known step");
        let mut sources: Vec<&Arg> = step.arguments().iter().map(|(_, source)| source).collect();
        if let Work::Map { over, .. } = step.work() {
            sources.push(over);
        }
        for source in sources {
            if let Arg::Result(dependency) = source {
                let completed = position_of(
                    &|kind: &EventKind| matches!(kind, EventKind::StepCompleted { task, .. } if *task == Task::step(dependency.clone())),
                );
                assert!(completed.is_some_and(|completed| completed < index), "{task} before {dependency}: {context}");
            }
        }
    }

    // Undo: only after a failure, only completed tasks of undoable steps, each once, dependents first.
    let undone: Vec<Task> = sim
        .commands
        .iter()
        .filter(|(_, command)| matches!(command, Command::Undo { .. }))
        .map(|(_, command)| command.task().clone())
        .collect();
    if run.status() != RunStatus::Failed {
        assert!(undone.is_empty(), "{context}");
    }
    let distinct: BTreeSet<&Task> = undone.iter().collect();
    assert_eq!(distinct.len(), undone.len(), "{context}");
    for (index, task) in undone.iter().enumerate() {
        assert!(workflow.step(&task.step).is_some_and(|step| step.has_undo()), "{context}");
        assert!(
            sim.events
                .iter()
                .any(|event| matches!(&event.kind, EventKind::StepCompleted { task: done, .. } if done == task)),
            "{task} undone without completing: {context}"
        );
        for later in &undone[index + 1..] {
            let reads = |reader: &str, read: &str| {
                workflow
                    .step(reader)
                    .is_some_and(|step| step.arguments().iter().any(|(_, source)| *source == Arg::result(read)))
            };
            assert!(!reads(&later.step, &task.step), "{later} undone after {task}, which it reads: {context}");
        }
    }

    // Records agree with the ending: nothing is left running, and a completed run completed every step.
    for (name, record) in run.steps() {
        let states = std::iter::once(record.state).chain(record.items.iter().map(|item| item.state));
        for state in states {
            assert!(
                !matches!(
                    state,
                    TaskState::Running
                        | TaskState::Ready
                        | TaskState::BackingOff
                        | TaskState::Compensating
                        | TaskState::Undoing
                ),
                "{name} left {state:?}: {context}"
            );
        }
        if run.status() == RunStatus::Completed {
            assert_eq!(record.state, TaskState::Completed, "{context}");
        }
    }
}
