//! `ferrocast-load`: the Ferrocast load generator.
//!
//! It drives a server over loopback with the scenarios in [`scenario`] (idle memory, broadcast fanout and its
//! ramp, echo round trips, event-stream fanout, a presence join storm, one presence topic over relays on one Redis
//! with one of them killed, pushes through a backend's push hook, broadcasts a relay's webhooks POST to a receiver) and compares the Ferrocast relay with two baselines,
//! minimal-server and Socket.IO, in `suite`, which also runs the fanout across two relays sharing a Redis, the
//! webhooks with their queue on Redis, and six relays on one Redis with topics of their own (`disjoint-redis`). Each
//! scenario stops by itself and prints one line, plus one JSON object line with `--json`.
//!
//! The generator shares the machine with the server it measures, so it keeps its own cost per frame small: no
//! JSON parsing of received frames ([`json_scan`]), large read buffers, and a runtime of two worker threads.

mod conn;
mod dialect;
mod haproxy;
mod json_scan;
mod latency;
mod net;
mod phoenix;
mod presence_view;
mod proc_stats;
mod publisher;
mod ramp_table;
mod recorder;
mod redis_info;
mod scenario;
mod servers;
mod socketio;
mod sse;
mod stamp;
mod subscriber;
mod table;
mod target;

use clap::{Args, Parser, Subcommand};
use dialect::Dialect;
use publisher::PublishOver;
use scenario::{Outcome, fanout, ramp};
use std::path::PathBuf;
use std::time::Duration;
use target::Target;

/// Errors end a scenario with a message; nothing here recovers from one by its kind.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// A result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// The Ferrocast load generator: scenarios against a Phoenix-protocol or Socket.IO server, or the whole comparison
/// suite.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Also print every figure as one JSON object line.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// N joined, idle connections: the server's memory per connection.
    Idle {
        #[command(flatten)]
        target: TargetArgs,
        /// Connections (capped below the descriptor limit).
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
        /// Join with presence, one topic per connection.
        #[arg(long)]
        presence: bool,
    },
    /// N subscribers, one publisher at R broadcasts/s: deliveries/s, latency, losses, server CPU per delivery.
    Fanout {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        load: BroadcastArgs,
        /// Step through rising rates instead of one rate, stopping when the server saturates.
        #[arg(long)]
        ramp: bool,
        /// The ramp's rates, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = ramp::DEFAULT_RATES)]
        rates: Vec<f64>,
        /// Seconds each ramp step publishes.
        #[arg(long, default_value_t = 3.0)]
        step: f64,
    },
    /// One connection asking for its payload back at a fixed rate: round-trip latency.
    Echo {
        #[command(flatten)]
        target: TargetArgs,
        /// Requests a second.
        #[arg(long, default_value_t = 10_000.0)]
        rate: f64,
        /// Seconds to run.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
    },
    /// N event streams (GET /sse) and a publisher (Ferrocast relay only).
    Sse {
        #[command(flatten)]
        target: TargetArgs,
        /// Event streams, publishing rate and time, as for `fanout`.
        #[command(flatten)]
        load: BroadcastArgs,
    },
    /// N connections join one presence topic at once: presence frames and time to settle.
    Storm {
        #[command(flatten)]
        target: TargetArgs,
        /// Connections that join the presence topic at once.
        #[arg(long, default_value_t = 1000)]
        members: usize,
        /// Seconds the members stay joined after the server's memory was read, to inspect it meanwhile (a heap
        /// profiler, `malloc_stats` through gdb).
        #[arg(long, default_value_t = 0.0)]
        hold: f64,
    },
    /// Pushes through a backend's push hook next to a built-in channel's, on a relay run with
    /// `--proxy-push 'app:*=http://…/push'` (to `node loadgen/hooks/backend.mjs`, say): pushes/s, round trips, and
    /// CPU per push of the relay and of the backend.
    Hooks {
        #[command(flatten)]
        target: TargetArgs,
        /// Connections per mode, one run after the other, comma-separated: each pushes one at a time.
        #[arg(long, value_delimiter = ',', default_values_t = [1, 50])]
        connections: Vec<usize>,
        /// Seconds each mode pushes at each connection count (in two halves, the modes alternating).
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// The backend's process id, for its CPU per push.
        #[arg(long)]
        backend_pid: Option<u32>,
    },
    /// Broadcasts published at rising rates to a relay run with `--webhook bench=http://…/ --webhook-secret
    /// bench=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw` (to `node loadgen/webhooks/receiver.mjs --secret …`, say):
    /// events/s to the receiver, latency from publish to its receipt, relay CPU per event, and loss.
    Webhooks {
        #[command(flatten)]
        target: TargetArgs,
        /// The receiver's address (host:port), for its `GET /stats`.
        #[arg(long)]
        receiver: std::net::SocketAddr,
        /// The receiver's process id, for its CPU per event.
        #[arg(long)]
        receiver_pid: Option<u32>,
        /// The process id of the Redis the relay keeps its webhooks' queue on (`--pubsub`), for its CPU per event.
        #[arg(long)]
        redis_pid: Option<u32>,
        /// Broadcasts a second, step by step, comma-separated; `max` POSTs back to back.
        #[arg(long, value_delimiter = ',', default_values_t = scenario::webhooks::DEFAULT_RATES)]
        rates: Vec<scenario::webhooks::Rate>,
        /// Seconds each step publishes.
        #[arg(long, default_value_t = 5.0)]
        step: f64,
        /// Broadcasts per POST above 1,000/s and at `max` (one per POST at and under 1,000/s).
        #[arg(long, default_value_t = scenario::webhooks::DEFAULT_ARRAY)]
        array: usize,
    },
    /// Many idle joined connections over relays on one Redis behind HAProxy, from several child processes, then
    /// broadcasts to all of them: connect+join time, every process's memory and CPU, deliveries/s, latency, loss.
    Scale {
        /// The `ferrocast-relay` binary.
        #[arg(long)]
        relay_bin: PathBuf,
        /// The `redis-server` binary.
        #[arg(long, env = "FERROCAST_REDIS_SERVER", default_value = "redis-server")]
        redis_server: PathBuf,
        /// The `haproxy` binary.
        #[arg(long, default_value = "haproxy")]
        haproxy: PathBuf,
        /// Relays on the one Redis.
        #[arg(long, default_value_t = 7)]
        relays: usize,
        /// Connections in all, every one joined to one topic without presence.
        #[arg(long, default_value_t = 100_000)]
        connections: usize,
        /// The most connections one loadgen child process opens.
        #[arg(long, default_value_t = 16_000)]
        per_child: usize,
        /// The most connections one HAProxy process carries.
        #[arg(long, default_value_t = 8_000)]
        per_haproxy: usize,
        /// Broadcasts a second to the topic, one window each, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [0.1, 0.2])]
        rates: Vec<f64>,
        /// Seconds each window publishes.
        #[arg(long, default_value_t = 30.0)]
        duration: f64,
        /// Where the processes' logs go.
        #[arg(long, default_value = "target/bench/scale")]
        out: PathBuf,
    },
    /// One presence topic over relays on one Redis: members join it dealt over the relays, observers on each relay
    /// keep its presence; presence frames and bytes per join, time until every observer sees every member, then a
    /// relay SIGKILLed and the time until its members leave every other relay's pages.
    PresenceCluster {
        /// The `ferrocast-relay` binary.
        #[arg(long)]
        relay_bin: PathBuf,
        /// The `redis-server` binary.
        #[arg(long, env = "FERROCAST_REDIS_SERVER", default_value = "redis-server")]
        redis_server: PathBuf,
        /// Relays on the one Redis (the last one is killed).
        #[arg(long, default_value_t = 6)]
        relays: usize,
        /// Members joining the topic, dealt over the relays in turn.
        #[arg(long, default_value_t = 10_000)]
        members: usize,
        /// Observers on each relay.
        #[arg(long, default_value_t = 3)]
        observers: usize,
        /// Joins in flight at once.
        #[arg(long, default_value_t = 100)]
        join_concurrency: usize,
        /// The relays' `--presence-timeout-ms`.
        #[arg(long, default_value_t = 5000)]
        presence_timeout_ms: u64,
        /// Where the processes' logs go.
        #[arg(long, default_value = "target/bench/presence-cluster")]
        out: PathBuf,
    },
    /// One of `scale`'s subscriber processes (started by `scale`, driven on stdin).
    #[command(hide = true)]
    ScaleChild {
        /// HAProxy's WebSocket URL.
        #[arg(long)]
        target: String,
        /// Connections to open.
        #[arg(long)]
        connections: usize,
        /// The topic they join.
        #[arg(long)]
        topic: String,
        /// Connect from 127.0.BLOCK.1–8.
        #[arg(long)]
        source_block: u8,
        /// The parent's clock origin (ns since the Unix epoch).
        #[arg(long)]
        clock_origin: u64,
    },
    /// Starts the relay and the baselines, runs every scenario each supports, and writes results.json/results.md.
    Suite {
        /// The `ferrocast-relay` binary.
        #[arg(long)]
        relay_bin: PathBuf,
        /// The `minimal-server` binary.
        #[arg(long)]
        minimal_bin: PathBuf,
        /// The Socket.IO baseline's directory (server.mjs and its node_modules).
        #[arg(long)]
        socketio_dir: Option<PathBuf>,
        /// The push backend the `hooks` run starts with Node (skipped when it or Node is missing).
        #[arg(long, default_value = "loadgen/hooks/backend.mjs")]
        hooks_backend: PathBuf,
        /// The webhook receiver the `webhooks` run starts with Node (skipped when it or Node is missing).
        #[arg(long, default_value = "loadgen/webhooks/receiver.mjs")]
        webhooks_receiver: PathBuf,
        /// The `redis-server` binary of the two-relay fanout and the webhooks on Redis (skipped when it cannot run).
        #[arg(long, env = "FERROCAST_REDIS_SERVER", default_value = "redis-server")]
        redis_server: PathBuf,
        /// Shorter windows and fewer connections (about a minute).
        #[arg(long, conflicts_with = "smoke")]
        quick: bool,
        /// Tiny runs that only check every scenario works (seconds); any failure fails the command.
        #[arg(long)]
        smoke: bool,
        /// Only these runs, comma-separated (every one by default).
        #[arg(long, value_enum, value_delimiter = ',')]
        only: Vec<scenario::suite::Run>,
        /// Where results.json, results.md and the servers' logs go.
        #[arg(long, default_value = "target/bench")]
        out: PathBuf,
    },
}

/// How many read a topic and how fast it is published to, for `fanout` and `sse`.
#[derive(Debug, Args)]
struct BroadcastArgs {
    /// Subscribers (WebSocket connections, or event streams for `sse`).
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Broadcasts a second.
    #[arg(long, default_value_t = 300.0)]
    rate: f64,
    /// Seconds to publish.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// How the publisher publishes: sequential `POST /api/broadcast` on one keep-alive connection, as a backend
    /// does, or pushes on a WebSocket, as a browser does.
    #[arg(long, value_enum, default_value_t = PublishOver::Http)]
    publish: PublishOver,
}

/// The server a scenario drives.
#[derive(Debug, Args)]
struct TargetArgs {
    /// The server's WebSocket URL; without a path, the dialect's usual one (/socket/websocket, /socket.io/).
    #[arg(long, default_value = "ws://127.0.0.1:4000")]
    target: String,
    /// The protocol it speaks.
    #[arg(long, value_enum, default_value_t = Dialect::Phoenix)]
    dialect: Dialect,
    /// The server's process id, for its CPU and memory figures.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Ask a Ferrocast relay for batch messages (ferrocast_batch=1).
    #[arg(long)]
    batch: bool,
    /// Where the HTTP publisher POSTs (host:port), when not to the target: a relay's `--api-listen` address.
    #[arg(long)]
    api: Option<std::net::SocketAddr>,
}

impl TargetArgs {
    async fn resolve(&self) -> Result<Target> {
        let target = Target::from_url(&self.target, self.dialect, self.batch, self.server_pid).await?;
        Ok(Target { api: self.api, ..target })
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ferrocast-load: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Command::ScaleChild { clock_origin, source_block, .. } = &cli.command {
        stamp::start_clock_at(*clock_origin);
        net::set_source_block(*source_block);
    }
    stamp::now_ns();
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = run(&cli) => outcome,
            signal = interrupted() => Err(format!("interrupted by {signal}").into()),
        }
    });
    // Tasks still holding connections (a failed scenario's) are not waited for.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ferrocast-load: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Completes on Ctrl-C or SIGTERM, naming which. Ending `run` early drops the suite's servers, which kills them.
async fn interrupted() -> &'static str {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(terminate) => terminate,
        Err(_) => return tokio::signal::ctrl_c().await.map_or("an error", |()| "Ctrl-C"),
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = terminate.recv() => "SIGTERM",
    }
}

async fn run(cli: &Cli) -> Result<()> {
    let outcome = match &cli.command {
        Command::Idle { target, connections, presence } => {
            scenario::idle::run(&target.resolve().await?, *connections, *presence).await?
        }
        Command::Fanout { target, load, ramp: false, .. } => {
            let options = fanout::Options {
                subscribers: load.subscribers,
                rate: positive(load.rate)?,
                duration: seconds(load.duration)?,
                event_streams: false,
                publish: load.publish,
            };
            fanout::run(&target.resolve().await?, options).await?
        }
        Command::Fanout { target, load, ramp: true, rates, step } => {
            let rates = rates.iter().map(|rate| positive(*rate)).collect::<Result<_>>()?;
            let options =
                ramp::Options { subscribers: load.subscribers, rates, step: seconds(*step)?, publish: load.publish };
            ramp::run(&target.resolve().await?, &options).await?
        }
        Command::Echo { target, rate, duration } => {
            scenario::echo::run(&target.resolve().await?, positive(*rate)?, seconds(*duration)?).await?
        }
        Command::Sse { target, load } => {
            let (rate, duration) = (positive(load.rate)?, seconds(load.duration)?);
            scenario::sse::run(&target.resolve().await?, load.subscribers, rate, duration, load.publish).await?
        }
        Command::Storm { target, members, hold } => {
            scenario::storm::run(&target.resolve().await?, *members, Duration::from_secs_f64(*hold)).await?
        }
        Command::Hooks { target, connections, duration, backend_pid } => {
            let options = scenario::hooks::Options {
                levels: connections.clone(),
                duration: seconds(*duration)?,
                backend_pid: *backend_pid,
            };
            let outcome = scenario::hooks::run(&target.resolve().await?, &options).await?;
            print_outcome(&outcome, cli.json);
            print!("{}", scenario::hooks::markdown(&outcome.json));
            return Ok(());
        }
        Command::Webhooks { target, receiver, receiver_pid, redis_pid, rates, step, array } => {
            let options = scenario::webhooks::Options {
                rates: rates.clone(),
                step: seconds(*step)?,
                array: *array,
                receiver: *receiver,
                receiver_pid: *receiver_pid,
                redis_pid: *redis_pid,
            };
            let outcome = scenario::webhooks::run(&target.resolve().await?, &options).await?;
            print_outcome(&outcome, cli.json);
            print!("{}", scenario::webhooks::markdown(&outcome.json));
            return Ok(());
        }
        Command::Scale {
            relay_bin,
            redis_server,
            haproxy,
            relays,
            connections,
            per_child,
            per_haproxy,
            rates,
            duration,
            out,
        } => {
            let options = scenario::scale::Options {
                relay_bin: relay_bin.clone(),
                redis_server: redis_server.clone(),
                haproxy: haproxy.clone(),
                relays: *relays,
                connections: *connections,
                per_child: *per_child,
                per_balancer: *per_haproxy,
                rates: rates.iter().map(|rate| positive(*rate)).collect::<Result<_>>()?,
                duration: seconds(*duration)?,
                log_dir: out.clone(),
            };
            let outcome = scenario::scale::run(&options).await?;
            print_outcome(&outcome, cli.json);
            // The figures are printed either way; a run where a connection did not join or a delivery was lost
            // fails, so the smoke pass catches it.
            return scenario::scale::verdict(&outcome.json);
        }
        Command::PresenceCluster {
            relay_bin,
            redis_server,
            relays,
            members,
            observers,
            join_concurrency,
            presence_timeout_ms,
            out,
        } => {
            let options = scenario::presence_cluster::Options {
                relay_bin: relay_bin.clone(),
                redis_server: redis_server.clone(),
                relays: *relays,
                members: *members,
                observers: *observers,
                join_concurrency: *join_concurrency,
                presence_timeout: Duration::from_millis(*presence_timeout_ms),
                log_dir: out.clone(),
            };
            let outcome = scenario::presence_cluster::run(&options).await?;
            print_outcome(&outcome, cli.json);
            // The figures are printed either way; a run that did not converge, or sent more diffs than coalescing
            // allows, fails, so the test pass catches it.
            return scenario::presence_cluster::verdict(&outcome.json);
        }
        Command::ScaleChild { target, connections, topic, .. } => {
            let target = Target::from_url(target, Dialect::Phoenix, false, None).await?;
            return scenario::scale_child::run(&target, *connections, topic).await;
        }
        Command::Suite {
            relay_bin,
            minimal_bin,
            socketio_dir,
            hooks_backend,
            webhooks_receiver,
            redis_server,
            quick,
            smoke,
            only,
            out,
        } => {
            let scale = match (quick, smoke) {
                (_, true) => scenario::suite::Scale::Smoke,
                (true, _) => scenario::suite::Scale::Quick,
                _ => scenario::suite::Scale::Full,
            };
            let options = scenario::suite::Options {
                relay_bin: relay_bin.clone(),
                minimal_bin: minimal_bin.clone(),
                socketio_dir: socketio_dir.clone(),
                hooks_backend: hooks_backend.clone(),
                webhooks_receiver: webhooks_receiver.clone(),
                redis_server: redis_server.clone(),
                only: only.clone(),
                scale,
                out: out.clone(),
            };
            return scenario::suite::run(&options, cli.json).await;
        }
    };
    print_outcome(&outcome, cli.json);
    Ok(())
}

fn print_outcome(outcome: &Outcome, json: bool) {
    println!("{}", outcome.human);
    if json {
        println!("{}", outcome.json);
    }
}

/// A positive, bounded number of seconds: every scenario must end.
fn seconds(value: f64) -> Result<Duration> {
    if value > 0.0 && value <= 3600.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(format!("{value} s: durations go from just above 0 to 3600 s").into())
    }
}

fn positive(rate: f64) -> Result<f64> {
    if rate > 0.0 && rate.is_finite() { Ok(rate) } else { Err(format!("rate {rate}: must be positive").into()) }
}
