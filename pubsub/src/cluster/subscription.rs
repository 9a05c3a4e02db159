//! The follower's subscription: the presence channel, and the channels of the topics it follows.
//!
//! On one Redis (an address, or the master Sentinel names) it is one pub/sub connection, as it always was: plain
//! `SUBSCRIBE`. On a Redis Cluster a topic's channel is a shard channel (`SSUBSCRIBE`), served by the master of
//! the topic's slot alone, so the broadcasts of a topic cost only its own node, not every node of the cluster, and
//! come from where the publish script ran, in its order. The presence channel stays a plain one, which a cluster
//! passes to every node. The redis crate's cluster connection routes each subscription to its node and delivers
//! every message as a RESP3 push.
//!
//! A cluster subscription ends when the link to any node breaks, or when the cluster moves a followed topic's slot
//! (the node then unsubscribes it): the follower makes it again from scratch and reads the streams for what was
//! published meanwhile, as after any reconnect.

use super::keys;
use super::redis_cluster::Nodes;
use redis::aio::{PubSubSink, PubSubStream};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::Slot;
use redis::{PushInfo, PushKind, RedisResult};
use std::collections::HashMap;
use tokio::sync::mpsc;

/// A subscription, on one Redis or on a cluster.
pub(crate) enum Subscription {
    Single { sink: PubSubSink, messages: PubSubStream },
    Cluster { connection: ClusterConnection, pushes: mpsc::UnboundedReceiver<PushInfo> },
}

/// What came on a subscription.
pub(crate) enum Incoming {
    Message(redis::Msg),
    /// The subscription ended: why.
    Ended(&'static str),
    /// A cluster node unsubscribed this shard channel: asked by the follower, or the topic's slot moved.
    Unsubscribed(String),
}

impl Subscription {
    /// A subscription to one Redis through `client`.
    pub(crate) async fn single(client: &redis::Client) -> RedisResult<Self> {
        let (sink, messages) = client.get_async_pubsub().await?.split();
        Ok(Subscription::Single { sink, messages })
    }

    /// A subscription to the cluster of `nodes`.
    pub(crate) async fn cluster(nodes: &Nodes) -> RedisResult<Self> {
        let (connection, pushes) = nodes.subscriber().await?;
        Ok(Subscription::Cluster { connection, pushes })
    }

    /// Subscribes to the presence channel.
    pub(crate) async fn presence(&mut self) -> RedisResult<()> {
        match self {
            Subscription::Single { sink, .. } => sink.subscribe(keys::PRESENCE).await,
            Subscription::Cluster { connection, .. } => connection.subscribe(keys::PRESENCE).await,
        }
    }

    /// Subscribes to the channels of `topics`.
    pub(crate) async fn follow(&mut self, topics: &[String]) -> RedisResult<()> {
        let channels: Vec<String> = topics.iter().map(|topic| keys::broadcasts(topic)).collect();
        match self {
            Subscription::Single { sink, .. } => sink.subscribe(&channels).await,
            Subscription::Cluster { connection, .. } => {
                // One SSUBSCRIBE names channels of one slot only.
                let subscribed = by_slot(channels).into_iter().map(|channels| {
                    let mut connection = connection.clone();
                    async move { connection.ssubscribe(&channels).await }
                });
                futures_util::future::try_join_all(subscribed).await.map(drop)
            }
        }
    }

    /// Unsubscribes from the channels of `topics`.
    pub(crate) async fn unfollow(&mut self, topics: &[String]) -> RedisResult<()> {
        let channels: Vec<String> = topics.iter().map(|topic| keys::broadcasts(topic)).collect();
        match self {
            Subscription::Single { sink, .. } => sink.unsubscribe(&channels).await,
            Subscription::Cluster { connection, .. } => {
                let unsubscribed = by_slot(channels).into_iter().map(|channels| {
                    let mut connection = connection.clone();
                    async move { connection.sunsubscribe(&channels).await }
                });
                futures_util::future::try_join_all(unsubscribed).await.map(drop)
            }
        }
    }

    /// The next message, or why there will be none.
    pub(crate) async fn next(&mut self) -> Incoming {
        match self {
            Subscription::Single { messages, .. } => match futures_util::StreamExt::next(messages).await {
                Some(message) => Incoming::Message(message),
                None => Incoming::Ended("Redis closed the subscription"),
            },
            Subscription::Cluster { pushes, .. } => loop {
                let Some(push) = pushes.recv().await else {
                    return Incoming::Ended("the Redis Cluster connection ended");
                };
                match push.kind {
                    PushKind::Message | PushKind::SMessage => {
                        if let Some(message) = redis::Msg::from_push_info(push) {
                            return Incoming::Message(message);
                        }
                    }
                    // The crate would reconnect the node and subscribe again, but what was published meanwhile
                    // would be missed until the topic's next broadcast: the follower starts over and reads it.
                    PushKind::Disconnection => return Incoming::Ended("the link to a node of the Redis Cluster broke"),
                    PushKind::SUnsubscribe => {
                        if let Some(redis::Value::BulkString(channel)) = push.data.first() {
                            return Incoming::Unsubscribed(String::from_utf8_lossy(channel).into_owned());
                        }
                    }
                    _ => {}
                }
            },
        }
    }
}

/// `channels` grouped by their slot, in their order.
fn by_slot(channels: Vec<String>) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut group_of: HashMap<Slot, usize> = HashMap::new();
    for channel in channels {
        let group = *group_of.entry(Slot::for_key(&channel)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[group].push(channel);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_grouped_by_slot() {
        let channels = ["a", "b", "a", "c"].map(keys::broadcasts).to_vec();
        let groups = by_slot(channels.clone());
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0], [channels[0].clone(), channels[2].clone()]);
    }
}
