//! A session's frames that wait for a remote's answer, or for their topic to be followed, one lane per topic.
//!
//! The order rule: on one topic, a frame is handled only once every frame before it has its answer. While a join or
//! a push of a topic waits for its backend, the frames that follow it on that topic (pushes made before the join's
//! answer, a leave, a rejoin) queue in the topic's lane, and run in order when the answer lands; frames for other
//! topics run at once. So a backend sees a connection's pushes on a topic one at a time, in the order sent.
//!
//! The queues are bounded per connection, in frames and in payload bytes: a client that pushes faster than its
//! backend answers gets error replies (`too many frames waiting`), never unbounded memory.

use crate::following::FollowGuard;
use crate::remote::{Refusal, RemoteJoin, RemotePush};
use ferrocast_protocol::{Ext, Message};
use std::collections::{HashMap, VecDeque};
use tokio::sync::mpsc;

/// Frames one connection may have waiting behind remote answers, over all its topics.
pub(crate) const MAX_WAITING_FRAMES: usize = 1024;

/// Payload bytes one connection may have waiting behind remote answers.
pub(crate) const MAX_WAITING_BYTES: usize = 1 << 20;

/// A remote's answer, on its way back to the session that asked.
#[derive(Debug)]
pub struct Landed {
    pub(crate) topic: String,
    pub(crate) answer: LandedAnswer,
}

#[derive(Debug)]
pub(crate) enum LandedAnswer {
    Join(Result<RemoteJoin, Refusal>),
    /// A push's reply; its broadcasts and receipt were seen to where it was answered.
    Push(RemotePush),
    /// The topic is followed now (see [`crate::following`]): its join can go on.
    Followed,
}

/// What a topic's lane waits for.
pub(crate) enum InFlight {
    /// A join, with what its reply needs.
    Join {
        join_ref: Option<String>,
        r#ref: Option<String>,
        ext: Option<Ext>,
        /// The join ref of the channel this join replaced, whose `phx_close` follows the reply.
        replaced: Option<Option<String>>,
        /// Keeps the topic followed until the answer's subscription is made.
        followed: FollowGuard,
    },
    /// A join of a topic the relay does not follow yet, to be handled once it does.
    Follow(Box<Message>),
    /// A push, to be replied to with the channel's join ref.
    Push { join_ref: Option<String>, r#ref: Option<String> },
}

/// One topic's frame in flight and the frames behind it.
pub(crate) struct Lane {
    pub(crate) in_flight: Option<InFlight>,
    queued: VecDeque<Message>,
}

/// Every lane of a session, and the way answers come back: present only when the router has remote topics, so
/// other sessions carry one pointer of it.
pub(crate) struct Lanes {
    lanes: HashMap<String, Lane>,
    waiting_frames: usize,
    waiting_bytes: usize,
    /// Boxed: an unbounded channel allocates room for 32 values at once, up front, and every session of a relay
    /// on Redis has one; 32 pointers cost an idle connection far less than 32 answers.
    pub(crate) landed: mpsc::UnboundedSender<Box<Landed>>,
    /// Taken by the connection's driver, which hands each answer back to the session.
    pub(crate) answers: Option<mpsc::UnboundedReceiver<Box<Landed>>>,
}

/// What becomes of a frame handed to the lanes.
pub(crate) enum Waiting {
    /// Nothing waits on its topic: handle it now.
    Go(Message),
    /// Queued behind its topic's frame in flight.
    Queued,
    /// Refused: the connection has too much waiting.
    Full(Message),
}

impl Lanes {
    pub(crate) fn new() -> Self {
        let (landed, answers) = mpsc::unbounded_channel();
        Lanes { lanes: HashMap::new(), waiting_frames: 0, waiting_bytes: 0, landed, answers: Some(answers) }
    }

    /// Queues `message` behind its topic's frame in flight, if there is one.
    pub(crate) fn wait(&mut self, message: Message) -> Waiting {
        let Some(lane) = self.lanes.get_mut(&message.topic) else { return Waiting::Go(message) };
        let bytes = message.payload.len();
        if self.waiting_frames >= MAX_WAITING_FRAMES || self.waiting_bytes + bytes > MAX_WAITING_BYTES {
            return Waiting::Full(message);
        }
        self.waiting_frames += 1;
        self.waiting_bytes += bytes;
        lane.queued.push_back(message);
        Waiting::Queued
    }

    /// Marks `topic` as waiting for `in_flight`.
    pub(crate) fn start(&mut self, topic: &str, in_flight: InFlight) {
        let lane =
            self.lanes.entry(topic.to_owned()).or_insert_with(|| Lane { in_flight: None, queued: VecDeque::new() });
        lane.in_flight = Some(in_flight);
    }

    /// What `topic` waited for, now that its answer landed.
    pub(crate) fn land(&mut self, topic: &str) -> Option<InFlight> {
        self.lanes.get_mut(topic)?.in_flight.take()
    }

    /// The next queued frame of `topic` once nothing is in flight there; the lane goes when it is empty.
    pub(crate) fn next(&mut self, topic: &str) -> Option<Message> {
        let lane = self.lanes.get_mut(topic)?;
        if lane.in_flight.is_some() {
            return None;
        }
        match lane.queued.pop_front() {
            Some(message) => {
                self.waiting_frames -= 1;
                self.waiting_bytes -= message.payload.len();
                Some(message)
            }
            None => {
                self.lanes.remove(topic);
                None
            }
        }
    }

    /// Joins waiting for their answer: they count against the channel limit.
    pub(crate) fn joins_in_flight(&self) -> usize {
        self.lanes
            .values()
            .filter(|lane| matches!(lane.in_flight, Some(InFlight::Join { .. } | InFlight::Follow(_))))
            .count()
    }
}
