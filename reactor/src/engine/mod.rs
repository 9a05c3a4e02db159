//! The engine: runs workflows from a [`Catalog`] on tokio, each run driven by a task of its own, and publishes
//! every run's events through a [`Notifier`] (ferrocast-pubsub's hub, through ferrocast-channels' `hub_notifier`).
//!
//! - A run's events go to `reactor:<run_id>` in the order they happened, each with `seq` (from 1), `at` (Unix
//!   milliseconds), durations and attempts; its run-level events (started, completed, failed, halted,
//!   compensated) are also summarized on [`RUNS_TOPIC`], with the run's status and progress.
//! - Actions run on tasks of their own, so a slow one holds up nothing else; a panicking one fails its attempt.
//!   A sub-workflow step starts a child run with a topic of its own, whose events name the parent.
//! - Memory is bounded: at most [`EngineLimits::max_running`] runs started from outside run at once (children
//!   do not count, so a parent never waits on a slot its own child needs), and the statuses of the last
//!   [`EngineLimits::keep_finished`] finished runs are kept for `status`.
//!
//! Nothing here knows about sockets or HTTP: the `reactor:*` channel (ferrocast-channels) and the relay's API call
//! [`Engine::start`], [`Engine::status`] and [`Engine::workflows`].

mod actions;
mod catalog;
mod clock;
mod drive;
mod payloads;

pub use actions::{Action, BoxFuture, Call};
pub use catalog::{Catalog, Listing};

use crate::error::RunError;
use crate::run::Run;
use clock::Clock;
use ferrocast_protocol::rng::Rng;
use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;

/// The topic that summarizes every run's run-level events.
pub const RUNS_TOPIC: &str = "reactor:runs";

/// The topic of one run's events.
pub fn run_topic(run_id: &str) -> String {
    format!("reactor:{run_id}")
}

/// Where the engine's events go.
pub trait Notifier: Send + Sync + 'static {
    /// Publishes the JSON text `payload` as `event` on `topic`. One run's events come from one task, in order.
    fn publish(&self, topic: &str, event: &str, payload: String);
}

/// How much the engine holds at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineLimits {
    /// Runs started with [`Engine::start`] running at once; another start is refused. Default 64.
    pub max_running: usize,
    /// Finished runs whose status is kept, the oldest forgotten first. Default 1,000.
    pub keep_finished: usize,
}

impl Default for EngineLimits {
    fn default() -> Self {
        EngineLimits { max_running: 64, keep_finished: 1_000 }
    }
}

/// Why a run did not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// No workflow of that name is registered.
    #[error("no workflow named '{0}'")]
    UnknownWorkflow(String),
    /// The inputs, after defaults, are not the workflow's.
    #[error(transparent)]
    Inputs(#[from] RunError),
    /// `max_running` runs are running.
    #[error("too many runs: {0} are running, the most this engine runs at once")]
    TooManyRuns(usize),
    /// `start` was called outside a tokio runtime.
    #[error("the engine runs on tokio, and was called outside a tokio runtime")]
    NoRuntime,
}

/// A handle to the engine; clones share it.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("catalog", &self.shared.catalog).field("limits", &self.shared.limits).finish()
    }
}

struct Shared {
    catalog: Catalog,
    notifier: Arc<dyn Notifier>,
    limits: EngineLimits,
    clock: Clock,
    /// Only starting, finishing and looking up runs take this lock; a run's progress takes the run's own.
    runs: Mutex<RunTable>,
}

struct RunTable {
    runs: HashMap<String, Tracked>,
    /// Finished runs, oldest first.
    finished: VecDeque<String>,
    /// Runs started from outside that have not finished.
    running: usize,
    /// Run ids and the runs' jitter seeds.
    rng: Rng,
}

/// A run the engine knows, running or finished.
struct Tracked {
    run: Arc<Mutex<Run>>,
    /// The run whose sub-workflow step started it.
    parent: Option<String>,
}

impl Engine {
    /// An engine for `catalog`'s workflows, publishing through `notifier`.
    pub fn new(catalog: Catalog, notifier: Arc<dyn Notifier>, limits: EngineLimits) -> Self {
        let runs = RunTable { runs: HashMap::new(), finished: VecDeque::new(), running: 0, rng: Rng::new(entropy()) };
        let shared = Shared { catalog, notifier, limits, clock: Clock::start(), runs: Mutex::new(runs) };
        Engine { shared: Arc::new(shared) }
    }

    /// The workflows it starts by name and the actions it runs, as given to [`Engine::new`].
    pub fn catalog(&self) -> &Catalog {
        &self.shared.catalog
    }

    /// Starts a run of the workflow `name` with `inputs` (a declared input left out takes its default) and
    /// returns its id. Its events follow on [`run_topic`]. Call it within a tokio runtime.
    pub fn start(&self, name: &str, inputs: Map<String, Value>) -> Result<String, StartError> {
        let listing = self.shared.catalog.listing(name).ok_or_else(|| StartError::UnknownWorkflow(name.to_owned()))?;
        let inputs = listing.with_defaults(inputs);
        let (run_id, _done) = self.spawn_run(Arc::clone(listing.workflow()), inputs, None)?;
        Ok(run_id)
    }

    /// A run's status and table of steps (see `GET /api/runs/{id}` in the README); `None` for a run this engine
    /// never ran or has forgotten.
    pub fn status(&self, run_id: &str) -> Option<Value> {
        let (run, parent) = {
            let table = lock(&self.shared.runs);
            let tracked = table.runs.get(run_id)?;
            (Arc::clone(&tracked.run), tracked.parent.clone())
        };
        let run = lock(&run);
        Some(payloads::status_json(&run, parent.as_deref(), &self.shared.clock))
    }

    /// The registered workflows with their inputs and step graphs, by name.
    pub fn workflows(&self) -> Value {
        Value::Array(self.shared.catalog.listings().map(Listing::to_json).collect())
    }

    /// Starts a run and its driving task; returns its id and where its outcome will come.
    fn spawn_run(
        &self,
        workflow: Arc<crate::Workflow>,
        inputs: Map<String, Value>,
        parent: Option<String>,
    ) -> Result<(String, oneshot::Receiver<crate::Outcome>), StartError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StartError::NoRuntime)?;
        let now = self.shared.clock.now();
        let mut table = lock(&self.shared.runs);
        if parent.is_none() && table.running >= self.shared.limits.max_running {
            return Err(StartError::TooManyRuns(self.shared.limits.max_running));
        }
        let (run_id, seed) = table.fresh_id_and_seed();
        let run = Arc::new(Mutex::new(Run::new(workflow, run_id.clone(), inputs, seed, now)?));
        if parent.is_none() {
            table.running += 1;
        }
        table.runs.insert(run_id.clone(), Tracked { run: Arc::clone(&run), parent: parent.clone() });
        drop(table);
        let (done, outcome) = oneshot::channel();
        runtime.spawn(drive::drive(self.clone(), run, parent, done));
        Ok((run_id, outcome))
    }

    /// Records that a run has finished, forgetting the oldest finished runs beyond the limit.
    fn finished(&self, run_id: &str, started_from_outside: bool) {
        let mut table = lock(&self.shared.runs);
        if started_from_outside {
            table.running -= 1;
        }
        table.finished.push_back(run_id.to_owned());
        while table.finished.len() > self.shared.limits.keep_finished {
            if let Some(oldest) = table.finished.pop_front() {
                table.runs.remove(&oldest);
            }
        }
    }
}

impl RunTable {
    /// A run id not in use (16 hex digits), and a seed for the run's retry jitter.
    fn fresh_id_and_seed(&mut self) -> (String, u64) {
        loop {
            let id = format!("{:016x}", self.rng.next_u64());
            if !self.runs.contains_key(&id) {
                return (id, self.rng.next_u64());
            }
        }
    }
}

/// A seed that differs between processes and between engines: std's hasher keys come from the OS's randomness.
fn entropy() -> u64 {
    use std::hash::BuildHasher;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_nanos());
    std::collections::hash_map::RandomState::new().hash_one(nanos)
}

/// Locks a mutex, recovering it if a panic poisoned it: every value behind one is left whole between calls.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
