//! What a subscriber following a topic live is told when broadcasts of it were lost for good.
//!
//! With several relays, a relay cut from Redis for longer than a topic's stream keeps its broadcasts misses some
//! that nobody can give it again, and every relay does when Redis loses its data (a new epoch). A subscriber that
//! speaks Ferrocast's recovery extension was promised every broadcast or a `recovered: false`, never a silent gap,
//! so it is told before the first broadcast after the loss:
//!
//! - a channel gets `phx_error`, as when a channel crashes in Phoenix, and its subscription ends. Its client rejoins
//!   by itself offering its last position, and the join reply says `recovered: false` (our client calls
//!   `onRecoveryFailed`). Ending the subscription keeps anything after the loss from moving that position on first.
//! - an event stream gets `ferrocast:subscribed` again, with `recovered: false`, and goes on: it carries other
//!   topics too, which lost nothing. Its id is the position just before the first broadcast after the loss, so a
//!   reader that reconnects from there misses nothing more.
//!
//! Subscribers without positions (the official phoenix.js) were never promised more than what reaches them live,
//! as with Phoenix itself, and are told nothing.

use crate::outbox::OutFrame;
use crate::wire::{Subscriber, Wire, encode_subscribed};
use ferrocast_protocol::codec::encode;
use ferrocast_protocol::frame::event;
use ferrocast_protocol::{Frame, Message, Payload, Position, Sender};

/// What to send one subscriber, and whether its subscription goes on.
pub(crate) struct LossNotice {
    /// The frame to queue.
    pub(crate) frame: OutFrame,
    /// Whether the subscription goes on after it (an event stream), or ends until the client rejoins (a channel).
    pub(crate) subscription_goes_on: bool,
}

/// The notice for `subscriber` of `topic`, where `before` is the position just before the first broadcast after
/// the loss; `None` for a subscriber that asked for no positions, or a topic its wire cannot carry.
pub(crate) fn loss_notice(subscriber: &Subscriber, topic: &str, before: &Position) -> Option<LossNotice> {
    if !subscriber.positioned {
        return None;
    }
    match subscriber.wire {
        Wire::Phoenix(vsn) => {
            // Phoenix's own form for a crashed channel: `[join_ref, join_ref, topic, "phx_error", …]`. A payload
            // that says why reaches the channel's `onError` callback.
            let join_ref = subscriber.join_ref.clone();
            let frame = Frame::Message(Message {
                join_ref: join_ref.clone(),
                r#ref: join_ref,
                topic: topic.to_owned(),
                event: event::ERROR.to_owned(),
                payload: Payload::Json(r#"{"reason":"missed broadcasts"}"#.to_owned()),
                ext: None,
            });
            let frame = OutFrame::from_encoded(encode(vsn, Sender::Server, &frame).ok()?);
            Some(LossNotice { frame, subscription_goes_on: false })
        }
        Wire::EventStream => {
            let frame = encode_subscribed(topic, before, Some(false), before.clone())?;
            Some(LossNotice { frame, subscription_goes_on: true })
        }
    }
}
