//! `suite`: every scenario against the relay and the baselines it is compared with, each on a fresh server
//! started here, then one table, `results.json` and `results.md`.
//!
//! Each run gets a server of its own, started on a free port and killed after the run (or on any error), so one
//! scenario's leftovers (allocator caches, TIME_WAIT sockets on its port) never colour the next. The relay runs
//! everything; minimal-server and Socket.IO run what they support: idle without presence, fanout, the ramp and
//! echo. The relay also runs the fanout across two relays on one Redis (`relay ×2 (redis)`): a fresh Redis and two
//! fresh relays on it, the subscribers dealt over both, the publisher on the second, every process killed after the
//! run; it is skipped when `redis-server` cannot run. The relay also runs pushes through a backend's push hook next
//! to its built-in channel (`hooks`): a fresh Node backend (`loadgen/hooks/backend.mjs`) and a fresh relay calling
//! it, both killed after the run; it is skipped when Node cannot run. Last, it publishes broadcasts that its
//! webhooks POST to one receiver (`webhooks`): a fresh Node receiver (`loadgen/webhooks/receiver.mjs`) and a fresh
//! relay with `--webhook` to it, likewise; then the same with the webhooks' queue on Redis (`webhooks-redis`): a
//! fresh Redis too, the relay on it with `--pubsub`, skipped when Node or `redis-server` cannot run. Last of all, six
//! fresh relays on one fresh Redis, each publishing to topics only its own subscribers joined (`disjoint-redis`,
//! [`disjoint`]): what Redis sends and spends, and each relay's CPU, under the relay's subscription scheme; skipped
//! when `redis-server` cannot run. The relay's presence join storm runs twice: 1,000 members (`storm`), and 10,000
//! (`storm-large`; 2,000 with `--quick`), each reading the relay's memory per member once the storm settled (issue
//! 26 bounds both at 16 KiB). The full suite takes a few minutes, `--quick` well under two.

use crate::Result;
use crate::publisher::PublishOver;
use crate::ramp_table;
use crate::scenario::{self, Outcome, disjoint, fanout, hooks, ramp, webhooks};
use crate::servers::{
    Deployment, Kind, Programs, Server, backend_unavailable, redis_unavailable, socketio_unavailable,
};
use crate::table::Table;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What to run against.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// `ferrocast-relay`.
    pub relay_bin: PathBuf,
    /// `minimal-server`.
    pub minimal_bin: PathBuf,
    /// The Socket.IO baseline's directory (skipped when absent or not installed).
    pub socketio_dir: Option<PathBuf>,
    /// The push backend of the `hooks` run (skipped when absent or Node is not installed).
    pub hooks_backend: PathBuf,
    /// The webhook receiver of the `webhooks` run (skipped when absent or Node is not installed).
    pub webhooks_receiver: PathBuf,
    /// `redis-server`, for the fanout across two relays (skipped when it cannot run).
    pub redis_server: PathBuf,
    /// Only these runs; every one when empty.
    pub only: Vec<Run>,
    /// How long and how large the runs are.
    pub scale: Scale,
    /// Where results and server logs go.
    pub out: PathBuf,
}

/// How long and how large the suite's runs are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Scale {
    /// The figures BENCHMARKS.md quotes: a few minutes.
    Full,
    /// Shorter windows and fewer connections: rougher figures in about a minute.
    Quick,
    /// Tiny runs that only show every scenario still works against every server (`cargo xtask test` runs it);
    /// any failed run, and any loss on the relay, fails the suite.
    Smoke,
}

impl Scale {
    /// The value for this scale.
    fn pick<T>(self, full: T, quick: T, smoke: T) -> T {
        match self {
            Scale::Full => full,
            Scale::Quick => quick,
            Scale::Smoke => smoke,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scale::Full => "Full",
            Scale::Quick => "Quick",
            Scale::Smoke => "Smoke",
        }
    }
}

/// The sizes of each scenario at a scale.
struct Sizes {
    idle_connections: usize,
    fanout_subscribers: usize,
    fanout_rate: f64,
    fanout: Duration,
    ramp_rates: Vec<f64>,
    ramp_step: Duration,
    echo_rate: f64,
    echo: Duration,
    sse_subscribers: usize,
    storm_members: usize,
    storm_large_members: usize,
    hooks_connections: Vec<usize>,
    hooks: Duration,
    webhooks_rates: Vec<webhooks::Rate>,
    webhooks_step: Duration,
    disjoint: disjoint::Options,
}

impl Sizes {
    fn new(scale: Scale) -> Sizes {
        Sizes {
            // The descriptor limit caps this (20,000 here, so about 19,800).
            idle_connections: scale.pick(50_000, 2000, 100),
            fanout_subscribers: scale.pick(1000, 1000, 50),
            fanout_rate: scale.pick(300.0, 300.0, 50.0),
            fanout: Duration::from_millis(scale.pick(10_000, 3000, 500)),
            ramp_rates: match scale {
                Scale::Smoke => vec![20.0, 50.0],
                _ => ramp::DEFAULT_RATES.to_vec(),
            },
            ramp_step: Duration::from_millis(scale.pick(3000, 1000, 300)),
            echo_rate: scale.pick(10_000.0, 10_000.0, 500.0),
            echo: Duration::from_millis(scale.pick(10_000, 3000, 500)),
            sse_subscribers: scale.pick(1000, 1000, 50),
            storm_members: scale.pick(1000, 1000, 50),
            // Issue 26 bounds a member of a settled storm of 1,000 and of 10,000; the large one sends its members
            // N²/2 state entries (3.75 GB at 10,000), 20–60 s here.
            storm_large_members: scale.pick(10_000, 2000, 100),
            // One connection for the latency a hook adds with nothing queued; 50 for pushes/s on two busy cores.
            hooks_connections: scale.pick(vec![1, 50], vec![1, 50], vec![1, 4]),
            hooks: Duration::from_millis(scale.pick(10_000, 3000, 400)),
            // From a rate the batch window bounds (25 events a batch) to past what one endpoint drains; the smoke
            // pass, one step of single POSTs and one of arrays, and no `max`, whose overflow would be loss.
            webhooks_rates: match scale {
                Scale::Smoke => vec![webhooks::Rate::Fixed(200.0), webhooks::Rate::Fixed(2000.0)],
                _ => webhooks::DEFAULT_RATES.to_vec(),
            },
            webhooks_step: Duration::from_millis(scale.pick(5000, 2000, 400)),
            // Issue 26's measurement: 6 relays × 1,000 broadcasts/s to topics of their own, 6,000/s in all.
            disjoint: disjoint::Options {
                topics_per_relay: scale.pick(10, 10, 2),
                subscribers_per_topic: scale.pick(3, 3, 1),
                rate_per_relay: scale.pick(1000.0, 1000.0, 50.0),
                warm_up: Duration::from_millis(scale.pick(3000, 1000, 300)),
                duration: Duration::from_millis(scale.pick(20_000, 5000, 500)),
            },
        }
    }
}

/// The runs of the suite, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Run {
    /// Idle connections without presence.
    Idle,
    /// Idle connections with presence (relay only).
    IdlePresence,
    /// Fanout at one rate.
    Fanout,
    /// The same, with batch messages (relay only).
    FanoutBatch,
    /// The same fanout across two relays on one Redis (relay only).
    FanoutRedis,
    /// The fanout's rates, stepped up to saturation.
    Ramp,
    /// Round trips on one connection.
    Echo,
    /// Fanout to event streams (relay only).
    Sse,
    /// A presence join storm (relay only).
    Storm,
    /// A presence join storm ten times as large (relay only).
    StormLarge,
    /// Pushes through a backend's push hook next to a built-in channel's (relay only).
    Hooks,
    /// Broadcasts POSTed by the relay's webhooks to one receiver (relay only).
    Webhooks,
    /// The same, with the webhooks' queue on a Redis of its own (relay only).
    WebhooksRedis,
    /// Six relays on one Redis, each publishing to topics only its own subscribers joined (relay only).
    DisjointRedis,
}

const RUNS: [Run; 14] = [
    Run::Idle,
    Run::IdlePresence,
    Run::Fanout,
    Run::FanoutBatch,
    Run::FanoutRedis,
    Run::Ramp,
    Run::Echo,
    Run::Sse,
    Run::Storm,
    Run::StormLarge,
    Run::Hooks,
    Run::Webhooks,
    Run::WebhooksRedis,
    Run::DisjointRedis,
];
/// The relays of the run across relays on Redis.
const REDIS_RELAYS: usize = 2;
/// What the table and the skip notes call that run's servers.
const REDIS_DEPLOYMENT: &str = "relay ×2 (redis)";
/// The relays of the run with topics of their own.
const DISJOINT_RELAYS: usize = 6;
/// What the table and the skip notes call that run's servers.
const DISJOINT_DEPLOYMENT: &str = "relay ×6 (redis)";
/// What the skip notes call the hooks run's servers.
const HOOKS_DEPLOYMENT: &str = "relay + Node push backend";
/// What the skip notes call the webhooks runs' servers.
const WEBHOOKS_DEPLOYMENT: &str = "relay + Node webhook receiver";
/// What the table's lines call the relay whose webhooks' queue is on Redis.
const WEBHOOKS_REDIS_DEPLOYMENT: &str = "relay (redis)";
/// One run may not take longer than this, whatever goes wrong.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

impl Run {
    fn supported_by(self, kind: Kind) -> bool {
        match self {
            Run::Idle | Run::Fanout | Run::Ramp | Run::Echo => true,
            Run::IdlePresence
            | Run::FanoutBatch
            | Run::FanoutRedis
            | Run::Sse
            | Run::Storm
            | Run::StormLarge
            | Run::Hooks
            | Run::Webhooks
            | Run::WebhooksRedis
            | Run::DisjointRedis => kind == Kind::Relay,
        }
    }

    fn label(self, sizes: &Sizes) -> String {
        match self {
            Run::Idle => "idle, no presence".to_owned(),
            Run::IdlePresence => "idle, presence".to_owned(),
            Run::Fanout => format!("fanout {}/s × {}", sizes.fanout_rate, sizes.fanout_subscribers),
            Run::FanoutBatch => format!("fanout {}/s × {}, batched", sizes.fanout_rate, sizes.fanout_subscribers),
            Run::FanoutRedis => {
                format!("fanout {}/s × {}, {REDIS_DEPLOYMENT}", sizes.fanout_rate, sizes.fanout_subscribers)
            }
            Run::Ramp => format!("ramp × {}", sizes.fanout_subscribers),
            Run::Echo => format!("echo {}/s", sizes.echo_rate),
            Run::Sse => format!("sse {}/s × {}", sizes.fanout_rate, sizes.sse_subscribers),
            Run::Storm => format!("storm {}", sizes.storm_members),
            Run::StormLarge => format!("storm {}", sizes.storm_large_members),
            Run::Hooks => {
                let counts: Vec<String> = sizes.hooks_connections.iter().map(usize::to_string).collect();
                format!("hooks × {}", counts.join(", "))
            }
            Run::Webhooks | Run::WebhooksRedis => {
                let rates: Vec<String> = sizes.webhooks_rates.iter().map(webhooks::Rate::to_string).collect();
                let on =
                    if self == Run::WebhooksRedis { format!(", {WEBHOOKS_REDIS_DEPLOYMENT}") } else { String::new() };
                format!("webhooks {}/s{on}", rates.join(", "))
            }
            Run::DisjointRedis => {
                let options = &sizes.disjoint;
                format!(
                    "disjoint topics {}/s × {} relays ({} topics × {} subscribers each), {DISJOINT_DEPLOYMENT}",
                    options.rate_per_relay, DISJOINT_RELAYS, options.topics_per_relay, options.subscribers_per_topic
                )
            }
        }
    }

    /// What the suite's lines call the servers of this run on a server of `kind`.
    fn server_name(self, kind: Kind) -> &'static str {
        match self {
            Run::FanoutRedis => REDIS_DEPLOYMENT,
            Run::DisjointRedis => DISJOINT_DEPLOYMENT,
            Run::WebhooksRedis => WEBHOOKS_REDIS_DEPLOYMENT,
            _ => kind.name(),
        }
    }

    /// Starts the servers this run needs: one of `kind`, Redis and relays on it, or a backend and a relay calling it.
    async fn deploy(self, kind: Kind, programs: &Programs, file_label: &str) -> Result<Deployment> {
        match self {
            Run::FanoutRedis => Deployment::relays_on_redis(programs, file_label, REDIS_RELAYS).await,
            Run::DisjointRedis => Deployment::relays_on_redis(programs, file_label, DISJOINT_RELAYS).await,
            Run::Hooks => {
                let script = programs.hooks_backend.as_ref().ok_or("no hooks backend to run")?;
                Deployment::relay_with_backend(programs, file_label, script, hooks::HOOKED_PATTERN).await
            }
            Run::Webhooks | Run::WebhooksRedis => {
                let script = programs.webhooks_receiver.as_ref().ok_or("no webhook receiver to run")?;
                let on_redis = self == Run::WebhooksRedis;
                let (name, secret) = (webhooks::ENDPOINT, webhooks::SECRET);
                Deployment::relay_with_receiver(programs, file_label, script, name, secret, on_redis).await
            }
            _ => Server::start(kind, programs, file_label).await.map(Deployment::Single),
        }
    }

    async fn run(self, deployment: &Deployment, sizes: &Sizes) -> Result<Outcome> {
        // The same window for one relay, batched or not, and across relays on Redis: the figures compare.
        let fanout_options = fanout::Options {
            subscribers: sizes.fanout_subscribers,
            rate: sizes.fanout_rate,
            duration: sizes.fanout,
            event_streams: false,
            publish: PublishOver::Http,
        };
        let server = match deployment {
            Deployment::RelaysOnRedis { relays, redis } if self == Run::FanoutRedis => {
                return scenario::cluster::run(relays, redis, fanout_options).await;
            }
            Deployment::RelaysOnRedis { relays, redis } if self == Run::DisjointRedis => {
                return disjoint::run(relays, redis, &sizes.disjoint).await;
            }
            Deployment::RelayWithBackend { relay, backend } if self == Run::Hooks => {
                let options = hooks::Options {
                    levels: sizes.hooks_connections.clone(),
                    duration: sizes.hooks,
                    backend_pid: backend.pid(),
                };
                return hooks::run(&relay.target(), &options).await;
            }
            Deployment::RelayWithReceiver { relay, receiver, redis }
                if matches!(self, Run::Webhooks | Run::WebhooksRedis) =>
            {
                let options = webhooks::Options {
                    rates: sizes.webhooks_rates.clone(),
                    step: sizes.webhooks_step,
                    array: webhooks::DEFAULT_ARRAY,
                    receiver: receiver.addr,
                    receiver_pid: receiver.pid(),
                    redis_pid: redis.as_ref().and_then(|redis| redis.pid()),
                };
                return webhooks::run(&relay.target(), &options).await;
            }
            Deployment::RelaysOnRedis { .. }
            | Deployment::RelayWithBackend { .. }
            | Deployment::RelayWithReceiver { .. } => {
                return Err("this run needs a server of its own".into());
            }
            Deployment::Single(server) => server,
        };
        let mut target = server.target();
        match self {
            Run::Idle => scenario::idle::run(&target, sizes.idle_connections, false).await,
            Run::IdlePresence => scenario::idle::run(&target, sizes.idle_connections, true).await,
            Run::Fanout | Run::FanoutBatch => {
                target.batch = self == Run::FanoutBatch;
                fanout::run(&target, fanout_options).await
            }
            Run::FanoutRedis | Run::DisjointRedis => Err("this run needs relays on Redis".into()),
            Run::Hooks => Err("this run needs a relay with a backend".into()),
            Run::Webhooks | Run::WebhooksRedis => Err("this run needs a relay with a webhook receiver".into()),
            Run::Ramp => {
                let options = ramp::Options {
                    subscribers: sizes.fanout_subscribers,
                    rates: sizes.ramp_rates.clone(),
                    step: sizes.ramp_step,
                    publish: PublishOver::Http,
                };
                ramp::run(&target, &options).await
            }
            Run::Echo => scenario::echo::run(&target, sizes.echo_rate, sizes.echo).await,
            Run::Sse => {
                scenario::sse::run(&target, sizes.sse_subscribers, sizes.fanout_rate, sizes.fanout, PublishOver::Http)
                    .await
            }
            Run::Storm => scenario::storm::run(&target, sizes.storm_members, Duration::ZERO).await,
            Run::StormLarge => scenario::storm::run(&target, sizes.storm_large_members, Duration::ZERO).await,
        }
    }
}

/// Runs the suite; prints each outcome as it comes and the table at the end, and writes the result files.
pub(crate) async fn run(options: &Options, json_lines: bool) -> Result<()> {
    let started = Instant::now();
    let sizes = Sizes::new(options.scale);
    let mut kinds = vec![Kind::Relay, Kind::Minimal];
    let mut skipped = Vec::new();
    let socketio_dir = options.socketio_dir.clone().unwrap_or_else(|| PathBuf::from("loadgen/socketio"));
    match socketio_unavailable(&socketio_dir) {
        None => kinds.push(Kind::SocketIo),
        Some(why) => {
            eprintln!("skipping socket.io: {why}");
            skipped.push(json!({ "server": Kind::SocketIo.name(), "reason": why }));
        }
    }
    let redis_server = match redis_unavailable(&options.redis_server) {
        None => Some(options.redis_server.clone()),
        Some(why) => {
            for deployment in [REDIS_DEPLOYMENT, WEBHOOKS_REDIS_DEPLOYMENT, DISJOINT_DEPLOYMENT] {
                eprintln!("skipping {deployment}: {why}");
                skipped.push(json!({ "server": deployment, "reason": why }));
            }
            None
        }
    };
    let hooks_backend = match backend_unavailable(&options.hooks_backend) {
        None => Some(options.hooks_backend.clone()),
        Some(why) => {
            eprintln!("skipping {HOOKS_DEPLOYMENT}: {why}");
            skipped.push(json!({ "server": HOOKS_DEPLOYMENT, "reason": why }));
            None
        }
    };
    let webhooks_receiver = match backend_unavailable(&options.webhooks_receiver) {
        None => Some(options.webhooks_receiver.clone()),
        Some(why) => {
            eprintln!("skipping {WEBHOOKS_DEPLOYMENT}: {why}");
            skipped.push(json!({ "server": WEBHOOKS_DEPLOYMENT, "reason": why }));
            None
        }
    };
    let programs = Programs {
        relay: options.relay_bin.clone(),
        minimal: options.minimal_bin.clone(),
        socketio_dir: Some(socketio_dir),
        hooks_backend,
        webhooks_receiver,
        redis_server,
        log_dir: options.out.join("logs"),
    };

    let mut table = Table::new(kinds.iter().map(|kind| kind.name().to_owned()).collect());
    let mut results = Vec::new();
    let mut lines = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut ramps = Vec::new();
    let mut hooks_tables = Vec::new();
    let mut webhooks_tables = Vec::new();
    let mut disjoint_tables = Vec::new();
    for (column, &kind) in kinds.iter().enumerate() {
        let runnable = |run: &Run| {
            run.supported_by(kind)
                && (!matches!(run, Run::FanoutRedis | Run::DisjointRedis) || programs.redis_server.is_some())
                && (*run != Run::Hooks || programs.hooks_backend.is_some())
                && (*run != Run::Webhooks || programs.webhooks_receiver.is_some())
                && (*run != Run::WebhooksRedis
                    || (programs.webhooks_receiver.is_some() && programs.redis_server.is_some()))
                && (options.only.is_empty() || options.only.contains(run))
        };
        for run in RUNS.into_iter().filter(runnable) {
            let label = run.label(&sizes);
            // The table keeps it in the relay's column; its lines say which servers ran it.
            let name = run.server_name(kind);
            eprintln!("[{:>5.1} s] {name} — {label}", started.elapsed().as_secs_f64());
            let file_label = format!("{run:?}").to_lowercase();
            let outcome = match run.deploy(kind, &programs, &file_label).await {
                Ok(deployment) => {
                    let outcome = tokio::time::timeout(RUN_TIMEOUT, run.run(&deployment, &sizes)).await;
                    deployment.stop().await;
                    match outcome {
                        Ok(outcome) => outcome,
                        Err(_) => Err(format!("timed out after {RUN_TIMEOUT:?}").into()),
                    }
                }
                Err(error) => Err(error),
            };
            match outcome {
                Ok(outcome) => {
                    println!("{name}: {}", outcome.human);
                    lines.push(format!("{name}: {}", outcome.human));
                    if json_lines {
                        println!("{}", outcome.json);
                    }
                    let lost = outcome.figures.iter().find(|figure| figure.label == "lost").and_then(|f| f.value);
                    if options.scale == Scale::Smoke && kind == Kind::Relay && lost.is_some_and(|lost| lost > 0.0) {
                        failures.push(format!("{name}: {label}: lost deliveries"));
                    }
                    for figure in &outcome.figures {
                        table.set(&label, figure.label, figure.higher_is_better, column, figure.value);
                    }
                    if run == Run::Ramp {
                        ramps.push((name.to_owned(), outcome.json.clone()));
                    }
                    if run == Run::Hooks {
                        hooks_tables.push(hooks::markdown(&outcome.json));
                    }
                    if matches!(run, Run::Webhooks | Run::WebhooksRedis) {
                        let queue = if run == Run::WebhooksRedis { "on Redis" } else { "in memory" };
                        let table = webhooks::markdown(&outcome.json);
                        webhooks_tables.push(format!("The queue {queue} (`{label}`):\n\n{table}"));
                    }
                    if run == Run::DisjointRedis {
                        disjoint_tables.push(disjoint::markdown(&outcome.json));
                    }
                    results.push(json!({ "server": name, "run": label, "result": outcome.json }));
                }
                Err(error) => {
                    println!("{name}: {label}: failed: {error}");
                    lines.push(format!("{name}: {label}: failed: {error}"));
                    failures.push(format!("{name}: {label}: {error}"));
                    results.push(json!({ "server": name, "run": label, "error": error.to_string() }));
                }
            }
        }
    }

    let elapsed = started.elapsed().as_secs_f64();
    println!("\n{}", table.text());
    // The sections of results.md after the table, each printed here too.
    let mut sections = Vec::new();
    let ramp = ramp_table::markdown(&ramps);
    if !ramp.is_empty() {
        println!("{} step by step:\n{ramp}", Run::Ramp.label(&sizes));
        sections.push(("The ramp, step by step", ramp));
    }
    let hooks_table = hooks_tables.concat();
    if !hooks_table.is_empty() {
        println!("{}, each mode on the same relay:\n{hooks_table}", Run::Hooks.label(&sizes));
        sections.push(("Backend hooks", format!("{HOOKS_INTRO}\n\n{hooks_table}")));
    }
    let webhooks_table = webhooks_tables.join("\n");
    if !webhooks_table.is_empty() {
        println!("Webhooks, step by step:\n{webhooks_table}");
        sections.push(("Webhooks", format!("{WEBHOOKS_INTRO}\n\n{webhooks_table}")));
    }
    let disjoint_table = disjoint_tables.concat();
    if !disjoint_table.is_empty() {
        println!("{}, relay by relay:\n{disjoint_table}", Run::DisjointRedis.label(&sizes));
        sections.push((
            "Sharded subscriptions: relays with topics of their own",
            format!("{DISJOINT_INTRO}\n\n{disjoint_table}"),
        ));
    }
    println!("suite took {elapsed:.0} s; results in {}", options.out.display());
    write_results(options, &table, &sections, &lines, results, skipped, elapsed)?;
    // The results are written either way; a failed run still fails the command, so scripts and CI notice.
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} run(s) failed: {}", failures.len(), failures.join("; ")).into())
    }
}

/// What the `## Backend hooks` section of `results.md` says before its table.
const HOOKS_INTRO: &str = "Pushes one at a time per connection (`ping`, ~100 bytes, answered with the payload), on \
     one relay: through its push hook to the Node backend of `loadgen/hooks/backend.mjs` (`app:bench:<i>`), and on \
     the built-in room channel (`room:bench:<i>`), the two alternating. CPU % is of one core; the machine's is every \
     process's and the kernel's together (of 100 % per core): well above the other three, something else was \
     running.";

/// What the `## Webhooks` section of `results.md` says before its table.
const WEBHOOKS_INTRO: &str = "Broadcasts published with sequential `POST /api/broadcast` (one broadcast per POST up \
     to 1,000/s, arrays of 50 above and at `max`, which POSTs back to back) on one topic nobody subscribes to, which \
     the relay's webhook `bench` POSTs in batches (≤ 100 events, ≤ 250 ms, one in flight) to the Node receiver of \
     `loadgen/webhooks/receiver.mjs`; it verifies each signature and answers 204. Latency is from the payload's \
     stamp, taken as its POST was built, to the receiver having the batch's body (same machine, same clock). CPU \
     per event is over the step, first POST to last receipt; CPU % is of one core. Lost: published but not \
     received (of which the relay's dead letters). On Redis, the relay runs with `--pubsub` to a fresh Redis of its \
     own: each broadcast goes into the stream `ferrocast:journal` with its publish, and the relay reads it back \
     (XREADGROUP) and acknowledges each batch (XACK); Redis's CPU is counted on its own.";

/// What the `## Sharded subscriptions` section of `results.md` says before its table.
const DISJOINT_INTRO: &str = "Six relays on one fresh Redis, each with topics of its own (`room:disjoint:<relay>:<i>`) \
     and WebSocket subscribers joined on it only; a backend per relay POSTs arrays of one broadcast per topic (~100 \
     bytes each) to that relay's `POST /api/broadcast`. After a warm-up, one window: Redis's bytes out and in and its \
     CPU from `INFO` (deltas), each relay's CPU from /proc, what Redis sent each relay \
     (`ferrocast_redis_received_total`) and the topics it follows (`ferrocast_redis_topics_followed`, absent from \
     relays that subscribe to one channel for the whole cluster). CPU % is of one core. Run it with another relay \
     binary (`--relay-bin`) to compare subscription schemes.";

/// Writes `results.json`, and `results.md`: the table, then each of `sections` (a title and its Markdown), then
/// the runs' lines.
fn write_results(
    options: &Options,
    table: &Table,
    sections: &[(&str, String)],
    lines: &[String],
    results: Vec<Value>,
    skipped: Vec<Value>,
    elapsed: f64,
) -> Result<()> {
    std::fs::create_dir_all(&options.out)?;
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let document = json!({
        "scale": options.scale.name(),
        "seconds": elapsed.round(),
        "generator": { "cores": cores, "worker_threads": 2 },
        "skipped": skipped,
        "runs": results,
    });
    std::fs::write(options.out.join("results.json"), serde_json::to_string_pretty(&document)? + "\n")?;
    let mut markdown = String::from("# Ferrocast load suite\n\n");
    markdown.push_str(&format!(
        "{} run, {elapsed:.0} s, on a {cores}-core machine shared by the servers and the generator (2 worker \
         threads). Each scenario ran against a fresh server on loopback. ↑: more is better, ↓: less is better; the \
         ratio columns divide the relay's figure by the baseline's.\n\n",
        options.scale.name()
    ));
    for skip in &skipped {
        markdown.push_str(&format!("Skipped {}: {}.\n\n", skip["server"], skip["reason"].as_str().unwrap_or("?")));
    }
    markdown.push_str(&table.markdown());
    for (title, body) in sections {
        markdown.push_str(&format!("\n## {title}\n\n{body}"));
    }
    // The runs' own lines say what the table cannot: failures, caps, and how busy the generator itself was (near
    // 200 % of a core, the machine rather than the server set the pace).
    markdown.push_str("\n## Runs\n\n");
    for line in lines {
        markdown.push_str(&format!("- {line}\n"));
    }
    std::fs::write(options.out.join("results.md"), markdown)?;
    Ok(())
}
