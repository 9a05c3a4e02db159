//! A connection's end of life: the connect hook's `expire_at` (or, where a refresh hook can extend it, a token's
//! `exp`). With a refresh hook the relay asks it a little before the end (the hook's time limit and a second
//! ahead), and each `expire_at` it answers moves the end; otherwise, or when the hook refuses or does not answer in
//! time, the connection closes at the end with [`crate::close::EXPIRED`], and the client reconnects, asking again.

use ferrocast_hooks::Hooks;
use ferrocast_pubsub::Caller;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// When a connection ends, and who may extend it.
#[derive(Debug)]
pub(crate) struct Lifetime {
    pub(crate) expires_at: u64,
    pub(crate) refresh: Option<(Arc<Hooks>, Caller, String)>,
}

impl Lifetime {
    /// Completes when the connection must close.
    pub(crate) async fn ended(mut self) {
        loop {
            let end = instant_of(self.expires_at);
            let Some((hooks, caller, user)) = &self.refresh else { return tokio::time::sleep_until(end).await };
            let ahead = hooks.settings().timeout + Duration::from_secs(1);
            tokio::time::sleep_until(end.checked_sub(ahead).unwrap_or(end)).await;
            match tokio::time::timeout_at(end, hooks.refresh(caller, user)).await {
                Ok(Ok(expires_at)) if expires_at > self.expires_at => self.expires_at = expires_at,
                Ok(Ok(_)) => return tokio::time::sleep_until(end).await,
                Ok(Err(why)) => {
                    tracing::info!(client = caller.client, %why, "a connection was not extended: it closes at its end");
                    return tokio::time::sleep_until(end).await;
                }
                Err(_) => return,
            }
        }
    }
}

/// The instant of a Unix time in seconds (now, for one already past).
fn instant_of(unix_seconds: u64) -> Instant {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let left = Duration::from_secs(unix_seconds).saturating_sub(now);
    // Far-off times (no expiry given as u64::MAX) stay far off without overflowing the clock.
    Instant::now() + left.min(Duration::from_secs(100 * 365 * 24 * 3600))
}
