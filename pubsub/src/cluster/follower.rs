//! The broadcasts of the topics this relay follows, as Redis numbered them, into this relay's hub.
//!
//! The follower reads the channels of the topics the relay follows (see [`super::interest`]) and applies each
//! broadcast to the hub, which delivers it to this relay's subscribers and keeps it in its copy of the topic's
//! history. It is the only writer of numbered broadcasts into the hub, so a topic's broadcasts arrive in offset
//! order:
//! - on (re)connecting, and when it starts following a topic, it subscribes first and then reads the topic's stream
//!   for what it does not have, so nothing published in between is missed (what comes twice is recognized by its
//!   offset and skipped);
//! - a broadcast whose offset skips some (the channel lost messages: a reconnect, or Redis dropping a slow reader)
//!   is preceded by the missing ones, read from the topic's stream; those no longer there are counted as lost;
//! - a broadcast of another epoch starts the topic's history again (Redis lost or expired it), counted too;
//! - Redis that comes back without broadcasts this relay saw (a failover to a replica that had not caught up, a
//!   restart from an older snapshot) would give their offsets to new broadcasts, which this relay and its clients
//!   would skip as had already: on reconnecting, a topic whose offset in Redis is behind this relay's, or whose last
//!   kept broadcasts differ from this relay's copies, is started again, so its next broadcast comes under a new
//!   epoch and its subscribers are told of the loss (the publish script does the same for the publishing relay).
//!
//! A link that has been silent for three heartbeats (every relay, this one included, sends one a heartbeat) is
//! taken for dead and made again, with a jittered backoff between attempts.
//!
//! Every [`SWEEP`], it stops following the topics nobody here joined since the last sweep.

use super::interest::Interest;
use super::keys;
use super::presence::Input as PresenceInput;
use super::stats::Stats;
use super::subscription::{Incoming, Subscription};
use super::wire::{self, Broadcast, Published};
use super::{ClusterSettings, RedisEndpoint, RedisLink, backoff};
use crate::hub::Hub;
use ferrocast_protocol::Position;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// How often topics nobody joined are looked for: one is followed no more after two sweeps without a subscriber,
/// so a page that reloads finds its topic still followed.
const SWEEP: Duration = Duration::from_secs(5);

/// The most topics subscribed to, or read, in one go: a join storm over many topics holds up the broadcasts of the
/// others for one round trip of this many at a time.
const CHUNK: usize = 500;

/// How many of a topic's last broadcasts this relay compares with Redis's on reconnecting: reused offsets show as
/// different broadcasts under them, unless every one of these happens to carry the same event and payload.
const COMPARED: u64 = 8;

/// What the follower works with.
pub(crate) struct Follower {
    pub(crate) endpoint: RedisEndpoint,
    pub(crate) redis: RedisLink,
    pub(crate) hub: Arc<Hub>,
    pub(crate) presence: mpsc::UnboundedSender<PresenceInput>,
    pub(crate) ready: watch::Sender<bool>,
    pub(crate) settings: ClusterSettings,
    pub(crate) stats: Arc<Stats>,
    pub(crate) interest: Arc<Interest>,
    /// The topics joins asked to follow (see [`Interest::follow`]).
    pub(crate) requested: mpsc::UnboundedReceiver<String>,
}

/// Why a link ended.
#[derive(Debug, thiserror::Error)]
enum LinkLost {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error("{0}")]
    Ended(&'static str),
    #[error("the Redis Cluster moved the slot of {0}")]
    Moved(String),
    #[error("nothing from Redis for {0:?}, not even a heartbeat")]
    Silent(Duration),
}

impl Follower {
    /// Follows Redis for as long as the relay runs.
    pub(crate) async fn run(mut self) {
        let mut attempt = 0;
        loop {
            let mut linked = false;
            let lost = self.follow(&mut linked).await;
            self.interest.linked(false);
            if linked {
                self.stats.connected.store(false, Ordering::Relaxed);
                Stats::add(&self.stats.disconnects, 1);
                let _ = self.presence.send(PresenceInput::Disconnected);
                attempt = 0;
            }
            if linked {
                tracing::warn!(error = %lost, "lost the link to Redis; reconnecting");
            } else {
                tracing::warn!(error = %lost, url = %super::shown_url(&self.settings.url), "could not reach Redis; trying again");
            }
            tokio::time::sleep(backoff::delay(attempt)).await;
            attempt += 1;
        }
    }

    async fn follow(&mut self, linked: &mut bool) -> LinkLost {
        let subscription = match self.endpoint.cluster_nodes() {
            Some(nodes) => Subscription::cluster(nodes).await,
            // Asked at every attempt: with Sentinel, the master may have changed.
            None => match self.endpoint.client().await {
                Ok(client) => Subscription::single(&client).await,
                Err(error) => Err(error),
            },
        };
        let mut subscription = match subscription {
            Ok(subscription) => subscription,
            Err(error) => return error.into(),
        };
        if let Err(error) = subscription.presence().await {
            return error.into();
        }
        // Linked before the topics are listed: a join from now on asks, and one before is in the list.
        self.interest.linked(true);
        if let Err(error) = self.start_following(&mut subscription, self.interest.topics()).await {
            return error.into();
        }
        *linked = true;
        self.stats.connected.store(true, Ordering::Relaxed);
        self.ready.send_replace(true);
        let _ = self.presence.send(PresenceInput::Connected);
        tracing::info!("following Redis");
        let silence = (self.settings.heartbeat * 3).max(Duration::from_secs(3));
        let mut heard = Instant::now();
        let mut sweep = tokio::time::interval(SWEEP);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                incoming = subscription.next() => {
                    let message = match incoming {
                        Incoming::Message(message) => message,
                        Incoming::Ended(why) => return LinkLost::Ended(why),
                        Incoming::Unsubscribed(channel) => match keys::topic_of_broadcasts(&channel) {
                            // Not asked for: the cluster moved the topic's slot, and the node that has it now
                            // must be subscribed to.
                            Some(topic) if self.interest.follows(topic) => return LinkLost::Moved(topic.to_owned()),
                            _ => continue,
                        },
                    };
                    heard = Instant::now();
                    if let Err(error) = self.take(message).await {
                        return error.into();
                    }
                }
                Some(topic) = self.requested.recv() => {
                    let mut topics = vec![topic];
                    while topics.len() < CHUNK {
                        let Ok(topic) = self.requested.try_recv() else { break };
                        topics.push(topic);
                    }
                    let topics = self.interest.still_waiting(topics);
                    if let Err(error) = self.start_following(&mut subscription, topics).await {
                        return error.into();
                    }
                }
                _ = sweep.tick() => {
                    let gone = self.interest.sweep(&self.hub);
                    for chunk in gone.chunks(CHUNK) {
                        if let Err(error) = subscription.unfollow(chunk).await {
                            return error.into();
                        }
                    }
                }
                _ = tokio::time::sleep_until((heard + silence).into()) => return LinkLost::Silent(silence),
            }
        }
    }

    /// Subscribes to the channels of `topics`, then reads what their streams hold that this relay's hub does not
    /// have, and lets the joins waiting for them go on.
    async fn start_following(
        &mut self,
        subscription: &mut Subscription,
        topics: Vec<String>,
    ) -> redis::RedisResult<()> {
        for chunk in topics.chunks(CHUNK) {
            subscription.follow(chunk).await?;
            // After subscribing: whatever is published from now on comes on the channels, and what came before is
            // in the streams.
            self.refill_topics(chunk).await?;
            self.interest.followed(chunk);
        }
        Ok(())
    }

    /// Hands a message of a subscribed channel to presence, or applies the broadcast it carries.
    async fn take(&mut self, message: redis::Msg) -> redis::RedisResult<()> {
        if message.get_channel_name() == keys::PRESENCE {
            let _ = self.presence.send(PresenceInput::Remote(message.get_payload_bytes().to_vec()));
            return Ok(());
        }
        match wire::decode_published(message.get_payload_bytes()) {
            // A topic let go of may still send what was published before the unsubscribe took effect.
            Ok(published) if self.interest.follows(&published.broadcast.topic) => self.receive(published).await,
            Ok(_) => Ok(()),
            Err(malformed) => {
                Stats::add(&self.stats.malformed, 1);
                tracing::warn!(%malformed, channel = message.get_channel_name(), "ignored a malformed broadcast");
                Ok(())
            }
        }
    }

    /// Applies one broadcast from the channel, after those it skipped.
    async fn receive(&mut self, published: Published) -> redis::RedisResult<()> {
        let Published { offset, epoch, broadcast } = published;
        let (after, following) = self.resume_point(&broadcast.topic, &epoch);
        if offset > after + 1 {
            let refilled = self.refill(&broadcast.topic, &epoch, after, Some(offset - 1)).await?;
            if following {
                Stats::add(&self.stats.lost, refilled.missing(after, offset - 1));
            }
        }
        let position = Position { offset, epoch };
        if self
            .hub
            .apply_numbered(&broadcast.topic, &broadcast.event, &broadcast.payload, &position, Instant::now())
            .is_some()
        {
            Stats::add(&self.stats.received, 1);
        }
        Ok(())
    }

    /// Where this relay's copy of `topic` stands against `epoch` in Redis: the offset its history has (0 when it
    /// has none of this epoch), and whether it was following the topic in this epoch. Only then can broadcasts the
    /// stream no longer holds be lost here; for the others, they were never this relay's to deliver. A topic this
    /// relay had numbered from Redis (offset above 0) that now has another epoch is counted as reset.
    fn resume_point(&self, topic: &str, epoch: &str) -> (u64, bool) {
        match self.hub.position(topic) {
            Some(known) if known.epoch == epoch => (known.offset, true),
            Some(known) => {
                if known.offset > 0 {
                    Stats::add(&self.stats.history_resets, 1);
                }
                (0, false)
            }
            None => (0, false),
        }
    }

    /// Reads what Redis keeps of `topics` and applies what this relay's hub does not have.
    async fn refill_topics(&mut self, topics: &[String]) -> redis::RedisResult<()> {
        // Every topic's epoch and offset, and the last broadcasts this relay has, in one round trip (on a cluster, one
        // per slot, all at once).
        let mut pipe = redis::pipe();
        for topic in topics {
            pipe.cmd("HMGET").arg(keys::meta(topic)).arg("epoch").arg("offset");
            let seen = self.hub.position(topic).map_or(0, |seen| seen.offset);
            pipe.cmd("XRANGE").arg(keys::stream(topic)).arg(seen.saturating_sub(COMPARED - 1).max(1)).arg(seen);
        }
        let answers: Vec<(MetaPosition, Vec<Entry>)> =
            if topics.is_empty() { Vec::new() } else { pipe.query_async(&mut self.redis).await? };
        for (topic, (position, compared)) in topics.iter().zip(answers) {
            let (Some(epoch), Some(last)) = position else { continue };
            let (after, following) = self.resume_point(topic, &epoch);
            if following && (last < after || !self.agrees(topic, &compared)) {
                self.start_again(topic, &epoch).await?;
                continue;
            }
            if following && after >= last {
                continue;
            }
            let refilled = self.refill(topic, &epoch, after, None).await?;
            if following {
                // Broadcasts after `last` may have come since; the channel brings them, and they are not lost.
                Stats::add(&self.stats.lost, refilled.missing(after, last.max(refilled.highest)));
            }
        }
        Ok(())
    }

    /// Whether the broadcasts `entries` of Redis's stream are the ones this relay's hub has under their offsets (as
    /// far as it still has them).
    fn agrees(&self, topic: &str, entries: &[Entry]) -> bool {
        let Some(first) = entries.first().and_then(|(id, _)| wire::offset_of_entry(id).ok()) else { return true };
        let ours = self.hub.history(topic, Some(first - 1)).messages;
        entries.iter().all(|(id, fields)| {
            let Some((offset, broadcast, _)) = entry(id, fields) else { return true };
            ours.iter()
                .find(|kept| kept.offset == offset)
                .is_none_or(|kept| kept.event == broadcast.event && kept.payload == broadcast.payload)
        })
    }

    /// Starts `topic`'s series in Redis again, unless another relay did already: its next broadcast makes a new
    /// epoch, and every relay that has the old one tells its subscribers of the loss.
    async fn start_again(&mut self, topic: &str, epoch: &str) -> redis::RedisResult<()> {
        let started: u64 = redis::cmd("EVAL")
            .arg(START_AGAIN)
            .arg(2)
            .arg(keys::meta(topic))
            .arg(keys::stream(topic))
            .arg(epoch)
            .query_async(&mut self.redis)
            .await?;
        Stats::add(&self.stats.rewound, 1);
        tracing::warn!(
            topic,
            started_again = started == 1,
            "Redis came back without broadcasts this relay had seen (a failover to a replica that had not caught \
             up, or a restart from an older snapshot): the topic's series starts again and its subscribers are told"
        );
        Ok(())
    }

    /// Applies a topic's kept broadcasts after offset `after` (up to `until`, when given) of `epoch`.
    async fn refill(
        &mut self,
        topic: &str,
        epoch: &str,
        after: u64,
        until: Option<u64>,
    ) -> redis::RedisResult<Refilled> {
        let end = until.map_or_else(|| "+".to_owned(), |until| until.to_string());
        // In one round trip: the stream's epoch (it may have started again since), the time in Redis (to age the
        // entries by) and the entries. On a cluster the transaction goes whole to the master of the topic's slot,
        // TIME (which has no key) with it.
        let (current, (seconds, micros), entries): (Option<String>, (u64, u64), Vec<Entry>) = redis::pipe()
            .atomic()
            .hget(keys::meta(topic), "epoch")
            .cmd("TIME")
            .cmd("XRANGE")
            .arg(keys::stream(topic))
            .arg(after + 1)
            .arg(&end)
            .query_async(&mut self.redis)
            .await?;
        if current.as_deref() != Some(epoch) {
            return Ok(Refilled::default()); // Started again: the broadcast of the new epoch will say so.
        }
        let redis_now_ms = seconds * 1000 + micros / 1000;
        let now = Instant::now();
        let mut refilled = Refilled::default();
        for (id, fields) in entries {
            let Some((offset, broadcast, made_ms)) = entry(&id, &fields) else {
                Stats::add(&self.stats.malformed, 1);
                continue;
            };
            let age = Duration::from_millis(redis_now_ms.saturating_sub(made_ms));
            let at = now.checked_sub(age).unwrap_or(now);
            let position = Position { offset, epoch: epoch.to_owned() };
            if self.hub.apply_numbered(&broadcast.topic, &broadcast.event, &broadcast.payload, &position, at).is_some()
            {
                refilled.applied += 1;
                refilled.highest = refilled.highest.max(offset);
            }
        }
        Stats::add(&self.stats.refilled, refilled.applied);
        Ok(refilled)
    }
}

/// Deletes a topic's meta and stream (`KEYS[1]`, `KEYS[2]`) if its epoch is still `ARGV[1]`.
const START_AGAIN: &str = "if redis.call('HGET', KEYS[1], 'epoch') == ARGV[1] then \
     redis.call('DEL', KEYS[1], KEYS[2]) return 1 end return 0";

/// What a refill applied.
#[derive(Debug, Default, Clone, Copy)]
struct Refilled {
    applied: u64,
    /// The highest offset applied (0 for none).
    highest: u64,
}

impl Refilled {
    /// How many of the offsets after `after` up to `until` it did not find.
    fn missing(self, after: u64, until: u64) -> u64 {
        until.saturating_sub(after).saturating_sub(self.applied)
    }
}

/// A topic's epoch and last offset as `HMGET` gives them: `None` for a topic Redis holds nothing of.
type MetaPosition = (Option<String>, Option<u64>);

/// A stream entry as `XRANGE` gives it: its id and its fields' names and values, alternating.
type Entry = (String, Vec<Vec<u8>>);

/// A stream entry: `<offset>-0` with the fields `b` (the broadcast) and `t` (when it was made, in Unix ms).
fn entry(id: &str, fields: &[Vec<u8>]) -> Option<(u64, Broadcast, u64)> {
    let offset = wire::offset_of_entry(id).ok()?;
    let field = |name: &[u8]| fields.chunks_exact(2).find(|pair| pair[0] == name).map(|pair| pair[1].as_slice());
    let broadcast = wire::decode(field(b"b")?).ok()?;
    let made_ms = std::str::from_utf8(field(b"t")?).ok()?.parse().ok()?;
    Some((offset, broadcast, made_ms))
}
