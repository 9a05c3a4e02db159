//! Map steps: a step's action run once per element of a collection, in batches.
//!
//! The collection is read when the step's dependencies have completed. Elements are released `batch_size` at a
//! time, and the next batch only once every element of the current one has completed, so a batch is a
//! checkpoint: at most one batch's work is in doubt when something fails. Released elements still share the
//! run's `max_concurrency` with every other task.

use super::{Attempt, Key, Run};
use crate::event::EventKind;
use crate::record::{StepRecord, TaskState};
use crate::step::Arg;
use serde_json::Value;

/// A running map step's collection and how far through it the step is.
#[derive(Debug)]
pub(super) struct MapProgress {
    elements: Vec<Value>,
    batch_size: usize,
    /// Elements released so far: `0..released`.
    released: usize,
    /// Released elements that have completed.
    completed: usize,
}

impl Run {
    /// Starts a map step: reads its collection and releases the first batch.
    pub(super) fn start_map(&mut self, now: u64, step: usize, over: &Arg, batch_size: usize) {
        let collection = self.resolve(over);
        let record = &mut self.records[step];
        record.attempts = 1;
        record.state = TaskState::Running;
        record.started_at = Some(now);
        let task = self.task(Key::whole(step));
        self.emit(now, EventKind::StepStarted { task, attempt: 1 });
        let Value::Array(elements) = collection else {
            let error = format!("a map step needs an array to map over, and got {}", json_kind(&collection));
            let attempt = Attempt { number: 1, started_at: now, deadline: None };
            return self.task_failed(now, Key::whole(step), attempt, error);
        };
        self.records[step].items = vec![StepRecord::pending(); elements.len()];
        self.maps.insert(step, MapProgress { elements, batch_size, released: 0, completed: 0 });
        self.release_batch(now, step);
    }

    /// The element a map task passes to its action.
    pub(super) fn map_element(&self, step: usize, item: usize) -> Value {
        self.maps.get(&step).and_then(|map| map.elements.get(item)).cloned().unwrap_or(Value::Null)
    }

    /// An element completed; when its batch is done, the next is released, or the step completes.
    pub(super) fn element_completed(&mut self, now: u64, step: usize) {
        if let Some(map) = self.maps.get_mut(&step) {
            map.completed += 1;
            if map.completed == map.released {
                self.release_batch(now, step);
            }
        }
    }

    /// Releases the next batch, or, when every element has completed, completes the step with their results.
    fn release_batch(&mut self, now: u64, step: usize) {
        let Some(map) = self.maps.get_mut(&step) else { return };
        let start = map.released;
        let end = (start + map.batch_size).min(map.elements.len());
        map.released = end;
        if start == end {
            return self.finish_map(now, step);
        }
        for item in start..end {
            self.make_ready(Key { step, item: Some(item) });
        }
    }

    fn finish_map(&mut self, now: u64, step: usize) {
        self.maps.remove(&step);
        let record = &mut self.records[step];
        let results = record.items.iter().map(|item| item.result.clone().unwrap_or(Value::Null)).collect();
        record.state = TaskState::Completed;
        record.finished_at = Some(now);
        record.result = Some(Value::Array(results));
        let duration_ms = now.saturating_sub(record.started_at.unwrap_or(now));
        let task = self.task(Key::whole(step));
        self.emit(now, EventKind::StepCompleted { task, attempt: 1, duration_ms });
        self.step_completed(now, step);
    }

    /// An element failed for good, so its map step fails (once, for the first element that does), even when the
    /// run was already stopping for another reason.
    pub(super) fn fail_map(&mut self, now: u64, step: usize, item: usize, error: &str) {
        let record = &mut self.records[step];
        if record.state != TaskState::Running {
            return;
        }
        let error = format!("element {item} failed: {error}");
        record.state = TaskState::Failed;
        record.finished_at = Some(now);
        record.error = Some(error.clone());
        let duration_ms = now.saturating_sub(record.started_at.unwrap_or(now));
        let task = self.task(Key::whole(step));
        self.emit(now, EventKind::StepFailed { task, attempt: 1, duration_ms, error });
    }

    /// After one of its elements is undone: a map step that had completed is undone once none of its elements
    /// remains completed.
    pub(super) fn map_element_undone(&mut self, step: usize) {
        let record = &mut self.records[step];
        let still_done =
            record.items.iter().any(|item| matches!(item.state, TaskState::Completed | TaskState::Undoing));
        if record.state == TaskState::Completed && !still_done {
            record.state = TaskState::Undone;
        }
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
