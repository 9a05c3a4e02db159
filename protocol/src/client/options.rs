//! The client's options, with phoenix.js's defaults where phoenix.js has the option.

use super::backoff::Backoff;
use crate::frame::Vsn;

/// Options of a [`super::Socket`].
#[derive(Debug)]
pub struct Options {
    /// The serializer. Default V2, as phoenix.js.
    pub vsn: Vsn,
    /// How long a join or a push waits for its reply. Default 10 000 ms, as phoenix.js.
    pub timeout_ms: u64,
    /// How long after a heartbeat reply the next heartbeat goes out. Default 30 000 ms, as phoenix.js.
    pub heartbeat_interval_ms: u64,
    /// How long a heartbeat may go unanswered before the connection is declared dead. `None` (the default) means
    /// the heartbeat interval, which is what phoenix.js does; a shorter value detects dead links sooner without
    /// sending heartbeats more often.
    pub heartbeat_timeout_ms: Option<u64>,
    /// How long a [`super::Socket::probe`] heartbeat may go unanswered. Default 5 000 ms: a probe is sent when the
    /// page becomes visible or the network returns, when a dead connection should be found quickly.
    pub probe_timeout_ms: u64,
    /// Delays between reconnect attempts. Default: full jitter, see [`Backoff::default_reconnect`].
    pub reconnect: Backoff,
    /// Delays between rejoin attempts of an errored channel. Default phoenix.js's `[1000, 2000, 5000]`, then
    /// 10 000 ms.
    pub rejoin: Backoff,
    /// Limits of the offline queue.
    pub queue: QueueOptions,
    /// Offer each channel's last history position when it rejoins, so a Ferrocast relay replays what was missed.
    /// Phoenix servers ignore the offer. Default `true`.
    pub recovery: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            vsn: Vsn::V2,
            timeout_ms: 10_000,
            heartbeat_interval_ms: 30_000,
            heartbeat_timeout_ms: None,
            probe_timeout_ms: 5_000,
            reconnect: Backoff::default_reconnect(),
            rejoin: Backoff::phoenix_rejoin(),
            queue: QueueOptions::default(),
            recovery: true,
        }
    }
}

impl Options {
    /// The effective heartbeat timeout.
    pub(crate) fn heartbeat_timeout(&self) -> u64 {
        self.heartbeat_timeout_ms.unwrap_or(self.heartbeat_interval_ms)
    }
}

/// Limits of the offline queue, where pushes wait while the socket is down or their channel is not joined.
///
/// phoenix.js buffers without limit; Socket.IO too, and its users see stale messages sent long after they
/// mattered. Here the queue is bounded, each push has a time to live, and every push dropped is reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueOptions {
    /// The most pushes that may wait. Default 1 000.
    pub max_messages: usize,
    /// The most payload and event bytes that may wait. Default 1 MiB.
    pub max_bytes: usize,
    /// How long a push may wait before it is dropped. `None` (the default) means the push's own timeout, as
    /// phoenix.js does with buffered pushes.
    pub ttl_ms: Option<u64>,
    /// What to drop when the queue is full. Default [`Overflow::Reject`].
    pub overflow: Overflow,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions { max_messages: 1_000, max_bytes: 1 << 20, ttl_ms: None, overflow: Overflow::Reject }
    }
}

/// What a full offline queue drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Refuse the new push. The default: the caller learns at once, where it can act, and nothing already
    /// accepted is lost or reordered.
    Reject,
    /// Drop the oldest waiting pushes to make room, for data where only the latest matters.
    DropOldest,
}
