//! Topics and fanout: who is subscribed where, and handing each broadcast to all of them.
//!
//! A broadcast is numbered and kept in its topic's history (see [`crate::history`]), encoded once per serializer in
//! use on the topic (with and without its position; see [`crate::wire`]), and the same bytes go to every
//! subscriber. Topics are spread over shards, each behind its own read-write lock, and each topic has a lock of its own: publishing takes one
//! shard's read lock and its topic's lock, so there is no global lock on the publish path, publishers to different
//! topics do not meet, and the broadcasts of one topic are numbered and queued in one order for every subscriber.
//!
//! When relays share their topics (see [`crate::cluster`]), a broadcast goes [`Upstream`] instead, to be numbered
//! there for every relay, and comes back through [`Hub::apply_numbered`]: the hub then holds a copy of the shared
//! history, and joins and catch-ups work on it exactly as on a history of its own. Until a topic's first broadcast
//! comes back, its epoch is `none`, the same on every relay, so a client that saw nothing of a quiet topic can
//! resume on any relay. A broadcast that comes back after a loss (an offset gap the cluster could not fill, or a
//! new epoch) is preceded by a notice to the topic's live positioned subscribers (see [`crate::loss_notice`]).
//!
//! A positioned subscriber (one that speaks the recovery extension), and any joiner of a channel that replays its
//! topic's history ([`crate::Channel::replays_history`], with [`Hub::subscribe_to_replay`]), subscribes *waiting*:
//! numbered broadcasts pass it by until [`Hub::catch_up`], which, under the topic's lock, queues the join reply, then
//! the kept broadcasts after the offered position (after the position it subscribed at when none can be served, and
//! from offset 0 of the epoch for a replay), then lets live ones through, so none is missed, doubled or reordered. Presence diffs are not numbered and reach waiting subscribers
//! too: a rejoining client rebuilds presence from a fresh `presence_state`, not from history. Frames carry positions
//! only for positioned subscribers, so phoenix.js sees plain broadcasts even in a replay.
//!
//! A topic with neither subscribers nor history is forgotten, when its last subscriber leaves or by the sweeper
//! ([`Hub::spawn_sweeper`]).

use crate::fanout_timing::FanoutTiming;
use crate::following::{FollowGuard, Following};
use crate::history::{Appended, Budget, Epochs, History, HistoryLimits, HistoryUsage, NOT_YET_NUMBERED, Retained};
use crate::loss_notice::loss_notice;
use crate::outbox::Outbox;
use crate::sharded::{Sharded, lock, lock_mut, read, write};
use crate::tap::Tap;
use crate::wire::{ConnId, EncodedOnce, Subscriber, encode_broadcast};
use ferrocast_protocol::{Payload, Position};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Subscription {
    subscriber: Subscriber,
    /// Numbered broadcasts are not sent yet: the join is under way, and its catch-up will replay them in order.
    waiting: bool,
}

/// A topic: who is subscribed, and what was broadcast on it lately.
#[derive(Debug)]
struct Topic {
    subscriptions: Vec<Subscription>,
    history: History,
}

impl Topic {
    fn is_forgettable(&self) -> bool {
        self.subscriptions.is_empty() && self.history.is_empty()
    }
}

/// Where broadcasts go when several relays share their topics: numbered there for all of them, and handed back to
/// each hub with [`Hub::apply_numbered`].
pub trait Upstream: Send + Sync + std::fmt::Debug {
    /// Takes a broadcast to number and share; it must not block, since channels publish while handling a frame.
    fn publish(&self, topic: &str, event: &str, payload: &Payload);

    /// [`Upstream::publish`] of a broadcast made while handling a client's push, named `name` (see
    /// [`crate::push_once`]): one of that name made lately is not made again. Returns what completes once the
    /// upstream has it (`true`) or dropped it (`false`); `None` when nothing need be awaited.
    fn publish_once(&self, topic: &str, event: &str, payload: &Payload, _name: &str) -> Option<Published> {
        self.publish(topic, event, payload);
        None
    }

    /// Whether `topic`'s broadcasts come back to this hub (see [`crate::following`]); when they do not yet, starts
    /// having them come back. An upstream that sends every topic back answers [`Following::Now`] always.
    fn follow(&self, _topic: &str) -> Following {
        Following::Now(FollowGuard::none())
    }
}

/// Completes once an upstream has a broadcast (`true`), or dropped it (`false`).
pub type Published = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;

/// The topics of one process, their subscribers and their history.
#[derive(Debug, Default)]
pub struct Hub {
    topics: Sharded<RwLock<HashMap<String, Mutex<Topic>>>>,
    history: Budget,
    epochs: Epochs,
    fanout: FanoutTiming,
    upstream: OnceLock<Arc<dyn Upstream>>,
    tap: OnceLock<Arc<dyn Tap>>,
    loss_notices: AtomicU64,
}

/// What [`Hub::history`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// The topic's current position.
    pub position: Position,
    /// Whether the messages are everything after the asked offset (`false` when some were no longer kept).
    pub complete: bool,
    /// The kept broadcasts after the asked offset, oldest first.
    pub messages: Vec<Retained>,
}

impl Hub {
    /// An empty hub that keeps the default history.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty hub that keeps this much history per topic.
    pub fn with_history(limits: HistoryLimits) -> Self {
        Hub { history: Budget::new(limits), ..Self::default() }
    }

    /// Tells `tap` of every later numbered broadcast, of topics occupied and vacated, and of presence diffs;
    /// `false` when the hub has a tap already.
    pub fn tap_with(&self, tap: Arc<dyn Tap>) -> bool {
        self.tap.set(tap).is_ok()
    }

    /// The tap, for presence to tell its diffs to.
    pub(crate) fn tap(&self) -> Option<&Arc<dyn Tap>> {
        self.tap.get()
    }

    /// Sends every later [`Hub::broadcast`] to `upstream` instead of numbering it here; `false` when the hub has
    /// an upstream already.
    pub fn route_through(&self, upstream: Arc<dyn Upstream>) -> bool {
        self.upstream.set(upstream).is_ok()
    }

    /// The history limits each topic keeps.
    pub fn history_limits(&self) -> HistoryLimits {
        self.history.limits
    }

    /// A new epoch, never given before by this process or another.
    pub(crate) fn new_epoch(&self) -> Arc<str> {
        self.epochs.next()
    }

    /// Whether `topic`'s broadcasts reach this hub, as its [`Upstream`] says; a hub on its own has every topic.
    /// A subscription made while the answer's guard lives misses nothing (see [`crate::following`]).
    pub fn follow(&self, topic: &str) -> Following {
        match self.upstream.get() {
            Some(upstream) => upstream.follow(topic),
            None => Following::Now(FollowGuard::none()),
        }
    }

    /// [`Hub::follow`], waiting until the topic is followed.
    pub async fn followed(&self, topic: &str) -> FollowGuard {
        loop {
            match self.follow(topic) {
                Following::Now(guard) => return guard,
                Following::Soon(followed) => followed.await,
            }
        }
    }

    /// Whether joins may have to wait for their topic to be followed: the hub's broadcasts are numbered upstream.
    pub fn has_upstream(&self) -> bool {
        self.upstream.get().is_some()
    }

    /// Forgets `topic`, its history included, when nobody is subscribed to it and `unfollow` agrees (it is called
    /// under the topic's shard lock, so no subscription can be made in between); returns whether it did. The
    /// cluster calls it for a topic it stops following: the history it would keep could only go stale.
    pub(crate) fn forget_if_vacant(&self, topic_name: &str, unfollow: impl FnOnce() -> bool) -> bool {
        let mut shard = write(self.topics.shard(topic_name));
        if shard.get_mut(topic_name).is_some_and(|topic| !lock_mut(topic).subscriptions.is_empty()) {
            return false;
        }
        if !unfollow() {
            return false;
        }
        if let Some(topic) = shard.remove(topic_name) {
            let mut topic = topic.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
            topic.history.clear(&self.history);
        }
        true
    }

    /// Subscribes a connection to a topic, replacing its earlier subscription there, if any; returns the topic's
    /// position at that moment. A positioned subscriber gets no numbered broadcast until [`Hub::catch_up`].
    pub fn subscribe(&self, topic: &str, subscriber: Subscriber) -> Position {
        let waiting = subscriber.positioned;
        self.add_subscription(topic, subscriber, waiting)
    }

    /// Subscribes a connection whose join replays the topic's history ([`crate::Channel::replays_history`]): like
    /// a positioned subscriber, it gets no numbered broadcast until [`Hub::catch_up`], even when its frames carry
    /// no position (phoenix.js).
    pub fn subscribe_to_replay(&self, topic: &str, subscriber: Subscriber) -> Position {
        self.add_subscription(topic, subscriber, true)
    }

    fn add_subscription(&self, topic_name: &str, subscriber: Subscriber, waiting: bool) -> Position {
        let mut shard = write(self.topics.shard(topic_name));
        let topic = shard.entry(topic_name.to_owned()).or_insert_with(|| Mutex::new(self.new_topic()));
        let topic = lock_mut(topic);
        let was_empty = topic.subscriptions.is_empty();
        topic.subscriptions.retain(|existing| existing.subscriber.conn != subscriber.conn);
        topic.subscriptions.push(Subscription { subscriber, waiting });
        let position = topic.history.position();
        drop(shard);
        if let Some(tap) = self.tap.get().filter(|_| was_empty) {
            tap.occupied(topic_name);
        }
        position
    }

    /// Ends a waiting subscriber's wait: `reply` is called with the topic's position and whether `offered`
    /// could be recovered (`None` when no position was offered), so the join reply goes first; then every kept
    /// broadcast after `offered` (or after `subscribed`, the position [`Hub::subscribe`] returned, when `offered`
    /// cannot be served; offset 0 of its epoch replays everything kept) is queued, oldest first, and live
    /// broadcasts follow. All under the topic's lock, so none comes in between, twice, or out of order.
    pub fn catch_up(
        &self,
        topic_name: &str,
        conn: ConnId,
        offered: Option<&Position>,
        subscribed: &Position,
        reply: impl FnOnce(&Position, Option<bool>),
    ) {
        let shard = read(self.topics.shard(topic_name));
        let Some(topic) = shard.get(topic_name) else {
            return reply(subscribed, offered.map(|_| false));
        };
        let mut topic = lock(topic);
        let Topic { subscriptions, history } = &mut *topic;
        history.expire(Instant::now(), &self.history);
        let Some(subscription) = subscriptions.iter_mut().find(|s| s.subscriber.conn == conn) else {
            return reply(&history.position(), offered.map(|_| false));
        };
        // The subscription kept the topic, and so its epoch, since `subscribed`: what came after it came during
        // the join.
        let resume = history.resume(offered, subscribed.offset);
        let position = history.position();
        reply(&position, resume.recovered);
        let subscriber = &subscription.subscriber;
        for retained in history.after(resume.after) {
            let at = subscriber.positioned.then(|| Position { offset: retained.offset, epoch: position.epoch.clone() });
            if let Some(frame) = encode_broadcast(subscriber.wire, topic_name, &retained.event, &retained.payload, at) {
                subscriber.outbox.push(frame);
            }
        }
        subscription.waiting = false;
    }

    /// Removes a connection's subscription to a topic.
    pub fn unsubscribe(&self, topic_name: &str, conn: ConnId) {
        let mut shard = write(self.topics.shard(topic_name));
        let mut vacated = false;
        if let Some(topic) = shard.get_mut(topic_name) {
            let topic = lock_mut(topic);
            let had = topic.subscriptions.len();
            topic.subscriptions.retain(|existing| existing.subscriber.conn != conn);
            vacated = had > 0 && topic.subscriptions.is_empty();
            topic.history.expire(Instant::now(), &self.history);
            if topic.is_forgettable() {
                shard.remove(topic_name);
            }
        }
        drop(shard);
        if let Some(tap) = self.tap.get().filter(|_| vacated) {
            tap.vacated(topic_name);
        }
    }

    /// How many connections are subscribed to a topic.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        read(self.topics.shard(topic)).get(topic).map_or(0, |topic| lock(topic).subscriptions.len())
    }

    /// How long broadcasts took to reach every subscriber's queue, whoever sent them.
    pub fn fanout_timing(&self) -> &FanoutTiming {
        &self.fanout
    }

    /// Numbers a broadcast, keeps it in the topic's history and sends `[null, null, topic, event, payload]` to
    /// every subscriber (positioned ones get its position too); returns how many accepted it. The topic's history
    /// is kept even while nobody is subscribed, so a client that is reconnecting misses nothing.
    ///
    /// Subscribers whose outbox is full are disconnected by their outbox (see `outbox.rs`); subscribers
    /// whose serializer cannot carry the payload (binary on V1) are skipped.
    ///
    /// With an [`Upstream`], the broadcast is handed to it and reaches subscribers when it comes back, numbered:
    /// this then returns 0.
    pub fn broadcast(&self, topic: &str, event: &str, payload: &Payload) -> usize {
        if let Some(upstream) = self.upstream.get() {
            upstream.publish(topic, event, payload);
            return 0;
        }
        self.timed(|| self.fan_out(topic, event, payload, Numbering::Numbered, &mut Wakes::Now))
    }

    /// [`Hub::broadcast`] of a broadcast made while handling a client's push, named `name` among the broadcasts of
    /// all pushes (see [`crate::push_once`]); with an [`Upstream`], what completes once it has the broadcast.
    pub fn broadcast_once(&self, topic: &str, event: &str, payload: &Payload, name: &str) -> Option<Published> {
        match self.upstream.get() {
            Some(upstream) => upstream.publish_once(topic, event, payload, name),
            None => {
                self.broadcast(topic, event, payload);
                None
            }
        }
    }

    /// [`Hub::broadcast`] for several broadcasts, in order, waking each subscriber once, when all of them are
    /// queued: its writer then takes them in one go (in few batch messages, for a client that asks for them)
    /// instead of starting on the first while the others are still being queued from another thread.
    pub fn broadcast_all<'a>(&self, broadcasts: impl IntoIterator<Item = (&'a str, &'a str, &'a Payload)>) {
        if let Some(upstream) = self.upstream.get() {
            for (topic, event, payload) in broadcasts {
                upstream.publish(topic, event, payload);
            }
            return;
        }
        let mut to_wake = Vec::new();
        for (topic, event, payload) in broadcasts {
            let mut wakes = Wakes::Deferred(&mut to_wake);
            self.timed(|| self.fan_out(topic, event, payload, Numbering::Numbered, &mut wakes));
        }
        for outbox in to_wake {
            outbox.wake();
        }
    }

    /// Keeps and sends a broadcast numbered upstream, `offset` of `epoch`, made at `at`; `None` when the topic's
    /// history has it already. Another epoch than the topic's starts its history again; an offset past the next
    /// one is sent, and what came before the gap can no longer be replayed (see [`Cluster`](crate::Cluster), which
    /// fills gaps before they get here).
    pub fn apply_numbered(
        &self,
        topic: &str,
        event: &str,
        payload: &Payload,
        position: &Position,
        at: Instant,
    ) -> Option<usize> {
        let given = Given { offset: position.offset, epoch: &position.epoch, at };
        self.timed_if_delivered(|| self.fan_out(topic, event, payload, Numbering::Given(given), &mut Wakes::Now))
    }

    /// A topic's position (`None` for a topic this hub does not know), to tell whether a broadcast numbered
    /// upstream follows the last one it has.
    pub fn position(&self, topic: &str) -> Option<Position> {
        read(self.topics.shard(topic)).get(topic).map(|topic| lock(topic).history.position())
    }

    /// Sends a broadcast that is not numbered or kept, to every subscriber, joins under way included: presence
    /// diffs, which a rejoining client rebuilds from a fresh `presence_state` instead of a replay.
    pub fn broadcast_unnumbered(&self, topic: &str, event: &str, payload: &Payload) -> usize {
        self.timed(|| self.fan_out(topic, event, payload, Numbering::Unnumbered, &mut Wakes::Now))
    }

    /// The kept broadcasts of a topic after `after` (all kept ones with `None`). A topic the hub does not know
    /// (never broadcast on, or forgotten) reads as one that saw nothing: offset 0 of the epoch `none`, a position a
    /// client may offer to be recovered from the topic's first broadcast, nothing kept, and complete after offset 0.
    /// Reading creates no topic.
    pub fn history(&self, topic_name: &str, after: Option<u64>) -> HistoryPage {
        let after = after.unwrap_or(0);
        let page = |history: &History| HistoryPage {
            position: history.position(),
            complete: history.has_everything_after(after),
            messages: history.after(after).cloned().collect(),
        };
        let shard = read(self.topics.shard(topic_name));
        match shard.get(topic_name) {
            Some(topic) => {
                let mut topic = lock(topic);
                topic.history.expire(Instant::now(), &self.history);
                page(&topic.history)
            }
            None => page(&History::new(Arc::from(NOT_YET_NUMBERED))),
        }
    }

    /// Forgets expired history, and topics with neither history nor subscribers. [`Hub::spawn_sweeper`] calls it.
    pub fn sweep(&self) {
        let now = Instant::now();
        for shard in self.topics.shards() {
            write(shard).retain(|_, topic| {
                let topic = lock_mut(topic);
                topic.history.expire(now, &self.history);
                !topic.is_forgettable()
            });
        }
    }

    /// Sweeps every quarter of the history's time limit (at most once a minute) while the hub lives, when called
    /// within a tokio runtime; without one, history is still expired whenever its topic is used.
    pub fn spawn_sweeper(self: &Arc<Self>) {
        let every = (self.history.limits.ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
        crate::sweeper::spawn_sweeper(self, every, Hub::sweep);
    }

    fn new_topic(&self) -> Topic {
        // With an upstream, only it numbers: until a broadcast comes back, the topic has no history of its own.
        let epoch = match self.upstream.get() {
            Some(_) => Arc::from(NOT_YET_NUMBERED),
            None => self.epochs.next(),
        };
        Topic { subscriptions: Vec::new(), history: History::new(epoch) }
    }

    fn timed(&self, fan_out: impl FnOnce() -> Option<usize>) -> usize {
        self.timed_if_delivered(fan_out).unwrap_or(0)
    }

    fn timed_if_delivered(&self, fan_out: impl FnOnce() -> Option<usize>) -> Option<usize> {
        let started = Instant::now();
        let delivered = fan_out();
        self.fanout.observe(started.elapsed());
        delivered
    }

    fn fan_out(
        &self,
        topic_name: &str,
        event: &str,
        payload: &Payload,
        numbering: Numbering<'_>,
        wakes: &mut Wakes<'_>,
    ) -> Option<usize> {
        let shard = read(self.topics.shard(topic_name));
        let Some(topic) = shard.get(topic_name) else {
            drop(shard);
            return match numbering {
                // A numbered broadcast needs the topic, to keep it for whoever comes back.
                Numbering::Numbered | Numbering::Given(_) => {
                    self.fan_out_to_new(topic_name, event, payload, numbering, wakes)
                }
                Numbering::Unnumbered => Some(0),
            };
        };
        let mut topic = lock(topic);
        self.deliver(&mut topic, topic_name, event, payload, numbering, wakes)
    }

    fn fan_out_to_new(
        &self,
        topic_name: &str,
        event: &str,
        payload: &Payload,
        numbering: Numbering<'_>,
        wakes: &mut Wakes<'_>,
    ) -> Option<usize> {
        let mut shard = write(self.topics.shard(topic_name));
        let topic = shard.entry(topic_name.to_owned()).or_insert_with(|| Mutex::new(self.new_topic()));
        let topic = lock_mut(topic);
        self.deliver(topic, topic_name, event, payload, numbering, wakes)
    }

    fn deliver(
        &self,
        topic: &mut Topic,
        topic_name: &str,
        event: &str,
        payload: &Payload,
        numbering: Numbering<'_>,
        wakes: &mut Wakes<'_>,
    ) -> Option<usize> {
        let offset = match numbering {
            Numbering::Numbered => Some(topic.history.append(event, payload, Instant::now(), &self.history)),
            Numbering::Given(Given { offset, epoch, at }) => {
                match topic.history.append_at(offset, epoch, event, payload, at, &self.history) {
                    Appended::Known => return None,
                    Appended::Next => {}
                    Appended::AfterLoss => self.tell_of_loss(topic, topic_name, offset - 1),
                }
                Some(offset)
            }
            Numbering::Unnumbered => None,
        };
        let numbered = offset.is_some();
        let position = offset.map(|offset| (offset, topic.history.epoch()));
        if let (Some(tap), Some((offset, epoch))) = (self.tap.get(), position) {
            tap.broadcast(topic_name, event, payload, offset, epoch);
        }
        let mut encoded = EncodedOnce::new(topic_name, event, payload, position);
        let mut delivered = 0;
        for Subscription { subscriber, waiting } in &topic.subscriptions {
            if numbered && *waiting {
                continue; // Its catch-up replays this from history, in order.
            }
            let Some(frame) = encoded.for_subscriber(subscriber) else { continue };
            let queued = match wakes {
                Wakes::Now => subscriber.outbox.push(frame.clone()),
                Wakes::Deferred(to_wake) => match subscriber.outbox.push_deferring_wake(frame.clone()) {
                    Some(wake) => {
                        if wake {
                            to_wake.push(subscriber.outbox.clone());
                        }
                        true
                    }
                    None => false,
                },
            };
            if queued {
                delivered += 1;
            }
        }
        Some(delivered)
    }

    /// Tells the topic's live positioned subscribers that the broadcasts before the one at `before + 1` (of the
    /// history's epoch now) are lost for good, and ends the subscriptions of channels, which rejoin; see
    /// [`crate::loss_notice`]. Waiting subscribers need nothing: their catch-up finds the history incomplete.
    fn tell_of_loss(&self, topic: &mut Topic, topic_name: &str, before: u64) {
        let before = Position { offset: before, epoch: topic.history.epoch().to_string() };
        let mut told = 0;
        topic.subscriptions.retain(|Subscription { subscriber, waiting }| {
            if *waiting {
                return true;
            }
            let Some(notice) = loss_notice(subscriber, topic_name, &before) else { return true };
            subscriber.outbox.push(notice.frame);
            told += 1;
            notice.subscription_goes_on
        });
        self.loss_notices.fetch_add(told, Ordering::Relaxed);
    }

    /// What the histories of every topic keep together, against [`HistoryLimits::max_total_bytes`].
    pub fn history_usage(&self) -> HistoryUsage {
        HistoryUsage { kept_bytes: self.history.bytes() as u64, not_kept: self.history.refused() }
    }

    /// How many subscribers were told that broadcasts they followed were lost for good.
    pub fn loss_notices(&self) -> u64 {
        self.loss_notices.load(Ordering::Relaxed)
    }
}

/// When the outboxes a broadcast goes to are woken: at once, or by the caller once it has queued a whole request
/// (see [`Hub::broadcast_all`]).
enum Wakes<'a> {
    Now,
    Deferred(&'a mut Vec<Arc<Outbox>>),
}

#[derive(Debug, Clone, Copy)]
enum Numbering<'a> {
    /// Numbered here, by the topic's history.
    Numbered,
    /// Numbered upstream (by Redis, for a cluster), at this offset of this epoch.
    Given(Given<'a>),
    Unnumbered,
}

#[derive(Debug, Clone, Copy)]
struct Given<'a> {
    offset: u64,
    epoch: &'a str,
    at: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::{OutFrame, OutboxLimits};
    use crate::wire::Wire;
    use ferrocast_protocol::Vsn;

    fn subscriber(vsn: Vsn) -> Subscriber {
        Subscriber {
            conn: ConnId::next(),
            wire: Wire::Phoenix(vsn),
            outbox: Arc::new(Outbox::new(OutboxLimits::default())),
            positioned: false,
            join_ref: Some("1".to_owned()),
        }
    }

    fn positioned() -> Subscriber {
        Subscriber { positioned: true, ..subscriber(Vsn::V2) }
    }

    fn json(text: &str) -> Payload {
        Payload::Json(text.to_owned())
    }

    async fn texts(outbox: &Outbox) -> Vec<String> {
        let mut batch = Vec::new();
        if !outbox.is_empty() {
            outbox.next_batch(&mut batch).await.unwrap();
        }
        batch.into_iter().map(|frame| String::from_utf8(frame.bytes.to_vec()).unwrap()).collect()
    }

    #[test]
    fn broadcast_all_wakes_a_waiting_writer_once_everything_is_queued() {
        let hub = Hub::new();
        let subscriber = subscriber(Vsn::V2);
        let outbox = subscriber.outbox.clone();
        hub.subscribe("t", subscriber);
        // The writer waits on a thread of its own, as a connection's task waits on a worker.
        let (parked, writer_parked) = std::sync::mpsc::channel();
        let writer = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            runtime.block_on(async {
                let mut batch = Vec::new();
                let next = outbox.next_batch(&mut batch);
                let _ = parked.send(());
                next.await.unwrap();
                batch.len()
            })
        });
        writer_parked.recv().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        // Woken at the first frame, the writer would take a part of them.
        let payloads: Vec<Payload> = (0..4000).map(|n| json(&n.to_string())).collect();
        hub.broadcast_all(payloads.iter().map(|payload| ("t", "n", payload)));
        assert_eq!(writer.join().unwrap(), 4000, "the writer's first batch holds every broadcast");
        assert_eq!(hub.history("t", None).messages.len(), 1000, "the history keeps its 1000");
    }

    #[tokio::test]
    async fn a_catch_up_replies_first_then_replays_what_was_missed_then_goes_live() {
        let hub = Hub::new();
        for n in 1..=3 {
            hub.broadcast("t", "n", &json(&n.to_string()));
        }
        let epoch = hub.history("t", None).position.epoch;
        let client = positioned();
        let subscribed = hub.subscribe("t", client.clone());
        hub.broadcast("t", "n", &json("4")); // while the join runs: held back, replayed in order below
        hub.broadcast_unnumbered("t", "presence_diff", &json("{}")); // not held back
        let offered = Position { offset: 1, epoch: epoch.clone() };
        let mut replied = None;
        hub.catch_up("t", client.conn, Some(&offered), &subscribed, |position, recovered| {
            client.outbox.push(OutFrame::text("reply".into()));
            replied = Some((position.clone(), recovered));
        });
        hub.broadcast("t", "n", &json("5"));
        assert_eq!(replied, Some((Position { offset: 4, epoch: epoch.clone() }, Some(true))));
        let at = |n: u64| format!(r#"[null,null,"t","n",{n},{{"offset":{n},"epoch":"{epoch}"}}]"#);
        let expected =
            [r#"[null,null,"t","presence_diff",{}]"#.to_owned(), "reply".to_owned(), at(2), at(3), at(4), at(5)];
        assert_eq!(texts(&client.outbox).await, expected);
    }

    #[tokio::test]
    async fn a_position_that_is_gone_is_not_recovered_and_the_join_still_misses_nothing() {
        let hub = Hub::with_history(HistoryLimits { max_messages: 2, ..HistoryLimits::default() });
        for n in 1..=5 {
            hub.broadcast("t", "n", &json(&n.to_string()));
        }
        let client = positioned();
        let subscribed = hub.subscribe("t", client.clone());
        hub.broadcast("t", "n", &json("6"));
        let epoch = subscribed.epoch.clone();
        let mut recovered = None;
        let gone = Position { offset: 2, epoch: epoch.clone() };
        hub.catch_up("t", client.conn, Some(&gone), &subscribed, |_, r| recovered = r);
        assert_eq!(recovered, Some(false));
        let frames = texts(&client.outbox).await;
        assert_eq!(frames, [format!(r#"[null,null,"t","n",6,{{"offset":6,"epoch":"{epoch}"}}]"#)]);

        let other = positioned();
        let subscribed = hub.subscribe("t", other.clone());
        let elsewhere = Position { offset: 6, epoch: "another".to_owned() };
        hub.catch_up("t", other.conn, Some(&elsewhere), &subscribed, |_, r| recovered = r);
        assert_eq!(recovered, Some(false), "a position of another epoch");
        assert!(texts(&other.outbox).await.is_empty());
    }

    #[tokio::test]
    async fn plain_subscribers_never_see_positions() {
        let hub = Hub::new();
        let (plain, client) = (subscriber(Vsn::V2), positioned());
        hub.subscribe("t", plain.clone());
        let subscribed = hub.subscribe("t", client.clone());
        hub.catch_up("t", client.conn, None, &subscribed, |_, _| {});
        assert_eq!(hub.broadcast("t", "n", &json("1")), 2);
        assert_eq!(texts(&plain.outbox).await, [r#"[null,null,"t","n",1]"#]);
        let epoch = subscribed.epoch;
        assert_eq!(texts(&client.outbox).await, [format!(r#"[null,null,"t","n",1,{{"offset":1,"epoch":"{epoch}"}}]"#)]);
    }

    #[test]
    fn history_outlives_its_subscribers_until_it_expires() {
        let hub = Hub::with_history(HistoryLimits { ttl: Duration::ZERO, ..HistoryLimits::default() });
        assert_eq!(hub.broadcast("nobody", "n", &json("1")), 0);
        let page = hub.history("nobody", Some(0));
        assert_eq!(page.position.offset, 1, "kept although nobody was subscribed");
        std::thread::sleep(Duration::from_millis(2));
        hub.sweep();
        assert_eq!(hub.position("nobody"), None, "forgotten once expired and unsubscribed");
        assert_eq!(hub.subscriber_count("nobody"), 0);
    }

    #[test]
    fn an_unknown_topic_reads_as_one_that_saw_nothing_and_is_not_created() {
        let hub = Hub::new();
        let page = hub.history("never", None);
        assert_eq!(page.position, Position { offset: 0, epoch: NOT_YET_NUMBERED.to_owned() });
        assert!(page.complete && page.messages.is_empty(), "nothing was missed: {page:?}");
        assert!(!hub.history("never", Some(3)).complete, "a reader that had offset 3 may have missed what followed");
        assert_eq!(hub.position("never"), None, "reading made no topic");
    }

    #[tokio::test]
    async fn a_broadcast_is_encoded_once_per_serializer_and_shared() {
        let hub = Hub::new();
        let (a, b, c) = (subscriber(Vsn::V2), subscriber(Vsn::V2), subscriber(Vsn::V1));
        for s in [&a, &b, &c] {
            hub.subscribe("room:1", s.clone());
        }
        let delivered = hub.broadcast("room:1", "new_msg", &Payload::Json(r#"{"body":"hi"}"#.into()));
        assert_eq!(delivered, 3);
        let (mut fa, mut fb, mut fc) = (Vec::new(), Vec::new(), Vec::new());
        a.outbox.next_batch(&mut fa).await.unwrap();
        b.outbox.next_batch(&mut fb).await.unwrap();
        c.outbox.next_batch(&mut fc).await.unwrap();
        assert_eq!(&fa[0].bytes[..], br#"[null,null,"room:1","new_msg",{"body":"hi"}]"#);
        assert_eq!(fa[0].bytes.as_ptr(), fb[0].bytes.as_ptr(), "the same bytes, not a copy");
        assert_eq!(&fc[0].bytes[..], br#"{"event":"new_msg","payload":{"body":"hi"},"ref":null,"topic":"room:1"}"#);
    }

    #[test]
    fn unsubscribe_removes_only_that_connection() {
        let hub = Hub::new();
        let (a, b) = (subscriber(Vsn::V2), subscriber(Vsn::V2));
        hub.subscribe("t", a.clone());
        hub.subscribe("t", b.clone());
        hub.subscribe("t", a.clone());
        assert_eq!(hub.subscriber_count("t"), 2, "one subscription per connection and topic");
        hub.unsubscribe("t", a.conn);
        assert_eq!(hub.broadcast("t", "e", &Payload::empty()), 1);
        hub.unsubscribe("t", b.conn);
        assert_eq!(hub.subscriber_count("t"), 0);
    }

    #[derive(Debug, Default)]
    struct Recorded(Mutex<Vec<(String, String)>>);

    impl Upstream for Recorded {
        fn publish(&self, topic: &str, event: &str, _payload: &Payload) {
            self.0.lock().unwrap().push((topic.to_owned(), event.to_owned()));
        }
    }

    #[tokio::test]
    async fn with_an_upstream_broadcasts_go_there_and_come_back_numbered() {
        let hub = Hub::new();
        let upstream = Arc::new(Recorded::default());
        assert!(hub.route_through(upstream.clone()));
        let client = positioned();
        let subscribed = hub.subscribe("t", client.clone());
        hub.catch_up("t", client.conn, None, &subscribed, |_, _| {});
        assert_eq!(hub.broadcast("t", "n", &json("1")), 0, "not delivered here");
        assert_eq!(*upstream.0.lock().unwrap(), [("t".to_owned(), "n".to_owned())]);
        assert!(texts(&client.outbox).await.is_empty());

        let at = |offset| Position { offset, epoch: "shared".to_owned() };
        assert_eq!(hub.apply_numbered("t", "n", &json("7"), &at(7), Instant::now()), Some(1));
        assert_eq!(hub.apply_numbered("t", "n", &json("7"), &at(7), Instant::now()), None, "already had it");
        assert_eq!(hub.position("t"), Some(at(7)));
        assert_eq!(texts(&client.outbox).await, [r#"[null,null,"t","n",7,{"offset":7,"epoch":"shared"}]"#]);
    }

    #[tokio::test]
    async fn broadcasts_lost_upstream_end_positioned_channels_and_are_told_to_event_streams() {
        let hub = Hub::new();
        assert!(hub.route_through(Arc::new(Recorded::default())));
        let (channel, plain) = (positioned(), subscriber(Vsn::V2));
        let stream = Subscriber { wire: Wire::EventStream, positioned: true, join_ref: None, ..subscriber(Vsn::V2) };
        for client in [&channel, &plain, &stream] {
            let subscribed = hub.subscribe("t", client.clone());
            hub.catch_up("t", client.conn, None, &subscribed, |_, _| {});
        }
        let at = |offset, epoch: &str| Position { offset, epoch: epoch.to_owned() };
        hub.apply_numbered("t", "n", &json("4"), &at(4, "e"), Instant::now());
        hub.apply_numbered("t", "n", &json("5"), &at(5, "e"), Instant::now());
        assert_eq!(hub.loss_notices(), 0, "the first broadcast seen of a topic follows nothing, so nothing was lost");
        for client in [&channel, &plain, &stream] {
            assert_eq!(texts(&client.outbox).await.len(), 2);
        }

        assert_eq!(hub.apply_numbered("t", "n", &json("8"), &at(8, "e"), Instant::now()), Some(2), "6 and 7 lost");
        assert_eq!(hub.loss_notices(), 2);
        assert_eq!(texts(&channel.outbox).await, [r#"["1","1","t","phx_error",{"reason":"missed broadcasts"}]"#]);
        assert_eq!(texts(&plain.outbox).await, [r#"[null,null,"t","n",8]"#], "no positions, no promise");
        let told = texts(&stream.outbox).await;
        assert_eq!(told.len(), 2);
        assert!(told[0].contains(r#"data: {"epoch":"e","offset":7,"recovered":false,"topic":"t"}"#), "{told:?}");
        assert!(told[1].contains("data: 8"), "{told:?}");
        assert_eq!(hub.subscriber_count("t"), 2, "the channel's subscription ended: its client rejoins");

        hub.apply_numbered("t", "n", &json("1"), &at(1, "reset"), Instant::now());
        assert_eq!(hub.loss_notices(), 3, "a new epoch: the shared history was lost");
        assert!(texts(&stream.outbox).await[0].contains(r#""offset":0,"recovered":false"#));
    }

    #[test]
    fn every_broadcast_is_timed_even_to_an_empty_topic() {
        let hub = Hub::new();
        hub.subscribe("t", subscriber(Vsn::V2));
        hub.broadcast("t", "e", &Payload::empty());
        hub.broadcast("nobody", "e", &Payload::empty());
        assert_eq!(hub.fanout_timing().snapshot().count, 2);
    }
}
