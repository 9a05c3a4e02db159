//! `hooks`: pushes through a backend's push hook next to pushes a built-in channel answers, on one relay in one run.
//!
//! The relay runs with `--proxy-push 'app:*=http://127.0.0.1:PORT/push'` to the Node backend of
//! `loadgen/hooks/backend.mjs`, which answers every push at once with its payload as the reply. Each mode has N
//! connections of its own, each joined to one topic: `app:bench:<i>` (hooked: the relay POSTs each push to the
//! backend and replies with its answer) or `room:bench:<i>` (the built-in room channel, which answers `ping` with
//! its payload, as in `echo`). Every active connection pushes closed loop, one push at a time: `ping` with a
//! stamped ~100-byte payload, wait for its reply (checked ok and carrying that payload back), the next push. One
//! at a time is also how the relay calls a hook for one topic of one connection, so a window would only queue
//! in the relay.
//!
//! For each connection count (`levels`, say 1 and 50) the two modes alternate on the same relay, built-in then
//! hook then hook then built-in (ABBA, so a drift of the machine weighs on both alike), each for half of
//! `duration`, after an unmeasured warm-up of each (the relay's pool of connections to the backend fills then).
//! One connection measures what the hook adds to a push's round trip with nothing queued; many measure how
//! many pushes a second the two cores carry each way, and what a push costs the relay's and the backend's CPU.

use crate::Result;
use crate::dialect::{Dialect, Incoming};
use crate::latency::{self, Summary, format_us};
use crate::net::{self, IDLE_READ_BUFFER, Ws};
use crate::proc_stats::{CpuWindow, MachineWindow};
use crate::scenario::window::round;
use crate::scenario::{Figure, Outcome, merge_json};
use crate::target::Target;
use crate::{conn, stamp};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::fmt::Write;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// The topics the relay hands to the backend: `--proxy-push` takes this pattern.
pub(crate) const HOOKED_PATTERN: &str = "app:*";
/// How long a push may wait for its reply: above the relay's default hook timeout (5 s), which answers an error.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle connection sends a heartbeat, well inside the relay's idle timeout (60 s).
const HEARTBEAT: Duration = Duration::from_secs(20);
/// The longest unmeasured warm-up of a mode at a level; it is a tenth of the measured time below that.
const MAX_WARM_UP: Duration = Duration::from_secs(1);

/// What the scenario runs.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// The connection counts, in the order they run (each mode gets this many connections at that level).
    pub levels: Vec<usize>,
    /// Measured time per mode and level, in two halves.
    pub duration: Duration,
    /// The backend's process, for its CPU per push.
    pub backend_pid: Option<u32>,
}

/// How a push is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// By the relay's built-in room channel.
    Builtin,
    /// By the backend, through the push hook.
    Hook,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Builtin => "builtin",
            Mode::Hook => "hook",
        }
    }

    fn topic(self, index: usize) -> String {
        match self {
            Mode::Builtin => format!("room:bench:{index}"),
            Mode::Hook => format!("app:bench:{index}"),
        }
    }
}

/// What the connections are told: push on `mode`'s first `connections` connections until `deadline`.
#[derive(Debug, Clone, Copy)]
struct Phase {
    mode: Mode,
    connections: usize,
    deadline: Instant,
}

/// What some pushes came to.
#[derive(Debug)]
struct Tally {
    histogram: Histogram<u64>,
    /// Pushes answered.
    answered: u64,
    /// Answered with an error.
    refused: u64,
    /// Answered ok, but not with the payload pushed.
    mismatched: u64,
    /// The first error reply, for the output.
    first_refusal: Option<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally { histogram: latency::histogram(), answered: 0, refused: 0, mismatched: 0, first_refusal: None }
    }

    fn add(&mut self, other: &Tally) -> Result<()> {
        self.histogram.add(&other.histogram)?;
        self.answered += other.answered;
        self.refused += other.refused;
        self.mismatched += other.mismatched;
        if self.first_refusal.is_none() {
            self.first_refusal.clone_from(&other.first_refusal);
        }
        Ok(())
    }
}

/// One mode at one level, over its measured phases.
#[derive(Debug)]
struct Measured {
    tally: Tally,
    /// Wall seconds from each phase's start to its last reply, summed.
    seconds: f64,
    relay_cpu: Option<f64>,
    backend_cpu: Option<f64>,
    generator_cpu: Option<f64>,
    /// The whole machine's busy CPU: the three above, the kernel's softirqs, and anything else running.
    machine_cpu: Option<f64>,
}

impl Measured {
    fn new() -> Measured {
        Measured {
            tally: Tally::new(),
            seconds: 0.0,
            relay_cpu: Some(0.0),
            backend_cpu: Some(0.0),
            generator_cpu: Some(0.0),
            machine_cpu: Some(0.0),
        }
    }

    fn pushes_per_second(&self) -> f64 {
        if self.seconds > 0.0 { self.tally.answered as f64 / self.seconds } else { 0.0 }
    }

    /// CPU µs per answered push of `seconds` of CPU.
    fn per_push(&self, seconds: Option<f64>) -> Option<f64> {
        seconds.filter(|_| self.tally.answered > 0).map(|seconds| seconds * 1e6 / self.tally.answered as f64)
    }

    fn json(&self) -> Value {
        let percent = |seconds: Option<f64>| {
            seconds.filter(|_| self.seconds > 0.0).map(|seconds| round(seconds * 100.0 / self.seconds, 1))
        };
        json!({
            "pushes": self.tally.answered,
            "seconds": round(self.seconds, 3),
            "pushes_per_s": round(self.pushes_per_second(), 1),
            "refused": self.tally.refused,
            "mismatched": self.tally.mismatched,
            "first_refusal": self.tally.first_refusal,
            "latency": Summary::of(&self.tally.histogram).json(),
            "relay_cpu_us_per_push": self.per_push(self.relay_cpu).map(|us| round(us, 2)),
            "backend_cpu_us_per_push": self.per_push(self.backend_cpu).map(|us| round(us, 2)),
            "relay_cpu_percent": percent(self.relay_cpu),
            "backend_cpu_percent": percent(self.backend_cpu),
            "generator_cpu_percent": percent(self.generator_cpu),
            "machine_cpu_percent": percent(self.machine_cpu),
        })
    }
}

/// A connection's task: one connection of one mode for the whole run, pushing when a phase asks for it.
struct Connection {
    ws: Ws,
    mode: Mode,
    index: usize,
    topic: String,
    /// The next ref; the join took [`crate::dialect::JOIN_ID`].
    next_id: u64,
}

/// Runs the scenario against a relay whose push hook serves [`HOOKED_PATTERN`].
pub(crate) async fn run(target: &Target, options: &Options) -> Result<Outcome> {
    if target.dialect != Dialect::Phoenix {
        return Err("hooks needs a Ferrocast relay with --proxy-push".into());
    }
    let most = options.levels.iter().copied().max().ok_or("no connection counts to run")?;
    if options.levels.contains(&0) {
        return Err("a connection count of 0 measures nothing".into());
    }
    let capped = net::cap_connections(2 * most, 0);
    if let Some(note) = capped.note {
        return Err(format!("{} connections per mode cannot be opened: {note}", most).into());
    }

    let (phases, phase_rx) = watch::channel(None::<Phase>);
    let (results_tx, mut results) = mpsc::unbounded_channel::<(Mode, Result<Tally>)>();
    let mut opening = JoinSet::new();
    for mode in [Mode::Builtin, Mode::Hook] {
        for index in 0..most {
            let target = target.clone();
            opening.spawn(async move {
                let topic = mode.topic(index);
                // Sources alternate per mode too, so each mode's connections spread over the loopback addresses.
                let ws = conn::open_and_join(
                    &target,
                    2 * index + (mode == Mode::Hook) as usize,
                    IDLE_READ_BUFFER,
                    &topic,
                    None,
                )
                .await
                .map_err(|error| format!("{topic}: {error}"))?;
                Ok::<_, crate::Error>(Connection { ws, mode, index, topic, next_id: crate::dialect::JOIN_ID + 1 })
            });
        }
    }
    let mut tasks = JoinSet::new();
    while let Some(opened) = opening.join_next().await {
        let connection = opened??;
        tasks.spawn(serve(connection, phase_rx.clone(), results_tx.clone()));
    }
    drop(results_tx);

    let generator = std::process::id();
    let mut levels = Vec::new();
    for &connections in &options.levels {
        let warm_up = (options.duration / 10).min(MAX_WARM_UP);
        let half = options.duration / 2;
        let (mut builtin, mut hook) = (Measured::new(), Measured::new());
        for mode in [Mode::Builtin, Mode::Hook] {
            run_phase(&phases, &mut results, mode, connections, warm_up).await?;
        }
        for mode in [Mode::Builtin, Mode::Hook, Mode::Hook, Mode::Builtin] {
            let relay_cpu = CpuWindow::start(target.server_pid);
            let backend_cpu = CpuWindow::start(options.backend_pid);
            let generator_cpu = CpuWindow::start(Some(generator));
            let machine_cpu = MachineWindow::start();
            let started = Instant::now();
            let tally = run_phase(&phases, &mut results, mode, connections, half).await?;
            let seconds = started.elapsed().as_secs_f64();
            let measured = if mode == Mode::Builtin { &mut builtin } else { &mut hook };
            measured.tally.add(&tally)?;
            measured.seconds += seconds;
            measured.relay_cpu = add(measured.relay_cpu, relay_cpu.seconds());
            measured.backend_cpu = add(measured.backend_cpu, backend_cpu.seconds());
            measured.generator_cpu = add(measured.generator_cpu, generator_cpu.seconds());
            measured.machine_cpu = add(measured.machine_cpu, machine_cpu.seconds());
        }
        levels.push((connections, builtin, hook));
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    Ok(outcome(target, options, &levels))
}

/// Runs one phase: `connections` of `mode`'s connections push until `duration` is over; what they got, together.
async fn run_phase(
    phases: &watch::Sender<Option<Phase>>,
    results: &mut mpsc::UnboundedReceiver<(Mode, Result<Tally>)>,
    mode: Mode,
    connections: usize,
    duration: Duration,
) -> Result<Tally> {
    let deadline = Instant::now() + duration;
    phases.send(Some(Phase { mode, connections, deadline }))?;
    let mut total = Tally::new();
    let margin = REPLY_TIMEOUT + Duration::from_secs(5);
    let give_up = deadline + margin;
    for _ in 0..connections {
        match tokio::time::timeout_at(give_up, results.recv()).await {
            Ok(Some((from, tally))) if from == mode => total.add(&tally?)?,
            Ok(Some((from, _))) => {
                return Err(format!("a {} connection answered a {} phase", from.name(), mode.name()).into());
            }
            Ok(None) => return Err("every connection task ended".into()),
            Err(_) => {
                return Err(format!("the {} phase did not end within {margin:?} of its end", mode.name()).into());
            }
        }
    }
    Ok(total)
}

/// One connection for the whole run: pushes through every phase that includes it, heartbeats in between, and
/// reports each phase's tally (or why it could not push).
async fn serve(
    mut connection: Connection,
    mut phases: watch::Receiver<Option<Phase>>,
    results: mpsc::UnboundedSender<(Mode, Result<Tally>)>,
) {
    let mut heartbeat = tokio::time::interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
    // A phase keeps the connection busy past ticks; one heartbeat after it is enough.
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Why the connection is no good any more, once it is not: every later phase that includes it is told.
    let mut broken: Option<String> = None;
    loop {
        tokio::select! {
            changed = phases.changed() => {
                if changed.is_err() {
                    return; // The run is over.
                }
                let phase = *phases.borrow_and_update();
                let mine = |phase: &Phase| phase.mode == connection.mode && connection.index < phase.connections;
                let Some(phase) = phase.filter(mine) else { continue };
                let tally = match &broken {
                    Some(why) => Err(why.clone()),
                    None => push_until(&mut connection, phase.deadline)
                        .await
                        .map_err(|error| format!("{}: {error}", connection.topic)),
                };
                if let Err(why) = &tally {
                    broken = Some(why.clone());
                }
                if results.send((connection.mode, tally.map_err(Into::into))).is_err() {
                    return;
                }
            }
            _ = heartbeat.tick(), if broken.is_none() => {
                let beat = Dialect::Phoenix.heartbeat(connection.next_id).expect("Phoenix has heartbeats");
                connection.next_id += 1;
                if let Err(error) = connection.ws.send(Message::text(beat)).await {
                    broken = Some(format!("{}: a heartbeat: {error}", connection.topic));
                }
            }
            next = connection.ws.next(), if broken.is_none() => {
                let topic = &connection.topic;
                match next {
                    Some(Ok(Message::Close(frame))) => broken = Some(format!("{topic}: closed while idle: {frame:?}")),
                    Some(Ok(_)) => {} // A heartbeat's reply.
                    Some(Err(error)) => broken = Some(format!("{topic}: while idle: {error}")),
                    None => broken = Some(format!("{topic}: the connection ended while idle")),
                }
            }
        }
    }
}

/// Pushes one at a time until `deadline`, each once the previous one's reply is in.
async fn push_until(connection: &mut Connection, deadline: Instant) -> Result<Tally> {
    let mut tally = Tally::new();
    let dialect = Dialect::Phoenix;
    while Instant::now() < deadline {
        let id = connection.next_id;
        connection.next_id += 1;
        let sent_at = stamp::now_ns();
        connection.ws.send(Message::text(dialect.echo(&connection.topic, stamp::payload(id), id))).await?;
        let (ok, echoed) = match tokio::time::timeout(REPLY_TIMEOUT, reply(&mut connection.ws, id)).await {
            Ok(answer) => answer?,
            Err(_) => return Err(format!("no reply within {REPLY_TIMEOUT:?}").into()),
        };
        latency::record_ns(&mut tally.histogram, stamp::now_ns().saturating_sub(sent_at));
        tally.answered += 1;
        match (ok, echoed) {
            (true, Some(seq)) if seq == id => {}
            (true, _) => tally.mismatched += 1,
            (false, _) => tally.refused += 1,
        }
    }
    Ok(tally)
}

/// Waits for the reply to `id`: whether it is ok, and the sequence number of the payload it carries back.
async fn reply(ws: &mut Ws, id: u64) -> Result<(bool, Option<u64>)> {
    loop {
        let text = conn::next_text(ws).await?;
        let mut answer = None;
        Dialect::Phoenix.for_each(&text, |incoming| {
            if let Incoming::Reply { id: replied, ok, response } = incoming
                && replied == id
            {
                answer = Some((ok, response.and_then(stamp::read).map(|stamp| stamp.seq)));
            }
        });
        if let Some(answer) = answer {
            return Ok(answer);
        }
    }
}

fn add(total: Option<f64>, more: Option<f64>) -> Option<f64> {
    Some(total? + more?)
}

/// `hook − builtin` of a latency figure, in µs.
fn added(hook: &Summary, builtin: &Summary, figure: fn(&Summary) -> u64) -> i64 {
    figure(hook) as i64 - figure(builtin) as i64
}

fn outcome(target: &Target, options: &Options, levels: &[(usize, Measured, Measured)]) -> Outcome {
    let mut human = format!(
        "hooks: pushes one at a time per connection, {:.1} s per mode and level:",
        options.duration.as_secs_f64()
    );
    let mut level_json = Vec::new();
    let mut errors = 0;
    for (connections, builtin, hook) in levels {
        let (b, h) = (Summary::of(&builtin.tally.histogram), Summary::of(&hook.tally.histogram));
        let (p50, p99) = (added(&h, &b, |s| s.p50_us), added(&h, &b, |s| s.p99_us));
        let _ = write!(
            human,
            " {connections} conn: hook {:.0}/s p50 {} p99 {}, built-in {:.0}/s p50 {} p99 {} (the hook adds \
             p50 {p50} µs, p99 {p99} µs",
            hook.pushes_per_second(),
            format_us(h.p50_us),
            format_us(h.p99_us),
            builtin.pushes_per_second(),
            format_us(b.p50_us),
            format_us(b.p99_us),
        );
        if let (Some(hooked), Some(plain)) = (hook.per_push(hook.relay_cpu), builtin.per_push(builtin.relay_cpu)) {
            let _ = write!(human, "; relay CPU {hooked:.1} against {plain:.1} µs/push");
        }
        if let Some(node) = hook.per_push(hook.backend_cpu) {
            let _ = write!(human, ", backend {node:.1} µs/push");
        }
        human.push_str(");");
        for measured in [builtin, hook] {
            errors += measured.tally.refused + measured.tally.mismatched;
        }
        level_json.push(json!({
            "connections": connections,
            "builtin": builtin.json(),
            "hook": hook.json(),
            "added_p50_us": p50,
            "added_p99_us": p99,
            "added_p999_us": added(&h, &b, |s| s.p999_us),
        }));
    }
    human.pop();
    if errors > 0 {
        let _ = write!(human, "; {errors} pushes answered with an error or the wrong payload");
        if let Some(why) =
            levels.iter().find_map(|(_, b, h)| b.tally.first_refusal.clone().or(h.tally.first_refusal.clone()))
        {
            let _ = write!(human, " (first: {why})");
        }
    }
    let figures = json!({
        "target": target.ws_url(),
        "pattern": HOOKED_PATTERN,
        "seconds_per_mode": options.duration.as_secs_f64(),
        "levels": level_json,
        "errors": errors,
    });
    let light = levels.first();
    let loaded = levels.last();
    let light_summaries = light.map(|(_, b, h)| (Summary::of(&h.tally.histogram), Summary::of(&b.tally.histogram)));
    Outcome {
        human,
        json: merge_json("hooks", json!({}), figures),
        figures: vec![
            Figure::higher("pushes/s via the hook, most connections", loaded.map(|(_, _, h)| h.pushes_per_second())),
            Figure::higher("pushes/s on room:*, most connections", loaded.map(|(_, b, _)| b.pushes_per_second())),
            Figure::lower(
                "p50 added by the hook, fewest connections (µs)",
                light_summaries.map(|(h, b)| added(&h, &b, |s| s.p50_us) as f64),
            ),
            Figure::lower(
                "p99 added by the hook, fewest connections (µs)",
                light_summaries.map(|(h, b)| added(&h, &b, |s| s.p99_us) as f64),
            ),
            Figure::lower("relay CPU per push via the hook (µs)", loaded.and_then(|(_, _, h)| h.per_push(h.relay_cpu))),
            Figure::lower("relay CPU per push on room:* (µs)", loaded.and_then(|(_, b, _)| b.per_push(b.relay_cpu))),
            Figure::lower("backend CPU per push (µs)", loaded.and_then(|(_, _, h)| h.per_push(h.backend_cpu))),
            Figure::lower("lost", errors as f64),
        ],
    }
}

/// The `## Backend hooks` table of `results.md` from a hooks outcome's JSON: each level's two modes and what the
/// hook added. Empty when there is no such run.
pub(crate) fn markdown(figures: &Value) -> String {
    let Some(levels) = figures["levels"].as_array() else { return String::new() };
    let us = |value: &Value| value.as_u64().map_or("–".to_owned(), format_us);
    let number = |value: &Value, digits: usize| value.as_f64().map_or("–".to_owned(), |x| format!("{x:.digits$}"));
    let signed = |value: &Value| {
        value.as_i64().map_or("–".to_owned(), |us| {
            format!("{}{}", if us < 0 { "−" } else { "+" }, format_us(us.unsigned_abs()))
        })
    };
    let mut table = String::from(
        "| connections | mode | pushes/s | p50 | p99 | p999 | relay CPU µs/push | backend CPU µs/push | relay / \
         backend / generator / machine CPU % | errors |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for level in levels {
        let connections = &level["connections"];
        for (mode, name) in [("builtin", "built-in (room:*)"), ("hook", "push hook (app:*)")] {
            let m = &level[mode];
            let cpu = format!(
                "{} / {} / {} / {}",
                number(&m["relay_cpu_percent"], 0),
                number(&m["backend_cpu_percent"], 0),
                number(&m["generator_cpu_percent"], 0),
                number(&m["machine_cpu_percent"], 0),
            );
            let errors = m["refused"].as_u64().unwrap_or(0) + m["mismatched"].as_u64().unwrap_or(0);
            let _ = writeln!(
                table,
                "| {connections} | {name} | {} | {} | {} | {} | {} | {} | {cpu} | {errors} |",
                number(&m["pushes_per_s"], 0),
                us(&m["latency"]["p50_us"]),
                us(&m["latency"]["p99_us"]),
                us(&m["latency"]["p999_us"]),
                number(&m["relay_cpu_us_per_push"], 1),
                number(&m["backend_cpu_us_per_push"], 1),
            );
        }
        let _ = writeln!(
            table,
            "| {connections} | added by the hook | | {} | {} | {} | | | | |",
            signed(&level["added_p50_us"]),
            signed(&level["added_p99_us"]),
            signed(&level["added_p999_us"]),
        );
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_both_modes_and_the_difference_per_level() {
        let level = json!({
            "connections": 50,
            "builtin": { "pushes_per_s": 20000.0, "latency": { "p50_us": 2000, "p99_us": 4000, "p999_us": 6000 },
                         "relay_cpu_us_per_push": 20.0, "relay_cpu_percent": 40.0, "refused": 0, "mismatched": 0 },
            "hook": { "pushes_per_s": 5000.0, "latency": { "p50_us": 9000, "p99_us": 15000, "p999_us": 20000 },
                      "relay_cpu_us_per_push": 60.0, "backend_cpu_us_per_push": 90.0, "relay_cpu_percent": 30.0,
                      "backend_cpu_percent": 45.0, "generator_cpu_percent": 10.0,
                      "machine_cpu_percent": 95.0, "refused": 1, "mismatched": 0 },
            "added_p50_us": 7000, "added_p99_us": 11000, "added_p999_us": 14000,
        });
        let table = markdown(&json!({ "levels": [level] }));
        assert!(
            table.contains(
                "| 50 | built-in (room:*) | 20000 | 2.0 ms | 4.0 ms | 6.0 ms | 20.0 | – | 40 / – / – / – | 0 |"
            ),
            "{table}"
        );
        assert!(
            table.contains(
                "| 50 | push hook (app:*) | 5000 | 9.0 ms | 15.0 ms | 20.0 ms | 60.0 | 90.0 | 30 / 45 / 10 / 95 | 1 |"
            ),
            "{table}"
        );
        assert!(table.contains("| 50 | added by the hook | | +7.0 ms | +11.0 ms | +14.0 ms |"), "{table}");
        assert_eq!(markdown(&json!({})), "");
    }

    #[test]
    fn topics_per_mode() {
        assert_eq!(Mode::Builtin.topic(3), "room:bench:3");
        assert_eq!(Mode::Hook.topic(3), "app:bench:3");
        assert!(Mode::Hook.topic(0).starts_with(HOOKED_PATTERN.trim_end_matches('*')));
    }
}
