//! A workflow: named inputs and named steps whose arguments form a DAG, checked when it is built.
//!
//! Once built, a workflow is immutable and shared (`Arc<Workflow>`) by every run of it, so a run never needs to
//! check a reference again: every input it reads is declared, every step it waits for exists, and nothing waits
//! on itself.

use crate::cycle::find_cycle;
use crate::error::BuildError;
use crate::step::{Arg, MAP_ITEM_ARGUMENT, Step, Work};
use std::collections::{HashMap, HashSet};

/// The default limit on steps running at once in one run.
pub const DEFAULT_MAX_CONCURRENCY: usize = 16;

/// A checked workflow. Build one with [`Workflow::builder`].
#[derive(Debug)]
pub struct Workflow {
    name: String,
    inputs: Vec<String>,
    steps: Vec<Node>,
    index: HashMap<String, usize>,
    returns: usize,
    max_concurrency: usize,
}

/// A step in the graph, with its edges both ways.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) step: Step,
    /// The steps whose results it reads, each once.
    pub(crate) dependencies: Vec<usize>,
    /// The steps that read its result, each once.
    pub(crate) dependents: Vec<usize>,
}

impl Workflow {
    /// Starts declaring a workflow.
    pub fn builder(name: impl Into<String>) -> WorkflowBuilder {
        WorkflowBuilder {
            name: name.into(),
            inputs: Vec::new(),
            steps: Vec::new(),
            returns: None,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
        }
    }

    /// The workflow's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The inputs a run must be given, in declaration order.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// The steps' names, in declaration order.
    pub fn step_names(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().map(|node| node.name.as_str())
    }

    /// A step's declaration.
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.index.get(name).map(|&index| &self.steps[index].step)
    }

    /// The steps whose results a step reads, each once, in the order its arguments name them; none for an unknown
    /// step.
    pub fn depends_on(&self, name: &str) -> impl Iterator<Item = &str> {
        let dependencies = self.index.get(name).map_or(&[][..], |&index| &self.steps[index].dependencies[..]);
        dependencies.iter().map(|&dependency| self.steps[dependency].name.as_str())
    }

    /// The step whose result is the run's result.
    pub fn returns(&self) -> &str {
        &self.steps[self.returns].name
    }

    /// The most steps (or map elements) one run runs at once.
    pub fn max_concurrency(&self) -> usize {
        self.max_concurrency
    }

    pub(crate) fn nodes(&self) -> &[Node] {
        &self.steps
    }

    pub(crate) fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub(crate) fn return_position(&self) -> usize {
        self.returns
    }
}

/// Declares a workflow; [`WorkflowBuilder::build`] checks it.
#[derive(Debug)]
pub struct WorkflowBuilder {
    name: String,
    inputs: Vec<String>,
    steps: Vec<(String, Step)>,
    returns: Option<String>,
    max_concurrency: usize,
}

impl WorkflowBuilder {
    /// Declares an input, which every run must be given.
    pub fn input(mut self, name: impl Into<String>) -> Self {
        self.inputs.push(name.into());
        self
    }

    /// Adds a step. Steps may be added in any order; their arguments decide the order they run in.
    pub fn step(mut self, name: impl Into<String>, step: Step) -> Self {
        self.steps.push((name.into(), step));
        self
    }

    /// Names the step whose result is the run's result. Without it, the last step added is.
    pub fn returns(mut self, step: impl Into<String>) -> Self {
        self.returns = Some(step.into());
        self
    }

    /// The most attempts of steps (or map elements) one run has running at once ([`DEFAULT_MAX_CONCURRENCY`]
    /// unless set). Undos and compensations are not counted: they come only after a failure, one decision or one
    /// undo per task.
    pub fn max_concurrency(mut self, limit: usize) -> Self {
        self.max_concurrency = limit;
        self
    }

    /// Checks the declaration: names are unique, every reference is to a declared input or an existing step,
    /// steps do not depend on each other in a cycle, and each step's options make sense.
    pub fn build(self) -> Result<Workflow, BuildError> {
        let workflow = self.name.clone();
        if self.steps.is_empty() {
            return Err(BuildError::NoSteps { workflow });
        }
        if self.max_concurrency == 0 {
            return Err(BuildError::ZeroConcurrency { workflow });
        }
        if let Some(input) = first_duplicate(self.inputs.iter().map(String::as_str)) {
            return Err(BuildError::DuplicateInput { workflow, input: input.to_owned() });
        }
        if let Some(step) = first_duplicate(self.steps.iter().map(|(name, _)| name.as_str())) {
            return Err(BuildError::DuplicateStep { workflow, step: step.to_owned() });
        }
        let index: HashMap<String, usize> =
            self.steps.iter().enumerate().map(|(position, (name, _))| (name.clone(), position)).collect();
        let mut dependencies = Vec::with_capacity(self.steps.len());
        for (name, step) in &self.steps {
            check_options(&workflow, name, step)?;
            dependencies.push(self.resolve_sources(&index, name, step)?);
        }
        if let Some(cycle) = find_cycle(&dependencies) {
            let cycle = cycle.into_iter().map(|position| self.steps[position].0.clone()).collect();
            return Err(BuildError::Cycle { workflow, cycle });
        }
        let returns = match &self.returns {
            None => self.steps.len() - 1,
            Some(step) => *index
                .get(step)
                .ok_or_else(|| BuildError::UnknownReturn { workflow: workflow.clone(), step: step.clone() })?,
        };
        let mut dependents = vec![Vec::new(); self.steps.len()];
        for (dependent, its_dependencies) in dependencies.iter().enumerate() {
            for &dependency in its_dependencies {
                dependents[dependency].push(dependent);
            }
        }
        let steps = self
            .steps
            .into_iter()
            .zip(dependencies.into_iter().zip(dependents))
            .map(|((name, step), (dependencies, dependents))| Node { name, step, dependencies, dependents })
            .collect();
        Ok(Workflow {
            name: self.name,
            inputs: self.inputs,
            steps,
            index,
            returns,
            max_concurrency: self.max_concurrency,
        })
    }

    /// The steps `step` reads, each once, after checking that each of its sources exists.
    fn resolve_sources(
        &self,
        index: &HashMap<String, usize>,
        name: &str,
        step: &Step,
    ) -> Result<Vec<usize>, BuildError> {
        let mut dependencies = Vec::new();
        for (argument, source) in step.sources() {
            match source {
                Arg::Input(input) if !self.inputs.contains(input) => {
                    return Err(BuildError::UnknownInput {
                        workflow: self.name.clone(),
                        step: name.to_owned(),
                        argument: argument.to_owned(),
                        input: input.clone(),
                    });
                }
                Arg::Result(target) => {
                    let Some(&position) = index.get(target) else {
                        return Err(BuildError::UnknownStep {
                            workflow: self.name.clone(),
                            step: name.to_owned(),
                            argument: argument.to_owned(),
                            target: target.clone(),
                        });
                    };
                    if !dependencies.contains(&position) {
                        dependencies.push(position);
                    }
                }
                Arg::Input(_) | Arg::Value(_) => {}
            }
        }
        Ok(dependencies)
    }
}

/// Checks what a step's kind requires of its options and arguments.
fn check_options(workflow: &str, name: &str, step: &Step) -> Result<(), BuildError> {
    let argument_names = || step.arguments.iter().map(|(argument, _)| argument.as_str());
    if let Some(argument) = first_duplicate(argument_names()) {
        return Err(BuildError::DuplicateArgument {
            workflow: workflow.to_owned(),
            step: name.to_owned(),
            argument: argument.to_owned(),
        });
    }
    match &step.work {
        Work::Action(_) => Ok(()),
        Work::Map { batch_size: 0, .. } => {
            Err(BuildError::ZeroBatchSize { workflow: workflow.to_owned(), step: name.to_owned() })
        }
        Work::Map { .. } if argument_names().any(|argument| argument == MAP_ITEM_ARGUMENT) => {
            Err(BuildError::ReservedArgument { workflow: workflow.to_owned(), step: name.to_owned() })
        }
        Work::Map { .. } => Ok(()),
        Work::Workflow(_) if step.undo || step.compensate => {
            Err(BuildError::ChildUndo { workflow: workflow.to_owned(), step: name.to_owned() })
        }
        Work::Workflow(child) => {
            let mut expected = child.inputs().to_vec();
            let mut given: Vec<String> = argument_names().map(str::to_owned).collect();
            expected.sort();
            given.sort();
            if expected == given {
                Ok(())
            } else {
                Err(BuildError::ChildInputs {
                    workflow: workflow.to_owned(),
                    step: name.to_owned(),
                    child: child.name().to_owned(),
                    expected,
                    given,
                })
            }
        }
    }
}

fn first_duplicate<'a>(names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = HashSet::new();
    names.into_iter().find(|name| !seen.insert(*name))
}
