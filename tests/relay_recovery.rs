//! History and recovery over real sockets: numbered broadcasts, a rejoin that replays what it missed, the answer when
//! it cannot, the history API, and a subscriber that keeps reconnecting under a publisher that does not stop.

mod support;

use ferrocast_pubsub::{HistoryLimits, SessionLimits};
use ferrocast_relay::Config;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use support::{Client, TestRelay, http};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

const V2: &str = "?vsn=2.0.0";

async fn publish(relay: &TestRelay, topic: &str, n: u64) {
    let body = json!({ "topic": topic, "event": "new_msg", "payload": { "n": n } }).to_string();
    let (status, response) = http(relay, "POST", "/api/broadcast", &body).await;
    assert_eq!(status, 200, "{response}");
}

/// Joins `topic` with the extension, offering `offered` (`{}` for none); returns the reply's extension object.
async fn join_positioned(client: &mut Client, topic: &str, offered: &Value) -> Value {
    let join = json!(["1", "1", topic, "phx_join", { "no_presence": true }, offered]);
    client.send(&join.to_string()).await;
    let reply = client.next_json().await;
    assert_eq!(reply[3], "phx_reply", "{reply}");
    assert_eq!(reply[4]["status"], "ok", "{reply}");
    reply[5].clone()
}

fn numbered(topic: &str, n: u64, epoch: &Value) -> Value {
    json!([null, null, topic, "new_msg", { "n": n }, { "offset": n, "epoch": epoch }])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejoin_replays_what_was_missed_in_order_then_goes_live() {
    let relay = TestRelay::start(Config::default()).await;
    let mut first = Client::connect("first", &relay.url(V2)).await;
    let ext = join_positioned(&mut first, "room:r", &json!({})).await;
    assert_eq!(ext["offset"], 0, "nothing broadcast yet: {ext}");
    assert_eq!(ext.get("recovered"), None, "no position was offered");
    let epoch = ext["epoch"].clone();
    assert!(epoch.as_str().is_some_and(|epoch| !epoch.is_empty()), "{ext}");

    publish(&relay, "room:r", 1).await;
    assert_eq!(first.next_json().await, numbered("room:r", 1, &epoch));
    first.close().await;

    // Broadcast while nobody is subscribed: kept all the same.
    for n in 2..=4 {
        publish(&relay, "room:r", n).await;
    }
    let mut phoenix_js = Client::connect("phoenix.js", &relay.url(V2)).await;
    phoenix_js.send(r#"["1","1","room:r","phx_join",{"no_presence":true}]"#).await;
    phoenix_js.expect(r#"["1","1","room:r","phx_reply",{"response":{},"status":"ok"}]"#).await;

    let mut back = Client::connect("back", &relay.url(V2)).await;
    let ext = join_positioned(&mut back, "room:r", &json!({ "offset": 1, "epoch": epoch })).await;
    assert_eq!(ext, json!({ "offset": 4, "epoch": epoch, "recovered": true }));
    for n in 2..=4 {
        assert_eq!(back.next_json().await, numbered("room:r", n, &epoch));
    }
    publish(&relay, "room:r", 5).await;
    assert_eq!(back.next_json().await, numbered("room:r", 5, &epoch));
    back.expect_silence(100).await;
    // A client that does not speak the extension sees plain Phoenix frames, and nothing of the replay.
    phoenix_js.expect(r#"[null,null,"room:r","new_msg",{"n":5}]"#).await;
    phoenix_js.expect_silence(100).await;

    let (status, body) = http(&relay, "GET", "/api/history/room:r?since=2", "").await;
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["offset"], 5);
    assert_eq!(page["epoch"], epoch);
    assert_eq!(page["complete"], true);
    let messages: Vec<_> = page["messages"].as_array().unwrap().iter().map(|m| m["payload"]["n"].clone()).collect();
    assert_eq!(messages, [json!(3), json!(4), json!(5)]);
    assert_eq!(page["messages"][0]["event"], "new_msg");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_that_cannot_be_served_says_so() {
    let config = Config { history: HistoryLimits { max_messages: 2, ..HistoryLimits::default() }, ..Config::default() };
    let relay = TestRelay::start(config.clone()).await;
    for n in 1..=5 {
        publish(&relay, "room:short", n).await;
    }
    let (_, body) = http(&relay, "GET", "/api/history/room:short?since=1", "").await;
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["complete"], false, "offsets 2 and 3 are no longer kept: {page}");
    let epoch = page["epoch"].clone();

    let mut client = Client::connect("late", &relay.url(V2)).await;
    let ext = join_positioned(&mut client, "room:short", &json!({ "offset": 1, "epoch": epoch })).await;
    assert_eq!(ext, json!({ "offset": 5, "epoch": epoch, "recovered": false }));
    client.expect_silence(100).await; // no partial replay: the application reloads instead

    // Another relay (as after a restart with in-memory history) has another epoch.
    let restarted = TestRelay::start(config).await;
    publish(&restarted, "room:short", 1).await;
    let mut client = Client::connect("restarted", &restarted.url(V2)).await;
    let ext = join_positioned(&mut client, "room:short", &json!({ "offset": 5, "epoch": epoch })).await;
    assert_eq!(ext["recovered"], false, "{ext}");
    assert_ne!(ext["epoch"], epoch);

    let (status, body) = http(&relay, "GET", "/api/history/room:short?since=x", "").await;
    assert_eq!(status, 400, "{body}");
    // A topic nothing was broadcast on is empty, not missing: a page's first load reads it without a 404.
    let (status, body) = http(&relay, "GET", "/api/history/room:never", "").await;
    assert_eq!(status, 200, "{body}");
    let never: Value = serde_json::from_str(&body).expect("JSON");
    let nothing = json!({ "topic": "room:never", "epoch": "none", "offset": 0, "complete": true, "messages": [] });
    assert_eq!(never, nothing);
    let (_, body) = http(&relay, "GET", "/api/history/room:never?since=4", "").await;
    assert_eq!(serde_json::from_str::<Value>(&body).expect("JSON")["complete"], false, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_carries_the_extension_under_ext() {
    let relay = TestRelay::start(Config::default()).await;
    let mut client = Client::connect("v1", &relay.url("?vsn=1.0.0")).await;
    client.send(r#"{"topic":"room:v1","event":"phx_join","payload":{"no_presence":true},"ref":"1","ext":{}}"#).await;
    let reply = client.next_json().await;
    assert_eq!(reply["event"], "phx_reply");
    assert_eq!(reply["ext"]["offset"], 0, "{reply}");
    publish(&relay, "room:v1", 1).await;
    let broadcast = client.next_json().await;
    assert_eq!(broadcast["ext"], json!({ "offset": 1, "epoch": reply["ext"]["epoch"] }));
}

/// A publisher pushes numbered messages as fast as the relay takes them while a subscriber drops its connection
/// every few dozen frames and rejoins from its last position: it must see every number once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_keeps_reconnecting_misses_nothing_and_sees_nothing_twice() {
    const COUNT: u64 = 3_000;
    // History holds every broadcast, so however far the subscriber falls behind while the machine is busy, each
    // rejoin must be recovered: what is tested is the replay, not the history's size.
    let history = HistoryLimits { max_messages: COUNT as usize, ..HistoryLimits::default() };
    // The publisher pushes 3,000 frames as fast as it can over one socket: a backend's rate, not a page's.
    let limits = SessionLimits { frames_per_second: 1_000_000, burst: 1_000_000, ..SessionLimits::default() };
    let relay = TestRelay::start(Config { history, limits, ..Config::default() }).await;
    let url = relay.url(V2);

    // Started once the subscriber has joined: a first join (no position offered) replays nothing.
    let publish_all = {
        let url = url.clone();
        async move {
            let (socket, _) = connect_async(&url).await.expect("publisher connects");
            let (mut sink, mut stream) = socket.split();
            // Its own broadcasts and replies come back; read them so its queue never fills, until the reply to its
            // last push says the relay has handled them all. Closing before that would lose the pushes the relay
            // has not read yet: a socket closed with unread data is reset, and the reset discards them.
            let last_reply = format!(r#""{COUNT}","room:flow","phx_reply""#);
            let drain = tokio::spawn(async move {
                while let Some(Ok(message)) = stream.next().await {
                    if message.to_text().is_ok_and(|text| text.contains(&last_reply)) {
                        return;
                    }
                }
            });
            let join = r#"["1","1","room:flow","phx_join",{"no_presence":true}]"#;
            sink.send(Message::text(join)).await.unwrap();
            for n in 1..=COUNT {
                let push = json!(["1", n.to_string(), "room:flow", "new_msg", { "n": n }]);
                sink.send(Message::text(push.to_string())).await.unwrap();
                if n % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            drain.await.expect("the publisher reads until its last reply");
        }
    };
    let mut publish_all = Some(publish_all);
    let mut publisher = None;

    let mut seen = Vec::new();
    let mut position = json!({});
    let mut connections = 0;
    let mut recovered = 0;
    while seen.last() != Some(&COUNT) {
        connections += 1;
        let mut client = Client::connect("subscriber", &url).await;
        let ext = join_positioned(&mut client, "room:flow", &position).await;
        if ext.get("recovered").is_some() {
            assert_eq!(ext["recovered"], true, "history covers every gap here: {ext}");
            recovered += 1;
        }
        position = json!({ "offset": ext["offset"], "epoch": ext["epoch"] });
        if let Some(publish_all) = publish_all.take() {
            publisher = Some(tokio::spawn(publish_all));
        }
        let stay_for = 20 + (connections * 37) % 60;
        for _ in 0..stay_for {
            let frame = tokio::time::timeout(Duration::from_millis(500), client.next_json()).await;
            let Ok(frame) = frame else { break }; // the publisher is done
            let n = frame[4]["n"].as_u64().expect("a numbered message");
            assert_eq!(frame[5]["offset"], n, "offsets follow the publisher's order here: {frame}");
            seen.push(n);
            position = frame[5].clone();
        }
        drop(client); // no leave: the connection just goes
    }
    publisher.expect("started").await.unwrap();
    println!("{} messages over {connections} connections ({recovered} rejoins recovered)", seen.len());
    let expected: Vec<u64> = (1..=COUNT).collect();
    let missing: Vec<_> = expected.iter().filter(|n| !seen.contains(n)).collect();
    assert!(seen == expected, "gaps or duplicates: got {} messages, missing {missing:?}", seen.len());
    assert!(connections > 10, "the subscriber should have reconnected many times");
}
