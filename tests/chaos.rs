//! Chaos: a proxy between a client and the relay cuts the connection every 50–300 ms (dropping the relay's frames
//! for up to 20 ms before each cut, so replies get lost after their pushes were handled) while a publisher sends
//! 10,000 numbered broadcasts and the client pushes 1,000 numbered messages. The client must receive every broadcast
//! exactly once and in order, every push must reach its handler exactly once, and every push must be answered `ok`.
//!
//! The client is the protocol crate's state machine over tokio-tungstenite (`support/native_client.rs`); the
//! browser client faces the same chaos in `client/tests/browser/page/tests/chaos.mjs`. A reader of the relay's event
//! stream (`GET /sse`, read-only, so broadcasts only) faces it too, resuming with `Last-Event-ID` after every cut.

#[path = "support/cut_proxy.rs"]
mod cut_proxy;
#[path = "support/native_client.rs"]
mod native_client;
#[path = "support/sse.rs"]
mod sse;
mod support;

use cut_proxy::{Chaos, CutProxy};
use ferrocast_protocol::Payload;
use ferrocast_protocol::client::{Backoff, ChannelId, Event, Options, PushId};
use ferrocast_pubsub::ClusterSettings;
use ferrocast_pubsub::HistoryLimits;
use ferrocast_pubsub::SessionLimits;
use ferrocast_relay::Config;
use futures_util::{SinkExt, StreamExt};
use native_client::NativeClient;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;
use support::redis::Redis;
use support::{TestRelay, http};
use tokio::time::Instant;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

const BROADCASTS: u64 = 10_000;
const PUSHES: u64 = 1_000;
/// Publishing and pushing are spread over about this long, so the client faces dozens of cuts while both run.
const SPREAD: Duration = Duration::from_secs(10);
/// Broadcasts published at a time, then a pause: bursts arrive while a cut is in progress, as they would live.
const BURST: u64 = 100;
/// The publisher sends 1,000 frames a second, in bursts, over one socket: a backend's rate, not a page's.
const PUBLISHER_LIMITS: SessionLimits = SessionLimits { max_channels: 100, frames_per_second: 100_000, burst: 100_000 };
/// How long the client may take to get everything, chaos included, before the test fails.
const PATIENCE: Duration = Duration::from_secs(90);
/// Fewer cuts than this and the test would prove little.
const MIN_CUTS: u64 = 20;

// The relay is the test's own, so the topics need no unique names.
const TOPIC: &str = "room:chaos";
const PUSH_TOPIC: &str = "room:chaos-pushes";
const NO_PRESENCE: &str = r#"{"no_presence":true}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_random_cuts_every_broadcast_arrives_once_in_order_and_every_push_is_handled_once() {
    // History long enough that no cut outlasts it: recovery must never have to give up here.
    let history = HistoryLimits { max_messages: 20_000, ..HistoryLimits::default() };
    let relay = TestRelay::start(Config { history, limits: PUBLISHER_LIMITS, ..Config::default() }).await;
    let proxy = CutProxy::start(relay.addr, Chaos { every_ms: 50..=300, mute_ms: 0..=20 }).await;

    // Reconnect fast, as the point is to be cut often; no push may time out, however long the chaos.
    let options = || {
        let fast = || Backoff::Jittered { base_ms: 10, max_ms: 50, jitter: 1.0 };
        Options { timeout_ms: 30_000, reconnect: fast(), rejoin: fast(), ..Options::default() }
    };
    let mut client = NativeClient::connect(&proxy.url(""), options);
    let mut record = Record::default();
    let started = Instant::now();
    let deadline = started + PATIENCE;

    // The publisher starts once the client has joined: a first join has no position to recover from.
    let (broadcasts, first_join) = client.join(TOPIC, NO_PRESENCE).await;
    record.broadcasts = Some(broadcasts);
    record.expect_join(first_join);
    record.until(&mut client, deadline, "first join", |record| record.joined(first_join)).await;
    let (push_channel, push_join) = client.join(PUSH_TOPIC, NO_PRESENCE).await;
    record.expect_join(push_join);
    record.until(&mut client, deadline, "join of the pushes' channel", |record| record.joined(push_join)).await;

    let publisher = tokio::spawn(publish(relay.url("?vsn=2.0.0")));
    let pusher = {
        let commands = client.commands();
        tokio::spawn(async move {
            let mut pushed = Vec::with_capacity(PUSHES as usize);
            for n in 0..PUSHES {
                pushed.push(commands.push(push_channel, "new_msg", format!(r#"{{"push":{n}}}"#)).await);
                tokio::time::sleep(SPREAD / PUSHES as u32).await;
            }
            pushed
        })
    };

    // Done when the last broadcast and every push's reply are in; what came before is judged below.
    let done = |record: &Record| record.received.last() == Some(&(BROADCASTS - 1)) && record.push_replies >= PUSHES;
    record.until(&mut client, deadline, "last broadcast and reply to every push", done).await;
    // Anything doubled would come right behind: keep listening (through more cuts) before judging.
    record.take_for(&mut client, Duration::from_secs(1)).await;
    let elapsed = started.elapsed();
    let published = tokio::time::timeout(Duration::from_secs(10), publisher).await;
    let published = published.expect("the publisher gets its replies").expect("the publisher");
    assert_eq!(published, BROADCASTS, "the publisher's pushes were all answered ok");
    let pushed: HashMap<PushId, u64> = pusher.await.expect("the pusher").into_iter().zip(0..).collect();

    // Broadcasts: each exactly once, in order.
    let expected: Vec<u64> = (0..BROADCASTS).collect();
    if record.received != expected {
        panic!("broadcasts not received exactly once in order: {}", sequence_problems(&record.received));
    }
    assert_eq!(record.recovery_failures, 0, "the history outlasts every cut, so every rejoin recovers");
    assert!(record.unexpected.is_empty(), "unexpected events: {:?}", record.unexpected);

    // Pushes: one reply each, `ok` with the payload pushed; the handler ran once each (its broadcasts, counted in
    // the topic's history by an observer that is not behind the proxy).
    let mut answered = HashMap::new();
    for (push, status, response) in &record.replies {
        let n = pushed.get(push).unwrap_or_else(|| panic!("a reply for a push never made: {push:?}"));
        assert_eq!(status, "ok", "push {n} was answered {status}");
        assert_eq!(response.as_ref().and_then(|payload| number(payload, "push")), Some(*n), "push {n}'s reply");
        *answered.entry(*n).or_insert(0) += 1;
    }
    let answered_twice: Vec<_> = answered.iter().filter(|(_, count)| **count > 1).collect();
    assert!(answered_twice.is_empty(), "pushes answered more than once: {answered_twice:?}");
    assert_eq!(answered.len() as u64, PUSHES, "every push answered");
    let handled = handled_pushes(&relay).await;
    let wrong: Vec<_> = (0..PUSHES).filter(|n| handled.get(n) != Some(&1)).map(|n| (n, handled.get(&n))).collect();
    assert!(wrong.is_empty(), "pushes not handled exactly once (push, times): {wrong:?}");
    assert_eq!(handled.values().sum::<u64>(), PUSHES, "nothing else was handled");

    let cuts = proxy.cuts();
    // Written to stderr directly, which libtest does not capture: `cargo xtask test` shows the figures of a passing
    // run too, as it does for the browser's chaos test.
    let _ = writeln!(
        std::io::stderr(),
        "chaos (native WebSocket): {} broadcasts received once each in order, {} pushes handled once each ({} sent \
         again after a cut), over {} connections ({cuts} cuts, {:.1} s)",
        record.received.len(),
        handled.len(),
        client.resent_pushes(),
        record.connections,
        elapsed.as_secs_f64(),
    );
    assert!(cuts >= MIN_CUTS, "only {cuts} cuts: the test proved little");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_random_cuts_an_event_stream_resumes_with_every_broadcast_once_in_order() {
    let history = HistoryLimits { max_messages: 20_000, ..HistoryLimits::default() };
    let relay = TestRelay::start(Config { history, limits: PUBLISHER_LIMITS, ..Config::default() }).await;
    event_stream_under_cuts(&relay, &relay, "server-sent events").await;
}

/// The same, with the stream on one relay and the publisher on another, both on one Redis whose subscriptions are
/// cut too, every second: the reader's relay reads what it missed back from the streams, and the stream still gets
/// every broadcast once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_two_relays_on_redis_an_event_stream_gets_every_broadcast_of_the_other_once_in_order() {
    let redis = Redis::start();
    let history = HistoryLimits { max_messages: 20_000, ..HistoryLimits::default() };
    let config = || Config {
        history,
        limits: PUBLISHER_LIMITS,
        cluster: Some(ClusterSettings::new(redis.url())),
        ..Config::default()
    };
    let (reader, publisher) = (TestRelay::start(config()).await, TestRelay::start(config()).await);
    let cutter = {
        let port = redis.port;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let cut = move || Redis::command_on(port, "CLIENT KILL TYPE pubsub");
                let _ = tokio::task::spawn_blocking(cut).await;
            }
        })
    };
    event_stream_under_cuts(&reader, &publisher, "server-sent events, across two relays on Redis").await;
    cutter.abort();
    let (_, metrics) = http(&reader, "GET", "/metrics", "").await;
    let value =
        |name: &str| metrics.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse::<u64>().ok());
    assert!(
        value("ferrocast_redis_disconnects_total").is_some_and(|cut| cut >= 3),
        "the relays' links were cut:\n{metrics}"
    );
    assert_eq!(value("ferrocast_redis_lost_total"), Some(0), "{metrics}");
}

/// Reads [`TOPIC`] from `reader`'s event stream behind a proxy that cuts it, while `publisher` gets the broadcasts.
async fn event_stream_under_cuts(reader: &TestRelay, publisher_relay: &TestRelay, label: &str) {
    let proxy = CutProxy::start(reader.addr, Chaos { every_ms: 50..=300, mute_ms: 0..=20 }).await;
    let path = format!("/sse?topic={TOPIC}&no_presence=true");
    let started = Instant::now();
    let deadline = started + PATIENCE;

    let mut received = Vec::with_capacity(BROADCASTS as usize);
    let (mut streams, mut recovery_failures, mut publisher) = (0, 0, None);
    let mut last_event_id = String::new();
    while received.last() != Some(&(BROADCASTS - 1)) {
        assert!(Instant::now() < deadline, "not done within {PATIENCE:?}: {} received", received.len());
        let header = format!("last-event-id: {last_event_id}");
        let headers: Vec<&str> = if last_event_id.is_empty() { vec![] } else { vec![&header] };
        let mut stream = match sse::SseStream::open(proxy.addr, &path, &headers).await {
            Ok(stream) => stream,
            Err(refusal) if refusal.status == 0 => continue, // cut while connecting
            Err(refusal) => panic!("refused: {} {}", refusal.status, refusal.body),
        };
        streams += 1;
        // The publisher starts once the first stream is subscribed: the first has no position to resume from.
        if publisher.is_none() {
            publisher = Some(tokio::spawn(publish(publisher_relay.url("?vsn=2.0.0"))));
        }
        while let Some(event) = stream.next_within(Duration::from_secs(2)).await {
            match event.event.as_str() {
                "ferrocast:subscribed" => {
                    let data: Value = serde_json::from_str(&event.data).expect("JSON");
                    if data["recovered"] == false {
                        recovery_failures += 1;
                    }
                }
                "new_msg" => {
                    let data: Value = serde_json::from_str(&event.data).expect("JSON");
                    received.push(data["n"].as_u64().expect("a numbered broadcast"));
                }
                other => panic!("unexpected event {other}"),
            }
        }
        last_event_id = stream.last_event_id();
    }
    let elapsed = started.elapsed();
    let published = publisher.expect("started").await.expect("the publisher");
    assert_eq!(published, BROADCASTS);
    let expected: Vec<u64> = (0..BROADCASTS).collect();
    if received != expected {
        panic!("broadcasts not received exactly once in order: {}", sequence_problems(&received));
    }
    assert_eq!(recovery_failures, 0, "the history outlasts every cut, so every resume recovers");
    let cuts = proxy.cuts();
    let _ = writeln!(
        std::io::stderr(),
        "chaos ({label}): {} broadcasts received once each in order over {streams} streams ({cuts} cuts, {:.1} s)",
        received.len(),
        elapsed.as_secs_f64(),
    );
    assert!(cuts >= MIN_CUTS, "only {cuts} cuts: the test proved little");
}

/// What the client's events showed.
#[derive(Default)]
struct Record {
    broadcasts: Option<ChannelId>,
    /// The `n` of every broadcast received, in arrival order.
    received: Vec<u64>,
    /// Every final outcome of an application push: the push, its status and response.
    replies: Vec<(PushId, String, Option<Payload>)>,
    push_replies: u64,
    /// Join pushes and their latest status (every join attempt is answered on the channel's one join push).
    joins: HashMap<PushId, String>,
    connections: u64,
    recovery_failures: u64,
    unexpected: Vec<String>,
}

impl Record {
    /// Takes in the client's events until `condition` holds; past `deadline`, fails naming `what` with the counts
    /// so far.
    async fn until(
        &mut self,
        client: &mut NativeClient,
        deadline: Instant,
        what: &str,
        condition: impl Fn(&Record) -> bool,
    ) {
        while !condition(self) {
            let patience = deadline.saturating_duration_since(Instant::now());
            match client.next_event(patience).await {
                Some(event) => self.take(event),
                None => panic!(
                    "no {what} within {PATIENCE:?}: {} broadcasts received (last {:?}), {} push replies, {} \
                     connections, joins {:?}",
                    self.received.len(),
                    self.received.last(),
                    self.push_replies,
                    self.connections,
                    self.joins
                ),
            }
        }
    }

    /// Takes in the client's events for `duration`.
    async fn take_for(&mut self, client: &mut NativeClient, duration: Duration) {
        let deadline = Instant::now() + duration;
        while let Some(event) = client.next_event(deadline.saturating_duration_since(Instant::now())).await {
            self.take(event);
        }
    }

    fn take(&mut self, event: Event<Payload>) {
        match event {
            Event::Open => self.connections += 1,
            Event::Message { channel, event, payload, .. } if Some(channel) == self.broadcasts => {
                match number(&payload, "n").filter(|_| event == "new_msg") {
                    Some(n) => self.received.push(n),
                    None => self.unexpected.push(format!("{event} {payload:?}")),
                }
            }
            // The pushes' own broadcasts: the relay's history counts them, unproxied.
            Event::Message { .. } => {}
            Event::Reply { push, status, .. } if self.joins.contains_key(&push) => {
                self.joins.insert(push, status);
            }
            Event::Reply { push, status, response, .. } => {
                self.push_replies += 1;
                self.replies.push((push, status, response));
            }
            Event::RecoveryIncomplete { .. } => self.recovery_failures += 1,
            Event::Dropped { event, reason, .. } => self.unexpected.push(format!("dropped {event}: {reason:?}")),
            Event::Close { .. }
            | Event::Error
            | Event::ReconnectScheduled { .. }
            | Event::ChannelError { .. }
            | Event::HeartbeatTimeout => {}
            Event::ChannelClose { channel } => self.unexpected.push(format!("channel {channel:?} closed")),
        }
    }

    /// Tells replies to `join` apart from replies to pushes.
    fn expect_join(&mut self, join: PushId) {
        self.joins.insert(join, "waiting".to_owned());
    }

    fn joined(&self, join: PushId) -> bool {
        self.joins.get(&join).is_some_and(|status| status == "ok")
    }
}

/// Publishes `{"n": 0..BROADCASTS}` to [`TOPIC`] in bursts over [`SPREAD`], through a WebSocket of its own that is
/// not behind the proxy (the room channel broadcasts what is pushed); returns how many were answered `ok`.
async fn publish(url: String) -> u64 {
    let (socket, _) = connect_async(&url).await.expect("the publisher connects");
    let (mut sink, mut stream) = socket.split();
    // Its replies and its own broadcasts come back: read them, so its outbound queue never fills.
    let replies = tokio::spawn(async move {
        let mut ok = 0;
        while let Some(Ok(Message::Text(text))) = stream.next().await {
            let frame: Value = serde_json::from_str(text.as_str()).expect("a JSON frame");
            if frame[3] == "phx_reply" && frame[1] != "join" && frame[4]["status"] == "ok" {
                ok += 1;
                if ok == BROADCASTS {
                    break;
                }
            }
        }
        ok
    });
    let join = format!(r#"["1","join","{TOPIC}","phx_join",{NO_PRESENCE}]"#);
    sink.send(Message::text(join)).await.expect("the publisher joins");
    let pause = SPREAD / (BROADCASTS / BURST) as u32;
    for burst in (0..BROADCASTS).step_by(BURST as usize) {
        for n in burst..(burst + BURST).min(BROADCASTS) {
            let push = format!(r#"["1","{n}","{TOPIC}","new_msg",{{"n":{n}}}]"#);
            sink.feed(Message::text(push)).await.expect("the publisher pushes");
        }
        sink.flush().await.expect("the publisher pushes");
        tokio::time::sleep(pause).await;
    }
    replies.await.expect("the publisher's reader")
}

/// How many times the relay handled each push, from the broadcasts its handler made on [`PUSH_TOPIC`], as the
/// history API reports them.
async fn handled_pushes(relay: &TestRelay) -> HashMap<u64, u64> {
    let (status, body) = http(relay, "GET", &format!("/api/history/{PUSH_TOPIC}"), "").await;
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).expect("the history as JSON");
    assert_eq!(page["complete"], true, "the history keeps every push's broadcast: {}", page["offset"]);
    let mut handled = HashMap::new();
    for message in page["messages"].as_array().expect("messages") {
        let n = message["payload"]["push"].as_u64().unwrap_or_else(|| panic!("a push's broadcast: {message}"));
        *handled.entry(n).or_insert(0) += 1;
    }
    handled
}

/// The number at `key` in a JSON payload.
fn number(payload: &Payload, key: &str) -> Option<u64> {
    let Payload::Json(text) = payload else { return None };
    serde_json::from_str::<Value>(text).ok()?[key].as_u64()
}

/// What is wrong with a sequence that should be `0..BROADCASTS`: the first place it goes wrong, with what surrounds
/// it, and how many numbers are missing or doubled.
fn sequence_problems(received: &[u64]) -> String {
    let first_wrong = received.iter().zip(0..).position(|(n, expected)| *n != expected).unwrap_or(received.len());
    let around = &received[first_wrong.saturating_sub(3)..(first_wrong + 5).min(received.len())];
    let mut times = vec![0u32; BROADCASTS as usize];
    let mut out_of_range = 0;
    for n in received {
        match times.get_mut(*n as usize) {
            Some(count) => *count += 1,
            None => out_of_range += 1,
        }
    }
    let missing: Vec<usize> = times.iter().enumerate().filter(|(_, t)| **t == 0).map(|(n, _)| n).collect();
    let doubled = times.iter().filter(|t| **t > 1).count();
    format!(
        "{} received; first wrong at index {first_wrong} (around it: {around:?}); {} missing (first: {:?}), {doubled} \
         received more than once, {out_of_range} out of range",
        received.len(),
        missing.len(),
        &missing[..missing.len().min(10)],
    )
}
