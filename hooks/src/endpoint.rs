//! A backend URL the hooks call: parsed once, when the relay starts, with its circuit breaker. Hooks that share a
//! URL share its breaker, since they share its health.

use crate::breaker::{Breaker, BreakerSettings, Permit, State};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// One backend URL.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) url: reqwest::Url,
    breaker: Mutex<Breaker>,
}

impl Endpoint {
    /// The endpoint of `url`, when it is an http(s) URL.
    pub(crate) fn parse(url: &str, breaker: BreakerSettings) -> Option<Self> {
        let parsed = reqwest::Url::parse(url).ok().filter(|url| matches!(url.scheme(), "http" | "https"))?;
        Some(Endpoint { url: parsed, breaker: Mutex::new(Breaker::new(breaker, Instant::now())) })
    }

    /// Whether a call may go out now.
    pub(crate) fn admit(&self) -> Option<Permit> {
        self.breaker().admit(Instant::now())
    }

    /// Counts a call's outcome: whether the backend was up.
    pub(crate) fn record(&self, permit: Permit, up: bool) {
        self.breaker().record(permit, up, Instant::now());
    }

    /// The breaker's state now.
    pub(crate) fn state(&self) -> State {
        self.breaker().state(Instant::now())
    }

    /// The breaker, even after a panic elsewhere held its lock: it stays usable.
    fn breaker(&self) -> MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
