//! Lifecycle notifications, for a later layer to publish and for dashboards to show.
//!
//! Every change a run goes through is one [`Event`], in the order it happened. A run's events begin with
//! `RunStarted` and end with exactly one of `RunCompleted`, `RunFailed` and `RunHalted`; `RunCompensated` comes
//! just before `RunFailed`, once the undos are done.

use crate::command::Task;
use serde_json::Value;

/// Something that happened to a run, at `at` (the caller's milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The `now` of the call that caused it: `Run::new`, or the report or timeout the run was handling.
    pub at: u64,
    /// What happened; [`EventKind::name`] names it for publishing.
    pub kind: EventKind,
}

/// What happened. Durations are in milliseconds. A step event's `task` is the step, or the element of a map step,
/// it is about, and its `attempt` counts from 1, retries included.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs, reason = "`task` and `attempt`, the only fields without a comment, are described once above")]
pub enum EventKind {
    /// The run started; always its first event.
    RunStarted,
    /// Every step completed.
    RunCompleted {
        /// Since the run started.
        duration_ms: u64,
        /// The result of the step the workflow returns.
        result: Value,
    },
    /// A task failed for good; what was completed has been undone (see `RunCompensated`).
    RunFailed {
        /// Since the run started.
        duration_ms: u64,
        /// The task whose failure failed the run.
        task: Task,
        /// That task's error, as its `StepFailed` gave it.
        error: String,
    },
    /// A task halted the run; nothing was undone.
    RunHalted {
        /// Since the run started.
        duration_ms: u64,
        /// The task that halted it.
        task: Task,
        /// The reason that task gave with `Outcome::Halt`.
        reason: String,
    },
    /// The undos of a failed run are done.
    RunCompensated {
        /// Time spent undoing.
        duration_ms: u64,
        /// Undos that succeeded. Completed tasks of steps without an undo are not counted.
        undone: usize,
        /// Undos that failed.
        undo_failures: usize,
    },
    /// An attempt started. A map step starts as a whole (attempt 1) before its elements do.
    StepStarted { task: Task, attempt: u32 },
    /// An attempt succeeded (or its failure was compensated with a value).
    StepCompleted {
        task: Task,
        attempt: u32,
        /// Since the attempt started.
        duration_ms: u64,
    },
    /// An attempt failed and will be tried again after `delay_ms`.
    StepRetrying {
        task: Task,
        /// The attempt that failed; the next is this plus one.
        attempt: u32,
        /// Since that attempt started.
        duration_ms: u64,
        /// Why the attempt failed: what it reported, or `timed out after … ms`.
        reason: String,
        /// How long until the next attempt.
        delay_ms: u64,
    },
    /// An attempt failed for good.
    StepFailed {
        task: Task,
        attempt: u32,
        /// Since the attempt started.
        duration_ms: u64,
        /// Why the attempt failed: what it reported, or `timed out after … ms`. For a whole map step, which element
        /// failed, or that its collection is not an array.
        error: String,
    },
    /// A completed task was undone.
    StepUndone {
        task: Task,
        /// How long the undo took.
        duration_ms: u64,
    },
    /// A completed task's undo failed; the other undos still run.
    StepUndoFailed {
        task: Task,
        /// How long the undo took.
        duration_ms: u64,
        /// The error the caller reported with `handle_undo_done`.
        error: String,
    },
}

impl EventKind {
    /// The event's name, for publishing: `run_started`, `step_completed`…
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::RunStarted => "run_started",
            EventKind::RunCompleted { .. } => "run_completed",
            EventKind::RunFailed { .. } => "run_failed",
            EventKind::RunHalted { .. } => "run_halted",
            EventKind::RunCompensated { .. } => "run_compensated",
            EventKind::StepStarted { .. } => "step_started",
            EventKind::StepCompleted { .. } => "step_completed",
            EventKind::StepRetrying { .. } => "step_retrying",
            EventKind::StepFailed { .. } => "step_failed",
            EventKind::StepUndone { .. } => "step_undone",
            EventKind::StepUndoFailed { .. } => "step_undo_failed",
        }
    }

    /// The task it is about, for step events.
    pub fn task(&self) -> Option<&Task> {
        match self {
            EventKind::StepStarted { task, .. }
            | EventKind::StepCompleted { task, .. }
            | EventKind::StepRetrying { task, .. }
            | EventKind::StepFailed { task, .. }
            | EventKind::StepUndone { task, .. }
            | EventKind::StepUndoFailed { task, .. } => Some(task),
            EventKind::RunStarted
            | EventKind::RunCompleted { .. }
            | EventKind::RunFailed { .. }
            | EventKind::RunHalted { .. }
            | EventKind::RunCompensated { .. } => None,
        }
    }
}
