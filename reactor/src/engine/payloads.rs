//! The JSON the engine shows: each event as published on a run's topic and summarized on `reactor:runs`, and a
//! run's status with its table of steps.

use crate::command::{Outcome, Task};
use crate::engine::clock::Clock;
use crate::event::{Event, EventKind};
use crate::record::StepRecord;
use crate::run::Run;
use serde_json::{Map, Value, json};

/// What a run's event says besides the fields every event has: its task, attempt, durations and reasons.
fn event_fields(run: &Run, kind: &EventKind) -> Vec<(&'static str, Value)> {
    let task_fields = |task: &Task| {
        let mut fields = vec![("step", json!(task.step))];
        if let Some(item) = task.item {
            fields.push(("item", json!(item)));
        }
        fields
    };
    let mut fields = kind.task().map(task_fields).unwrap_or_default();
    match kind {
        EventKind::RunStarted => {
            fields.push(("inputs", Value::Object(run.inputs().clone())));
            fields.push(("steps", json!(run.workflow().step_names().collect::<Vec<_>>())));
        }
        EventKind::RunCompleted { duration_ms, result } => {
            fields.extend([("duration_ms", json!(duration_ms)), ("result", result.clone())]);
        }
        EventKind::RunFailed { duration_ms, task, error } => {
            fields.extend(task_fields(task));
            fields.extend([("duration_ms", json!(duration_ms)), ("error", json!(error))]);
        }
        EventKind::RunHalted { duration_ms, task, reason } => {
            fields.extend(task_fields(task));
            fields.extend([("duration_ms", json!(duration_ms)), ("reason", json!(reason))]);
        }
        EventKind::RunCompensated { duration_ms, undone, undo_failures } => {
            fields.extend([
                ("duration_ms", json!(duration_ms)),
                ("undone", json!(undone)),
                ("undo_failures", json!(undo_failures)),
            ]);
        }
        EventKind::StepStarted { attempt, .. } => fields.push(("attempt", json!(attempt))),
        EventKind::StepCompleted { task, attempt, duration_ms } => {
            let result = record_of(run, task).and_then(|record| record.result.clone()).unwrap_or(Value::Null);
            fields.extend([("attempt", json!(attempt)), ("duration_ms", json!(duration_ms)), ("result", result)]);
        }
        EventKind::StepRetrying { attempt, duration_ms, reason, delay_ms, .. } => {
            fields.extend([
                ("attempt", json!(attempt)),
                ("duration_ms", json!(duration_ms)),
                ("reason", json!(reason)),
                ("delay_ms", json!(delay_ms)),
            ]);
        }
        EventKind::StepFailed { attempt, duration_ms, error, .. } => {
            fields.extend([("attempt", json!(attempt)), ("duration_ms", json!(duration_ms)), ("error", json!(error))]);
        }
        EventKind::StepUndone { duration_ms, .. } => fields.push(("duration_ms", json!(duration_ms))),
        EventKind::StepUndoFailed { duration_ms, error, .. } => {
            fields.extend([("duration_ms", json!(duration_ms)), ("error", json!(error))]);
        }
    }
    fields
}

fn record_of<'r>(run: &'r Run, task: &Task) -> Option<&'r StepRecord> {
    let record = run.step(&task.step)?;
    match task.item {
        None => Some(record),
        Some(item) => record.items.get(item),
    }
}

/// An event as published on `reactor:<run_id>`: `{run_id, workflow, parent?, seq, at, …}`, `seq` counting the
/// run's events from 1 and `at` in Unix milliseconds, then the event's own fields.
pub(crate) fn event_json(run: &Run, parent: Option<&str>, seq: u64, event: &Event, clock: &Clock) -> Value {
    let mut fields = Map::new();
    fields.insert("run_id".into(), json!(run.id()));
    fields.insert("workflow".into(), json!(run.workflow().name()));
    if let Some(parent) = parent {
        fields.insert("parent".into(), json!(parent));
    }
    fields.insert("seq".into(), json!(seq));
    fields.insert("at".into(), json!(clock.unix_ms(event.at)));
    for (key, value) in event_fields(run, &event.kind) {
        fields.insert(key.to_owned(), value);
    }
    Value::Object(fields)
}

/// A run-level event as summarized on `reactor:runs`: the event without inputs, results or step list, with the
/// run's status and how many steps have completed.
pub(crate) fn summary_json(run: &Run, mut event: Value) -> Value {
    if let Some(fields) = event.as_object_mut() {
        for bulky in ["inputs", "result", "steps"] {
            fields.remove(bulky);
        }
        let completed = run.steps().filter(|(_, record)| record.state == crate::TaskState::Completed).count();
        fields.insert("status".into(), json!(run.status().name()));
        fields.insert("steps_total".into(), json!(run.workflow().step_names().count()));
        fields.insert("steps_completed".into(), json!(completed));
    }
    event
}

/// A run's status, as `GET /api/runs/{id}` shows it: where it stands, its outcome once it has one, and a row per
/// step (a map step's elements under `items`).
pub(crate) fn status_json(run: &Run, parent: Option<&str>, clock: &Clock) -> Value {
    let ended = run.finished_at().unwrap_or_else(|| clock.now());
    let outcome = match run.outcome() {
        None => Value::Null,
        Some(Outcome::Ok(result)) => json!({ "ok": result }),
        Some(Outcome::Error(error)) => json!({ "error": error }),
        Some(Outcome::Halt(reason)) => json!({ "halt": reason }),
        Some(Outcome::Retry(reason)) => json!({ "error": reason }),
    };
    let steps: Vec<Value> = run.steps().map(|(name, record)| step_json(name, record, clock)).collect();
    json!({
        "run_id": run.id(),
        "workflow": run.workflow().name(),
        "parent": parent,
        "status": run.status().name(),
        "started_at": clock.unix_ms(run.started_at()),
        "finished_at": run.finished_at().map(|at| clock.unix_ms(at)),
        "duration_ms": ended.saturating_sub(run.started_at()),
        "inputs": run.inputs(),
        "outcome": outcome,
        "steps": steps,
    })
}

fn step_json(name: &str, record: &StepRecord, clock: &Clock) -> Value {
    let duration = record.started_at.zip(record.finished_at).map(|(started, finished)| finished - started);
    let items: Vec<Value> =
        record.items.iter().enumerate().map(|(index, item)| step_json(&index.to_string(), item, clock)).collect();
    json!({
        "name": name,
        "state": record.state.name(),
        "attempts": record.attempts,
        "started_at": record.started_at.map(|at| clock.unix_ms(at)),
        "finished_at": record.finished_at.map(|at| clock.unix_ms(at)),
        "duration_ms": duration,
        "result": record.result,
        "error": record.error,
        "items": items,
    })
}
