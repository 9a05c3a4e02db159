//! The names Ferrocast uses in Redis. Every relay sharing one Redis must agree on them.
//!
//! A topic's names carry the topic in braces, Redis Cluster's hash tag, so they live in one hash slot together.
//! Redis takes the tag up to the first `}`, so a topic that is empty or starts with `}` would have an empty tag,
//! which Redis ignores: its names would scatter over slots, and a cluster would refuse its publish script. Such a
//! topic is written with a `\` before it, as is one that starts with `\`, so no two topics share names.

use std::borrow::Cow;

/// `topic` as its names carry it: never empty, never starting with `}`.
fn tag(topic: &str) -> Cow<'_, str> {
    if topic.is_empty() || topic.starts_with(['}', '\\']) {
        Cow::Owned(format!("\\{topic}"))
    } else {
        Cow::Borrowed(topic)
    }
}

/// A topic's channel, where its numbered broadcasts are published for the relays that follow it.
pub(crate) fn broadcasts(topic: &str) -> String {
    format!("ferrocast:{{{}}}:broadcasts", tag(topic))
}

/// The channel relays tell each other their presence changes on.
pub(crate) const PRESENCE: &str = "ferrocast:presence";

/// A topic's meta hash: its epoch and last offset.
pub(crate) fn meta(topic: &str) -> String {
    format!("ferrocast:{{{}}}:meta", tag(topic))
}

/// A topic's stream of kept broadcasts.
pub(crate) fn stream(topic: &str) -> String {
    format!("ferrocast:{{{}}}:stream", tag(topic))
}

/// A push's broadcast by its name (see `push_once.rs`): present while Redis remembers it was made.
pub(crate) fn push(topic: &str, name: &str) -> String {
    format!("ferrocast:{{{}}}:push:{name}", tag(topic))
}

/// The topic of a channel of [`broadcasts`].
pub(crate) fn topic_of_broadcasts(channel: &str) -> Option<&str> {
    let tag = channel.strip_prefix("ferrocast:{")?.strip_suffix("}:broadcasts")?;
    Some(tag.strip_prefix('\\').unwrap_or(tag))
}

/// A relay's last publish sequence number in a topic, which makes a publish sent again count once. Per topic, in
/// the topic's slot, so the publish script touches one slot only: a relay sends its publishes of a topic in order,
/// so its last one in the topic is all there is to compare with.
pub(crate) fn publisher(topic: &str, relay: &str) -> String {
    format!("ferrocast:{{{}}}:publisher:{relay}", tag(topic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topics_keys_and_channel_hash_to_one_slot() {
        use redis::cluster_routing::Slot;
        let topic = "room:{odd}braces";
        let slot = Slot::for_key(meta(topic));
        for key in [stream(topic), push(topic, "p1"), publisher(topic, "relay-1"), broadcasts(topic)] {
            assert_eq!(Slot::for_key(&key), slot, "{key}");
        }
        assert_eq!(topic_of_broadcasts(&broadcasts(topic)), Some(topic));
        assert_eq!(topic_of_broadcasts(PRESENCE), None);
    }

    #[test]
    fn a_topic_that_would_leave_the_tag_empty_still_has_its_names_in_one_slot_and_of_its_own() {
        use redis::cluster_routing::Slot;
        for topic in ["", "}", "}x", "\\", "\\}x"] {
            let slot = Slot::for_key(meta(topic));
            for key in [stream(topic), push(topic, "p"), publisher(topic, "r"), broadcasts(topic)] {
                assert_eq!(Slot::for_key(&key), slot, "{topic:?}: {key}");
            }
            assert_eq!(topic_of_broadcasts(&broadcasts(topic)), Some(topic));
        }
        assert_ne!(meta("}x"), meta("\\}x"));
        assert_eq!(meta("room:a"), "ferrocast:{room:a}:meta", "the names of every other topic are as they were");
    }
}
