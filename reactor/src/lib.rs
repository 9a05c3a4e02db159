//! Ferrocast's workflow engine core: sagas of named steps, as a sans-IO state machine.
//!
//! A [`Workflow`] is a set of named steps whose arguments come from the run's inputs, from constants or from
//! other steps' results; those references form a DAG, checked when the workflow is built (unknown references,
//! duplicates and cycles are [`BuildError`]s whose messages name the culprits). A [`Run`] schedules one execution
//! of it: independent steps run concurrently up to `max_concurrency`, failed attempts are retried with
//! full-jitter exponential backoff up to `max_retries`, attempts can time out, and when a step fails for good the
//! completed steps are undone, dependents first. A step's compensation can retry it or continue with a value;
//! a step can halt the run. A step can also run a sub-workflow, or map an action over an array in batches.
//!
//! The core does no work itself and has no clock. It asks for work with [`Command`]s (run this step, start this
//! child run, undo, compensate), takes the results as reports, and is told the time (`now`, in milliseconds) with
//! every call; it says when it next needs to be woken (`poll_timeout`) and tells what happened as [`Event`]s.
//! An executor (an async task, a test loop in simulated time) drives it, and a publisher forwards its events.
//!
//! ```
//! use ferrocast_reactor::{Arg, Command, Outcome, Run, RunStatus, Step, Workflow};
//! use serde_json::json;
//! use std::sync::Arc;
//!
//! let workflow = Workflow::builder("greet")
//!     .input("name")
//!     .step("greeting", Step::action("format").arg("who", Arg::input("name")))
//!     .build()
//!     .unwrap();
//! let inputs = json!({ "name": "Ada" }).as_object().unwrap().clone();
//! let mut run = Run::new(Arc::new(workflow), "run-1", inputs, 7, 0).unwrap();
//! while let Some(command) = run.poll_command() {
//!     if let Command::Run { task, attempt, arguments, .. } = command {
//!         let greeting = format!("Hello, {}!", arguments["who"].as_str().unwrap());
//!         run.handle_step_outcome(5, &task, attempt, Outcome::Ok(json!(greeting))).unwrap();
//!     }
//! }
//! assert_eq!(run.status(), RunStatus::Completed);
//! assert_eq!(run.outcome(), Some(Outcome::Ok(json!("Hello, Ada!"))));
//! ```
//!
//! - [`workflow`](Workflow), [`step`](Step): declaring and checking workflows.
//! - [`Run`]: the state machine; its module documentation describes a run's life, failures, undo and halts.
//! - [`Command`], [`Outcome`], [`Compensation`]: what a run asks for and what it is told.
//! - [`Event`]: lifecycle notifications with timestamps, durations and attempt numbers.
//! - [`StepRecord`]: each step's state, attempts, times, result and error, for a status page.
//!
//! Around the core, and the only part with an async runtime and a clock:
//! - [`engine`]: the [`Engine`](engine::Engine) that runs workflows from a catalog, one task per run, and
//!   publishes every event on `reactor:<run_id>` and a summary on `reactor:runs` through a notifier.
//! - [`demo`]: the built-in demo workflows, simulations with configurable durations and failure injection.

mod backoff;
mod command;
mod cycle;
pub mod demo;
pub mod engine;
mod error;
mod event;
mod record;
mod run;
mod step;
mod workflow;

pub use backoff::Backoff;
pub use command::{Command, Compensation, Outcome, Task};
pub use error::{BuildError, ReportError, RunError};
pub use event::{Event, EventKind};
pub use record::{StepRecord, TaskState};
pub use run::{Run, RunStatus};
pub use step::{Arg, MAP_ITEM_ARGUMENT, Step, Work};
pub use workflow::{DEFAULT_MAX_CONCURRENCY, Workflow, WorkflowBuilder};
