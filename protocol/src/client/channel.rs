//! One channel object's state, as phoenix.js keeps it.

use super::output::{ChannelId, PushId};
use crate::frame::{Payload, Position};

/// A channel's state, named as in phoenix.js (`channel.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    /// Not joined: never joined, left, or closed by the server.
    Closed,
    /// Failed (crash on the server, refused join, join timeout or lost connection); it rejoins by itself.
    Errored,
    /// Joined: pushes go out at once.
    Joined,
    /// A join is on its way or waiting for the connection.
    Joining,
    /// A leave is on its way.
    Leaving,
}

impl ChannelState {
    /// The name phoenix.js uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelState::Closed => "closed",
            ChannelState::Errored => "errored",
            ChannelState::Joined => "joined",
            ChannelState::Joining => "joining",
            ChannelState::Leaving => "leaving",
        }
    }
}

/// A leave on its way to the server.
#[derive(Debug, Clone)]
pub(crate) struct PendingLeave {
    pub(crate) push: PushId,
    pub(crate) r#ref: u64,
    pub(crate) deadline: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Channel {
    pub(crate) id: ChannelId,
    pub(crate) topic: String,
    /// The join payload, sent with every join attempt.
    pub(crate) params: Payload,
    pub(crate) state: ChannelState,
    /// The id application callbacks use for every join attempt's outcome.
    pub(crate) join_push: PushId,
    /// `join()` was called; phoenix.js allows it once per channel object.
    pub(crate) joined_once: bool,
    pub(crate) join_timeout_ms: u64,
    /// The ref of the latest join sent, which is also the channel's join ref. `None` before the first join is
    /// sent and after a join timed out; frames carrying any join ref are then not for this channel.
    pub(crate) join_ref: Option<u64>,
    /// When the join sent last times out, while it awaits its reply.
    pub(crate) join_deadline: Option<u64>,
    /// When the next rejoin attempt is due.
    pub(crate) rejoin_at: Option<u64>,
    pub(crate) rejoin_tries: u32,
    pub(crate) leave: Option<PendingLeave>,
    /// The last history position the relay gave this channel, offered again on rejoin.
    pub(crate) position: Option<Position>,
    /// The server answered the last join with the recovery extension, so it deduplicates pushes by socket identity
    /// and ref: pushes unacknowledged when the connection drops can be sent again without being handled twice.
    pub(crate) server_deduplicates: bool,
}

impl Channel {
    pub(crate) fn new(id: ChannelId, topic: String, params: Payload, join_push: PushId, timeout_ms: u64) -> Self {
        Channel {
            id,
            topic,
            params,
            state: ChannelState::Closed,
            join_push,
            joined_once: false,
            join_timeout_ms: timeout_ms,
            join_ref: None,
            join_deadline: None,
            rejoin_at: None,
            rejoin_tries: 0,
            leave: None,
            position: None,
            server_deduplicates: false,
        }
    }

    /// Whether a frame with this topic and join ref is for this channel: phoenix.js's `isMember`. A frame with no
    /// join ref (a broadcast, or a reply to a push the server could not route) is for every channel of the topic;
    /// one with a join ref only for the channel whose latest join carried it, so frames from an old join are
    /// ignored.
    ///
    /// `join_ref` is the frame's as [`super::refs::parse`] reads it: `Some(None)` for a join ref no join of this
    /// socket carried.
    pub(crate) fn is_member(&self, topic: &str, join_ref: Option<Option<u64>>) -> bool {
        self.topic == topic && join_ref.is_none_or(|join_ref| join_ref.is_some() && self.join_ref == join_ref)
    }

    /// Whether this channel is in one of the states.
    pub(crate) fn is(&self, states: &[ChannelState]) -> bool {
        states.contains(&self.state)
    }
}
