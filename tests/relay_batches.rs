//! Batch messages over real sockets: a client that asks with `ferrocast_batch=1` gets a burst as a few messages, in
//! order and complete; a phoenix.js-style client gets one frame per message; and `POST /api/broadcast` publishes
//! an array of messages in one request, or none of them when one is bad.

mod support;

use ferrocast_relay::Config;
use serde_json::{Value, json};
use support::{Client, TestRelay, http};
use tokio_tungstenite::tungstenite::Message;

const BURST: u64 = 2_000;

async fn joined(relay: &TestRelay, query: &str) -> Client {
    let mut client = Client::connect("subscriber", &relay.url(query)).await;
    client.send(r#"["1","1","room:burst","phx_join",{"no_presence":true}]"#).await;
    let reply = client.next_json().await;
    assert_eq!(reply[4]["status"], "ok", "{reply}");
    client
}

/// Publishes `BURST` broadcasts in one request, so they queue up before the socket's writer runs.
async fn publish_burst(relay: &TestRelay) {
    let messages: Vec<Value> =
        (0..BURST).map(|n| json!({ "topic": "room:burst", "event": "new_msg", "payload": { "n": n } })).collect();
    let (status, body) = http(relay, "POST", "/api/broadcast", &Value::from(messages).to_string()).await;
    assert_eq!((status, body.trim()), (200, r#"{"ok":true,"published":2000}"#));
}

/// Reads until every broadcast of the burst came; returns how many messages carried them, after checking each
/// frame and their order.
async fn receive_burst(client: &mut Client) -> (u64, u64) {
    let (mut next, mut messages, mut batches) = (0, 0, 0);
    while next < BURST {
        let Message::Text(text) = client.next().await else { panic!("a text message") };
        let value: Value = serde_json::from_str(text.as_str()).expect("JSON");
        messages += 1;
        let frames = if value[0].is_array() {
            batches += 1;
            value.as_array().expect("a batch").clone()
        } else {
            vec![value]
        };
        for frame in frames {
            assert_eq!(frame, json!([null, null, "room:burst", "new_msg", { "n": next }]));
            next += 1;
        }
    }
    (messages, batches)
}

#[tokio::test]
async fn a_client_that_asks_for_batches_gets_a_burst_in_a_few_messages_in_order() {
    let relay = TestRelay::start(Config::default()).await;
    let mut client = joined(&relay, "?vsn=2.0.0&ferrocast_batch=1").await;
    publish_burst(&relay).await;
    let (messages, batches) = receive_burst(&mut client).await;
    // 2,000 frames of ~45 bytes fit two 64 KiB batches; how the writer's turns fall may split them more, but
    // never into anything near one message per frame.
    assert!(messages <= 20 && batches >= 1, "{BURST} frames came in {messages} messages ({batches} batches)");
    client.expect_silence(100).await;
}

#[tokio::test]
async fn a_client_that_does_not_ask_gets_one_frame_per_message_and_channels_never_see_the_parameter() {
    let relay = TestRelay::start(Config::default()).await;
    let mut client = joined(&relay, "?vsn=2.0.0").await;
    publish_burst(&relay).await;
    assert_eq!(receive_burst(&mut client).await, (BURST, 0));

    // A V1 socket never gets batches, even when it asks: its frames are objects, and no V1 client batches.
    let mut v1 = Client::connect("v1", &relay.url("?vsn=1.0.0&ferrocast_batch=1")).await;
    v1.send(r#"{"topic":"room:burst","event":"phx_join","payload":{"no_presence":true},"ref":"1"}"#).await;
    assert_eq!(v1.next_json().await["payload"]["status"], "ok");
    publish_burst(&relay).await;
    for _ in 0..BURST {
        assert!(v1.next_json().await.is_object(), "one V1 frame per message");
    }
}

#[tokio::test]
async fn an_array_with_a_bad_message_publishes_nothing() {
    let relay = TestRelay::start(Config::default()).await;
    let mut client = joined(&relay, "?vsn=2.0.0&ferrocast_batch=1").await;
    let body = json!([
        { "topic": "room:burst", "event": "new_msg", "payload": {} },
        { "topic": "room:burst" },
    ]);
    let (status, response) = http(&relay, "POST", "/api/broadcast", &body.to_string()).await;
    assert_eq!(status, 400, "{response}");
    assert!(response.contains("(message 1)"), "the answer names the bad message: {response}");
    client.expect_silence(200).await;
}
