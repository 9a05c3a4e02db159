//! Subscribers: connections (WebSocket or event stream) that join a topic and record each broadcast they receive,
//! until the scenario stops them.
//!
//! They connect a bounded number at a time, so a thousand connects do not arrive as one SYN flood, and each runs as
//! its own task on the runtime's two workers. A subscriber's reading costs it one pass over each frame's header and
//! one substring search for its stamps ([`stamp::read`]).

use crate::dialect::{Dialect, Incoming};
use crate::net::Ws;
use crate::recorder::Recorder;
use crate::stamp::{self, Stamp};
use crate::target::Target;
use crate::{conn, sse};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

/// Connections being opened at once.
pub(crate) const CONNECT_CONCURRENCY: usize = 256;
/// How often a Phoenix connection sends a heartbeat (the relay closes sockets silent for 60 s).
pub(crate) const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
/// How long stopped subscribers get to close before they are aborted.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How subscribers connect and what they join.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Event streams instead of WebSockets.
    pub event_streams: bool,
    /// How many to start: the caller has already capped it by the descriptor limit.
    pub count: usize,
    /// The topic, or the prefix of each subscriber's (see [`Topics`]).
    pub topic: String,
    /// Which topic each subscriber joins.
    pub topics: Topics,
    /// Join with presence as `u{index}` (Phoenix only).
    pub presence: bool,
    /// The WebSocket read buffer (see [`crate::net::ws_config`]).
    pub read_buffer: usize,
}

/// Which topic each subscriber of a [`Plan`] joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Topics {
    /// All the same one, the plan's `topic`.
    One,
    /// One each, `{topic}:{index}`, so that per-topic state (presence) stays one member large.
    PerSubscriber,
    /// `n` topics, subscriber `index` on `{topic}:{index % n}`: `count / n` subscribers each.
    Spread(usize),
}

impl Topics {
    /// The topic subscriber `index` joins, of the plan topic `topic`.
    pub(crate) fn of(self, topic: &str, index: usize) -> String {
        match self {
            Topics::One => topic.to_owned(),
            Topics::PerSubscriber => format!("{topic}:{index}"),
            Topics::Spread(n) => format!("{topic}:{}", index % n.max(1)),
        }
    }
}

/// Started subscribers, each joined or failed; the joined ones run until [`Subscribers::stop`].
pub(crate) struct Subscribers {
    /// How many joined.
    pub joined: usize,
    /// How many failed to connect or join.
    pub failed: usize,
    /// The first failure, for the output.
    pub first_error: Option<String>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

/// Starts `plan`'s subscribers on `target`, recording into `recorder`; returns once every one has joined or failed.
pub(crate) async fn start(target: &Target, plan: &Plan, recorder: Arc<Recorder>) -> Subscribers {
    start_across(std::slice::from_ref(target), plan, recorder).await
}

/// [`start`], with the subscribers dealt over `targets` in turn (subscriber `n` on `targets[n % len]`): servers
/// that share their topics, such as relays on one Redis.
pub(crate) async fn start_across(targets: &[Target], plan: &Plan, recorder: Arc<Recorder>) -> Subscribers {
    assert!(!targets.is_empty(), "subscribers need a server");
    let (stop, stopped) = watch::channel(false);
    let (ready_tx, mut ready) = mpsc::unbounded_channel::<Result<(), String>>();
    let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for index in 0..plan.count {
        let target = &targets[index % targets.len()];
        let (target, plan, recorder, stopped, ready, permits) =
            (target.clone(), plan.clone(), recorder.clone(), stopped.clone(), ready_tx.clone(), permits.clone());
        tasks.spawn(async move {
            let permit = permits.acquire_owned().await.expect("semaphore never closed");
            let topic = plan.topics.of(&plan.topic, index);
            if plan.event_streams {
                match open_event_stream(&target, index, &topic).await {
                    Ok(stream) => {
                        drop(permit);
                        let _ = ready.send(Ok(()));
                        receive_events(stream, index, &recorder, stopped).await;
                    }
                    Err(error) => drop(ready.send(Err(error.to_string()))),
                }
            } else {
                let user = plan.presence.then(|| format!("u{index}"));
                match conn::open_and_join(&target, index, plan.read_buffer, &topic, user.as_deref()).await {
                    Ok(ws) => {
                        drop(permit);
                        let _ = ready.send(Ok(()));
                        receive(ws, target.dialect, index, &recorder, stopped).await;
                    }
                    Err(error) => drop(ready.send(Err(error.to_string()))),
                }
            }
        });
    }
    drop(ready_tx);
    let mut subscribers = Subscribers { joined: 0, failed: 0, first_error: None, stop, tasks };
    // Counted rather than read to the end: a subscriber keeps its sender for as long as it runs.
    for _ in 0..plan.count {
        let Some(outcome) = ready.recv().await else { break };
        match outcome {
            Ok(()) => subscribers.joined += 1,
            Err(error) => {
                subscribers.failed += 1;
                subscribers.first_error.get_or_insert(error);
            }
        }
    }
    subscribers
}

impl Subscribers {
    /// Closes every subscriber's connection and waits (a bounded time) for their tasks to end.
    pub(crate) async fn stop(mut self) {
        let _ = self.stop.send(true);
        let all_ended = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(STOP_TIMEOUT, all_ended).await.is_err() {
            self.tasks.abort_all();
        }
    }
}

/// A WebSocket subscriber's life after its join: record broadcasts, answer pings, send heartbeats.
async fn receive(mut ws: Ws, dialect: Dialect, index: usize, recorder: &Recorder, mut stopped: watch::Receiver<bool>) {
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
    let mut next_id = crate::dialect::JOIN_ID + 1;
    let mut stamps: Vec<Stamp> = Vec::new();
    loop {
        tokio::select! {
            biased;
            _ = stopped.changed() => break,
            next = ws.next() => match next {
                Some(Ok(Message::Text(text))) => {
                    let now = stamp::now_ns();
                    let (mut pinged, mut closing) = (false, false);
                    dialect.for_each(&text, |incoming| match incoming {
                        Incoming::Broadcast(payload) => stamps.extend(stamp::read(payload)),
                        Incoming::Ping => pinged = true,
                        Incoming::Closing => closing = true,
                        _ => {}
                    });
                    if !stamps.is_empty() {
                        recorder.record(index, &stamps, now);
                        stamps.clear();
                    }
                    if closing || (pinged && ws.send(Message::text(dialect.pong())).await.is_err()) {
                        recorder.subscriber_closed();
                        break;
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => {
                    recorder.subscriber_closed();
                    break;
                }
                Some(Ok(_)) => {}
            },
            _ = heartbeat.tick() => {
                if let Some(beat) = dialect.heartbeat(next_id) {
                    next_id += 1;
                    if ws.send(Message::text(beat)).await.is_err() {
                        recorder.subscriber_closed();
                        break;
                    }
                }
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
}

/// Opens an event stream and reads it up to its `ferrocast:subscribed` event, after which broadcasts flow.
async fn open_event_stream(target: &Target, index: usize, topic: &str) -> crate::Result<sse::EventStream> {
    let opening = async {
        let mut stream = sse::open(target, index, topic).await?;
        loop {
            match stream.next_events().await? {
                Some(events) if events.iter().any(|event| event.event == sse::SUBSCRIBED_EVENT) => return Ok(stream),
                Some(_) => {}
                None => return Err("the event stream ended before it subscribed".into()),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), opening).await.map_err(|_| "timed out opening the event stream")?
}

/// An event-stream subscriber's life: record `new_msg` events until stopped or cut off.
async fn receive_events(
    mut stream: sse::EventStream,
    index: usize,
    recorder: &Recorder,
    mut stopped: watch::Receiver<bool>,
) {
    let mut stamps: Vec<Stamp> = Vec::new();
    loop {
        tokio::select! {
            biased;
            _ = stopped.changed() => break,
            next = stream.next_events() => match next {
                Ok(Some(events)) => {
                    let now = stamp::now_ns();
                    stamps.extend(events.iter().filter(|event| event.event == "new_msg").filter_map(|event| stamp::read(&event.data)));
                    if !stamps.is_empty() {
                        recorder.record(index, &stamps, now);
                        stamps.clear();
                    }
                }
                Ok(None) | Err(_) => {
                    recorder.subscriber_closed();
                    break;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_one_each_or_spread() {
        assert_eq!(Topics::One.of("room:bench", 7), "room:bench");
        assert_eq!(Topics::PerSubscriber.of("room:bench", 7), "room:bench:7");
        let spread: Vec<String> = (0..4).map(|index| Topics::Spread(3).of("room:d:a", index)).collect();
        assert_eq!(spread, ["room:d:a:0", "room:d:a:1", "room:d:a:2", "room:d:a:0"]);
    }
}
