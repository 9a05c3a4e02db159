//! Webhooks out: what happens on the hub, told to systems outside (a CRM, a chat relay, a data pipeline) without a
//! socket held open. [`Webhooks`] is the hub's [`Tap`]: it writes each event once, queues it for every endpoint
//! whose kinds and topics want it, and one sender per endpoint (`sender.rs`) posts them in batches, signed as
//! Standard Webhooks (`signing.rs`), retried until acknowledged or too old, then kept as dead letters the API shows
//! and sends again (`queue.rs`).
//!
//! A topic vacated is told only after `vacated_delay`, and not at all when a subscriber came back within it: a page
//! that reloads sends neither `channel.vacated` nor a second `channel.occupied`.
//!
//! The queues live in this relay's memory (a relay that stops loses what they held), or with `--pubsub redis://`
//! on Redis (`on_redis`), where they survive restarts and crashes and the relays share the sending.

pub(crate) mod event;
mod on_redis;
mod queue;
mod sender;
mod settings;
mod signing;

pub use on_redis::RedisQueue;
pub use queue::DeadView;
pub use settings::{Endpoint as WebhookEndpoint, Kind, WebhookSettings, kind_of};

use crate::breaker::State;
use crate::endpoint::Endpoint;
use crate::metrics::Latency;
use event::{EventText, now_ms};
use ferrocast_protocol::Payload;
use ferrocast_pubsub::{Tap, topic_matches};
use on_redis::{Append, OnRedis};
use queue::{Batch, Queue, Queued};
use serde::Serialize;
use signing::Key;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;
use tokio::sync::Notify;

/// What every sender shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) settings: WebhookSettings,
    pub(crate) http: reqwest::Client,
}

/// One endpoint: its filters, its queue and its counters.
#[derive(Debug)]
pub(crate) struct EndpointState {
    pub(crate) name: String,
    pub(crate) endpoint: Endpoint,
    pub(crate) key: Key,
    kinds: Vec<Kind>,
    topics: Vec<String>,
    queue: Mutex<Queue>,
    /// Woken when an event is queued or a batch is to be sent again.
    pub(crate) wake: Notify,
    delivered: AtomicU64,
    dead: AtomicU64,
    /// Events of dead batches forgotten past the dead letters' bound: they cannot be sent again.
    forgotten: AtomicU64,
    /// When the last warning of a full queue was logged (Unix ms): at most one a second.
    warned_ms: AtomicU64,
    latency: Latency,
}

impl EndpointState {
    pub(crate) fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn wants(&self, kind: Kind, topic: &str) -> bool {
        self.kinds.contains(&kind)
            && (self.topics.is_empty() || self.topics.iter().any(|pattern| topic_matches(pattern, topic)))
    }

    pub(crate) fn delivered(&self, batch: &Batch) {
        self.delivered.fetch_add(batch.events.len() as u64, Ordering::Relaxed);
        for event in &batch.events {
            self.latency.observe(event.seen.elapsed());
        }
    }

    /// A batch on its way to the dead letters: logged and counted.
    pub(crate) fn dying(&self, batch: &Batch, reason: &str) {
        tracing::warn!(endpoint = self.name, id = batch.id, %reason, "a webhook batch went to the dead letters");
        self.died(batch.events.len());
    }

    pub(crate) fn died(&self, events: usize) {
        self.dead.fetch_add(events as u64, Ordering::Relaxed);
    }

    pub(crate) fn forgot(&self, events: usize) {
        if events > 0 {
            let total = self.forgotten.fetch_add(events as u64, Ordering::Relaxed) + events as u64;
            self.warn_at_most_each_second(|| {
                tracing::warn!(
                    endpoint = self.name,
                    forgotten = total,
                    "webhook dead letters past their bound are forgotten"
                );
            });
        }
    }

    /// Runs `warn` unless it ran less than a second ago: a flood of events must not become a flood of log lines.
    pub(crate) fn warn_at_most_each_second(&self, warn: impl FnOnce()) {
        let now = now_ms();
        let last = self.warned_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 1000
            && self.warned_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            warn();
        }
    }
}

/// An endpoint's breaker. Its sender has one batch in flight and waits between attempts, so the backend hooks'
/// figures (20 calls in 10 s) would almost never open it during an outage, and two failures among a busy
/// minute's batches would: it opens when half of at least 5 attempts over the last minute failed, stays open as
/// long as the longest wait between attempts (at least 1 s, at most 30 s), then lets one trial through, which
/// closes it.
fn breaker(settings: &WebhookSettings) -> crate::BreakerSettings {
    crate::BreakerSettings {
        window: std::time::Duration::from_secs(60),
        min_calls: 5,
        error_rate: 0.5,
        open_for: settings.retry_max.clamp(std::time::Duration::from_secs(1), std::time::Duration::from_secs(30)),
        trial_calls: 1,
        close_rate: 1.0,
    }
}

/// Why the webhooks cannot start.
#[derive(Debug, thiserror::Error)]
pub enum WebhooksError {
    /// An endpoint's URL is not http(s).
    #[error("--webhook {0}: the URL is not an http:// or https:// URL")]
    Url(String),
    /// An endpoint's secret is not `whsec_` and base64.
    #[error("--webhook-secret {0}: not whsec_ followed by base64")]
    Secret(String),
    /// The HTTP client could not be built.
    #[error("the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// The Redis of the queue cannot be used.
    #[error("the webhooks' queue on Redis: {0}")]
    Redis(String),
}

/// The webhooks of one relay.
#[derive(Debug)]
pub struct Webhooks {
    shared: Arc<Shared>,
    endpoints: Vec<Arc<EndpointState>>,
    /// Topics vacated, each with the generation of its vacating, until the delay ends or someone comes back.
    vacating: Arc<Mutex<HashMap<String, u64>>>,
    generation: AtomicU64,
    runtime: tokio::runtime::Handle,
    /// Itself, for the delayed `channel.vacated`.
    me: Weak<Webhooks>,
    /// The queue on Redis, when there is one; the queues in memory otherwise.
    on_redis: Option<Arc<OnRedis>>,
}

impl Webhooks {
    /// Starts a sender per endpoint on the current runtime, with the queues on Redis when `redis` is given (the
    /// hub's broadcasts then come from the journal, which the cluster's publish must write: see
    /// [`WebhookSettings::journals`]).
    pub fn start(settings: WebhookSettings, redis: Option<RedisQueue>) -> Result<Arc<Self>, WebhooksError> {
        let runtime = tokio::runtime::Handle::current();
        let mut endpoints = Vec::new();
        for configured in &settings.endpoints {
            let endpoint = Endpoint::parse(&configured.url, breaker(&settings))
                .ok_or_else(|| WebhooksError::Url(configured.name.clone()))?;
            let key =
                Key::from_secret(&configured.secret).ok_or_else(|| WebhooksError::Secret(configured.name.clone()))?;
            endpoints.push(Arc::new(EndpointState {
                name: configured.name.clone(),
                endpoint,
                key,
                kinds: configured.kinds.clone(),
                topics: configured.topics.clone(),
                queue: Mutex::default(),
                wake: Notify::new(),
                delivered: AtomicU64::new(0),
                dead: AtomicU64::new(0),
                forgotten: AtomicU64::new(0),
                warned_ms: AtomicU64::new(0),
                latency: Latency::default(),
            }));
        }
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).tcp_nodelay(true).build()?;
        let shared = Arc::new(Shared { settings, http });
        let on_redis = match &redis {
            Some(redis) => Some(OnRedis::start(redis, &shared, &endpoints)?),
            None => {
                for endpoint in &endpoints {
                    runtime.spawn(sender::run(Arc::clone(&shared), Arc::clone(endpoint)));
                }
                None
            }
        };
        let vacating = Arc::default();
        Ok(Arc::new_cyclic(|me| Webhooks {
            shared,
            endpoints,
            vacating,
            generation: AtomicU64::new(0),
            runtime,
            me: me.clone(),
            on_redis,
        }))
    }

    /// Queues an event for every endpoint that wants `kind` on `topic`, writing it only if one does.
    fn tell(&self, kind: Kind, topic: &str, text: impl FnOnce() -> EventText) {
        let mut wanting = self.endpoints.iter().filter(|endpoint| endpoint.wants(kind, topic)).peekable();
        if wanting.peek().is_none() {
            return;
        }
        let (text, seen) = (text(), Instant::now());
        let settings = &self.shared.settings;
        for endpoint in wanting {
            let queued = Queued { text: Arc::clone(&text), seen };
            let pushed = endpoint.queue().push(queued, settings.queue, settings.batch_max, sender::batch_id);
            if pushed.died > 0 {
                endpoint.died(pushed.died);
                endpoint.forgot(pushed.forgotten);
                endpoint.warn_at_most_each_second(|| {
                    let dead = endpoint.dead.load(Ordering::Relaxed);
                    tracing::warn!(
                        endpoint = endpoint.name,
                        dead,
                        "a webhook queue is full: its oldest events are dead letters"
                    );
                });
            }
            if pushed.wake {
                endpoint.wake.notify_one();
            }
        }
    }

    /// For a relay shutting down, with the queue on Redis: hands the sending over to another relay at once (see
    /// README, "Webhooks on Redis"). Without Redis, what the queues still hold is lost with the relay.
    pub async fn leave(&self) {
        if let Some(on_redis) = &self.on_redis {
            on_redis.leave(self.endpoints.iter().map(|endpoint| endpoint.name.as_str())).await;
        }
    }

    /// Whether an endpoint wants to be told when `topic` is occupied or vacated.
    fn wants_occupancy(&self, topic: &str) -> bool {
        self.wants_any(&[Kind::Occupied, Kind::Vacated], topic)
    }

    /// Whether an endpoint wants one of `kinds` on `topic`.
    fn wants_any(&self, kinds: &[Kind], topic: &str) -> bool {
        kinds.iter().any(|kind| self.endpoints.iter().any(|endpoint| endpoint.wants(*kind, topic)))
    }

    /// `GET /api/webhooks`.
    pub fn list(&self) -> Vec<EndpointView> {
        let views = self.endpoints.iter().map(|endpoint| endpoint_view(endpoint));
        match &self.on_redis {
            None => views.collect(),
            Some(on_redis) => views
                .zip(&on_redis.snapshots)
                .enumerate()
                .map(|(index, (view, snapshot))| {
                    let snapshot = snapshot.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
                    EndpointView {
                        queued: snapshot.queued,
                        in_flight: snapshot.in_flight,
                        oldest_queued_ms: snapshot.oldest_queued_ms,
                        sender: Some(snapshot.sender.unwrap_or_default()),
                        sending_here: Some(on_redis.leases[index].held()),
                        forgotten: snapshot.forgotten,
                        ..view
                    }
                })
                .collect(),
        }
    }

    /// `GET /api/webhooks/NAME/dead`; `Ok(None)` for an unknown name, an error when Redis cannot be read.
    pub async fn dead(&self, name: &str) -> Result<Option<Vec<DeadView>>, String> {
        let Some(endpoint) = self.endpoints.iter().find(|endpoint| endpoint.name == name) else { return Ok(None) };
        match &self.on_redis {
            Some(on_redis) => on_redis.dead(name).await.map(Some),
            None => Ok(Some(endpoint.queue().dead.iter().map(|dead| dead.view()).collect())),
        }
    }

    /// `POST /api/webhooks/NAME/redeliver`: every dead batch is sent again, with its id; how many (`Ok(None)` for
    /// an unknown name).
    pub async fn redeliver(&self, name: &str) -> Result<Option<usize>, String> {
        let Some(endpoint) = self.endpoints.iter().find(|endpoint| endpoint.name == name) else { return Ok(None) };
        if let Some(on_redis) = &self.on_redis {
            return on_redis.redeliver(name).await.map(Some);
        }
        let count = {
            let mut queue = endpoint.queue();
            let dead: Vec<_> = queue.dead.drain(..).collect();
            let count = dead.len();
            queue.again.extend(dead.into_iter().map(|dead| dead.batch));
            count
        };
        endpoint.wake.notify_one();
        Ok(Some(count))
    }

    /// Appends the webhooks' metrics to a Prometheus text exposition.
    pub fn render_metrics(&self, out: &mut String) {
        let help = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        help(out, "ferrocast_webhook_events_total", "counter", "Webhook events by endpoint and outcome.");
        for endpoint in &self.endpoints {
            let name = &endpoint.name;
            let (delivered, dead) = (endpoint.delivered.load(Ordering::Relaxed), endpoint.dead.load(Ordering::Relaxed));
            let _ = writeln!(
                out,
                "ferrocast_webhook_events_total{{endpoint=\"{name}\",outcome=\"delivered\"}} {delivered}"
            );
            let _ = writeln!(out, "ferrocast_webhook_events_total{{endpoint=\"{name}\",outcome=\"dead\"}} {dead}");
            let forgotten = endpoint.forgotten.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "ferrocast_webhook_events_total{{endpoint=\"{name}\",outcome=\"forgotten\"}} {forgotten}"
            );
        }
        let views = self.list();
        help(out, "ferrocast_webhook_queued", "gauge", "Webhook events waiting, by endpoint.");
        for view in &views {
            let _ = writeln!(out, "ferrocast_webhook_queued{{endpoint=\"{}\"}} {}", view.name, view.queued);
        }
        help(out, "ferrocast_webhook_oldest_queued_seconds", "gauge", "How long the oldest waiting event has waited.");
        for view in &views {
            let seconds = view.oldest_queued_ms as f64 / 1e3;
            let _ = writeln!(out, "ferrocast_webhook_oldest_queued_seconds{{endpoint=\"{}\"}} {seconds}", view.name);
        }
        help(out, "ferrocast_webhook_delivery_seconds", "histogram", "From an event seen to its batch acknowledged.");
        for endpoint in &self.endpoints {
            endpoint.latency.render(
                out,
                "ferrocast_webhook_delivery_seconds",
                &format!("endpoint=\"{}\"", endpoint.name),
            );
        }
        help(
            out,
            "ferrocast_webhook_breaker_state",
            "gauge",
            "Each endpoint's breaker: 0 closed, 1 open, 2 half open.",
        );
        for endpoint in &self.endpoints {
            let state = endpoint.endpoint.state().gauge();
            let _ = writeln!(out, "ferrocast_webhook_breaker_state{{endpoint=\"{}\"}} {state}", endpoint.name);
        }
    }
}

/// What `GET /api/webhooks` shows of an endpoint.
#[derive(Debug, Serialize)]
pub struct EndpointView {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Events waiting.
    pub queued: usize,
    /// How long the oldest waiting event has waited, in milliseconds.
    pub oldest_queued_ms: u64,
    /// Whether a batch is being sent.
    pub in_flight: bool,
    /// Events acknowledged.
    pub delivered: u64,
    /// Events in dead letters (ever).
    pub dead: u64,
    /// Events of dead batches forgotten past the last 1,000 (ever): they cannot be sent again.
    pub forgotten: u64,
    /// `closed`, `open` or `half_open`.
    pub breaker: &'static str,
    /// With the queue on Redis: the relay sending for the endpoint now (empty while none is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// With the queue on Redis: whether this relay is that sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sending_here: Option<bool>,
}

fn endpoint_view(endpoint: &EndpointState) -> EndpointView {
    let (queued, oldest, in_flight) = {
        let queue = endpoint.queue();
        (queue.waiting.len(), queue.waiting.front().map(|event| event.seen.elapsed()), queue.in_flight)
    };
    let breaker = match endpoint.endpoint.state() {
        State::Closed => "closed",
        State::Open => "open",
        State::HalfOpen => "half_open",
    };
    EndpointView {
        name: endpoint.name.clone(),
        url: endpoint.endpoint.url.to_string(),
        queued,
        oldest_queued_ms: oldest.map_or(0, |oldest| oldest.as_millis() as u64),
        in_flight,
        delivered: endpoint.delivered.load(Ordering::Relaxed),
        dead: endpoint.dead.load(Ordering::Relaxed),
        forgotten: endpoint.forgotten.load(Ordering::Relaxed),
        breaker,
        sender: None,
        sending_here: None,
    }
}

impl Tap for Webhooks {
    fn broadcast(&self, topic: &str, event: &str, payload: &Payload, offset: u64, epoch: &str) {
        // On Redis, the publish put it in the journal already.
        if self.on_redis.is_some() {
            return;
        }
        let kind = kind_of(topic);
        self.tell(kind, topic, || {
            let name = if kind == Kind::Run { format!("run.{event}") } else { "broadcast".to_owned() };
            event::numbered(&name, topic, event, payload, offset, epoch, now_ms())
        });
    }

    fn presence(&self, topic: &str, joined: bool, key: &str, metas: &str, local: bool) {
        let (kind, name) =
            if joined { (Kind::PresenceJoin, "presence.join") } else { (Kind::PresenceLeave, "presence.leave") };
        let Some(on_redis) = &self.on_redis else {
            self.tell(kind, topic, || event::presence(name, topic, key, metas));
            return;
        };
        // Each relay tells its own connections' metas; those of a relay that dies, the relay that buries it.
        if local && self.wants_any(&[Kind::PresenceJoin, Kind::PresenceLeave], topic) {
            let members = serde_json::from_str::<Vec<&serde_json::value::RawValue>>(metas)
                .map(|metas| metas.iter().map(|meta| format!("{topic}\0{key}\0{}", meta.get())).collect())
                .unwrap_or_default();
            let text = event::presence(name, topic, key, metas).to_string();
            on_redis.append(Append::Presence { joined, topic: topic.to_owned(), text, members });
        }
    }

    fn occupied(&self, topic: &str) {
        if let Some(on_redis) = &self.on_redis {
            if self.wants_occupancy(topic) {
                let text = event::channel("channel.occupied", topic, now_ms()).to_string();
                on_redis.append(Append::Occupied { topic: topic.to_owned(), text });
            }
            return;
        }
        let came_back = self.vacating.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(topic).is_some();
        if !came_back {
            let at = now_ms();
            self.tell(Kind::Occupied, topic, || event::channel("channel.occupied", topic, at));
        }
    }

    fn vacated(&self, topic: &str) {
        if let Some(on_redis) = &self.on_redis {
            if self.wants_occupancy(topic) {
                on_redis.append(Append::Vacated { topic: topic.to_owned() });
            }
            return;
        }
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let at = now_ms();
        self.vacating.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(topic.to_owned(), generation);
        let vacating = Arc::clone(&self.vacating);
        let delay = self.shared.settings.vacated_delay;
        let this = self.me.clone();
        let topic = topic.to_owned();
        self.runtime.spawn(async move {
            tokio::time::sleep(delay).await;
            let still = {
                let mut vacating = vacating.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let still = vacating.get(&topic) == Some(&generation);
                if still {
                    vacating.remove(&topic);
                }
                still
            };
            if let (true, Some(webhooks)) = (still, this.upgrade()) {
                webhooks.tell(Kind::Vacated, &topic, || event::channel("channel.vacated", &topic, at));
            }
        });
    }
}
