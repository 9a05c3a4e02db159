//! What a run asks its caller to do, and what the caller reports back.
//!
//! A run never runs, undoes or compensates a step itself: it hands out a [`Command`], the caller does the work (at
//! once or on another task, in any order) and reports with `Run::handle_step_outcome`, `Run::handle_undo_done` or
//! `Run::handle_compensation`, naming the [`Task`] (and, for outcomes, the attempt) the command named.

use crate::workflow::Workflow;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;

/// One unit of work: a step, or one element of a map step.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Task {
    /// The step's name.
    pub step: String,
    /// For an element of a map step, its index in the collection.
    pub item: Option<usize>,
}

impl Task {
    /// A whole step (no `item`): the task of any step but a map step's elements.
    pub fn step(step: impl Into<String>) -> Self {
        Task { step: step.into(), item: None }
    }

    /// One element of a map step.
    pub fn item(step: impl Into<String>, item: usize) -> Self {
        Task { step: step.into(), item: Some(item) }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.item {
            None => write!(f, "{}", self.step),
            Some(item) => write!(f, "{}[{item}]", self.step),
        }
    }
}

/// Something the caller must do for the run.
///
/// Commands compare equal field by field, except that child workflows compare by identity (the same
/// `Arc<Workflow>`): workflows hold no comparable identity beyond the allocation they were built into.
#[derive(Debug, Clone)]
pub enum Command {
    /// Run attempt `attempt` (from 1) of `action` with these arguments, then report its [`Outcome`] with
    /// `handle_step_outcome`. Another attempt of the same task never starts before this one is reported or has
    /// timed out.
    Run {
        /// The task to name in the report.
        task: Task,
        /// The caller's implementation to run.
        action: String,
        /// The attempt's number, from 1.
        attempt: u32,
        /// The arguments, by name (a map element's under [`crate::MAP_ITEM_ARGUMENT`]).
        arguments: Map<String, Value>,
    },
    /// Start a child run of `workflow` with these inputs and report its end as this attempt's [`Outcome`]
    /// (`Run::outcome` gives it).
    RunWorkflow {
        /// The task to name in the report.
        task: Task,
        /// The attempt's number, from 1.
        attempt: u32,
        /// The workflow the step runs, shared with the step's declaration.
        workflow: Arc<Workflow>,
        /// The child run's inputs: the step's arguments.
        inputs: Map<String, Value>,
    },
    /// Undo a completed task, whose result was `result`, then report with `handle_undo_done`. Undos come one at a
    /// time, dependents before what they depend on.
    Undo {
        /// The task to name in `handle_undo_done`.
        task: Task,
        /// The caller's implementation whose undo to run.
        action: String,
        /// The task's result.
        result: Value,
    },
    /// A task failed; decide with `handle_compensation` whether to retry it, continue with a value in its place,
    /// or let the failure stand.
    Compensate {
        /// The task to name in `handle_compensation`.
        task: Task,
        /// The caller's implementation whose compensation to run.
        action: String,
        /// The attempt that failed.
        attempt: u32,
        /// What the attempt reported with `Outcome::Error` (or `Outcome::Retry` with no retry left), or
        /// `timed out after … ms`.
        error: String,
    },
}

impl Command {
    /// The task the command is about.
    pub fn task(&self) -> &Task {
        match self {
            Command::Run { task, .. }
            | Command::RunWorkflow { task, .. }
            | Command::Undo { task, .. }
            | Command::Compensate { task, .. } => task,
        }
    }
}

impl PartialEq for Command {
    fn eq(&self, other: &Self) -> bool {
        use Command::{Compensate, Run, RunWorkflow, Undo};
        match (self, other) {
            (Run { task, action, attempt, arguments }, Run { task: t, action: a, attempt: n, arguments: args }) => {
                (task, action, attempt, arguments) == (t, a, n, args)
            }
            (
                RunWorkflow { task, attempt, workflow, inputs },
                RunWorkflow { task: t, attempt: n, workflow: w, inputs: i },
            ) => (task, attempt, inputs) == (t, n, i) && Arc::ptr_eq(workflow, w),
            (Undo { task, action, result }, Undo { task: t, action: a, result: r }) => {
                (task, action, result) == (t, a, r)
            }
            (Compensate { task, action, attempt, error }, Compensate { task: t, action: a, attempt: n, error: e }) => {
                (task, action, attempt, error) == (t, a, n, e)
            }
            _ => false,
        }
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It succeeded with this result.
    Ok(Value),
    /// It failed in a way worth trying again (after a backoff, if the step has retries left).
    Retry(String),
    /// It failed; the step's compensation, if any, decides what follows.
    Error(String),
    /// The run must stop here: nothing more starts, what is running finishes, and nothing is undone.
    Halt(String),
}

/// A compensation's decision about its failed task.
#[derive(Debug, Clone, PartialEq)]
pub enum Compensation {
    /// Try the task again, after a backoff, if the step has retries left; otherwise the failure stands.
    Retry,
    /// Treat the task as completed with this result.
    Continue(Value),
    /// The failure stands: the run fails.
    Fail,
}
