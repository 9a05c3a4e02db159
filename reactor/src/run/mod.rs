//! One run of a workflow: the sans-IO state machine that schedules its steps.
//!
//! Inputs are the caller's reports (`handle_step_outcome`, `handle_compensation`, `handle_undo_done`) and
//! `handle_timeout` when the time from `poll_timeout` has come; every input takes `now`, the caller's clock in
//! milliseconds. After any input (and after `Run::new`), drain `poll_command` (work to do) and `poll_event`
//! (notifications), then arm a timer for `poll_timeout`.
//!
//! The life of a run:
//! - **Running.** A step becomes ready when every step it reads has completed, and starts when fewer than
//!   `max_concurrency` attempts are running. Ready steps start in declaration order, so a run is deterministic
//!   given its seed and the order and times of its reports.
//! - **An attempt ends.** `Ok` completes the task. `Retry`, and a timeout, try it again after a full-jitter backoff
//!   while `max_retries` allows, and otherwise fail it. `Error` fails it. A failure goes first to the step's
//!   compensation if it has one, which may retry it (within `max_retries`), continue with a value, or let it fail.
//! - **Failing.** A task that fails for good stops the run from starting anything, including retries. Attempts
//!   already running are waited for (or their timeouts), because a step that completes meanwhile has done its
//!   work and must be undone too; their failures are recorded but not compensated or retried.
//! - **Undoing.** Completed tasks of steps with an undo are undone one at a time, most recently completed first.
//!   A task completes only after everything it read, so this undoes every task before the tasks it depends on.
//!   A failed undo is reported and the others still run. Then `RunCompensated`, then `RunFailed`.
//! - **Halting.** `Outcome::Halt` stops the run like a failure, but nothing is undone: a halt means "stop here
//!   and leave things as they are" (for a person or a later run to pick up). Attempts already running are waited
//!   for; whatever they report is recorded, and the run ends with `RunHalted`. The first of a failure and a halt
//!   decides how the run ends.

mod attempts;
mod map;
mod unwind;

use crate::command::{Command, Compensation, Outcome, Task};
use crate::error::{ReportError, RunError};
use crate::event::{Event, EventKind};
use crate::record::StepRecord;
use crate::workflow::Workflow;
use ferrocast_protocol::rng::Rng;
use map::MapProgress;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Steps are being started.
    Running,
    /// A task failed; the run waits for running attempts before undoing.
    Failing,
    /// Completed tasks are being undone.
    Undoing,
    /// A task halted the run; the run waits for running attempts.
    Halting,
    /// Every step completed.
    Completed,
    /// A task failed, and the undos are done.
    Failed,
    /// A task halted the run.
    Halted,
}

impl RunStatus {
    /// Whether the run has ended: it will ask for nothing more.
    pub fn is_finished(self) -> bool {
        matches!(self, RunStatus::Completed | RunStatus::Failed | RunStatus::Halted)
    }

    /// The status's name, for a status page.
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Failing => "failing",
            RunStatus::Undoing => "undoing",
            RunStatus::Halting => "halting",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Halted => "halted",
        }
    }
}

/// A task inside the run: a step by its position in the workflow, and for a map element, the element's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    step: usize,
    item: Option<usize>,
}

impl Key {
    fn whole(step: usize) -> Self {
        Key { step, item: None }
    }
}

/// An attempt that was started.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    number: u32,
    started_at: u64,
    deadline: Option<u64>,
}

/// Why the run stopped starting tasks.
#[derive(Debug, Clone)]
struct Stop {
    key: Key,
    message: String,
}

/// The undo phase's progress.
#[derive(Debug, Default)]
struct Undo {
    started_at: u64,
    /// Tasks still to undo, the next first.
    queue: VecDeque<Key>,
    /// The task being undone, and when its undo began.
    current: Option<(Key, u64)>,
    undone: usize,
    failures: usize,
}

/// One run of a workflow. See the module documentation for its life.
#[derive(Debug)]
pub struct Run {
    workflow: Arc<Workflow>,
    id: String,
    inputs: Map<String, Value>,
    rng: Rng,
    status: RunStatus,
    started_at: u64,
    finished_at: Option<u64>,
    /// Per step, in the workflow's order.
    records: Vec<StepRecord>,
    /// Per step, how many of the steps it reads have yet to complete.
    unmet: Vec<usize>,
    completed_steps: usize,
    maps: BTreeMap<usize, MapProgress>,
    /// Tasks whose arguments are ready, waiting for a free slot; they start in this order.
    ready: BTreeSet<Key>,
    running: BTreeMap<Key, Attempt>,
    /// Tasks waiting out a backoff, with the time their next attempt becomes ready.
    backing_off: BTreeMap<Key, u64>,
    /// Failed attempts whose compensation is deciding, with the error.
    compensating: BTreeMap<Key, (Attempt, String)>,
    /// Completed tasks, in the order they completed.
    completed: Vec<Key>,
    stop: Option<Stop>,
    undo: Undo,
    commands: VecDeque<Command>,
    events: VecDeque<Event>,
}

impl Run {
    /// Starts a run of `workflow` at `now`, with these inputs (exactly the workflow's). `seed` seeds the retry
    /// jitter: pass real randomness in production and a constant in tests. The first commands are ready at once.
    pub fn new(
        workflow: Arc<Workflow>,
        id: impl Into<String>,
        inputs: Map<String, Value>,
        seed: u64,
        now: u64,
    ) -> Result<Run, RunError> {
        check_inputs(&workflow, &inputs)?;
        let nodes = workflow.nodes();
        let mut run = Run {
            id: id.into(),
            inputs,
            rng: Rng::new(seed),
            status: RunStatus::Running,
            started_at: now,
            finished_at: None,
            records: vec![StepRecord::pending(); nodes.len()],
            unmet: nodes.iter().map(|node| node.dependencies.len()).collect(),
            completed_steps: 0,
            maps: BTreeMap::new(),
            ready: BTreeSet::new(),
            running: BTreeMap::new(),
            backing_off: BTreeMap::new(),
            compensating: BTreeMap::new(),
            completed: Vec::new(),
            stop: None,
            undo: Undo::default(),
            commands: VecDeque::new(),
            events: VecDeque::new(),
            workflow,
        };
        run.emit(now, EventKind::RunStarted);
        // The roots are chosen before any is activated: an empty map completes as it is activated, which may
        // bring a later step's count to zero, and that step is activated then, not a second time here.
        let roots: Vec<usize> = (0..run.records.len()).filter(|&step| run.unmet[step] == 0).collect();
        for step in roots {
            run.activate(now, step);
        }
        run.advance(now);
        Ok(run)
    }

    // ----- Getters -----

    /// The run's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The workflow it runs.
    pub fn workflow(&self) -> &Arc<Workflow> {
        &self.workflow
    }

    /// The inputs it was given.
    pub fn inputs(&self) -> &Map<String, Value> {
        &self.inputs
    }

    /// Where it stands.
    pub fn status(&self) -> RunStatus {
        self.status
    }

    /// When it started.
    pub fn started_at(&self) -> u64 {
        self.started_at
    }

    /// When it ended, once it has.
    pub fn finished_at(&self) -> Option<u64> {
        self.finished_at
    }

    /// A step's record, by name.
    pub fn step(&self, name: &str) -> Option<&StepRecord> {
        self.workflow.position(name).map(|position| &self.records[position])
    }

    /// Every step's record, in the workflow's order.
    pub fn steps(&self) -> impl Iterator<Item = (&str, &StepRecord)> {
        self.workflow.step_names().zip(&self.records)
    }

    /// How the run ended, as the outcome of a step that ran it as a sub-workflow: its result, its failure, or
    /// its halt. `None` while it has not ended.
    pub fn outcome(&self) -> Option<Outcome> {
        let stop =
            || self.stop.as_ref().map_or_else(String::new, |stop| format!("{}: {}", self.task(stop.key), stop.message));
        match self.status {
            RunStatus::Completed => Some(Outcome::Ok(self.result())),
            RunStatus::Failed => Some(Outcome::Error(stop())),
            RunStatus::Halted => Some(Outcome::Halt(stop())),
            RunStatus::Running | RunStatus::Failing | RunStatus::Undoing | RunStatus::Halting => None,
        }
    }

    // ----- Outputs -----

    /// The next thing the caller must do.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// The next notification, oldest first. Events are kept until polled.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Whether attempt `attempt` of `task` is running: started and neither reported nor timed out. The caller can
    /// stop the work of an attempt that is no longer running, since its outcome would be refused.
    pub fn is_running(&self, task: &Task, attempt: u32) -> bool {
        self.key(task).is_ok_and(|key| self.running.get(&key).is_some_and(|current| current.number == attempt))
    }

    /// When `handle_timeout` should next be called: the earliest attempt deadline or end of a backoff.
    pub fn poll_timeout(&self) -> Option<u64> {
        let deadlines = self.running.values().filter_map(|attempt| attempt.deadline);
        deadlines.chain(self.backing_off.values().copied()).min()
    }

    // ----- Inputs -----

    /// Reports how attempt `attempt` of `task` ended. A report for an attempt that is not running (it timed out,
    /// or was already reported) is refused and changes nothing.
    pub fn handle_step_outcome(
        &mut self,
        now: u64,
        task: &Task,
        attempt: u32,
        outcome: Outcome,
    ) -> Result<(), ReportError> {
        let key = self.key(task)?;
        let current = match self.running.get(&key) {
            Some(current) if current.number == attempt => *current,
            _ => return Err(ReportError::NotRunning { task: task.clone(), attempt }),
        };
        self.running.remove(&key);
        match outcome {
            Outcome::Ok(result) => self.complete(now, key, current, result),
            Outcome::Retry(reason) => self.retry_or_fail(now, key, current, reason),
            Outcome::Error(error) => self.attempt_failed(now, key, current, error),
            Outcome::Halt(reason) => self.halted(now, key, reason),
        }
        self.advance(now);
        Ok(())
    }

    /// Reports a compensation's decision about its failed task.
    pub fn handle_compensation(&mut self, now: u64, task: &Task, decision: Compensation) -> Result<(), ReportError> {
        let key = self.key(task)?;
        let Some((attempt, error)) = self.compensating.remove(&key) else {
            return Err(ReportError::NotCompensating { task: task.clone() });
        };
        match decision {
            Compensation::Retry => {
                if !self.try_retry(now, key, attempt, &error) {
                    self.task_failed(now, key, attempt, error);
                }
            }
            Compensation::Continue(result) => self.complete(now, key, attempt, result),
            Compensation::Fail => self.task_failed(now, key, attempt, error),
        }
        self.advance(now);
        Ok(())
    }

    /// Reports that the undo of `task` is done: `Ok` if it was undone, `Err` with why not.
    pub fn handle_undo_done(&mut self, now: u64, task: &Task, result: Result<(), String>) -> Result<(), ReportError> {
        let key = self.key(task)?;
        match self.undo.current {
            Some((current, started_at)) if current == key => {
                self.undo.current = None;
                self.undone(now, key, started_at, result);
                Ok(())
            }
            _ => Err(ReportError::NotUndoing { task: task.clone() }),
        }
    }

    /// Acts on what is due at `now`: attempts past their deadline fail (and are retried if they may be), and
    /// tasks whose backoff is over become ready.
    pub fn handle_timeout(&mut self, now: u64) {
        let overdue: Vec<(Key, Attempt)> = self
            .running
            .iter()
            .filter(|(_, attempt)| attempt.deadline.is_some_and(|deadline| deadline <= now))
            .map(|(&key, &attempt)| (key, attempt))
            .collect();
        for (key, attempt) in overdue {
            self.running.remove(&key);
            let limit = attempt.deadline.unwrap_or(now).saturating_sub(attempt.started_at);
            self.retry_or_fail(now, key, attempt, format!("timed out after {limit} ms"));
        }
        let due: Vec<Key> = self.backing_off.iter().filter(|&(_, &at)| at <= now).map(|(&key, _)| key).collect();
        for key in due {
            self.backing_off.remove(&key);
            self.make_ready(key);
        }
        self.advance(now);
    }

    // ----- Shared helpers -----

    fn key(&self, task: &Task) -> Result<Key, ReportError> {
        let unknown = || ReportError::UnknownTask { workflow: self.workflow.name().to_owned(), task: task.clone() };
        let step = self.workflow.position(&task.step).ok_or_else(unknown)?;
        if task.item.is_some_and(|item| item >= self.records[step].items.len()) {
            return Err(unknown());
        }
        Ok(Key { step, item: task.item })
    }

    fn task(&self, key: Key) -> Task {
        Task { step: self.workflow.nodes()[key.step].name.clone(), item: key.item }
    }

    fn record_mut(&mut self, key: Key) -> &mut StepRecord {
        let record = &mut self.records[key.step];
        match key.item {
            None => record,
            Some(item) => &mut record.items[item],
        }
    }

    fn record(&self, key: Key) -> &StepRecord {
        let record = &self.records[key.step];
        match key.item {
            None => record,
            Some(item) => &record.items[item],
        }
    }

    fn emit(&mut self, at: u64, kind: EventKind) {
        self.events.push_back(Event { at, kind });
    }

    /// The result of the step the workflow returns (null before it completes).
    fn result(&self) -> Value {
        self.records[self.workflow.return_position()].result.clone().unwrap_or(Value::Null)
    }
}

fn check_inputs(workflow: &Workflow, inputs: &Map<String, Value>) -> Result<(), RunError> {
    if let Some(missing) = workflow.inputs().iter().find(|input| !inputs.contains_key(input.as_str())) {
        return Err(RunError::MissingInput { workflow: workflow.name().to_owned(), input: missing.clone() });
    }
    if let Some(unexpected) = inputs.keys().find(|given| !workflow.inputs().contains(given)) {
        return Err(RunError::UnexpectedInput {
            workflow: workflow.name().to_owned(),
            input: unexpected.clone(),
            declared: workflow.inputs().to_vec(),
        });
    }
    Ok(())
}
