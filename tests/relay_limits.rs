//! The limits a relay facing the internet keeps, each with the answer a client gets, over real sockets.

mod support;

use ferrocast_pubsub::{HistoryLimits, SessionLimits};
use ferrocast_relay::{CLOSE_POLICY, CLOSE_TOO_BIG, Config};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::time::Duration;
use support::{Client, TestRelay, http, metrics_until};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

async fn relay(limits: SessionLimits) -> TestRelay {
    TestRelay::start(Config { limits, ..Config::default() }).await
}

const LIMITS: SessionLimits = SessionLimits { max_channels: 100, frames_per_second: 100, burst: 200 };

#[tokio::test]
async fn a_message_over_the_size_limit_closes_the_socket_with_1009_after_what_came_before() {
    let relay = TestRelay::start(Config { max_message: 4096, ..Config::default() }).await;
    let mut client = Client::connect("client", &relay.url("?vsn=2.0.0")).await;
    client.send(r#"["1","1","room:a","phx_join",{"no_presence":true}]"#).await;
    client.send(r#"["1","2","room:a","ping",{"before":true}]"#).await;
    client.send(&format!(r#"["1","3","room:a","ping",{{"pad":"{}"}}]"#, "x".repeat(8192))).await;
    client.expect(r#"["1","1","room:a","phx_reply",{"status":"ok","response":{}}]"#).await;
    client.expect(r#"["1","2","room:a","phx_reply",{"status":"ok","response":{"before":true}}]"#).await;
    client.expect_close(CLOSE_TOO_BIG).await;
    let (_, metrics) = http(&relay, "GET", "/metrics", "").await;
    assert!(metrics.contains("ferrocast_oversized_messages_total 1"), "{metrics}");
}

/// A message eight times the limit from a client that goes on writing after it, as a script or a browser sending a
/// huge string does. The relay stops reading it at its header; if it then dropped the connection with the rest
/// unread, the reset would fail the client's writes (a browser, and the `ws` package, then report 1006 and never
/// read the close frame). So the relay reads and drops what the client still sends: every write goes through, and
/// the 1009 arrives, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_far_over_the_limit_is_told_1009_every_time_while_the_client_keeps_writing() {
    const ROUNDS: usize = 20;
    let relay = TestRelay::start(Config::default()).await;
    let huge = format!(r#"["1","1","room:a","ping",{{"pad":"{}"}}]"#, "x".repeat(8 * Config::default().max_message));
    for round in 1..=ROUNDS {
        let (mut socket, _) = connect_async(relay.url("?vsn=2.0.0")).await.expect("connects");
        let writes = async {
            socket.send(Message::text(huge.as_str())).await?;
            for _ in 0..3 {
                socket.send(Message::text(r#"[null,"2","phoenix","heartbeat",{}]"#)).await?;
            }
            Ok::<_, tokio_tungstenite::tungstenite::Error>(())
        };
        if let Err(error) = writes.await {
            panic!("round {round}: the connection failed while the client was writing: {error}");
        }
        let close = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match socket.next().await {
                    Some(Ok(Message::Close(frame))) => break Ok(frame.map(|frame| u16::from(frame.code))),
                    Some(Ok(_)) => continue,
                    Some(Err(error)) => break Err(format!("the connection failed: {error}")),
                    None => break Err("the connection ended without a close frame".to_owned()),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("round {round}: no close within 10 s"));
        assert_eq!(close, Ok(Some(CLOSE_TOO_BIG)), "round {round} of {ROUNDS}");
    }
    let (_, metrics) = http(&relay, "GET", "/metrics", "").await;
    assert!(metrics.contains(&format!("ferrocast_oversized_messages_total {ROUNDS}")), "{metrics}");
}

#[tokio::test]
async fn a_join_past_the_channel_limit_is_refused_and_the_others_stay() {
    let relay = relay(SessionLimits { max_channels: 3, ..LIMITS }).await;
    let mut client = Client::connect("client", &relay.url("?vsn=2.0.0")).await;
    for n in 1..=3 {
        client.send(&format!(r#"["{n}","{n}","room:{n}","phx_join",{{"no_presence":true}}]"#)).await;
        client.expect(&format!(r#"["{n}","{n}","room:{n}","phx_reply",{{"status":"ok","response":{{}}}}]"#)).await;
    }
    client.send(r#"["4","4","room:4","phx_join",{"no_presence":true}]"#).await;
    client
        .expect(r#"["4","4","room:4","phx_reply",{"status":"error","response":{"reason":"too many channels"}}]"#)
        .await;
    // Joining a topic again replaces its channel: no new channel, so it is allowed.
    client.send(r#"["5","5","room:1","phx_join",{"no_presence":true}]"#).await;
    client.expect(r#"["5","5","room:1","phx_reply",{"status":"ok","response":{}}]"#).await;
    client.expect(r#"["1","1","room:1","phx_close",{}]"#).await;
    client.send(r#"["2","6","room:2","ping",{}]"#).await;
    client.expect(r#"["2","6","room:2","phx_reply",{"status":"ok","response":{}}]"#).await;
}

#[tokio::test]
async fn frames_over_the_rate_get_rate_limited_and_a_client_that_keeps_on_is_closed() {
    let relay = relay(SessionLimits { frames_per_second: 5, burst: 5, ..LIMITS }).await;
    let mut client = Client::connect("client", &relay.url("?vsn=2.0.0")).await;
    for n in 1..=8 {
        client.send(&format!(r#"[null,"{n}","phoenix","heartbeat",{{}}]"#)).await;
    }
    let mut statuses = Vec::new();
    for _ in 1..=8 {
        let reply = client.next_json().await;
        statuses.push((reply[4]["status"].as_str().unwrap().to_owned(), reply[4]["response"].clone()));
    }
    assert_eq!(statuses.iter().filter(|(status, _)| status == "ok").count(), 5, "{statuses:?}");
    assert!(
        statuses[5..]
            .iter()
            .all(|(status, response)| status == "error" && *response == json!({"reason": "rate_limited"}))
    );
    // A client that backs off is fine again.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    client.send(r#"[null,"9","phoenix","heartbeat",{}]"#).await;
    client.expect(r#"[null,"9","phoenix","phx_reply",{"status":"ok","response":{}}]"#).await;
    // One that keeps sending is refused a burst's worth, then closed.
    for n in 10..40 {
        client.send(&format!(r#"[null,"{n}","phoenix","heartbeat",{{}}]"#)).await;
    }
    loop {
        let message = client.next().await;
        if let tokio_tungstenite::tungstenite::Message::Close(frame) = message {
            assert_eq!(frame.map(|frame| u16::from(frame.code)), Some(CLOSE_POLICY));
            break;
        }
    }
    let (_, metrics) = http(&relay, "GET", "/metrics", "").await;
    assert!(metrics.contains("ferrocast_rate_limited_total 1"), "{metrics}");
}

#[tokio::test]
async fn ten_thousand_joins_on_one_socket_are_refused_and_the_relay_serves_on() {
    let relay = relay(SessionLimits::default()).await;
    let mut flood = Client::connect("flood", &relay.url("?vsn=2.0.0")).await;
    for n in 0..10_000 {
        if !flood.try_send(&format!(r#"["{n}","{n}","room:{n}","phx_join",{{"no_presence":true}}]"#)).await {
            break; // Closed while it sent: what it was told is read below.
        }
    }
    let (mut joined, mut refused) = (0, 0);
    let close = loop {
        match flood.next().await {
            tokio_tungstenite::tungstenite::Message::Text(text) => {
                let reply: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                match (reply[4]["status"].as_str(), reply[4]["response"]["reason"].as_str()) {
                    (Some("ok"), _) => joined += 1,
                    (Some("error"), Some("too many channels" | "rate_limited")) => refused += 1,
                    other => panic!("unexpected {other:?}: {text}"),
                }
            }
            tokio_tungstenite::tungstenite::Message::Close(frame) => break frame.map(|frame| u16::from(frame.code)),
            _ => {}
        }
    };
    assert_eq!(joined, 100, "the channel limit");
    assert!(refused >= 100, "{refused}");
    assert_eq!(close, Some(CLOSE_POLICY));
    // Everything the flood joined is gone with it, and others are served.
    let mut other = Client::connect("other", &relay.url("?vsn=2.0.0")).await;
    other.send(r#"["1","1","room:0","phx_join",{"no_presence":true}]"#).await;
    other.expect(r#"["1","1","room:0","phx_reply",{"status":"ok","response":{}}]"#).await;
    let metrics = metrics_until(&relay, |metrics| metrics.contains("ferrocast_joined_channels 1\n")).await;
    assert!(metrics.contains("ferrocast_joined_channels 1\n"), "{metrics}");
}

#[tokio::test]
async fn connections_past_the_limit_get_503() {
    let relay = TestRelay::start(Config { max_connections: 2, ..Config::default() }).await;
    let _first = Client::connect("first", &relay.url("?vsn=2.0.0")).await;
    let _second = Client::connect("second", &relay.url("?vsn=2.0.0")).await;
    match tokio_tungstenite::connect_async(relay.url("?vsn=2.0.0")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status().as_u16(), 503),
        other => panic!("expected 503, got {:?}", other.map(|_| ())),
    }
    let (_, metrics) = http(&relay, "GET", "/metrics", "").await;
    assert!(metrics.contains("ferrocast_refused_connections_total 1"), "{metrics}");
}

#[tokio::test]
async fn a_publisher_spreading_broadcasts_over_many_topics_cannot_grow_history_past_its_total() {
    // Payloads of 12 bytes (`{"pad":"xx"}`), 100 bytes for every topic's history together: eight fit.
    let history = HistoryLimits { max_total_bytes: 100, ..HistoryLimits::default() };
    let relay = TestRelay::start(Config { history, ..Config::default() }).await;
    let batch: Vec<_> = (0..1000)
        .map(|n| json!({ "topic": format!("spread:{n}"), "event": "e", "payload": { "pad": "xx" } }))
        .collect();
    let (status, body) = http(&relay, "POST", "/api/broadcast", &json!(batch).to_string()).await;
    assert_eq!(status, 200, "{body}");
    // The answer came once the broadcasts were queued; reading a history waits for what is queued.
    let history = |body: &str| serde_json::from_str::<serde_json::Value>(body).expect("JSON");
    let (status, kept) = http(&relay, "GET", "/api/history/spread:7", "").await;
    assert_eq!(status, 200);
    assert_eq!(history(&kept)["messages"][0]["offset"], 1, "the first topics keep theirs: {kept}");
    let (_, metrics) = http(&relay, "GET", "/metrics", "").await;
    assert!(metrics.contains("\nferrocast_history_bytes 96\n"), "{metrics}");
    assert!(metrics.contains("\nferrocast_history_full_total 992\n"), "{metrics}");
    let (status, late) = http(&relay, "GET", "/api/history/spread:999?since=0", "").await;
    assert_eq!(status, 200, "{late}");
    let late = history(&late);
    assert_eq!((&late["complete"], &late["messages"]), (&json!(false), &json!([])), "told, not handed a gap: {late}");
}
