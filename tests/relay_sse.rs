//! Server-sent events from a real relay: the stream's fields, ids holding every topic's position, resuming with
//! `Last-Event-ID` or `lastEventId`, the answer when resuming is not possible, keep-alives, refusals and CORS.

#[path = "support/sse.rs"]
mod sse;
mod support;

use ferrocast_relay::{Config, SseLimits};
use serde_json::{Value, json};
use sse::SseStream;
use std::time::Duration;
use support::{TestRelay, http};

async fn publish(relay: &TestRelay, topic: &str, payload: Value) {
    let body = json!({ "topic": topic, "event": "new_msg", "payload": payload }).to_string();
    let (status, response) = http(relay, "POST", "/api/broadcast", &body).await;
    assert_eq!(status, 200, "{response}");
}

fn data(event: &ferrocast_protocol::sse::Event) -> Value {
    serde_json::from_str(&event.data).unwrap_or_else(|_| panic!("JSON data: {event:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_two_topics_names_each_event_and_its_id_holds_both_positions() {
    let relay = TestRelay::start(Config::default()).await;
    publish(&relay, "room:a", json!({ "n": 1 })).await;
    let mut stream = SseStream::open(relay.addr, "/sse?topic=room:a&topic=room:b", &[]).await.unwrap();
    assert!(stream.head.contains("content-type: text/event-stream"), "{}", stream.head);

    let a = stream.next_not_presence().await;
    assert_eq!((a.event.as_str(), a.topic.as_deref()), ("ferrocast:subscribed", Some("room:a")));
    let a_data = data(&a);
    assert_eq!((a_data["offset"].clone(), a_data["recovered"].clone()), (json!(1), Value::Null));
    let epoch_a = a_data["epoch"].as_str().unwrap().to_owned();
    let b = stream.next_not_presence().await;
    let epoch_b = data(&b)["epoch"].as_str().unwrap().to_owned();
    assert_eq!(b.last_event_id, format!("1.{epoch_a},0.{epoch_b}"));
    assert!(stream.raw.starts_with("retry: "), "a reconnection time first: {}", stream.raw);

    // A payload whose JSON spans lines arrives whole: one data line each, joined again by the reader.
    publish(&relay, "room:b", json!({ "text": "two\nlines" })).await;
    let body = json!({ "topic": "room:a", "event": "new_msg", "payload": "placeholder" }).to_string();
    let pretty = body.replace("\"placeholder\"", "{\n  \"n\": 2\n}");
    assert_eq!(http(&relay, "POST", "/api/broadcast", &pretty).await.0, 200);
    let first = stream.next_not_presence().await;
    assert_eq!((first.event.as_str(), first.topic.as_deref()), ("new_msg", Some("room:b")));
    assert_eq!(data(&first), json!({ "text": "two\nlines" }));
    assert_eq!(first.last_event_id, format!("1.{epoch_a},1.{epoch_b}"));
    let second = stream.next_not_presence().await;
    assert_eq!(second.topic.as_deref(), Some("room:a"));
    assert_eq!(data(&second), json!({ "n": 2 }));
    assert_eq!(second.last_event_id, format!("2.{epoch_a},1.{epoch_b}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_comes_back_gets_what_it_missed_from_the_header_or_the_parameter() {
    let relay = TestRelay::start(Config::default()).await;
    let path = "/sse?topic=room:r&topic=room:s";
    // Both topics have history, so neither is forgotten (and given a new epoch) while nobody reads it.
    publish(&relay, "room:s", json!({ "s": 0 })).await;
    let mut stream = SseStream::open(relay.addr, path, &[]).await.unwrap();
    stream.next_not_presence().await;
    stream.next_not_presence().await;
    publish(&relay, "room:r", json!({ "n": 1 })).await;
    assert_eq!(data(&stream.next_not_presence().await), json!({ "n": 1 }));
    let last_id = stream.last_event_id();
    drop(stream);

    for n in 2..=4 {
        publish(&relay, "room:r", json!({ "n": n })).await;
    }
    publish(&relay, "room:s", json!({ "s": 1 })).await;
    let header = format!("last-event-id: {last_id}");
    let mut resumed = SseStream::open(relay.addr, path, &[&header]).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..6 {
        let event = resumed.next_not_presence().await;
        let data = data(&event);
        got.push((event.topic.clone().unwrap_or_default(), event.event.clone(), data));
    }
    let subscribed = |topic: &str, offset: u64, epoch: &Value| {
        (
            topic.to_owned(),
            "ferrocast:subscribed".to_owned(),
            json!({ "topic": topic, "offset": offset, "epoch": epoch, "recovered": true }),
        )
    };
    let message = |topic: &str, payload: Value| (topic.to_owned(), "new_msg".to_owned(), payload);
    let (epoch_r, epoch_s) = (&got[0].2["epoch"], &got[4].2["epoch"]);
    // Per topic, as a channel join: where it is and that it was recovered, then what was missed, in order.
    let expected = vec![
        subscribed("room:r", 4, epoch_r),
        message("room:r", json!({ "n": 2 })),
        message("room:r", json!({ "n": 3 })),
        message("room:r", json!({ "n": 4 })),
        subscribed("room:s", 2, epoch_s),
        message("room:s", json!({ "s": 1 })),
    ];
    assert_eq!(got, expected);
    assert!(resumed.next_within(Duration::from_millis(200)).await.is_none(), "nothing twice");

    // The same through the query parameter, as a fetch-based reader sends it.
    let query = format!("{path}&lastEventId={}", resumed.last_event_id());
    publish(&relay, "room:s", json!({ "s": 2 })).await;
    let mut again = SseStream::open(relay.addr, &query, &[]).await.unwrap();
    assert_eq!(data(&again.next_not_presence().await)["recovered"], true);
    let s_subscribed = again.next_not_presence().await;
    assert_eq!((data(&s_subscribed)["recovered"].clone(), s_subscribed.topic), (json!(true), Some("room:s".into())));
    assert_eq!(data(&again.next_not_presence().await), json!({ "s": 2 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_that_cannot_be_served_says_recovered_false_and_replays_nothing() {
    let relay = TestRelay::start(Config::default()).await;
    publish(&relay, "room:x", json!({ "n": 1 })).await;
    for id in ["1.not-this-epoch", "garbage", "1.e,2.f"] {
        let header = format!("last-event-id: {id}");
        let mut stream = SseStream::open(relay.addr, "/sse?topic=room:x", &[&header]).await.unwrap();
        let subscribed = data(&stream.next_not_presence().await);
        assert_eq!(subscribed["recovered"], false, "{id}");
        assert!(stream.next_within(Duration::from_millis(100)).await.is_none(), "{id}: no replay with a gap");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_refused_with_a_status_that_says_why() {
    let config = Config { sse: SseLimits { max_topics: 2, ..SseLimits::default() }, ..Config::default() };
    let relay = TestRelay::start(config).await;
    for (path, status, says) in [
        ("/sse", 400, "at least one topic"),
        ("/sse?topic=room:a&topic=room:b&topic=room:c", 400, "at most 2 topics"),
        ("/sse?topic=", 400, "bad topic"),
        ("/sse?topic=room:a%0Aevent:%20x", 400, "bad topic"),
        ("/sse?topic=nowhere", 404, "unmatched topic"),
        ("/sse?topic=room:forbidden", 403, "unauthorized"),
    ] {
        let refusal = SseStream::open(relay.addr, path, &[]).await.err().unwrap_or_else(|| panic!("{path} opened"));
        assert_eq!(refusal.status, status, "{path}: {}", refusal.body);
        assert!(refusal.body.contains(says), "{path}: {}", refusal.body);
    }
    // The same topic twice is one topic.
    let mut stream = SseStream::open(relay.addr, "/sse?topic=room:a&topic=room:a&topic=room:b", &[]).await.unwrap();
    assert_eq!(stream.next_not_presence().await.topic.as_deref(), Some("room:a"));
    assert_eq!(stream.next_not_presence().await.topic.as_deref(), Some("room:b"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_stream_sends_keep_alives_and_allowed_pages_elsewhere_may_read_it() {
    let limits = SseLimits { keep_alive: Duration::from_millis(100), ..SseLimits::default() };
    let relay = TestRelay::start(Config { sse: limits, ..Config::default() }).await;
    let mut stream = SseStream::open(relay.addr, "/sse?topic=room:k", &[]).await.unwrap();
    stream.next_not_presence().await;
    while stream.raw.matches(": keep-alive").count() < 2 {
        assert!(stream.read_more(Duration::from_secs(1)).await);
    }

    let (status, _) = http(&relay, "OPTIONS", "/sse?topic=room:k", "").await;
    assert_eq!(status, 200);
    let mut socket = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    let preflight = "OPTIONS /sse?topic=room:k HTTP/1.1\r\nhost: x\r\norigin: http://localhost:3000\r\n\
        access-control-request-method: GET\r\naccess-control-request-headers: authorization\r\nconnection: close\r\n\r\n";
    tokio::io::AsyncWriteExt::write_all(&mut socket, preflight.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut socket, &mut response).await.unwrap();
    let response = response.to_lowercase();
    // In dev mode pages on loopback hosts are allowed, and the answer names the page's origin.
    assert!(response.contains("access-control-allow-origin: http://localhost:3000"), "{response}");
    assert!(response.contains("authorization"), "{response}");
}
