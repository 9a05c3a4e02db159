//! Whether a hub receives a topic's broadcasts, for hubs that receive only the topics they asked for.
//!
//! A hub on its own numbers every broadcast itself, so it always has every topic. A hub whose broadcasts are numbered
//! upstream (several relays on Redis, see [`crate::cluster`]) gets back only the topics its relay follows: those
//! its clients joined. A join, an event stream or a history read of a topic the relay does not follow yet waits
//! until it does, which includes having read what Redis kept of the topic, so the join's reply, its replay and
//! the broadcasts after it are exactly what a relay that followed the topic all along would send.
//!
//! Between the moment a topic is found followed and the moment its subscription is made, the relay must not stop
//! following it: a [`FollowGuard`] holds it until then.

use std::future::Future;
use std::pin::Pin;

/// Whether a topic's broadcasts reach the hub.
pub enum Following {
    /// They do; the guard keeps it so while it lives.
    Now(FollowGuard),
    /// Not yet: the relay has started following the topic, and the future completes once it does. Ask again then.
    Soon(Pin<Box<dyn Future<Output = ()> + Send>>),
}

impl std::fmt::Debug for Following {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Following::Now(_) => f.write_str("Following::Now"),
            Following::Soon(_) => f.write_str("Following::Soon"),
        }
    }
}

/// Keeps a followed topic followed while it lives (see the module's documentation).
#[derive(Default)]
#[must_use = "the topic may stop being followed as soon as its guard is dropped"]
pub struct FollowGuard(Option<Box<dyn Send + Sync>>);

impl FollowGuard {
    /// A guard that keeps nothing: for a hub that has every topic.
    pub fn none() -> Self {
        FollowGuard(None)
    }

    /// A guard that keeps its topic followed until `held` is dropped.
    pub(crate) fn holding(held: impl Send + Sync + 'static) -> Self {
        FollowGuard(Some(Box::new(held)))
    }
}

impl std::fmt::Debug for FollowGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "FollowGuard(holding)" } else { "FollowGuard(none)" })
    }
}
