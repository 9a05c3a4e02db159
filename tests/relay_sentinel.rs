//! Relays on Redis through Sentinel (`--pubsub redis+sentinel://…`), on a real failover: a master, its replica and
//! three sentinels; the master is killed (SIGKILL) while broadcasts flow, and the sentinels make the replica the
//! master. Both relays find it through the sentinels, broadcasts go on on both, and every broadcast published is
//! delivered to every subscriber following positions, or that subscriber is told of the loss: none is missing
//! silently.

mod support;

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::Client;
use support::redis::{Redis, Sentinel};
use support::relay_process::RelayProcess;

const TOPIC: &str = "room:failover";

/// What a subscriber got.
#[derive(Debug, Default)]
struct Seen {
    /// Each broadcast's number, with its epoch and offset, in the order they came.
    broadcasts: Vec<(u64, String, u64)>,
    /// Loss notices (`phx_error`), each followed by a rejoin offering the last position.
    notices: u64,
    /// The rejoins' `recovered`.
    recovered: Vec<bool>,
}

/// Reads `client`'s frames on [`TOPIC`] until it has every broadcast up to `last` (once `last` is set), nothing
/// came for 3 s after that, or `patience` passes. A loss notice is answered as our client does: a rejoin offering
/// the last position.
async fn follow(mut client: Client, highest: Arc<AtomicU64>, last: Arc<AtomicU64>, patience: Duration) -> Seen {
    let mut seen = Seen::default();
    let mut numbers = std::collections::HashSet::new();
    let deadline = Instant::now() + patience;
    let mut position: Option<Value> = None;
    let mut quiet_since: Option<Instant> = None;
    while Instant::now() < deadline {
        let Some(frame) = client.next_frame_within(Duration::from_millis(200)).await else {
            // Done once the last broadcast came, or nothing came for 3 s after it was published.
            let quiet = quiet_since.get_or_insert_with(Instant::now).elapsed() > Duration::from_secs(3);
            if last.load(Ordering::SeqCst) != u64::MAX && quiet {
                break;
            }
            continue;
        };
        quiet_since = None;
        if frame[2] != TOPIC {
            continue;
        }
        match frame[3].as_str() {
            Some("new_msg") => {
                let n = frame[4]["n"].as_u64().expect("n");
                let epoch = frame[5]["epoch"].as_str().expect("an epoch").to_owned();
                let offset = frame[5]["offset"].as_u64().expect("an offset");
                position = Some(json!({ "epoch": epoch, "offset": offset }));
                seen.broadcasts.push((n, epoch, offset));
                highest.fetch_max(n, Ordering::SeqCst);
                numbers.insert(n);
                if numbers.len() as u64 >= last.load(Ordering::SeqCst) {
                    break;
                }
            }
            Some("phx_error") => {
                seen.notices += 1;
                let offered = position.clone().unwrap_or_else(|| json!({}));
                let reply = client.join(TOPIC, json!({ "no_presence": true }), Some(offered)).await;
                seen.recovered.push(reply[5]["recovered"] != false);
            }
            _ => {}
        }
    }
    seen
}

/// The thread that publishes, stopped and joined when the test ends, also by a failed assertion: it holds the
/// relays, which are killed only once it lets them go.
struct Publishing {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Drop for Publishing {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Polls `ready` (which may block briefly) every 50 ms until it holds; `false` after `patience`.
async fn until(patience: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + patience;
    while !ready() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_follow_a_sentinel_failover_and_no_broadcast_goes_missing_silently() {
    let started = Instant::now();
    let mut master = Redis::start();
    let replica = Redis::start_replica_of(master.port);
    let sentinels: Vec<Sentinel> = (0..3).map(|_| Sentinel::start_with_quorum(master.port, "mymaster", 2)).collect();
    // Before a failover can happen, the replica has synced and every sentinel knows it and the two other sentinels
    // (they find each other through the master's hello channel, every 2 s).
    let synced = until(Duration::from_secs(20), || {
        replica.command("INFO replication").is_some_and(|info| info.contains("master_link_status:up"))
    })
    .await;
    assert!(synced, "the replica did not sync");
    let known = until(Duration::from_secs(20), || {
        sentinels.iter().all(|sentinel| {
            let replicas = sentinel.command("SENTINEL replicas mymaster").unwrap_or_default();
            let others = sentinel.command("SENTINEL sentinels mymaster").unwrap_or_default();
            replicas.starts_with("*1\r\n") && others.starts_with("*2\r\n")
        })
    })
    .await;
    assert!(known, "the sentinels did not find the replica and each other");
    let addresses: Vec<String> = sentinels.iter().map(|sentinel| format!("127.0.0.1:{}", sentinel.port)).collect();
    let url = format!("redis+sentinel://{}/mymaster", addresses.join(","));
    let relays = Arc::new([RelayProcess::start_on_url(&url, &[]), RelayProcess::start_on_url(&url, &[])]);
    let set_up = started.elapsed();

    let (highest_a, highest_b) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let last = Arc::new(AtomicU64::new(u64::MAX));
    let mut followers = Vec::new();
    for (relay, highest, name) in [(&relays[0], &highest_a, "on_a"), (&relays[1], &highest_b, "on_b")] {
        let mut client = Client::connect(name, &relay.ws_url()).await;
        client.join(TOPIC, json!({ "no_presence": true }), Some(json!({}))).await;
        followers.push(tokio::spawn(follow(client, highest.clone(), last.clone(), Duration::from_secs(45))));
    }

    // Broadcasts every 20 ms, on A and B in turn, each answered 200 (queued for Redis, also while it is away).
    let published = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut publisher = Publishing {
        stop: stop.clone(),
        thread: Some({
            let (relays, published, stop) = (relays.clone(), published.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    relays[(n % 2) as usize].publish(TOPIC, "new_msg", &json!({ "n": n }));
                    published.store(n, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                }
                n
            })
        }),
    };
    let flowing = until(Duration::from_secs(10), || {
        highest_a.load(Ordering::SeqCst) >= 20 && highest_b.load(Ordering::SeqCst) >= 20
    })
    .await;
    assert!(flowing, "broadcasts did not flow before the failover");
    // And the replica has them: after its first sync, a master streams writes to its replica only once the replica
    // acknowledged (within a second); a master killed before that loses them all, which the relays would report.
    let replicated = until(Duration::from_secs(10), || {
        let offset = replica.command(&format!("HGET ferrocast:{{{TOPIC}}}:meta offset")).unwrap_or_default();
        offset.lines().nth(1).and_then(|offset| offset.parse::<u64>().ok()).is_some_and(|offset| offset >= 20)
    })
    .await;
    assert!(replicated, "the replica does not have the broadcasts");

    let killed_at = published.load(Ordering::SeqCst);
    master.kill();
    let killed = Instant::now();
    let relinked = until(Duration::from_secs(30), || {
        relays.iter().all(|relay| {
            relay.metric("ferrocast_redis_disconnects_total") >= 1 && relay.metric("ferrocast_redis_connected") == 1
        })
    })
    .await;
    assert!(relinked, "the relays did not follow the new master within 30 s");
    let relinked_after = killed.elapsed();
    let promoted = replica.command("ROLE").unwrap_or_default();
    assert!(promoted.contains("master"), "the replica is the master now: {promoted}");
    // Broadcasts published after the failover reach both relays' subscribers.
    let after = published.load(Ordering::SeqCst);
    let delivered_again = until(Duration::from_secs(15), || {
        highest_a.load(Ordering::SeqCst) > after + 10 && highest_b.load(Ordering::SeqCst) > after + 10
    })
    .await;
    assert!(delivered_again, "broadcasts did not go on on both relays after the failover");
    let flowing_after = killed.elapsed();
    stop.store(true, Ordering::SeqCst);
    let total = publisher.thread.take().expect("publishing").join().expect("the publisher");
    // Each relay's queue for Redis empties once its publisher reaches the new master (its backoff is up to 2 s).
    let flushed =
        until(Duration::from_secs(15), || relays.iter().all(|relay| relay.metric("ferrocast_redis_queued") == 0)).await;
    assert!(flushed, "a relay still has broadcasts waiting for Redis");
    last.store(total, Ordering::SeqCst);

    let mut report = BTreeMap::new();
    for (follower, name) in followers.into_iter().zip(["A", "B"]) {
        let seen = follower.await.expect("the follower");
        let mut numbers: Vec<u64> = seen.broadcasts.iter().map(|(n, _, _)| *n).collect();
        numbers.sort_unstable();
        let received = numbers.len();
        numbers.dedup();
        assert_eq!(numbers.len(), received, "{name}: a broadcast came twice");
        let missing: Vec<u64> = (1..=total).filter(|n| numbers.binary_search(n).is_err()).collect();
        // Live, positions follow each other without a gap, except across a loss notice.
        if seen.notices == 0 {
            for pair in seen.broadcasts.windows(2) {
                let ((_, epoch, offset), (n, next_epoch, next_offset)) = (&pair[0], &pair[1]);
                assert!(
                    epoch == next_epoch && *next_offset == offset + 1,
                    "{name}: handed a gap without a notice before {n}: {:?}",
                    seen.broadcasts
                );
            }
        }
        assert!(
            missing.is_empty() || seen.recovered.contains(&false),
            "{name}: broadcasts {missing:?} of 1..={total} missing, and its subscriber was not told ({seen:?})"
        );
        // After a notice, the rejoined subscriber follows live again: what came after its last rejoin has no gap.
        if seen.notices > 0 {
            let rejoined = &seen.broadcasts[seen.broadcasts.len().saturating_sub(20)..];
            for pair in rejoined.windows(2) {
                let ((_, epoch, offset), (n, next_epoch, next_offset)) = (&pair[0], &pair[1]);
                assert!(
                    epoch != next_epoch || *next_offset == offset + 1,
                    "{name}: a gap after the rejoin before {n}: {:?}",
                    seen.broadcasts
                );
            }
        }
        report.insert(name, (received, missing.len(), seen.notices, seen.recovered));
    }
    let counted = |name: &str| relays.iter().map(|relay| relay.metric(name)).collect::<Vec<_>>();
    eprintln!(
        "sentinel failover: set up in {set_up:?}; master killed after broadcast {killed_at} of {total}; relays on the \
         new master after {relinked_after:?}, broadcasts on both after {flowing_after:?}; per subscriber (received, \
         missing, notices, recovered): {report:?}; per relay: refilled {:?}, lost {:?}, history resets {:?}, publish \
         retries {:?}, loss notices {:?}; whole test {:?}",
        counted("ferrocast_redis_refilled_total"),
        counted("ferrocast_redis_lost_total"),
        counted("ferrocast_redis_history_resets_total"),
        counted("ferrocast_redis_publish_retries_total"),
        counted("ferrocast_loss_notices_total"),
        started.elapsed(),
    );
    drop(sentinels);
}
