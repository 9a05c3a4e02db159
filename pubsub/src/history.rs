//! A topic's history: every broadcast gets the next offset, and the latest ones are kept for a while so a client
//! that missed them (a reconnect, a page that slept) can catch up.
//!
//! Offsets start at 1 and only grow; 0 is the position of a topic nothing was broadcast on yet. The epoch names
//! one continuous history. It is made when the topic's history is, so it changes whenever the history is lost: the
//! relay restarted (history is in memory), or the topic was idle long enough to be forgotten. A position from
//! another epoch therefore never matches by accident.
//!
//! History is bounded three ways per topic, by count, by payload bytes and by age, and by payload bytes over all
//! topics: a client that may publish cannot make the relay keep a megabyte on each of a million topics. Whatever
//! falls out is gone; a client asking for it is told its recovery was incomplete rather than handed a gap.
//!
//! The total is one atomic byte counter (`Budget`, with the hub's limits), the only state topics share when they
//! keep a broadcast: a topic over it makes room from its own oldest broadcasts, and one that holds none keeps
//! nothing until others' expire. A broadcast that is not kept clears what came before it, so the kept offsets never
//! have a gap. A broadcast numbered elsewhere ([`History::append_at`]) that skips offsets or starts a new epoch is
//! kept as [`Appended::AfterLoss`], for the hub to tell whoever followed the topic live.

use ferrocast_protocol::{Payload, Position};
use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The epoch of a topic whose history is numbered elsewhere (by Redis, for several relays) while nothing of it has
/// reached this relay: its position is offset 0 of no history yet. A client that joined then and offers that
/// position saw nothing, so it is recovered if the topic's history, whichever epoch it now has, is still complete
/// from its first broadcast; every relay gives an unnumbered topic this same epoch, so a client that moves between
/// relays of a quiet topic is recovered too.
pub(crate) const NOT_YET_NUMBERED: &str = "none";

/// How much history each topic keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// The most broadcasts kept per topic; 0 keeps none (offsets are still given).
    pub max_messages: usize,
    /// The most payload bytes kept per topic.
    pub max_bytes: usize,
    /// How long a broadcast is kept.
    pub ttl: Duration,
    /// The most payload bytes kept over all topics. Past it, a topic makes room by dropping its own oldest
    /// broadcasts, and a topic that holds none keeps nothing until others' expire.
    pub max_total_bytes: usize,
}

impl Default for HistoryLimits {
    /// 1,000 broadcasts, 1 MiB and 5 minutes per topic: enough for a page to come back from a network change or
    /// a laptop lid, and below a connection's outbox (4,096 frames, 4 MiB), so a full replay always fits in it.
    /// 256 MiB over all topics.
    fn default() -> Self {
        HistoryLimits {
            max_messages: 1_000,
            max_bytes: 1 << 20,
            ttl: Duration::from_secs(300),
            max_total_bytes: 256 << 20,
        }
    }
}

/// What one hub's histories keep together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryUsage {
    /// The payload bytes kept over all topics.
    pub kept_bytes: u64,
    /// Broadcasts not kept because the histories together were at [`HistoryLimits::max_total_bytes`].
    pub not_kept: u64,
}

/// The history limits of one hub, and what all its topics keep together against
/// [`HistoryLimits::max_total_bytes`]: the bytes kept, and the broadcasts not kept for want of room.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    pub(crate) limits: HistoryLimits,
    bytes: AtomicUsize,
    refused: AtomicU64,
}

impl Budget {
    pub(crate) fn new(limits: HistoryLimits) -> Self {
        Budget { limits, ..Budget::default() }
    }

    /// Takes `bytes` from what is left of the total, if they fit.
    fn take(&self, bytes: usize) -> bool {
        let max = self.limits.max_total_bytes;
        self.bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |kept| {
                kept.checked_add(bytes).filter(|total| *total <= max)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// The payload bytes kept now.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The broadcasts not kept because the histories together were full.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// One broadcast kept in history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retained {
    /// Its offset in the topic's history, from 1; the offsets a topic keeps are consecutive.
    pub offset: u64,
    /// Its event name.
    pub event: String,
    /// Its payload as broadcast; its length counts against the history's byte limits.
    pub payload: Payload,
}

#[derive(Debug)]
struct Kept {
    retained: Retained,
    at: Instant,
}

/// Where to start sending a topic's history from, for a client that offered a position (or none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resume {
    /// Send every broadcast with an offset above this one.
    pub after: u64,
    /// Whether everything after the offered position is still there; `None` when no position was offered.
    pub recovered: Option<bool>,
}

/// What [`History::append_at`] made of a broadcast numbered elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Appended {
    /// The history had it already.
    Known,
    /// Kept; it follows the last one (or is the first this relay sees of the topic).
    Next,
    /// Kept, but broadcasts before it will never reach this relay: its offset skips some, or its epoch replaced
    /// the one this relay had followed (the shared history was lost). Whoever followed the topic live missed them.
    AfterLoss,
}

/// The history of one topic.
#[derive(Debug)]
pub(crate) struct History {
    epoch: Arc<str>,
    last: u64,
    kept: VecDeque<Kept>,
    bytes: usize,
}

impl History {
    pub(crate) fn new(epoch: Arc<str>) -> Self {
        History { epoch, last: 0, kept: VecDeque::new(), bytes: 0 }
    }

    /// The topic's current position: the offset of its latest broadcast.
    pub(crate) fn position(&self) -> Position {
        Position { offset: self.last, epoch: self.epoch.to_string() }
    }

    pub(crate) fn epoch(&self) -> &Arc<str> {
        &self.epoch
    }

    /// Numbers a broadcast and keeps it if it fits; returns its offset.
    pub(crate) fn append(&mut self, event: &str, payload: &Payload, now: Instant, budget: &Budget) -> u64 {
        let limits = &budget.limits;
        self.last += 1;
        self.expire(now, budget);
        let len = payload.len();
        let mut keep = limits.max_messages > 0 && len <= limits.max_bytes;
        if keep {
            // This topic's own limits first, then room in the total, made from this topic's oldest if need be.
            while !self.kept.is_empty()
                && (self.kept.len() >= limits.max_messages || self.bytes + len > limits.max_bytes)
            {
                self.drop_oldest(budget);
            }
            while !budget.take(len) {
                if self.kept.is_empty() {
                    budget.refused.fetch_add(1, Ordering::Relaxed);
                    keep = false;
                    break;
                }
                self.drop_oldest(budget);
            }
        }
        if keep {
            let retained = Retained { offset: self.last, event: event.to_owned(), payload: payload.clone() };
            self.bytes += len;
            self.kept.push_back(Kept { retained, at: now });
        } else {
            // Not kept, so nothing before it can be replayed without a gap either: kept offsets stay consecutive.
            self.clear(budget);
        }
        self.last
    }

    /// Keeps a broadcast numbered elsewhere (by Redis, for every relay of a cluster) at `offset` of `epoch`, made at
    /// `at`. Another epoch starts the history again (the shared history was lost), and an offset past the next one
    /// forgets what is kept: nothing before the gap can be replayed without it.
    pub(crate) fn append_at(
        &mut self,
        offset: u64,
        epoch: &str,
        event: &str,
        payload: &Payload,
        at: Instant,
        budget: &Budget,
    ) -> Appended {
        let appended = if *self.epoch != *epoch {
            // Leaving the placeholder of a topic nothing had numbered here loses nothing: there was nothing to follow.
            let followed = *self.epoch != *NOT_YET_NUMBERED;
            self.clear(budget);
            *self = History::new(Arc::from(epoch));
            if followed { Appended::AfterLoss } else { Appended::Next }
        } else if offset <= self.last {
            return Appended::Known;
        } else if offset == self.last + 1 {
            Appended::Next
        } else {
            Appended::AfterLoss
        };
        if offset != self.last + 1 {
            self.clear(budget);
            self.last = offset - 1;
        }
        self.append(event, payload, at, budget);
        appended
    }

    /// Forgets what is older than the time limit.
    pub(crate) fn expire(&mut self, now: Instant, budget: &Budget) {
        while self.kept.front().is_some_and(|kept| now.saturating_duration_since(kept.at) > budget.limits.ttl) {
            self.drop_oldest(budget);
        }
    }

    /// Forgets everything kept.
    pub(crate) fn clear(&mut self, budget: &Budget) {
        while !self.kept.is_empty() {
            self.drop_oldest(budget);
        }
    }

    /// Whether nothing is kept: a topic with no history and no subscribers can be forgotten.
    pub(crate) fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Where to resume a client that offered `offered`. With no position, or one that cannot be served (another
    /// epoch, a future offset, or older than what is kept), the client gets what came after `otherwise`.
    pub(crate) fn resume(&self, offered: Option<&Position>, otherwise: u64) -> Resume {
        let Some(offered) = offered else { return Resume { after: otherwise, recovered: None } };
        let saw_nothing = offered.offset == 0 && offered.epoch == NOT_YET_NUMBERED;
        if (*offered.epoch == *self.epoch || saw_nothing) && self.has_everything_after(offered.offset) {
            Resume { after: offered.offset, recovered: Some(true) }
        } else {
            Resume { after: otherwise, recovered: Some(false) }
        }
    }

    /// Whether every broadcast after offset `after` of this history is still kept (`after` being one it gave).
    pub(crate) fn has_everything_after(&self, after: u64) -> bool {
        let oldest_kept = self.kept.front().map_or(self.last + 1, |kept| kept.retained.offset);
        after <= self.last && after + 1 >= oldest_kept
    }

    /// The kept broadcasts with an offset above `after`, oldest first.
    pub(crate) fn after(&self, after: u64) -> impl Iterator<Item = &Retained> {
        let start = self.kept.partition_point(|kept| kept.retained.offset <= after);
        self.kept.range(start..).map(|kept| &kept.retained)
    }

    fn drop_oldest(&mut self, budget: &Budget) {
        if let Some(kept) = self.kept.pop_front() {
            self.bytes -= kept.retained.payload.len();
            budget.give_back(kept.retained.payload.len());
        }
    }
}

/// Makes epochs: a random prefix for this process, so histories of a restarted relay never reuse an epoch, and a
/// counter for the topics of this one.
#[derive(Debug)]
pub(crate) struct Epochs {
    process: u64,
    next: AtomicU64,
}

impl Default for Epochs {
    fn default() -> Self {
        // The standard library seeds every `RandomState` from the operating system's randomness.
        let process = RandomState::new().hash_one(std::process::id());
        Epochs { process, next: AtomicU64::new(0) }
    }
}

impl Epochs {
    /// A new epoch, such as `3f9c2a81d04e-7`: short, since positioned broadcasts carry it.
    pub(crate) fn next(&self) -> Arc<str> {
        let count = self.next.fetch_add(1, Ordering::Relaxed);
        Arc::from(format!("{:012x}-{count:x}", self.process & 0xffff_ffff_ffff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_messages: usize) -> HistoryLimits {
        HistoryLimits { max_messages, ..HistoryLimits::default() }
    }

    fn json(text: &str) -> Payload {
        Payload::Json(text.to_owned())
    }

    fn filled(count: u64, budget: &Budget) -> History {
        let mut history = History::new(Arc::from("e"));
        let now = Instant::now();
        for n in 1..=count {
            assert_eq!(history.append("n", &json(&n.to_string()), now, budget), n);
        }
        history
    }

    fn offsets(history: &History, after: u64) -> Vec<u64> {
        history.after(after).map(|retained| retained.offset).collect()
    }

    fn at(offset: u64, epoch: &str) -> Position {
        Position { offset, epoch: epoch.to_owned() }
    }

    #[test]
    fn offsets_count_up_from_one_and_the_oldest_go_first() {
        let history = filled(5, &Budget::new(limits(3)));
        assert_eq!(history.position(), at(5, "e"));
        assert_eq!(offsets(&history, 0), [3, 4, 5]);
        assert_eq!(offsets(&history, 4), [5]);
        assert_eq!(offsets(&history, 5), [] as [u64; 0]);
    }

    #[test]
    fn a_position_within_what_is_kept_recovers_from_there() {
        let history = filled(5, &Budget::new(limits(3)));
        assert_eq!(history.resume(Some(&at(2, "e")), 5), Resume { after: 2, recovered: Some(true) });
        assert_eq!(history.resume(Some(&at(5, "e")), 5), Resume { after: 5, recovered: Some(true) });
    }

    #[test]
    fn a_position_that_cannot_be_served_is_not_recovered() {
        let history = filled(5, &Budget::new(limits(3)));
        let lost = Resume { after: 4, recovered: Some(false) };
        assert_eq!(history.resume(Some(&at(1, "e")), 4), lost, "offset 2 is no longer kept");
        assert_eq!(history.resume(Some(&at(3, "other")), 4), lost, "another epoch");
        assert_eq!(history.resume(Some(&at(9, "e")), 4), lost, "an offset this history never gave");
        assert_eq!(history.resume(None, 4), Resume { after: 4, recovered: None });
    }

    #[test]
    fn an_empty_history_recovers_a_client_that_saw_everything() {
        let history = filled(3, &Budget::new(limits(0)));
        assert_eq!(offsets(&history, 0), [] as [u64; 0], "nothing kept, offsets still given");
        assert_eq!(history.resume(Some(&at(3, "e")), 3).recovered, Some(true));
        assert_eq!(history.resume(Some(&at(2, "e")), 3).recovered, Some(false));
    }

    #[test]
    fn bytes_and_age_bound_it_too() {
        let by_bytes = Budget::new(HistoryLimits { max_bytes: 5, ..HistoryLimits::default() });
        let history = filled(12, &by_bytes);
        // Payloads "10", "11", "12": 2 bytes each, so two fit in 5.
        assert_eq!(offsets(&history, 0), [11, 12]);
        let four = Budget::new(HistoryLimits { max_bytes: 4, ..HistoryLimits::default() });
        let mut history = filled(3, &four);
        history.append("big", &json("12345"), Instant::now(), &four);
        assert!(history.is_empty(), "what came before a message too big to keep cannot be replayed without a gap");
        assert_eq!(history.resume(Some(&at(3, "e")), 4).recovered, Some(false));

        let by_age = Budget::new(HistoryLimits { ttl: Duration::from_secs(1), ..HistoryLimits::default() });
        let mut history = filled(2, &by_age);
        history.expire(Instant::now() + Duration::from_secs(2), &by_age);
        assert!(history.is_empty());
        assert_eq!(history.position(), at(2, "e"), "forgetting messages keeps the offsets going");
    }

    #[test]
    fn every_topic_together_keeps_at_most_the_total_and_a_full_one_makes_room_from_its_own() {
        // 10 bytes in all: payloads of 3 bytes ("101".."301").
        let ttl = Duration::from_secs(1);
        let budget = Budget::new(HistoryLimits { max_total_bytes: 10, ttl, ..HistoryLimits::default() });
        let (mut first, mut second) = (History::new(Arc::from("a")), History::new(Arc::from("b")));
        let now = Instant::now();
        for n in 101..=103 {
            first.append("n", &json(&n.to_string()), now, &budget);
        }
        assert_eq!(budget.bytes(), 9);
        second.append("n", &json("201"), now, &budget);
        assert_eq!(offsets(&second, 0), [] as [u64; 0], "no room, and none of its own to make room from");
        assert_eq!((budget.bytes(), budget.refused()), (9, 1));
        assert_eq!(second.resume(Some(&at(0, "b")), 1).recovered, Some(false), "told, rather than handed a gap");

        first.append("n", &json("104"), now, &budget);
        assert_eq!(offsets(&first, 0), [2, 3, 4], "a full topic goes on keeping its latest, from its own room");
        assert_eq!((budget.bytes(), budget.refused()), (9, 1));

        first.expire(now + 2 * ttl, &budget);
        assert_eq!(budget.bytes(), 0, "what expires is given back");
        second.append("n", &json("202"), now, &budget);
        assert_eq!(offsets(&second, 0), [2]);
        second.append_at(1, "reset", "n", &json("301"), now, &budget);
        assert_eq!(budget.bytes(), 3, "a history started again gives back what the old one kept");
    }

    #[test]
    fn broadcasts_numbered_elsewhere_keep_their_offsets() {
        let budget = Budget::new(limits(10));
        let mut history = History::new(Arc::from(NOT_YET_NUMBERED));
        let now = Instant::now();
        let mut append = |offset: u64, epoch: &str| history.append_at(offset, epoch, "n", &json("1"), now, &budget);
        assert_eq!(append(4, "shared"), Appended::Next, "the first numbered broadcast seen here loses nothing");
        assert_eq!(append(5, "shared"), Appended::Next);
        assert_eq!(append(5, "shared"), Appended::Known, "a duplicate");
        assert_eq!(history.position(), at(5, "shared"));
        assert_eq!(history.resume(Some(&at(3, "shared")), 5).recovered, Some(true));

        let mut append = |offset: u64, epoch: &str| history.append_at(offset, epoch, "n", &json("1"), now, &budget);
        assert_eq!(append(8, "shared"), Appended::AfterLoss, "6 and 7 never came");
        assert_eq!(offsets(&history, 0), [8], "what came before a gap is not replayed across it");
        assert_eq!(history.resume(Some(&at(5, "shared")), 8).recovered, Some(false));

        let mut append = |offset: u64, epoch: &str| history.append_at(offset, epoch, "n", &json("1"), now, &budget);
        assert_eq!(append(1, "reset"), Appended::AfterLoss, "the shared history was lost, and what it had with it");
        assert_eq!(append(2, "reset"), Appended::Next);
        assert_eq!(history.position(), at(2, "reset"));
    }

    #[test]
    fn a_client_that_joined_before_anything_was_numbered_recovers_from_the_first_broadcast() {
        let budget = Budget::new(limits(3));
        let mut history = History::new(Arc::from(NOT_YET_NUMBERED));
        let nothing = at(0, NOT_YET_NUMBERED);
        assert_eq!(history.resume(Some(&nothing), 0).recovered, Some(true), "still nothing");
        for offset in 1..=3 {
            history.append_at(offset, "shared", "n", &json("1"), Instant::now(), &budget);
        }
        assert_eq!(history.resume(Some(&nothing), 3), Resume { after: 0, recovered: Some(true) });
        history.append_at(4, "shared", "n", &json("1"), Instant::now(), &budget);
        assert_eq!(history.resume(Some(&nothing), 4).recovered, Some(false), "offset 1 is no longer kept");
        assert_eq!(history.resume(Some(&at(0, "another")), 4).recovered, Some(false), "a real epoch must match");
    }

    #[test]
    fn epochs_differ_between_topics_and_processes() {
        let (a, b) = (Epochs::default(), Epochs::default());
        let (a0, a1) = (a.next(), a.next());
        assert_ne!(a0, a1);
        assert_ne!(a0, b.next(), "another hub (a restarted relay) starts another series");
    }
}
