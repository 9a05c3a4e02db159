//! Several relays on one Redis: what is broadcast on any relay reaches the subscribers of all, with one history
//! and one presence, as Phoenix.PubSub's Redis adapter, Centrifugo's Redis engine and Socket.IO's Redis adapter
//! do for their servers.
//!
//! - Broadcasts: a relay's hub hands each broadcast to the [`publisher`], which sends it through a Lua script
//!   (`publish.lua`) that numbers it in its topic (an offset, and an epoch per run of the topic's history), keeps it
//!   in the topic's Redis stream (`XADD … MAXLEN ~`, expiring with the history's time limit) and publishes it on one
//!   channel, all at once. Every relay's [`follower`] reads that channel and applies each broadcast to its own hub,
//!   which delivers it and keeps a copy of the history, so joins and recovery work locally and synchronously, on
//!   any relay, and a relay that restarts reads the streams back before it serves. Every relay sees every
//!   broadcast, as with Phoenix's and Socket.IO's adapters: fanout across relays costs one Redis message per relay.
//!   Nothing on the publish path waits for Redis: a channel's broadcast is queued, never awaited.
//! - Losses: a gap the stream can no longer fill, or a new epoch, is counted, and the hub tells the topic's live
//!   positioned subscribers before the broadcast that revealed it (see [`crate::loss_notice`]).
//! - Presence: see [`presence`]; heartbeats and a timeout remove the members of a relay that died.
//! - Workflow runs publish through the hub, so their events are shared the same way.
//! - The broadcasts systems outside are told of also go into one more stream, the [`journal`], in the same step.
//! - On a Redis Cluster (`redis+cluster://`), every key and channel of a topic is in the topic's hash slot (see
//!   [`keys`]), so the publish script runs whole on the topic's master and publishes on the topic's shard channel
//!   (`SPUBLISH`), which relays read with `SSUBSCRIBE` from that master alone: a topic's traffic costs one node,
//!   and the cluster spreads the topics over its masters. Presence stays on one plain channel, which the cluster
//!   passes to every node. What differs is in [`redis_cluster`] (URL, commands split by slot) and [`subscription`].
//!   The journal is one stream for every topic, which no slot can hold with them: a cluster refuses it, and so the
//!   webhooks' queue on Redis.
//!
//! What a relay counts of its link (gaps above all) is in [`ClusterSnapshot`].

mod backoff;
mod client;
mod endpoint;
mod follower;
mod interest;
mod journal;
mod keys;
mod presence;
mod publisher;
mod redis_cluster;
mod shown_url;
mod stats;
mod subscription;
mod wire;

pub use client::redis_client;
pub use endpoint::{RedisEndpoint, RedisLink};
pub use journal::{JOURNAL, Journal, JournaledBroadcast, NUMBERED_FIELD, read_numbered};
pub(crate) use shown_url::shown_url;
pub use stats::ClusterSnapshot;

use crate::hub::Hub;
use crate::presence::PresenceHub;
use stats::Stats;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// How long a relay that shuts down waits for Redis to take the broadcasts still queued for it.
const LEAVE_FLUSH: Duration = Duration::from_secs(5);

/// How a relay joins the others.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// Redis, as `redis://host:port` (or `redis://:password@host:port/db`), or `rediss://` for TLS; or the master
    /// Redis Sentinels name, `redis+sentinel://host:port[,host:port…]/MASTER`; or a Redis Cluster,
    /// `redis+cluster://host:port[,host:port…]` (see [`RedisEndpoint`]).
    pub url: String,
    /// With `rediss://`: the CA (PEM) the server's certificate must chain to, instead of the system's roots.
    pub ca: Option<Vec<u8>>,
    /// How often this relay tells the others it is alive. Default 1 s.
    pub heartbeat: Duration,
    /// How long a silent relay's members stay before they leave. Default 5 s.
    pub presence_timeout: Duration,
    /// Broadcasts that may wait for Redis while it is away; past this they are dropped and counted. Default 100,000.
    pub max_queued: usize,
    /// Which broadcasts also go into the [`JOURNAL`] (for the webhooks); none by default.
    pub journal: Option<Journal>,
}

impl ClusterSettings {
    /// The defaults, on the Redis at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        ClusterSettings {
            url: url.into(),
            heartbeat: Duration::from_secs(1),
            presence_timeout: Duration::from_secs(5),
            max_queued: 100_000,
            journal: None,
            ca: None,
        }
    }
}

/// Why a relay cannot use the Redis it was given.
#[derive(Debug, thiserror::Error)]
#[error("--pubsub {url}: {error}")]
pub struct ClusterError {
    /// The URL without its passwords ([`shown_url`]).
    url: String,
    error: redis::RedisError,
}

/// This relay's link to the others. The tasks it starts run as long as the runtime does.
#[derive(Debug)]
pub struct Cluster {
    relay: Arc<str>,
    stats: Arc<Stats>,
    /// How many broadcasts may wait for Redis.
    max_queued: usize,
    hub: Arc<Hub>,
    ready: watch::Receiver<bool>,
    presence: mpsc::UnboundedSender<presence::Input>,
    interest: Arc<interest::Interest>,
    endpoint: RedisEndpoint,
    /// `--pubsub` as errors show it (without passwords).
    url: String,
}

impl Cluster {
    /// Routes `hub`'s broadcasts and `presence`'s changes through the Redis of `settings`, and starts following it.
    /// Must be called within a tokio runtime, before the relay serves; [`Cluster::ready`] tells when it has caught
    /// up with what Redis holds.
    pub fn start(settings: ClusterSettings, hub: &Arc<Hub>, presence: &Arc<PresenceHub>) -> Result<Self, ClusterError> {
        let failed = |error| ClusterError { url: shown_url(&settings.url), error };
        let endpoint = RedisEndpoint::open(&settings.url, settings.ca.as_deref()).map_err(failed)?;
        if endpoint.is_cluster() && settings.journal.is_some() {
            return Err(failed(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "no journal on a Redis Cluster",
                "the webhooks' queue on Redis reads one journal of every topic's broadcasts, which a Redis Cluster \
                 cannot write with each topic's own keys: use --webhook with redis:// or redis+sentinel://, or \
                 --pubsub without webhooks"
                    .to_owned(),
            ))));
        }
        let redis = endpoint.link(Duration::from_secs(5)).map_err(failed)?;
        // Unique among relays and their restarts, as epochs are.
        let relay = hub.new_epoch();
        let stats = Arc::new(Stats::default());

        let max_queued = settings.max_queued.max(1);
        let (queue, queued) = mpsc::channel(max_queued);
        let journal = settings.journal.clone();
        let warned = std::sync::Mutex::default();
        let (interest, requested) = interest::Interest::new();
        let publisher =
            publisher::Publisher { queue, stats: Arc::clone(&stats), journal, warned, interest: Arc::clone(&interest) };
        hub.route_through(Arc::new(publisher));
        let sharded = endpoint.is_cluster();
        tokio::spawn(publisher::run(
            redis.clone(),
            queued,
            Arc::clone(&relay),
            Arc::clone(hub),
            Arc::clone(&stats),
            sharded,
        ));

        let (changes, inputs) = mpsc::unbounded_channel();
        presence.replicate_to(Arc::new(presence::Replica { input: changes.clone() }));
        let replication = presence::Replication::new(
            Arc::clone(&relay),
            Arc::clone(presence),
            redis.clone(),
            settings.clone(),
            Arc::clone(&stats),
        );
        tokio::spawn(replication.run(inputs));

        let (ready_sender, ready) = watch::channel(false);
        let settings_url = shown_url(&settings.url);
        let follower = follower::Follower {
            endpoint: endpoint.clone(),
            redis,
            hub: Arc::clone(hub),
            presence: changes.clone(),
            ready: ready_sender,
            settings,
            stats: Arc::clone(&stats),
            interest: Arc::clone(&interest),
            requested,
        };
        tokio::spawn(follower.run());
        Ok(Cluster {
            relay,
            stats,
            max_queued,
            hub: Arc::clone(hub),
            ready,
            presence: changes,
            interest,
            endpoint,
            url: settings_url,
        })
    }

    /// With Sentinel: asks the sentinels for the master once, so a relay given sentinels that do not answer, or
    /// that name no such master, says so and stops rather than wait. With a cluster: reads its map once, so a relay
    /// given nodes that do not answer, or a Redis that is no cluster, says so too. Nothing to ask for an address.
    pub async fn check(&self) -> Result<(), ClusterError> {
        let checked = if self.endpoint.is_sentinel() {
            self.endpoint.client().await.map(drop)
        } else if let Some(nodes) = self.endpoint.cluster_nodes() {
            nodes.check().await
        } else {
            return Ok(());
        };
        checked.map_err(|error| ClusterError { url: self.url.clone(), error })
    }

    /// Completes once the relay has read what Redis holds, the first time it reached it.
    pub async fn ready(&self) {
        let _ = self.ready.clone().wait_for(|ready| *ready).await;
    }

    /// Whether `count` more broadcasts fit in the queue for Redis now: a publisher that can be told no (the HTTP
    /// API) is refused rather than have them dropped later.
    pub fn has_room_for(&self, count: usize) -> bool {
        let queued = self.stats.queued.load(std::sync::atomic::Ordering::Relaxed);
        queued.saturating_add(count as u64) <= self.max_queued as u64
    }

    /// This relay's name among the others.
    pub fn relay_id(&self) -> &str {
        &self.relay
    }

    /// What the link counted so far.
    pub fn snapshot(&self) -> ClusterSnapshot {
        let topics_followed = self.interest.len() as u64;
        ClusterSnapshot { loss_notices: self.hub.loss_notices(), topics_followed, ..self.stats.snapshot() }
    }

    /// Sends what still waits for Redis (for up to `LEAVE_FLUSH`), then tells the other relays this one is leaving,
    /// so its members leave there at once rather than after the presence timeout (waiting at most a second more).
    pub async fn leave(&self) {
        let flushed = async {
            while self.stats.queued.load(std::sync::atomic::Ordering::Relaxed) > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        if tokio::time::timeout(LEAVE_FLUSH, flushed).await.is_err() {
            let waiting = self.snapshot().queued;
            tracing::warn!(waiting, "leaving with broadcasts Redis has not taken: they are lost");
        }
        let (done, left) = oneshot::channel();
        if self.presence.send(presence::Input::Leave(done)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(1), left).await;
        }
    }
}
