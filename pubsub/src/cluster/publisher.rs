//! This relay's broadcasts on their way to Redis: queued without blocking the channel that made them, then sent in
//! pipelined batches through the publish script, which numbers each and hands it to the relays that follow its
//! topic.
//!
//! While Redis is away the queue holds them (up to its bound; past it they are dropped and counted) and the batch
//! in flight is sent again, with a jittered backoff, until Redis takes it. Each publish carries this relay's
//! sequence number, which Redis keeps per topic, so one that Redis did before the link broke is not done twice. On a
//! Redis Cluster a batch goes as one pipeline per hash slot, all at once (see `redis_cluster.rs`), and the script
//! publishes on the topic's shard channel. A broadcast a client's push made
//! carries its name too, so that one another relay made already is not made again (see `push_once.rs`), and whoever
//! waits for it (the push's reply) is told when Redis has it.

use super::RedisLink;
use super::interest::Interest;
use super::journal::{JOURNAL, Journal};
use super::keys;
use super::stats::Stats;
use super::{backoff, wire};
use crate::following::Following;
use crate::hub::{Hub, Published, Upstream};
use crate::push_once::REMEMBERED;
use ferrocast_protocol::{Payload, Position};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

/// The script that numbers, keeps and publishes a broadcast.
const SCRIPT: &str = include_str!("publish.lua");

/// The most publishes sent in one pipeline.
const BATCH: usize = 512;

/// How long a topic's epoch and offset outlive its last broadcast, at least (the history's time limit when longer):
/// a quiet topic keeps its series, so its subscribers' positions stay good, for an hour without a broadcast; its next
/// broadcast after that starts a new epoch. Bounded, since every topic ever broadcast on keeps these keys until then.
const META_TTL: Duration = Duration::from_secs(60 * 60);

/// A broadcast waiting for Redis.
#[derive(Debug)]
pub(crate) struct Pending {
    topic: String,
    broadcast: Vec<u8>,
    /// Whether it also goes into the journal.
    journaled: bool,
    /// A push's broadcast: its name, made once (see `push_once.rs`), and who waits for Redis to have it.
    once: Option<(String, oneshot::Sender<bool>)>,
}

/// The hub's [`Upstream`]: queues each broadcast for [`run`].
#[derive(Debug)]
pub(crate) struct Publisher {
    pub(crate) queue: mpsc::Sender<Pending>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) journal: Option<Journal>,
    /// When a drop was last logged: at most one line a second, however many are dropped.
    pub(crate) warned: Mutex<Option<Instant>>,
    /// The topics this relay follows, and so gets the broadcasts of.
    pub(crate) interest: Arc<Interest>,
}

impl Upstream for Publisher {
    fn publish(&self, topic: &str, event: &str, payload: &Payload) {
        self.queue_up(topic, event, payload, None);
    }

    fn publish_once(&self, topic: &str, event: &str, payload: &Payload, name: &str) -> Option<Published> {
        let (taken, published) = oneshot::channel();
        self.queue_up(topic, event, payload, Some((keys::push(topic, name), taken)));
        // A broadcast dropped (the queue was full) drops its sender: the push did not take effect.
        Some(Box::pin(async move { published.await.unwrap_or(false) }))
    }

    fn follow(&self, topic: &str) -> Following {
        self.interest.follow(topic)
    }
}

impl Publisher {
    fn queue_up(&self, topic: &str, event: &str, payload: &Payload, once: Option<(String, oneshot::Sender<bool>)>) {
        let journaled = self.journal.as_ref().is_some_and(|journal| journal.wants(topic));
        let broadcast = wire::encode(topic, event, payload);
        let pending = Pending { topic: topic.to_owned(), broadcast, journaled, once };
        // Counted before it is queued: the sender may take it and count it sent before `try_send` returns, and the
        // count must never pass below zero (the HTTP API refuses publishes on it).
        Stats::add(&self.stats.queued, 1);
        match self.queue.try_send(pending) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                self.stats.queued.fetch_sub(1, Ordering::Relaxed);
                Stats::add(&self.stats.dropped, 1);
                let mut warned = self.warned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if warned.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                    *warned = Some(Instant::now());
                    let dropped = self.stats.dropped.load(Ordering::Relaxed);
                    tracing::warn!(
                        topic,
                        dropped,
                        "broadcasts are dropped: the queue for Redis is full (see --redis-queue; one line a second)"
                    );
                }
            }
        }
    }
}

/// Sends queued broadcasts to Redis, in order, until the queue closes.
pub(crate) async fn run(
    mut redis: RedisLink,
    mut queue: mpsc::Receiver<Pending>,
    relay: Arc<str>,
    hub: Arc<Hub>,
    stats: Arc<Stats>,
    sharded: bool,
) {
    let mut script: Option<String> = None;
    let mut sequence = 0u64;
    let mut batch: Vec<(u64, Pending)> = Vec::new();
    let mut incoming = Vec::with_capacity(BATCH);
    let mut attempt = 0;
    loop {
        if batch.is_empty() {
            if queue.recv_many(&mut incoming, BATCH).await == 0 {
                return;
            }
            // Numbered once, when first taken: a batch sent again keeps its numbers.
            batch.extend(incoming.drain(..).map(|pending| {
                sequence += 1;
                (sequence, pending)
            }));
        }
        match send(&mut redis, &mut script, &relay, &hub, &batch, sharded).await {
            Ok(()) => {
                let sent = batch.len() as u64;
                for (_, pending) in &mut batch {
                    if let Some((_, taken)) = pending.once.take() {
                        let _ = taken.send(true);
                    }
                }
                Stats::add(&stats.published, sent);
                stats.queued.fetch_sub(sent, Ordering::Relaxed);
                batch.clear();
                attempt = 0;
            }
            Err(error) => {
                // The script may be gone with a restarted Redis: load it again before the next try.
                script = None;
                Stats::add(&stats.publish_retries, batch.len() as u64);
                tracing::warn!(%error, waiting = batch.len(), "could not publish to Redis; trying again");
                tokio::time::sleep(backoff::delay(attempt)).await;
                attempt += 1;
            }
        }
    }
}

async fn send(
    redis: &mut RedisLink,
    script: &mut Option<String>,
    relay: &str,
    hub: &Hub,
    batch: &[(u64, Pending)],
    sharded: bool,
) -> redis::RedisResult<()> {
    let sha = match script {
        Some(sha) => sha.clone(),
        None => {
            let sha: String = redis::cmd("SCRIPT").arg("LOAD").arg(SCRIPT).query_async(redis).await?;
            script.insert(sha).clone()
        }
    };
    let limits = hub.history_limits();
    let history_ms = limits.ttl.as_millis().max(1) as u64;
    let meta_ms = limits.ttl.max(META_TTL).as_millis() as u64;
    // One candidate epoch serves the whole batch: an epoch must differ between runs of one topic's history, and a
    // later batch brings another.
    let epoch = hub.new_epoch();
    let remembered_ms = REMEMBERED.as_millis() as u64;
    let mut pipe = redis::pipe();
    for (sequence, pending) in batch {
        // What this relay saw of the topic, for the script to tell when Redis came back without some of it.
        let seen = hub.position(&pending.topic).unwrap_or_else(|| Position { offset: 0, epoch: String::new() });
        pipe.cmd("EVALSHA").arg(&sha).arg(if pending.once.is_some() { 4 } else { 3 });
        let topic = &pending.topic;
        pipe.arg(keys::meta(topic)).arg(keys::stream(topic)).arg(keys::publisher(topic, relay));
        if let Some((name, _)) = &pending.once {
            pipe.arg(name);
        }
        pipe.arg(&*epoch)
            .arg(&pending.broadcast)
            .arg(limits.max_messages)
            .arg(history_ms)
            .arg(meta_ms)
            .arg(keys::broadcasts(&pending.topic))
            .arg(*sequence)
            .arg(if pending.journaled { JOURNAL } else { "" })
            .arg(remembered_ms)
            .arg(if sharded { "SPUBLISH" } else { "PUBLISH" })
            .arg(&seen.epoch)
            .arg(seen.offset)
            .ignore();
    }
    pipe.query_async(redis).await
}
