//! Topics and fanout: who is subscribed where, and handing each broadcast to all of them.
//!
//! A broadcast is encoded once per serializer in use on the topic, and the same bytes go to every subscriber.
//! Topics are spread over shards, each behind its own read-write lock, so publishing takes a read lock on one
//! shard only: there is no global lock on the publish path, and publishers to different topics do not meet.

use crate::fanout_timing::FanoutTiming;
use crate::outbox::{OutFrame, Outbox};
use crate::sharded::{Sharded, read, write};
use ferrocast_protocol::codec::encode;
use ferrocast_protocol::{Frame, Message, Payload, Sender, Vsn};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// Identifies one connection for the lifetime of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl ConnId {
    /// A new, never used id.
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ConnId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// One connection subscribed to a topic.
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// The connection.
    pub conn: ConnId,
    /// The serializer it speaks.
    pub vsn: Vsn,
    /// Where its frames go.
    pub outbox: Arc<Outbox>,
}

/// The topics of one process and their subscribers.
#[derive(Debug, Default)]
pub struct Hub {
    topics: Sharded<RwLock<HashMap<String, Vec<Subscriber>>>>,
    fanout: FanoutTiming,
}

impl Hub {
    /// An empty hub.
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribes a connection to a topic; a connection holds at most one subscription per topic.
    pub fn subscribe(&self, topic: &str, subscriber: Subscriber) {
        let mut shard = write(self.topics.shard(topic));
        let subscribers = shard.entry(topic.to_owned()).or_default();
        subscribers.retain(|existing| existing.conn != subscriber.conn);
        subscribers.push(subscriber);
    }

    /// Removes a connection's subscription to a topic.
    pub fn unsubscribe(&self, topic: &str, conn: ConnId) {
        let mut shard = write(self.topics.shard(topic));
        if let Some(subscribers) = shard.get_mut(topic) {
            subscribers.retain(|existing| existing.conn != conn);
            if subscribers.is_empty() {
                shard.remove(topic);
            }
        }
    }

    /// How many connections are subscribed to a topic.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        read(self.topics.shard(topic)).get(topic).map_or(0, Vec::len)
    }

    /// How long broadcasts took to reach every subscriber's queue, whoever sent them.
    pub fn fanout_timing(&self) -> &FanoutTiming {
        &self.fanout
    }

    /// Sends `[null, null, topic, event, payload]` to every subscriber of `topic`; returns how many accepted it.
    ///
    /// Subscribers whose outbox is full are disconnected by their outbox (see [`crate::outbox`]); subscribers
    /// whose serializer cannot carry the payload (binary on V1) are skipped.
    pub fn broadcast(&self, topic: &str, event: &str, payload: &Payload) -> usize {
        let started = Instant::now();
        let delivered = self.fan_out(topic, event, payload);
        self.fanout.observe(started.elapsed());
        delivered
    }

    fn fan_out(&self, topic: &str, event: &str, payload: &Payload) -> usize {
        let shard = read(self.topics.shard(topic));
        let Some(subscribers) = shard.get(topic) else { return 0 };
        let mut encoded = EncodedOnce::new(topic, event, payload);
        let mut delivered = 0;
        for subscriber in subscribers {
            if let Some(frame) = encoded.for_vsn(subscriber.vsn)
                && subscriber.outbox.push(frame.clone())
            {
                delivered += 1;
            }
        }
        delivered
    }
}

/// A broadcast frame, encoded for each serializer the first time a subscriber needs it.
struct EncodedOnce<'a> {
    topic: &'a str,
    event: &'a str,
    payload: &'a Payload,
    v1: Option<Option<OutFrame>>,
    v2: Option<Option<OutFrame>>,
}

impl<'a> EncodedOnce<'a> {
    fn new(topic: &'a str, event: &'a str, payload: &'a Payload) -> Self {
        EncodedOnce { topic, event, payload, v1: None, v2: None }
    }

    fn for_vsn(&mut self, vsn: Vsn) -> Option<&OutFrame> {
        let (topic, event, payload) = (self.topic, self.event, self.payload);
        let slot = match vsn {
            Vsn::V1 => &mut self.v1,
            Vsn::V2 => &mut self.v2,
        };
        slot.get_or_insert_with(|| {
            let frame = Frame::Message(Message {
                join_ref: None,
                r#ref: None,
                topic: topic.to_owned(),
                event: event.to_owned(),
                payload: payload.clone(),
                ext: None,
            });
            encode(vsn, Sender::Server, &frame).ok().map(OutFrame::from_encoded)
        })
        .as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::OutboxLimits;

    fn subscriber(vsn: Vsn) -> Subscriber {
        Subscriber { conn: ConnId::next(), vsn, outbox: Arc::new(Outbox::new(OutboxLimits::default())) }
    }

    #[tokio::test]
    async fn a_broadcast_is_encoded_once_per_serializer_and_shared() {
        let hub = Hub::new();
        let (a, b, c) = (subscriber(Vsn::V2), subscriber(Vsn::V2), subscriber(Vsn::V1));
        for s in [&a, &b, &c] {
            hub.subscribe("room:1", s.clone());
        }
        let delivered = hub.broadcast("room:1", "new_msg", &Payload::Json(r#"{"body":"hi"}"#.into()));
        assert_eq!(delivered, 3);
        let (mut fa, mut fb, mut fc) = (Vec::new(), Vec::new(), Vec::new());
        a.outbox.next_batch(&mut fa).await.unwrap();
        b.outbox.next_batch(&mut fb).await.unwrap();
        c.outbox.next_batch(&mut fc).await.unwrap();
        assert_eq!(&fa[0].bytes[..], br#"[null,null,"room:1","new_msg",{"body":"hi"}]"#);
        assert_eq!(fa[0].bytes.as_ptr(), fb[0].bytes.as_ptr(), "the same bytes, not a copy");
        assert_eq!(&fc[0].bytes[..], br#"{"event":"new_msg","payload":{"body":"hi"},"ref":null,"topic":"room:1"}"#);
    }

    #[test]
    fn unsubscribe_removes_only_that_connection() {
        let hub = Hub::new();
        let (a, b) = (subscriber(Vsn::V2), subscriber(Vsn::V2));
        hub.subscribe("t", a.clone());
        hub.subscribe("t", b.clone());
        hub.subscribe("t", a.clone());
        assert_eq!(hub.subscriber_count("t"), 2, "one subscription per connection and topic");
        hub.unsubscribe("t", a.conn);
        assert_eq!(hub.broadcast("t", "e", &Payload::empty()), 1);
        hub.unsubscribe("t", b.conn);
        assert_eq!(hub.subscriber_count("t"), 0);
    }

    #[test]
    fn every_broadcast_is_timed_even_to_an_empty_topic() {
        let hub = Hub::new();
        hub.subscribe("t", subscriber(Vsn::V2));
        hub.broadcast("t", "e", &Payload::empty());
        hub.broadcast("nobody", "e", &Payload::empty());
        assert_eq!(hub.fanout_timing().snapshot().count, 2);
    }
}
