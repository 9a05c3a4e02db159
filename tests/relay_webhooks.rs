//! Webhooks from an in-process relay to a receiver in this test: presence joins and leaves, and a topic occupied
//! and vacated, in the order they happened; under tokens, the webhooks API and a binary broadcast. (The Node suites
//! in `tests/webhooks` check every kind, the signatures with an independent implementation, retries and dead
//! letters against a receiver process, and the queue on Redis.)

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

/// A relay checking HS256 tokens signed with `secret`, with one webhook for every broadcast of `room:*`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_tokens_the_webhooks_api_takes_a_publisher_and_a_binary_broadcast_arrives_as_base64() {
    use base64::Engine;
    use jsonwebtoken::{EncodingKey, Header};
    const SECRET: &[u8] = b"a secret shared with the application's backend";
    let token =
        |claims: Value| jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(SECRET)).unwrap();
    let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600;
    let (url, mut received) = receiver().await;
    let endpoint = WebhookEndpoint {
        name: "crm".to_owned(),
        url,
        secret: "whsec_c2VjcmV0c2VjcmV0".to_owned(),
        kinds: vec![Kind::Broadcast],
        topics: vec!["room:*".to_owned()],
    };
    let config = Config {
        webhooks: WebhookSettings { endpoints: vec![endpoint], ..WebhookSettings::default() },
        tokens: Some(std::sync::Arc::new(ferrocast_pubsub::TokenVerifier::hs256(SECRET))),
        ..Config::default()
    };
    let relay = TestRelay::start(config).await;

    let reader = token(json!({"sub": "ada", "exp": exp, "topics": ["room:*"]}));
    let publisher = token(json!({"sub": "backend", "exp": exp, "publish": true}));
    for path in ["/api/webhooks", "/api/webhooks/crm/dead"] {
        let (status, answer) = support::http(&relay, "GET", path, "").await;
        assert_eq!((status, answer.contains("missing token")), (401, true), "{path}: {answer}");
        let (status, answer) =
            support::http_with(&relay, "GET", path, &[&format!("authorization: Bearer {reader}")], "").await;
        assert_eq!(status, 403, "{path}: {answer}");
        let (status, answer) =
            support::http_with(&relay, "GET", path, &[&format!("authorization: Bearer {publisher}")], "").await;
        assert_eq!(status, 200, "{path}: {answer}");
    }
    let (status, _) = support::http(&relay, "POST", "/api/webhooks/crm/redeliver", "").await;
    assert_eq!(status, 401);

    let mut ada = Client::connect("ada", &relay.url(&format!("?vsn=2.0.0&token={reader}"))).await;
    ada.join("room:b", json!({"no_presence": true}), None).await;
    // A binary push of `new_msg` (Phoenix's binary frame: kind 0, then the lengths and the parts) is broadcast as is.
    let (join_ref, push_ref, topic, event) = ("1", "8", "room:b", "new_msg");
    let mut frame = vec![0, join_ref.len() as u8, push_ref.len() as u8, topic.len() as u8, event.len() as u8];
    frame.extend([join_ref, push_ref, topic, event].concat().as_bytes());
    frame.extend([0, 1, 255]);
    ada.send_binary(frame).await;
    let event = tokio::time::timeout(Duration::from_secs(5), received.recv()).await.expect("the broadcast").unwrap();
    assert_eq!(event["type"], "broadcast", "{event}");
    assert_eq!(event["binary"], true, "{event}");
    assert_eq!(event["payload"], base64::prelude::BASE64_STANDARD.encode([0, 1, 255]), "{event}");
    assert_eq!(event["offset"], 1, "{event}");
}
