//! Stopping: after a failure or a halt, waiting for what is running, then undoing (after a failure) and ending.

use super::{Key, Run, RunStatus, Stop};
use crate::command::Command;
use crate::event::EventKind;
use crate::record::TaskState;
use std::sync::Arc;

impl Run {
    /// Stops starting tasks, because of a failure (`Failing`) or a halt (`Halting`). The first reason wins: a run
    /// that is already stopping keeps its reason.
    pub(super) fn stop(&mut self, key: Key, message: String, status: RunStatus) {
        if self.status != RunStatus::Running {
            return;
        }
        self.status = status;
        self.stop = Some(Stop { key, message });
        for key in std::mem::take(&mut self.ready) {
            let record = self.record_mut(key);
            record.state = if record.attempts == 0 { TaskState::Pending } else { TaskState::Cancelled };
        }
        for key in std::mem::take(&mut self.backing_off).into_keys() {
            self.record_mut(key).state = TaskState::Cancelled;
        }
    }

    /// Moves the run on after any input: starts what can start, or, once a stopping run has nothing outstanding,
    /// undoes (after a failure) or ends (after a halt).
    pub(super) fn advance(&mut self, now: u64) {
        let idle = self.running.is_empty() && self.compensating.is_empty();
        match self.status {
            RunStatus::Running => self.start_ready(now),
            RunStatus::Failing if idle => self.begin_undo(now),
            RunStatus::Halting if idle => {
                let (task, reason) = self.stop_reason();
                let duration_ms = self.finish(now, RunStatus::Halted);
                self.emit(now, EventKind::RunHalted { duration_ms, task, reason });
            }
            RunStatus::Failing
            | RunStatus::Halting
            | RunStatus::Undoing
            | RunStatus::Completed
            | RunStatus::Failed
            | RunStatus::Halted => {}
        }
    }

    /// Queues the undos: completed tasks of steps with an undo, the most recently completed first. A task
    /// completes only after every task it read, so its dependents are undone before it.
    fn begin_undo(&mut self, now: u64) {
        self.status = RunStatus::Undoing;
        self.undo.started_at = now;
        let workflow = Arc::clone(&self.workflow);
        let undoable = |key: &Key| workflow.nodes()[key.step].step.undo;
        let queue = self.completed.iter().rev().filter(|key| undoable(key)).copied();
        self.undo.queue = queue.filter(|&key| self.record(key).state == TaskState::Completed).collect();
        self.undo_next(now);
    }

    /// Asks for the next undo, or, when none is left, ends the failed run.
    fn undo_next(&mut self, now: u64) {
        let Some(key) = self.undo.queue.pop_front() else {
            let duration_ms = now.saturating_sub(self.undo.started_at);
            let (undone, undo_failures) = (self.undo.undone, self.undo.failures);
            self.emit(now, EventKind::RunCompensated { duration_ms, undone, undo_failures });
            let (task, error) = self.stop_reason();
            let duration_ms = self.finish(now, RunStatus::Failed);
            self.emit(now, EventKind::RunFailed { duration_ms, task, error });
            return;
        };
        let record = self.record_mut(key);
        record.state = TaskState::Undoing;
        let result = record.result.clone().unwrap_or_default();
        self.undo.current = Some((key, now));
        let task = self.task(key);
        let action = self.workflow.nodes()[key.step].step.action_name().unwrap_or_default().to_owned();
        self.commands.push_back(Command::Undo { task, action, result });
    }

    /// An undo is done; the next follows.
    pub(super) fn undone(&mut self, now: u64, key: Key, started_at: u64, result: Result<(), String>) {
        let task = self.task(key);
        let duration_ms = now.saturating_sub(started_at);
        match result {
            Ok(()) => {
                self.record_mut(key).state = TaskState::Undone;
                self.undo.undone += 1;
                self.emit(now, EventKind::StepUndone { task, duration_ms });
            }
            Err(error) => {
                let record = self.record_mut(key);
                record.state = TaskState::UndoFailed;
                record.error = Some(error.clone());
                self.undo.failures += 1;
                self.emit(now, EventKind::StepUndoFailed { task, duration_ms, error });
            }
        }
        if key.item.is_some() {
            self.map_element_undone(key.step);
        }
        self.undo_next(now);
    }

    /// Ends the run with `status`; returns its duration.
    pub(super) fn finish(&mut self, now: u64, status: RunStatus) -> u64 {
        self.status = status;
        self.finished_at = Some(now);
        // Only a map step is `Running` with no attempt of its own: one the run stopped before all its elements
        // were done. Its record must not say it is still running.
        for record in &mut self.records {
            if record.state == TaskState::Running {
                record.state = TaskState::Cancelled;
            }
        }
        now.saturating_sub(self.started_at)
    }

    /// The task that stopped the run and its message.
    fn stop_reason(&self) -> (crate::command::Task, String) {
        match &self.stop {
            Some(stop) => (self.task(stop.key), stop.message.clone()),
            // Only a run that was stopped gets here; an empty task would show a bug rather than hide it.
            None => (crate::command::Task::step(""), String::new()),
        }
    }
}
