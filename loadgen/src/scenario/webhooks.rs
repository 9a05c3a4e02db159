//! `webhooks`: broadcasts published to a relay and POSTed by its webhooks to one local receiver: events a second
//! received, latency from publish to the receiver, and what an event costs the relay's CPU.
//!
//! The relay runs with `--webhook bench=http://127.0.0.1:PORT/ --webhook-secret bench=whsec_…` to the Node receiver
//! of `loadgen/webhooks/receiver.mjs`, which takes the time of receipt once a batch's body is in, answers 204 at
//! once, then verifies the batch's Standard Webhooks signature with node:crypto and counts it. The generator
//! publishes on one topic with `POST /api/broadcast` on one keep-alive connection to the relay's API port, one POST
//! at a time, each broadcast's payload `{"sent_us": <Unix µs>, "seq": <n>, "p": "xx…"}` (~100 bytes) stamped when its
//! POST is built: receiver and generator run on the same machine, so the receiver's clock less `sent_us` is the
//! latency, publish to receipt. Nothing subscribes: the relay's work per broadcast is taking the POST, numbering
//! the broadcast into the topic's history and its webhook (writing the event once, queueing it, batching up to 100
//! events for up to 250 ms, one batch in flight, signing and POSTing it).
//!
//! Each step publishes at one rate for a few seconds, open loop (POST `n` is due at `n × per POST / rate`, or right
//! after the answer before it when that came late), then waits until the receiver has every broadcast (or the
//! relay says the missing ones are dead letters, or nothing moves for [`STALL`]). Up to
//! [`SINGLE_POST_UP_TO`] a second, one broadcast per POST; above, arrays of `array` broadcasts per POST (one POST at
//! a time could not reach 20,000/s otherwise); a `max` step POSTs arrays back to back, as fast as the relay answers.
//! CPU is measured from the step's first POST to its last receipt.
//!
//! The relay may keep the webhook's queue on Redis (`--pubsub`, the suite's `webhooks-redis` run): the publish then
//! puts each broadcast into the journal stream on Redis, and the relay holding the endpoint's lease reads it back and
//! POSTs it. Redis's CPU is measured as the others' when its process id is given, and what is lost has a third
//! cause: `POST /api/broadcast` answers once a broadcast is queued for Redis, and the relay drops those that find
//! that queue full (`ferrocast_redis_dropped_total` in its `/metrics`), which never reach the journal. The end of a
//! step relies on the receiver's counts; the relay's view of its queue (`queued`, `in_flight`) is, on Redis, a
//! snapshot renewed once a second, so it is read only after [`STALL`], well past that lag.

use crate::Result;
use crate::latency::format_us;
use crate::proc_stats::{CpuWindow, MachineWindow};
use crate::scenario::window::round;
use crate::scenario::{Figure, Outcome, merge_json};
use crate::servers::http_get;
use crate::target::Target;
use crate::{latency, net};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST, RETRY_AFTER};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::fmt::Write;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// The endpoint's name in the relay's flags, API and metrics.
pub(crate) const ENDPOINT: &str = "bench";
/// The endpoint's secret (the Standard Webhooks specification's example): a benchmark has nothing to hide, and the
/// receiver verifies every signature with it.
pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The topic published to.
const TOPIC: &str = "room:webhooks";
/// The rates published one broadcast per POST; above it, arrays.
pub(crate) const SINGLE_POST_UP_TO: f64 = 1000.0;
/// Broadcasts per POST above [`SINGLE_POST_UP_TO`] and at `max`, by default.
pub(crate) const DEFAULT_ARRAY: usize = 50;
/// The rates stepped through by default.
pub(crate) const DEFAULT_RATES: [Rate; 5] =
    [Rate::Fixed(100.0), Rate::Fixed(1000.0), Rate::Fixed(5000.0), Rate::Fixed(20_000.0), Rate::Max];
/// The bytes a payload is padded to, as the other scenarios' (`stamp::PAYLOAD_BYTES`).
const PAYLOAD_BYTES: usize = 100;
/// How many times its duration a fixed-rate step may publish before it stops sending.
const OVERRUN: u32 = 2;
/// A step ends once the receiver has had nothing new for this long with the relay's queue empty and nothing in
/// flight, or for twice this long in any case.
const STALL: Duration = Duration::from_secs(3);
/// How old the relay's view of its queue may be: on Redis, a snapshot its keeper renews once a second.
const QUEUE_VIEW_LAG: Duration = Duration::from_secs(1);
const _: () = assert!(STALL.as_millis() > 2 * QUEUE_VIEW_LAG.as_millis(), "the queue's view is read only once settled");
/// How often the end of a step is polled.
const POLL: Duration = Duration::from_millis(20);
/// The longest a step waits for its events after its last POST.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// One step's rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Rate {
    /// Broadcasts a second.
    Fixed(f64),
    /// POSTs back to back.
    Max,
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Rate, String> {
        if text == "max" {
            return Ok(Rate::Max);
        }
        match text.parse::<f64>() {
            Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(Rate::Fixed(rate)),
            _ => Err(format!("{text}: a rate is a positive number of broadcasts a second, or `max`")),
        }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rate::Fixed(rate) => write!(f, "{rate}"),
            Rate::Max => f.write_str("max"),
        }
    }
}

/// What the scenario runs.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// The steps, in order.
    pub rates: Vec<Rate>,
    /// How long each step publishes.
    pub step: Duration,
    /// Broadcasts per POST above [`SINGLE_POST_UP_TO`] a second and at `max`.
    pub array: usize,
    /// Where the receiver listens (its `GET /stats`).
    pub receiver: SocketAddr,
    /// The receiver's process, for its CPU per event.
    pub receiver_pid: Option<u32>,
    /// The Redis the relay keeps the queue on, if it does, for its CPU per event.
    pub redis_pid: Option<u32>,
}

/// What one step's publisher did.
#[derive(Debug, Clone, Copy)]
struct Published {
    /// Broadcasts published (answered 200).
    sent: u64,
    /// Broadcasts the relay refused (503: its queue for Redis was full), the publisher waiting out `Retry-After`
    /// before it went on, as a backend does.
    refused: u64,
    /// Broadcasts the step was to publish (none planned at `max`).
    planned: Option<u64>,
    posts: u64,
    /// From the first POST to the last answer, or the step's duration if that is longer (a fixed rate's last POST
    /// is due one interval before the step ends).
    seconds: f64,
    /// Unix µs of the first POST.
    started_us: u64,
    post_latency: latency::Summary,
}

/// What the relay's `GET /api/webhooks` says of the endpoint, and its `/metrics` of its queue for Redis.
#[derive(Debug, Clone, Copy, Default)]
struct EndpointState {
    delivered: u64,
    dead: u64,
    queued: u64,
    in_flight: bool,
    /// Broadcasts dropped because the queue for Redis was full (0 without Redis).
    dropped: u64,
}

/// One step, measured.
#[derive(Debug)]
struct Step {
    rate: Rate,
    per_post: usize,
    published: Published,
    /// The receiver's `GET /stats` at the end of the step.
    received: Value,
    /// The relay's counters' change over the step.
    delivered: u64,
    dead: u64,
    dropped: u64,
    /// From the first POST to the last receipt.
    seconds_to_last_receipt: f64,
    relay_cpu: Option<f64>,
    receiver_cpu: Option<f64>,
    redis_cpu: Option<f64>,
    generator_cpu: Option<f64>,
    machine_cpu: Option<f64>,
    /// Why the wait for the events ended before all came, if it did.
    drain_note: Option<String>,
}

impl Step {
    fn broadcasts_received(&self) -> u64 {
        self.received["broadcasts"].as_u64().unwrap_or(0)
    }

    fn lost(&self) -> u64 {
        self.published.sent.saturating_sub(self.broadcasts_received())
    }

    /// By how much the relay's counts (delivered, dead, dropped before Redis) exceed what was published: events it
    /// counted twice, which should not be.
    fn counted_twice(&self) -> u64 {
        (self.delivered + self.dead + self.dropped).saturating_sub(self.published.sent)
    }

    /// Checks that must read 0: invalid signatures, stale timestamps, malformed bodies, duplicates, disorder. (Gaps
    /// in the offsets are not among them: the relay's dead letters leave gaps, and `lost` counts what is missing.)
    fn faults(&self) -> u64 {
        [
            "invalid_signatures",
            "stale_timestamps",
            "malformed",
            "duplicate_batches",
            "seq_out_of_order",
            "offset_out_of_order",
        ]
        .iter()
        .map(|key| self.received[key].as_u64().unwrap_or(0))
        .sum()
    }

    fn published_per_second(&self) -> f64 {
        per_second(self.published.sent, self.published.seconds)
    }

    fn received_per_second(&self) -> f64 {
        per_second(self.broadcasts_received(), self.seconds_to_last_receipt)
    }

    /// CPU µs per event received of `seconds` of CPU.
    fn per_event(&self, seconds: Option<f64>) -> Option<f64> {
        let received = self.broadcasts_received();
        seconds.filter(|_| received > 0).map(|seconds| seconds * 1e6 / received as f64)
    }

    fn json(&self) -> Value {
        let percent = |seconds: Option<f64>| {
            seconds
                .filter(|_| self.seconds_to_last_receipt > 0.0)
                .map(|seconds| round(seconds * 100.0 / self.seconds_to_last_receipt, 1))
        };
        let us = |seconds: Option<f64>| self.per_event(seconds).map(|us| round(us, 2));
        json!({
            "rate": self.rate.to_string(),
            "per_post": self.per_post,
            "published": self.published.sent,
            "refused": self.published.refused,
            "planned": self.published.planned,
            "posts": self.published.posts,
            "publish_seconds": round(self.published.seconds, 3),
            "published_per_s": round(self.published_per_second(), 1),
            "post_latency": self.published.post_latency.json(),
            "received": self.broadcasts_received(),
            "received_per_s": round(self.received_per_second(), 1),
            "seconds_to_last_receipt": round(self.seconds_to_last_receipt, 3),
            "lost": self.lost(),
            "relay_delivered": self.delivered,
            "relay_dead": self.dead,
            "relay_dropped": self.dropped,
            "relay_counted_twice": self.counted_twice(),
            "faults": self.faults(),
            "latency": self.received["latency"],
            "relay_to_receipt": self.received["relay_to_receipt"],
            "events_per_batch": self.received["events_per_batch"],
            "batches": self.received["batches"],
            "invalid_signatures": self.received["invalid_signatures"],
            "receiver": self.received,
            "relay_cpu_seconds": self.relay_cpu.map(|seconds| round(seconds, 2)),
            "receiver_cpu_seconds": self.receiver_cpu.map(|seconds| round(seconds, 2)),
            "redis_cpu_seconds": self.redis_cpu.map(|seconds| round(seconds, 2)),
            "relay_cpu_us_per_event": us(self.relay_cpu),
            "receiver_cpu_us_per_event": us(self.receiver_cpu),
            "redis_cpu_us_per_event": us(self.redis_cpu),
            "generator_cpu_us_per_event": us(self.generator_cpu),
            "relay_cpu_percent": percent(self.relay_cpu),
            "receiver_cpu_percent": percent(self.receiver_cpu),
            "redis_cpu_percent": percent(self.redis_cpu),
            "generator_cpu_percent": percent(self.generator_cpu),
            "machine_cpu_percent": percent(self.machine_cpu),
            "drain_note": self.drain_note,
        })
    }
}

fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 { count as f64 / seconds } else { 0.0 }
}

/// Runs the steps against a relay whose webhook `bench` POSTs to the receiver at `options.receiver`.
pub(crate) async fn run(target: &Target, options: &Options) -> Result<Outcome> {
    if options.rates.is_empty() {
        return Err("no rates to run".into());
    }
    if options.array == 0 {
        return Err("an array of 0 broadcasts publishes nothing".into());
    }
    let api = target.api.unwrap_or(target.addr);
    let mut sender = connect(api).await?;
    let generator = std::process::id();
    let mut seq = 0;
    let mut steps = Vec::new();
    for &rate in &options.rates {
        let per_post = match rate {
            Rate::Fixed(rate) if rate <= SINGLE_POST_UP_TO => 1,
            _ => options.array,
        };
        receiver_stats(options.receiver, true).await?; // Whatever came before, gone.
        let before = endpoint_state(api).await?;
        let relay_cpu = CpuWindow::start(target.server_pid);
        let receiver_cpu = CpuWindow::start(options.receiver_pid);
        let redis_cpu = CpuWindow::start(options.redis_pid);
        let generator_cpu = CpuWindow::start(Some(generator));
        let machine_cpu = MachineWindow::start();
        let published = publish(&mut sender, api, seq, rate, per_post, options.step).await?;
        seq += published.sent;
        let drain_note = drain(api, options.receiver, published.sent, &before).await?;
        let (relay_cpu, receiver_cpu, redis_cpu) = (relay_cpu.seconds(), receiver_cpu.seconds(), redis_cpu.seconds());
        let (generator_cpu, machine_cpu) = (generator_cpu.seconds(), machine_cpu.seconds());
        let received = receiver_stats(options.receiver, true).await?;
        let after = endpoint_state(api).await?;
        let last_receipt_us = received["last_receipt_us"].as_u64().unwrap_or(published.started_us);
        let step = Step {
            rate,
            per_post,
            published,
            seconds_to_last_receipt: last_receipt_us.saturating_sub(published.started_us) as f64 / 1e6,
            received,
            delivered: after.delivered.saturating_sub(before.delivered),
            dead: after.dead.saturating_sub(before.dead),
            dropped: after.dropped.saturating_sub(before.dropped),
            relay_cpu,
            receiver_cpu,
            redis_cpu,
            generator_cpu,
            machine_cpu,
            drain_note,
        };
        eprintln!("  webhooks {rate:>6}/s: {}", step_line(&step));
        steps.push(step);
    }
    Ok(outcome(target, options, &steps))
}

/// One POST at a time to `POST /api/broadcast` on `api`: broadcasts numbered from `first_seq`, `per_post` a POST,
/// at `rate` for `duration` (at `max`, back to back for `duration`).
async fn publish(
    sender: &mut SendRequest<Full<Bytes>>,
    api: SocketAddr,
    first_seq: u64,
    rate: Rate,
    per_post: usize,
    duration: Duration,
) -> Result<Published> {
    let planned = match rate {
        Rate::Fixed(rate) => Some((rate * duration.as_secs_f64()).round().max(1.0) as u64),
        Rate::Max => None,
    };
    let mut post_latency = latency::histogram();
    let (start, started_us) = (Instant::now(), unix_us());
    let (mut sent, mut refused, mut posts) = (0, 0, 0);
    loop {
        let count = match (rate, planned) {
            (Rate::Fixed(rate), Some(planned)) => {
                if sent >= planned || start.elapsed() >= duration * OVERRUN {
                    break;
                }
                tokio::time::sleep_until(start + Duration::from_secs_f64(sent as f64 / rate)).await;
                (planned - sent).min(per_post as u64)
            }
            _ => {
                if start.elapsed() >= duration {
                    break;
                }
                per_post as u64
            }
        };
        let body = body(first_seq + sent, count);
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/broadcast")
            .header(HOST, api.to_string())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let asked = Instant::now();
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
            .map(Duration::from_secs);
        let answer = response.into_body().collect().await?.to_bytes();
        latency::record_ns(&mut post_latency, asked.elapsed().as_nanos() as u64);
        if let (StatusCode::SERVICE_UNAVAILABLE, Some(wait)) = (status, retry_after) {
            refused += count;
            let step_end = start + duration * if planned.is_some() { OVERRUN } else { 1 };
            tokio::time::sleep_until(step_end.min(Instant::now() + wait)).await;
            continue;
        }
        if !status.is_success() {
            return Err(format!("POST /api/broadcast: {status}: {}", String::from_utf8_lossy(&answer)).into());
        }
        sent += count;
        posts += 1;
    }
    Ok(Published {
        sent,
        refused,
        planned,
        posts,
        seconds: start.elapsed().max(duration).as_secs_f64(),
        started_us,
        post_latency: latency::Summary::of(&post_latency),
    })
}

/// A POST's body: one broadcast as an object, several as an array, each payload stamped now.
fn body(first_seq: u64, count: u64) -> String {
    let mut body = String::with_capacity(count as usize * (PAYLOAD_BYTES + 64) + 2);
    if count > 1 {
        body.push('[');
    }
    for seq in first_seq..first_seq + count {
        if seq > first_seq {
            body.push(',');
        }
        let _ = write!(body, r#"{{"topic":"{TOPIC}","event":"bench","payload":{}}}"#, payload(seq, unix_us()));
    }
    if count > 1 {
        body.push(']');
    }
    body
}

/// `{"sent_us":…,"seq":…,"p":"xx…"}`, padded to [`PAYLOAD_BYTES`].
fn payload(seq: u64, sent_us: u64) -> String {
    let mut text = format!(r#"{{"sent_us":{sent_us},"seq":{seq},"p":""#);
    let padding = PAYLOAD_BYTES.saturating_sub(text.len() + 2);
    text.extend(std::iter::repeat_n('x', padding));
    text.push_str("\"}");
    text
}

/// Unix microseconds now, the clock the receiver reads too.
fn unix_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_micros() as u64)
}

/// Waits until the receiver has `sent` broadcasts (those the relay counted dead or dropped since `before` included);
/// why it stopped short, if it did.
async fn drain(api: SocketAddr, receiver: SocketAddr, sent: u64, before: &EndpointState) -> Result<Option<String>> {
    let started = Instant::now();
    let (mut last_count, mut last_change) = (u64::MAX, Instant::now());
    loop {
        let count = receiver_count(receiver).await?;
        if count >= sent {
            return Ok(None);
        }
        if count != last_count {
            (last_count, last_change) = (count, Instant::now());
        }
        let still = last_change.elapsed();
        if still >= STALL || started.elapsed() >= DRAIN_TIMEOUT {
            let state = endpoint_state(api).await?;
            let dead = state.dead.saturating_sub(before.dead);
            let dropped = state.dropped.saturating_sub(before.dropped);
            let idle = state.queued == 0 && !state.in_flight;
            if count + dead + dropped >= sent && idle {
                let mut note = format!("{dead} events went to the relay's dead letters");
                if dropped > 0 {
                    let _ = write!(note, ", {dropped} were dropped before Redis");
                }
                return Ok(Some(note));
            }
            if (idle && still >= STALL) || still >= 2 * STALL || started.elapsed() >= DRAIN_TIMEOUT {
                return Ok(Some(format!(
                    "{count} of {sent} received, nothing more for {:.1} s; the relay: {} queued, in flight: {}, {dead} \
                     dead, {dropped} dropped before Redis",
                    still.as_secs_f64(),
                    state.queued,
                    state.in_flight,
                )));
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The relay's figures for the endpoint [`ENDPOINT`], from `GET /api/webhooks` on its API port.
async fn endpoint_state(api: SocketAddr) -> Result<EndpointState> {
    let (status, body) = http_get(api, "/api/webhooks").await?;
    if status != 200 {
        return Err(format!("GET /api/webhooks: {status}: {body}").into());
    }
    let list: Value = serde_json::from_str(&body)?;
    let endpoint = list["webhooks"]
        .as_array()
        .and_then(|endpoints| endpoints.iter().find(|endpoint| endpoint["name"] == ENDPOINT))
        .ok_or_else(|| format!("the relay has no webhook `{ENDPOINT}`: {body}"))?;
    Ok(EndpointState {
        delivered: endpoint["delivered"].as_u64().unwrap_or(0),
        dead: endpoint["dead"].as_u64().unwrap_or(0),
        queued: endpoint["queued"].as_u64().unwrap_or(0),
        in_flight: endpoint["in_flight"].as_bool().unwrap_or(false),
        dropped: redis_dropped(api).await?,
    })
}

/// The relay's `ferrocast_redis_dropped_total` from `GET /metrics` on its API port: broadcasts answered but dropped
/// because its queue for Redis was full. 0 without Redis, where the metric is absent.
async fn redis_dropped(api: SocketAddr) -> Result<u64> {
    let (status, body) = http_get(api, "/metrics").await?;
    if status != 200 {
        return Err(format!("GET /metrics: {status}: {body}").into());
    }
    Ok(metric(&body, "ferrocast_redis_dropped_total").unwrap_or(0))
}

/// The value of the unlabelled metric `name` in a Prometheus text exposition.
fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse::<f64>().ok())
        .map(|x| x as u64)
}

/// The receiver's `GET /stats` (and a reset after it, with `reset`).
async fn receiver_stats(receiver: SocketAddr, reset: bool) -> Result<Value> {
    let path = if reset { "/stats?reset=1" } else { "/stats" };
    let (status, body) = http_get(receiver, path).await?;
    if status != 200 {
        return Err(format!("the receiver's GET {path}: {status}: {body}").into());
    }
    Ok(serde_json::from_str(&body)?)
}

/// The stamped broadcasts the receiver has had since its last reset (`GET /count`, which sorts nothing).
async fn receiver_count(receiver: SocketAddr) -> Result<u64> {
    let (status, body) = http_get(receiver, "/count").await?;
    let count: Value =
        serde_json::from_str(&body).map_err(|_| format!("the receiver's GET /count: {status}: {body}"))?;
    count["broadcasts"].as_u64().ok_or_else(|| format!("the receiver's GET /count: {body}").into())
}

/// A keep-alive HTTP/1.1 connection to the relay's API port.
async fn connect(api: SocketAddr) -> Result<SendRequest<Full<Bytes>>> {
    let stream = net::tcp_connect(api, net::source_address(api, 0)).await?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

fn step_line(step: &Step) -> String {
    let latency = &step.received["latency"];
    let us = |value: &Value| value.as_u64().map_or("–".to_owned(), format_us);
    let mut line = format!(
        "{:.0}/s published ({} per POST), {:.0}/s received, p50 {} p99 {} max {}, {:.1} events/batch",
        step.published_per_second(),
        step.per_post,
        step.received_per_second(),
        us(&latency["p50_us"]),
        us(&latency["p99_us"]),
        us(&latency["max_us"]),
        step.received["events_per_batch"].as_f64().unwrap_or(0.0),
    );
    if let Some(cpu) = step.per_event(step.relay_cpu) {
        let _ = write!(line, ", relay CPU {cpu:.1} µs/event");
    }
    if let Some(cpu) = step.per_event(step.receiver_cpu) {
        let _ = write!(line, ", receiver {cpu:.1} µs/event");
    }
    if let Some(cpu) = step.per_event(step.redis_cpu) {
        let _ = write!(line, ", Redis {cpu:.1} µs/event");
    }
    let _ = write!(line, ", lost {}", step.lost());
    match (step.dead, step.dropped) {
        (0, 0) => {}
        (dead, 0) => {
            let _ = write!(line, " ({dead} dead letters)");
        }
        (dead, dropped) => {
            let _ = write!(line, " ({dead} dead letters, {dropped} dropped before Redis)");
        }
    }
    if step.counted_twice() > 0 {
        let _ = write!(line, ", the relay counts {} more events than were published", step.counted_twice());
    }
    if step.faults() > 0 {
        let _ = write!(line, ", {} faults (signatures, order, duplicates)", step.faults());
    }
    if step.published.refused > 0 {
        let _ = write!(line, ", {} refused with 503 (the queue for Redis full)", step.published.refused);
    }
    if let Some(planned) = step.published.planned.filter(|planned| *planned > step.published.sent) {
        let _ = write!(line, ", published only {} of {planned}", step.published.sent);
    }
    if let Some(note) = &step.drain_note {
        let _ = write!(line, " ({note})");
    }
    line
}

fn outcome(target: &Target, options: &Options, steps: &[Step]) -> Outcome {
    let mut human = format!(
        "webhooks: broadcasts to one receiver, {:.1} s per step (arrays of {} per POST above {}/s):",
        options.step.as_secs_f64(),
        options.array,
        SINGLE_POST_UP_TO,
    );
    for step in steps {
        let _ = write!(human, " {}/s: {};", step.rate, step_line(step));
    }
    human.pop();
    // Loss at a fixed rate is a fault; at `max`, past what one endpoint drains, the bounded queue's dead letters are
    // what the relay promises, and are reported as such.
    let fixed = |step: &&Step| matches!(step.rate, Rate::Fixed(_));
    let lost: u64 = steps.iter().filter(fixed).map(Step::lost).sum();
    let lost_at_max: Option<u64> =
        steps.iter().filter(|step| step.rate == Rate::Max).map(Step::lost).reduce(|a, b| a + b);
    let faults: u64 = steps.iter().map(Step::faults).sum();
    let figures = json!({
        "target": target.ws_url(),
        "api": target.api.map(|api| api.to_string()),
        "endpoint": ENDPOINT,
        "seconds_per_step": options.step.as_secs_f64(),
        "array": options.array,
        "single_post_up_to": SINGLE_POST_UP_TO,
        "steps": steps.iter().map(Step::json).collect::<Vec<_>>(),
        "lost": lost,
        "lost_at_max": lost_at_max,
        "faults": faults,
    });
    // The headline figures: the busiest fixed rate (the `max` step's rate is whatever the relay answered).
    let busiest = steps.iter().rfind(|step| matches!(step.rate, Rate::Fixed(_)));
    let fastest = steps
        .iter()
        .map(Step::received_per_second)
        .fold(None, |most: Option<f64>, rate| Some(most.map_or(rate, |most| most.max(rate))));
    let latency_of = |step: &Step, key: &str| step.received["latency"][key].as_f64();
    let mut outcome = Outcome {
        human,
        json: merge_json("webhooks", json!({}), figures),
        figures: vec![
            Figure::higher("webhook events/s received, fastest step", fastest),
            Figure::lower("webhook p50, busiest fixed rate (µs)", busiest.and_then(|step| latency_of(step, "p50_us"))),
            Figure::lower("webhook p99, busiest fixed rate (µs)", busiest.and_then(|step| latency_of(step, "p99_us"))),
            Figure::lower(
                "relay CPU per webhook event, busiest fixed rate (µs)",
                busiest.and_then(|step| step.per_event(step.relay_cpu)),
            ),
            Figure::lower("faults (signatures, order, duplicates)", faults as f64),
            Figure::lower("webhook events not received at max (dead letters)", lost_at_max.map(|lost| lost as f64)),
            Figure::lower("lost", lost as f64),
        ],
    };
    if options.redis_pid.is_some() {
        outcome.figures.insert(
            4,
            Figure::lower(
                "Redis CPU per webhook event, busiest fixed rate (µs)",
                busiest.and_then(|step| step.per_event(step.redis_cpu)),
            ),
        );
    }
    outcome
}

/// The `## Webhooks` table of `results.md` from a webhooks outcome's JSON, a row per step, with Redis's CPU when it
/// was measured (the queue on Redis). Empty when there is no such run.
pub(crate) fn markdown(figures: &Value) -> String {
    let Some(steps) = figures["steps"].as_array() else { return String::new() };
    let us = |value: &Value| value.as_u64().map_or("–".to_owned(), format_us);
    let number = |value: &Value, digits: usize| value.as_f64().map_or("–".to_owned(), |x| format!("{x:.digits$}"));
    let redis = steps.iter().any(|step| !step["redis_cpu_seconds"].is_null());
    let (redis_column, redis_share, dropped) = match redis {
        true => (" Redis CPU µs/event |", " / Redis", " / dropped before Redis"),
        false => ("", "", ""),
    };
    let mut table = format!(
        "| rate | per POST | published/s | received/s | p50 | p99 | max | relay CPU µs/event | receiver CPU \
         µs/event |{redis_column} events/batch | relay / receiver{redis_share} / generator / machine CPU % | lost \
         (dead letters{dropped}) | bad signatures |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|{}---:|---:|---:|\
         ---:|\n",
        if redis { "---:|" } else { "" },
    );
    for step in steps {
        let rate = match step["rate"].as_str() {
            Some("max") => "max".to_owned(),
            Some(rate) => format!("{rate}/s"),
            None => "–".to_owned(),
        };
        let (redis_cell, redis_percent, dropped) = match redis {
            true => (
                format!(" {} |", number(&step["redis_cpu_us_per_event"], 1)),
                format!(" / {}", number(&step["redis_cpu_percent"], 0)),
                format!(" / {}", step["relay_dropped"]),
            ),
            false => (String::new(), String::new(), String::new()),
        };
        let cpu = format!(
            "{} / {}{redis_percent} / {} / {}",
            number(&step["relay_cpu_percent"], 0),
            number(&step["receiver_cpu_percent"], 0),
            number(&step["generator_cpu_percent"], 0),
            number(&step["machine_cpu_percent"], 0),
        );
        let _ = writeln!(
            table,
            "| {rate} | {} | {} | {} | {} | {} | {} | {} | {} |{redis_cell} {} | {cpu} | {} ({}{dropped}) | {} |",
            step["per_post"],
            number(&step["published_per_s"], 0),
            number(&step["received_per_s"], 0),
            us(&step["latency"]["p50_us"]),
            us(&step["latency"]["p99_us"]),
            us(&step["latency"]["max_us"]),
            number(&step["relay_cpu_us_per_event"], 1),
            number(&step["receiver_cpu_us_per_event"], 1),
            number(&step["events_per_batch"], 1),
            step["lost"],
            step["relay_dead"],
            step["invalid_signatures"],
        );
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_numbers_and_max() {
        assert_eq!("max".parse::<Rate>(), Ok(Rate::Max));
        assert_eq!("2500".parse::<Rate>(), Ok(Rate::Fixed(2500.0)));
        assert!("0".parse::<Rate>().is_err());
        assert!("fast".parse::<Rate>().is_err());
        assert_eq!(Rate::Fixed(1000.0).to_string(), "1000");
    }

    #[test]
    fn bodies_are_one_object_or_an_array_of_stamped_payloads() {
        let one: Value = serde_json::from_str(&body(7, 1)).unwrap();
        assert_eq!(one["topic"], TOPIC);
        assert_eq!(one["payload"]["seq"], 7);
        assert!(one["payload"]["sent_us"].as_u64().unwrap() > 1_600_000_000_000_000);
        let many: Value = serde_json::from_str(&body(10, 3)).unwrap();
        let seqs: Vec<_> = many.as_array().unwrap().iter().map(|b| b["payload"]["seq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, [10, 11, 12]);
        assert_eq!(payload(1, unix_us()).len(), PAYLOAD_BYTES);
    }

    #[test]
    fn the_table_has_a_row_per_step() {
        let step = json!({
            "rate": "20000", "per_post": 50, "published_per_s": 19990.0, "received_per_s": 19900.0,
            "latency": { "p50_us": 4000, "p99_us": 12000, "max_us": 30000 },
            "relay_cpu_us_per_event": 3.26, "receiver_cpu_us_per_event": 4.0, "events_per_batch": 100.0,
            "relay_cpu_percent": 6.0, "receiver_cpu_percent": 8.0, "generator_cpu_percent": 2.0,
            "machine_cpu_percent": 20.0, "lost": 0, "relay_dead": 0, "invalid_signatures": 0,
        });
        let max = json!({ "rate": "max", "per_post": 50, "lost": 5, "relay_dead": 5, "invalid_signatures": 0 });
        let table = markdown(&json!({ "steps": [step, max] }));
        assert!(
            table.contains(
                "| 20000/s | 50 | 19990 | 19900 | 4.0 ms | 12.0 ms | 30.0 ms | 3.3 | 4.0 | 100.0 | 6 / 8 / 2 / 20 | 0 (0) \
                 | 0 |"
            ),
            "{table}"
        );
        assert!(table.contains("| max | 50 | – |"), "{table}");
        assert!(table.contains("| 5 (5) | 0 |"), "{table}");
        assert!(!table.contains("Redis"), "{table}");
        assert_eq!(markdown(&json!({})), "");
    }

    #[test]
    fn metrics_are_read_by_their_whole_name() {
        let text = "# TYPE ferrocast_redis_dropped_total counter\nferrocast_redis_dropped_total_x 7\n\
                    ferrocast_redis_dropped_total 1384600\n";
        assert_eq!(metric(text, "ferrocast_redis_dropped_total"), Some(1_384_600));
        assert_eq!(metric(text, "ferrocast_redis_queued"), None);
    }

    #[test]
    fn the_table_has_redis_columns_when_redis_was_measured() {
        let step = json!({
            "rate": "1000", "per_post": 1, "published_per_s": 1000.0, "received_per_s": 998.0,
            "latency": { "p50_us": 50000, "p99_us": 99000, "max_us": 101000 },
            "relay_cpu_us_per_event": 90.0, "receiver_cpu_us_per_event": 18.0, "redis_cpu_seconds": 0.1,
            "redis_cpu_us_per_event": 20.0, "redis_cpu_percent": 2.0, "events_per_batch": 100.0,
            "relay_cpu_percent": 9.0, "receiver_cpu_percent": 2.0, "generator_cpu_percent": 1.0,
            "machine_cpu_percent": 15.0, "lost": 0, "relay_dead": 0, "relay_dropped": 0, "invalid_signatures": 0,
        });
        let max = json!({
            "rate": "max", "per_post": 50, "redis_cpu_seconds": 1.0, "lost": 9, "relay_dead": 4, "relay_dropped": 5,
            "invalid_signatures": 0,
        });
        let table = markdown(&json!({ "steps": [step, max] }));
        assert!(table.contains("| lost (dead letters / dropped before Redis) |"), "{table}");
        assert!(table.contains("| 9 (4 / 5) | 0 |"), "{table}");
        assert!(table.contains("| receiver CPU µs/event | Redis CPU µs/event | events/batch |"), "{table}");
        assert!(table.contains("relay / receiver / Redis / generator / machine CPU %"), "{table}");
        assert!(
            table.contains(
                "| 1000/s | 1 | 1000 | 998 | 50.0 ms | 99.0 ms | 101.0 ms | 90.0 | 18.0 | 20.0 | 100.0 | 9 / 2 / 2 / 1 / \
                 15 | 0 (0 / 0) | 0 |"
            ),
            "{table}"
        );
        let columns = |line: &str| line.matches('|').count();
        assert_eq!(table.lines().count(), 4, "{table}");
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines.iter().all(|line| columns(line) == columns(lines[0])), "{table}");
    }
}
