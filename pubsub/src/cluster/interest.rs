//! The topics this relay follows in Redis: those its clients joined, and no others.
//!
//! Each topic is published on a channel of its own, so a relay subscribes to the topics its clients joined, and
//! Redis's egress and each relay's work grow with the relay's own audience rather than with the whole cluster's
//! traffic (as Centrifugo's Redis engine and Socket.IO's sharded adapter do).
//!
//! - A join of a topic that is not followed asks the [`follower`](super::follower) to follow it and waits: the
//!   follower subscribes to the topic's channel, reads what the topic's stream kept, and only then lets the join go
//!   on, so it sees what a relay that had followed the topic all along would. While the link to Redis is down,
//!   joins do not wait: the topic is followed at once, and the follower subscribes and reads it when the link comes
//!   back, as it does for every followed topic.
//! - A topic nobody here has joined for two sweeps in a row is followed no more, and its copy of the history is
//!   forgotten with it (it would only go stale). A [`FollowGuard`] taken when a join found the topic followed keeps
//!   it followed until the join's subscription is made.

use crate::following::{FollowGuard, Following};
use crate::hub::Hub;
use crate::sharded::{Sharded, lock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// The followed topics, and the requests to follow more.
#[derive(Debug)]
pub(crate) struct Interest {
    topics: Sharded<Mutex<HashMap<String, Topic>>>,
    requests: mpsc::UnboundedSender<String>,
    /// Whether the follower is linked to Redis: only then does a join wait for its topic.
    linked: AtomicBool,
}

#[derive(Debug, Default)]
struct Topic {
    /// Joins waiting for the topic to be followed; empty once it is.
    waiting: Option<Vec<oneshot::Sender<()>>>,
    /// Guards alive: joins between finding the topic followed and subscribing.
    guards: usize,
    /// A sweep found nobody subscribed, and no join came since.
    seen_vacant: bool,
}

impl Interest {
    /// The interest, and where the follower reads the topics to follow.
    pub(crate) fn new() -> (Arc<Self>, mpsc::UnboundedReceiver<String>) {
        let (requests, requested) = mpsc::unbounded_channel();
        let interest = Interest { topics: Sharded::default(), requests, linked: AtomicBool::new(false) };
        (Arc::new(interest), requested)
    }

    /// The hub's question (see [`crate::following`]).
    pub(crate) fn follow(self: &Arc<Self>, topic: &str) -> Following {
        let mut topics = lock(self.topics.shard(topic));
        let linked = self.linked.load(Ordering::Acquire);
        let entry = topics.entry(topic.to_owned()).or_insert_with(|| {
            let waiting = linked.then(Vec::new);
            if linked {
                // The follower is linked, so it takes this request; it reads it after the link comes back otherwise.
                let _ = self.requests.send(topic.to_owned());
            }
            Topic { waiting, ..Topic::default() }
        });
        entry.seen_vacant = false;
        match &mut entry.waiting {
            None => {
                entry.guards += 1;
                Following::Now(FollowGuard::holding(Guard { interest: Arc::clone(self), topic: topic.to_owned() }))
            }
            Some(waiting) => {
                // Joins that gave up (their connection closed) leave their senders behind: drop those first.
                waiting.retain(|sender| !sender.is_closed());
                let (followed, wait) = oneshot::channel();
                waiting.push(followed);
                Following::Soon(Box::pin(async move {
                    let _ = wait.await;
                }))
            }
        }
    }

    /// Whether broadcasts of `topic` are wanted here.
    pub(crate) fn follows(&self, topic: &str) -> bool {
        lock(self.topics.shard(topic)).contains_key(topic)
    }

    /// Every topic followed or waiting to be, to subscribe to when the link is made.
    pub(crate) fn topics(&self) -> Vec<String> {
        self.topics.shards().flat_map(|shard| lock(shard).keys().cloned().collect::<Vec<_>>()).collect()
    }

    /// Of `topics`, those still waiting to be followed.
    pub(crate) fn still_waiting(&self, topics: impl IntoIterator<Item = String>) -> Vec<String> {
        topics
            .into_iter()
            .filter(|topic| lock(self.topics.shard(topic)).get(topic).is_some_and(|entry| entry.waiting.is_some()))
            .collect()
    }

    /// `topics` are followed: their joins go on.
    pub(crate) fn followed<'a>(&self, topics: impl IntoIterator<Item = &'a String>) {
        for topic in topics {
            let waiting = lock(self.topics.shard(topic)).get_mut(topic).and_then(|entry| entry.waiting.take());
            for join in waiting.into_iter().flatten() {
                let _ = join.send(());
            }
        }
    }

    /// The link is made (`true`) or lost: while it is lost, joins do not wait, and those waiting go on.
    pub(crate) fn linked(&self, linked: bool) {
        self.linked.store(linked, Ordering::Release);
        if !linked {
            let topics = self.topics();
            self.followed(&topics);
        }
    }

    /// Stops following the topics nobody here subscribed to since the last sweep; returns them, for the follower
    /// to unsubscribe from. Their histories are forgotten by the hub as they go.
    pub(crate) fn sweep(&self, hub: &Hub) -> Vec<String> {
        let mut candidates = Vec::new();
        for shard in self.topics.shards() {
            let topics = lock(shard);
            let idle = topics.iter().filter(|(_, entry)| entry.waiting.is_none() && entry.guards == 0);
            candidates.extend(idle.map(|(topic, entry)| (topic.clone(), entry.seen_vacant)));
        }
        let mut gone = Vec::new();
        for (topic, seen_vacant) in candidates {
            if !seen_vacant {
                if hub.subscriber_count(&topic) == 0 {
                    self.mark_vacant(&topic);
                }
                continue;
            }
            // Under the hub's lock of the topic: no subscription can be made while it is decided.
            let unfollowed = hub.forget_if_vacant(&topic, || {
                let mut topics = lock(self.topics.shard(&topic));
                let idle = topics
                    .get(&topic)
                    .is_some_and(|entry| entry.seen_vacant && entry.waiting.is_none() && entry.guards == 0);
                if idle {
                    topics.remove(&topic);
                }
                idle
            });
            if unfollowed {
                gone.push(topic);
            } else {
                self.mark_occupied(&topic);
            }
        }
        gone
    }

    fn mark_vacant(&self, topic: &str) {
        if let Some(entry) = lock(self.topics.shard(topic)).get_mut(topic) {
            entry.seen_vacant = true;
        }
    }

    fn mark_occupied(&self, topic: &str) {
        if let Some(entry) = lock(self.topics.shard(topic)).get_mut(topic) {
            entry.seen_vacant = false;
        }
    }

    /// How many topics are followed or waiting to be.
    pub(crate) fn len(&self) -> usize {
        self.topics.shards().map(|shard| lock(shard).len()).sum()
    }
}

/// Keeps its topic followed while it lives.
struct Guard {
    interest: Arc<Interest>,
    topic: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(entry) = lock(self.interest.topics.shard(&self.topic)).get_mut(&self.topic) {
            entry.guards -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::{Outbox, OutboxLimits};
    use crate::wire::{ConnId, Subscriber, Wire};
    use ferrocast_protocol::Vsn;

    fn subscriber() -> Subscriber {
        Subscriber {
            conn: ConnId::next(),
            wire: Wire::Phoenix(Vsn::V2),
            outbox: Arc::new(Outbox::new(OutboxLimits::default())),
            positioned: false,
            join_ref: None,
        }
    }

    #[tokio::test]
    async fn a_join_waits_until_the_follower_has_followed_its_topic() {
        let (interest, mut requested) = Interest::new();
        interest.linked(true);
        let Following::Soon(followed) = interest.follow("room:a") else { panic!("followed before asked") };
        assert_eq!(requested.recv().await.as_deref(), Some("room:a"));
        // A second join of the same topic waits too, and asks nothing more.
        let Following::Soon(second) = interest.follow("room:a") else { panic!("followed before asked") };
        assert!(requested.try_recv().is_err());
        assert_eq!(interest.still_waiting(["room:a".to_owned()]), ["room:a"]);
        interest.followed(&["room:a".to_owned()]);
        followed.await;
        second.await;
        assert!(matches!(interest.follow("room:a"), Following::Now(_)));
    }

    #[test]
    fn while_unlinked_a_join_goes_on_and_waiting_joins_are_let_through() {
        let (interest, mut requested) = Interest::new();
        assert!(matches!(interest.follow("room:a"), Following::Now(_)));
        assert!(requested.try_recv().is_err(), "the follower subscribes to every topic when it links");
        assert_eq!(interest.topics(), ["room:a"]);
        interest.linked(true);
        let Following::Soon(waiting) = interest.follow("room:b") else { panic!() };
        interest.linked(false);
        futures_util::FutureExt::now_or_never(waiting).expect("let through when the link is lost");
    }

    #[test]
    fn a_topic_is_unfollowed_after_two_vacant_sweeps_and_never_while_a_guard_lives() {
        let hub = Hub::new();
        let (interest, _requested) = Interest::new();
        let guard = interest.follow("room:a");
        assert!(interest.sweep(&hub).is_empty());
        assert!(interest.sweep(&hub).is_empty(), "a guard keeps it");
        hub.subscribe("room:a", subscriber());
        drop(guard);
        assert!(interest.sweep(&hub).is_empty());
        assert!(interest.sweep(&hub).is_empty(), "a subscriber keeps it");
        let conn = {
            let subscriber = subscriber();
            let conn = subscriber.conn;
            hub.subscribe("room:b", subscriber);
            conn
        };
        drop(interest.follow("room:b"));
        assert!(interest.sweep(&hub).is_empty());
        hub.unsubscribe("room:b", conn);
        assert!(interest.sweep(&hub).is_empty(), "seen vacant once");
        assert_eq!(interest.sweep(&hub), ["room:b"]);
        assert!(!interest.follows("room:b"));
        assert!(interest.follows("room:a"));
    }

    #[test]
    fn a_join_between_two_sweeps_keeps_its_topic() {
        let hub = Hub::new();
        let (interest, _requested) = Interest::new();
        drop(interest.follow("room:a"));
        assert!(interest.sweep(&hub).is_empty());
        drop(interest.follow("room:a"));
        assert!(interest.sweep(&hub).is_empty(), "the join cleared what the first sweep saw");
        assert_eq!(interest.sweep(&hub), ["room:a"]);
        assert_eq!(interest.len(), 0);
    }
}
