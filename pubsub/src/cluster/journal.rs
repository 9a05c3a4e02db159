//! The journal: a Redis stream that keeps, in publish order, the broadcasts that systems outside the relays are to
//! be told of (the webhooks' queue on Redis, in `ferrocast-hooks`). The publish script appends a broadcast to it in
//! the same step that numbers and publishes it, so a broadcast Redis took is in the journal even when the relay
//! that published it dies the next instant; the journal's readers append the events only they make.
//!
//! An entry of a broadcast has one field, `n`: the broadcast as the broadcasts channel carries it,
//! `<offset> <epoch> <broadcast>` ([`read_numbered`] reads it back).

use super::wire;
use ferrocast_protocol::Payload;
use std::sync::Arc;

/// The journal's stream.
pub const JOURNAL: &str = "ferrocast:journal";

/// The field of a broadcast's entry.
pub const NUMBERED_FIELD: &str = "n";

/// Which topics' broadcasts go into the journal.
#[derive(Clone)]
pub struct Journal {
    wants: Arc<dyn Fn(&str) -> bool + Send + Sync>,
}

impl Journal {
    /// Journals the broadcasts of the topics `wants` says yes to.
    pub fn new(wants: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Journal { wants: Arc::new(wants) }
    }

    pub(crate) fn wants(&self, topic: &str) -> bool {
        (self.wants)(topic)
    }
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Journal")
    }
}

/// A broadcast read back from the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournaledBroadcast {
    /// Its topic.
    pub topic: String,
    /// Its event.
    pub event: String,
    /// Its payload.
    pub payload: Payload,
    /// Its offset in the topic.
    pub offset: u64,
    /// The epoch of that offset.
    pub epoch: String,
}

/// The broadcast of an entry's `n` field; an error names what is malformed.
pub fn read_numbered(bytes: &[u8]) -> Result<JournaledBroadcast, String> {
    let published = wire::decode_published(bytes).map_err(|malformed| malformed.to_string())?;
    let wire::Broadcast { topic, event, payload } = published.broadcast;
    Ok(JournaledBroadcast { topic, event, payload, offset: published.offset, epoch: published.epoch })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journaled_broadcast_reads_back_and_a_malformed_one_is_an_error() {
        let mut entry = b"7 ep-1 ".to_vec();
        entry.extend_from_slice(&wire::encode("room:a", "msg", &Payload::Json("{}".to_owned())));
        let broadcast = read_numbered(&entry).unwrap();
        assert_eq!((broadcast.topic.as_str(), broadcast.offset, broadcast.epoch.as_str()), ("room:a", 7, "ep-1"));
        assert!(read_numbered(b"7 ep-1 x").is_err());
    }
}
