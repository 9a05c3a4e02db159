//! The backend hooks against a real backend process (`support/hooks-backend.mjs`, Node): every hook's accept,
//! refuse and disconnect, the order of a connection's pushes on a topic, the time limit, the circuit breaker, a
//! push sent again after a cut, answers that are not answers, the signature and the forwarded headers, and a
//! connection's end of life with and without the refresh hook, and the event-stream socket.

#[path = "support/hooks_backend.rs"]
mod hooks_backend;
#[path = "support/sse.rs"]
mod sse;
mod support;

use base64::Engine;
use ferrocast_hooks::{BreakerSettings, HookSettings, Hooks};
use ferrocast_pubsub::SessionLimits;
use ferrocast_relay::Config;
use hooks_backend::HooksBackend;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{Client, TestRelay, metrics_until, upgrade};

/// A relay whose `app:*` topics, and its connections, are the backend's.
async fn relay(backend: &HooksBackend, adjust: impl FnOnce(&mut HookSettings)) -> TestRelay {
    let mut settings = HookSettings {
        connect: Some(backend.url("connect")),
        joins: vec![("app:*".to_owned(), backend.url("join"))],
        pushes: vec![("app:*".to_owned(), backend.url("push"))],
        refresh: Some(backend.url("refresh")),
        timeout: Duration::from_secs(2),
        headers: vec!["Cookie".to_owned()],
        ..HookSettings::default()
    };
    adjust(&mut settings);
    let hooks = Hooks::new(settings).expect("hooks");
    // Pushes in the thousands, faster than a person: the rate limit is not what these tests are about.
    let limits = SessionLimits { frames_per_second: 100_000, burst: 100_000, ..SessionLimits::default() };
    TestRelay::start(Config { hooks: Some(hooks), limits, ..Config::default() }).await
}

async fn connect(relay: &TestRelay, query: &str) -> Client {
    upgrade(&relay.url(&format!("?vsn=2.0.0&{query}")), &[]).await.expect("let in")
}

/// The next reply to `push_ref`, skipping anything else.
async fn reply_to(client: &mut Client, push_ref: &str) -> Value {
    loop {
        let frame = client.next_frame().await;
        if frame[3] == "phx_reply" && frame[1] == push_ref {
            return frame;
        }
    }
}

async fn join(client: &mut Client, topic: &str, join_ref: &str) -> Value {
    client.send(&json!([join_ref, join_ref, topic, "phx_join", {}]).to_string()).await;
    reply_to(client, join_ref).await
}

async fn push(client: &mut Client, join_ref: &str, push_ref: &str, topic: &str, event: &str, payload: Value) -> Value {
    client.send(&json!([join_ref, push_ref, topic, event, payload]).to_string()).await;
    reply_to(client, push_ref).await
}

fn hooks_of(log: &[Value], hook: &str) -> Vec<Value> {
    log.iter().filter(|entry| entry["hook"] == hook).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connect_hook_lets_in_refuses_and_disconnects() {
    let backend = HooksBackend::start(None);
    let relay = relay(&backend, |_| {}).await;

    let mut client = connect(&relay, "user=ada&color=red").await;
    let reply = join(&mut client, "app:open:1", "1").await;
    assert_eq!(reply[4], json!({"status": "ok", "response": {"welcome": "app:open:1", "user": "ada"}}), "{reply}");
    let connected = &hooks_of(&backend.log(), "connect")[0]["body"];
    assert_eq!(connected["params"], json!({"user": "ada", "color": "red"}), "the protocol's own params are not passed");
    assert_eq!((connected["transport"].as_str(), connected["protocol"].as_str()), (Some("websocket"), Some("2.0.0")));
    // The user's info comes back with every later call, and the client id is the connect's.
    let joined = &hooks_of(&backend.log(), "join")[0]["body"];
    assert_eq!(joined["info"], json!({"name": "ada"}));
    assert_eq!(joined["client"], connected["client"]);

    // A hook user may join the join hooks' topics only, not the built-in channels.
    let reply = join(&mut client, "room:lobby", "2").await;
    assert_eq!(reply[4], json!({"status": "error", "response": {"reason": "unauthorized"}}), "{reply}");

    let refused = upgrade(&relay.url("?vsn=2.0.0&refuse=1"), &[]).await.err().expect("refused");
    assert_eq!(refused, (403, "no entry\n".to_owned()));
    let anonymous = upgrade(&relay.url("?vsn=2.0.0"), &[]).await.err().expect("refused");
    assert_eq!(anonymous, (403, "who are you\n".to_owned()));
    let garbage = upgrade(&relay.url("?vsn=2.0.0&answer=garbage"), &[]).await.err().expect("refused");
    assert_eq!(garbage, (502, "backend_bad_answer\n".to_owned()));

    let mut disconnected = connect(&relay, "disconnect=1").await;
    assert_eq!(close_code(&mut disconnected).await, 4500);

    // A join or a push answered with `disconnect`: its error reply says why, then the socket closes with the code.
    let mut kicked = connect(&relay, "user=ada").await;
    let reply = join(&mut kicked, "app:kick:1", "1").await;
    assert_eq!(reply[4], json!({"status": "error", "response": {"reason": "kicked at the door"}}), "{reply}");
    assert_eq!(close_code(&mut kicked).await, 4501);
    let mut kicked = connect(&relay, "user=ada").await;
    assert_eq!(join(&mut kicked, "app:open:1", "1").await[4]["status"], "ok");
    let reply = push(&mut kicked, "1", "2", "app:open:1", "kick", json!({})).await;
    assert_eq!(reply[4], json!({"status": "error", "response": {"reason": "kicked out"}}), "{reply}");
    assert_eq!(close_code(&mut kicked).await, 4502);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_are_accepted_or_refused_and_pushes_answered_and_broadcast_by_the_backend() {
    let backend = HooksBackend::start(None);
    let relay = relay(&backend, |_| {}).await;
    let mut ada = connect(&relay, "user=ada").await;
    let mut bob = connect(&relay, "user=bob").await;

    // An accepted join's presence is tracked under the user; the joiner gets the presence state after the reply.
    ada.send(&json!(["1", "1", "app:open:room", "phx_join", {}]).to_string()).await;
    assert_eq!(ada.next_frame().await[4]["status"], "ok");
    let state = ada.next_frame().await;
    assert_eq!(state[3], "presence_state", "{state}");
    assert_eq!(state[4]["ada"]["metas"][0]["name"], "ada", "{state}");
    assert_eq!(join(&mut bob, "app:open:room", "1").await[4]["status"], "ok");

    let reply = push(&mut ada, "1", "2", "app:open:room", "echo", json!({"text": "hi"})).await;
    assert_eq!(reply[4], json!({"status": "ok", "response": {"echo": {"text": "hi"}, "seq": 1}}));

    // A broadcast the backend asks for reaches every member, the pusher too, before the pusher's reply.
    ada.send(&json!(["1", "3", "app:open:room", "shout", {"text": "all"}]).to_string()).await;
    let mut seen = Vec::new();
    loop {
        let frame = ada.next_json().await;
        seen.push(frame[3].as_str().unwrap().to_owned());
        if frame[3] == "phx_reply" {
            assert_eq!(frame[4], json!({"status": "ok", "response": {"shouted": true}}));
            break;
        }
        assert_eq!(frame, json!([null, null, "app:open:room", "shouted", {"text": "all"}]));
    }
    assert_eq!(seen, ["shouted", "phx_reply"]);
    assert_eq!(bob.next_event("shouted").await[4], json!({"text": "all"}));
    let _ = push(&mut ada, "1", "4", "app:open:room", "shout2", json!(1)).await;
    assert_eq!(bob.next_event("first").await[4], json!(1));
    assert_eq!(bob.next_event("second").await[4], json!(1));

    let refused = push(&mut ada, "1", "5", "app:open:room", "deny", json!({})).await;
    assert_eq!(refused[4], json!({"status": "error", "response": {"reason": "denied", "code": 400}}));
    let refused = join(&mut ada, "app:closed:1", "6").await;
    assert_eq!(refused[4], json!({"status": "error", "response": {"reason": "not allowed", "code": 403}}));
    // A refused join left nothing joined: a push there is an unmatched topic, as on Phoenix.
    let unmatched = push(&mut ada, "6", "7", "app:closed:1", "echo", json!({})).await;
    assert_eq!(unmatched[4]["response"], json!({"reason": "unmatched topic"}));

    // A binary push reaches the backend in base64.
    let (join_ref, push_ref, topic, event) = ("1", "8", "app:open:room", "echo");
    let mut frame = vec![0, join_ref.len() as u8, push_ref.len() as u8, topic.len() as u8, event.len() as u8];
    frame.extend([join_ref, push_ref, topic, event].concat().as_bytes());
    frame.extend([1, 2, 255]);
    ada.send_binary(frame).await;
    let reply = reply_to(&mut ada, "8").await;
    let bytes = base64::prelude::BASE64_STANDARD.encode([1, 2, 255]);
    assert_eq!(reply[4]["response"], json!({"binary": true, "bytes": bytes}), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_pushes_on_one_topic_reach_the_backend_and_are_answered_in_order() {
    let backend = HooksBackend::start(None);
    let relay = relay(&backend, |_| {}).await;
    let mut client = connect(&relay, "user=ada").await;
    assert_eq!(join(&mut client, "app:random:1", "1").await[4]["status"], "ok");
    // Another topic's push, sent after them all, is not held behind them.
    assert_eq!(join(&mut client, "app:open:2", "2").await[4]["status"], "ok");

    // The backend answers each after a random 0–20 ms: sent concurrently, they would overtake one another.
    for n in 1..=1000 {
        client.send(&json!(["1", format!("p{n}"), "app:random:1", "echo", {"n": n}]).to_string()).await;
    }
    client.send(&json!(["2", "other", "app:open:2", "echo", {}]).to_string()).await;
    let mut expected = 1;
    let mut other_after = None;
    while expected <= 1000 {
        let frame = client.next_json().await;
        if frame[1] == "other" {
            other_after = Some(expected - 1);
            continue;
        }
        assert_eq!(frame[1], format!("p{expected}"), "replies in the order sent: {frame}");
        assert_eq!(frame[4]["response"], json!({"echo": {"n": expected}, "seq": expected}), "{frame}");
        expected += 1;
    }
    let other_after = other_after.expect("the other topic's reply came while these waited");
    assert!(other_after < 1000, "the other topic waited for none of them: it came after {other_after}");
    let pushes = hooks_of(&backend.log(), "push");
    let order: Vec<u64> = pushes
        .iter()
        .filter(|push| push["body"]["topic"] == "app:random:1")
        .map(|push| push["body"]["payload"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(order, (1..=1000).collect::<Vec<_>>(), "the backend saw them one at a time, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_waits_for_its_answer_without_holding_the_socket_and_pushes_made_meanwhile_wait_for_it() {
    let backend = HooksBackend::start(None);
    let relay = relay(&backend, |_| {}).await;
    let mut client = connect(&relay, "user=ada").await;
    client.send(&json!(["1", "1", "app:slow:1", "phx_join", {"delay_ms": 700}]).to_string()).await;
    client.send(&json!(["1", "2", "app:slow:1", "echo", {"early": true}]).to_string()).await;
    client.send(&json!(["3", "3", "app:open:2", "phx_join", {}]).to_string()).await;
    client.send(&json!([null, "4", "phoenix", "heartbeat", {}]).to_string()).await;
    let mut order = Vec::new();
    while order.len() < 4 {
        let frame = client.next_json().await;
        order.push(frame[1].as_str().unwrap().to_owned());
        if frame[1] == "2" {
            assert_eq!(frame[4]["response"], json!({"echo": {"early": true}, "seq": 1}), "{frame}");
        }
    }
    // The heartbeat at once, the other topic's join when its backend answers, the slow join later, and the push
    // made before its answer after it.
    assert_eq!(order, ["4", "3", "1", "2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_too_slow_down_or_answering_garbage_fails_that_request_with_its_reason_and_nothing_else() {
    let backend = HooksBackend::start(None);
    let relay = relay(&backend, |settings| settings.timeout = Duration::from_millis(500)).await;
    let mut client = connect(&relay, "user=ada").await;

    let started = Instant::now();
    client.send(&json!(["1", "1", "app:slow:1", "phx_join", {"delay_ms": 5000}]).to_string()).await;
    let timed_out = reply_to(&mut client, "1").await;
    assert_eq!(timed_out[4], json!({"status": "error", "response": {"reason": "backend_timeout"}}));
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());

    let down = join(&mut client, "app:down:1", "2").await;
    assert_eq!(down[4], json!({"status": "error", "response": {"reason": "backend_unavailable"}}));
    for (topic, detail) in [
        ("app:garbage:1", "not JSON"),
        ("app:shape:1", "not an answer"),
        ("app:huge:1", "an answer over 1048576 bytes"),
    ] {
        let bad = join(&mut client, topic, "3").await;
        assert_eq!(bad[4]["response"]["reason"], "backend_bad_answer", "{bad}");
        assert!(bad[4]["response"]["detail"].as_str().unwrap().starts_with(detail), "{bad}");
    }

    assert_eq!(join(&mut client, "app:open:1", "4").await[4]["status"], "ok");
    let garbage = push(&mut client, "4", "5", "app:open:1", "garbage", json!({})).await;
    assert_eq!(garbage[4]["response"]["reason"], "backend_bad_answer");
    let slow = push(&mut client, "4", "6", "app:open:1", "slow", json!({"delay_ms": 5000})).await;
    assert_eq!(slow[4]["response"], json!({"reason": "backend_timeout"}));
    // The session is unharmed: the next push is answered.
    let fine = push(&mut client, "4", "7", "app:open:1", "echo", json!(1)).await;
    assert_eq!(fine[4]["status"], "ok");

    // A backend that is not there at all.
    let nowhere = format!("http://127.0.0.1:{}/join", support::free_port());
    let relay = self::relay(&backend, |settings| settings.joins = vec![("app:*".to_owned(), nowhere)]).await;
    let mut client = connect(&relay, "user=ada").await;
    let down = join(&mut client, "app:open:1", "1").await;
    assert_eq!(down[4], json!({"status": "error", "response": {"reason": "backend_unavailable"}}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_opens_on_failures_fails_at_once_while_open_and_closes_when_trials_succeed() {
    let backend = HooksBackend::start(None);
    let breaker = BreakerSettings { open_for: Duration::from_millis(800), ..BreakerSettings::default() };
    let relay = relay(&backend, |settings| settings.breaker = breaker).await;
    let mut client = connect(&relay, "user=ada").await;
    assert_eq!(join(&mut client, "app:open:1", "1").await[4]["status"], "ok");

    backend.set_mode(json!({"status": 500}));
    for n in 0..20 {
        let failed = push(&mut client, "1", &format!("f{n}"), "app:open:1", "echo", json!(n)).await;
        assert_eq!(failed[4]["response"], json!({"reason": "backend_unavailable"}));
    }
    let push_url = backend.url("push");
    let open = format!("ferrocast_proxy_breaker_state{{backend=\"{push_url}\"}} 1");
    let metrics = metrics_until(&relay, |metrics| metrics.contains(&open)).await;
    assert!(metrics.contains("ferrocast_proxy_requests_total{hook=\"push\",outcome=\"unavailable\"} 20"), "{metrics}");
    // While open, a push fails at once, without reaching the backend.
    let calls_before = hooks_of(&backend.log(), "push").len();
    let started = Instant::now();
    let failed = push(&mut client, "1", "o1", "app:open:1", "echo", json!(0)).await;
    assert_eq!(failed[4]["response"], json!({"reason": "backend_unavailable"}));
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(hooks_of(&backend.log(), "push").len(), calls_before);

    backend.set_mode(json!({}));
    tokio::time::sleep(Duration::from_millis(900)).await;
    for n in 0..5 {
        let trial = push(&mut client, "1", &format!("t{n}"), "app:open:1", "echo", json!(n)).await;
        assert_eq!(trial[4]["status"], "ok", "{trial}");
    }
    let closed = format!("ferrocast_proxy_breaker_state{{backend=\"{push_url}\"}} 0");
    let metrics = metrics_until(&relay, |metrics| metrics.contains(&closed)).await;
    assert!(metrics.contains("ferrocast_proxy_requests_total{hook=\"push\",outcome=\"breaker_open\"} 1"), "{metrics}");
    assert!(metrics.contains("ferrocast_proxy_request_seconds_count{hook=\"push\"} 25"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_sent_again_after_a_cut_reaches_the_backend_once() {
    let backend = HooksBackend::start(None);
    let relay = relay(&backend, |_| {}).await;
    let query = "user=ada&ferrocast_sid=k7Qx2m9PzL4vR8tN";
    let mut first = connect(&relay, query).await;
    assert_eq!(join(&mut first, "app:open:1", "1").await[4]["status"], "ok");
    // Cut while the backend is still answering it.
    first.send(&json!(["1", "2", "app:open:1", "slow", {"delay_ms": 400}]).to_string()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    first.close().await;

    let mut again = connect(&relay, query).await;
    assert_eq!(join(&mut again, "app:open:1", "3").await[4]["status"], "ok");
    let reply = push(&mut again, "3", "2", "app:open:1", "slow", json!({"delay_ms": 400})).await;
    assert_eq!(reply[4], json!({"status": "ok", "response": {"echo": {"delay_ms": 400}, "seq": 1}}), "{reply}");
    // And once more after the answer: the stored reply, again without the backend.
    let reply = push(&mut again, "3", "2", "app:open:1", "slow", json!({"delay_ms": 400})).await;
    assert_eq!(reply[4]["response"]["seq"], 1);
    assert_eq!(hooks_of(&backend.log(), "push").len(), 1, "the backend saw the push once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hook_requests_are_signed_traced_and_carry_only_the_allowed_headers() {
    let backend = HooksBackend::start(Some("s3cret"));
    let relay = relay(&backend, |settings| settings.secret = Some("s3cret".to_owned())).await;
    let headers =
        [("cookie", "session=grace"), ("authorization", "Bearer not-for-the-backend"), ("x-request-id", "r-1")];
    let headers = headers.map(|(name, value)| (name, value.to_owned()));
    let mut client = upgrade(&relay.url("?vsn=2.0.0"), &headers).await.expect("let in by the cookie");
    assert_eq!(join(&mut client, "app:open:1", "1").await[4]["response"]["user"], "grace");
    let log = backend.log();
    assert_eq!(log.len(), 2, "{log:?}");
    for entry in &log {
        assert_eq!(entry["signature"], "valid", "{entry}");
        assert_eq!(entry["headers"]["cookie"], "session=grace", "{entry}");
        assert_eq!(entry["headers"]["x-request-id"], "r-1", "{entry}");
        assert!(entry["headers"].get("authorization").is_none(), "not on the allow list: {entry}");
        assert!(entry["headers"]["traceparent"].as_str().unwrap().starts_with("00-"), "{entry}");
    }
    assert_eq!(log[0]["body"]["headers"], json!({"cookie": "session=grace", "x-request-id": "r-1"}));

    // A relay signing with another secret is caught by the backend.
    let relay = self::relay(&backend, |settings| settings.secret = Some("wrong".to_owned())).await;
    let _ = connect(&relay, "user=ada").await;
    assert_eq!(backend.log().last().unwrap()["signature"], "invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closes_at_its_expire_at_unless_the_refresh_hook_extends_it() {
    let backend = HooksBackend::start(None);
    // The refresh is asked the time limit and a second before the end: 1.2 s before it here.
    let relay = relay(&backend, |settings| settings.timeout = Duration::from_millis(200)).await;
    let mut refused = connect(&relay, "user=norefresh1&expire_in=2").await;
    let mut extended = connect(&relay, "user=ada&expire_in=2").await;
    assert_eq!(join(&mut refused, "app:open:1", "1").await[4]["status"], "ok");
    assert_eq!(join(&mut extended, "app:open:1", "1").await[4]["status"], "ok");
    let started = Instant::now();
    assert_eq!(close_code(&mut refused).await, ferrocast_relay::CLOSE_EXPIRED);
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    // The extended connection is still served after its first end.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    client_answers(&mut extended).await;
    let refreshes = hooks_of(&backend.log(), "refresh");
    assert_eq!(refreshes.len(), 2, "{refreshes:?}");
    let metrics = metrics_until(&relay, |metrics| metrics.contains("ferrocast_expired_connections_total 1")).await;
    assert!(metrics.contains("ferrocast_proxy_requests_total{hook=\"refresh\",outcome=\"refused\"} 1"), "{metrics}");

    // A refresh answered with `disconnect` closes at once, with its code.
    let started = Instant::now();
    let mut kicked = connect(&relay, "user=kick&expire_in=2").await;
    assert_eq!(close_code(&mut kicked).await, 4503);
    assert!(started.elapsed() < Duration::from_secs(2), "at the refresh, not at the end: {:?}", started.elapsed());

    // Without a refresh hook, the end is the end.
    let relay = self::relay(&backend, |settings| settings.refresh = None).await;
    let mut client = connect(&relay, "user=ada&expire_in=1").await;
    assert_eq!(close_code(&mut client).await, ferrocast_relay::CLOSE_EXPIRED);
}

/// The code the socket closes with, after whatever frames come first.
async fn close_code(client: &mut Client) -> u16 {
    loop {
        if let tokio_tungstenite::tungstenite::Message::Close(frame) = client.next().await {
            return frame.map_or(1005, |frame| u16::from(frame.code));
        }
    }
}

async fn client_answers(client: &mut Client) {
    client.send(&json!([null, "hb", "phoenix", "heartbeat", {}]).to_string()).await;
    assert_eq!(reply_to(client, "hb").await[4]["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_with_too_much_waiting_gets_error_replies_not_unbounded_memory() {
    let backend = HooksBackend::start(None);
    let relay = relay(&backend, |_| {}).await;
    let mut client = connect(&relay, "user=ada").await;
    assert_eq!(join(&mut client, "app:open:1", "1").await[4]["status"], "ok");
    client.send(&json!(["1", "slow", "app:open:1", "slow", {"delay_ms": 1000}]).to_string()).await;
    // Each waits behind the slow one, 600 KiB of them at most: the second is past the 1 MiB a connection may hold.
    let big = "x".repeat(600 * 1024);
    client.send(&json!(["1", "b1", "app:open:1", "echo", big]).to_string()).await;
    client.send(&json!(["1", "b2", "app:open:1", "echo", big]).to_string()).await;
    let refused = reply_to(&mut client, "b2").await;
    assert_eq!(refused[4], json!({"status": "error", "response": {"reason": "too many frames waiting"}}));
    assert_eq!(reply_to(&mut client, "slow").await[4]["status"], "ok");
    assert_eq!(reply_to(&mut client, "b1").await[4]["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_socket_asks_the_hooks_too_and_a_topic_stream_of_a_hooked_topic_is_refused() {
    let backend = HooksBackend::start(None);
    let relay = relay(&backend, |_| {}).await;
    let mut stream = sse::SseStream::open(relay.addr, "/socket/sse?vsn=2.0.0&user=ada", &[]).await.unwrap();
    let session: Value = serde_json::from_str(&stream.next().await.data).unwrap();
    let post = format!("/socket/sse?token={}", session["token"].as_str().unwrap());
    let frames = [json!(["1", "1", "app:open:1", "phx_join", {}]), json!(["1", "2", "app:open:1", "echo", {"n": 1}])];
    let body: Vec<String> = frames.iter().map(Value::to_string).collect();
    assert_eq!(support::http(&relay, "POST", &post, &body.join("\n")).await.0, 200);
    let mut replies = Vec::new();
    while replies.len() < 2 {
        let frame: Value = serde_json::from_str(&stream.next().await.data).unwrap();
        if frame[3] == "phx_reply" {
            replies.push(frame[4]["response"].clone());
        }
    }
    assert_eq!(replies, [json!({"welcome": "app:open:1", "user": "ada"}), json!({"echo": {"n": 1}, "seq": 1})]);
    assert_eq!(hooks_of(&backend.log(), "connect")[0]["body"]["transport"], "sse");

    let refused = sse::SseStream::open(relay.addr, "/sse?topic=app:open:1", &[]).await.err().expect("refused");
    assert!(format!("{refused:?}").contains("a backend decides this topic's joins"), "{refused:?}");
}
