//! `idle`: what an idle, joined connection costs the server in memory.
//!
//! The server's resident memory (VmRSS) is read before connecting, and again once every connection has joined and
//! a second has passed for the server to settle (presence diffs go out 50 ms after joins); the difference over the
//! connections held is the cost of one. Without presence all connections share `room:idle`; with it each joins
//! `room:idle:{i}` as `u{i}`, so the presence state a join sends stays one member large and the figure is the
//! cost of a tracked connection, not of an ever larger state. Connections stay open only while measuring.

use crate::Result;
use crate::net::{self, IDLE_READ_BUFFER};
use crate::proc_stats;
use crate::recorder::Recorder;
use crate::scenario::window::round;
use crate::scenario::{Figure, Outcome, merge_json};
use crate::subscriber::{self, Plan, Topics};
use crate::target::Target;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the server gets to settle after the last join before its memory is read.
const SETTLE: Duration = Duration::from_secs(1);

/// Runs the idle scenario with `requested` connections.
pub(crate) async fn run(target: &Target, requested: usize, presence: bool) -> Result<Outcome> {
    let capped = net::cap_connections(requested, 0);
    let pid = target.server_pid;
    let rss_before = pid.and_then(|pid| proc_stats::rss_kib(pid).ok());
    let plan = Plan {
        event_streams: false,
        count: capped.count,
        topic: "room:idle".to_owned(),
        topics: if presence { Topics::PerSubscriber } else { Topics::One },
        presence,
        read_buffer: IDLE_READ_BUFFER,
    };
    let recorder = Arc::new(Recorder::default());
    let started = Instant::now();
    let connections = subscriber::start(target, &plan, recorder.clone()).await;
    let connect_seconds = started.elapsed().as_secs_f64();
    tokio::time::sleep(SETTLE).await;
    let rss_after = pid.and_then(|pid| proc_stats::rss_kib(pid).ok());
    let held = connections.joined.saturating_sub(recorder.closed());
    let (joined, failed, first_error) = (connections.joined, connections.failed, connections.first_error.clone());
    connections.stop().await;

    let delta = rss_before.zip(rss_after).map(|(before, after)| after as i64 - before as i64);
    let per_connection = delta.filter(|_| held > 0).map(|delta| delta as f64 / held as f64);
    let kind = if presence { "with presence" } else { "no presence" };
    let mut human =
        format!("idle ({kind}): {held} connections held ({joined} joined in {connect_seconds:.1} s, {failed} failed)");
    match (per_connection, rss_before, rss_after) {
        (Some(kib), Some(before), Some(after)) => human.push_str(&format!(
            ", server RSS {:.1} → {:.1} MiB: {kib:.2} KiB per connection",
            before as f64 / 1024.0,
            after as f64 / 1024.0
        )),
        _ => human.push_str(", no server RSS (give --server-pid)"),
    }
    if let Some(error) = &first_error {
        human.push_str(&format!(" (first failure: {error})"));
    }
    if let Some(note) = &capped.note {
        human.push_str(&format!(" ({note})"));
    }
    let figures = json!({
        "target": target.ws_url(),
        "presence": presence,
        "connections_requested": requested,
        "connections": capped.count,
        "joined": joined,
        "failed": failed,
        "first_error": first_error,
        "held": held,
        "connect_seconds": round(connect_seconds, 2),
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "rss_delta_kib": delta,
        "kib_per_connection": per_connection.map(|kib| round(kib, 2)),
        "note": capped.note,
    });
    Ok(Outcome {
        human,
        json: merge_json("idle", json!({}), figures),
        figures: vec![
            Figure::lower("server RSS per connection (KiB)", per_connection),
            Figure::higher("connections held", held as f64),
        ],
    })
}
