//! Which relay sends for an endpoint: the one holding its lease, a Redis key with its name that it renews each
//! second and that lapses [`LEASE`] after its last renewal. A relay counts itself the holder only until a second
//! before the lease could lapse, so two relays never both think they hold it (short of a clock that jumps); a
//! batch sent twice across a change of holder keeps its `webhook-id`, so a receiver that deduplicates sees it once.

use super::super::event::now_ms;
use ferrocast_pubsub::RedisLink;
use redis::Script;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// How long a lease lasts unrenewed: the claim timeout after which another relay sends the batch of a relay that
/// died mid-send.
pub(crate) const LEASE: Duration = Duration::from_secs(5);

/// How long before the lease could lapse its holder stops counting on it.
const MARGIN: Duration = Duration::from_secs(1);

static KEEP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          return redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
          return 1
        end
        return 0",
    )
});

/// This relay's hold on one endpoint's lease.
#[derive(Debug, Default)]
pub(crate) struct Lease {
    /// Until when (Unix ms) this relay surely holds it.
    until_ms: AtomicU64,
    /// Woken when this relay takes the lease.
    pub(crate) taken: Notify,
    /// How many times it took it.
    times: AtomicU64,
}

impl Lease {
    /// Whether this relay holds the lease now.
    pub(crate) fn held(&self) -> bool {
        now_ms() < self.until_ms.load(Ordering::Relaxed)
    }

    /// How many times this relay took the lease.
    pub(crate) fn times_taken(&self) -> u64 {
        self.times.load(Ordering::Relaxed)
    }

    /// Stops counting on the lease; whether this relay held it.
    pub(crate) fn let_go(&self) -> bool {
        let held = self.held();
        self.until_ms.store(0, Ordering::Relaxed);
        held
    }

    /// Renews the lease if this relay holds it, takes it if nobody does; whether this relay holds it.
    pub(crate) async fn keep(&self, redis: &mut RedisLink, key: &str, relay: &str) -> bool {
        let asked = now_ms();
        let kept: Result<i64, _> = KEEP.key(key).arg(relay).arg(LEASE.as_millis() as u64).invoke_async(redis).await;
        let held = matches!(kept, Ok(1));
        let was = self.held();
        let until = if held { asked + (LEASE - MARGIN).as_millis() as u64 } else { 0 };
        self.until_ms.store(until, Ordering::Relaxed);
        if held && !was {
            tracing::info!(lease = key, "this relay sends the endpoint's webhooks now");
            self.times.fetch_add(1, Ordering::Relaxed);
            self.taken.notify_one();
        }
        held
    }
}
