//! The task that drives one run: it hands the run's commands to actions (or to child runs), publishes its events,
//! feeds it their reports, and wakes it when a timeout or backoff ends.
//!
//! One task per run keeps the run's events in order on its topic without a lock held across a publish; the run's
//! mutex is held only while the core is called, never across an `await`, so `Engine::status` never waits long.
//!
//! An action's attempt that times out is aborted at its next `.await`, so a hung call (a request that never
//! answers) does not hold its resources for the life of the process; its late result would be refused anyway.
//! Whether an attempt still counts is the core's answer (`Run::is_running`). A sub-workflow step's child run is not
//! stopped by its step's timeout: aborting the wait would not stop the run.

use crate::command::{Command, Compensation, Outcome, Task};
use crate::engine::payloads::{event_json, summary_json};
use crate::engine::{Engine, RUNS_TOPIC, lock, run_topic};
use crate::event::Event;
use crate::run::Run;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

/// What finished work reports back to its run.
#[derive(Debug)]
enum Report {
    Outcome { task: Task, attempt: u32, outcome: Outcome },
    Compensation { task: Task, decision: Compensation },
    Undone { task: Task, result: Result<(), String> },
}

/// A notification ready to publish.
struct Notification {
    topic: String,
    event: &'static str,
    payload: String,
}

/// What one turn of the core produced, taken under the run's lock and acted on after it.
struct Turn {
    commands: Vec<Command>,
    notifications: Vec<Notification>,
    wake_at: Option<u64>,
    outcome: Option<Outcome>,
}

pub(super) async fn drive(
    engine: Engine,
    run: Arc<Mutex<Run>>,
    parent: Option<String>,
    done: oneshot::Sender<Outcome>,
) {
    let run_id = lock(&run).id().to_owned();
    let topic = run_topic(&run_id);
    let (reports, mut inbox) = mpsc::unbounded_channel();
    let mut seq = 0;
    // The actions' attempts at work, to abort those the run no longer waits for.
    let mut attempts: HashMap<(Task, u32), AbortHandle> = HashMap::new();
    let outcome = loop {
        let turn = take_turn(&engine, &run, parent.as_deref(), &topic, &mut seq);
        for Notification { topic, event, payload } in turn.notifications {
            engine.shared.notifier.publish(&topic, event, payload);
        }
        for command in turn.commands {
            if let Some((attempt, work)) = dispatch(&engine, &run_id, command, &reports) {
                attempts.insert(attempt, work);
            }
        }
        if let Some(outcome) = turn.outcome {
            break outcome;
        }
        let report = match turn.wake_at {
            Some(at) => tokio::select! {
                report = inbox.recv() => report,
                () = tokio::time::sleep_until(engine.shared.clock.instant(at)) => None,
            },
            // Something is running, backing off or being undone, or the run would have ended: a report will come.
            None => inbox.recv().await,
        };
        let now = engine.shared.clock.now();
        let mut run = lock(&run);
        let refused = match report {
            None => {
                run.handle_timeout(now);
                Ok(())
            }
            Some(Report::Outcome { task, attempt, outcome }) => run.handle_step_outcome(now, &task, attempt, outcome),
            Some(Report::Compensation { task, decision }) => run.handle_compensation(now, &task, decision),
            Some(Report::Undone { task, result }) => run.handle_undo_done(now, &task, result),
        };
        if let Err(refused) = refused {
            // An attempt that outlived its timeout: the run has moved on, and its late result changes nothing.
            tracing::debug!(run = %run_id, %refused, "late report ignored");
        }
        // Reported attempts are done (aborting them does nothing); timed-out ones are stopped here.
        attempts.retain(|(task, attempt), work| {
            let running = run.is_running(task, *attempt);
            if !running && !work.is_finished() {
                tracing::debug!(run = %run_id, step = %task.step, attempt, "aborting an attempt that timed out");
                work.abort();
            }
            running
        });
    };
    engine.finished(&run_id, parent.is_none());
    let _ = done.send(outcome);
}

fn take_turn(engine: &Engine, run: &Mutex<Run>, parent: Option<&str>, topic: &str, seq: &mut u64) -> Turn {
    let mut run = lock(run);
    let commands = std::iter::from_fn(|| run.poll_command()).collect();
    let events: Vec<Event> = std::iter::from_fn(|| run.poll_event()).collect();
    let mut notifications = Vec::with_capacity(events.len());
    for event in &events {
        *seq += 1;
        let payload = event_json(&run, parent, *seq, event, &engine.shared.clock);
        let name = event.kind.name();
        // A run-level event's summary goes out just before the event itself, so whoever watches both sees a run
        // listed before its details; on each topic the order is the run's.
        if event.kind.task().is_none() {
            let summary = summary_json(&run, payload.clone());
            notifications.push(Notification {
                topic: RUNS_TOPIC.to_owned(),
                event: name,
                payload: summary.to_string(),
            });
        }
        notifications.push(Notification { topic: topic.to_owned(), event: name, payload: payload.to_string() });
    }
    let outcome = if run.status().is_finished() { run.outcome() } else { None };
    Turn { commands, notifications, wake_at: run.poll_timeout(), outcome }
}

/// Starts the work a command asks for; its report comes back through `reports`. Returns an action's attempt and
/// the handle that aborts it.
fn dispatch(
    engine: &Engine,
    run_id: &str,
    command: Command,
    reports: &mpsc::UnboundedSender<Report>,
) -> Option<((Task, u32), AbortHandle)> {
    let catalog = engine.catalog();
    let missing = |action: &str| format!("no action named '{action}' is registered");
    match command {
        Command::Run { task, action, attempt, arguments } => {
            let Some(implementation) = catalog.action_named(&action) else {
                let outcome = Outcome::Error(missing(&action));
                let _ = reports.send(Report::Outcome { task, attempt, outcome });
                return None;
            };
            let call = crate::engine::Call { run_id: run_id.to_owned(), task: task.clone(), attempt, arguments };
            let work = implementation.run(call);
            let key = (task.clone(), attempt);
            let work = report_when_done(work, reports, move |outcome| Report::Outcome {
                task,
                attempt,
                outcome: outcome.unwrap_or_else(Outcome::Error),
            });
            Some((key, work))
        }
        Command::RunWorkflow { task, attempt, workflow, inputs } => {
            match engine.spawn_run(workflow, inputs, Some(run_id.to_owned())) {
                Ok((_, child)) => {
                    let child = async move {
                        child.await.unwrap_or_else(|_| Outcome::Error("the child run ended without an outcome".into()))
                    };
                    // Not aborted on a timeout: that would stop only the waiting, not the child run.
                    report_when_done(child, reports, move |outcome| Report::Outcome {
                        task,
                        attempt,
                        outcome: outcome.unwrap_or_else(Outcome::Error),
                    });
                }
                Err(refused) => {
                    let outcome = Outcome::Error(format!("the child run did not start: {refused}"));
                    let _ = reports.send(Report::Outcome { task, attempt, outcome });
                }
            }
            None
        }
        Command::Undo { task, action, result } => {
            let Some(implementation) = catalog.action_named(&action) else {
                let _ = reports.send(Report::Undone { task, result: Err(missing(&action)) });
                return None;
            };
            let work = implementation.undo(task.clone(), result);
            report_when_done(work, reports, move |result| Report::Undone { task, result: result.and_then(|r| r) });
            None
        }
        Command::Compensate { task, action, attempt, error } => {
            let Some(implementation) = catalog.action_named(&action) else {
                let _ = reports.send(Report::Compensation { task, decision: Compensation::Fail });
                return None;
            };
            let work = implementation.compensate(task.clone(), attempt, error);
            report_when_done(work, reports, move |decision| Report::Compensation {
                task,
                decision: decision.unwrap_or(Compensation::Fail),
            });
            None
        }
    }
}

/// Runs `work` on a task of its own and sends `report(result)`, the result being `Err` with a message when the
/// work panicked: a panicking action fails what it was doing instead of leaving its run waiting forever. Returns
/// the handle that aborts the work.
fn report_when_done<T, F>(
    work: F,
    reports: &mpsc::UnboundedSender<Report>,
    report: impl FnOnce(Result<T, String>) -> Report + Send + 'static,
) -> AbortHandle
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let reports = reports.clone();
    let work = tokio::spawn(work);
    let abort = work.abort_handle();
    tokio::spawn(async move {
        let result = work.await.map_err(|failed| {
            if failed.is_panic() { "the action panicked".to_owned() } else { "the action was cancelled".to_owned() }
        });
        let _ = reports.send(report(result));
    });
    abort
}
