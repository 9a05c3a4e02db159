//! What happens on the hub and in presence, told as it happens to whoever listens: the webhooks (`ferrocast-hooks`) turn it into
//! events for systems outside. The hub calls a [`Tap`] in each topic's order (a broadcast while its topic is held,
//! so taps see broadcasts in offset order), so a tap must only take note and return: no I/O, no waiting.

use ferrocast_protocol::Payload;

/// Listens to the hub.
pub trait Tap: Send + Sync + std::fmt::Debug {
    /// A broadcast, numbered `offset` of `epoch` on `topic`.
    fn broadcast(&self, topic: &str, event: &str, payload: &Payload, offset: u64, epoch: &str);

    /// `topic` got its first subscriber on this hub.
    fn occupied(&self, topic: &str);

    /// `topic`'s last subscriber on this hub left.
    fn vacated(&self, topic: &str);

    /// A presence diff's member `key` joined (`joined`) or left `topic`, with these metas (a JSON array), as the
    /// coalesced `presence_diff` tells it: `local` metas were tracked by this relay's connections, the others by
    /// another relay's (told apart, so that on several relays each change can be told once, by its own relay).
    fn presence(&self, topic: &str, joined: bool, key: &str, metas: &str, local: bool);
}
