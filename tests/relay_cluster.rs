//! Several relays on one Redis, as real processes: broadcasts cross relays, presence merges and a killed relay's
//! members leave within the bound, a client that moves between relays or outlives a relay's restart recovers what
//! it missed with no loss and no duplicate, and relays come back after Redis restarts, counting the gap.

mod support;

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::redis::{HoldProxy, Redis};
use support::relay_process::RelayProcess;
use support::{Client, wait_until};

/// Opens `GET /sse?topic=…` on `relay`: an event stream, read raw.
fn event_stream(relay: &RelayProcess, topic: &str) -> TcpStream {
    let mut stream = TcpStream::connect(relay.addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let request =
        format!("GET /sse?topic={topic} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n", relay.addr);
    stream.write_all(request.as_bytes()).expect("request");
    stream
}

/// Reads `stream` until what it sent contains `needle`; all it sent.
fn read_until(stream: &mut TcpStream, sent: &mut String, needle: &str) {
    let mut buffer = [0u8; 16 * 1024];
    while !sent.contains(needle) {
        let read = stream.read(&mut buffer).unwrap_or_else(|error| panic!("waiting for {needle}: {error}\n{sent}"));
        assert!(read > 0, "the stream ended before {needle}:\n{sent}");
        sent.push_str(&String::from_utf8_lossy(&buffer[..read]));
    }
}

/// Joins with positions on `topic` without presence.
async fn join_positioned(client: &mut Client, topic: &str, offered: Value) -> Value {
    client.join(topic, json!({ "no_presence": true }), Some(offered)).await[5].clone()
}

/// The next `n` broadcasts' offsets and payload numbers, asserting they are `new_msg`s of `topic`.
async fn numbers(client: &mut Client, topic: &str, count: usize) -> Vec<(u64, u64)> {
    let mut seen = Vec::new();
    for _ in 0..count {
        let frame = client.next_event("new_msg").await;
        assert_eq!(frame[2], topic, "{frame}");
        seen.push((frame[5]["offset"].as_u64().expect("an offset"), frame[4]["n"].as_u64().expect("n")));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_broadcast_on_one_relay_reaches_the_subscribers_of_the_other() {
    let redis = Redis::start();
    let (a, b) = (RelayProcess::start(&redis, &[]), RelayProcess::start(&redis, &[]));
    let mut on_a = Client::connect("on_a", &a.ws_url()).await;
    let mut on_b = Client::connect("on_b", &b.ws_url()).await;
    let epoch = join_positioned(&mut on_a, "room:x", json!({})).await["epoch"].clone();
    join_positioned(&mut on_b, "room:x", json!({})).await;

    // Publishing answers once the broadcast is queued for Redis, so each waits for the last to arrive.
    b.publish("room:x", "new_msg", &json!({ "n": 1 }));
    let mut on_a_seen = numbers(&mut on_a, "room:x", 1).await;
    a.publish("room:x", "new_msg", &json!({ "n": 2 }));
    on_a_seen.extend(numbers(&mut on_a, "room:x", 1).await);
    // A channel push on B broadcasts too, and its sender gets the broadcast like everyone else.
    on_b.send(&json!(["1", "2", "room:x", "new_msg", { "n": 3 }]).to_string()).await;
    on_a_seen.extend(numbers(&mut on_a, "room:x", 1).await);
    let on_b_seen = numbers(&mut on_b, "room:x", 3).await;
    assert_eq!(on_a_seen, [(1, 1), (2, 2), (3, 3)], "numbered once, by Redis");
    assert_eq!(on_b_seen, on_a_seen, "every relay sees the same order");
    let frame_epoch = {
        b.publish("room:x", "new_msg", &json!({ "n": 4 }));
        on_a.next_event("new_msg").await[5]["epoch"].clone()
    };
    assert_ne!(frame_epoch, epoch, "the shared history's epoch replaced the placeholder of an empty topic");

    // Messages on Ferrocast's channels that are not of its form are ignored and counted; the relays go on.
    assert!(redis.command("PUBLISH ferrocast:{room:x}:broadcasts garbage").is_some_and(|reply| reply.starts_with(':')));
    assert!(redis.command("PUBLISH ferrocast:presence {not-json").is_some_and(|reply| reply.starts_with(':')));
    wait_until(Duration::from_secs(5), || a.metric("ferrocast_redis_malformed_total") == 2);
    b.publish("room:x", "new_msg", &json!({ "n": 5 }));
    assert_eq!(numbers(&mut on_a, "room:x", 1).await, [(5, 5)]);
    assert_eq!(a.metric("ferrocast_redis_connected"), 1);
    assert!(a.metric("ferrocast_redis_received_total") >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_merges_and_a_killed_relays_members_leave_within_the_bound() {
    let redis = Redis::start();
    let (a, mut b) = (RelayProcess::start(&redis, &[]), RelayProcess::start(&redis, &[]));
    let mut alice = Client::connect("alice", &a.ws_url()).await;
    alice.join("room:p", json!({ "user_id": "alice" }), None).await;
    // Presence crosses relays in a few milliseconds, not at once.
    wait_until(Duration::from_secs(5), || {
        b.http("GET", "/api/presence/room:p", "").is_some_and(|(_, listed)| listed.contains("alice"))
    });
    let mut bob = Client::connect("bob", &b.ws_url()).await;
    bob.join("room:p", json!({ "user_id": "bob" }), None).await;

    // Bob's state on B holds alice, who joined on A; alice hears of bob's join in a diff.
    let state = bob.next_event("presence_state").await;
    assert!(state[4]["alice"]["metas"][0]["phx_ref"].is_string(), "{state}");
    assert!(state[4]["bob"].is_object(), "{state}");
    loop {
        let diff = alice.next_event("presence_diff").await;
        if diff[4]["joins"]["bob"].is_object() {
            break;
        }
    }
    let (status, listed) = a.http("GET", "/api/presence/room:p", "").expect("presence");
    assert_eq!(status, 200);
    assert!(listed.contains("alice") && listed.contains("bob"), "{listed}");

    // B dies without a word: bob leaves A's list within the timeout (1 s) and a heartbeat (0.2 s) or so.
    b.kill();
    let killed = Instant::now();
    loop {
        let diff = alice.next_frame_within(Duration::from_secs(5)).await.expect("bob's leave within 5 s");
        if diff[3] == "presence_diff" && diff[4]["leaves"]["bob"].is_object() {
            break;
        }
    }
    let took = killed.elapsed();
    assert!(took < Duration::from_millis(2500), "bob left {took:?} after B died (bound: timeout 1 s + heartbeat)");
    assert!(took > Duration::from_millis(700), "left too early ({took:?}): before the timeout had passed");
    assert_eq!(a.metric("ferrocast_cluster_peers_expired_total"), 1);
    let (_, listed) = a.http("GET", "/api/presence/room:p", "").expect("presence");
    assert!(listed.contains("alice") && !listed.contains("bob"), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_moves_to_another_relay_recovers_what_it_missed_once_each() {
    let redis = Redis::start();
    let (a, b) = (RelayProcess::start(&redis, &[]), RelayProcess::start(&redis, &[]));
    let mut client = Client::connect("client", &a.ws_url()).await;
    join_positioned(&mut client, "room:m", json!({})).await;
    for n in 1..=3 {
        a.publish("room:m", "new_msg", &json!({ "n": n }));
    }
    let seen = numbers(&mut client, "room:m", 3).await;
    let extra = client.next_frame_within(Duration::from_millis(50)).await;
    assert!(extra.is_none(), "nothing else: {extra:?}");
    drop(client);
    for n in 4..=10 {
        a.publish("room:m", "new_msg", &json!({ "n": n }));
    }
    let (last_offset, _) = seen[2];
    // Publishing answers once the broadcast is queued for Redis: wait until B has all ten, so the join's position
    // is 10. The epoch every relay agrees on, from B's history API.
    wait_until(Duration::from_secs(5), || {
        b.http("GET", "/api/history/room:m", "").is_some_and(|(_, history)| history.contains(r#""offset":10,"#))
    });
    let (_, history) = b.http("GET", "/api/history/room:m", "").expect("history");
    let history: Value = serde_json::from_str(&history).expect("JSON");
    let epoch = history["epoch"].clone();

    let mut moved = Client::connect("moved", &b.ws_url()).await;
    let ext = join_positioned(&mut moved, "room:m", json!({ "offset": last_offset, "epoch": epoch })).await;
    assert_eq!(ext["recovered"], true, "{ext}");
    assert_eq!(ext["offset"], 10, "{ext}");
    b.publish("room:m", "new_msg", &json!({ "n": 11 }));
    let recovered = numbers(&mut moved, "room:m", 8).await;
    let expected: Vec<(u64, u64)> = (4..=11).map(|n| (n, n)).collect();
    assert_eq!(recovered, expected, "4 to 10 replayed, then 11 live: none lost, none twice");
    assert!(moved.next_frame_within(Duration::from_millis(200)).await.is_none(), "nothing after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_joined_a_quiet_topic_recovers_on_another_relay() {
    let redis = Redis::start();
    let (a, b) = (RelayProcess::start(&redis, &[]), RelayProcess::start(&redis, &[]));
    let mut client = Client::connect("client", &a.ws_url()).await;
    let joined = join_positioned(&mut client, "room:q", json!({})).await;
    assert_eq!(joined, json!({ "offset": 0, "epoch": "none" }), "nothing numbered yet, on any relay");
    drop(client);
    b.publish("room:q", "new_msg", &json!({ "n": 1 }));
    b.publish("room:q", "new_msg", &json!({ "n": 2 }));
    wait_until(Duration::from_secs(5), || {
        b.http("GET", "/api/history/room:q", "").is_some_and(|(_, history)| history.contains(r#""offset":2"#))
    });

    let mut moved = Client::connect("moved", &b.ws_url()).await;
    let ext = join_positioned(&mut moved, "room:q", joined).await;
    assert_eq!(ext["recovered"], true, "it saw nothing, and everything since the first broadcast is kept: {ext}");
    assert_eq!(numbers(&mut moved, "room:q", 2).await, [(1, 1), (2, 2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_survives_a_relay_restart() {
    let redis = Redis::start();
    let mut a = RelayProcess::start(&redis, &[]);
    for n in 1..=5 {
        a.publish("room:h", "new_msg", &json!({ "n": n }));
    }
    // Publishing answers once the broadcast is queued for Redis; a relay killed before Redis took it loses it.
    wait_until(Duration::from_secs(5), || a.metric("ferrocast_redis_published_total") == 5);
    let (_, history) = a.http("GET", "/api/history/room:h", "").expect("history");
    let epoch = serde_json::from_str::<Value>(&history).expect("JSON")["epoch"].clone();
    a.restart();
    let mut client = Client::connect("client", &a.ws_url()).await;
    let ext = join_positioned(&mut client, "room:h", json!({ "offset": 2, "epoch": epoch })).await;
    assert_eq!(ext["recovered"], true, "the restarted relay read the history back from Redis: {ext}");
    assert_eq!(ext["epoch"], epoch);
    assert_eq!(numbers(&mut client, "room:h", 3).await, [(3, 3), (4, 4), (5, 5)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_come_back_after_redis_restarts_and_count_the_gap() {
    let mut redis = Redis::start();
    let (a, b) = (RelayProcess::start(&redis, &[]), RelayProcess::start(&redis, &[]));
    let mut client = Client::connect("client", &a.ws_url()).await;
    join_positioned(&mut client, "room:r", json!({})).await;
    b.publish("room:r", "new_msg", &json!({ "n": 1 }));
    let before = client.next_event("new_msg").await;
    let old_epoch = before[5]["epoch"].clone();

    redis.kill();
    wait_until(Duration::from_secs(10), || a.metric("ferrocast_redis_connected") == 0);
    // Published while Redis is away: it waits in B's queue, and is not lost. (The answer comes once the broadcast
    // is queued for its fanout, a moment before it reaches the queue for Redis.)
    b.publish("room:r", "new_msg", &json!({ "n": 2 }));
    wait_until(Duration::from_secs(5), || b.metric("ferrocast_redis_queued") == 1);
    let port = redis.port;
    let _redis = Redis::start_on(port);

    // Relays retry with a jittered backoff of at most 2 s, Redis's client library likewise: within 20 s. Redis
    // lost its data, and with it whatever it had not yet delivered, so the client, which follows positions, is
    // told before anything of the new series: its channel errors, and it rejoins.
    let told = loop {
        let frame = client.next_frame_within(Duration::from_secs(20)).await.expect("a frame within 20 s");
        if frame[2] == "room:r" && frame[3] != "presence_diff" {
            break frame;
        }
    };
    assert_eq!(told, json!(["1", "1", "room:r", "phx_error", { "reason": "missed broadcasts" }]));
    let (_, history) = a.http("GET", "/api/history/room:r", "").expect("history");
    let history: Value = serde_json::from_str(&history).expect("JSON");
    assert_eq!(history["messages"][0]["offset"], 1, "Redis lost its data: a new series: {history}");
    assert_eq!(history["messages"][0]["payload"]["n"], 2, "{history}");
    assert_ne!(history["epoch"], old_epoch, "under a new epoch, so no old position matches by accident");
    let offered = json!({ "offset": 1, "epoch": old_epoch });
    let rejoined = join_positioned(&mut client, "room:r", offered).await;
    assert_eq!(rejoined["recovered"], false, "{rejoined}");
    assert_eq!(rejoined["epoch"], history["epoch"]);
    b.publish("room:r", "new_msg", &json!({ "n": 3 }));
    assert_eq!(numbers(&mut client, "room:r", 1).await, [(2, 3)]);
    assert_eq!(a.metric("ferrocast_loss_notices_total"), 1);

    for relay in [&a, &b] {
        wait_until(Duration::from_secs(10), || relay.metric("ferrocast_redis_connected") == 1);
        assert!(relay.metric("ferrocast_redis_disconnects_total") >= 1);
    }
    assert_eq!(a.metric("ferrocast_redis_history_resets_total"), 1, "room:r's history started again");
    assert!(b.metric("ferrocast_redis_publish_retries_total") >= 1);
    assert_eq!(b.metric("ferrocast_redis_queued"), 0);
    assert_eq!(b.metric("ferrocast_redis_dropped_total"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_back_without_broadcasts_a_relay_saw_starts_the_topic_again_and_its_subscribers_are_told() {
    let dir = std::env::temp_dir().join(format!("ferrocast-snapshot-{}", support::free_port()));
    std::fs::create_dir_all(&dir).expect("Redis's directory");
    let mut redis = Redis::start_in(support::free_port(), &dir);
    let (a, b) = (RelayProcess::start(&redis, &[]), RelayProcess::start(&redis, &[]));
    let mut client = Client::connect("client", &a.ws_url()).await;
    let epoch = six_seen_three_saved(&redis, &b, &mut client, "room:w").await;

    // Redis comes back with the snapshot: offsets 1 to 3 of the same epoch, as a replica made master before it had
    // the last writes would. Without a check, the next broadcast would be offset 4 again, which A, and the client,
    // would skip as had already.
    let port = redis.port;
    redis.kill();
    wait_until(Duration::from_secs(10), || a.metric("ferrocast_redis_connected") == 0);
    let redis = Redis::start_in(port, &dir);
    assert_eq!(offset_in(&redis, "room:w"), Some(3), "Redis came back with offset 3");
    // A saw 4 to 6: once it is back on Redis, it has started the topic again.
    wait_until(Duration::from_secs(20), || a.metric("ferrocast_redis_rewound_total") == 1);
    assert_eq!(b.metric("ferrocast_redis_rewound_total"), 0, "B follows no topic, so it had nothing to compare");

    b.publish("room:w", "new_msg", &json!({ "n": 7 }));
    told_and_rejoined(&mut client, "room:w", &epoch).await;
    b.publish("room:w", "new_msg", &json!({ "n": 8 }));
    assert_eq!(numbers(&mut client, "room:w", 1).await, [(2, 8)], "7 was offset 1 of the new epoch, before the rejoin");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_redis_gave_again_while_a_relay_was_away_are_found_and_its_subscribers_told() {
    let dir = std::env::temp_dir().join(format!("ferrocast-snapshot-{}", support::free_port()));
    std::fs::create_dir_all(&dir).expect("Redis's directory");
    let mut redis = Redis::start_in(support::free_port(), &dir);
    let proxy = HoldProxy::start(redis.port).await;
    let a = RelayProcess::start_on_url(&proxy.url(), &[]);
    let b = RelayProcess::start(&redis, &[]);
    let mut client = Client::connect("client", &a.ws_url()).await;
    let epoch = six_seen_three_saved(&redis, &b, &mut client, "room:v").await;

    // A is cut off while Redis comes back with offsets 1 to 3, and B, which follows no topic, numbers on from there:
    // its broadcasts 7 to 10 take offsets 4 to 7 of the same epoch, so Redis is now past what A saw.
    proxy.hold();
    wait_until(Duration::from_secs(10), || a.metric("ferrocast_redis_connected") == 0);
    let port = redis.port;
    redis.kill();
    let redis = Redis::start_in(port, &dir);
    for n in 7..=10 {
        b.publish("room:v", "new_msg", &json!({ "n": n }));
    }
    wait_until(Duration::from_secs(20), || offset_in(&redis, "room:v") == Some(7));
    // Back, A finds under offsets 4 to 6 other broadcasts than it delivered: without a check it would go on from
    // offset 7, and its client would miss 7 to 9 without a word.
    proxy.release();
    wait_until(Duration::from_secs(20), || a.metric("ferrocast_redis_rewound_total") == 1);
    b.publish("room:v", "new_msg", &json!({ "n": 11 }));
    told_and_rejoined(&mut client, "room:v", &epoch).await;
    b.publish("room:v", "new_msg", &json!({ "n": 12 }));
    assert_eq!(numbers(&mut client, "room:v", 1).await, [(2, 12)]);
    std::fs::remove_dir_all(&dir).ok();
}

/// Broadcasts 1 to 6 on `topic` through `b`, seen by `client`, with a snapshot of Redis taken after 3; the topic's
/// epoch.
async fn six_seen_three_saved(redis: &Redis, b: &RelayProcess, client: &mut Client, topic: &str) -> Value {
    join_positioned(client, topic, json!({})).await;
    for n in 1..=3 {
        b.publish(topic, "new_msg", &json!({ "n": n }));
    }
    assert_eq!(numbers(client, topic, 3).await, [(1, 1), (2, 2), (3, 3)]);
    assert!(redis.command("SAVE").is_some_and(|reply| reply.starts_with("+OK")));
    for n in 4..=6 {
        b.publish(topic, "new_msg", &json!({ "n": n }));
    }
    assert_eq!(numbers(client, topic, 3).await, [(4, 4), (5, 5), (6, 6)]);
    let epoch = redis.command(&format!("HGET ferrocast:{{{topic}}}:meta epoch")).unwrap_or_default();
    json!(epoch.lines().nth(1).expect("the topic's epoch"))
}

/// The last offset Redis gave on `topic`.
fn offset_in(redis: &Redis, topic: &str) -> Option<u64> {
    let reply = redis.command(&format!("HGET ferrocast:{{{topic}}}:meta offset"))?;
    reply.lines().nth(1)?.parse().ok()
}

/// Waits for `client` to be told that broadcasts of `topic` were lost, rejoins offering offset 6 of `epoch` as our
/// client does, and checks it is not recovered and the topic has a new epoch.
async fn told_and_rejoined(client: &mut Client, topic: &str, epoch: &Value) {
    let told = loop {
        let frame = client.next_frame_within(Duration::from_secs(10)).await.expect("a frame within 10 s");
        if frame[2] == topic && frame[3] != "presence_diff" {
            break frame;
        }
    };
    assert_eq!(told, json!(["1", "1", topic, "phx_error", { "reason": "missed broadcasts" }]));
    let rejoined = join_positioned(client, topic, json!({ "offset": 6, "epoch": epoch })).await;
    assert_eq!(rejoined["recovered"], false, "{rejoined}");
    assert_ne!(&rejoined["epoch"], epoch, "a new epoch, so no old position matches by accident");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_cut_from_the_channel_reads_what_it_missed_from_the_streams() {
    let redis = Redis::start();
    let (a, b) = (RelayProcess::start(&redis, &[]), RelayProcess::start(&redis, &[]));
    let mut client = Client::connect("client", &a.ws_url()).await;
    join_positioned(&mut client, "room:g", json!({})).await;
    let publisher = tokio::task::spawn_blocking(move || {
        for n in 1..=300 {
            b.publish("room:g", "new_msg", &json!({ "n": n }));
            if n % 50 == 0 {
                // Every relay's subscription is cut; they reconnect while B goes on publishing.
                assert!(redis.command("CLIENT KILL TYPE pubsub").is_some_and(|reply| reply.starts_with(':')));
            }
        }
        (b, redis)
    });
    let seen = numbers(&mut client, "room:g", 300).await;
    let expected: Vec<(u64, u64)> = (1..=300).map(|n| (n, n)).collect();
    assert_eq!(seen, expected, "every broadcast once, in order, across six cuts");
    let (_b, _redis) = publisher.await.expect("publisher");
    assert!(a.metric("ferrocast_redis_disconnects_total") >= 1);
    assert_eq!(a.metric("ferrocast_redis_lost_total"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_stream_no_longer_holds_after_a_relay_was_cut_off_is_counted_lost() {
    let redis = Redis::start();
    let proxy = HoldProxy::start(redis.port).await;
    // Ten kept per topic (Redis trims by whole nodes, so somewhat more stay).
    let a = RelayProcess::start_on_url(&proxy.url(), &["--history-size", "10"]);
    let b = RelayProcess::start(&redis, &["--history-size", "10"]);
    let mut client = Client::connect("client", &a.ws_url()).await;
    join_positioned(&mut client, "room:t", json!({})).await;
    b.publish("room:t", "new_msg", &json!({ "n": 1 }));
    let first = client.next_event("new_msg").await;
    assert_eq!((&first[5]["offset"], &first[4]["n"]), (&json!(1), &json!(1)), "{first}");
    let epoch = first[5]["epoch"].clone();
    let mut reader = event_stream(&a, "room:t");
    let mut read = String::new();
    read_until(&mut reader, &mut read, "event: ferrocast:subscribed");

    proxy.hold();
    wait_until(Duration::from_secs(10), || a.metric("ferrocast_redis_connected") == 0);
    let batch: Vec<Value> =
        (2..=400).map(|n| json!({ "topic": "room:t", "event": "new_msg", "payload": { "n": n } })).collect();
    let (status, response) = b.http("POST", "/api/broadcast", &Value::from(batch).to_string()).expect("publish");
    assert_eq!(status, 200, "{response}");
    wait_until(Duration::from_secs(10), || b.metric("ferrocast_redis_published_total") == 400);
    let kept = redis.command("XLEN ferrocast:{room:t}:stream").expect("XLEN");
    let kept: u64 = kept.trim().trim_start_matches(':').parse().unwrap_or_else(|_| panic!("XLEN said {kept:?}"));
    assert!((10..399).contains(&kept), "the stream keeps a tail of 2..=400 only: {kept}");
    proxy.release();
    b.publish("room:t", "new_msg", &json!({ "n": 401 }));

    // The client follows positions, so it is not handed the gap: before the first broadcast after it, its
    // channel errors, and its rejoin from offset 1 is told what was lost.
    let told = loop {
        let frame = client.next_frame().await;
        if frame[3] != "presence_diff" {
            break frame; // the event stream's reader joined the topic's presence
        }
    };
    assert_eq!(told, json!(["1", "1", "room:t", "phx_error", { "reason": "missed broadcasts" }]));
    // Its rejoin comes once A has caught up to 401, so that what follows it is 402 only.
    wait_until(Duration::from_secs(10), || {
        a.http("GET", "/api/history/room:t", "").is_some_and(|(_, history)| history.contains(r#""offset":401,"#))
    });
    let rejoined = join_positioned(&mut client, "room:t", json!({ "offset": 1, "epoch": epoch })).await;
    assert_eq!(rejoined["recovered"], false, "{rejoined}");
    b.publish("room:t", "new_msg", &json!({ "n": 402 }));
    assert_eq!(numbers(&mut client, "room:t", 1).await, [(402, 402)], "then live, from where the rejoin was");

    // An event stream carries other topics too, so it goes on: it is told, and gets the kept tail and what follows.
    read_until(&mut reader, &mut read, r#"data: {"n":402}"#);
    let (_, after_loss) = read.split_once(r#""recovered":false"#).unwrap_or_else(|| panic!("no notice:\n{read}"));
    let notice = read.lines().find(|line| line.contains(r#""recovered":false"#)).expect("the notice");
    let notice: Value = serde_json::from_str(notice.trim_start_matches("data: ")).expect("JSON");
    assert_eq!(notice["offset"], 400 - kept, "the position just before the first broadcast after the loss: {notice}");
    assert_eq!(notice["topic"], "room:t");
    let numbers: Vec<u64> = after_loss
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str::<Value>(data).expect("JSON")["n"].as_u64().expect("n"))
        .collect();
    assert_eq!(numbers, (401 - kept..=402).collect::<Vec<_>>(), "the kept tail, then live, in order");

    let lost = a.metric("ferrocast_redis_lost_total");
    assert_eq!(lost, 399 - kept, "what A missed and the stream no longer held, counted");
    assert_eq!(b.metric("ferrocast_redis_lost_total"), 0, "B was never cut off");
    assert_eq!(a.metric("ferrocast_loss_notices_total"), 2, "the channel and the event stream were told");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_run_on_one_relay_streams_its_events_on_the_other() {
    let redis = Redis::start();
    let (a, b) = (RelayProcess::start(&redis, &[]), RelayProcess::start(&redis, &[]));
    let (status, started) =
        b.http("POST", "/api/workflows/pipeline/runs", r#"{"inputs": {"duration_ms": 20}}"#).expect("start a run");
    assert_eq!(status, 201, "{started}");
    let topic = serde_json::from_str::<Value>(&started).expect("JSON")["topic"].as_str().expect("topic").to_owned();
    let mut watcher = Client::connect("watcher", &a.ws_url()).await;
    watcher.join(&topic, json!({}), None).await;
    let mut events = Vec::new();
    loop {
        let frame = watcher.next_frame().await;
        if frame[2] != topic.as_str() || frame[3] == "phx_reply" {
            continue;
        }
        events.push(frame[3].as_str().expect("event").to_owned());
        if frame[3] == "run_completed" || frame[3] == "run_failed" {
            break;
        }
    }
    assert_eq!(events.first().map(String::as_str), Some("run_started"), "{events:?}");
    assert_eq!(events.last().map(String::as_str), Some("run_completed"), "{events:?}");
    assert_eq!(events.iter().filter(|event| *event == "step_completed").count(), 8, "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_past_the_queue_for_redis_is_refused_with_503_not_dropped_after_200() {
    let redis = Redis::start();
    let proxy = HoldProxy::start(redis.port).await;
    let a = RelayProcess::start_on_url(&proxy.url(), &["--redis-queue", "20"]);
    proxy.hold();
    let batch = |from: u64, count: u64| {
        let batch: Vec<Value> =
            (from..from + count).map(|n| json!({ "topic": "room:q", "event": "n", "payload": { "n": n } })).collect();
        Value::from(batch).to_string()
    };
    let (status, answer) = a.http("POST", "/api/broadcast", &batch(1, 20)).expect("publish");
    assert_eq!(status, 200, "twenty fit: {answer}");
    wait_until(Duration::from_secs(10), || a.metric("ferrocast_redis_queued") == 20);
    let (status, answer) = a.http("POST", "/api/broadcast", &batch(21, 1)).expect("publish");
    assert_eq!(status, 503, "{answer}");
    assert!(answer.contains("the queue for Redis is full"), "{answer}");
    assert_eq!(a.metric("ferrocast_redis_dropped_total"), 0, "refused, not dropped");
    proxy.release();
    wait_until(Duration::from_secs(20), || a.metric("ferrocast_redis_published_total") == 20);
    let (status, answer) = a.http("POST", "/api/broadcast", &batch(21, 1)).expect("publish");
    assert_eq!(status, 200, "room again once Redis took them: {answer}");
}

/// A Redis serving TLS only, its certificate (for 127.0.0.1) signed by a CA of the test's own; stopped on drop.
struct TlsRedis {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl TlsRedis {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("ferrocast-tls-redis-{}", support::free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let openssl = |args: &[&str]| {
            let done = std::process::Command::new("openssl").args(args).current_dir(&dir).output().expect("openssl");
            assert!(done.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&done.stderr));
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        openssl(
            &[
                &["req", "-x509"],
                &ec[..],
                &["-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=test CA"],
            ]
            .concat(),
        );
        openssl(
            &[&["req"], &ec[..], &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]].concat(),
        );
        std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "san.ext",
        ]);
        let port = support::free_port();
        let binary = std::env::var("FERROCAST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned());
        let child = std::process::Command::new(binary)
            .args(["--port", "0", "--tls-port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--tls-auth-clients", "no", "--tls-cert-file", "server.pem"])
            .args(["--tls-key-file", "server.key", "--tls-ca-cert-file", "ca.pem", "--dir"])
            .arg(&dir)
            .current_dir(&dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server");
        wait_until(Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", port)).is_ok());
        TlsRedis { child, port, dir }
    }

    fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.port)
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_share_a_redis_over_tls_checked_against_its_ca() {
    let redis = TlsRedis::start();
    let ca = redis.dir.join("ca.pem");
    let ca = ca.to_str().unwrap();
    // Without the CA, the system's roots do not vouch for this server: the relay does not link to it.
    let mut stranger = std::process::Command::new(support::relay_process::binary())
        .args(["--listen", "127.0.0.1:0", "--pubsub", &redis.url()])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("relay");
    std::thread::sleep(Duration::from_secs(3));
    let _ = stranger.kill();
    let output = stranger.wait_with_output().expect("output");
    let said = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("invalid peer certificate"), "{said}");

    let a = RelayProcess::start_on_url(&redis.url(), &["--redis-ca", ca]);
    let b = RelayProcess::start_on_url(&redis.url(), &["--redis-ca", ca]);
    let mut client = Client::connect("client", &a.ws_url()).await;
    join_positioned(&mut client, "room:tls", json!({})).await;
    b.publish("room:tls", "new_msg", &json!({ "n": 1 }));
    assert_eq!(numbers(&mut client, "room:tls", 1).await, [(1, 1)], "across the relays, over TLS");
    assert_eq!(a.metric("ferrocast_redis_connected"), 1);
}

/// How many relays are subscribed to `topic`'s channel in Redis.
fn followers(redis: &Redis, topic: &str) -> u64 {
    let reply = redis.command(&format!("PUBSUB NUMSUB ferrocast:{{{topic}}}:broadcasts")).expect("NUMSUB");
    reply.lines().rev().find_map(|line| line.strip_prefix(':')?.parse().ok()).unwrap_or_else(|| panic!("{reply:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_follows_only_the_topics_its_clients_joined_and_lets_them_go_after_they_leave() {
    let redis = Redis::start();
    let (a, b) = (RelayProcess::start(&redis, &[]), RelayProcess::start(&redis, &[]));
    let mut on_a = Client::connect("on_a", &a.ws_url()).await;
    let mut on_b = Client::connect("on_b", &b.ws_url()).await;
    join_positioned(&mut on_a, "room:a", json!({})).await;
    join_positioned(&mut on_b, "room:b", json!({})).await;
    assert_eq!((followers(&redis, "room:a"), followers(&redis, "room:b")), (1, 1));

    // B publishes on A's topic without following it: only A receives it from Redis.
    for n in 1..=20 {
        b.publish("room:a", "new_msg", &json!({ "n": n }));
    }
    let seen = numbers(&mut on_a, "room:a", 20).await;
    assert_eq!(seen, (1..=20).map(|n| (n, n)).collect::<Vec<_>>());
    assert_eq!(b.metric("ferrocast_redis_received_total"), 0, "B follows room:b only");
    assert_eq!(a.metric("ferrocast_redis_received_total"), 20);
    assert_eq!((a.metric("ferrocast_redis_topics_followed"), b.metric("ferrocast_redis_topics_followed")), (1, 1));

    // Reading a topic's history follows it first, so B reads what Redis kept.
    let (status, page) = b.http("GET", "/api/history/room:a", "").expect("history");
    assert_eq!(status, 200, "{page}");
    let page: Value = serde_json::from_str(&page).expect("JSON");
    assert_eq!((page["offset"].as_u64(), page["messages"].as_array().map(Vec::len)), (Some(20), Some(20)), "{page}");

    // Left everywhere, the topic is let go of by both relays within two sweeps.
    on_a.send(&json!(["1", "2", "room:a", "phx_leave", {}]).to_string()).await;
    assert_eq!(on_a.next_event("phx_reply").await[4]["status"], "ok");
    wait_until(Duration::from_secs(20), || followers(&redis, "room:a") == 0);
    assert_eq!(a.metric("ferrocast_redis_topics_followed"), 0);
    wait_until(Duration::from_secs(5), || b.metric("ferrocast_redis_topics_followed") == 1);

    // Broadcasts while nobody follows the topic are in its stream: a rejoin from the last position gets each once.
    for n in 21..=25 {
        b.publish("room:a", "new_msg", &json!({ "n": n }));
    }
    let epoch = page["epoch"].clone();
    let reply = join_positioned(&mut on_a, "room:a", json!({ "offset": 20, "epoch": epoch })).await;
    assert_eq!(reply["recovered"], true, "{reply}");
    assert_eq!(numbers(&mut on_a, "room:a", 5).await, (21..=25).map(|n| (n, n)).collect::<Vec<_>>());
    assert_eq!(b.metric("ferrocast_redis_received_total"), 0);
    assert_eq!(a.metric("ferrocast_redis_lost_total") + b.metric("ferrocast_redis_lost_total"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_is_answered_once_redis_has_its_broadcast_and_broadcast_once_wherever_it_is_sent_again() {
    let redis = Redis::start();
    let proxy = HoldProxy::start(redis.port).await;
    let a = RelayProcess::start_on_url(&proxy.url(), &[]);
    let b = RelayProcess::start(&redis, &[]);
    let mut listener = Client::connect("listener", &b.ws_url()).await;
    join_positioned(&mut listener, "room:once", json!({})).await;
    // Our client names its socket, and sends a push it got no reply for again, with the same ref.
    let named = |relay: &RelayProcess| format!("{}&ferrocast_sid=push-once-socket-0001", relay.ws_url());
    let mut first = Client::connect("first", &named(&a)).await;
    first.join("room:once", json!({ "no_presence": true }), None).await;
    let push = json!(["1", "7", "room:once", "new_msg", { "n": 1 }]).to_string();

    // While Redis is out of reach the push is not answered: the broadcast is not made yet.
    proxy.hold();
    wait_until(Duration::from_secs(10), || a.metric("ferrocast_redis_connected") == 0);
    first.send(&push).await;
    let held = Instant::now();
    while held.elapsed() < Duration::from_millis(1500) {
        if let Some(frame) = first.next_frame_within(Duration::from_millis(200)).await {
            assert_ne!(frame[3], "phx_reply", "answered before Redis had the broadcast: {frame}");
        }
    }
    proxy.release();
    let reply = first.next_event("phx_reply").await;
    assert_eq!((&reply[1], &reply[4]["status"]), (&json!("7"), &json!("ok")), "{reply}");
    assert_eq!(numbers(&mut listener, "room:once", 1).await, [(1, 1)]);

    // The same push from the same socket, sent again to the other relay: answered, and not broadcast again.
    let mut again = Client::connect("again", &named(&b)).await;
    again.join("room:once", json!({ "no_presence": true }), None).await;
    again.send(&push).await;
    let reply = again.next_event("phx_reply").await;
    assert_eq!((&reply[1], &reply[4]["status"]), (&json!("7"), &json!("ok")), "{reply}");
    b.publish("room:once", "new_msg", &json!({ "n": 2 }));
    assert_eq!(numbers(&mut listener, "room:once", 1).await, [(2, 2)], "the push's broadcast was made once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_cut_from_redis_is_sent_the_presence_changes_it_missed_not_everything_again() {
    let redis = Redis::start();
    let proxy = HoldProxy::start(redis.port).await;
    // Silence is not held against A for the time the test cuts it off, however slow the machine.
    let on = |url: &str| {
        RelayProcess::start_alone(&[
            "--pubsub",
            url,
            "--presence-heartbeat-ms",
            "200",
            "--presence-timeout-ms",
            "60000",
        ])
    };
    let (a, b) = (on(&proxy.url()), on(&redis.url()));
    let lists = |relay: &RelayProcess, wanted: &[&str], gone: &[&str]| {
        relay.http("GET", "/api/presence/room:q", "").is_some_and(|(_, listed)| {
            wanted.iter().all(|user| listed.contains(&format!("\"{user}\"")))
                && gone.iter().all(|user| !listed.contains(&format!("\"{user}\"")))
        })
    };
    let mut alice = Client::connect("alice", &a.ws_url()).await;
    alice.join("room:q", json!({ "user_id": "alice" }), None).await;
    let mut bob = Client::connect("bob", &b.ws_url()).await;
    bob.join("room:q", json!({ "user_id": "bob" }), None).await;
    wait_until(Duration::from_secs(10), || lists(&a, &["alice", "bob"], &[]) && lists(&b, &["alice", "bob"], &[]));

    // While A is cut off, members come and go on both sides.
    proxy.hold();
    wait_until(Duration::from_secs(10), || a.metric("ferrocast_redis_connected") == 0);
    let mut carol = Client::connect("carol", &b.ws_url()).await;
    carol.join("room:q", json!({ "user_id": "carol" }), None).await;
    bob.close().await;
    let mut dave = Client::connect("dave", &a.ws_url()).await;
    dave.join("room:q", json!({ "user_id": "dave" }), None).await;
    wait_until(Duration::from_secs(10), || lists(&b, &["alice", "carol"], &["bob", "dave"]));

    // Back in touch, each relay gets the other's changes, sent again, and nothing else.
    proxy.release();
    let now = ["alice", "carol", "dave"];
    wait_until(Duration::from_secs(15), || lists(&a, &now, &["bob"]) && lists(&b, &now, &["bob"]));
    assert!(a.metric("ferrocast_cluster_presence_resent_total") >= 1, "A sent dave's join again");
    assert!(b.metric("ferrocast_cluster_presence_resent_total") >= 2, "B sent carol's join and bob's leave again");
    let states =
        a.metric("ferrocast_cluster_presence_states_total") + b.metric("ferrocast_cluster_presence_states_total");
    assert_eq!(states, 0, "no relay sent all its presence");
    assert_eq!(
        a.metric("ferrocast_cluster_peers_expired_total") + b.metric("ferrocast_cluster_peers_expired_total"),
        0
    );
    drop((alice, carol, dave));
}
