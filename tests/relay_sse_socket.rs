//! A Phoenix socket over server-sent events and HTTP POST: frames posted in, frames back as events.

#[path = "support/sse.rs"]
mod sse;
mod support;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use ferrocast_relay::Config;
use serde_json::{Value, json};
use sse::SseStream;
use std::time::Duration;
use support::{TestRelay, http, metrics_until};

async fn open(relay: &TestRelay) -> (SseStream, String) {
    let mut stream = SseStream::open(relay.addr, "/socket/sse?vsn=2.0.0&user=ann", &[]).await.unwrap();
    let session = stream.next().await;
    assert_eq!(session.event, "ferrocast:session");
    let token: Value = serde_json::from_str(&session.data).unwrap();
    (stream, token["token"].as_str().unwrap().to_owned())
}

async fn frame(stream: &mut SseStream) -> Value {
    let event = stream.next().await;
    assert_eq!(event.event, "message", "{event:?}");
    serde_json::from_str(&event.data).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_posted_in_are_answered_on_the_stream_in_order() {
    let relay = TestRelay::start(Config::default()).await;
    let (mut stream, token) = open(&relay).await;
    assert_eq!(token.len(), 32);
    let post = format!("/socket/sse?token={token}");
    let frames = [
        json!(["1", "1", "room:s", "phx_join", { "no_presence": true }, {}]),
        json!(["1", "2", "room:s", "new_msg", { "n": 1 }]),
        json!([null, "3", "phoenix", "heartbeat", {}]),
    ];
    let body: Vec<String> = frames.iter().map(Value::to_string).collect();
    let (status, answer) = http(&relay, "POST", &post, &body.join("\n")).await;
    assert_eq!(status, 200, "{answer}");

    let reply = frame(&mut stream).await;
    assert_eq!(reply[3], "phx_reply");
    assert_eq!(reply[4]["status"], "ok");
    let epoch = reply[5]["epoch"].clone();
    assert_eq!(
        frame(&mut stream).await,
        json!([null, null, "room:s", "new_msg", { "n": 1 }, { "offset": 1, "epoch": epoch }])
    );
    assert_eq!(
        frame(&mut stream).await,
        json!(["1", "2", "room:s", "phx_reply", { "status": "ok", "response": { "n": 1 } }])
    );
    assert_eq!(
        frame(&mut stream).await,
        json!([null, "3", "phoenix", "phx_reply", { "status": "ok", "response": {} }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_status_and_a_malformed_frame_ends_only_that_session() {
    let relay = TestRelay::start(Config::default()).await;
    let refused = SseStream::open(relay.addr, "/socket/sse?vsn=1.0.0", &[]).await.err().expect("refused");
    assert_eq!(refused.status, 403, "{}", refused.body);
    let (status, body) = http(&relay, "POST", "/socket/sse?token=0123", "[]").await;
    assert_eq!(status, 404, "{body}");

    let (mut other, other_token) = open(&relay).await;
    let (mut stream, token) = open(&relay).await;
    assert_eq!(http(&relay, "POST", &format!("/socket/sse?token={token}"), "not a frame").await.0, 200);
    while stream.read_more(Duration::from_secs(5)).await {}
    assert!(stream.raw.contains(": closed 1011 malformed frame"), "{}", stream.raw);
    let (status, _) = http(&relay, "POST", &format!("/socket/sse?token={token}"), "[]").await;
    assert_eq!(status, 404, "the session ended with its stream");

    let heartbeat = json!([null, "1", "phoenix", "heartbeat", {}]).to_string();
    assert_eq!(http(&relay, "POST", &format!("/socket/sse?token={other_token}"), &heartbeat).await.0, 200);
    assert_eq!(frame(&mut other).await[4]["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_frames_travel_as_base64_both_ways_and_bad_base64_ends_the_session() {
    use ferrocast_protocol::codec::{decode, encode};
    use ferrocast_protocol::{Encoded, Frame, Message, Payload, Sender, Vsn, WireData};

    let relay = TestRelay::start(Config::default()).await;
    let (mut stream, token) = open(&relay).await;
    let post = format!("/socket/sse?token={token}");
    let join = json!(["1", "1", "room:b", "phx_join", { "no_presence": true }]).to_string();
    assert_eq!(http(&relay, "POST", &post, &join).await.0, 200);
    assert_eq!(frame(&mut stream).await[4]["status"], "ok");

    // `ping` with a binary payload is answered in binary.
    let ping = Frame::Message(Message {
        join_ref: Some("1".into()),
        r#ref: Some("2".into()),
        topic: "room:b".into(),
        event: "ping".into(),
        payload: Payload::Binary(vec![0, 1, 2, 255]),
        ext: None,
    });
    let Ok(Encoded::Binary(bytes)) = encode(Vsn::V2, Sender::Client, &ping) else { panic!("a binary frame") };
    let line = BASE64_STANDARD.encode(&bytes);
    assert_eq!(http(&relay, "POST", &post, &line).await.0, 200);
    let event = stream.next().await;
    assert_eq!(event.event, "binary");
    let reply =
        decode(Vsn::V2, Sender::Server, WireData::Binary(&BASE64_STANDARD.decode(&event.data).expect("base64")))
            .expect("a binary reply");
    let Frame::Reply(reply) = reply else { panic!("a reply: {reply:?}") };
    assert_eq!((reply.r#ref.as_deref(), reply.status.as_str()), (Some("2"), "ok"));
    assert_eq!(reply.response, Payload::Binary(vec![0, 1, 2, 255]));

    assert_eq!(http(&relay, "POST", &post, "not base64!").await.0, 200);
    while stream.read_more(Duration::from_secs(5)).await {}
    assert!(stream.raw.contains(": closed 1011 malformed frame"), "{}", stream.raw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_ends_its_session_its_joins_and_its_token() {
    let relay = TestRelay::start(Config::default()).await;
    let (mut stream, token) = open(&relay).await;
    let post = format!("/socket/sse?token={token}");
    let join = json!(["1", "1", "room:gone", "phx_join", { "no_presence": true }, {}]).to_string();
    assert_eq!(http(&relay, "POST", &post, &join).await.0, 200);
    assert_eq!(frame(&mut stream).await[4]["status"], "ok");
    let joined = "ferrocast_joined_channels 1\n";
    let metrics = metrics_until(&relay, |metrics| metrics.contains(joined)).await;
    assert!(metrics.contains(joined) && metrics.contains("ferrocast_connections 1\n"), "{metrics}");

    // Gone without a word: the relay only sees the response dropped.
    drop(stream);
    let ended = |metrics: &str| {
        metrics.contains("ferrocast_joined_channels 0\n") && metrics.contains("ferrocast_connections 0\n")
    };
    let metrics = metrics_until(&relay, ended).await;
    assert!(ended(&metrics), "{metrics}");
    assert_eq!(http(&relay, "POST", &post, &join).await.0, 404, "the token ended with its stream");
}
