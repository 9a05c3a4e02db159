//! Micro-benchmarks of presence: the client merging `presence_diff`s and `presence_state`s into what it knows, and
//! the server's tracker building them.
//!
//! Client side (`ferrocast_protocol::presence`, what phoenix.js's `Presence.syncDiff` and `syncState` do), on a
//! topic of 1,000 members with one meta each:
//! - `client_sync_diff/K`: a diff in which K members join and K others leave, already parsed;
//! - `client_parse_and_sync_diff/K`: the same diff from its JSON text, as the client gets it;
//! - `client_sync_state/1000`: a fresh `presence_state` (after a rejoin) in which 10 members changed, reconciled;
//! - `client_sync_state_numeric_keys/1000`: the same with members keyed by number (`"42"`), which JavaScript lists
//!   in numeric order.
//!
//! Server side (`ferrocast_pubsub::PresenceHub`), on a topic of 1,000 members watched by one V2 subscriber:
//! - `server_track_untrack/1000`: a member joins and leaves, each change broadcast at once as its own diff (no
//!   coalescing window: timing the window's merging needs a paused clock);
//! - `server_state/1000`: the `presence_state` a joiner gets.
//!
//! Throughput is in changes (joins plus leaves) or members. Run with `cargo bench --bench presence` (about 25 s).

mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use ferrocast_protocol::Vsn;
use ferrocast_protocol::presence::{Diff, State, sync_diff, sync_state};
use ferrocast_pubsub::{ConnId, Hub, Outbox, OutboxLimits, PresenceHub, Subscriber, Wire};
use serde_json::{Map, Value};
use tokio::runtime::Runtime;

const MEMBERS: usize = 1_000;
const TOPIC: &str = "room:lobby";

/// Joins and leaves between two drains of the watcher's outbox, far below its 4,096 frames.
const CHANGES_PER_DRAIN: u64 = 64;

fn main() {
    let mut criterion = support::criterion();
    bench_client(&mut criterion);
    bench_server(&mut criterion);
    criterion.final_summary();
}

fn bench_client(criterion: &mut Criterion) {
    let state = State::from_json(&presence_object(0..MEMBERS)).expect("a valid state");
    assert_eq!(state.len(), MEMBERS);
    let mut group = criterion.benchmark_group("presence");

    for changed in [1, 100] {
        // Members past the end join, as many from the start leave: the diff a busy room sends.
        let diff_json = format!(
            r#"{{"joins":{},"leaves":{}}}"#,
            presence_object(MEMBERS..MEMBERS + changed),
            presence_object(0..changed)
        );
        let diff = Diff::from_json(&diff_json).expect("a valid diff");
        let mut merged = state.clone();
        let changes = sync_diff(&mut merged, diff.clone());
        assert_eq!((changes.len(), merged.len()), (2 * changed, MEMBERS), "every join and leave is applied");

        group.throughput(Throughput::Elements(2 * changed as u64));
        group.bench_function(BenchmarkId::new("client_sync_diff", changed), |bencher| {
            bencher.iter_batched(
                || (state.clone(), diff.clone()),
                |(mut state, diff)| {
                    let changes = sync_diff(&mut state, black_box(diff));
                    (state, changes)
                },
                BatchSize::LargeInput,
            );
        });
        group.bench_function(BenchmarkId::new("client_parse_and_sync_diff", changed), |bencher| {
            bencher.iter_batched(
                || state.clone(),
                |mut state| {
                    let diff = Diff::from_json(black_box(&diff_json)).expect("a valid diff");
                    let changes = sync_diff(&mut state, diff);
                    (state, changes)
                },
                BatchSize::LargeInput,
            );
        });
    }

    // After a rejoin: the first 10 members left meanwhile and 10 others came. Then the same with members keyed by
    // number, as most applications key them (a user's id), which JavaScript lists, and the tracker keeps, in
    // numeric order.
    group.throughput(Throughput::Elements(MEMBERS as u64));
    for (name, key_of) in
        [("client_sync_state", member_key as fn(usize) -> String), ("client_sync_state_numeric_keys", numeric_key)]
    {
        let state = State::from_json(&presence_object_keyed(0..MEMBERS, key_of)).expect("a valid state");
        let rejoined = State::from_json(&presence_object_keyed(10..MEMBERS + 10, key_of)).expect("a valid state");
        group.bench_function(BenchmarkId::new(name, MEMBERS), |bencher| {
            bencher.iter_batched(
                || (state.clone(), rejoined.clone()),
                |(mut state, rejoined)| {
                    let changes = sync_state(&mut state, black_box(rejoined));
                    (state, changes)
                },
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

fn bench_server(criterion: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    let hub = Arc::new(Hub::new());
    // No window: each change is broadcast as it happens (and, outside a runtime, synchronously).
    let presence = PresenceHub::new(hub.clone(), Duration::ZERO);
    for member in 0..MEMBERS {
        presence.track(TOPIC, &member_key(member), ConnId::next(), meta());
    }
    let watcher = Arc::new(Outbox::new(OutboxLimits::default()));
    let subscriber = Subscriber {
        conn: ConnId::next(),
        wire: Wire::Phoenix(Vsn::V2),
        outbox: watcher.clone(),
        positioned: false,
        join_ref: None,
    };
    hub.subscribe(TOPIC, subscriber);

    let mut group = criterion.benchmark_group("presence");
    group.throughput(Throughput::Elements(2));
    group.bench_function(BenchmarkId::new("server_track_untrack", MEMBERS), |bencher| {
        bencher.iter_custom(|rounds| {
            let mut elapsed = Duration::ZERO;
            let mut done = 0;
            while done < rounds {
                let batch = (CHANGES_PER_DRAIN / 2).min(rounds - done);
                let metas: Vec<Map<String, Value>> = (0..batch).map(|_| meta()).collect();
                let started = Instant::now();
                for meta in metas {
                    let conn = ConnId::next();
                    presence.track(TOPIC, "guest", conn, meta);
                    presence.untrack(TOPIC, conn);
                }
                elapsed += started.elapsed();
                assert_eq!(drain(&watcher, &runtime), 2 * batch as usize, "one diff per change");
                done += batch;
            }
            elapsed
        });
    });

    group.throughput(Throughput::Elements(MEMBERS as u64));
    group.bench_function(BenchmarkId::new("server_state", MEMBERS), |bencher| {
        bencher.iter(|| presence.state(black_box(TOPIC)));
    });
    group.finish();
}

fn member_key(member: usize) -> String {
    format!("user:{member}")
}

/// The meta a page tracks for itself.
fn meta() -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert("online_at".to_owned(), Value::from(1_732_300_000_000u64));
    meta.insert("device".to_owned(), Value::from("web"));
    meta
}

/// A member keyed by number: `"42"`.
fn numeric_key(member: usize) -> String {
    member.to_string()
}

/// `{key: {"metas": [meta]}}` for these members, as a server sends in `presence_state` and diffs.
fn presence_object(members: std::ops::Range<usize>) -> String {
    presence_object_keyed(members, member_key)
}

/// [`presence_object`] with the members' keys made by `key_of`.
fn presence_object_keyed(members: std::ops::Range<usize>, key_of: fn(usize) -> String) -> String {
    let entries: Vec<String> = members
        .map(|member| {
            let key = key_of(member);
            format!(r#""{key}":{{"metas":[{{"phx_ref":"F1-{member}","online_at":1732300000000,"device":"web"}}]}}"#)
        })
        .collect();
    format!("{{{}}}", entries.join(","))
}

/// Empties the outbox, returning how many frames it held.
fn drain(outbox: &Outbox, runtime: &Runtime) -> usize {
    let mut batch = Vec::new();
    if !outbox.is_empty() {
        runtime.block_on(outbox.next_batch(&mut batch)).expect("the outbox is open");
    }
    batch.len()
}
