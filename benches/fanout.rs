//! Micro-benchmark of in-process fanout: one broadcast on a topic with N subscribers, through the pubsub [`Hub`].
//!
//! Each broadcast is numbered, kept in the topic's history, encoded once and pushed to every subscriber's outbox;
//! throughput is in deliveries (N per broadcast). Subscribers speak V2 JSON, either plain (as phoenix.js) or
//! positioned (Ferrocast's recovery extension, whose frames carry the broadcast's position).
//!
//! Only the broadcasts are timed. Between batches of them the outboxes are drained, untimed, as the connections'
//! writers would, so none fills and closes as a slow consumer.
//!
//! Run with `cargo bench --bench fanout` (about 15 s).

mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use ferrocast_protocol::{Payload, Vsn};
use ferrocast_pubsub::{ConnId, Hub, Outbox, OutboxLimits, Subscriber, Wire};
use tokio::runtime::Runtime;

const TOPIC: &str = "room:lobby";

/// A chat message of about 100 bytes, the typical broadcast payload.
const CHAT_MESSAGE: &str =
    r#"{"id":"0f8c2a7e","user":"ada","body":"The quick brown fox jumps over the lazy dog","sent_at":1732300000123}"#;

/// Broadcasts between two drains: 64 frames of ~150 bytes stay far below an outbox's limits (4,096 frames, 4 MiB).
const BROADCASTS_PER_DRAIN: u64 = 64;

/// A topic and the outboxes of its subscribers.
struct Room {
    hub: Hub,
    outboxes: Vec<Arc<Outbox>>,
}

fn main() {
    let mut criterion = support::criterion();
    bench_fanout(&mut criterion);
    criterion.final_summary();
}

fn bench_fanout(criterion: &mut Criterion) {
    // `Outbox::next_batch` is async; draining a non-empty outbox never waits, so a current-thread runtime will do.
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    let payload = Payload::Json(CHAT_MESSAGE.to_owned());
    let mut group = criterion.benchmark_group("fanout");
    for subscribers in [100, 1_000] {
        group.throughput(Throughput::Elements(subscribers as u64));
        for (kind, positioned) in [("v2", false), ("v2_positioned", true)] {
            let room = Room::new(subscribers, positioned);
            assert_eq!(room.hub.broadcast(TOPIC, "new_msg", &payload), subscribers, "every subscriber gets it");
            room.drain(&runtime);
            group.bench_function(BenchmarkId::new(kind, subscribers), |bencher| {
                bencher.iter_custom(|broadcasts| room.time_broadcasts(broadcasts, &payload, &runtime));
            });
        }
    }
    group.finish();
}

impl Room {
    fn new(subscribers: usize, positioned: bool) -> Self {
        let hub = Hub::new();
        let mut outboxes = Vec::with_capacity(subscribers);
        for _ in 0..subscribers {
            let outbox = Arc::new(Outbox::new(OutboxLimits::default()));
            let subscriber = Subscriber {
                conn: ConnId::next(),
                wire: Wire::Phoenix(Vsn::V2),
                outbox: outbox.clone(),
                positioned,
                join_ref: None,
            };
            let conn = subscriber.conn;
            let subscribed = hub.subscribe(TOPIC, subscriber);
            if positioned {
                // A positioned subscriber gets numbered broadcasts only once its join has caught up.
                hub.catch_up(TOPIC, conn, None, &subscribed, |_, _| {});
            }
            outboxes.push(outbox);
        }
        Room { hub, outboxes }
    }

    /// Times `broadcasts` broadcasts, draining the outboxes between batches outside the timed part.
    fn time_broadcasts(&self, broadcasts: u64, payload: &Payload, runtime: &Runtime) -> Duration {
        let mut elapsed = Duration::ZERO;
        let mut done = 0;
        while done < broadcasts {
            let batch = BROADCASTS_PER_DRAIN.min(broadcasts - done);
            let started = Instant::now();
            for _ in 0..batch {
                black_box(self.hub.broadcast(TOPIC, "new_msg", black_box(payload)));
            }
            elapsed += started.elapsed();
            self.drain(runtime);
            done += batch;
        }
        elapsed
    }

    fn drain(&self, runtime: &Runtime) {
        runtime.block_on(async {
            let mut batch = Vec::new();
            for outbox in &self.outboxes {
                if !outbox.is_empty() {
                    outbox.next_batch(&mut batch).await.expect("the outbox is open");
                    batch.clear();
                }
            }
        });
    }
}
