//! The names Ferrocast uses in Redis. Every relay sharing one Redis must agree on them.

/// The channel every relay publishes numbered broadcasts on and reads them from.
pub(crate) const BROADCASTS: &str = "ferrocast:broadcasts";

/// The channel relays tell each other their presence changes on.
pub(crate) const PRESENCE: &str = "ferrocast:presence";

/// The prefix of each topic's meta hash (its epoch and last offset).
pub(crate) const META_PREFIX: &str = "ferrocast:meta:";

/// A topic's meta hash.
pub(crate) fn meta(topic: &str) -> String {
    format!("{META_PREFIX}{topic}")
}

/// A topic's stream of kept broadcasts.
pub(crate) fn stream(topic: &str) -> String {
    format!("ferrocast:stream:{topic}")
}

/// A relay's last publish sequence number, which makes a publish sent again count once.
pub(crate) fn publisher(relay: &str) -> String {
    format!("ferrocast:publisher:{relay}")
}
