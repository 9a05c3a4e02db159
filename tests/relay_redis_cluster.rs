//! Relays on a real Redis Cluster (`--pubsub redis+cluster://…`), as processes: three masters, two relays each
//! given two of the nodes. Broadcasts of topics whose slots are on different masters cross relays in order, a
//! topic's keys are on the master of its slot, a client that rejoins on the other relay with its position gets
//! what it missed from the topic's stream there, and the relays come back after their links to the nodes are cut.

mod support;

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::Client;
use support::redis::RedisCluster;
use support::relay_process::RelayProcess;

/// One topic on each master: `room:N` for the first N whose slot is on it.
fn topic_per_master(cluster: &RedisCluster) -> Vec<String> {
    (0..cluster.nodes.len())
        .map(|index| {
            let (first, last) = cluster.slots_of(index);
            (0..)
                .map(|n| format!("room:{n}"))
                .find(|topic| (first..=last).contains(&cluster.keyslot(&format!("ferrocast:{{{topic}}}:meta"))))
                .expect("a topic on every master")
        })
        .collect()
}

/// Reads `client`'s `new_msg`s until it has `count`: each topic's (offset, n), in the order they came.
async fn by_topic(client: &mut Client, count: usize) -> BTreeMap<String, Vec<(u64, u64)>> {
    let mut seen: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for _ in 0..count {
        let frame = client.next_event("new_msg").await;
        let topic = frame[2].as_str().expect("a topic").to_owned();
        let offset = frame[5]["offset"].as_u64().unwrap_or_else(|| panic!("an offset: {frame}"));
        seen.entry(topic).or_default().push((offset, frame[4]["n"].as_u64().expect("n")));
    }
    seen
}

async fn join_positioned(client: &mut Client, topic: &str, offered: Value) -> Value {
    client.join(topic, json!({ "no_presence": true }), Some(offered)).await[5].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_on_a_redis_cluster_share_broadcasts_history_and_recovery_across_its_masters() {
    let started = Instant::now();
    let cluster = RedisCluster::start(3);
    let url = cluster.url(2);
    let (a, b) = (RelayProcess::start_on_url(&url, &[]), RelayProcess::start_on_url(&url, &[]));
    let topics = topic_per_master(&cluster);

    // Broadcasts on topics of every master, published on A, reach a subscriber on B in order, numbered per topic.
    let mut on_b = Client::connect("on_b", &b.ws_url()).await;
    for topic in &topics {
        join_positioned(&mut on_b, topic, json!({})).await;
    }
    for n in 1..=5 {
        for topic in &topics {
            a.publish(topic, "new_msg", &json!({ "n": n }));
        }
    }
    // A channel push on A broadcasts through the cluster too.
    let mut on_a = Client::connect("on_a", &a.ws_url()).await;
    join_positioned(&mut on_a, &topics[0], json!({})).await;
    on_a.send(&json!(["1", "2", &topics[0], "new_msg", { "n": 6 }]).to_string()).await;
    let seen = by_topic(&mut on_b, 5 * topics.len() + 1).await;
    for (index, topic) in topics.iter().enumerate() {
        let last = if index == 0 { 6 } else { 5 };
        let expected: Vec<(u64, u64)> = (1..=last).map(|n| (n, n)).collect();
        assert_eq!(seen[topic], expected, "{topic}: in order, once each");
    }

    // Each topic's meta, stream and channel are of one slot, and its keys are on the master that has that slot.
    for topic in &topics {
        let slot = cluster.keyslot(&format!("ferrocast:{{{topic}}}:meta"));
        for name in ["stream", "broadcasts"] {
            assert_eq!(cluster.keyslot(&format!("ferrocast:{{{topic}}}:{name}")), slot, "{topic}");
        }
        let node = cluster.node_of(slot);
        for name in ["meta", "stream"] {
            let exists = node.command(&format!("EXISTS ferrocast:{{{topic}}}:{name}"));
            assert_eq!(exists.as_deref(), Some(":1\r\n"), "{topic}'s {name} on the master of slot {slot}");
        }
    }

    // A client that leaves B and rejoins on A with its position gets what it missed, from the topic's stream: A
    // follows the topic only once the client rejoins (nobody there had joined it), so its history is read then.
    let topic = &topics[1];
    let epoch = {
        a.publish(topic, "new_msg", &json!({ "n": 6 }));
        let frame = on_b.next_event("new_msg").await;
        assert_eq!((frame[2].as_str(), frame[5]["offset"].as_u64()), (Some(topic.as_str()), Some(6)), "{frame}");
        frame[5]["epoch"].clone()
    };
    drop(on_b);
    for n in 7..=9 {
        b.publish(topic, "new_msg", &json!({ "n": n }));
    }
    let mut moved = Client::connect("moved", &a.ws_url()).await;
    let ext = join_positioned(&mut moved, topic, json!({ "offset": 6, "epoch": epoch })).await;
    assert_eq!(ext["recovered"], true, "{ext}");
    b.publish(topic, "new_msg", &json!({ "n": 10 }));
    let recovered = by_topic(&mut moved, 4).await;
    assert_eq!(recovered[topic], [(7, 7), (8, 8), (9, 9), (10, 10)], "replayed from the stream, then live");

    // Every relay's subscriptions are cut on every node: the relays subscribe again, and what was published
    // meanwhile reaches the subscribers from the streams, in order.
    let mut on_b = Client::connect("on_b_again", &b.ws_url()).await;
    join_positioned(&mut on_b, &topics[2], json!({})).await;
    let disconnects = b.metric("ferrocast_redis_disconnects_total");
    for node in &cluster.nodes {
        let killed = node.command("CLIENT KILL TYPE pubsub");
        assert!(killed.as_deref().is_some_and(|reply| reply.starts_with(':')), "{killed:?}");
    }
    for n in 6..=8 {
        a.publish(&topics[2], "new_msg", &json!({ "n": n }));
    }
    let seen = by_topic(&mut on_b, 3).await;
    assert_eq!(seen[&topics[2]], [(6, 6), (7, 7), (8, 8)]);
    support::wait_until(Duration::from_secs(10), || {
        b.metric("ferrocast_redis_connected") == 1 && a.metric("ferrocast_redis_connected") == 1
    });
    assert!(b.metric("ferrocast_redis_disconnects_total") > disconnects, "B saw its subscription cut");
    b.publish(&topics[2], "new_msg", &json!({ "n": 9 }));
    assert_eq!(by_topic(&mut on_b, 1).await[&topics[2]], [(9, 9)], "live again after the cut");
    assert_eq!(a.metric("ferrocast_redis_malformed_total"), 0);
    eprintln!("the Redis Cluster test took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_crosses_relays_on_a_redis_cluster() {
    let cluster = RedisCluster::start(3);
    let url = cluster.url(3);
    let (a, b) = (RelayProcess::start_on_url(&url, &[]), RelayProcess::start_on_url(&url, &[]));
    let mut alice = Client::connect("alice", &a.ws_url()).await;
    alice.join("room:p", json!({ "user_id": "alice" }), None).await;
    support::wait_until(Duration::from_secs(5), || {
        b.http("GET", "/api/presence/room:p", "").is_some_and(|(_, listed)| listed.contains("alice"))
    });
}
