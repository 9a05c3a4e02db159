//! The client in headless Chromium against a real relay: `cargo xtask test` starts the relay and a proxy in front
//! of it that can cut connections, and passes their addresses in at build time.
//!
//! The tests call the classes exactly as JavaScript does (the same exported methods), with JavaScript functions
//! as callbacks.

#![cfg(target_arch = "wasm32")]

use ferrocast_client::{Presence, Socket};
use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

mod common;

use common::{Seen, describe, json, proxied, proxy, proxy_with_body, relay, sleep, until};

wasm_bindgen_test_configure!(run_in_browser);

// ----- Helpers -----

/// Cuts every proxied connection and refuses new ones for `ms`: the client is offline until then.
async fn go_offline(ms: u32) {
    proxy(&format!("refuse?ms={ms}")).await;
    proxy("cut").await;
}

fn options(text: &str) -> JsValue {
    json(text)
}

/// A connected socket.
async fn connected(url: &str, opts: &str) -> (Socket, Seen) {
    let seen = Seen::default();
    let socket = Socket::new(url, options(opts)).expect("socket");
    socket.on_open(seen.recorder("open"));
    socket.on_close(seen.recorder("close"));
    socket.connect();
    seen.wait_for("open").await;
    (socket, seen)
}

/// A channel of `socket`, joined: its join replies are recorded in `seen` as `joined …`.
async fn joined(socket: &Socket, topic: &str, params: &str, seen: &Seen) -> ferrocast_client::Channel {
    let channel = socket.channel(topic, json(params)).unwrap();
    channel.join(None).unwrap().receive("ok", seen.recorder("joined"));
    seen.wait_count("joined", seen.count("joined") + 1).await;
    channel
}

/// A socket straight to the relay, joined to `topic` without presence, recording its broadcasts as `msg …`: it
/// sees what a socket behind the proxy made the relay do.
async fn watching(topic: &str) -> (Socket, Seen) {
    let (watcher, _) = connected(relay(), "{}").await;
    let watched = Seen::default();
    let watch = watcher.channel(topic, json(r#"{"no_presence":true}"#)).unwrap();
    watch.on("new_msg", watched.recorder("msg"));
    watch.join(None).unwrap().receive("ok", watched.recorder("joined"));
    watched.wait_for("joined {}").await;
    (watcher, watched)
}

// ----- Tests -----

#[wasm_bindgen_test]
async fn connects_and_says_so() {
    let socket = Socket::new(relay(), JsValue::UNDEFINED).unwrap();
    assert_eq!(socket.connection_state(), "closed");
    // The socket's identity (for the relay to handle resent pushes once): random, and the same for every connection.
    // Then the request for batch messages, which the relay reads and phoenix servers ignore.
    let url = socket.end_point_url_js();
    let (base, query) = url.split_once('?').unwrap();
    assert!(base.ends_with("/socket/websocket"), "{url}");
    let socket_id =
        query.strip_prefix("ferrocast_sid=").and_then(|rest| rest.strip_suffix("&ferrocast_batch=1&vsn=2.0.0"));
    let socket_id = socket_id.unwrap_or_else(|| panic!("the identity, then batch=1 and vsn: {url}"));
    assert!(ferrocast_protocol::is_valid_socket_id(socket_id), "{url}");
    assert_eq!(socket.end_point_url_js(), url);
    let other = Socket::new(relay(), JsValue::UNDEFINED).unwrap();
    assert_ne!(other.end_point_url_js(), url, "each socket has its own identity");
    let seen = Seen::default();
    socket.on_open(seen.recorder("open"));
    socket.connect();
    assert_eq!(socket.connection_state(), "connecting");
    seen.wait_for("open").await;
    assert!(socket.is_connected());
    assert_eq!(socket.connection_state(), "open");
    let stats = socket.get_stats();
    assert_eq!(
        describe(&stats.into()),
        r#"{"state":"open","reconnectAttempts":0,"nextRetryInMs":null,"queuedPushes":0,"queuedBytes":0,"awaitingReply":0,"lastHeartbeatRttMs":null}"#
    );
    socket.disconnect(None, None, None);
    assert_eq!(socket.connection_state(), "closed");
}

#[wasm_bindgen_test]
async fn joins_pushes_and_gets_replies_in_json_and_binary() {
    let (socket, _) = connected(relay(), "{}").await;
    let seen = Seen::default();
    socket.on_message(seen.recorder("message"));
    let channel = socket.channel("room:replies", json(r#"{"user_id":"ada"}"#)).unwrap();
    assert_eq!(channel.state(), "closed");
    channel.join(None).unwrap().receive("ok", seen.recorder("joined")).receive("error", seen.recorder("refused"));
    assert_eq!(channel.state(), "joining");
    seen.wait_for("joined {}").await;
    assert_eq!(channel.state(), "joined");

    channel.push("ping", json(r#"{"hello":"world","n":1}"#), None).unwrap().receive("ok", seen.recorder("pong"));
    seen.wait_for(r#"pong {"hello":"world","n":1}"#).await;
    // onMessage sees every frame as phoenix.js decodes it, a reply's payload as `{status, response}`.
    let reply =
        r#""topic":"room:replies","event":"phx_reply","payload":{"response":{"hello":"world","n":1},"status":"ok"}}"#;
    assert!(seen.all().iter().any(|entry| entry.starts_with("message ") && entry.ends_with(reply)), "{:?}", seen.all());

    let bytes = Uint8Array::from(&[0u8, 1, 2, 255][..]).buffer();
    channel.push("ping", bytes.into(), None).unwrap().receive("ok", seen.recorder("binary pong"));
    seen.wait_for("binary pong bytes:[0, 1, 2, 255]").await;

    // A join can only be called once per channel object, as in phoenix.js.
    let again = channel.join(None).err().map(JsValue::from);
    let message = again.map(|error| Reflect::get(&error, &"message".into()).unwrap().as_string().unwrap());
    assert!(message.as_deref().is_some_and(|message| message.contains("twice")), "{message:?}");
    socket.disconnect(None, None, None);
}

#[wasm_bindgen_test]
async fn broadcasts_reach_the_other_socket_and_presence_lists_both() {
    let (a, _) = connected(relay(), "{}").await;
    let (b, _) = connected(relay(), "{}").await;
    let (seen_a, seen_b) = (Seen::default(), Seen::default());
    let channel_a = a.channel("room:together", json(r#"{"user_id":"ada"}"#)).unwrap();
    let channel_b = b.channel("room:together", json(r#"{"user_id":"bob"}"#)).unwrap();
    let presence_a = Presence::new(&channel_a, JsValue::UNDEFINED);
    let presence_b = Presence::new(&channel_b, JsValue::UNDEFINED);
    presence_a.on_join(seen_a.recorder("join"));
    presence_b.on_sync(seen_b.recorder("sync"));
    channel_b.on("new_msg", seen_b.recorder("new_msg"));
    channel_a.join(None).unwrap().receive("ok", seen_a.recorder("joined"));
    seen_a.wait_for("joined {}").await;
    channel_b.join(None).unwrap().receive("ok", seen_b.recorder("joined"));
    seen_b.wait_for("joined {}").await;

    let ids = |presence: &Presence| {
        let key_only: Function = Function::new_with_args("key", "return key");
        presence.list(Some(key_only)).iter().map(|key| key.as_string().unwrap()).collect::<Vec<_>>()
    };
    until("both in A's presence", || ids(&presence_a) == ["ada", "bob"]).await;
    until("both in B's presence", || ids(&presence_b) == ["ada", "bob"]).await;
    seen_a.wait_count(r#"join "bob""#, 1).await;
    let full = presence_b.list(None).get(0);
    let metas: Array = Reflect::get(&full, &"metas".into()).unwrap().unchecked_into();
    assert!(Reflect::has(&metas.get(0), &"phx_ref".into()).unwrap(), "metas keep their phx_ref: {}", describe(&full));

    channel_a.push("new_msg", json(r#"{"body":"hi bob"}"#), None).unwrap();
    seen_b.wait_for(r#"new_msg {"body":"hi bob"} null"#).await;

    // A leaves: its push is answered, the channel closes, and B sees A go.
    channel_a.on_close(seen_a.recorder("closed"));
    channel_a.leave(None).unwrap().receive("ok", seen_a.recorder("left"));
    seen_a.wait_for("left {}").await;
    seen_a.wait_for("closed").await;
    assert_eq!(channel_a.state(), "closed");
    until("A gone from B's presence", || ids(&presence_b) == ["bob"]).await;
    a.disconnect(None, None, None);
    b.disconnect(None, None, None);
}

#[wasm_bindgen_test]
async fn an_unmatched_topic_is_refused() {
    let (socket, _) = connected(relay(), "{}").await;
    let seen = Seen::default();
    let channel = socket.channel("nowhere:1", JsValue::UNDEFINED).unwrap();
    channel.join(None).unwrap().receive("error", seen.recorder("refused"));
    seen.wait_for(r#"refused {"reason":"unmatched topic"}"#).await;
    socket.disconnect(None, None, None);
}

#[wasm_bindgen_test]
async fn a_cut_connection_reconnects_with_jittered_backoff_and_rejoins() {
    let seen = Seen::default();
    let logger = {
        let seen = seen.clone();
        Closure::<dyn FnMut(JsValue, JsValue)>::new(move |kind: JsValue, message: JsValue| {
            let message = message.as_string().unwrap_or_default();
            if kind.as_string().as_deref() == Some("transport") && message.starts_with("reconnect attempt") {
                seen.push(message);
            }
        })
        .into_js_value()
    };
    let opts = options(r#"{"backoff":{"baseMs":100,"maxMs":400,"jitter":1}}"#);
    Reflect::set(&opts, &"logger".into(), &logger).unwrap();
    let socket = Socket::new(proxied(), opts).unwrap();
    socket.on_open(seen.recorder("open"));
    socket.connect();
    seen.wait_for("open").await;
    let channel = socket.channel("room:cut", json(r#"{"user_id":"cat"}"#)).unwrap();
    channel.on_error(seen.recorder("channel error"));
    channel.join(None).unwrap().receive("ok", seen.recorder("joined"));
    seen.wait_for("joined {}").await;

    // Refuse new connections for a while, then cut: several attempts fail before one gets through.
    go_offline(1200).await;
    seen.wait_count("channel error", 1).await;
    seen.wait_count("open", 2).await;
    seen.wait_count("joined", 2).await;
    assert_eq!(channel.state(), "joined");

    let delays: Vec<u64> = seen
        .all()
        .iter()
        .filter_map(|entry| entry.strip_prefix("reconnect attempt "))
        .map(|rest| rest.split(" in ").nth(1).unwrap().trim_end_matches(" ms").parse().unwrap())
        .collect();
    assert!(delays.len() >= 3, "several attempts while refused: {:?}", seen.all());
    // Full jitter: attempt n waits a random time up to min(400, 100·2ⁿ⁻¹) ms.
    for (n, delay) in delays.iter().enumerate() {
        assert!(*delay <= (100u64 << n).min(400), "attempt {} waited {delay} ms: {delays:?}", n + 1);
    }
    let below_ceiling = delays.iter().enumerate().filter(|(n, delay)| **delay < (100u64 << n).min(400)).count();
    assert!(below_ceiling > 0, "jittered, not the bare exponential: {delays:?}");
    socket.disconnect(None, None, None);
}

#[wasm_bindgen_test]
async fn pushes_made_offline_arrive_once_each_in_order_after_the_reconnect() {
    let (watcher, watched) = watching("room:offline").await;

    let (socket, seen) = connected(proxied(), r#"{"backoff":{"baseMs":50,"maxMs":200,"jitter":1}}"#).await;
    let channel = joined(&socket, "room:offline", r#"{"no_presence":true}"#, &seen).await;

    go_offline(500).await;
    seen.wait_count("close", 1).await;
    for n in 0..5 {
        channel.push("new_msg", json(&format!(r#"{{"n":{n}}}"#)), None).unwrap().receive("ok", seen.recorder("sent"));
    }
    assert_eq!(Reflect::get(&socket.get_stats(), &"queuedPushes".into()).unwrap(), 5);
    seen.wait_count("sent", 5).await;
    watched.wait_count("msg", 5).await;
    sleep(200).await;
    let messages: Vec<String> = watched.all().into_iter().filter(|entry| entry.starts_with("msg")).collect();
    let expected: Vec<String> = (0..5).map(|n| format!(r#"msg {{"n":{n}}} null"#)).collect();
    assert_eq!(messages, expected, "once each, in order");
    socket.disconnect(None, None, None);
    watcher.disconnect(None, None, None);
}

#[wasm_bindgen_test]
async fn a_push_whose_reply_was_lost_is_sent_again_and_handled_once() {
    let (watcher, watched) = watching("room:resent").await;

    let (socket, seen) = connected(proxied(), r#"{"backoff":{"baseMs":50,"maxMs":200,"jitter":1}}"#).await;
    let channel = joined(&socket, "room:resent", r#"{"no_presence":true}"#, &seen).await;
    // The relay gets the push and handles it (the watcher sees its broadcast), but the reply is lost with the
    // connection.
    proxy("mute").await;
    channel.push("new_msg", json(r#"{"n":1}"#), None).unwrap().receive("ok", seen.recorder("acked"));
    watched.wait_for(r#"msg {"n":1} null"#).await;
    assert_eq!(Reflect::get(&socket.get_stats(), &"awaitingReply".into()).unwrap(), 1);
    go_offline(300).await;
    seen.wait_count("close", 1).await;

    seen.wait_for(r#"acked {"n":1}"#).await;
    sleep(300).await;
    assert_eq!(watched.count("msg"), 1, "handled once: {:?}", watched.all());
    assert_eq!(seen.count("acked"), 1);
    socket.disconnect(None, None, None);
    watcher.disconnect(None, None, None);
}

#[wasm_bindgen_test]
async fn broadcasts_missed_while_away_are_replayed_and_a_gap_too_long_is_reported() {
    let (publisher, _) = connected(relay(), "{}").await;
    let published = Seen::default();
    let publish = joined(&publisher, "room:recover", r#"{"no_presence":true}"#, &published).await;
    let send = |from: u32, to: u32| {
        for n in from..=to {
            publish
                .push("new_msg", json(&format!(r#"{{"n":{n}}}"#)), None)
                .unwrap()
                .receive("ok", published.recorder("sent"));
        }
    };

    let (socket, seen) = connected(proxied(), r#"{"backoff":{"baseMs":50,"maxMs":200,"jitter":1}}"#).await;
    let channel = socket.channel("room:recover", json(r#"{"no_presence":true}"#)).unwrap();
    channel.on("new_msg", seen.recorder("msg"));
    channel.on_recovery_failed(seen.recorder("lost"));
    channel.join(None).unwrap().receive("ok", seen.recorder("joined"));
    seen.wait_count("joined", 1).await;
    send(1, 1);
    seen.wait_count("msg", 1).await;

    // Away for a while: what is broadcast meanwhile comes after the rejoin, in order, once.
    go_offline(400).await;
    seen.wait_count("close", 1).await;
    send(2, 4);
    published.wait_count("sent", 4).await;
    seen.wait_count("joined", 2).await;
    seen.wait_count("msg", 4).await;
    sleep(100).await;
    let messages: Vec<String> = seen.all().into_iter().filter(|entry| entry.starts_with("msg")).collect();
    let expected: Vec<String> = (1..=4).map(|n| format!(r#"msg {{"n":{n}}} null"#)).collect();
    assert_eq!(messages, expected, "each once, in order");
    assert_eq!(seen.count("lost"), 0);

    // Away while more is broadcast than the relay keeps (1,000, set by cargo xtask test): the channel says so,
    // and carries on from the current position with no partial replay. It stays away until all are published,
    // however long that takes, then comes back at once.
    const KEPT: u32 = 1_000;
    go_offline(20_000).await;
    seen.wait_count("close", 2).await;
    send(5, KEPT + 34);
    published.wait_count("sent", KEPT as usize + 34).await;
    proxy("refuse?ms=0").await;
    seen.wait_count("lost", 1).await;
    let lost = seen.all().into_iter().find(|entry| entry.starts_with("lost")).unwrap();
    assert!(lost.contains(r#""topic":"room:recover""#) && lost.contains(r#""offset":"#), "{lost}");
    send(KEPT + 35, KEPT + 35);
    seen.wait_for(&format!(r#"msg {{"n":{}}} null"#, KEPT + 35)).await;
    assert_eq!(seen.count("msg"), 5, "no replay of a history with a gap: {:?}", seen.all());
    socket.disconnect(None, None, None);
    publisher.disconnect(None, None, None);
}

#[wasm_bindgen_test]
async fn a_full_queue_reports_what_it_dropped() {
    let (socket, seen) =
        connected(proxied(), r#"{"queue":{"maxMessages":2},"backoff":{"baseMs":50,"maxMs":100}}"#).await;
    socket.on_queue_drop(seen.recorder("dropped"));
    let channel = joined(&socket, "room:full", r#"{"no_presence":true}"#, &seen).await;

    go_offline(400).await;
    seen.wait_count("close", 1).await;
    for n in 0..3 {
        let push = channel.push("ping", json(&format!(r#"{{"n":{n}}}"#)), None).unwrap();
        push.receive("ok", seen.recorder(&format!("ok {n}")))
            .receive("timeout", seen.recorder(&format!("timeout {n}")));
    }
    seen.wait_for(r#"dropped {"topic":"room:full","event":"ping","reason":"queue_full"}"#).await;
    seen.wait_for("timeout 2 {}").await;
    seen.wait_for(r#"ok 0 {"n":0}"#).await;
    seen.wait_for(r#"ok 1 {"n":1}"#).await;
    assert_eq!(seen.count("ok 2"), 0, "the dropped push never went out: {:?}", seen.all());
    socket.disconnect(None, None, None);
}

#[wasm_bindgen_test]
fn bad_options_throw_errors_that_say_what_is_wrong() {
    let message = |opts: &str| {
        let error: JsValue = Socket::new("/socket", options(opts)).err().expect("refused").into();
        assert!(error.is_instance_of::<js_sys::Error>());
        Reflect::get(&error, &"message".into()).unwrap().as_string().unwrap()
    };
    assert_eq!(message(r#"{"timout":5}"#), "unknown Socket option `timout`");
    assert_eq!(message(r#"{"timeout":"5"}"#), "Socket option `timeout` must be a number");
    assert_eq!(message(r#"{"vsn":"3.0.0"}"#), r#"Socket option `vsn` must be "1.0.0" or "2.0.0", not "3.0.0""#);
    assert!(message(r#"{"queue":{"max":1}}"#).starts_with("unknown Socket option `queue.max`"));
    assert_eq!(message(r#"{"backoff":{"jitter":2}}"#), "Socket option `backoff.jitter` must be between 0 and 1");
    // phoenix.js options this client has no use for are accepted, so switching stays a one-line change.
    assert!(Socket::new("/socket", options(r#"{"longPollFallbackMs":2500,"debug":false}"#)).is_ok());
}

#[wasm_bindgen_test]
fn params_go_in_the_url_as_phoenix_js_writes_them() {
    let socket = Socket::new(
        "ws://example.test/socket",
        options(r#"{"params":{"token":"a b","user":{"id":7}},"vsn":"1.0.0","recovery":false}"#),
    )
    .unwrap();
    assert_eq!(socket.end_point_url_js(), "ws://example.test/socket/websocket?token=a%20b&user%5Bid%5D=7&vsn=1.0.0");
    let _ = Object::new();
}

#[wasm_bindgen_test]
async fn an_auth_token_travels_as_a_subprotocol_and_the_relay_accepts_it() {
    let (socket, _) = connected(relay(), r#"{"authToken":"secret token"}"#).await;
    assert!(socket.is_connected());
    socket.disconnect(None, None, None);
}

/// Fires a page event the way the browser would.
fn fire(target: &str, event: &str) {
    let target = Reflect::get(&js_sys::global(), &target.into()).unwrap();
    let event = web_sys::Event::new(event).unwrap();
    target.unchecked_into::<web_sys::EventTarget>().dispatch_event(&event).unwrap();
}

#[wasm_bindgen_test]
async fn coming_back_online_reconnects_at_once_instead_of_waiting_out_the_backoff() {
    let (socket, seen) = connected(proxied(), r#"{"backoff":{"baseMs":60000,"maxMs":60000,"jitter":0}}"#).await;
    go_offline(300).await;
    seen.wait_count("close", 1).await;
    let next_retry = Reflect::get(&socket.get_stats(), &"nextRetryInMs".into()).unwrap().as_f64().unwrap();
    assert!(next_retry > 50_000.0, "waiting out a minute of backoff: {next_retry}");
    sleep(400).await;
    fire("window", "online");
    seen.wait_count("open", 2).await;
    socket.disconnect(None, None, None);
}

#[wasm_bindgen_test]
async fn a_page_made_visible_probes_the_connection_with_a_heartbeat() {
    let (socket, _) = connected(relay(), r#"{"heartbeatIntervalMs":600000}"#).await;
    let rtt = || Reflect::get(&socket.get_stats(), &"lastHeartbeatRttMs".into()).unwrap();
    assert!(rtt().is_null(), "no heartbeat yet, with a ten-minute interval");
    fire("document", "visibilitychange");
    until("the probe's heartbeat is answered", || !rtt().is_null()).await;
    socket.disconnect(None, None, None);
}

#[wasm_bindgen_test]
async fn pagehide_leaves_cleanly_and_pageshow_rejoins() {
    // Every socket of the page hears pagehide, so the server side is watched through the relay's HTTP API.
    let (socket, seen) = connected(relay(), "{}").await;
    let channel = joined(&socket, "room:bfcache", r#"{"user_id":"page"}"#, &seen).await;
    let present = || async { describe(&proxy("relay/api/presence/room:bfcache").await).contains("\"page\"") };
    for _ in 0..100 {
        if present().await {
            break;
        }
        sleep(20).await;
    }
    assert!(present().await, "the relay lists the page");

    fire("window", "pagehide");
    seen.wait_for(r#"close {"code":1000,"reason":"page hidden","wasClean":true}"#).await;
    for _ in 0..100 {
        if !present().await {
            break;
        }
        sleep(20).await;
    }
    assert!(!present().await, "the relay dropped the page's presence at once, not at a timeout");
    assert_eq!(socket.connection_state(), "closed");

    fire("window", "pageshow");
    seen.wait_count("open", 2).await;
    seen.wait_count("joined", 2).await;
    assert_eq!(channel.state(), "joined");
    socket.disconnect(None, None, None);
}

#[wasm_bindgen_test]
fn presence_sync_state_and_sync_diff_work_as_in_phoenix_js() {
    let seen = Seen::default();
    let state = Presence::sync_state(
        json("{}"),
        json(r#"{"u1":{"metas":[{"id":1,"phx_ref":"1"}]}}"#),
        Some(seen.recorder("join")),
        Some(seen.recorder("leave")),
    );
    assert_eq!(describe(&state.clone().into()), r#"{"u1":{"metas":[{"id":1,"phx_ref":"1"}]}}"#);
    assert_eq!(seen.all(), [r#"join "u1""#]);
    let diff = json(
        r#"{"joins":{"u2":{"metas":[{"id":2,"phx_ref":"2"}]}},"leaves":{"u1":{"metas":[{"id":1,"phx_ref":"1"}]}}}"#,
    );
    let same: JsValue = state.clone().into();
    let merged = Presence::sync_diff(same.clone(), diff, Some(seen.recorder("join")), Some(seen.recorder("leave")));
    assert!(js_sys::Object::is(&merged, &same), "syncDiff updates the state it is given, as phoenix.js does");
    assert_eq!(describe(&merged.into()), r#"{"u2":{"metas":[{"id":2,"phx_ref":"2"}]}}"#);
    assert_eq!(seen.all()[1..], [r#"join "u2""#.to_owned(), r#"leave "u1" {"metas":[]}"#.to_owned()]);
}

#[wasm_bindgen_test]
async fn a_params_function_is_called_before_every_join() {
    let (socket, seen) = connected(proxied(), r#"{"backoff":{"baseMs":50,"maxMs":100}}"#).await;
    let calls = Function::new_no_args("this.n = (this.n || 0) + 1; return { user_id: `fn${this.n}` }");
    let params = calls.bind0(&Object::new());
    let channel = socket.channel("room:params", params.into()).unwrap();
    let presence = Presence::new(&channel, JsValue::UNDEFINED);
    channel.join(None).unwrap().receive("ok", seen.recorder("joined"));
    let ids = || {
        presence
            .list(Some(Function::new_with_args("key", "return key")))
            .iter()
            .filter_map(|k| k.as_string())
            .collect::<Vec<_>>()
    };
    until("joined as fn1", || ids() == ["fn1"]).await;
    proxy("cut").await;
    // The rejoin after the reconnect asks the function again.
    until("rejoined as fn2", || ids() == ["fn2"]).await;

    let throwing = socket.channel("room:params", Function::new_no_args("throw new Error('no token')").into()).unwrap();
    let error: JsValue = throwing.join(None).err().expect("join throws").into();
    let message = Reflect::get(&error, &"message".into()).unwrap().as_string().unwrap();
    assert_eq!(message, r#"channel "room:params" params: the function threw"#);
    socket.disconnect(None, None, None);
}

// ----- Chaos -----

/// How many event streams the relay has opened, from its metrics.
async fn sse_streams_opened() -> u32 {
    let metrics = proxy("relay/metrics").await.as_string().expect("the metrics' text");
    let line = metrics.lines().find(|line| line.starts_with("ferrocast_sse_streams_total ")).expect("the counter");
    line.rsplit(' ').next().and_then(|count| count.parse().ok()).expect("a count")
}

#[wasm_bindgen_test]
async fn when_websockets_cannot_open_the_socket_switches_to_server_sent_events() {
    proxy("block-websockets?ms=60000").await;
    let streams_before = sse_streams_opened().await;
    let socket = Socket::new(proxied(), options(r#"{"backoff":{"baseMs":20,"maxMs":50,"jitter":1}}"#)).unwrap();
    let seen = Seen::default();
    socket.on_open(seen.recorder("open"));
    socket.on_close(seen.recorder("close"));
    socket.connect();
    seen.wait_for("open").await;
    // Unblocked at once, so that whatever is asserted next, later tests have WebSockets again.
    proxy("block-websockets?ms=0").await;
    assert!(seen.count("close") >= 2, "two WebSocket attempts failed first: {:?}", seen.all());
    assert_eq!(sse_streams_opened().await, streams_before + 1, "opened over the event-stream socket");
    let channel = joined(&socket, "room:fallback", r#"{"no_presence":true}"#, &seen).await;
    channel.push("ping", json(r#"{"x":1}"#), None).unwrap().receive("ok", seen.recorder("pong"));
    seen.wait_for(r#"pong {"x":1}"#).await;
    socket.disconnect(None, None, None);
}

/// A count from the proxy's `stats`.
async fn proxy_count(key: &str) -> u32 {
    Reflect::get(&proxy("stats").await, &key.into()).unwrap().as_f64().unwrap() as u32
}

/// Phoenix's case: a server without the event-stream socket answers its request with 404, and it refuses WebSockets
/// for a while (restarting). The socket tries the stream once, hears the 404 and goes back to WebSockets for the
/// attempt right after; a later outage with more refused WebSockets never sends it to the stream again.
#[wasm_bindgen_test]
async fn a_server_without_the_event_stream_socket_is_asked_once_for_the_life_of_the_socket() {
    proxy("no-sse?ms=60000").await;
    proxy("refuse-websockets?n=2").await;
    let streams_asked_before = proxy_count("sseRequests").await;
    let opts = options(r#"{"backoff":{"baseMs":20,"maxMs":50,"jitter":1}}"#);
    let logged = Seen::default();
    Reflect::set(&opts, &"logger".into(), &logged.recorder("log")).unwrap();
    let socket = Socket::new(proxied(), opts).unwrap();
    let seen = Seen::default();
    socket.on_open(seen.recorder("open"));
    socket.on_close(seen.recorder("close"));
    let attempts = || -> Vec<String> {
        let prefix = r#""transport" "connecting to "#;
        logged.labelled("log").iter().filter_map(|entry| entry.strip_prefix(prefix).map(str::to_owned)).collect()
    };
    socket.connect();
    seen.wait_for("open").await;
    let first_attempts = attempts();
    let closes_before_open = seen.count("close");
    let streams_asked_first = proxy_count("sseRequests").await - streams_asked_before;

    proxy("refuse-websockets?n=4").await;
    proxy("cut").await;
    seen.wait_count("open", 2).await;
    let later_attempts = attempts()[first_attempts.len()..].to_vec();
    let streams_asked = proxy_count("sseRequests").await - streams_asked_before;
    // Back to normal before asserting, so that a failure here does not leave later tests on a server without it.
    proxy("no-sse?ms=0").await;
    proxy("refuse-websockets?n=0").await;
    socket.disconnect(None, None, None);

    let kinds = |attempts: &[String]| -> Vec<&'static str> {
        let kind = |url: &String| {
            if url.starts_with("http://") && url.contains("/socket/sse?") {
                "sse"
            } else if url.starts_with("ws://") && url.contains("/socket/websocket?") {
                "websocket"
            } else {
                "unexpected"
            }
        };
        attempts.iter().map(kind).collect()
    };
    assert_eq!(
        kinds(&first_attempts),
        ["websocket", "websocket", "sse", "websocket"],
        "two refused WebSockets, one stream answered 404, then a WebSocket that opens; the log names the URL \
         requested: {first_attempts:?}"
    );
    assert_eq!(closes_before_open, 3, "{:?}", seen.all());
    assert_eq!(streams_asked_first, 1, "the stream was asked for once");
    assert_eq!(kinds(&later_attempts), ["websocket"; 5], "four refused WebSockets, no stream: {later_attempts:?}");
    assert_eq!(streams_asked, 1, "the stream was never asked for again");
}

#[wasm_bindgen_test]
async fn over_server_sent_events_binary_payloads_go_and_come_back() {
    let (socket, seen) = connected(relay(), r#"{"transport":"sse"}"#).await;
    let channel = joined(&socket, "room:sse-binary", r#"{"no_presence":true}"#, &seen).await;
    let bytes = Uint8Array::from(&[0u8, 1, 2, 255][..]).buffer();
    channel.push("ping", bytes.into(), None).unwrap().receive("ok", seen.recorder("binary pong"));
    seen.wait_for("binary pong bytes:[0, 1, 2, 255]").await;
    socket.disconnect(None, None, None);
}

#[wasm_bindgen_test]
async fn over_server_sent_events_the_channel_api_works_and_a_cut_is_recovered() {
    let (watcher, _) = connected(relay(), "{}").await;
    let watch = joined(&watcher, "room:over-sse", r#"{"no_presence":true}"#, &Seen::default()).await;

    let streams_before = sse_streams_opened().await;
    let (socket, seen) =
        connected(proxied(), r#"{"transport":"sse","backoff":{"baseMs":50,"maxMs":200,"jitter":1}}"#).await;
    assert_eq!(sse_streams_opened().await, streams_before + 1, "connected over the event-stream socket");
    let channel = socket.channel("room:over-sse", json(r#"{"no_presence":true}"#)).unwrap();
    channel.on("new_msg", seen.recorder("msg"));
    channel.join(None).unwrap().receive("ok", seen.recorder("joined"));
    seen.wait_count("joined", 1).await;
    channel.push("new_msg", json(r#"{"n":1}"#), None).unwrap().receive("ok", seen.recorder("acked"));
    seen.wait_for(r#"acked {"n":1}"#).await;
    seen.wait_count("msg", 1).await;

    // Cut while the other socket publishes: the stream comes back, rejoins, and gets what it missed.
    go_offline(300).await;
    seen.wait_count("close", 1).await;
    for n in 2..=4 {
        watch.push("new_msg", json(&format!(r#"{{"n":{n}}}"#)), None).unwrap();
    }
    seen.wait_count("msg", 4).await;
    sleep(200).await;
    let messages: Vec<String> = seen.all().into_iter().filter(|entry| entry.starts_with("msg")).collect();
    let expected: Vec<String> = (1..=4).map(|n| format!(r#"msg {{"n":{n}}} null"#)).collect();
    assert_eq!(messages, expected, "once each, in order, across the cut");
    assert!(sse_streams_opened().await >= streams_before + 2, "reconnected over the event-stream socket");
    socket.disconnect(None, None, None);
    watcher.disconnect(None, None, None);
}

/// A callback that records the number at `key` of each payload it is given (`n` of `{"n": 3}`).
fn numbers_at(key: &'static str) -> (Rc<RefCell<Vec<u32>>>, Function) {
    let numbers = Rc::new(RefCell::new(Vec::new()));
    let record = numbers.clone();
    let closure = Closure::<dyn FnMut(JsValue)>::new(move |payload: JsValue| {
        let number = Reflect::get(&payload, &key.into()).ok().and_then(|value| value.as_f64());
        // A payload without the number is recorded as one no test expects, so it cannot pass unseen.
        record.borrow_mut().push(number.map_or(u32::MAX, |number| number as u32));
    });
    (numbers, closure.into_js_value().unchecked_into())
}

/// A callback that counts its calls.
fn counter() -> (Rc<Cell<u32>>, Function) {
    let count = Rc::new(Cell::new(0));
    let add = count.clone();
    let closure = Closure::<dyn FnMut()>::new(move || add.set(add.get() + 1));
    (count, closure.into_js_value().unchecked_into())
}

/// A `logger` option that counts the pushes to `topic` the socket sends again with a ref it sent before (after a
/// lost connection), from the frames it logs as it sends them.
fn resent_pushes(topic: String) -> (Rc<Cell<u32>>, JsValue) {
    let resent = Rc::new(Cell::new(0));
    let count = resent.clone();
    let mut sent_refs = std::collections::HashSet::new();
    let closure = Closure::<dyn FnMut(JsValue, JsValue, JsValue)>::new(move |kind: JsValue, _, data: JsValue| {
        let Some(frame) = data.as_string().filter(|_| kind.as_string().as_deref() == Some("push")) else { return };
        let Ok(fields) = js_sys::JSON::parse(&frame).map(|parsed| Array::from(&parsed)) else { return };
        let field = |i| fields.get(i).as_string().unwrap_or_default();
        if field(2) == topic && field(3) == "new_msg" && !sent_refs.insert(field(1)) {
            count.set(count.get() + 1);
        }
    });
    (resent, closure.into_js_value())
}

/// Polls `condition` every 10 ms for up to `seconds`; says whether it came true.
async fn eventually(seconds: u32, condition: impl Fn() -> bool) -> bool {
    for _ in 0..seconds * 100 {
        if condition() {
            return true;
        }
        sleep(10).await;
    }
    false
}

/// How many times each of `0..count` occurs in `numbers`, listing those that do not occur exactly once.
fn not_once(numbers: &[u32], count: u32) -> Vec<(u32, usize)> {
    let mut times = vec![0; count as usize];
    let mut strays = 0;
    for n in numbers {
        match times.get_mut(*n as usize) {
            Some(seen) => *seen += 1,
            None => strays += 1,
        }
    }
    let mut wrong: Vec<(u32, usize)> =
        times.iter().enumerate().filter(|(_, t)| **t != 1).map(|(n, t)| (n as u32, *t)).collect();
    if strays > 0 {
        wrong.push((u32::MAX, strays));
    }
    wrong
}

/// The proxy's count of cuts so far.
async fn cuts() -> u32 {
    Reflect::get(&proxy("stats").await, &"cuts".into()).unwrap().as_f64().unwrap() as u32
}

/// The browser client under the chaos `tests/chaos.rs` puts the native client through: the proxy cuts every 50–300
/// ms (dropping the relay's frames for up to 20 ms before each cut, so replies are lost after their push was
/// handled) while a socket of its own publishes 10,000 numbered broadcasts and the client pushes 1,000 numbered
/// messages. Every broadcast arrives once, in order; every push is answered `ok` and handled once, as a watcher
/// that is not behind the proxy sees from the broadcasts the handler makes.
#[wasm_bindgen_test]
async fn under_random_cuts_every_broadcast_arrives_once_in_order_and_every_push_is_handled_once() {
    const BROADCASTS: u32 = 10_000;
    const PUSHES: u32 = 1_000;
    const NO_PRESENCE: &str = r#"{"no_presence":true}"#;
    // The relay outlives one run of the tests when they are run by hand: fresh topics each time.
    let unique = format!("{:x}", (js_sys::Math::random() * 1e12) as u64);
    let (topic, push_topic) = (format!("room:chaos-{unique}"), format!("room:chaos-pushes-{unique}"));

    let (watcher, watcher_seen) = connected(relay(), "{}").await;
    let watch = watcher.channel(&push_topic, json(NO_PRESENCE)).unwrap();
    let (handled, on_handled) = numbers_at("push");
    watch.on("new_msg", on_handled);
    watch.join(None).unwrap().receive("ok", watcher_seen.recorder("joined"));
    watcher_seen.wait_for("joined {}").await;
    let (publisher, publisher_seen) = connected(relay(), "{}").await;
    let publish = joined(&publisher, &topic, NO_PRESENCE, &publisher_seen).await;

    // Reconnect fast, as the point is to be cut often; no push may time out, however long the chaos.
    let client_options = options(r#"{"backoff":{"baseMs":10,"maxMs":50,"jitter":1},"timeout":30000}"#);
    let (resent, logger) = resent_pushes(push_topic.clone());
    Reflect::set(&client_options, &"logger".into(), &logger).unwrap();
    let seen = Seen::default();
    let socket = Socket::new(proxied(), client_options).unwrap();
    socket.on_open(seen.recorder("open"));
    socket.connect();
    seen.wait_for("open").await;
    let broadcasts = socket.channel(&topic, json(NO_PRESENCE)).unwrap();
    let (received, on_broadcast) = numbers_at("n");
    broadcasts.on("new_msg", on_broadcast);
    broadcasts.on_recovery_failed(seen.recorder("recovery failed"));
    broadcasts.join(None).unwrap().receive("ok", seen.recorder("joined"));
    seen.wait_count("joined", 1).await;
    let pushes = joined(&socket, &push_topic, NO_PRESENCE, &seen).await;

    let cuts_before = cuts().await;
    // Long enough for the run, short enough that a test that dies midway frees the proxy for the tests after it.
    proxy("chaos?ms=40000&min=50&max=300&mute=20").await;
    let (published, on_published) = counter();
    let (acked, on_acked) = numbers_at("push");
    let (not_ok, on_not_ok) = counter();
    // One push and ten broadcasts every 10 ms or so: both spread over the whole chaos.
    let per_push = BROADCASTS / PUSHES;
    for push in 0..PUSHES {
        for n in push * per_push..(push + 1) * per_push {
            let payload = json(&format!(r#"{{"n":{n}}}"#));
            publish.push("new_msg", payload, None).unwrap().receive("ok", on_published.clone());
        }
        pushes
            .push("new_msg", json(&format!(r#"{{"push":{push}}}"#)), None)
            .unwrap()
            .receive("ok", on_acked.clone())
            .receive("error", on_not_ok.clone())
            .receive("timeout", on_not_ok.clone());
        sleep(10).await;
    }
    let state = || {
        format!(
            "{} broadcasts received (last {:?}), {} pushes answered ok, {} not ok, {} handled, {} published",
            received.borrow().len(),
            received.borrow().last(),
            acked.borrow().len(),
            not_ok.get(),
            handled.borrow().len(),
            published.get()
        )
    };
    let everything =
        || received.borrow().last() == Some(&(BROADCASTS - 1)) && acked.borrow().len() as u32 + not_ok.get() >= PUSHES;
    let finished = eventually(60, everything).await;
    // Anything doubled would come right behind: keep listening, through more cuts, before judging.
    sleep(1000).await;
    // Stopped before any assertion, so a failure here does not leave the tests that follow under chaos.
    proxy("chaos?ms=0").await;
    assert!(finished, "the last broadcast and every push's reply within 60 s: {}", state());
    let cuts = cuts().await - cuts_before;
    // The watcher and the publisher are not behind the proxy: what they have not seen by now will not come.
    eventually(10, || handled.borrow().len() as u32 >= PUSHES && published.get() >= BROADCASTS).await;
    assert_eq!(published.get(), BROADCASTS, "every publication answered ok: {}", state());

    let received = received.borrow();
    if *received != (0..BROADCASTS).collect::<Vec<_>>() {
        let first_wrong = received.iter().zip(0..).position(|(n, expected)| *n != expected).unwrap_or(received.len());
        let around = &received[first_wrong.saturating_sub(3)..(first_wrong + 5).min(received.len())];
        let wrong = not_once(&received, BROADCASTS);
        panic!(
            "broadcasts not received exactly once in order: {} received, first wrong at index {first_wrong} (around \
             it: {around:?}); (n, times) not once: {:?}",
            received.len(),
            &wrong[..wrong.len().min(20)]
        );
    }
    assert_eq!(seen.count("recovery failed"), 0, "the relay's history outlasts every cut: {:?}", seen.all());
    assert_eq!(not_ok.get(), 0, "every push answered ok: {}", state());
    assert_eq!(not_once(&acked.borrow(), PUSHES), [], "each push answered once, with its payload");
    assert_eq!(not_once(&handled.borrow(), PUSHES), [], "each push handled once (push, times)");
    let connections = seen.count("open");
    console_log!(
        "chaos (wasm in Chromium): {} broadcasts received once each in order, {} pushes handled once each ({} sent \
         again after a cut), over {connections} connections ({cuts} cuts)",
        received.len(),
        handled.borrow().len(),
        resent.get(),
    );
    assert!(cuts >= 20, "only {cuts} cuts: the test proved little");
    for socket in [socket, publisher, watcher] {
        socket.disconnect(None, None, None);
    }
}

#[wasm_bindgen_test]
async fn a_burst_comes_in_a_few_batch_messages_complete_and_in_order_and_one_per_frame_without_batches() {
    const BURST: usize = 2_000;
    // A WebSocket class that counts the messages its sockets receive, given to the Socket as its transport.
    let counting = || -> JsValue {
        let source = "const C = class extends WebSocket { constructor(url, protocols) { super(url, protocols); \
             this.addEventListener('message', () => C.messages++) } }; C.messages = 0; return C";
        Function::new_no_args(source).call0(&JsValue::NULL).unwrap()
    };
    let received = |socket: &Socket, topic: &str| {
        let numbers = Rc::new(RefCell::new(Vec::<f64>::new()));
        let channel = socket.channel(topic, json(r#"{"no_presence":true}"#)).unwrap();
        let sink = numbers.clone();
        let on_message = Closure::<dyn FnMut(JsValue)>::new(move |payload: JsValue| {
            sink.borrow_mut().push(Reflect::get(&payload, &"n".into()).unwrap().as_f64().unwrap());
        });
        channel.on("new_msg", on_message.into_js_value().unchecked_into());
        (channel, numbers)
    };
    let publish = |topic: &str| {
        let messages: Vec<String> =
            (0..BURST).map(|n| format!(r#"{{"topic":"{topic}","event":"new_msg","payload":{{"n":{n}}}}}"#)).collect();
        format!("[{}]", messages.join(","))
    };

    for (batch, topic) in [(true, "room:burst-batched"), (false, "room:burst-single")] {
        let transport = counting();
        let opts = Object::new();
        Reflect::set(&opts, &"transport".into(), &transport).unwrap();
        Reflect::set(&opts, &"batch".into(), &batch.into()).unwrap();
        let socket = Socket::new(relay(), opts.into()).unwrap();
        socket.connect();
        let (channel, numbers) = received(&socket, topic);
        let seen = Seen::default();
        channel.join(None).unwrap().receive("ok", seen.recorder("joined"));
        seen.wait_for("joined {}").await;

        let before = Reflect::get(&transport, &"messages".into()).unwrap().as_f64().unwrap();
        proxy_with_body("relay/api/broadcast", &publish(topic)).await;
        until(&format!("{BURST} broadcasts on {topic}"), || numbers.borrow().len() >= BURST).await;
        let expected: Vec<f64> = (0..BURST).map(|n| n as f64).collect();
        assert_eq!(*numbers.borrow(), expected, "every broadcast once, in order ({topic})");
        let messages = Reflect::get(&transport, &"messages".into()).unwrap().as_f64().unwrap() - before;
        if batch {
            assert!(messages <= 100.0, "{BURST} frames came in {messages} messages with batches");
        } else {
            assert_eq!(messages, BURST as f64, "one message per frame without batches");
        }
        socket.disconnect(None, None, None);
    }
}

#[wasm_bindgen_test]
async fn async_params_and_auth_token_functions_are_awaited_afresh_for_every_connection() {
    // A WebSocket class that records what each connection asked for, and async functions that count their calls.
    let source = "const C = class extends WebSocket { constructor(url, protocols) { super(url, protocols); \
         C.opened.push([new URL(url).searchParams.get('n'), protocols]) } }; C.opened = []; return C";
    let recording = Function::new_no_args(source).call0(&JsValue::NULL).unwrap();
    let functions = "let n = 0, t = 0; return { params: async () => ({ n: ++n }), \
         authToken: async () => { await new Promise((r) => setTimeout(r, 5)); return 'token ' + ++t } }";
    let opts = Function::new_no_args(functions).call0(&JsValue::NULL).unwrap();
    Reflect::set(&opts, &"transport".into(), &recording).unwrap();
    Reflect::set(&opts, &"backoff".into(), &json(r#"{"baseMs":20,"maxMs":20,"jitter":0}"#)).unwrap();
    let socket = Socket::new(proxied(), opts).unwrap();
    let seen = Seen::default();
    socket.on_open(seen.recorder("open"));
    socket.connect();
    assert_eq!(socket.connection_state(), "connecting", "waiting for the values");
    seen.wait_for("open").await;
    proxy("cut").await;
    seen.wait_count("open", 2).await;
    let opened = describe(&Reflect::get(&recording, &"opened".into()).unwrap());
    assert_eq!(
        opened,
        r#"[["1",["phoenix","base64url.bearer.phx.dG9rZW4gMQ"]],["2",["phoenix","base64url.bearer.phx.dG9rZW4gMg"]]]"#,
        "each connection with the values of its own calls"
    );
    socket.disconnect(None, None, None);
}
