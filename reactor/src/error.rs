//! What can go wrong building a workflow, starting a run, or reporting to one.

#![allow(
    missing_docs,
    reason = "a variant's fields are the names its #[error] message puts in place, and the message says what each is"
)]

use crate::command::Task;

/// Why a workflow could not be built. Every message names the workflow and the step, argument or input at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The workflow has no steps.
    #[error("workflow '{workflow}' has no steps")]
    NoSteps { workflow: String },
    /// Two inputs have one name.
    #[error("workflow '{workflow}' declares input '{input}' twice")]
    DuplicateInput { workflow: String, input: String },
    /// Two steps have one name.
    #[error("workflow '{workflow}' declares step '{step}' twice")]
    DuplicateStep { workflow: String, step: String },
    /// A step has two arguments of one name.
    #[error("step '{step}' of workflow '{workflow}' declares argument '{argument}' twice")]
    DuplicateArgument { workflow: String, step: String, argument: String },
    /// An argument reads an input the workflow does not declare.
    #[error(
        "argument '{argument}' of step '{step}' reads input '{input}', which workflow '{workflow}' does not declare"
    )]
    UnknownInput { workflow: String, step: String, argument: String, input: String },
    /// An argument reads the result of a step the workflow does not have.
    #[error(
        "argument '{argument}' of step '{step}' reads the result of step '{target}', which workflow '{workflow}' \
         does not have"
    )]
    UnknownStep {
        workflow: String,
        step: String,
        argument: String,
        /// The step whose result the argument reads.
        target: String,
    },
    /// Steps depend on each other in a circle, so none of them could ever start.
    #[error("workflow '{workflow}' has a cycle: {}", cycle.join(" -> "))]
    Cycle {
        workflow: String,
        /// The steps along the cycle, each reading the result of the next, the first repeated at the end.
        cycle: Vec<String>,
    },
    /// `max_concurrency` is zero, so no step could ever start.
    #[error("workflow '{workflow}' has max_concurrency 0: at least one step must be able to run")]
    ZeroConcurrency { workflow: String },
    /// A map step has batches of zero elements.
    #[error("map step '{step}' of workflow '{workflow}' has batch size 0: a batch needs at least one element")]
    ZeroBatchSize { workflow: String, step: String },
    /// A map step declares the argument through which it passes each element.
    #[error(
        "map step '{step}' of workflow '{workflow}' declares argument '{}', which the map uses to pass each element",
        crate::step::MAP_ITEM_ARGUMENT
    )]
    ReservedArgument { workflow: String, step: String },
    /// A sub-workflow step's arguments are not exactly the child workflow's inputs.
    #[error(
        "step '{step}' of workflow '{workflow}' runs workflow '{child}', whose inputs are [{}] but the step's \
         arguments are [{}]",
        expected.join(", "), given.join(", ")
    )]
    ChildInputs {
        workflow: String,
        step: String,
        child: String,
        /// The inputs the child workflow declares.
        expected: Vec<String>,
        /// The arguments the step gives.
        given: Vec<String>,
    },
    /// A sub-workflow step asks for an undo or a compensation, which only action and map steps have.
    #[error(
        "step '{step}' of workflow '{workflow}' runs a sub-workflow and cannot have an undo or a compensation: \
         the child run undoes its own steps when it fails"
    )]
    ChildUndo { workflow: String, step: String },
    /// The step named as the workflow's result does not exist.
    #[error("workflow '{workflow}' returns the result of step '{step}', which it does not have")]
    UnknownReturn { workflow: String, step: String },
}

/// Why a run could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// A declared input was not given.
    #[error("workflow '{workflow}' needs input '{input}', which was not given")]
    MissingInput { workflow: String, input: String },
    /// An input was given that the workflow does not declare (most likely a misspelt one).
    #[error("workflow '{workflow}' has no input '{input}' (its inputs are [{}])", declared.join(", "))]
    UnexpectedInput {
        workflow: String,
        input: String,
        /// The inputs the workflow declares.
        declared: Vec<String>,
    },
}

/// A report the run cannot take, and so ignores: nothing about the run changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// The workflow has no step of this name, or the step has no such item.
    #[error("run of workflow '{workflow}' has no task '{task}'")]
    UnknownTask { workflow: String, task: Task },
    /// An outcome for an attempt that is not running: it timed out (and a late outcome must not count), it was
    /// already reported, or it never started.
    #[error("attempt {attempt} of '{task}' is not running: it timed out, was already reported, or never started")]
    NotRunning { task: Task, attempt: u32 },
    /// A compensation decision for a task whose compensation was not asked for.
    #[error("'{task}' is not awaiting a compensation decision")]
    NotCompensating { task: Task },
    /// An undo report for a task that is not being undone.
    #[error("'{task}' is not being undone")]
    NotUndoing { task: Task },
}
