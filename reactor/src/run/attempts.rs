//! The forward path: tasks become ready, start attempts, and complete, retry, fail or halt.

use super::{Attempt, Key, Run, RunStatus};
use crate::command::Command;
use crate::event::EventKind;
use crate::record::TaskState;
use crate::step::{Arg, MAP_ITEM_ARGUMENT, Work};
use serde_json::{Map, Value};
use std::sync::Arc;

impl Run {
    /// A step whose dependencies have all completed: it becomes ready, or a map step starts its first batch.
    pub(super) fn activate(&mut self, now: u64, step: usize) {
        if self.status != RunStatus::Running {
            return;
        }
        let workflow = Arc::clone(&self.workflow);
        match &workflow.nodes()[step].step.work {
            Work::Map { over, batch_size, .. } => self.start_map(now, step, over, *batch_size),
            Work::Action(_) | Work::Workflow(_) => self.make_ready(Key::whole(step)),
        }
    }

    pub(super) fn make_ready(&mut self, key: Key) {
        self.record_mut(key).state = TaskState::Ready;
        self.ready.insert(key);
    }

    /// Starts ready tasks while fewer than `max_concurrency` attempts run.
    pub(super) fn start_ready(&mut self, now: u64) {
        while self.running.len() < self.workflow.max_concurrency() {
            let Some(key) = self.ready.pop_first() else { break };
            self.start_attempt(now, key);
        }
    }

    fn start_attempt(&mut self, now: u64, key: Key) {
        let workflow = Arc::clone(&self.workflow);
        let step = &workflow.nodes()[key.step].step;
        let record = self.record_mut(key);
        record.attempts = record.attempts.saturating_add(1);
        record.state = TaskState::Running;
        record.started_at.get_or_insert(now);
        let number = record.attempts;
        let deadline = step.timeout_ms.map(|timeout_ms| now.saturating_add(timeout_ms));
        self.running.insert(key, Attempt { number, started_at: now, deadline });
        let task = self.task(key);
        self.emit(now, EventKind::StepStarted { task: task.clone(), attempt: number });
        let arguments = self.arguments(key);
        let command = match &step.work {
            Work::Action(action) | Work::Map { action, .. } => {
                Command::Run { task, action: action.clone(), attempt: number, arguments }
            }
            Work::Workflow(child) => {
                Command::RunWorkflow { task, attempt: number, workflow: Arc::clone(child), inputs: arguments }
            }
        };
        self.commands.push_back(command);
    }

    fn arguments(&self, key: Key) -> Map<String, Value> {
        let step = &self.workflow.nodes()[key.step].step;
        let mut arguments: Map<String, Value> =
            step.arguments.iter().map(|(name, source)| (name.clone(), self.resolve(source))).collect();
        if let Some(item) = key.item {
            arguments.insert(MAP_ITEM_ARGUMENT.to_owned(), self.map_element(key.step, item));
        }
        arguments
    }

    /// An argument's value. Building checked every reference and a task starts only after the steps it reads have
    /// completed, so every lookup finds its value; null is a fallback that cannot happen, not a meaning.
    pub(super) fn resolve(&self, source: &Arg) -> Value {
        match source {
            Arg::Input(input) => self.inputs.get(input).cloned().unwrap_or(Value::Null),
            Arg::Result(step) => self
                .workflow
                .position(step)
                .and_then(|position| self.records[position].result.clone())
                .unwrap_or(Value::Null),
            Arg::Value(value) => value.clone(),
        }
    }

    /// An attempt succeeded (or its compensation continued with `result`).
    pub(super) fn complete(&mut self, now: u64, key: Key, attempt: Attempt, result: Value) {
        let record = self.record_mut(key);
        record.state = TaskState::Completed;
        record.finished_at = Some(now);
        record.result = Some(result);
        self.completed.push(key);
        let task = self.task(key);
        let duration_ms = now.saturating_sub(attempt.started_at);
        self.emit(now, EventKind::StepCompleted { task, attempt: attempt.number, duration_ms });
        // A stopping run records what completes, so it can be undone, but starts nothing that follows from it.
        if self.status != RunStatus::Running {
            return;
        }
        match key.item {
            Some(_) => self.element_completed(now, key.step),
            None => self.step_completed(now, key.step),
        }
    }

    /// A whole step completed: its dependents may become ready, and the run may be done.
    pub(super) fn step_completed(&mut self, now: u64, step: usize) {
        self.completed_steps += 1;
        // Checked before activating dependents, not after: activating an empty map completes it within this call,
        // and that nested completion may be the last one, which must end the run once.
        if self.completed_steps == self.records.len() {
            let result = self.result();
            let duration_ms = self.finish(now, RunStatus::Completed);
            self.emit(now, EventKind::RunCompleted { duration_ms, result });
            return;
        }
        let workflow = Arc::clone(&self.workflow);
        for &dependent in &workflow.nodes()[step].dependents {
            self.unmet[dependent] -= 1;
            if self.unmet[dependent] == 0 {
                self.activate(now, dependent);
            }
        }
    }

    /// An attempt failed in a way worth trying again: it is, if it may be, and otherwise it fails.
    pub(super) fn retry_or_fail(&mut self, now: u64, key: Key, attempt: Attempt, reason: String) {
        if !self.try_retry(now, key, attempt, &reason) {
            self.attempt_failed(now, key, attempt, reason);
        }
    }

    /// Schedules the next attempt after a backoff, if the run is still starting tasks and the step has retries
    /// left; says whether it did.
    pub(super) fn try_retry(&mut self, now: u64, key: Key, attempt: Attempt, reason: &str) -> bool {
        let step = &self.workflow.nodes()[key.step].step;
        if self.status != RunStatus::Running || attempt.number > step.max_retries {
            return false;
        }
        let delay_ms = step.backoff.delay_ms(attempt.number, &mut self.rng);
        self.record_mut(key).state = TaskState::BackingOff;
        self.record_mut(key).error = Some(reason.to_owned());
        self.backing_off.insert(key, now.saturating_add(delay_ms));
        let task = self.task(key);
        let duration_ms = now.saturating_sub(attempt.started_at);
        let reason = reason.to_owned();
        self.emit(now, EventKind::StepRetrying { task, attempt: attempt.number, duration_ms, reason, delay_ms });
        true
    }

    /// An attempt failed: the step's compensation decides what follows, or, without one (or once the run is
    /// stopping), the task fails.
    pub(super) fn attempt_failed(&mut self, now: u64, key: Key, attempt: Attempt, error: String) {
        let step = &self.workflow.nodes()[key.step].step;
        let action = match step.action_name() {
            Some(action) if step.compensate && self.status == RunStatus::Running => action.to_owned(),
            _ => return self.task_failed(now, key, attempt, error),
        };
        let record = self.record_mut(key);
        record.state = TaskState::Compensating;
        record.error = Some(error.clone());
        self.compensating.insert(key, (attempt, error.clone()));
        let task = self.task(key);
        self.commands.push_back(Command::Compensate { task, action, attempt: attempt.number, error });
    }

    /// A task failed for good, and with it the run (and, for a map element, its map step).
    pub(super) fn task_failed(&mut self, now: u64, key: Key, attempt: Attempt, error: String) {
        let record = self.record_mut(key);
        record.state = TaskState::Failed;
        record.finished_at = Some(now);
        record.error = Some(error.clone());
        let task = self.task(key);
        let duration_ms = now.saturating_sub(attempt.started_at);
        self.emit(now, EventKind::StepFailed { task, attempt: attempt.number, duration_ms, error: error.clone() });
        if let Some(item) = key.item {
            self.fail_map(now, key.step, item, &error);
        }
        self.stop(key, error, RunStatus::Failing);
    }

    /// A task halted the run.
    pub(super) fn halted(&mut self, now: u64, key: Key, reason: String) {
        for key in [Some(key), key.item.map(|_| Key::whole(key.step))].into_iter().flatten() {
            let record = self.record_mut(key);
            if matches!(record.state, TaskState::Running) {
                record.state = TaskState::Halted;
                record.finished_at = Some(now);
                record.error = Some(reason.clone());
            }
        }
        self.stop(key, reason, RunStatus::Halting);
    }
}
