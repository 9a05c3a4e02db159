//! What an engine can run: workflows by name, each with a description and default inputs, and the actions their
//! steps name.

use crate::command::Outcome;
use crate::engine::actions::{Action, Call, FnAction};
use crate::step::Work;
use crate::workflow::Workflow;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

/// A workflow as the engine lists and starts it.
#[derive(Debug, Clone)]
pub struct Listing {
    workflow: Arc<Workflow>,
    description: String,
    defaults: Map<String, Value>,
    simulation: bool,
}

impl Listing {
    /// Lists `workflow` under its name.
    pub fn new(workflow: Workflow) -> Self {
        Listing { workflow: Arc::new(workflow), description: String::new(), defaults: Map::new(), simulation: false }
    }

    /// Says what the workflow does.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// The value an input takes when a start request leaves it out.
    pub fn default_input(mut self, input: impl Into<String>, value: impl Into<Value>) -> Self {
        self.defaults.insert(input.into(), value.into());
        self
    }

    /// Marks the workflow as a simulation: its steps do no real work (the demo workflows).
    pub fn simulation(mut self) -> Self {
        self.simulation = true;
        self
    }

    /// The workflow listed; its runs share it.
    pub fn workflow(&self) -> &Arc<Workflow> {
        &self.workflow
    }

    /// `inputs`, with a default for each declared input they leave out.
    pub(crate) fn with_defaults(&self, mut inputs: Map<String, Value>) -> Map<String, Value> {
        for (input, default) in &self.defaults {
            if !inputs.contains_key(input) {
                inputs.insert(input.clone(), default.clone());
            }
        }
        inputs
    }

    /// The listing as `GET /api/workflows` shows it: inputs with their defaults, and the step graph.
    pub fn to_json(&self) -> Value {
        let workflow = &self.workflow;
        let inputs: Vec<Value> = workflow
            .inputs()
            .iter()
            .map(|input| json!({ "name": input, "default": self.defaults.get(input) }))
            .collect();
        let steps: Vec<Value> = workflow
            .step_names()
            .filter_map(|name| Some((name, workflow.step(name)?)))
            .map(|(name, step)| {
                let (kind, runs) = match step.work() {
                    Work::Action(action) => ("action", json!(action)),
                    Work::Map { action, batch_size, .. } => {
                        ("map", json!({ "action": action, "batch_size": batch_size }))
                    }
                    Work::Workflow(child) => ("workflow", json!(child.name())),
                };
                json!({
                    "name": name,
                    "kind": kind,
                    "runs": runs,
                    "depends_on": workflow.depends_on(name).collect::<Vec<_>>(),
                    "max_retries": step.retries_allowed(),
                    "timeout_ms": step.attempt_timeout_ms(),
                    "undo": step.has_undo(),
                    "compensate": step.has_compensate(),
                })
            })
            .collect();
        json!({
            "name": workflow.name(),
            "description": self.description,
            "simulation": self.simulation,
            "inputs": inputs,
            "returns": workflow.returns(),
            "max_concurrency": workflow.max_concurrency(),
            "steps": steps,
        })
    }
}

/// The workflows an engine starts by name, and the actions their steps name.
#[derive(Default, Clone)]
pub struct Catalog {
    workflows: BTreeMap<String, Listing>,
    actions: HashMap<String, Arc<dyn Action>>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut actions: Vec<&String> = self.actions.keys().collect();
        actions.sort();
        f.debug_struct("Catalog").field("workflows", &self.workflows.keys()).field("actions", &actions).finish()
    }
}

impl Catalog {
    /// An empty catalog, to fill with [`Catalog::workflow`] and [`Catalog::action`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a workflow, replacing one of the same name.
    pub fn workflow(mut self, listing: Listing) -> Self {
        self.workflows.insert(listing.workflow.name().to_owned(), listing);
        self
    }

    /// Adds the implementation of the action `name`.
    pub fn action(mut self, name: impl Into<String>, action: impl Action) -> Self {
        self.actions.insert(name.into(), Arc::new(action));
        self
    }

    /// Adds the action `name` made of an async function, with no undo or compensation.
    pub fn action_fn<F, Fut>(self, name: impl Into<String>, run: F) -> Self
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        self.action(name, FnAction(run))
    }

    /// Every other catalog's workflows and actions added to this one's.
    pub fn merge(mut self, other: Catalog) -> Self {
        self.workflows.extend(other.workflows);
        self.actions.extend(other.actions);
        self
    }

    /// A workflow, by name.
    pub fn listing(&self, name: &str) -> Option<&Listing> {
        self.workflows.get(name)
    }

    /// Every workflow, by name.
    pub fn listings(&self) -> impl Iterator<Item = &Listing> {
        self.workflows.values()
    }

    /// An action, by name.
    pub(crate) fn action_named(&self, name: &str) -> Option<&Arc<dyn Action>> {
        self.actions.get(name)
    }
}
