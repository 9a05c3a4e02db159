//! A connection's end of life: the connect hook's `expire_at` (or, where a refresh hook can extend it, a token's
//! `exp`). With a refresh hook the relay asks it a little before the end (the hook's time limit and a second
//! ahead), and each `expire_at` it answers moves the end; otherwise, or when the hook refuses or does not answer in
//! time, the connection closes at the end with [`close::EXPIRED`], and the client reconnects, asking again. A
//! `disconnect` answer closes it at once, with the backend's code.

use crate::close;
use ferrocast_hooks::{Hooks, NotExtended};
use ferrocast_pubsub::{Caller, CloseReason};
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
    /// Completes when the connection must close, with the close.
    pub(crate) async fn ended(mut self) -> CloseReason {
        loop {
            let end = instant_of(self.expires_at);
            let Some((hooks, caller, user)) = &self.refresh else {
                tokio::time::sleep_until(end).await;
                return close::EXPIRED;
            };
            let ahead = hooks.settings().timeout + Duration::from_secs(1);
            tokio::time::sleep_until(end.checked_sub(ahead).unwrap_or(end)).await;
            match tokio::time::timeout_at(end, hooks.refresh(caller, user)).await {
                Ok(Ok(expires_at)) if expires_at > self.expires_at => self.expires_at = expires_at,
                Ok(Err(NotExtended::Disconnect { code, reason })) => {
                    return CloseReason { code, reason: reason.into() };
                }
                Ok(answer) => {
                    let why = match answer {
                        Err(NotExtended::Failed(why)) => why,
                        _ => "no later expire_at".to_owned(),
                    };
                    tracing::info!(client = caller.client, %why, "a connection was not extended: it closes at its end");
                    tokio::time::sleep_until(end).await;
                    return close::EXPIRED;
                }
                Err(_) => return close::EXPIRED,
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
