//! The names the webhooks use in Redis, besides the journal (`ferrocast_pubsub::JOURNAL`), whose consumer group
//! of an endpoint is named as the endpoint. Every relay sharing one Redis must agree on them.

/// The set of relays that append to the journal, each alive while its [`alive`] key lasts.
pub(crate) const RELAYS: &str = "ferrocast:webhooks:relays";

/// The topics vacated and waiting for the delay: a sorted set, topic -> when it is due (Unix ms).
pub(crate) const VACATING: &str = "ferrocast:webhooks:vacating";

/// When each topic of [`VACATING`] was vacated.
pub(crate) const VACATED_AT: &str = "ferrocast:webhooks:vacated-at";

/// The prefix of a topic's occupancy hash: relay -> 1 for each relay holding a subscriber.
pub(crate) const OCCUPANCY_PREFIX: &str = "ferrocast:webhooks:occupancy:";

pub(crate) fn occupancy(topic: &str) -> String {
    format!("{OCCUPANCY_PREFIX}{topic}")
}

/// Exists while `relay` runs (it renews it each second).
pub(crate) fn alive(relay: &str) -> String {
    format!("ferrocast:webhooks:alive:{relay}")
}

/// The topics `relay` holds a subscriber of.
pub(crate) fn held(relay: &str) -> String {
    format!("ferrocast:webhooks:held:{relay}")
}

/// The presence metas `relay`'s connections track.
pub(crate) fn members(relay: &str) -> String {
    format!("ferrocast:webhooks:members:{relay}")
}

/// The relay that sends for `endpoint` now, as long as it renews it.
pub(crate) fn lease(endpoint: &str) -> String {
    format!("ferrocast:webhooks:{endpoint}:sender")
}

/// Exists while some relay is configured with `endpoint` (renewed by each such relay).
pub(crate) fn configured(endpoint: &str) -> String {
    format!("ferrocast:webhooks:{endpoint}:configured")
}

/// `endpoint`'s dead letters, oldest first.
pub(crate) fn dead(endpoint: &str) -> String {
    format!("ferrocast:webhooks:{endpoint}:dead")
}

/// `endpoint`'s batches to send again first (`redeliver`).
pub(crate) fn again(endpoint: &str) -> String {
    format!("ferrocast:webhooks:{endpoint}:again")
}

/// How many of `endpoint`'s dead events were forgotten past the dead letters' bound.
pub(crate) fn forgotten(endpoint: &str) -> String {
    format!("ferrocast:webhooks:{endpoint}:forgotten")
}
