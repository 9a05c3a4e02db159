//! `cargo xtask bench`: every benchmark the project has, in one command, with the figures BENCHMARKS.md quotes.
//!
//! 1. Criterion micro-benchmarks (`benches/`): codecs, in-process fanout, presence merging.
//! 2. The load generator's suite (`loadgen/`): the release relay next to the two baselines it is compared with (a
//!    minimal tokio-tungstenite broadcast server, and Socket.IO), and two release relays sharing a Redis
//!    (`--pubsub redis://…`, Debian's `redis-server`), and pushes through a release relay's push hook to a Node
//!    backend (`loadgen/hooks/backend.mjs`) next to its built-in channel, and broadcasts a release relay's webhooks
//!    POST to a Node receiver (`loadgen/webhooks/receiver.mjs`), their queue in memory (`webhooks`) and then on a
//!    Redis of its own (`webhooks-redis`), and six release relays on one Redis, each publishing 1,000 broadcasts/s
//!    to topics only its own subscribers joined (`disjoint-redis`: Redis's bytes out and CPU, each relay's CPU),
//!    each started and stopped by the suite, on loopback. It writes `target/bench/results.md` and `results.json`.
//! 3. The browser benchmark (`benches/browser/`): the wasm client next to phoenix.js in headless Chromium, and both
//!    bundles' sizes; its JSON line goes to `target/bench/browser.json`.
//! 4. The size comparison (`benches/size/`): what each realtime browser client (phoenix.js, Socket.IO, Supabase
//!    Realtime, Pusher, Centrifuge, Ably, and Ferrocast's built `client/pkg`) costs a page, bundled and gzipped one
//!    way for all of them; it prints a Markdown table.
//! 5. A relay killed under load (`tests/cluster/relay-killed.test.mjs` at its full size): `cargo xtask cluster up
//!    --relays 3` with the release relay, 3,000 subscribers (`@ferrocast/client` under Node and plain `ws` ones)
//!    through HAProxy, 200 broadcasts/s POSTed to the balancer for 60 s, relay 1 SIGKILLed at 20 s and relay 2
//!    restarted at 40 s; it checks every subscriber got every broadcast once, in order, and writes its figures to
//!    `target/bench/cluster-kill.json`. `--quick` runs the small size `cargo xtask test` runs.
//! 6. The scale run (`scale`, `ferrocast-load scale`): 100,000 idle connections joined to one topic, from several
//!    load-generator processes through several HAProxy processes on one port to 7 release relays on one Redis,
//!    then broadcasts to all of them; its JSON line goes to `target/bench/scale.json`, its logs to
//!    `target/bench/scale/`. Not part of a run without `--only`: it takes minutes and most of the machine.
//! 7. Presence over relays (`presence-cluster`, `ferrocast-load presence-cluster`): 10,000 members join one presence
//!    topic dealt over 6 release relays on one Redis, with observers on each relay keeping its presence as
//!    phoenix.js does; presence frames and bytes per join, the time until every observer sees every member, then
//!    one relay SIGKILLed and the time until its members leave the others' pages, against the presence timeout.
//!    Its JSON line goes to `target/bench/presence-cluster.json`. Only with `--only`, as `scale` (its members are sent
//!    O(N²) bytes of presence, gigabytes). `--quick`: 2,000 members over 3 relays.
//!
//! Nothing here is part of `cargo xtask test`: benchmarks take minutes and their figures drift with the machine,
//! so CI runs only the suite's short smoke pass and the scale and presence-cluster runs in miniature (see [`smoke`]),
//! which check that the benchmarks still run (and the last, that presence over relays converges in time).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::prereqs::Tool;
use crate::process::{self, say};
use crate::{Error, client, prereqs, test, workspace};

/// What `cargo xtask bench` runs.
pub(crate) struct Options {
    /// Shorter windows and fewer connections: the whole run in a few minutes, with rougher figures.
    pub quick: bool,
    /// Run only these parts (`criterion`, `load`, `browser`, `size`, `cluster`, `scale`, `presence-cluster`); all but
    /// `scale` and `presence-cluster` when empty.
    pub only: Vec<String>,
}

/// The parts of the benchmark run, in the order they run.
pub(crate) const PARTS: [&str; 7] = ["criterion", "load", "browser", "size", "cluster", "scale", "presence-cluster"];

/// The parts a run without `--only` leaves out: they take minutes and most of the machine.
const ONLY_WHEN_NAMED: [&str; 2] = ["scale", "presence-cluster"];

/// Builds what the benchmarks need, then runs each part asked for.
pub(crate) fn run(options: &Options) -> Result<(), Error> {
    let start = Instant::now();
    let wanted = |part: &str| {
        (options.only.is_empty() && !ONLY_WHEN_NAMED.contains(&part)) || options.only.iter().any(|only| only == part)
    };
    let root = workspace::root();
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out).map_err(|err| Error::new(format!("could not create {}: {err}", out.display())))?;

    if wanted("criterion") {
        let mut bench = process::cargo();
        bench.args(["bench", "-p", "ferrocast", "--bench", "codec", "--bench", "fanout", "--bench", "presence"]);
        if options.quick {
            bench.args(["--", "--warm-up-time", "0.5", "--measurement-time", "1"]);
        }
        process::run(bench.current_dir(&root))?;
    }
    let release = build_release(&root)?;
    if wanted("load") {
        prereqs::ensure(&[Tool::RedisServer], "bench")?;
        let mut suite = load_suite(&root, &release, &out)?;
        if options.quick {
            suite.arg("--quick");
        }
        process::run(&mut suite)?;
        say(format!("load generator results: {}", workspace::relative(&out.join("results.md")).display()));
    }
    if wanted("browser") {
        prereqs::ensure(prereqs::FOR_SERVE, "bench")?;
        prereqs::ensure(&[Tool::Chromium], "bench")?;
        client::build()?;
        let browser = root.join("benches/browser");
        test::npm_ci_if_needed(&browser)?;
        let mut run = Command::new("node");
        run.arg("run.mjs").arg("--relay-bin").arg(release.join("ferrocast-relay")).arg("--json");
        run.current_dir(&browser);
        let json = output_with_json_line(&mut run)?;
        std::fs::write(out.join("browser.json"), json + "\n")
            .map_err(|err| Error::new(format!("could not write browser.json: {err}")))?;
        say(format!("browser results: {}", workspace::relative(&out.join("browser.json")).display()));
    }
    if wanted("size") {
        // It measures `client/pkg` as built: build it here unless the browser part just did.
        if !wanted("browser") {
            prereqs::ensure(prereqs::FOR_SERVE, "bench")?;
            client::build()?;
        }
        let size = root.join("benches/size");
        test::npm_ci_if_needed(&size)?;
        let mut measure = Command::new("node");
        measure.arg("measure.mjs").current_dir(&size);
        process::run(&mut measure)?;
    }
    if wanted("cluster") {
        prereqs::ensure(prereqs::FOR_CLUSTER, "bench")?;
        // The test imports `@ferrocast/client` from `client/pkg`: build it here unless an earlier part just did.
        if !wanted("browser") && !wanted("size") {
            prereqs::ensure(prereqs::FOR_SERVE, "bench")?;
            client::build()?;
        }
        let dir = root.join("tests/cluster");
        test::npm_ci_if_needed(&dir)?;
        let result = out.join("cluster-kill.json");
        let mut run = Command::new("node");
        run.args(["--test", "--test-reporter=spec", "relay-killed.test.mjs"]).current_dir(&dir);
        // `cluster up` runs the release relay built above rather than building a debug one.
        run.env("FERROCAST_RELAY_BIN", release.join("ferrocast-relay"));
        run.env("FERROCAST_KILL_SIZE", if options.quick { "small" } else { "full" });
        run.env("FERROCAST_KILL_RESULT", &result);
        process::run(&mut run)?;
        say(format!("relay killed under load: {}", workspace::relative(&result).display()));
    }
    if wanted("scale") {
        prereqs::ensure(prereqs::FOR_CLUSTER, "bench")?;
        let mut scale = scale_run(&release, &out.join("scale"));
        if options.quick {
            scale.args(["--relays", "3", "--connections", "20000", "--rates", "0.5", "--duration", "10"]);
        }
        let json = output_with_json_line(scale.current_dir(&root))?;
        std::fs::write(out.join("scale.json"), json + "\n")
            .map_err(|err| Error::new(format!("could not write scale.json: {err}")))?;
        say(format!("scale results: {}", workspace::relative(&out.join("scale.json")).display()));
    }
    if wanted("presence-cluster") {
        prereqs::ensure(&[Tool::RedisServer], "bench")?;
        let mut presence = presence_cluster_run(&release, &out.join("presence-cluster"));
        if options.quick {
            presence.args(["--relays", "3", "--members", "2000"]);
        }
        // A run that names a trouble (a killed relay's members gone later than the timeout + 2 s, on a loaded
        // machine) fails, but its figures are kept.
        let (json, ran) = json_line_and_status(presence.current_dir(&root))?;
        if let Some(json) = json {
            std::fs::write(out.join("presence-cluster.json"), json + "\n")
                .map_err(|err| Error::new(format!("could not write presence-cluster.json: {err}")))?;
            say(format!("presence over relays: {}", workspace::relative(&out.join("presence-cluster.json")).display()));
        }
        ran?;
    }
    say(format!("benchmarks done ({:.0} s)", start.elapsed().as_secs_f64()));
    Ok(())
}

/// The smoke pass `cargo xtask test` runs: the load generator's quick suite, a tiny scale run and a small
/// presence-over-relays run with the debug builds it already has, so a change that breaks a scenario, a baseline or the report fails CI rather than the
/// next benchmark run. Its figures mean nothing (debug builds, tiny windows) and are not kept.
pub(crate) fn smoke(root: &Path) -> Result<(), Error> {
    let debug = target_dir(root).join("debug");
    let out = target_dir(root).join("bench-smoke");
    let mut suite = load_suite(root, &debug, &out)?;
    suite.arg("--smoke");
    process::run(&mut suite)?;
    // The scale run in miniature: 2 relays on a Redis, one HAProxy process, two loadgen children, 2,000
    // connections, one broadcast a second for 5 s (debug builds). It fails on any connection that does not join or delivery that is lost.
    let mut scale = scale_run(&debug, &out.join("scale"));
    scale.args(["--relays", "2", "--connections", "2000", "--per-child", "1000", "--per-haproxy", "2000"]);
    scale.args(["--rates", "1", "--duration", "5"]);
    process::run(scale.current_dir(root))?;
    // Presence over relays in miniature: 600 members over 3 relays, one killed (debug builds, ~8 s). It fails when an
    // observer does not see every member, or the killed relay's members leave later than the presence timeout (the
    // default 5 s) + 2 s, or the relays send more diffs than their coalescing window allows.
    let mut presence = presence_cluster_run(&debug, &out.join("presence-cluster"));
    presence.args(["--relays", "3", "--members", "600"]);
    process::run(presence.current_dir(root))
}

/// `ferrocast-load --json presence-cluster` with the binaries in `bin_dir`, its logs in `log_dir`.
fn presence_cluster_run(bin_dir: &Path, log_dir: &Path) -> Command {
    let mut presence = Command::new(bin_dir.join("ferrocast-load"));
    presence.args(["--json", "presence-cluster", "--relay-bin"]).arg(bin_dir.join("ferrocast-relay"));
    presence.arg("--out").arg(log_dir);
    presence
}

/// `ferrocast-load --json scale` with the binaries in `bin_dir`, its logs in `log_dir`.
fn scale_run(bin_dir: &Path, log_dir: &Path) -> Command {
    let mut scale = Command::new(bin_dir.join("ferrocast-load"));
    scale.args(["--json", "scale", "--relay-bin"]).arg(bin_dir.join("ferrocast-relay"));
    scale.arg("--out").arg(log_dir);
    scale
}

/// `ferrocast-load suite` for the binaries in `bin_dir`, writing into `out`, with the Socket.IO baseline when Node
/// can run it (after `npm ci` when its dependencies are missing or stale). The hooks run's backend and the webhooks
/// run's receiver need Node and nothing else; the suite skips those runs when Node is missing.
fn load_suite(root: &Path, bin_dir: &Path, out: &Path) -> Result<Command, Error> {
    let mut suite = Command::new(bin_dir.join("ferrocast-load"));
    suite.arg("suite").arg("--relay-bin").arg(bin_dir.join("ferrocast-relay"));
    suite.arg("--minimal-bin").arg(bin_dir.join("minimal-server"));
    suite.arg("--out").arg(out).current_dir(root);
    suite.arg("--hooks-backend").arg(root.join("loadgen/hooks/backend.mjs"));
    suite.arg("--webhooks-receiver").arg(root.join("loadgen/webhooks/receiver.mjs"));
    let socketio = root.join("loadgen/socketio");
    if process::probe("node", &["--version"]).is_some() {
        test::npm_ci_if_needed(&socketio)?;
        suite.arg("--socketio-dir").arg(&socketio);
    } else {
        say("node is not installed: the Socket.IO baseline is skipped");
    }
    Ok(suite)
}

/// Builds the relay, the load generator and the minimal baseline optimized; returns the directory they are in.
fn build_release(root: &Path) -> Result<PathBuf, Error> {
    let mut build = process::cargo();
    build.args(["build", "--release", "-p", "ferrocast-relay", "-p", "ferrocast-loadgen"]).current_dir(root);
    process::run(&mut build)?;
    Ok(target_dir(root).join("release"))
}

fn target_dir(root: &Path) -> PathBuf {
    workspace::target_dir(root, std::env::var_os("CARGO_TARGET_DIR"))
}

/// Runs `command`, passing its output through, and returns the last line that is a JSON object (`--json` output)
/// if it printed one, and whether it succeeded.
fn json_line_and_status(command: &mut Command) -> Result<(Option<String>, Result<(), Error>), Error> {
    let shown = process::display(command);
    say(format!("$ {shown}"));
    let output = process::with_exported(command)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|err| Error::new(format!("could not start `{shown}`: {err}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    let json = stdout.lines().rev().find(|line| line.trim_start().starts_with('{')).map(str::to_owned);
    let ran =
        if output.status.success() { Ok(()) } else { Err(Error::new(format!("`{shown}` failed ({})", output.status))) };
    Ok((json, ran))
}

/// Runs `command`, passing its output through, and returns the last line that is a JSON object (`--json` output).
fn output_with_json_line(command: &mut Command) -> Result<String, Error> {
    let shown = process::display(command);
    let (json, ran) = json_line_and_status(command)?;
    ran?;
    json.ok_or_else(|| Error::new(format!("`{shown}` printed no JSON line")))
}
