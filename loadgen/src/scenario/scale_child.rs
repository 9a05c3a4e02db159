//! `scale-child`: one of the `scale` scenario's subscriber processes. It opens its share of the connections
//! (joined to one topic, without presence), then does what its parent asks on stdin, one command a line, and
//! answers each with one JSON line on stdout:
//!
//! - `open SEQ`: count the broadcasts numbered `SEQ` and after, from nothing → `{"opened": SEQ}`;
//! - `close SENT GRACE_MS`: wait (at most `GRACE_MS`) until every joined connection has the `SENT` broadcasts, stop
//!   counting, and say what came → `{"received", "expected", "messages", "last_receive_ns", "closed",
//!   "histogram": [[µs, count], …]}`;
//! - `stop`, or the end of stdin: close the connections and exit.
//!
//! Its first line, once every connection has joined or failed, is `{"joined", "failed", "first_error",
//! "connect_seconds", "requested", "note"}`. Its clock starts at the parent's ([`crate::stamp::start_clock_at`]), so the
//! latencies it records are from the parent's publish to its receipt.

use crate::Result;
use crate::net::{self, IDLE_READ_BUFFER};
use crate::recorder::Recorder;
use crate::subscriber::{self, Plan, Topics};
use crate::target::Target;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Runs a child with `requested` connections to `target`, all joined to `topic`.
pub(crate) async fn run(target: &Target, requested: usize, topic: &str) -> Result<()> {
    let capped = net::cap_connections(requested, 0);
    let plan = Plan {
        event_streams: false,
        count: capped.count,
        topic: topic.to_owned(),
        topics: Topics::One,
        presence: false,
        read_buffer: IDLE_READ_BUFFER,
    };
    let recorder = Arc::new(Recorder::default());
    let started = Instant::now();
    let subscribers = subscriber::start(target, &plan, recorder.clone()).await;
    answer(json!({
        "joined": subscribers.joined,
        "failed": subscribers.failed,
        "first_error": subscribers.first_error,
        "connect_seconds": started.elapsed().as_secs_f64(),
        "requested": requested,
        "note": capped.note,
    }));
    let joined = subscribers.joined as u64;
    let mut lines = stdin_lines();
    while let Some(line) = lines.recv().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["open", seq] => {
                let seq: u64 = seq.parse()?;
                recorder.open_window(seq);
                answer(json!({ "opened": seq }));
            }
            ["close", sent, grace_ms] => {
                let expected = sent.parse::<u64>()? * joined;
                let deadline = tokio::time::Instant::now() + Duration::from_millis(grace_ms.parse()?);
                while recorder.received() < expected && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                let window = recorder.close_window();
                let histogram: Vec<[u64; 2]> = window
                    .latency
                    .iter_recorded()
                    .map(|bucket| [bucket.value_iterated_to(), bucket.count_at_value()])
                    .collect();
                answer(json!({
                    "received": window.received,
                    "expected": expected,
                    "messages": window.messages,
                    "last_receive_ns": window.last_receive_ns,
                    "closed": recorder.closed(),
                    "histogram": histogram,
                }));
            }
            ["stop"] => break,
            _ => return Err(format!("scale-child: unknown command {line:?}").into()),
        }
    }
    subscribers.stop().await;
    Ok(())
}

/// Stdin's lines, read on a thread of their own (the runtime has no async stdin here); the channel ends with stdin.
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (sender, receiver) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// One JSON line on stdout (line-buffered, so it leaves at once).
fn answer(line: Value) {
    println!("{line}");
}
