//! The scenarios of `shared/protocol/phoenix-wire-transcripts.md`, replayed against the relay with raw frames.
//!
//! Frames are the ones a real Phoenix 1.7.21 server sent, with one deliberate difference: presence diffs are
//! coalesced over the presence window, so a join's own `presence_diff` comes after its `presence_state` instead of
//! before it (phoenix.js `Presence` accepts both orders).

mod support;

use ferrocast_relay::{CLOSE_IDLE, CLOSE_MALFORMED, Config};
use std::time::Duration;
use support::{Client, TestRelay, http};

const V2: &str = "?vsn=2.0.0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_happy_path_with_presence_broadcasts_and_http() {
    let relay = TestRelay::start(Config::default()).await;
    let mut a = Client::connect("A", &relay.url(V2)).await;
    a.send(r#"["1","1","room:lobby","phx_join",{"user_id":"u1"}]"#).await;
    a.expect(r#"["1","1","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#).await;
    a.expect(r#"["1",null,"room:lobby","presence_state",{"u1":{"metas":[{"online_at":0,"phx_ref":""}]}}]"#).await;
    a.expect(r#"[null,null,"room:lobby","presence_diff",{"joins":{"u1":{"metas":[{"online_at":0,"phx_ref":""}]}},"leaves":{}}]"#).await;
    a.send(r#"["1","2","room:lobby","ping",{"hello":"world","n":1}]"#).await;
    a.expect(r#"["1","2","room:lobby","phx_reply",{"response":{"hello":"world","n":1},"status":"ok"}]"#).await;
    a.send(r#"["1","3","room:lobby","new_msg",{"body":"hi"}]"#).await;
    a.expect(r#"[null,null,"room:lobby","new_msg",{"body":"hi"}]"#).await;
    a.expect(r#"["1","3","room:lobby","phx_reply",{"response":{"body":"hi"},"status":"ok"}]"#).await;
    a.send(r#"[null,"4","phoenix","heartbeat",{}]"#).await;
    a.expect(r#"[null,"4","phoenix","phx_reply",{"response":{},"status":"ok"}]"#).await;

    let mut b = Client::connect("B", &relay.url(V2)).await;
    b.send(r#"["7","7","room:lobby","phx_join",{"user_id":"u2"}]"#).await;
    b.expect(r#"["7","7","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#).await;
    let both = r#"{"u1":{"metas":[{"online_at":0,"phx_ref":""}]},"u2":{"metas":[{"online_at":0,"phx_ref":""}]}}"#;
    b.expect(&format!(r#"["7",null,"room:lobby","presence_state",{both}]"#)).await;
    let u2_joins = r#"[null,null,"room:lobby","presence_diff",{"joins":{"u2":{"metas":[{"online_at":0,"phx_ref":""}]}},"leaves":{}}]"#;
    b.expect(u2_joins).await;
    a.expect(u2_joins).await;

    let (status, body) = http(
        &relay,
        "POST",
        "/api/broadcast",
        r#"{"topic":"room:lobby","event":"new_msg","payload":{"body":"from http"}}"#,
    )
    .await;
    assert_eq!((status, body.as_str()), (200, r#"{"ok":true}"#));
    a.expect(r#"[null,null,"room:lobby","new_msg",{"body":"from http"}]"#).await;
    b.expect(r#"[null,null,"room:lobby","new_msg",{"body":"from http"}]"#).await;
    // Every broadcast is timed, whoever made it: two presence diffs, the channel's new_msg, the HTTP one.
    let (_, metrics) = http(&relay, "GET", "/metrics", "").await;
    assert!(metrics.contains("\nferrocast_broadcast_fanout_seconds_count 4\n"), "{metrics}");

    let (status, body) = http(&relay, "GET", "/api/presence/room:lobby", "").await;
    assert_eq!(status, 200);
    assert_eq!(support::normalize(&body), support::normalize(both));

    b.send(r#"["7","8","room:lobby","phx_leave",{}]"#).await;
    b.expect(r#"["7","8","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#).await;
    b.expect(r#"["7","7","room:lobby","phx_close",{}]"#).await;
    let u2_leaves = r#"[null,null,"room:lobby","presence_diff",{"joins":{},"leaves":{"u2":{"metas":[{"online_at":0,"phx_ref":""}]}}}]"#;
    a.expect(u2_leaves).await;

    // B rejoins, then its TCP connection drops: A sees it leave.
    b.send(r#"["9","9","room:lobby","phx_join",{"user_id":"u2"}]"#).await;
    b.expect(r#"["9","9","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#).await;
    a.expect(u2_joins).await;
    drop(b);
    a.expect(u2_leaves).await;

    a.send(r#"["1","5","room:lobby","phx_leave",{}]"#).await;
    a.expect(r#"["1","5","room:lobby","phx_reply",{"response":{},"status":"ok"}]"#).await;
    a.expect(r#"["1","1","room:lobby","phx_close",{}]"#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_replies_follow_the_channel_not_the_frame() {
    let relay = TestRelay::start(Config::default()).await;
    let mut a = Client::connect("A", &relay.url(V2)).await;
    a.send(r#"["1","1","room:r","phx_join",{"user_id":"u1","no_presence":true}]"#).await;
    a.expect(r#"["1","1","room:r","phx_reply",{"response":{},"status":"ok"}]"#).await;
    a.send(r#"["1","2","room:r","err",{"why":"because"}]"#).await;
    a.expect(r#"["1","2","room:r","phx_reply",{"response":{"why":"because"},"status":"error"}]"#).await;
    a.send(r#"["1","3","room:r","reply_atom",{}]"#).await;
    a.expect(r#"["1","3","room:r","phx_reply",{"response":{},"status":"ok"}]"#).await;
    a.send(r#"["1","4","room:r","noreply",{}]"#).await;
    a.send(r#"["99","5","room:r","ping",{"x":1}]"#).await;
    a.expect(r#"["1","5","room:r","phx_reply",{"response":{"x":1},"status":"ok"}]"#).await;
    a.send(r#"[null,"6","room:r","ping",{"x":2}]"#).await;
    a.expect(r#"["1","6","room:r","phx_reply",{"response":{"x":2},"status":"ok"}]"#).await;
    a.send(r#"["1",null,"room:r","ping",{"x":3}]"#).await;
    a.expect(r#"["1",null,"room:r","phx_reply",{"response":{"x":3},"status":"ok"}]"#).await;
    a.send(r#"["1","7","room:r","ping","just-a-string"]"#).await;
    a.expect(r#"["1","7","room:r","phx_reply",{"response":"just-a-string","status":"ok"}]"#).await;
    a.send(r#"["1","8","room:r","ping",{"x":4},"extra"]"#).await;
    a.expect(r#"["1","8","room:r","phx_reply",{"response":{"x":4},"status":"ok"}]"#).await;
    a.send(r#"["1","9","room:r","stop_reply",{"bye":true}]"#).await;
    a.expect(r#"["1","9","room:r","phx_reply",{"response":{"bye":true},"status":"ok"}]"#).await;
    a.expect(r#"["1","1","room:r","phx_close",{}]"#).await;
    a.send(r#"["1","10","room:r","ping",{}]"#).await;
    a.expect(r#"[null,"10","room:r","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]"#).await;
    a.send(r#"["11","11","room:r","phx_join",{"no_presence":true}]"#).await;
    a.expect(r#"["11","11","room:r","phx_reply",{"response":{},"status":"ok"}]"#).await;
    a.send(r#"["11","12","room:r","stop",{}]"#).await;
    a.expect(r#"["11","11","room:r","phx_close",{}]"#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_errors_unmatched_refused_and_crashed() {
    let relay = TestRelay::start(Config::default()).await;
    let mut a = Client::connect("A", &relay.url(V2)).await;
    a.send(r#"["1","1","nope:1","phx_join",{}]"#).await;
    a.expect(r#"[null,"1","nope:1","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]"#).await;
    a.send(r#"["2","2","room:notjoined","new_msg",{"body":"x"}]"#).await;
    a.expect(r#"[null,"2","room:notjoined","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]"#)
        .await;
    a.send(r#"["3","3","room:notjoined","phx_leave",{}]"#).await;
    a.expect(r#"["3","3","room:notjoined","phx_reply",{"response":{},"status":"ok"}]"#).await;
    a.send(r#"["4","4","room:forbidden","phx_join",{}]"#).await;
    a.expect(r#"["4","4","room:forbidden","phx_reply",{"response":{"reason":"unauthorized"},"status":"error"}]"#).await;
    a.send(r#"["5","5","room:crashy","phx_join",{"user_id":"c1"}]"#).await;
    a.expect(r#"["5","5","room:crashy","phx_reply",{"response":{},"status":"ok"}]"#).await;
    a.expect(r#"["5",null,"room:crashy","presence_state",{"c1":{"metas":[{"online_at":0,"phx_ref":""}]}}]"#).await;
    a.expect(r#"[null,null,"room:crashy","presence_diff",{"joins":{"c1":{"metas":[{"online_at":0,"phx_ref":""}]}},"leaves":{}}]"#).await;
    a.send(r#"["5","6","room:crashy","crash",{}]"#).await;
    a.expect(r#"["5","5","room:crashy","phx_error",{}]"#).await;
    a.send(r#"["5","7","room:crashy","ping",{}]"#).await;
    a.expect(r#"[null,"7","room:crashy","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]"#)
        .await;
    a.send(r#"[null,"8","phoenix","heartbeat",{}]"#).await;
    a.expect(r#"[null,"8","phoenix","phx_reply",{"response":{},"status":"ok"}]"#).await;
    a.send(r#"["x","9","phoenix","heartbeat",{"a":1}]"#).await;
    a.expect(r#"[null,"9","phoenix","phx_reply",{"response":{},"status":"ok"}]"#).await;
    a.send(r#"[null,"10","phoenix","foo",{}]"#).await;
    a.expect(r#"[null,"10","phoenix","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]"#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_duplicate_join_replaces_the_channel() {
    let relay = TestRelay::start(Config::default()).await;
    let mut a = Client::connect("A", &relay.url(V2)).await;
    let d1 = r#"{"d1":{"metas":[{"online_at":0,"phx_ref":""}]}}"#;
    a.send(r#"["1","1","room:dup","phx_join",{"user_id":"d1"}]"#).await;
    a.expect(r#"["1","1","room:dup","phx_reply",{"response":{},"status":"ok"}]"#).await;
    a.expect(&format!(r#"["1",null,"room:dup","presence_state",{d1}]"#)).await;
    a.expect(&format!(r#"[null,null,"room:dup","presence_diff",{{"joins":{d1},"leaves":{{}}}}]"#)).await;
    a.send(r#"["2","2","room:dup","phx_join",{"user_id":"d1"}]"#).await;
    a.expect(r#"["2","2","room:dup","phx_reply",{"response":{},"status":"ok"}]"#).await;
    a.expect(r#"["1","1","room:dup","phx_close",{}]"#).await;
    a.expect(&format!(r#"["2",null,"room:dup","presence_state",{d1}]"#)).await;
    a.expect(&format!(r#"[null,null,"room:dup","presence_diff",{{"joins":{d1},"leaves":{d1}}}]"#)).await;
    a.send(r#"["2","3","room:dup","phx_join",{"user_id":"d1","no_presence":true}]"#).await;
    a.expect(r#"["2","3","room:dup","phx_reply",{"response":{},"status":"ok"}]"#).await;
    a.expect(r#"["2","2","room:dup","phx_close",{}]"#).await;
    a.expect(&format!(r#"[null,null,"room:dup","presence_diff",{{"joins":{{}},"leaves":{d1}}}]"#)).await;
    a.send(r#"["1","4","room:dup","phx_leave",{}]"#).await;
    a.send(r#"["2","5","room:dup","ping",{}]"#).await;
    a.expect(r#"["2","5","room:dup","phx_reply",{"response":{},"status":"ok"}]"#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_binary_pushes_and_replies_byte_for_byte() {
    let relay = TestRelay::start(Config::default()).await;
    let mut a = Client::connect("A", &relay.url(V2)).await;
    a.send(r#"["1","1","room:bin","phx_join",{"no_presence":true}]"#).await;
    a.expect(r#"["1","1","room:bin","phx_reply",{"response":{},"status":"ok"}]"#).await;
    a.send_binary(support::unhex("00010108033132726f6f6d3a62696e62696e010203ff")).await;
    a.expect_binary("0001080831726f6f6d3a62696e62696e5f70757368010203ff").await;
    a.expect_binary("01010108023132726f6f6d3a62696e6f6b010203ff").await;
    a.send_binary(support::unhex("00010108043133726f6f6d3a62696e70696e677b7d")).await;
    a.expect_binary("01010108023133726f6f6d3a62696e6f6b7b7d").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_level_answers_and_malformed_frames() {
    let relay = TestRelay::start(Config::default()).await;
    // No vsn: the V1 serializer.
    let mut n = Client::connect("N", &relay.url("")).await;
    n.send(r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"1"}"#).await;
    n.expect(r#"{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"1","topic":"phoenix"}"#).await;

    let (status, body) = http(&relay, "GET", "/socket/websocket?vsn=3.0.0", "").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("unsupported vsn"), "{body}");
    match tokio_tungstenite::connect_async(relay.url("?vsn=3.0.0")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected HTTP 403 at the upgrade, got {other:?}"),
    }
    let (status, _) = http(&relay, "GET", "/wrong/path", "").await;
    assert_eq!(status, 404);

    for malformed in [
        "not json",
        r#"["1","1","room:x","phx_join"]"#,
        r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"1"}"#,
    ] {
        let mut m = Client::connect("M", &relay.url(V2)).await;
        m.send(malformed).await;
        m.expect_close(CLOSE_MALFORMED).await;
    }
    // A malformed frame closes only its own socket.
    n.send(r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"2"}"#).await;
    n.expect(r#"{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"2","topic":"phoenix"}"#).await;
    let (status, metrics) = http(&relay, "GET", "/metrics", "").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("ferrocast_malformed_frames_total 3"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_frames_have_no_join_ref_and_close_carries_it_in_ref() {
    let relay = TestRelay::start(Config::default()).await;
    let mut a = Client::connect("A", &relay.url("?vsn=1.0.0")).await;
    a.send(r#"{"topic":"room:lobby","event":"phx_join","payload":{"user_id":"v1user"},"ref":"1","join_ref":"1"}"#)
        .await;
    a.expect(r#"{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"1","topic":"room:lobby"}"#).await;
    a.expect(r#"{"event":"presence_state","payload":{"v1user":{"metas":[{"online_at":0,"phx_ref":""}]}},"ref":null,"topic":"room:lobby"}"#).await;
    a.expect(r#"{"event":"presence_diff","payload":{"joins":{"v1user":{"metas":[{"online_at":0,"phx_ref":""}]}},"leaves":{}},"ref":null,"topic":"room:lobby"}"#).await;
    a.send(r#"{"topic":"room:lobby","event":"new_msg","payload":{"body":"v1 hi"},"ref":"3","join_ref":"1"}"#).await;
    a.expect(r#"{"event":"new_msg","payload":{"body":"v1 hi"},"ref":null,"topic":"room:lobby"}"#).await;
    a.expect(
        r#"{"event":"phx_reply","payload":{"response":{"body":"v1 hi"},"status":"ok"},"ref":"3","topic":"room:lobby"}"#,
    )
    .await;
    a.send(r#"{"topic":"room:v1b","event":"phx_join","payload":{"no_presence":true},"ref":"5"}"#).await;
    a.expect(r#"{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"5","topic":"room:v1b"}"#).await;
    a.send(r#"{"topic":"room:v1b","event":"phx_join","payload":{"no_presence":true},"ref":"6"}"#).await;
    a.expect(r#"{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"6","topic":"room:v1b"}"#).await;
    a.expect(r#"{"event":"phx_close","payload":{},"ref":null,"topic":"room:v1b"}"#).await;
    a.send(r#"{"topic":"room:v1b","event":"crash","payload":{},"ref":"8"}"#).await;
    a.expect(r#"{"event":"phx_error","payload":{},"ref":null,"topic":"room:v1b"}"#).await;
    a.send(r#"{"topic":"room:lobby","event":"phx_leave","payload":{},"ref":"9","join_ref":"1"}"#).await;
    a.expect(r#"{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"9","topic":"room:lobby"}"#).await;
    a.expect(r#"{"event":"phx_close","payload":{},"ref":"1","topic":"room:lobby"}"#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_socket_is_closed_with_1002() {
    let relay = TestRelay::start(Config { idle_timeout: Duration::from_millis(300), ..Config::default() }).await;
    let mut a = Client::connect("A", &relay.url(V2)).await;
    a.send(r#"["1","1","room:idle","phx_join",{"no_presence":true}]"#).await;
    a.expect(r#"["1","1","room:idle","phx_reply",{"response":{},"status":"ok"}]"#).await;
    let started = std::time::Instant::now();
    a.expect_close(CLOSE_IDLE).await;
    assert!(started.elapsed() >= Duration::from_millis(250), "closed after {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sockets_with_1001_and_serve_returns() {
    let mut relay = TestRelay::start(Config::default()).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut client = Client::connect("C", &relay.url(V2)).await;
        client.send(r#"[null,"1","phoenix","heartbeat",{}]"#).await;
        client.expect(r#"[null,"1","phoenix","phx_reply",{"response":{},"status":"ok"}]"#).await;
        clients.push(client);
    }
    relay.begin_shutdown();
    for client in &mut clients {
        client.expect_close(ferrocast_relay::CLOSE_GOING_AWAY).await;
    }
    let task = relay.task.take().unwrap();
    let served = tokio::time::timeout(Duration::from_secs(5), task).await.expect("serve returns after shutdown");
    served.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asked_to_stop_a_relay_fails_its_health_check_and_still_serves_for_the_drain_then_closes() {
    let drain = Duration::from_millis(1500);
    let mut relay = TestRelay::start(Config { shutdown_drain: drain, ..Config::default() }).await;
    let mut old = Client::connect("old", &relay.url(V2)).await;
    old.send(r#"["1","1","room:drain","phx_join",{"no_presence":true}]"#).await;
    old.expect(r#"["1","1","room:drain","phx_reply",{"response":{},"status":"ok"}]"#).await;
    assert_eq!(http(&relay, "GET", "/healthz", "").await.0, 200);
    let asked = std::time::Instant::now();
    relay.begin_shutdown();
    // Within the drain: the health check fails at once, and the relay still serves, a new connection included
    // (one the balancer sent before its checks saw the relay go).
    let (status, body) = http(&relay, "GET", "/healthz", "").await;
    assert_eq!((status, body.as_str()), (503, "shutting down\n"));
    let mut late = Client::connect("late", &relay.url(V2)).await;
    late.send(r#"["1","1","room:drain","phx_join",{"no_presence":true}]"#).await;
    late.expect(r#"["1","1","room:drain","phx_reply",{"response":{},"status":"ok"}]"#).await;
    let (status, _) =
        http(&relay, "POST", "/api/broadcast", r#"[{"topic":"room:drain","event":"n","payload":{}}]"#).await;
    assert_eq!(status, 200);
    for client in [&mut old, &mut late] {
        client.expect(r#"[null,null,"room:drain","n",{}]"#).await;
    }
    // Then the sockets close, not before the drain is over.
    old.expect_close(ferrocast_relay::CLOSE_GOING_AWAY).await;
    assert!(asked.elapsed() >= drain, "closed {:?} after the stop, within the drain", asked.elapsed());
    late.expect_close(ferrocast_relay::CLOSE_GOING_AWAY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_answered_before_a_shutdown_reach_subscribers_before_its_1001() {
    // The answer to a POST comes once its broadcasts are queued, before they are fanned out; a shutdown right after
    // must still deliver every one of them, in order, before it closes the sockets. 2000 broadcasts to 20
    // subscribers keep the fanout busy long enough that a close sent without waiting for it would win (it did, with
    // the wait left out), and stay under an outbox's 4096 frames.
    const SENT: u64 = 2000;
    let mut relay = TestRelay::start(Config::default()).await;
    let mut clients = Vec::new();
    for _ in 0..20 {
        let mut client = Client::connect("C", &relay.url(V2)).await;
        client.send(r#"["1","1","room:last","phx_join",{"no_presence":true}]"#).await;
        client.expect(r#"["1","1","room:last","phx_reply",{"response":{},"status":"ok"}]"#).await;
        clients.push(client);
    }
    let batch: Vec<serde_json::Value> =
        (0..SENT).map(|n| serde_json::json!({ "topic": "room:last", "event": "n", "payload": n })).collect();
    let (status, body) = http(&relay, "POST", "/api/broadcast", &serde_json::Value::from(batch).to_string()).await;
    assert_eq!(status, 200, "{body}");
    relay.begin_shutdown();
    for client in &mut clients {
        for n in 0..SENT {
            client.expect(&format!(r#"[null,null,"room:last","n",{n}]"#)).await;
        }
        client.expect_close(ferrocast_relay::CLOSE_GOING_AWAY).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_port_serves_what_backends_call_and_only_that_and_stops_with_the_relay() {
    let mut relay = TestRelay::start_with_api(Config::default()).await;
    let api = relay.api_addr.expect("an API port");
    let mut client = Client::connect("C", &relay.url(V2)).await;
    client.send(r#"["1","1","room:api","phx_join",{"no_presence":true}]"#).await;
    client.expect(r#"["1","1","room:api","phx_reply",{"response":{},"status":"ok"}]"#).await;
    let body = r#"{"topic":"room:api","event":"new_msg","payload":{"from":"the api port"}}"#;
    assert_eq!(support::http_at(api, "POST", "/api/broadcast", &[], body).await, (200, r#"{"ok":true}"#.to_owned()));
    client.expect(r#"[null,null,"room:api","new_msg",{"from":"the api port"}]"#).await;
    let (status, history) = support::http_at(api, "GET", "/api/history/room:api", &[], "").await;
    assert_eq!(status, 200);
    assert!(history.contains(r#""payload":{"from":"the api port"}"#), "{history}");
    assert_eq!(support::http_at(api, "GET", "/healthz", &[], "").await.0, 200);
    let (status, metrics) = support::http_at(api, "GET", "/metrics", &[], "").await;
    assert!(status == 200 && metrics.contains("ferrocast_connections 1\n"), "{metrics}");
    // Sockets, event streams and workflows are the main port's.
    for path in ["/socket/websocket", "/sse?topic=room:api", "/api/workflows"] {
        assert_eq!(support::http_at(api, "GET", path, &[], "").await.0, 404, "{path}");
    }
    relay.begin_shutdown();
    client.expect_close(ferrocast_relay::CLOSE_GOING_AWAY).await;
    let task = relay.task.take().expect("the relay's task");
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("serve returns").unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(api).await.is_err(), "the API port closed with the relay");
}
