//! `scale`: many idle joined connections over several relays on one Redis, through HAProxy, then broadcasts to
//! all of them (issue 26).
//!
//! It starts one Redis, the relays on it (`--pubsub`), HAProxy processes enough for the connections
//! ([`crate::haproxy`]), and `scale-child` processes of this same binary ([`super::scale_child`]), each opening its
//! share of the connections from its own loopback addresses (127.0.`n`.1–8 for child `n`) through HAProxy and
//! joining one topic without presence. A process may open only so many files, so each child, relay and HAProxy
//! process holds a share below that limit. It measures the time until every connection has joined; then, the
//! processes settled, each one's resident memory (VmRSS) and Redis's `INFO memory` and `INFO cpu`. Then, for each
//! rate, it publishes to the topic (`POST /api/broadcast` on the first relay's API port) for a while: every child
//! counts its deliveries and records their latency (publish to receipt, on one clock), and the parent merges them
//! into deliveries a second, percentiles and losses, with every process's CPU over the window. Everything it
//! started is stopped at the end, and killed if it fails.

use crate::Result;
use crate::haproxy::Balancers;
use crate::latency::{self, Summary};
use crate::proc_stats::{self, CpuWindow, MachineWindow};
use crate::publisher::{PublishOver, Publisher};
use crate::scenario::cluster::{link_counters, link_troubles};
use crate::scenario::window::round;
use crate::scenario::{Figure, Outcome, merge_json};
use crate::servers::{Deployment, Programs, Redis, Server, http_get, redis_info};
use crate::stamp;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The topic every connection joins.
const TOPIC: &str = "room:scale";
/// How long the processes get to settle after the last join before their memory is read.
const SETTLE: Duration = Duration::from_secs(2);
/// How long deliveries may trail the last publish before the missing ones count as lost.
const GRACE: Duration = Duration::from_secs(20);
/// How long all the connections may take to join.
const JOIN_TIMEOUT: Duration = Duration::from_secs(600);

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// `ferrocast-relay`.
    pub relay_bin: PathBuf,
    /// `redis-server`.
    pub redis_server: PathBuf,
    /// `haproxy`.
    pub haproxy: PathBuf,
    /// Relays on the one Redis.
    pub relays: usize,
    /// Connections in all.
    pub connections: usize,
    /// The most connections one child process opens.
    pub per_child: usize,
    /// The most connections one HAProxy process carries (its `maxconn` is a tenth more).
    pub per_balancer: usize,
    /// Broadcasts a second of each window, one window a rate.
    pub rates: Vec<f64>,
    /// How long each window publishes.
    pub duration: Duration,
    /// Where the processes' logs and HAProxy's configuration go.
    pub log_dir: PathBuf,
}

/// Runs the whole scenario.
pub(crate) async fn run(options: &Options) -> Result<Outcome> {
    if options.relays == 0 || options.connections == 0 || options.per_child == 0 || options.per_balancer == 0 {
        return Err("scale needs at least one relay, connection, child and balancer".into());
    }
    let programs =
        Programs::relays_on_redis(options.relay_bin.clone(), options.redis_server.clone(), options.log_dir.clone());
    progress(format!("starting Redis and {} relays", options.relays));
    let Deployment::RelaysOnRedis { relays, redis } =
        Deployment::relays_on_redis(&programs, "scale", options.relays).await?
    else {
        return Err("relays_on_redis started something else".into());
    };
    let balancer_count = options.connections.div_ceil(options.per_balancer);
    let maxconn = options.per_balancer + options.per_balancer / 10;
    progress(format!("starting {balancer_count} HAProxy processes (maxconn {maxconn} each) on one port"));
    let relay_addrs: Vec<_> = relays.iter().map(|relay| relay.addr).collect();
    let balancers = Balancers::start(&options.haproxy, balancer_count, maxconn, &relay_addrs, &options.log_dir).await?;
    let mut run = Run { relays, redis, balancers, children: Vec::new() };
    let outcome = run.measure(options).await;
    run.stop().await;
    outcome
}

/// Everything the scenario started.
struct Run {
    relays: Vec<Server>,
    redis: Redis,
    balancers: Balancers,
    children: Vec<LoadChild>,
}

/// The processes watched, by group.
struct Groups {
    relays: Vec<u32>,
    balancers: Vec<u32>,
    redis: Vec<u32>,
    children: Vec<u32>,
}

impl Groups {
    fn all(&self) -> [(&'static str, &[u32]); 4] {
        [
            ("relays", &self.relays),
            ("haproxy", &self.balancers),
            ("redis", &self.redis),
            ("loadgen children", &self.children),
        ]
    }
}

/// CPU seconds of every group's processes between two points.
struct GroupCpu {
    windows: Vec<(&'static str, Vec<CpuWindow>)>,
    machine: MachineWindow,
    started: Instant,
}

impl GroupCpu {
    fn start(groups: &Groups) -> GroupCpu {
        let windows = groups
            .all()
            .iter()
            .map(|(name, pids)| (*name, pids.iter().map(|pid| CpuWindow::start(Some(*pid))).collect()))
            .collect();
        GroupCpu { windows, machine: MachineWindow::start(), started: Instant::now() }
    }

    /// Each group's CPU in percent of one core, and the machine's (all cores, whoever used them), since
    /// [`GroupCpu::start`], with the CPU seconds of all the groups together (`ours_seconds`).
    fn percent(&self) -> Value {
        let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
        let mut figures = serde_json::Map::new();
        let mut ours = 0.0;
        for (name, windows) in &self.windows {
            let used: f64 = windows.iter().filter_map(CpuWindow::seconds).sum();
            ours += used;
            figures.insert((*name).to_owned(), json!(round(used / seconds * 100.0, 1)));
        }
        figures.insert("ours_seconds".to_owned(), json!(round(ours, 2)));
        figures.insert("load_average".to_owned(), json!(load_average()));
        figures
            .insert("machine".to_owned(), json!(self.machine.seconds().map(|used| round(used / seconds * 100.0, 1))));
        figures.insert("seconds".to_owned(), json!(round(seconds, 2)));
        Value::Object(figures)
    }
}

impl Run {
    async fn measure(&mut self, options: &Options) -> Result<Outcome> {
        let relay_pids: Vec<u32> = self.relays.iter().filter_map(Server::pid).collect();
        let relay_rss_before: Vec<u64> = relay_pids.iter().map(|pid| rss(*pid)).collect();
        let balancer_pids = self.balancers.pids();
        let balancer_rss_before: Vec<u64> = balancer_pids.iter().map(|pid| rss(*pid)).collect();
        let balancer_fds_before: Vec<usize> =
            balancer_pids.iter().map(|pid| proc_stats::open_fds(*pid).unwrap_or(0)).collect();
        let redis_before = redis_figures(&self.redis).await?;

        // Connect and join.
        let child_count = options.connections.div_ceil(options.per_child);
        let exe = std::env::current_exe()?;
        let url = format!("ws://{}", self.balancers.addr);
        let origin = stamp::clock_origin_unix_ns();
        let mut groups = Groups {
            relays: relay_pids.clone(),
            balancers: balancer_pids.clone(),
            redis: self.redis.pid().into_iter().collect(),
            children: Vec::new(),
        };
        progress(format!("{} connections from {child_count} loadgen children through {url}", options.connections));
        let started = Instant::now();
        for index in 0..child_count {
            let share = options.connections / child_count + usize::from(index < options.connections % child_count);
            let block = u8::try_from(index + 1).map_err(|_| "at most 255 children")?;
            let log = options.log_dir.join(format!("loadgen-scale-{}.log", index + 1));
            self.children.push(LoadChild::spawn(&exe, &url, share, block, origin, &log)?);
        }
        groups.children = self.children.iter().filter_map(|child| child.child.id()).collect();
        let connect_cpu = GroupCpu::start(&groups);
        let mut joins = Vec::with_capacity(child_count);
        for child in &mut self.children {
            joins.push(child.read(JOIN_TIMEOUT).await?);
        }
        let connect_seconds = started.elapsed().as_secs_f64();
        let connect_cpu = connect_cpu.percent();
        let count = |field: &str| joins.iter().map(|join| join[field].as_u64().unwrap_or(0)).sum::<u64>();
        let (joined, failed) = (count("joined"), count("failed"));
        let first_error = joins.iter().find_map(|join| join["first_error"].as_str().map(str::to_owned));
        progress(format!("{joined} joined, {failed} failed, in {connect_seconds:.1} s"));

        // Memory, once settled.
        tokio::time::sleep(SETTLE).await;
        let mut relay_figures = Vec::new();
        for (index, relay) in self.relays.iter().enumerate() {
            let rss_after = rss(relay_pids[index]);
            let connections = relay_connections(relay).await;
            let delta = rss_after as i64 - relay_rss_before[index] as i64;
            let per_connection = connections.filter(|&held| held > 0).map(|held| delta as f64 / held as f64);
            relay_figures.push(json!({
                "pid": relay_pids[index],
                "connections": connections,
                "rss_before_kib": relay_rss_before[index],
                "rss_after_kib": rss_after,
                "kib_per_connection": per_connection.map(|kib| round(kib, 2)),
            }));
        }
        let relay_held: u64 = relay_figures.iter().filter_map(|relay| relay["connections"].as_u64()).sum();
        let relay_delta: i64 = relay_figures
            .iter()
            .map(|relay| relay["rss_after_kib"].as_i64().unwrap_or(0) - relay["rss_before_kib"].as_i64().unwrap_or(0))
            .sum();
        let relay_kib_per_connection = (relay_held > 0).then(|| relay_delta as f64 / relay_held as f64);
        let balancer_figures: Vec<Value> = balancer_pids
            .iter()
            .enumerate()
            .map(|(index, pid)| {
                let fds = proc_stats::open_fds(*pid).unwrap_or(0);
                json!({
                    "pid": pid,
                    "connections": fds.saturating_sub(balancer_fds_before[index]) / 2,
                    "rss_before_kib": balancer_rss_before[index],
                    "rss_after_kib": rss(*pid),
                })
            })
            .collect();
        let balancer_rss: u64 = balancer_figures.iter().filter_map(|b| b["rss_after_kib"].as_u64()).sum();
        let balancer_delta = balancer_rss as i64 - balancer_rss_before.iter().sum::<u64>() as i64;
        let balancer_shares: Vec<u64> = balancer_figures.iter().filter_map(|b| b["connections"].as_u64()).collect();
        let child_figures: Vec<Value> = self
            .children
            .iter()
            .zip(&joins)
            .map(|(child, join)| {
                json!({
                    "pid": child.child.id(),
                    "connections": child.connections,
                    "joined": join["joined"],
                    "connect_seconds": join["connect_seconds"].as_f64().map(|s| round(s, 2)),
                    "rss_kib": child.child.id().map(rss),
                    "note": join["note"],
                })
            })
            .collect();
        let redis_after = redis_figures(&self.redis).await?;

        // Broadcasts.
        let publisher = Publisher::start(PublishOver::Http, &self.relays[0].target(), 0, TOPIC).await?;
        let mut windows = Vec::new();
        let mut sequence = 0;
        for &rate in &options.rates {
            progress(format!("publishing {rate}/s for {:.0} s", options.duration.as_secs_f64()));
            for child in &mut self.children {
                child.send(&format!("open {sequence}")).await?;
            }
            for child in &mut self.children {
                child.read(Duration::from_secs(30)).await?;
            }
            let cpu = GroupCpu::start(&groups);
            let published = publisher.publish(sequence, rate, options.duration).await?;
            sequence += published.sent;
            for child in &mut self.children {
                child.send(&format!("close {} {}", published.sent, GRACE.as_millis())).await?;
            }
            let mut closes = Vec::with_capacity(self.children.len());
            for child in &mut self.children {
                closes.push(child.read(GRACE + Duration::from_secs(30)).await?);
            }
            let cpu = cpu.percent();
            let mut window = merge_window(&closes, published.started_ns);
            let received = window["received"].as_f64().unwrap_or(0.0);
            let ours = cpu["ours_seconds"].as_f64().unwrap_or(0.0);
            window["cpu_us_per_delivery"] = json!((received > 0.0).then(|| round(ours / received * 1e6, 2)));
            let mut counters = Vec::new();
            for relay in &self.relays {
                counters.push(relay_counters(relay).await);
            }
            window["relay_counters"] = json!(counters);
            progress(window_line(rate, &window));
            windows.push(merge_json(
                "window",
                json!({ "rate": rate, "sent": published.sent,
                "planned": published.planned, "post": published.answers.map(|post| post.json()), "cpu_percent": cpu }),
                window,
            ));
        }
        publisher.stop().await?;
        let mut troubles = Vec::new();
        for (index, relay) in self.relays.iter().enumerate() {
            if let Ok(Ok((200, page))) =
                tokio::time::timeout(Duration::from_secs(5), http_get(relay.addr, "/metrics")).await
            {
                troubles.extend(link_troubles(&format!("relay {}", index + 1), &link_counters(&page), sequence));
            }
        }
        let redis_end = redis_figures(&self.redis).await?;

        let balancer_range = (balancer_shares.iter().min(), balancer_shares.iter().max());
        let mut human = format!(
            "scale: {joined} of {} connections joined {TOPIC} ({failed} failed) through {} HAProxy processes on one \
             port to {} relays on one Redis, from {child_count} loadgen children, in {connect_seconds:.1} s",
            options.connections,
            balancer_pids.len(),
            self.relays.len()
        );
        if let Some(error) = &first_error {
            human.push_str(&format!(" (first failure: {error})"));
        }
        human.push_str(&format!(
            "\n  relays: {} connections, RSS +{:.1} MiB, {} KiB per connection (each: {})",
            relay_held,
            relay_delta as f64 / 1024.0,
            relay_kib_per_connection.map_or("–".to_owned(), |kib| format!("{kib:.2}")),
            relay_figures
                .iter()
                .map(|relay| format!(
                    "{} conns {} KiB",
                    relay["connections"],
                    relay["kib_per_connection"].as_f64().map_or("–".to_owned(), |kib| format!("{kib:.2}"))
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        human.push_str(&format!(
            "\n  haproxy: {} processes, {} to {} connections each, RSS {:.1} MiB in all (+{:.2} KiB per connection)",
            balancer_pids.len(),
            balancer_range.0.unwrap_or(&0),
            balancer_range.1.unwrap_or(&0),
            balancer_rss as f64 / 1024.0,
            balancer_delta as f64 / joined.max(1) as f64
        ));
        human.push_str(&format!(
            "\n  redis: used_memory {} → {} (RSS {} KiB), CPU {} s user+sys by the end",
            redis_before["used_memory_human"].as_str().unwrap_or("?"),
            redis_after["used_memory_human"].as_str().unwrap_or("?"),
            redis_after["rss_kib"],
            redis_end["used_cpu_seconds"]
        ));
        let child_rss: u64 = child_figures.iter().filter_map(|child| child["rss_kib"].as_u64()).sum();
        human.push_str(&format!(
            "\n  loadgen children: RSS {:.1} MiB in all; CPU while connecting (% of a core): {connect_cpu}",
            child_rss as f64 / 1024.0
        ));
        for window in &windows {
            human.push_str(&format!(
                "\n  {}; CPU (% of a core): {}",
                window_line(window["rate"].as_f64().unwrap_or(0.0), window),
                window["cpu_percent"]
            ));
        }
        if !troubles.is_empty() {
            human.push_str(&format!("\n  Redis link: {}", troubles.join("; ")));
        }
        let figures = json!({
            "connections_requested": options.connections,
            "joined": joined,
            "failed": failed,
            "first_error": first_error,
            "connect_seconds": round(connect_seconds, 2),
            "connect_cpu_percent": connect_cpu,
            "relays": relay_figures,
            "relay_connections": relay_held,
            "relay_kib_per_connection": relay_kib_per_connection.map(|kib| round(kib, 2)),
            "haproxy": balancer_figures,
            "haproxy_port": self.balancers.addr.port(),
            "haproxy_maxconn": self.balancers.maxconn,
            "redis_before": redis_before,
            "redis_after_join": redis_after,
            "redis_end": redis_end,
            "children": child_figures,
            "windows": windows,
            "redis_link_troubles": troubles,
        });
        let lost: u64 = windows.iter().filter_map(|window| window["lost"].as_u64()).sum();
        Ok(Outcome {
            human,
            json: merge_json("scale", json!({}), figures),
            figures: vec![
                Figure::higher("connections joined", joined as f64),
                Figure::lower("relay RSS per connection (KiB)", relay_kib_per_connection),
                Figure::lower("connect and join (s)", connect_seconds),
                Figure::lower("lost", lost as f64),
            ],
        })
    }

    /// Stops the children (they close their connections), then HAProxy, the relays and Redis.
    async fn stop(self) {
        for mut child in self.children {
            let _ = child.send("stop").await;
            drop(child.stdin);
            if tokio::time::timeout(Duration::from_secs(20), child.child.wait()).await.is_err() {
                let _ = child.child.start_kill();
                let _ = child.child.wait().await;
            }
        }
        self.balancers.stop().await;
        for relay in self.relays {
            relay.stop().await;
        }
        self.redis.stop().await;
    }
}

/// Fails when a connection did not join, or a delivery was lost, in the figures of a run.
pub(crate) fn verdict(figures: &Value) -> Result<()> {
    let failed = figures["failed"].as_u64().unwrap_or(0);
    let short =
        figures["connections_requested"].as_u64().unwrap_or(0).saturating_sub(figures["joined"].as_u64().unwrap_or(0));
    let lost: u64 =
        figures["windows"].as_array().into_iter().flatten().filter_map(|window| window["lost"].as_u64()).sum();
    match (short, lost) {
        (0, 0) => Ok(()),
        _ => Err(format!("scale: {short} connections not joined ({failed} failed), {lost} deliveries lost").into()),
    }
}

/// A `scale-child` process, killed when dropped.
struct LoadChild {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    connections: usize,
}

impl LoadChild {
    fn spawn(exe: &Path, url: &str, connections: usize, block: u8, origin: u64, log: &Path) -> Result<LoadChild> {
        let log = std::fs::File::create(log)?;
        let mut command = Command::new(exe);
        command.args(["scale-child", "--target", url, "--topic", TOPIC]);
        command.args(["--connections", &connections.to_string(), "--source-block", &block.to_string()]);
        command.args(["--clock-origin", &origin.to_string()]);
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(log).kill_on_drop(true);
        let mut child = command.spawn().map_err(|error| format!("starting {}: {error}", exe.display()))?;
        let stdin = child.stdin.take().ok_or("a child without a stdin")?;
        let lines = BufReader::new(child.stdout.take().ok_or("a child without a stdout")?).lines();
        Ok(LoadChild { child, stdin, lines, connections })
    }

    async fn send(&mut self, line: &str) -> Result<()> {
        self.stdin.write_all(format!("{line}\n").as_bytes()).await?;
        Ok(self.stdin.flush().await?)
    }

    /// Its next JSON line; an error when it exits or says nothing for `timeout`.
    async fn read(&mut self, timeout: Duration) -> Result<Value> {
        let line = tokio::time::timeout(timeout, self.lines.next_line())
            .await
            .map_err(|_| format!("a loadgen child said nothing for {timeout:?}"))??
            .ok_or("a loadgen child exited; see loadgen-scale-*.log")?;
        Ok(serde_json::from_str(&line)?)
    }
}

/// The children's windows as one: deliveries, losses, latency, and deliveries a second from the first publish
/// (`started_ns`) to the last delivery.
fn merge_window(closes: &[Value], started_ns: u64) -> Value {
    let sum = |field: &str| closes.iter().map(|close| close[field].as_u64().unwrap_or(0)).sum::<u64>();
    let (received, expected, messages) = (sum("received"), sum("expected"), sum("messages"));
    let last_ns = closes.iter().filter_map(|close| close["last_receive_ns"].as_u64()).max().unwrap_or(0);
    let mut histogram = latency::histogram();
    for bucket in closes.iter().filter_map(|close| close["histogram"].as_array()).flatten() {
        if let (Some(value), Some(count)) = (bucket[0].as_u64(), bucket[1].as_u64()) {
            histogram.saturating_record_n(value, count);
        }
    }
    let seconds = last_ns.saturating_sub(started_ns) as f64 / 1e9;
    json!({
        "received": received,
        "expected": expected,
        "lost": expected.saturating_sub(received),
        "messages": messages,
        "closed": sum("closed"),
        "deliveries_per_second": (seconds > 0.0).then(|| (received as f64 / seconds).round()),
        "latency": Summary::of(&histogram).json(),
    })
}

fn window_line(rate: f64, window: &Value) -> String {
    let latency = &window["latency"];
    let us = |field: &str| latency::format_us(latency[field].as_u64().unwrap_or(0));
    format!(
        "{rate} broadcasts/s: {} deliveries/s, p50 {} p99 {} max {}, {} received of {}, {} lost, {} µs CPU per delivery",
        window["deliveries_per_second"],
        us("p50_us"),
        us("p99_us"),
        us("max_us"),
        window["received"],
        window["expected"],
        window["lost"],
        window["cpu_us_per_delivery"]
    )
}

/// The counters of a relay's `GET /metrics` that say where its deliveries went.
async fn relay_counters(relay: &Server) -> Value {
    const NAMES: [&str; 9] = [
        "ferrocast_connections",
        "ferrocast_frames_out_total",
        "ferrocast_slow_consumers_total",
        "ferrocast_loss_notices_total",
        "ferrocast_redis_connected",
        "ferrocast_redis_received_total",
        "ferrocast_redis_disconnects_total",
        "ferrocast_redis_refilled_total",
        "ferrocast_redis_topics_followed",
    ];
    let Ok(Ok((200, page))) = tokio::time::timeout(Duration::from_secs(5), http_get(relay.addr, "/metrics")).await
    else {
        return Value::Null;
    };
    let mut counters = serde_json::Map::new();
    for line in page.lines() {
        if let Some((name, value)) = line.split_once(' ')
            && NAMES.contains(&name)
        {
            counters.insert(name.trim_start_matches("ferrocast_").to_owned(), json!(value.trim().parse::<f64>().ok()));
        }
    }
    Value::Object(counters)
}

/// The machine's load average (`/proc/loadavg`'s first three fields): other work on the machine shows here.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

/// A relay's `ferrocast_connections` gauge.
async fn relay_connections(relay: &Server) -> Option<u64> {
    let (status, page) =
        tokio::time::timeout(Duration::from_secs(5), http_get(relay.addr, "/metrics")).await.ok()?.ok()?;
    if status != 200 {
        return None;
    }
    page.lines().find_map(|line| line.strip_prefix("ferrocast_connections ")?.trim().parse().ok())
}

/// Redis's memory and CPU as `INFO` tells them, and its VmRSS.
async fn redis_figures(redis: &Redis) -> Result<Value> {
    let mut fields = redis_info(redis.addr, "memory").await?;
    fields.extend(redis_info(redis.addr, "cpu").await?);
    let get = |name: &str| fields.iter().find(|(field, _)| field == name).map(|(_, value)| value.clone());
    let number = |name: &str| get(name).and_then(|value| value.parse::<f64>().ok());
    Ok(json!({
        "used_memory": number("used_memory"),
        "used_memory_human": get("used_memory_human"),
        "used_memory_rss": number("used_memory_rss"),
        "used_cpu_seconds": number("used_cpu_sys").zip(number("used_cpu_user")).map(|(sys, user)| round(sys + user, 2)),
        "rss_kib": redis.pid().map(rss),
    }))
}

fn rss(pid: u32) -> u64 {
    proc_stats::rss_kib(pid).unwrap_or(0)
}

/// A progress line on stderr: the run takes minutes.
fn progress(line: String) {
    eprintln!("scale: {line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_windows_merge() {
        let closes = [
            json!({"received": 4, "expected": 4, "messages": 4, "last_receive_ns": 3_000_000_000u64, "closed": 0,
                   "histogram": [[100, 3], [2000, 1]]}),
            json!({"received": 3, "expected": 4, "messages": 3, "last_receive_ns": 2_000_000_000u64, "closed": 1,
                   "histogram": [[150, 3]]}),
        ];
        let window = merge_window(&closes, 1_000_000_000);
        assert_eq!(window["received"], 7);
        assert_eq!(window["lost"], 1);
        assert_eq!(window["closed"], 1);
        assert_eq!(window["deliveries_per_second"], 4.0);
        assert_eq!(window["latency"]["count"], 7);
        assert_eq!(window["latency"]["max_us"].as_u64().map(|us| us >= 2000), Some(true));
    }

    #[test]
    fn a_run_fails_on_a_missing_join_or_a_lost_delivery() {
        let run = |joined: u64, lost: u64| {
            json!({"connections_requested": 10, "joined": joined, "failed": 10 - joined,
                   "windows": [{"lost": 0}, {"lost": lost}]})
        };
        assert!(verdict(&run(10, 0)).is_ok());
        assert!(verdict(&run(9, 0)).is_err());
        assert!(verdict(&run(10, 1)).is_err());
    }
}
