//! The webhooks' queue on Redis, with `--pubsub redis://`: it survives restarts and crashes, and the relays sharing
//! the Redis share the sending.
//!
//! - Events: the broadcasts come into the journal (`ferrocast_pubsub::JOURNAL`, a Redis stream) with their
//!   publish, in one step. Occupancy and presence are told once across relays: each relay appends the changes of
//!   its own connections ([`append`], in order), and a topic is occupied when its first relay holds it and vacated
//!   when the last one let go and nobody came back within the delay (`append.lua`, `due.lua`).
//! - Sending: each endpoint is a consumer group of the journal. One relay at a time holds its lease (`lease.rs`)
//!   and sends its batches, one at a time, so a receiver gets each topic's events in order; it acknowledges the
//!   entries of a batch once the receiver did. A relay that dies leaves its batch pending: the next holder of the
//!   lease takes it over after the lease ran out (the claim timeout) and sends it with the same `webhook-id`,
//!   which is made of the batch's first and last entries (`sending.rs`).
//! - Dead letters and redelivery are Redis lists per endpoint, so any relay shows and redelivers them.
//! - A relay that dies is buried by another (`keeper.rs`): the presence metas it tracked leave and the topics only
//!   it held are vacated.

mod bound;
mod keeper;
mod keys;
mod lease;
mod sending;

pub(crate) use lease::Lease;

use super::queue::DeadView;
use super::{EndpointState, Shared, WebhooksError};
use ferrocast_pubsub::{RedisEndpoint, RedisLink};
use redis::{AsyncCommands, Script};
use serde::Serialize;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Changes of this relay's connections that may wait for Redis; past it they are dropped, counted and logged.
const APPENDS_QUEUED: usize = 100_000;

/// How long the sender's read waits for new entries; its connection's response limit is above it.
pub(crate) const READ_BLOCK: Duration = Duration::from_secs(1);

static APPEND: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("append.lua")));

/// A change of this relay's connections, for the journal.
#[derive(Debug)]
pub(crate) enum Append {
    /// A topic got its first subscriber here.
    Occupied { topic: String, text: String },
    /// A topic's last subscriber here left.
    Vacated { topic: String },
    /// Presence metas joined or left, each `topic \0 key \0 meta` in `members`.
    Presence { joined: bool, topic: String, text: String, members: Vec<String> },
}

/// The topics this relay holds a subscriber of, and its connections' presence metas (`topic \0 key \0 meta`).
#[derive(Debug, Default)]
struct Held {
    topics: HashSet<String>,
    members: HashSet<String>,
}

impl Held {
    fn note(&mut self, append: &Append) {
        match append {
            Append::Occupied { topic, .. } => {
                self.topics.insert(topic.clone());
            }
            Append::Vacated { topic } => {
                self.topics.remove(topic);
            }
            Append::Presence { joined: true, members, .. } => self.members.extend(members.iter().cloned()),
            Append::Presence { joined: false, members, .. } => {
                for member in members {
                    self.members.remove(member);
                }
            }
        }
    }
}

/// What the queue on Redis shows of an endpoint, renewed by the keeper each second.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct Snapshot {
    /// Entries waiting, not yet taken by a sender.
    pub(crate) queued: usize,
    /// Whether a sender has taken entries it has not acknowledged.
    pub(crate) in_flight: bool,
    pub(crate) oldest_queued_ms: u64,
    pub(crate) sender: Option<String>,
    /// Events of dead batches forgotten past the bound, by every relay.
    pub(crate) forgotten: u64,
}

/// The queue on Redis of one relay's webhooks.
#[derive(Debug)]
pub(crate) struct OnRedis {
    pub(crate) relay: Arc<str>,
    pub(crate) endpoint: RedisEndpoint,
    pub(crate) redis: RedisLink,
    appends: mpsc::Sender<Append>,
    dropped_appends: AtomicU64,
    /// Set when the relay shuts down: the keeper stops, so this relay takes no lease and no liveness again.
    pub(crate) leaving: AtomicBool,
    /// Whether this relay has been in the set of relays once already.
    pub(crate) registered: AtomicBool,
    /// What this relay's connections hold, as appended.
    held: Mutex<Held>,
    /// Per endpoint, in the order of the settings.
    pub(crate) leases: Vec<Lease>,
    pub(crate) snapshots: Vec<Mutex<Snapshot>>,
}

/// Where the queue on Redis is and who this relay is.
#[derive(Debug, Clone)]
pub struct RedisQueue {
    /// `redis://…` (or `redis+sentinel://…`), as `--pubsub` gives it.
    pub url: String,
    /// This relay's name among the others, unique among relays and their restarts.
    pub relay: String,
    /// With `rediss://`: the CA (PEM) the server's certificate must chain to, as the relay's link to Redis has it.
    pub ca: Option<Vec<u8>>,
}

/// A connection for commands that answer at once (and, with `block`, for reads that wait up to [`READ_BLOCK`]).
pub(crate) fn connect(endpoint: &RedisEndpoint, block: bool) -> redis::RedisResult<RedisLink> {
    let response = if block { READ_BLOCK + Duration::from_secs(4) } else { Duration::from_secs(5) };
    endpoint.link(response)
}

impl OnRedis {
    /// Starts the appender, the keeper and a sender per endpoint.
    pub(crate) fn start(
        queue: &RedisQueue,
        shared: &Arc<Shared>,
        endpoints: &[Arc<EndpointState>],
    ) -> Result<Arc<Self>, WebhooksError> {
        let redis_error = |error: redis::RedisError| WebhooksError::Redis(error.to_string());
        let endpoint = RedisEndpoint::open(&queue.url, queue.ca.as_deref()).map_err(redis_error)?;
        let redis = connect(&endpoint, false).map_err(redis_error)?;
        let (appends, appended) = mpsc::channel(APPENDS_QUEUED);
        let on_redis = Arc::new(OnRedis {
            relay: queue.relay.as_str().into(),
            endpoint,
            redis,
            appends,
            dropped_appends: AtomicU64::new(0),
            leaving: AtomicBool::new(false),
            registered: AtomicBool::new(false),
            held: Mutex::default(),
            leases: endpoints.iter().map(|_| Lease::default()).collect(),
            snapshots: endpoints.iter().map(|_| Mutex::default()).collect(),
        });
        tokio::spawn(append_all(Arc::clone(&on_redis), Arc::clone(shared), appended));
        tokio::spawn(keeper::run(Arc::clone(&on_redis), Arc::clone(shared), endpoints.to_vec()));
        for (index, endpoint) in endpoints.iter().enumerate() {
            let sender = sending::Sender::new(&on_redis, shared, endpoint, index).map_err(redis_error)?;
            tokio::spawn(sender.run());
        }
        Ok(on_redis)
    }

    /// Queues a change of this relay's connections for the journal, without waiting.
    pub(crate) fn append(&self, append: Append) {
        self.held().note(&append);
        if self.appends.try_send(append).is_err() {
            let dropped = self.dropped_appends.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(
                    dropped,
                    "webhook events of this relay's connections dropped: Redis is too slow or away"
                );
            }
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Tells again what this relay's connections hold, after the other relays buried it while it lived (it was cut
    /// from Redis for longer than its liveness lasts, or Redis lost its data): they told its topics vacated and its
    /// members gone, so each is occupied and joins again.
    pub(crate) fn tell_again(&self) {
        let (topics, members) = {
            let held = self.held();
            (held.topics.iter().cloned().collect::<Vec<_>>(), held.members.iter().cloned().collect::<Vec<_>>())
        };
        tracing::warn!(
            topics = topics.len(),
            members = members.len(),
            "the other relays took this relay for dead: its topics and members are told again"
        );
        for topic in topics {
            let text = super::event::channel("channel.occupied", &topic, super::event::now_ms()).to_string();
            self.append(Append::Occupied { topic, text });
        }
        for field in members {
            let mut parts = field.splitn(3, '\0');
            let (Some(topic), Some(key), Some(meta)) = (parts.next(), parts.next(), parts.next()) else { continue };
            let text = super::event::presence("presence.join", topic, key, &format!("[{meta}]")).to_string();
            let topic = topic.to_owned();
            self.append(Append::Presence { joined: true, topic, text, members: vec![field] });
        }
    }

    /// For a relay shutting down: appends what its connections' ends made (for up to a second), then lets go of
    /// its leases and its liveness, so that another relay sends at once rather than after the claim timeout, and
    /// buries it at once, telling whatever its last changes did not.
    pub(crate) async fn leave(&self, names: impl Iterator<Item = &str>) {
        let drained = async {
            while self.appends.capacity() < self.appends.max_capacity() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), drained).await;
        self.leaving.store(true, Ordering::Relaxed);
        let mut pipe = redis::pipe();
        for (name, lease) in names.zip(&self.leases) {
            if lease.let_go() {
                pipe.del(keys::lease(name));
            }
        }
        pipe.del(keys::alive(&self.relay));
        let left: redis::RedisResult<()> = pipe.query_async(&mut self.redis.clone()).await;
        if let Err(error) = left {
            tracing::warn!(%error, "could not hand over the webhooks: other relays take over after the claim timeout");
        }
    }

    /// The endpoint's dead letters.
    pub(crate) async fn dead(&self, name: &str) -> Result<Vec<DeadView>, String> {
        let texts: Vec<String> =
            self.redis.clone().lrange(keys::dead(name), 0, -1).await.map_err(|error| error.to_string())?;
        let views =
            texts.iter().filter_map(|text| serde_json::from_str::<sending::Stored>(text).ok()).map(|stored| DeadView {
                id: stored.id,
                events: stored.events.iter().filter_map(|event| serde_json::from_str(event.get()).ok()).collect(),
                reason: stored.reason,
                status: stored.status,
                body: stored.body,
                at: stored.at,
            });
        Ok(views.collect())
    }

    /// Moves the endpoint's dead letters to be sent again; how many.
    pub(crate) async fn redeliver(&self, name: &str) -> Result<usize, String> {
        static REDELIVER: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("redeliver.lua")));
        let mut redis = self.redis.clone();
        REDELIVER
            .key(keys::dead(name))
            .key(keys::again(name))
            .invoke_async(&mut redis)
            .await
            .map_err(|error| error.to_string())
    }
}

/// Appends this relay's changes in the order they happened, retrying one Redis refused until it takes it.
async fn append_all(on_redis: Arc<OnRedis>, shared: Arc<Shared>, mut appended: mpsc::Receiver<Append>) {
    let mut redis = on_redis.redis.clone();
    let relay = &*on_redis.relay;
    let delay = shared.settings.vacated_delay.as_millis().to_string();
    while let Some(append) = appended.recv().await {
        let (what, topic, kind, text, extra): (&str, &str, &str, &str, &[String]) = match &append {
            Append::Occupied { topic, text } => ("occupied", topic, "channel.occupied", text, &[]),
            Append::Vacated { topic } => ("vacated", topic, "channel.vacated", "", std::slice::from_ref(&delay)),
            Append::Presence { joined: true, topic, text, members } => ("join", topic, "presence.join", text, members),
            Append::Presence { joined: false, topic, text, members } => {
                ("leave", topic, "presence.leave", text, members)
            }
        };
        let mut attempt = 0u32;
        loop {
            let mut invocation = APPEND.key(ferrocast_pubsub::JOURNAL);
            invocation
                .key(keys::held(relay))
                .key(keys::members(relay))
                .key(keys::occupancy(topic))
                .key(keys::VACATING)
                .key(keys::VACATED_AT)
                .arg(what)
                .arg(relay)
                .arg(topic)
                .arg(kind)
                .arg(text)
                .arg(extra);
            match invocation.invoke_async::<i64>(&mut redis).await {
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(%error, "could not append a webhook event to Redis; trying again");
                    tokio::time::sleep(Duration::from_millis(100 << attempt.min(5))).await;
                    attempt += 1;
                }
            }
        }
    }
}
