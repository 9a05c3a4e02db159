//! `presence-cluster`: one presence topic over several relays on one Redis (issue 26, point 6): what a join costs
//! in presence frames, and how long the other relays' pages take to see a killed relay's members leave.
//!
//! It starts one Redis and the relays on it (`--pubsub`, [`Deployment::relays_on_redis_with`]), with the presence
//! timeout asked for. On each relay a few observers join the topic first, each keeping the topic's presence as
//! phoenix.js `Presence` does ([`PresenceView`]: keys, metas by `phx_ref`) under a key of its own (`o…`). Then the
//! members, opened beforehand and dealt over the relays in turn (member `n` on relay `n mod R`), join as `u{n}`, a
//! bounded number at a time; every member and observer counts the `presence_state` and `presence_diff` frames it
//! receives and their bytes. The join phase ends when every observer sees every member: frames and bytes per join
//! are everything the members and observers received from the first join until presence went quiet, over the joins.
//! Redis's CPU (`INFO`) and the relays' (/proc) are read over that phase.
//!
//! Then the last relay is SIGKILLed: it says nothing to the others, so its members leave their pages only once the
//! others have heard nothing from it for the presence timeout (`--presence-timeout-ms`; heartbeats every second).
//! The kill phase ends when every observer on the surviving relays sees the survivors' members only; its time is
//! compared with the timeout.
//!
//! What should not happen is named in the output, and fails the run: an observer that never sees every member, or
//! the dead relay's leave; a member without its `presence_state`; more diffs than the relays' coalescing allows
//! (one a window per relay and topic: each socket at most one every `--presence-window-ms`); a kill phase longer
//! than the timeout plus [`KILL_SLACK`].

use crate::Result;
use crate::dialect::{Dialect, Incoming, JOIN_ID};
use crate::net::{self, Ws};
use crate::presence_view::PresenceView;
use crate::proc_stats::CpuWindow;
use crate::redis_info;
use crate::scenario::cluster::{counter, link_counters};
use crate::scenario::storm::connect_all;
use crate::scenario::window::round;
use crate::scenario::{Figure, Outcome, merge_json};
use crate::servers::{Deployment, Programs, Redis, Server, http_get};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

/// The topic everyone joins.
const TOPIC: &str = "room:presence-cluster";
/// The relays' presence window, given to them explicitly since the diff bound depends on it.
const WINDOW: Duration = Duration::from_millis(50);
/// How long past the presence timeout the kill phase may take before it fails: a heartbeat (the relays check for
/// silence once a heartbeat), a window, and the time to deliver the leave.
pub(crate) const KILL_SLACK: Duration = Duration::from_secs(2);
/// How long presence must stay quiet (no presence frame anywhere) for a phase to be over.
const QUIET: Duration = Duration::from_millis(500);

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// `ferrocast-relay`.
    pub relay_bin: PathBuf,
    /// `redis-server`.
    pub redis_server: PathBuf,
    /// Relays on the one Redis (two at least: one is killed).
    pub relays: usize,
    /// Members joining the topic, dealt over the relays in turn.
    pub members: usize,
    /// Observers on each relay.
    pub observers: usize,
    /// Joins in flight at once (each waits for its reply).
    pub join_concurrency: usize,
    /// The relays' `--presence-timeout-ms`.
    pub presence_timeout: Duration,
    /// Where the processes' logs go.
    pub log_dir: PathBuf,
}

/// Presence frames and bytes received by a group of sockets, and when the last one came.
#[derive(Debug, Default)]
struct Counters {
    states: AtomicU64,
    diffs: AtomicU64,
    bytes: AtomicU64,
    /// Nanoseconds since the clock origin of the last presence frame.
    last_ns: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    states: u64,
    diffs: u64,
    bytes: u64,
}

impl Counters {
    fn add(&self, state: bool, bytes: usize, origin: Instant) {
        let counter = if state { &self.states } else { &self.diffs };
        counter.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.last_ns.fetch_max(origin.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    fn tally(&self) -> Tally {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Tally { states: get(&self.states), diffs: get(&self.diffs), bytes: get(&self.bytes) }
    }
}

impl Tally {
    fn since(self, before: Tally) -> Tally {
        Tally {
            states: self.states - before.states,
            diffs: self.diffs - before.diffs,
            bytes: self.bytes - before.bytes,
        }
    }

    fn plus(self, other: Tally) -> Tally {
        Tally { states: self.states + other.states, diffs: self.diffs + other.diffs, bytes: self.bytes + other.bytes }
    }

    fn frames(self) -> u64 {
        self.states + self.diffs
    }
}

/// An observer's count of members, when it changed (or its first state).
#[derive(Debug, Clone, Copy)]
struct Seen {
    observer: usize,
    members: usize,
    at: Instant,
}

/// Runs the whole scenario: starts Redis and the relays, measures, stops everything.
pub(crate) async fn run(options: &Options) -> Result<Outcome> {
    if options.relays < 2 || options.members == 0 || options.observers == 0 || options.join_concurrency == 0 {
        return Err("presence-cluster needs two relays, a member, an observer per relay and a join at a time".into());
    }
    let sockets = options.members + options.relays * options.observers;
    let capped = net::cap_connections(sockets, 0);
    if let Some(note) = capped.note {
        return Err(format!("{sockets} sockets do not fit in this process: {note}").into());
    }
    let programs =
        Programs::relays_on_redis(options.relay_bin.clone(), options.redis_server.clone(), options.log_dir.clone());
    let args: Vec<String> = [
        "--presence-timeout-ms".to_owned(),
        options.presence_timeout.as_millis().to_string(),
        "--presence-window-ms".to_owned(),
        WINDOW.as_millis().to_string(),
        // Members send nothing after their join.
        "--idle-timeout".to_owned(),
        "3600".to_owned(),
    ]
    .into();
    progress(format!("starting Redis and {} relays", options.relays));
    let Deployment::RelaysOnRedis { mut relays, redis } =
        Deployment::relays_on_redis_with(&programs, "presence-cluster", options.relays, &args).await?
    else {
        return Err("relays_on_redis started something else".into());
    };
    let outcome = measure(&mut relays, &redis, options).await;
    for relay in relays {
        relay.stop().await;
    }
    redis.stop().await;
    outcome
}

async fn measure(relays: &mut Vec<Server>, redis: &Redis, options: &Options) -> Result<Outcome> {
    let relay_count = relays.len();
    let origin = Instant::now();
    let (members_counted, observers_counted) = (Arc::new(Counters::default()), Arc::new(Counters::default()));
    let (seen_tx, mut seen) = mpsc::unbounded_channel::<Seen>();
    let mut tasks = JoinSet::new();

    // Observers first, and their joins settled, so that what follows is the members' joins only.
    progress(format!("{} observers on each relay", options.observers));
    let mut observer_relay = Vec::new();
    for (relay_index, relay) in relays.iter().enumerate() {
        for ws in connect_all(&relay.target(), options.observers).await? {
            let observer = observer_relay.len();
            observer_relay.push(relay_index);
            let (counters, seen) = (observers_counted.clone(), seen_tx.clone());
            tasks.spawn(observe(ws, observer, format!("o{relay_index}-{observer}"), counters, seen, origin));
        }
    }
    drop(seen_tx);
    let observer_count = observer_relay.len();
    let mut counts = vec![None::<usize>; observer_count];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while counts.iter().any(Option::is_none) {
        match tokio::time::timeout_at(deadline, seen.recv()).await {
            Ok(Some(event)) => counts[event.observer] = Some(event.members),
            _ => return Err("the observers did not all join within 30 s".into()),
        }
    }
    quiet(&[&observers_counted], origin).await;

    progress(format!("opening {} members' sockets", options.members));
    let (go, ready) = watch::channel(None::<Instant>);
    let permits = Arc::new(Semaphore::new(options.join_concurrency));
    let joined = Arc::new(AtomicUsize::new(0));
    let last_reply_ns = Arc::new(AtomicU64::new(0));
    for (relay_index, relay) in relays.iter().enumerate() {
        let share = options.members / relay_count + usize::from(relay_index < options.members % relay_count);
        for (k, ws) in connect_all(&relay.target(), share).await?.into_iter().enumerate() {
            let id = relay_index + k * relay_count;
            let (ready, permits, counters) = (ready.clone(), permits.clone(), members_counted.clone());
            let (joined, last_reply_ns) = (joined.clone(), last_reply_ns.clone());
            tasks.spawn(async move {
                member(ws, id, ready, permits, counters, joined, last_reply_ns, origin).await;
            });
        }
    }

    // The join phase.
    let members_before = members_counted.tally();
    let observers_before = observers_counted.tally();
    let relay_cpu: Vec<CpuWindow> = relays.iter().map(|relay| CpuWindow::start(relay.pid())).collect();
    let redis_before = redis_info::read(redis.addr).await?;
    progress(format!("{} members join {TOPIC}, {} at a time", options.members, options.join_concurrency));
    let started = Instant::now();
    go.send(Some(started))?;
    let all = options.members;
    let mut full_at: Vec<Option<Instant>> = vec![None; observer_count];
    let mut counts: Vec<usize> = counts.into_iter().map(Option::unwrap_or_default).collect();
    // Every member is sent O(N) bytes of presence, O(N²) in all (8.7 GB at 10,000): on a loaded machine that took
    // 169 s and more than 230 s.
    let join_deadline =
        tokio::time::Instant::now() + Duration::from_secs(600).max(Duration::from_millis(all as u64 * 60));
    while full_at.iter().any(Option::is_none) {
        match tokio::time::timeout_at(join_deadline, seen.recv()).await {
            Ok(Some(event)) => {
                counts[event.observer] = event.members;
                full_at[event.observer] = (event.members == all).then_some(event.at);
            }
            Ok(None) | Err(_) => break,
        }
    }
    let converged = full_at.iter().all(Option::is_some);
    let converge_s = full_at.iter().flatten().map(|at| at.duration_since(started).as_secs_f64()).fold(0.0, f64::max);
    let join_cpu_s = started.elapsed().as_secs_f64();
    let relays_cpu: Vec<Option<f64>> = relay_cpu.iter().map(CpuWindow::seconds).collect();
    let redis_after = redis_info::read(redis.addr).await?;
    quiet(&[&members_counted, &observers_counted], origin).await;
    let join_members = members_counted.tally().since(members_before);
    let join_observers = observers_counted.tally().since(observers_before);
    let last_frame_ns =
        members_counted.last_ns.load(Ordering::Relaxed).max(observers_counted.last_ns.load(Ordering::Relaxed));
    let phase_s = (last_frame_ns as f64 / 1e9 - started.duration_since(origin).as_secs_f64()).max(0.0);
    let joins_s = last_reply_ns.load(Ordering::Relaxed) as f64 / 1e9 - started.duration_since(origin).as_secs_f64();
    let joined = joined.load(Ordering::Relaxed);
    progress(format!(
        "joined {joined}; observers converged: {converged} after {converge_s:.2} s; presence quiet {phase_s:.2} s after \
         the first join"
    ));

    // The kill phase, once the join phase converged: a kill among joins still under way would measure both.
    let victim_index = relay_count - 1;
    let killed_members = (victim_index..all).step_by(relay_count).count();
    let survivors = all - killed_members;
    let (mut kill_converged, mut kill_times) = (false, Vec::new());
    let (mut kill_members, mut kill_observers) = (Tally::default(), Tally::default());
    if converged {
        let victim = relays.pop().ok_or("no relay to kill")?;
        let surviving: Vec<usize> = (0..observer_count).filter(|&o| observer_relay[o] != victim_index).collect();
        let members_before = members_counted.tally();
        let observers_before = observers_counted.tally();
        progress(format!("SIGKILL relay {} ({killed_members} members)", char::from(b'a' + victim_index as u8)));
        let killed = Instant::now();
        victim.stop().await;
        let mut left_at: Vec<Option<Instant>> =
            (0..observer_count).map(|o| (counts[o] == survivors).then_some(killed)).collect();
        let kill_deadline = tokio::time::Instant::now() + options.presence_timeout + Duration::from_secs(30);
        while surviving.iter().any(|&o| left_at[o].is_none()) {
            match tokio::time::timeout_at(kill_deadline, seen.recv()).await {
                Ok(Some(event)) => {
                    counts[event.observer] = event.members;
                    left_at[event.observer] = (event.members == survivors).then_some(event.at);
                }
                Ok(None) | Err(_) => break,
            }
        }
        kill_converged = surviving.iter().all(|&o| left_at[o].is_some());
        kill_times =
            surviving.iter().filter_map(|&o| left_at[o]).map(|at| at.duration_since(killed).as_secs_f64()).collect();
        quiet(&[&members_counted, &observers_counted], origin).await;
        kill_members = members_counted.tally().since(members_before);
        kill_observers = observers_counted.tally().since(observers_before);
    } else {
        progress("the join phase did not converge: no relay is killed".to_owned());
    }
    let kill_s = kill_times.iter().copied().fold(0.0, f64::max);
    let kill_first_s = kill_times.iter().copied().fold(f64::INFINITY, f64::min);
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}

    // The survivors' cluster counters: none should have needed a whole state or a resend.
    let mut cluster = serde_json::Map::new();
    for name in [
        "ferrocast_cluster_presence_resent_total",
        "ferrocast_cluster_presence_states_total",
        "ferrocast_cluster_peers_expired_total",
        "ferrocast_cluster_peers",
    ] {
        let mut sum = Some(0);
        for relay in relays.iter() {
            let page = match tokio::time::timeout(Duration::from_secs(5), http_get(relay.addr, "/metrics")).await {
                Ok(Ok((200, body))) => body,
                _ => String::new(),
            };
            sum = sum.zip(counter(&link_counters(&page), name)).map(|(sum, value)| sum + value);
        }
        cluster.insert(name.to_owned(), json!(sum));
    }

    let joins = all as f64;
    let join_all = join_members.plus(join_observers);
    let sockets = all + observer_count;
    let diff_bound = sockets as f64 * (phase_s / WINDOW.as_secs_f64() + 2.0);
    let kill_bound = (options.presence_timeout + KILL_SLACK).as_secs_f64();
    let mut troubles = Vec::new();
    if joined < all {
        troubles.push(format!("{} of {all} members' joins were not answered", all - joined));
    }
    if !converged {
        let short: Vec<String> = counts.iter().map(usize::to_string).collect();
        troubles.push(format!("not every observer saw all {all} members (they saw {})", short.join(", ")));
    }
    if join_members.states < all as u64 {
        troubles.push(format!("{} presence_state frames for {all} members' joins", join_members.states));
    }
    if join_all.diffs as f64 > diff_bound {
        troubles.push(format!(
            "{} presence_diff frames to {sockets} sockets over {phase_s:.2} s, over the {diff_bound:.0} that one diff a \
             {} ms window allows",
            join_all.diffs,
            WINDOW.as_millis()
        ));
    }
    if !converged {
        troubles.push("no relay was killed: the join phase did not converge".to_owned());
    } else if !kill_converged {
        troubles.push(format!(
            "after the kill, not every surviving observer saw the {killed_members} members of the killed relay leave"
        ));
    } else if kill_s > kill_bound {
        troubles.push(format!(
            "the killed relay's members left after {kill_s:.2} s, over the presence timeout + {} s ({kill_bound:.1} s)",
            KILL_SLACK.as_secs()
        ));
    }

    let relays_cpu_total: Option<f64> = relays_cpu.iter().copied().sum();
    let redis_cpu = redis_after.cpu_seconds - redis_before.cpu_seconds;
    let percent = |seconds: f64| round(seconds * 100.0 / join_cpu_s.max(1e-9), 1);
    let frames_per_join = join_all.frames() as f64 / joins;
    let bytes_per_join = join_all.bytes as f64 / joins;
    let tally_json = |tally: Tally| json!({"states": tally.states, "diffs": tally.diffs, "bytes": tally.bytes});
    let figures = json!({
        "relays": relay_count,
        "members": all,
        "observers": observer_count,
        "join_concurrency": options.join_concurrency,
        "presence_timeout_s": options.presence_timeout.as_secs_f64(),
        "window_ms": WINDOW.as_millis() as u64,
        "joined": joined,
        "joins_answered_s": round(joins_s, 3),
        "converged": converged,
        "converge_s": round(converge_s, 3),
        "presence_quiet_s": round(phase_s, 3),
        "join_members": tally_json(join_members),
        "join_observers": tally_json(join_observers),
        "frames_per_join": round(frames_per_join, 2),
        "bytes_per_join": bytes_per_join.round(),
        "diffs_per_socket": round(join_all.diffs as f64 / sockets as f64, 1),
        "diff_bound": diff_bound.round(),
        "redis_cpu_percent": percent(redis_cpu),
        "relays_cpu_percent": relays_cpu_total.map(percent),
        "relay_cpu_percent_each": relays_cpu.iter().map(|cpu| cpu.map(percent)).collect::<Vec<_>>(),
        "cpu_window_s": round(join_cpu_s, 3),
        "killed_members": killed_members,
        "kill_converged": kill_converged,
        "kill_converge_s": round(kill_s, 3),
        "kill_first_s": if kill_times.is_empty() { Value::Null } else { json!(round(kill_first_s, 3)) },
        "kill_bound_s": kill_bound,
        "kill_members": tally_json(kill_members),
        "kill_observers": tally_json(kill_observers),
        "cluster": Value::Object(cluster.clone()),
        "troubles": troubles,
    });
    let cpu = relays_cpu_total.map_or("?".to_owned(), |seconds| format!("{:.0}", percent(seconds)));
    let mut human = format!(
        "presence-cluster: {all} members over {relay_count} relays ({observer_count} observers), {} joins at a time: \
         every observer saw all {all} after {converge_s:.2} s (joins answered in {joins_s:.2} s); {frames_per_join:.2} \
         presence frames and {:.1} KB per join ({} states, {} diffs, {:.1} diffs per socket over {phase_s:.2} s); \
         Redis {:.0} % of a core, relays {cpu} %; relay killed with {killed_members} members: they left every \
         surviving page after {kill_s:.2} s (first {:.2} s; presence timeout {:.1} s)",
        options.join_concurrency,
        bytes_per_join / 1e3,
        join_all.states,
        join_all.diffs,
        join_all.diffs as f64 / sockets as f64,
        percent(redis_cpu),
        if kill_times.is_empty() { f64::NAN } else { kill_first_s },
        options.presence_timeout.as_secs_f64(),
    );
    if !converged {
        human.push_str(" (join phase NOT converged)");
    }
    if !troubles.is_empty() {
        human.push_str(&format!(" (troubles: {})", troubles.join("; ")));
    }
    Ok(Outcome {
        human,
        json: merge_json("presence-cluster", json!({}), figures),
        figures: vec![
            Figure::lower("presence frames per join", frames_per_join),
            Figure::lower("presence bytes per join", bytes_per_join),
            Figure::lower("time to converge (s)", converge_s),
            Figure::lower("time to drop a killed relay's members (s)", kill_s),
        ],
    })
}

/// Fails when the run named a trouble.
pub(crate) fn verdict(json: &Value) -> Result<()> {
    match json["troubles"].as_array() {
        Some(troubles) if !troubles.is_empty() => {
            let troubles: Vec<&str> = troubles.iter().filter_map(Value::as_str).collect();
            Err(format!("presence-cluster: {}", troubles.join("; ")).into())
        }
        _ => Ok(()),
    }
}

/// Waits until no presence frame has come for [`QUIET`] (at most 30 s).
async fn quiet(counters: &[&Counters], origin: Instant) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last = counters.iter().map(|counters| counters.last_ns.load(Ordering::Relaxed)).max().unwrap_or(0);
        let since = origin.elapsed().saturating_sub(Duration::from_nanos(last));
        if since >= QUIET || Instant::now() > deadline {
            return;
        }
        tokio::time::sleep(QUIET - since).await;
    }
}

/// An observer: joins as `key`, keeps the topic's presence, and reports its count of members (`u…` keys) on every
/// change.
async fn observe(
    mut ws: Ws,
    observer: usize,
    key: String,
    counters: Arc<Counters>,
    seen: mpsc::UnboundedSender<Seen>,
    origin: Instant,
) {
    if ws.send(Message::text(Dialect::Phoenix.join(TOPIC, Some(&key)))).await.is_err() {
        return;
    }
    let mut view = PresenceView::default();
    let mut members = None;
    while let Some(Ok(message)) = ws.next().await {
        let Message::Text(text) = message else { continue };
        Dialect::Phoenix.for_each(&text, |incoming| match incoming {
            Incoming::Push { event: "presence_state", payload } => {
                counters.add(true, text.len(), origin);
                view.state(payload);
            }
            Incoming::Push { event: "presence_diff", payload } => {
                counters.add(false, text.len(), origin);
                view.diff(payload);
            }
            _ => {}
        });
        let now = view.count(|key| key.starts_with('u'));
        if members != Some(now) {
            members = Some(now);
            let _ = seen.send(Seen { observer, members: now, at: Instant::now() });
        }
    }
}

/// A member: joins as `u{id}` once told to, one of a bounded number in flight, then counts what it receives.
#[allow(clippy::too_many_arguments)]
async fn member(
    mut ws: Ws,
    id: usize,
    mut go: watch::Receiver<Option<Instant>>,
    permits: Arc<Semaphore>,
    counters: Arc<Counters>,
    joined: Arc<AtomicUsize>,
    last_reply_ns: Arc<AtomicU64>,
    origin: Instant,
) {
    if go.wait_for(Option::is_some).await.is_err() {
        return;
    }
    let Ok(permit) = permits.acquire_owned().await else { return };
    let mut permit = Some(permit);
    if ws.send(Message::text(Dialect::Phoenix.join(TOPIC, Some(&format!("u{id}"))))).await.is_err() {
        return;
    }
    while let Some(Ok(message)) = ws.next().await {
        let Message::Text(text) = message else { continue };
        Dialect::Phoenix.for_each(&text, |incoming| match incoming {
            Incoming::Push { event: "presence_state", .. } => counters.add(true, text.len(), origin),
            Incoming::Push { event: "presence_diff", .. } => counters.add(false, text.len(), origin),
            Incoming::Reply { id: JOIN_ID, ok: true, .. } if permit.is_some() => {
                permit = None;
                joined.fetch_add(1, Ordering::Relaxed);
                last_reply_ns.fetch_max(origin.elapsed().as_nanos() as u64, Ordering::Relaxed);
            }
            _ => {}
        });
    }
}

fn progress(message: String) {
    eprintln!("  presence-cluster: {message}");
}
