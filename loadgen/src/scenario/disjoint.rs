//! `disjoint-redis`: relays on one Redis, each with topics of its own. Every relay gets `topics` topics
//! (`room:disjoint:{a,b,…}:{0…}`) and a few WebSocket subscribers on each, joined on that relay only; a backend per
//! relay POSTs `rate` broadcasts a second to that relay's `POST /api/broadcast`, in arrays of one broadcast per topic
//! ([`arrays`]). No relay has a client of another relay's topics, so what Redis sends a relay beyond its own
//! broadcasts is the price of its subscription scheme: a relay subscribed to one channel for the whole cluster gets
//! every relay's broadcasts, one that follows only its clients' topics gets its own.
//!
//! After a warm-up (the first joins' subscriptions, the relays' first history reads), one window is measured: Redis's
//! bytes out and in and its CPU from `INFO` (exact deltas), each relay's CPU from /proc, each relay's
//! `ferrocast_redis_received_total` and `ferrocast_redis_published_total` deltas and `ferrocast_redis_topics_followed`
//! from `GET /metrics`, and the subscribers' deliveries (each must get every broadcast of its topic: anything short
//! is lost) and publish-to-receive latency. What should not happen is named in the output: a loss, a relay that
//! follows per topic (it has `ferrocast_redis_topics_followed`) and receives broadcasts of topics none of its
//! clients joined or follows other topics, a relay that missed its own broadcasts, and any trouble counter of the
//! link.

use crate::Result;
use crate::latency::{Summary, format_us};
use crate::net::BUSY_READ_BUFFER;
use crate::proc_stats::{CpuWindow, MachineWindow};
use crate::publisher::arrays::{self, Lane};
use crate::recorder::Recorder;
use crate::redis_info::{self, Info};
use crate::scenario::cluster::{counter, link_counters, link_faults};
use crate::scenario::window::{GRACE, round};
use crate::scenario::{Figure, Outcome};
use crate::servers::{Redis, Server, http_get};
use crate::subscriber::{self, Plan, Subscribers, Topics};
use crate::{latency, stamp};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The prefix of every relay's topics: relay `a`'s are `room:disjoint:a:0` and on.
const TOPIC_PREFIX: &str = "room:disjoint";
/// The measured window's first sequence number: the warm-up's late deliveries, numbered below, are not counted.
const WINDOW_SEQ: u64 = 1 << 40;
/// Each relay's share of the sequence numbers: relay `i` numbers from `i × LANE_SPAN` on.
const LANE_SPAN: u64 = 1 << 32;
/// How long after the last delivery the window still runs, so that every relay's counters have settled (a relay
/// receiving every broadcast gets them when the subscribed ones do, give or take).
const SETTLE: Duration = Duration::from_millis(300);
/// How long a `GET /metrics` may take.
const METRICS_TIMEOUT: Duration = Duration::from_secs(5);

/// What to run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Topics of each relay.
    pub topics_per_relay: usize,
    /// Subscribers of each topic, joined on its relay.
    pub subscribers_per_topic: usize,
    /// Broadcasts a second published through each relay, spread evenly over its topics.
    pub rate_per_relay: f64,
    /// How long to publish before the window.
    pub warm_up: Duration,
    /// How long to publish in the window.
    pub duration: Duration,
}

/// One relay's figures over the window.
#[derive(Debug, Clone)]
struct RelayFigures {
    name: String,
    sent: u64,
    planned: u64,
    posts: u64,
    post_p99_us: u64,
    expected: u64,
    received: u64,
    latency: Summary,
    cpu_seconds: Option<f64>,
    redis_received: Option<u64>,
    redis_published: Option<u64>,
    topics_followed: Option<u64>,
}

/// Subscribers of one relay's topics, and what they record into.
struct Group {
    recorder: Arc<Recorder>,
    subscribers: Subscribers,
}

/// Joins every relay's subscribers, warms up, measures one window, and closes the subscribers.
pub(crate) async fn run(relays: &[Server], redis: &Redis, options: &Options) -> Result<Outcome> {
    if relays.is_empty() || options.topics_per_relay == 0 || options.subscribers_per_topic == 0 {
        return Err("disjoint topics need a relay, a topic and a subscriber at least".into());
    }
    let mut groups = Vec::with_capacity(relays.len());
    for (index, relay) in relays.iter().enumerate() {
        let plan = Plan {
            event_streams: false,
            count: options.topics_per_relay * options.subscribers_per_topic,
            topic: prefix(index),
            topics: Topics::Spread(options.topics_per_relay),
            presence: false,
            read_buffer: BUSY_READ_BUFFER,
        };
        let recorder = Arc::new(Recorder::default());
        let subscribers = subscriber::start(&relay.target(), &plan, recorder.clone()).await;
        groups.push(Group { recorder, subscribers });
    }
    let measured = match groups.iter().position(|group| group.subscribers.failed > 0) {
        Some(index) => {
            let subscribers = &groups[index].subscribers;
            Err(format!(
                "relay {}: {} subscribers failed to join: {}",
                letter(index),
                subscribers.failed,
                subscribers.first_error.as_deref().unwrap_or("?")
            )
            .into())
        }
        None => measure(relays, redis, options, &groups).await,
    };
    for group in groups {
        group.subscribers.stop().await;
    }
    measured
}

async fn measure(relays: &[Server], redis: &Redis, options: &Options, groups: &[Group]) -> Result<Outcome> {
    let lanes = |first_seq: u64| -> Vec<Lane> {
        (0..relays.len())
            .map(|index| Lane {
                api: relays[index].api.unwrap_or(relays[index].addr),
                topics: (0..options.topics_per_relay).map(|topic| format!("{}:{topic}", prefix(index))).collect(),
                first_seq: first_seq + index as u64 * LANE_SPAN,
            })
            .collect()
    };
    let per_topic = options.subscribers_per_topic as u64;

    // The warm-up: every relay subscribed and publishing, its deliveries checked as the window's are, not kept.
    for group in groups {
        group.recorder.open_window(0);
    }
    let warm = arrays::publish(lanes(0), options.rate_per_relay, options.warm_up).await?;
    let warm_expected: Vec<u64> = warm.lanes.iter().map(|lane| lane.sent * per_topic).collect();
    drain(groups, &warm_expected).await;
    let warm_lost: u64 = groups
        .iter()
        .zip(&warm_expected)
        .map(|(group, &expected)| expected - group.recorder.received().min(expected))
        .sum();
    for group in groups {
        group.recorder.close_window();
    }

    // The window.
    let metrics_before = scrape_all(relays).await?;
    let info_before = redis_info::read(redis.addr).await?;
    let relay_cpu: Vec<CpuWindow> = relays.iter().map(|relay| CpuWindow::start(relay.pid())).collect();
    let redis_proc_cpu = CpuWindow::start(redis.pid());
    let generator_cpu = CpuWindow::start(Some(std::process::id()));
    let machine = MachineWindow::start();
    for group in groups {
        group.recorder.open_window(WINDOW_SEQ);
    }
    let started_ns = stamp::now_ns();
    let published = arrays::publish(lanes(WINDOW_SEQ), options.rate_per_relay, options.duration).await?;
    let expected: Vec<u64> = published.lanes.iter().map(|lane| lane.sent * per_topic).collect();
    drain(groups, &expected).await;
    tokio::time::sleep(SETTLE).await;
    let relay_seconds: Vec<Option<f64>> = relay_cpu.iter().map(CpuWindow::seconds).collect();
    let (redis_proc_seconds, generator_seconds, machine_seconds) =
        (redis_proc_cpu.seconds(), generator_cpu.seconds(), machine.seconds());
    let wall = stamp::now_ns().saturating_sub(started_ns) as f64 / 1e9;
    let info_after = redis_info::read(redis.addr).await?;
    let metrics_after = scrape_all(relays).await?;
    let windows: Vec<_> = groups.iter().map(|group| group.recorder.close_window()).collect();

    let delta = |index: usize, name: &str| {
        Some(counter(&metrics_after[index], name)?.saturating_sub(counter(&metrics_before[index], name)?))
    };
    let figures: Vec<RelayFigures> = (0..relays.len())
        .map(|index| RelayFigures {
            name: format!("relay {}", letter(index)),
            sent: published.lanes[index].sent,
            planned: published.lanes[index].planned,
            posts: published.lanes[index].posts,
            post_p99_us: published.lanes[index].answers.p99_us,
            expected: expected[index],
            received: windows[index].received,
            latency: Summary::of(&windows[index].latency),
            cpu_seconds: relay_seconds[index],
            redis_received: delta(index, "ferrocast_redis_received_total"),
            redis_published: delta(index, "ferrocast_redis_published_total"),
            topics_followed: counter(&metrics_after[index], "ferrocast_redis_topics_followed"),
        })
        .collect();
    let mut all_latency = latency::histogram();
    for window in &windows {
        all_latency.add(&window.latency).expect("histograms of equal bounds");
    }
    let mut troubles: Vec<String> = figures.iter().flat_map(|relay| relay_troubles(relay, options, &figures)).collect();
    for (index, counters) in metrics_after.iter().enumerate() {
        troubles.extend(link_faults(&format!("relay {}", letter(index)), counters));
    }
    if warm_lost > 0 {
        troubles.push(format!("{warm_lost} deliveries lost in the warm-up"));
    }
    let totals = Totals {
        wall,
        publish_seconds: published.finished_ns.saturating_sub(published.started_ns) as f64 / 1e9,
        info: Delta::between(&info_before, &info_after),
        channels_after: info_after.pubsub_channels,
        latency: Summary::of(&all_latency),
        redis_proc_seconds,
        generator_seconds,
        machine_seconds,
    };
    Ok(outcome(relays.len(), options, &figures, &totals, troubles))
}

/// Redis's `INFO` over the window.
struct Delta {
    output_bytes: u64,
    input_bytes: u64,
    cpu_seconds: f64,
}

impl Delta {
    fn between(before: &Info, after: &Info) -> Delta {
        Delta {
            output_bytes: after.output_bytes.saturating_sub(before.output_bytes),
            input_bytes: after.input_bytes.saturating_sub(before.input_bytes),
            cpu_seconds: (after.cpu_seconds - before.cpu_seconds).max(0.0),
        }
    }
}

/// The window's figures that are not any one relay's.
struct Totals {
    wall: f64,
    publish_seconds: f64,
    info: Delta,
    channels_after: u64,
    latency: Summary,
    redis_proc_seconds: Option<f64>,
    generator_seconds: Option<f64>,
    machine_seconds: Option<f64>,
}

/// What went wrong at one relay: its subscribers short of (or over) what its topics were sent, its publisher behind,
/// and what Redis sent it against what it should have.
fn relay_troubles(relay: &RelayFigures, options: &Options, all: &[RelayFigures]) -> Vec<String> {
    let name = &relay.name;
    let mut troubles = Vec::new();
    if relay.received < relay.expected {
        troubles.push(format!("{name}: {} of {} deliveries lost", relay.expected - relay.received, relay.expected));
    }
    if relay.received > relay.expected {
        troubles.push(format!("{name}: {} deliveries more than sent", relay.received - relay.expected));
    }
    if relay.sent < relay.planned {
        troubles.push(format!("{name}: published {} of {} (the POSTs fell behind)", relay.sent, relay.planned));
    }
    let Some(received) = relay.redis_received else {
        troubles.push(format!("{name}: no ferrocast_redis_received_total in /metrics"));
        return troubles;
    };
    let total: u64 = all.iter().map(|relay| relay.sent).sum();
    match relay.topics_followed {
        // A relay that follows its clients' topics should get exactly its own broadcasts.
        Some(followed) => {
            if followed != options.topics_per_relay as u64 {
                troubles.push(format!(
                    "{name}: follows {followed} topics in Redis, its clients joined {}",
                    options.topics_per_relay
                ));
            }
            if received > relay.sent {
                troubles.push(format!(
                    "{name}: received {received} broadcasts from Redis, {} more than were published to its own topics",
                    received - relay.sent
                ));
            }
        }
        // One that follows the whole cluster, every broadcast of it.
        None if received < total => {
            troubles.push(format!("{name}: received {received} broadcasts from Redis of {total} published"));
        }
        None => {}
    }
    if received < relay.sent {
        troubles.push(format!("{name}: received {received} broadcasts from Redis of its own {}", relay.sent));
    }
    troubles
}

fn outcome(
    relay_count: usize,
    options: &Options,
    relays: &[RelayFigures],
    totals: &Totals,
    troubles: Vec<String>,
) -> Outcome {
    let wall = totals.wall;
    let per_second = |count: f64| if wall > 0.0 { count / wall } else { 0.0 };
    let percent = |seconds: Option<f64>| seconds.map(|seconds| seconds * 100.0 / wall);
    let sent: u64 = relays.iter().map(|relay| relay.sent).sum();
    let expected: u64 = relays.iter().map(|relay| relay.expected).sum();
    let received: u64 = relays.iter().map(|relay| relay.received).sum();
    let lost = expected.saturating_sub(received);
    let relays_cpu: Option<f64> = relays.iter().map(|relay| relay.cpu_seconds).sum();
    let redis_received: Option<u64> = relays.iter().map(|relay| relay.redis_received).sum();
    let egress = per_second(totals.info.output_bytes as f64);
    let per_broadcast = |value: f64| if sent > 0 { Some(value / sent as f64) } else { None };
    let received_per_relay = redis_received.map(|count| per_second(count as f64 / relay_count as f64));
    let each: Vec<Value> = relays
        .iter()
        .map(|relay| {
            json!({
                "relay": relay.name,
                "sent": relay.sent,
                "planned": relay.planned,
                "posts": relay.posts,
                "post_p99_us": relay.post_p99_us,
                "expected": relay.expected,
                "received": relay.received,
                "lost": relay.expected.saturating_sub(relay.received),
                "latency": relay.latency.json(),
                "cpu_percent": percent(relay.cpu_seconds).map(|x| round(x, 1)),
                "redis_received": relay.redis_received,
                "redis_received_per_s": relay.redis_received.map(|count| round(per_second(count as f64), 1)),
                "redis_published": relay.redis_published,
                "topics_followed": relay.topics_followed,
            })
        })
        .collect();
    let json = json!({
        "scenario": "disjoint-redis",
        "relays": relay_count,
        "topics_per_relay": options.topics_per_relay,
        "subscribers_per_topic": options.subscribers_per_topic,
        "rate_per_relay": options.rate_per_relay,
        "warm_up_s": options.warm_up.as_secs_f64(),
        "duration_s": options.duration.as_secs_f64(),
        "seconds": round(wall, 3),
        "publish_seconds": round(totals.publish_seconds, 3),
        "sent": sent,
        "expected": expected,
        "received": received,
        "lost": lost,
        "deliveries_per_s": per_second(received as f64).round(),
        "latency": totals.latency.json(),
        "redis_output_bytes": totals.info.output_bytes,
        "redis_output_bytes_per_s": egress.round(),
        "redis_output_bytes_per_broadcast": per_broadcast(totals.info.output_bytes as f64).map(|x| round(x, 1)),
        "redis_input_bytes": totals.info.input_bytes,
        "redis_input_bytes_per_s": per_second(totals.info.input_bytes as f64).round(),
        "redis_cpu_seconds": round(totals.info.cpu_seconds, 3),
        "redis_cpu_percent": round(totals.info.cpu_seconds * 100.0 / wall, 1),
        "redis_cpu_us_per_broadcast": per_broadcast(totals.info.cpu_seconds * 1e6).map(|x| round(x, 2)),
        "redis_proc_cpu_percent": percent(totals.redis_proc_seconds).map(|x| round(x, 1)),
        "redis_pubsub_channels": totals.channels_after,
        "relays_cpu_percent": percent(relays_cpu).map(|x| round(x, 1)),
        "relays_cpu_us_per_broadcast": relays_cpu.and_then(|s| per_broadcast(s * 1e6)).map(|x| round(x, 2)),
        "redis_received": redis_received,
        "redis_received_per_relay_per_s": received_per_relay.map(|x| round(x, 1)),
        "generator_cpu_percent": percent(totals.generator_seconds).map(|x| round(x, 1)),
        "machine_cpu_percent": percent(totals.machine_seconds).map(|x| round(x, 1)),
        "each": each,
        "troubles": troubles,
    });
    let cpu_each: Vec<String> = relays
        .iter()
        .map(|relay| match percent(relay.cpu_seconds) {
            Some(percent) => format!("{percent:.0}"),
            None => "?".to_owned(),
        })
        .collect();
    let mut human = format!(
        "disjoint-redis: {relay_count} relays × {} topics × {} subscribers, {} broadcasts/s each for {:.1} s: Redis out \
         {:.0} KB/s ({:.0} B/broadcast), in {:.0} KB/s, CPU {:.1} % of a core, {} channels; relays {} % of a core ({} \
         %); received from Redis {} /s per relay; {:.0} deliveries/s, latency {}, lost {lost} of {expected}; \
         generator {} %, machine {} %",
        options.topics_per_relay,
        options.subscribers_per_topic,
        options.rate_per_relay,
        options.duration.as_secs_f64(),
        egress / 1e3,
        per_broadcast(totals.info.output_bytes as f64).unwrap_or(0.0),
        per_second(totals.info.input_bytes as f64) / 1e3,
        totals.info.cpu_seconds * 100.0 / wall,
        totals.channels_after,
        percent(relays_cpu).map_or("?".to_owned(), |x| format!("{x:.0}")),
        cpu_each.join(" / "),
        received_per_relay.map_or("?".to_owned(), |x| format!("{x:.0}")),
        per_second(received as f64),
        totals.latency.human(),
        percent(totals.generator_seconds).map_or("?".to_owned(), |x| format!("{x:.0}")),
        percent(totals.machine_seconds).map_or("?".to_owned(), |x| format!("{x:.0}")),
    );
    if !troubles.is_empty() {
        human.push_str(&format!(" (troubles: {})", troubles.join("; ")));
    }
    let figures = vec![
        Figure::higher("deliveries/s", per_second(received as f64)),
        Figure::lower("p50 latency (µs)", totals.latency.p50_us as f64),
        Figure::lower("p99 latency (µs)", totals.latency.p99_us as f64),
        Figure::lower("lost", lost as f64),
        Figure::lower("Redis bytes out/s", egress),
        Figure::lower("Redis CPU (% of a core)", totals.info.cpu_seconds * 100.0 / wall),
        Figure::lower("relays' CPU (% of a core)", percent(relays_cpu)),
        Figure::lower("received from Redis/s per relay", received_per_relay),
    ];
    Outcome { human, json, figures }
}

/// The `## Sharded subscriptions` section of `results.md`: a row per relay, then the whole.
pub(crate) fn markdown(figures: &Value) -> String {
    let Some(each) = figures["each"].as_array() else { return String::new() };
    let seconds = figures["seconds"].as_f64().unwrap_or(0.0);
    let rate = |value: &Value| match (value.as_f64(), seconds > 0.0) {
        (Some(count), true) => format!("{:.0}", count / seconds),
        _ => "–".to_owned(),
    };
    let number = |value: &Value| value.as_f64().map_or("–".to_owned(), |x| format!("{x:.0}"));
    let us = |value: &Value| value.as_u64().map_or("–".to_owned(), format_us);
    let mut table = String::from(
        "| relay | published/s | received from Redis/s | topics followed | deliveries/s | lost | p50 | p99 | CPU % |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for relay in each {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            relay["relay"].as_str().unwrap_or("?"),
            rate(&relay["sent"]),
            rate(&relay["redis_received"]),
            number(&relay["topics_followed"]),
            rate(&relay["received"]),
            number(&relay["lost"]),
            us(&relay["latency"]["p50_us"]),
            us(&relay["latency"]["p99_us"]),
            number(&relay["cpu_percent"]),
        ));
    }
    table.push_str(&format!(
        "| all | {} | {} | | {} | {} | {} | {} | {} |\n\nRedis: {} bytes out/s ({} a broadcast), {} bytes in/s, CPU {} % \
         of a core ({} µs a broadcast), {} pub/sub channels.\n",
        rate(&figures["sent"]),
        rate(&figures["redis_received"]),
        rate(&figures["received"]),
        number(&figures["lost"]),
        us(&figures["latency"]["p50_us"]),
        us(&figures["latency"]["p99_us"]),
        number(&figures["relays_cpu_percent"]),
        number(&figures["redis_output_bytes_per_s"]),
        number(&figures["redis_output_bytes_per_broadcast"]),
        number(&figures["redis_input_bytes_per_s"]),
        figures["redis_cpu_percent"].as_f64().map_or("–".to_owned(), |x| format!("{x:.1}")),
        figures["redis_cpu_us_per_broadcast"].as_f64().map_or("–".to_owned(), |x| format!("{x:.1}")),
        number(&figures["redis_pubsub_channels"]),
    ));
    table
}

/// Waits until each group's subscribers have their `expected` deliveries, or [`GRACE`] has passed.
async fn drain(groups: &[Group], expected: &[u64]) {
    let deadline = tokio::time::Instant::now() + GRACE;
    let done = || groups.iter().zip(expected).all(|(group, &expected)| group.recorder.received() >= expected);
    while !done() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every relay's `ferrocast_redis_*` counters, from `GET /metrics`.
async fn scrape_all(relays: &[Server]) -> Result<Vec<Vec<(String, u64)>>> {
    let mut all = Vec::with_capacity(relays.len());
    for (index, relay) in relays.iter().enumerate() {
        let scraped = tokio::time::timeout(METRICS_TIMEOUT, http_get(relay.addr, "/metrics")).await;
        match scraped {
            Ok(Ok((200, body))) => all.push(link_counters(&body)),
            Ok(Ok((status, _))) => return Err(format!("relay {}: /metrics answered {status}", letter(index)).into()),
            Ok(Err(error)) => return Err(format!("relay {}: /metrics: {error}", letter(index)).into()),
            Err(_) => return Err(format!("relay {}: /metrics took over {METRICS_TIMEOUT:?}", letter(index)).into()),
        }
    }
    Ok(all)
}

/// The letter of relay `index`: `a`, `b`, … (as the suite names their logs).
fn letter(index: usize) -> char {
    char::from(b'a' + (index % 26) as u8)
}

/// The prefix of relay `index`'s topics.
fn prefix(index: usize) -> String {
    format!("{TOPIC_PREFIX}:{}", letter(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(name: &str, sent: u64, received: u64, redis_received: u64, followed: Option<u64>) -> RelayFigures {
        RelayFigures {
            name: name.to_owned(),
            sent,
            planned: sent,
            posts: sent / 10,
            post_p99_us: 0,
            expected: sent * 3,
            received,
            latency: Summary::default(),
            cpu_seconds: Some(1.0),
            redis_received: Some(redis_received),
            redis_published: Some(sent),
            topics_followed: followed,
        }
    }

    #[test]
    fn troubles_per_subscription_scheme() {
        let options = Options {
            topics_per_relay: 10,
            subscribers_per_topic: 3,
            rate_per_relay: 1000.0,
            warm_up: Duration::ZERO,
            duration: Duration::from_secs(1),
        };
        // Per topic: its own broadcasts only, nothing lost; anything else is named.
        let sharded = [relay("relay a", 100, 300, 100, Some(10)), relay("relay b", 100, 300, 100, Some(10))];
        assert!(relay_troubles(&sharded[0], &options, &sharded).is_empty());
        let leaky = relay("relay a", 100, 299, 150, Some(11));
        let troubles = relay_troubles(&leaky, &options, &sharded);
        assert_eq!(troubles.len(), 3, "{troubles:?}");
        assert!(troubles[0].contains("1 of 300 deliveries lost"));
        assert!(troubles[1].contains("follows 11 topics"));
        assert!(troubles[2].contains("50 more than were published to its own topics"));
        // One channel for all: every broadcast of the cluster.
        let shared = [relay("relay a", 100, 300, 200, None), relay("relay b", 100, 300, 200, None)];
        assert!(relay_troubles(&shared[1], &options, &shared).is_empty());
        let short = relay("relay b", 100, 300, 150, None);
        assert!(relay_troubles(&short, &options, &shared)[0].contains("received 150 broadcasts from Redis of 200"));
    }

    #[test]
    fn the_section_has_a_row_per_relay_and_the_whole() {
        let figures = json!({
            "seconds": 2.0, "sent": 4000, "redis_received": 4000, "received": 12000, "lost": 0,
            "latency": {"p50_us": 900, "p99_us": 4200}, "relays_cpu_percent": 31.0,
            "redis_output_bytes_per_s": 500000.0, "redis_output_bytes_per_broadcast": 250.0,
            "redis_input_bytes_per_s": 400000.0, "redis_cpu_percent": 7.25, "redis_cpu_us_per_broadcast": 36.0,
            "redis_pubsub_channels": 21,
            "each": [
                {"relay": "relay a", "sent": 2000, "redis_received": 2000, "topics_followed": 10, "received": 6000,
                 "lost": 0, "latency": {"p50_us": 900, "p99_us": 4100}, "cpu_percent": 15.5},
                {"relay": "relay b", "sent": 2000, "redis_received": 2000, "topics_followed": null, "received": 6000,
                 "lost": 0, "latency": {"p50_us": 950, "p99_us": 4200}, "cpu_percent": 15.5},
            ],
        });
        let table = markdown(&figures);
        assert!(table.contains("| relay a | 1000 | 1000 | 10 | 3000 | 0 | 900 µs | 4.1 ms | 16 |"), "{table}");
        assert!(table.contains("| relay b | 1000 | 1000 | – |"), "{table}");
        assert!(table.contains("| all | 2000 | 2000 | | 6000 | 0 | 900 µs | 4.2 ms | 31 |"), "{table}");
        assert!(table.contains("Redis: 500000 bytes out/s (250 a broadcast)"), "{table}");
        assert!(table.contains("CPU 7.2 % of a core (36.0 µs a broadcast), 21 pub/sub channels"), "{table}");
    }
}
