//! The open event-stream sockets by token, so that a POST reaches the session whose stream gave the token.

use axum::body::Bytes;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;

/// The open sessions' inboxes by token.
#[derive(Debug, Default)]
pub(crate) struct SseSessions {
    inboxes: RwLock<HashMap<String, mpsc::Sender<Bytes>>>,
}

impl SseSessions {
    /// Gives a session's inbox a new token, valid until the registration drops.
    pub(crate) fn register(self: &Arc<Self>, sender: mpsc::Sender<Bytes>) -> Registration {
        let token = new_token();
        self.inboxes.write().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(token.clone(), sender);
        Registration { sessions: Arc::clone(self), token }
    }

    /// The inbox of the session that holds `token`, while it is open.
    pub(crate) fn inbox(&self, token: &str) -> Option<mpsc::Sender<Bytes>> {
        self.inboxes.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(token).cloned()
    }
}

/// Keeps a session's token valid until the stream ends.
pub(crate) struct Registration {
    sessions: Arc<SseSessions>,
    token: String,
}

impl Registration {
    /// What the client's POSTs carry to reach this session.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.sessions.inboxes.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&self.token);
    }
}

/// 128 bits no one can guess: whoever holds a token can send as its session. `RandomState` keys SipHash with the
/// operating system's randomness, so hashing a counter with fresh states is a keyed pseudo-random function.
fn new_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}{:016x}", RandomState::new().hash_one(count), RandomState::new().hash_one(!count))
}
