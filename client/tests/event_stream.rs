//! `EventStream` in headless Chromium against a real relay's `GET /sse`, directly and through the proxy that cuts
//! connections on command. `cargo xtask test` starts both and passes their addresses in at build time; the test
//! page is served from another origin, so every request here crosses CORS as a page's would.
//!
//! Broadcasts (`new_msg`) are published through the relay's HTTP API, by way of the proxy's control endpoint: the
//! relay answers CORS only for `/sse`.

#![cfg(target_arch = "wasm32")]

use ferrocast_client::EventStream;
use js_sys::Reflect;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

mod common;

use common::{Seen, json, proxied, proxy, proxy_with_body, relay, sleep};

wasm_bindgen_test_configure!(run_in_browser);

/// `GET /sse?{query}` on the server behind a WebSocket endpoint (`ws://host:port/socket`).
fn sse_url(socket_endpoint: &str, query: &str) -> String {
    let origin = socket_endpoint.replacen("ws", "http", 1);
    format!("{}/sse?{query}", origin.trim_end_matches("/socket"))
}

// ----- Helpers -----

/// How many connections the proxy has seen, let through or refused.
async fn proxy_connections() -> f64 {
    let stats = proxy("stats").await;
    let count = |key: &str| Reflect::get(&stats, &key.into()).unwrap().as_f64().unwrap();
    count("accepted") + count("refused")
}

/// Publishes `new_msg {"n": …}` broadcasts to one topic.
struct Publisher {
    topic: String,
}

impl Publisher {
    fn to(topic: &str) -> Publisher {
        Publisher { topic: topic.to_owned() }
    }

    /// Broadcasts `new_msg {"n": n}` for each `n`, in one request, and waits until the relay has published them.
    async fn publish(&self, numbers: std::ops::RangeInclusive<u32>) {
        let topic = &self.topic;
        let messages: Vec<String> =
            numbers.map(|n| format!(r#"{{"topic":"{topic}","event":"new_msg","payload":{{"n":{n}}}}}"#)).collect();
        proxy_with_body("relay/api/broadcast", &format!("[{}]", messages.join(","))).await;
    }
}

/// `{"n":from}` to `{"n":to}`, as recorded.
fn numbered(numbers: std::ops::RangeInclusive<u32>) -> Vec<String> {
    numbers.map(|n| format!(r#"{{"n":{n}}}"#)).collect()
}

/// A stream with its callbacks recorded: `open`, `error …`, `lost …` (recovery failed), `subscribed …` and
/// `msg …` (`new_msg`).
fn watched(url: &str, options: &str) -> (EventStream, Seen) {
    let seen = Seen::default();
    let stream = EventStream::new(url, json(options)).expect("stream");
    stream.on_open(seen.recorder("open"));
    stream.on_error(seen.recorder("error"));
    stream.on_recovery_failed(seen.recorder("lost"));
    stream.on("ferrocast:subscribed", seen.recorder("subscribed"));
    stream.on("new_msg", seen.recorder("msg"));
    (stream, seen)
}

// ----- Tests -----

#[wasm_bindgen_test]
async fn named_events_arrive_with_json_data_their_topic_and_the_id_to_resume_from() {
    let publisher_a = Publisher::to("room:es-named-a");
    let publisher_b = Publisher::to("room:es-named-b");
    let (stream, seen) = watched(&sse_url(relay(), "topic=room:es-named-a&topic=room:es-named-b"), "{}");
    assert_eq!(stream.ready_state(), 0, "connecting from the start, as EventSource");
    let unwanted = stream.on("new_msg", seen.recorder("unwanted"));
    stream.off(unwanted);
    seen.wait_count("subscribed", 2).await;
    assert_eq!(seen.count("open"), 1);
    assert_eq!(stream.ready_state(), 1);
    let subscribed = seen.labelled("subscribed");
    assert!(subscribed[0].starts_with(r#"{"epoch":"#), "data is parsed JSON: {subscribed:?}");
    assert!(subscribed[0].contains(r#""recovered":null,"topic":"room:es-named-a"}"#), "{subscribed:?}");
    assert!(subscribed[1].contains(r#"{"event":"ferrocast:subscribed","topic":"room:es-named-b","lastEventId":""#));

    publisher_a.publish(1..=1).await;
    publisher_b.publish(2..=2).await;
    seen.wait_count("msg", 2).await;
    let messages = seen.labelled("msg");
    let (data_a, meta_a) = messages[0].split_once(' ').unwrap();
    let (data_b, meta_b) = messages[1].split_once(' ').unwrap();
    assert_eq!((data_a, data_b), (r#"{"n":1}"#, r#"{"n":2}"#));
    assert!(meta_a.starts_with(r#"{"event":"new_msg","topic":"room:es-named-a","lastEventId":""#), "{meta_a}");
    assert!(meta_b.starts_with(r#"{"event":"new_msg","topic":"room:es-named-b","lastEventId":""#), "{meta_b}");
    // The id holds both topics' positions; the last one is what a new stream would resume from.
    let id = meta_b.rsplit_once(r#""lastEventId":""#).unwrap().1.trim_end_matches("\"}");
    assert_eq!(id.split(',').count(), 2, "{id}");
    assert_eq!(stream.last_event_id(), id);
    assert_eq!(seen.count("unwanted"), 0, "off removed the binding");
    assert_eq!(seen.count("error") + seen.count("lost"), 0, "{:?}", seen.all());
    stream.close();
}

#[wasm_bindgen_test]
async fn an_authorization_header_passes_the_cors_preflight() {
    let publisher = Publisher::to("room:es-auth");
    let (stream, seen) =
        watched(&sse_url(relay(), "topic=room:es-auth"), r#"{"headers":{"Authorization":"Bearer secret"}}"#);
    seen.wait_count("subscribed", 1).await;
    publisher.publish(1..=1).await;
    seen.wait_count("msg", 1).await;
    assert_eq!(seen.count("error"), 0, "{:?}", seen.all());
    stream.close();
}

#[wasm_bindgen_test]
async fn a_cut_stream_resumes_with_nothing_missed_and_nothing_doubled() {
    let publisher = Publisher::to("room:es-cut");
    // A minute of backoff of its own, without jitter: reconnecting after seconds shows that the relay's `retry`
    // (2 to 3 s) is the base, and it outlasts the refusal below, so the first attempt gets through.
    let options = r#"{"backoff":{"baseMs":60000,"jitter":0}}"#;
    let (stream, seen) = watched(&sse_url(proxied(), "topic=room:es-cut"), options);
    seen.wait_count("subscribed", 1).await;
    publisher.publish(1..=3).await;
    seen.wait_count("msg", 3).await;

    // Cut, and refuse the reconnects for a while: what is broadcast meanwhile must come after the resume.
    proxy("refuse?ms=600").await;
    proxy("cut").await;
    seen.wait_count("error", 1).await;
    assert_eq!(seen.labelled("error")[0].split(',').next(), Some(r#"{"status":0"#), "no HTTP answer: {:?}", seen.all());
    assert_eq!(stream.ready_state(), 0, "reconnecting");
    publisher.publish(4..=8).await;
    seen.wait_count("open", 2).await;
    publisher.publish(9..=9).await;
    seen.wait_count("msg", 9).await;
    sleep(200).await;
    assert_eq!(seen.data("msg"), numbered(1..=9), "each once, in order: {:?}", seen.all());
    let resumed = &seen.labelled("subscribed")[1];
    assert!(resumed.contains(r#""recovered":true"#), "the relay replayed from the id: {resumed}");
    assert_eq!(seen.count("lost"), 0);
    assert_eq!(stream.ready_state(), 1);
    stream.close();
}

#[wasm_bindgen_test]
async fn a_new_stream_resumes_from_an_earlier_ones_id_and_an_unservable_id_reports_recovery_failed() {
    let publisher = Publisher::to("room:es-resume");
    let url = sse_url(relay(), "topic=room:es-resume");
    let (first, seen) = watched(&url, "{}");
    seen.wait_count("subscribed", 1).await;
    publisher.publish(1..=2).await;
    seen.wait_count("msg", 2).await;
    let id = first.last_event_id();
    first.close();
    publisher.publish(3..=4).await;

    let (second, seen) = watched(&url, &format!(r#"{{"lastEventId":"{id}"}}"#));
    assert_eq!(second.last_event_id(), id, "until the stream gives an id, the one it resumes from");
    seen.wait_count("msg", 2).await;
    sleep(100).await;
    assert_eq!(seen.data("msg"), numbered(3..=4), "only what was missed: {:?}", seen.all());
    assert_eq!(seen.count("lost"), 0);
    second.close();

    // An id of another epoch (the relay restarted, say): no replay, and the page is told to reload.
    let (third, seen) = watched(&url, r#"{"lastEventId":"1.not-this-epoch"}"#);
    seen.wait_count("lost", 1).await;
    let lost = &seen.labelled("lost")[0];
    assert!(lost.contains(r#""recovered":false,"topic":"room:es-resume""#), "{lost}");
    assert_eq!(seen.count("msg"), 0, "nothing replayed");
    publisher.publish(5..=5).await;
    seen.wait_count("msg", 1).await;
    assert_eq!(seen.data("msg"), numbered(5..=5), "live events go on");
    third.close();
}

#[wasm_bindgen_test]
async fn a_refusal_is_final_with_the_status_and_the_relays_message() {
    for (query, expected) in [
        ("topic=nowhere:es", r#"error {"status":404,"message":"unmatched topic \"nowhere:es\""}"#),
        ("topic=room:forbidden", r#"error {"status":403,"message":"join of \"room:forbidden\" refused: "#),
    ] {
        // With a backoff this short, a reconnect would have come many times over during the wait below.
        let (stream, seen) = watched(&sse_url(relay(), query), r#"{"backoff":{"baseMs":10,"maxMs":10}}"#);
        seen.wait_count("error", 1).await;
        assert!(seen.all()[0].starts_with(expected), "{:?}", seen.all());
        assert_eq!(stream.ready_state(), 2);
        sleep(300).await;
        assert_eq!(seen.all().len(), 1, "no reconnect, no other callback: {:?}", seen.all());
    }
}

#[wasm_bindgen_test]
async fn close_stops_everything() {
    let publisher = Publisher::to("room:es-close");
    let url = sse_url(proxied(), "topic=room:es-close");

    // Closed while open: no event after it.
    let (open, seen) = watched(&url, "{}");
    seen.wait_count("subscribed", 1).await;
    open.close();
    assert_eq!(open.ready_state(), 2);
    publisher.publish(1..=1).await;

    // Closed before the answer came: nothing at all.
    let (connecting, seen_connecting) = watched(&url, "{}");
    connecting.close();

    // Closed while waiting to reconnect: no attempt follows. The relay's `retry` (2 to 3 s) is the longest the
    // wait can be.
    let (waiting, seen_waiting) = watched(&url, "{}");
    seen_waiting.wait_count("subscribed", 1).await;
    proxy("refuse?ms=10000").await;
    proxy("cut").await;
    seen_waiting.wait_count("error", 1).await;
    waiting.close();
    let connections = proxy_connections().await;
    sleep(3_500).await;
    assert_eq!(proxy_connections().await, connections, "no reconnect after close");
    proxy("refuse?ms=0").await;

    assert_eq!(seen.count("msg") + seen.count("error"), 0, "{:?}", seen.all());
    assert!(seen_connecting.all().is_empty(), "{:?}", seen_connecting.all());
    assert_eq!(seen_waiting.all().len(), 3, "open, subscribed, error: {:?}", seen_waiting.all());
    assert_eq!(waiting.ready_state(), 2);
}

#[wasm_bindgen_test]
fn bad_options_throw_errors_that_name_the_option() {
    let message = |options: &str| {
        let error: JsValue = EventStream::new("/sse?topic=room:a", json(options)).err().expect("refused").into();
        assert!(error.is_instance_of::<js_sys::Error>());
        Reflect::get(&error, &"message".into()).unwrap().as_string().unwrap()
    };
    assert_eq!(message(r#"{"header":{}}"#), "unknown EventStream option `header`");
    assert_eq!(
        message(r#"{"headers":{"Authorization":1}}"#),
        "EventStream option `headers.Authorization` must be a string"
    );
    assert_eq!(message(r#"{"headers":"Bearer x"}"#), "EventStream option `headers` must be an object");
    assert_eq!(message(r#"{"lastEventId":7}"#), "EventStream option `lastEventId` must be a string");
    assert_eq!(
        message(r#"{"backoff":{"base":1}}"#),
        "unknown EventStream option `backoff.base`: expected baseMs, maxMs, jitter"
    );
    assert_eq!(
        message(r#"{"backoff":{"maxMs":-1}}"#),
        "EventStream option `backoff.maxMs` must be a whole number, 0 or more"
    );
    assert_eq!(message(r#"{"backoff":{"jitter":2}}"#), "EventStream option `backoff.jitter` must be between 0 and 1");
    assert_eq!(message("5"), "EventStream options must be an object");
}
