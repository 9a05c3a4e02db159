//! A step as declared: what it does, where its arguments come from, and how it is retried, timed out, undone and
//! compensated.
//!
//! The core never runs a step itself. An action step names its implementation (`Step::action("charge_card")`),
//! which the caller looks up when the run asks it to run the step; that keeps workflows plain data, so a workflow
//! can be listed, shown and started by name.

use crate::backoff::Backoff;
use crate::workflow::Workflow;
use serde_json::Value;
use std::sync::Arc;

/// The argument through which a map step hands each element of its collection to its action.
pub const MAP_ITEM_ARGUMENT: &str = "item";

/// Where the value of a step's argument comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// One of the run's inputs.
    Input(String),
    /// The result of another step, which then runs first.
    Result(String),
    /// A constant, the same in every run.
    Value(Value),
}

impl Arg {
    /// One of the run's inputs.
    pub fn input(name: impl Into<String>) -> Self {
        Arg::Input(name.into())
    }

    /// The result of another step.
    pub fn result(step: impl Into<String>) -> Self {
        Arg::Result(step.into())
    }

    /// A constant, the same in every run.
    pub fn value(value: impl Into<Value>) -> Self {
        Arg::Value(value.into())
    }
}

/// What a step does when it runs.
#[derive(Debug, Clone)]
pub enum Work {
    /// The caller's implementation with this name, run once per attempt.
    Action(String),
    /// A child run of this workflow, its inputs being the step's arguments; the step's result is the child's.
    Workflow(Arc<Workflow>),
    /// The action run once per element of the array `over` evaluates to, `batch_size` elements at a time: a batch
    /// starts when the one before it has completed. Each element is a task of its own, with its own attempts,
    /// retries, timeout, compensation and undo; it gets the step's arguments plus [`MAP_ITEM_ARGUMENT`]. The step's
    /// result is the array of the elements' results, in order.
    Map {
        /// The implementation run for each element.
        action: String,
        /// Where the array to map over comes from, read when the step starts; anything but an array fails the step.
        over: Arg,
        /// How many elements are released at a time.
        batch_size: usize,
    },
}

/// A step's declaration. Build one with [`Step::action`], [`Step::workflow`] or [`Step::map`] and the methods that
/// follow them, then add it to a workflow with [`crate::WorkflowBuilder::step`].
#[derive(Debug, Clone)]
pub struct Step {
    pub(crate) work: Work,
    pub(crate) arguments: Vec<(String, Arg)>,
    pub(crate) max_retries: u32,
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) backoff: Backoff,
    pub(crate) undo: bool,
    pub(crate) compensate: bool,
}

impl Step {
    /// The default number of times a step is tried again after its first attempt.
    pub const DEFAULT_MAX_RETRIES: u32 = 3;

    /// A step that runs the caller's implementation named `action`.
    pub fn action(action: impl Into<String>) -> Self {
        Step::with_work(Work::Action(action.into()))
    }

    /// A step that runs `workflow` as a child run, with the step's arguments as its inputs.
    pub fn workflow(workflow: Arc<Workflow>) -> Self {
        Step::with_work(Work::Workflow(workflow))
    }

    /// A step that runs `action` for each element of the array `over`, `batch_size` elements at a time.
    pub fn map(action: impl Into<String>, over: Arg, batch_size: usize) -> Self {
        Step::with_work(Work::Map { action: action.into(), over, batch_size })
    }

    fn with_work(work: Work) -> Self {
        Step {
            work,
            arguments: Vec::new(),
            max_retries: Step::DEFAULT_MAX_RETRIES,
            timeout_ms: None,
            backoff: Backoff::DEFAULT,
            undo: false,
            compensate: false,
        }
    }

    /// Adds an argument, its value read from `source` when an attempt starts. A name may be used once per step.
    pub fn arg(mut self, name: impl Into<String>, source: Arg) -> Self {
        self.arguments.push((name.into(), source));
        self
    }

    /// How many times the step may be tried again after its first attempt (retries asked for by the step, by a
    /// timeout or by its compensation all count).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// How long one attempt may take before it counts as failed (and is retried if it may be). The engine aborts
    /// an action's attempt that times out at its next `.await`; a sub-workflow's child run goes on.
    pub fn timeout_ms(mut self, timeout_ms: u64) -> Self {
        self.timeout_ms = Some(timeout_ms);
        self
    }

    /// The backoff between attempts, as [`Backoff`] describes it; [`Backoff::DEFAULT`] unless set.
    pub fn backoff(mut self, base_ms: u64, cap_ms: u64) -> Self {
        self.backoff = Backoff { base_ms, cap_ms };
        self
    }

    /// The step has an undo: when the run fails, a completed attempt of this step is undone
    /// ([`crate::Command::Undo`]). Only action and map steps can have one.
    pub fn with_undo(mut self) -> Self {
        self.undo = true;
        self
    }

    /// The step has a compensation: when it fails, the caller decides whether to retry it, continue with a value
    /// in place of its result, or let the failure stand ([`crate::Command::Compensate`]). Only action and map
    /// steps can have one.
    pub fn with_compensate(mut self) -> Self {
        self.compensate = true;
        self
    }

    /// What the step does.
    pub fn work(&self) -> &Work {
        &self.work
    }

    /// The step's arguments and where each comes from, in the order they were added.
    pub fn arguments(&self) -> &[(String, Arg)] {
        &self.arguments
    }

    /// How many times the step may be tried again after its first attempt.
    pub fn retries_allowed(&self) -> u32 {
        self.max_retries
    }

    /// The time limit of one attempt; `None`, the default, for none.
    pub fn attempt_timeout_ms(&self) -> Option<u64> {
        self.timeout_ms
    }

    /// Whether the step has an undo.
    pub fn has_undo(&self) -> bool {
        self.undo
    }

    /// Whether the step has a compensation.
    pub fn has_compensate(&self) -> bool {
        self.compensate
    }

    /// The action the caller runs for this step, undoes and compensates; `None` for a sub-workflow step.
    pub fn action_name(&self) -> Option<&str> {
        match &self.work {
            Work::Action(action) | Work::Map { action, .. } => Some(action),
            Work::Workflow(_) => None,
        }
    }

    /// Every source the step reads, with the name it is read under (a map step's collection as `over`).
    pub(crate) fn sources(&self) -> impl Iterator<Item = (&str, &Arg)> {
        let over = match &self.work {
            Work::Map { over, .. } => Some(("over", over)),
            Work::Action(_) | Work::Workflow(_) => None,
        };
        self.arguments.iter().map(|(name, source)| (name.as_str(), source)).chain(over)
    }
}
