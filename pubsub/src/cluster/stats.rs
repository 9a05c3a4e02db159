//! What a relay counts of its link to Redis, for `GET /metrics`: above all the gaps, so an operator sees when
//! Redis was away, what waited for it, and what could not be recovered.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The counters, each updated with one atomic operation.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) connected: AtomicBool,
    pub(crate) disconnects: AtomicU64,
    pub(crate) published: AtomicU64,
    pub(crate) publish_retries: AtomicU64,
    pub(crate) queued: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) refilled: AtomicU64,
    pub(crate) lost: AtomicU64,
    pub(crate) history_resets: AtomicU64,
    pub(crate) rewound: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) peers: AtomicU64,
    pub(crate) peers_expired: AtomicU64,
    pub(crate) presence_resent: AtomicU64,
    pub(crate) presence_states: AtomicU64,
}

/// A reading of a relay's link to Redis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterSnapshot {
    /// Whether the relay is linked to Redis, reading the channels of the topics it follows, now.
    pub connected: bool,
    /// Topics this relay follows in Redis now (those its clients joined, see `interest.rs`).
    pub topics_followed: u64,
    /// How many times the link to Redis was lost.
    pub disconnects: u64,
    /// Broadcasts of this relay that Redis numbered.
    pub published: u64,
    /// Publishes sent again because Redis did not answer (each is done once: see `publish.lua`).
    pub publish_retries: u64,
    /// Broadcasts of this relay waiting for Redis now.
    pub queued: u64,
    /// Broadcasts of this relay dropped because the queue for Redis was full.
    pub dropped: u64,
    /// Numbered broadcasts received from Redis, from every relay, of the topics this one follows.
    pub received: u64,
    /// Broadcasts missed on the channel (while disconnected) and read back from their topics' streams.
    pub refilled: u64,
    /// Broadcasts missed on the channel and no longer in their streams: their topics' recovery is incomplete.
    pub lost: u64,
    /// Topics whose shared history started again under a new epoch (Redis lost its data, or it expired).
    pub history_resets: u64,
    /// Topics Redis came back without broadcasts this relay had seen (a failover to a replica that had not caught
    /// up, a restart from an older snapshot), whose series this relay started again so that none goes missing
    /// silently.
    pub rewound: u64,
    /// Subscribers told that broadcasts they followed were lost for good (see `loss_notice.rs`): a lost
    /// broadcast, or a reset history, with positioned subscribers on the topic.
    pub loss_notices: u64,
    /// Messages from Redis that were not of Ferrocast's form, ignored.
    pub malformed: u64,
    /// Other relays whose presence this one holds.
    pub peers: u64,
    /// Other relays that went silent, whose members were removed.
    pub peers_expired: u64,
    /// Presence changes this relay sent again to a relay that missed them (see `cluster/presence.rs`).
    pub presence_resent: u64,
    /// Times this relay sent all its presence, to a relay that missed more changes than it keeps.
    pub presence_states: u64,
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ClusterSnapshot {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ClusterSnapshot {
            connected: self.connected.load(Ordering::Relaxed),
            topics_followed: 0, // counted by the interest
            disconnects: get(&self.disconnects),
            published: get(&self.published),
            publish_retries: get(&self.publish_retries),
            queued: get(&self.queued),
            dropped: get(&self.dropped),
            received: get(&self.received),
            refilled: get(&self.refilled),
            lost: get(&self.lost),
            history_resets: get(&self.history_resets),
            rewound: get(&self.rewound),
            loss_notices: 0, // counted by the hub
            malformed: get(&self.malformed),
            peers: get(&self.peers),
            peers_expired: get(&self.peers_expired),
            presence_resent: get(&self.presence_resent),
            presence_states: get(&self.presence_states),
        }
    }
}
