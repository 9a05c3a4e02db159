//! What a run knows about each of its steps, for a status page (`GET /api/runs/{id}`) or a test.

use serde_json::Value;

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Waiting for the steps it reads (or, for a map element, for its batch).
    Pending,
    /// Its arguments are ready; it waits for a free slot (`max_concurrency`).
    Ready,
    /// An attempt is running.
    Running,
    /// An attempt failed; the next starts after a backoff.
    BackingOff,
    /// An attempt failed; its compensation is deciding what follows.
    Compensating,
    /// It succeeded, or its compensation continued with a value in its place.
    Completed,
    /// It failed for good.
    Failed,
    /// It halted the run.
    Halted,
    /// It had begun when the run stopped and was not finished: a task waiting to be tried again, or a map step
    /// with elements left.
    Cancelled,
    /// It completed, and is being undone.
    Undoing,
    /// It completed, and was undone.
    Undone,
    /// It completed, and its undo failed.
    UndoFailed,
}

impl TaskState {
    /// The state's name, for a status page.
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Ready => "ready",
            TaskState::Running => "running",
            TaskState::BackingOff => "backing_off",
            TaskState::Compensating => "compensating",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
            TaskState::Halted => "halted",
            TaskState::Cancelled => "cancelled",
            TaskState::Undoing => "undoing",
            TaskState::Undone => "undone",
            TaskState::UndoFailed => "undo_failed",
        }
    }
}

/// One step's (or map element's) history in a run.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// Where it stands.
    pub state: TaskState,
    /// Attempts started (a map step as a whole has one).
    pub attempts: u32,
    /// When its first attempt started.
    pub started_at: Option<u64>,
    /// When it completed, failed or halted.
    pub finished_at: Option<u64>,
    /// Its result, once completed.
    pub result: Option<Value>,
    /// Its latest error (or halt reason, or undo error).
    pub error: Option<String>,
    /// A map step's elements, each with a record of its own; empty for other steps.
    pub items: Vec<StepRecord>,
}

impl StepRecord {
    pub(crate) fn pending() -> Self {
        StepRecord {
            state: TaskState::Pending,
            attempts: 0,
            started_at: None,
            finished_at: None,
            result: None,
            error: None,
            items: Vec::new(),
        }
    }
}
