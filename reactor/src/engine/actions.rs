//! The implementations that a workflow's action steps name, and what an attempt is given.
//!
//! Workflows are plain data (`Step::action("charge_card")`); the engine looks the name up in the catalog's actions
//! when a run asks for an attempt, an undo or a compensation, and runs it on a task of its own.

use crate::command::{Compensation, Outcome, Task};
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;

/// A future an action returns: owned, so the engine can run it on a task of its own.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// One attempt of a step (or of one element of a map step).
#[derive(Debug, Clone)]
pub struct Call {
    /// The id of the run asking for the attempt: for a sub-workflow's step, the child run's own id.
    pub run_id: String,
    /// The step, or the map element (`item` set), the attempt is for.
    pub task: Task,
    /// The attempt's number, from 1.
    pub attempt: u32,
    /// The arguments, by name (a map element's under [`crate::MAP_ITEM_ARGUMENT`]).
    pub arguments: Map<String, Value>,
}

/// An implementation that action steps name.
///
/// A panic in any of these methods is caught: an attempt that panics fails with an error saying so (and its
/// compensation decides, as for any error), an undo that panics counts as a failed undo.
pub trait Action: Send + Sync + 'static {
    /// Runs one attempt.
    fn run(&self, call: Call) -> BoxFuture<Outcome>;

    /// Rolls back a completed task whose result was `result`. Only called for steps declared `with_undo`.
    fn undo(&self, _task: Task, _result: Value) -> BoxFuture<Result<(), String>> {
        Box::pin(async { Ok(()) })
    }

    /// Decides what follows a failed attempt. Only called for steps declared `with_compensate`.
    fn compensate(&self, _task: Task, _attempt: u32, _error: String) -> BoxFuture<Compensation> {
        Box::pin(async { Compensation::Fail })
    }
}

/// An action made of an async function of its [`Call`], with no undo or compensation.
pub(crate) struct FnAction<F>(pub(crate) F);

impl<F, Fut> Action for FnAction<F>
where
    F: Fn(Call) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    fn run(&self, call: Call) -> BoxFuture<Outcome> {
        Box::pin((self.0)(call))
    }
}
