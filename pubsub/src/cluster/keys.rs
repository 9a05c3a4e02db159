//! The names Ferrocast uses in Redis. Every relay sharing one Redis must agree on them.
//!
//! A topic's names carry the topic in braces, Redis Cluster's hash tag, so they live in one hash slot together.

/// A topic's channel, where its numbered broadcasts are published for the relays that follow it.
pub(crate) fn broadcasts(topic: &str) -> String {
    format!("ferrocast:{{{topic}}}:broadcasts")
}

/// The channel relays tell each other their presence changes on.
pub(crate) const PRESENCE: &str = "ferrocast:presence";

/// A topic's meta hash: its epoch and last offset.
pub(crate) fn meta(topic: &str) -> String {
    format!("ferrocast:{{{topic}}}:meta")
}

/// A topic's stream of kept broadcasts.
pub(crate) fn stream(topic: &str) -> String {
    format!("ferrocast:{{{topic}}}:stream")
}

/// A push's broadcast by its name (see `push_once.rs`): present while Redis remembers it was made.
pub(crate) fn push(topic: &str, name: &str) -> String {
    format!("ferrocast:{{{topic}}}:push:{name}")
}

/// A relay's last publish sequence number, which makes a publish sent again count once.
pub(crate) fn publisher(relay: &str) -> String {
    format!("ferrocast:publisher:{relay}")
}
