//! A simulated-time executor for runs: commands are answered by a script after a delay, timeouts fire when the
//! run asks, and nothing sleeps.

#![allow(dead_code)] // Each test file uses part of it.

use ferrocast_reactor::{
    Command, Compensation, Event, EventKind, Outcome, ReportError, Run, Task, TaskState, Work, Workflow,
};
use serde_json::{Map, Value};
use std::sync::Arc;

/// What the script answers a command with.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    Outcome(Outcome),
    Undo(Result<(), String>),
    Compensation(Compensation),
}

/// `Some((delay_ms, reply))` to answer after `delay_ms`, `None` never to answer.
pub(crate) type Script = Box<dyn FnMut(&Command) -> Option<(u64, Reply)>>;

struct Scheduled {
    at: u64,
    command: Command,
    reply: Reply,
}

pub(crate) struct Sim {
    pub run: Run,
    pub now: u64,
    pub events: Vec<Event>,
    /// Every command, with the time it was given.
    pub commands: Vec<(u64, Command)>,
    /// Reports the run refused.
    pub refused: Vec<ReportError>,
    /// The most attempts running at once.
    pub max_running: usize,
    script: Script,
    scheduled: Vec<Scheduled>,
}

impl Sim {
    pub(crate) fn start(workflow: Workflow, inputs: Value, seed: u64, script: Script) -> Sim {
        Sim::start_shared(Arc::new(workflow), inputs, seed, script)
    }

    pub(crate) fn start_shared(workflow: Arc<Workflow>, inputs: Value, seed: u64, script: Script) -> Sim {
        let run = Run::new(workflow, "run", object(inputs), seed, 0).expect("the run starts");
        let mut sim = Sim {
            run,
            now: 0,
            events: Vec::new(),
            commands: Vec::new(),
            refused: Vec::new(),
            max_running: 0,
            script,
            scheduled: Vec::new(),
        };
        sim.drain();
        sim
    }

    /// Runs until the run ends or nothing more can happen.
    pub(crate) fn finish(&mut self) -> &mut Sim {
        while self.step_time() {}
        self
    }

    /// Advances to the next moment something happens; false when nothing will.
    pub(crate) fn step_time(&mut self) -> bool {
        let next_reply = self.scheduled.iter().map(|scheduled| scheduled.at).min();
        let Some(next) = [next_reply, self.run.poll_timeout()].into_iter().flatten().min() else {
            return false;
        };
        assert!(next >= self.now, "time never goes back");
        self.now = next;
        // Replies due now go in the order they were scheduled, then the run's own timeouts.
        while let Some(index) = self.scheduled.iter().position(|scheduled| scheduled.at == self.now) {
            let scheduled = self.scheduled.remove(index);
            self.deliver(scheduled.command, scheduled.reply);
            self.drain();
        }
        if self.run.poll_timeout().is_some_and(|at| at <= self.now) {
            self.run.handle_timeout(self.now);
            self.drain();
        }
        true
    }

    fn deliver(&mut self, command: Command, reply: Reply) {
        let task = command.task().clone();
        let result = match (command, reply) {
            (Command::Run { attempt, .. } | Command::RunWorkflow { attempt, .. }, Reply::Outcome(outcome)) => {
                self.run.handle_step_outcome(self.now, &task, attempt, outcome)
            }
            (Command::Undo { .. }, Reply::Undo(result)) => self.run.handle_undo_done(self.now, &task, result),
            (Command::Compensate { .. }, Reply::Compensation(decision)) => {
                self.run.handle_compensation(self.now, &task, decision)
            }
            (command, reply) => panic!("the script answered {command:?} with {reply:?}"),
        };
        if let Err(refused) = result {
            self.refused.push(refused);
        }
    }

    fn drain(&mut self) {
        self.max_running = self.max_running.max(self.running_now());
        while let Some(event) = self.run.poll_event() {
            self.events.push(event);
        }
        while let Some(command) = self.run.poll_command() {
            self.commands.push((self.now, command.clone()));
            if let Some((delay, reply)) = (self.script)(&command) {
                self.scheduled.push(Scheduled { at: self.now + delay, command, reply });
            }
        }
    }

    /// Attempts running now, by the run's own records (a map step counts its elements, not itself).
    pub(crate) fn running_now(&self) -> usize {
        let is_map =
            |name: &str| matches!(self.run.workflow().step(name).map(|step| step.work()), Some(Work::Map { .. }));
        self.run
            .steps()
            .map(|(name, record)| {
                if is_map(name) {
                    record.items.iter().filter(|item| item.state == ferrocast_reactor::TaskState::Running).count()
                } else {
                    usize::from(record.state == ferrocast_reactor::TaskState::Running)
                }
            })
            .sum()
    }

    /// The events as `name task` strings, for comparing sequences.
    pub(crate) fn event_names(&self) -> Vec<String> {
        self.events
            .iter()
            .map(|event| match event.kind.task() {
                Some(task) => format!("{} {task}", event.kind.name()),
                None => event.kind.name().to_owned(),
            })
            .collect()
    }

    /// The tasks of the commands of one kind (`run`, `undo`, `compensate`, `workflow`), in order.
    pub(crate) fn tasks_of(&self, kind: &str) -> Vec<String> {
        self.commands
            .iter()
            .filter(|(_, command)| command_kind(command) == kind)
            .map(|(_, command)| command.task().to_string())
            .collect()
    }

    /// Each step's state, in the workflow's order.
    pub(crate) fn step_states(&self) -> Vec<(&str, TaskState)> {
        self.run.steps().map(|(name, record)| (name, record.state)).collect()
    }

    /// When each attempt of `task` started.
    pub(crate) fn starts_of(&self, task: &Task) -> Vec<u64> {
        self.events
            .iter()
            .filter(|event| matches!(&event.kind, EventKind::StepStarted { task: started, .. } if started == task))
            .map(|event| event.at)
            .collect()
    }
}

pub(crate) fn command_kind(command: &Command) -> &'static str {
    match command {
        Command::Run { .. } => "run",
        Command::RunWorkflow { .. } => "workflow",
        Command::Undo { .. } => "undo",
        Command::Compensate { .. } => "compensate",
    }
}

pub(crate) fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => panic!("inputs must be an object, not {other}"),
    }
}

/// Every step succeeds after `delay` ms with `"<task> done"`, and undos succeed at once.
pub(crate) fn succeed_after(delay: u64) -> Script {
    Box::new(move |command| Some(answer_ok(command, delay)))
}

/// The answer `succeed_after` gives: success with `"<task> done"`, or an undo done.
pub(crate) fn answer_ok(command: &Command, delay: u64) -> (u64, Reply) {
    match command {
        Command::Undo { .. } => (0, Reply::Undo(Ok(()))),
        Command::Compensate { .. } => (0, Reply::Compensation(Compensation::Fail)),
        _ => (delay, Reply::Outcome(Outcome::Ok(Value::String(format!("{} done", command.task()))))),
    }
}
