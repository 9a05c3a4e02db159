//! Webhooks from an in-process relay to a receiver in this test: presence joins and leaves, and a topic occupied
//! and vacated, in the order they happened. (The Node suite in `tests/webhooks` checks every kind, the signatures
//! with an independent implementation, retries and dead letters against a receiver process.)

mod support;

use ferrocast_hooks::webhooks::{Kind, WebhookEndpoint, WebhookSettings};
use ferrocast_relay::Config;
use serde_json::{Value, json};
use std::time::Duration;
use support::{Client, TestRelay};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A receiver that acknowledges every POST and hands over each event, in the order received.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (events, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let events = events.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    let mut length = 0;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    stream.read_exact(&mut body).await.unwrap();
                    let batch: Value = serde_json::from_slice(&body).unwrap();
                    for event in batch["events"].as_array().unwrap() {
                        let _ = events.send(event.clone());
                    }
                    stream.get_mut().write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.unwrap();
                }
            });
        }
    });
    (url, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_and_a_topic_occupied_then_vacated_reach_the_receiver_in_order() {
    let (url, mut received) = receiver().await;
    let endpoint = WebhookEndpoint {
        name: "test".to_owned(),
        url,
        secret: "whsec_c2VjcmV0c2VjcmV0".to_owned(),
        kinds: vec![Kind::Occupied, Kind::Vacated, Kind::PresenceJoin, Kind::PresenceLeave],
        topics: vec!["room:*".to_owned()],
    };
    let webhooks = WebhookSettings {
        endpoints: vec![endpoint],
        vacated_delay: Duration::from_millis(300),
        ..WebhookSettings::default()
    };
    let relay = TestRelay::start(Config { webhooks, ..Config::default() }).await;
    let mut ada = Client::connect("ada", &relay.url("?vsn=2.0.0")).await;
    ada.join("room:w", json!({"user_id": "ada"}), None).await;
    // Another topic: not this endpoint's.
    ada.join("zone:x", json!({"user_id": "ada", "permissions": 0}), None).await;
    // Past the presence window (50 ms): a member who joins and leaves within one is in neither list.
    tokio::time::sleep(Duration::from_millis(200)).await;
    ada.send(&json!(["1", "9", "room:w", "phx_leave", {}]).to_string()).await;

    let mut types = Vec::new();
    while types.len() < 4 {
        let event = tokio::time::timeout(Duration::from_secs(5), received.recv()).await;
        let event = event.unwrap_or_else(|_| panic!("an event after {types:?}")).unwrap();
        assert_eq!(event["topic"], "room:w", "{event}");
        if event["type"] == "presence.join" || event["type"] == "presence.leave" {
            assert_eq!(event["key"], "ada", "{event}");
            assert!(event["metas"][0]["phx_ref"].is_string(), "{event}");
        }
        types.push(event["type"].as_str().unwrap().to_owned());
    }
    assert_eq!(types, ["channel.occupied", "presence.join", "presence.leave", "channel.vacated"]);
    assert!(tokio::time::timeout(Duration::from_millis(500), received.recv()).await.is_err(), "nothing more");
}
