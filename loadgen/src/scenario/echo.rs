//! `echo`: one connection asking for its payload back at a fixed rate (Phoenix `ping` on `room:echo`, Socket.IO
//! `echo` with an acknowledgement); round-trip latency from each reply, matched to its request by ref.
//!
//! Requests are paced open loop (every one due by now is sent on each wake), woken by a thread of their own so they
//! go out evenly spaced (see [`spawn_pacer`]), and the connection is one task that both writes and reads, so no lock
//! sits between sending and matching.

use crate::Result;
use crate::dialect::{Incoming, JOIN_ID};
use crate::latency::{self, Summary};
use crate::net::BUSY_READ_BUFFER;
use crate::proc_stats::CpuWindow;
use crate::scenario::window::{GRACE, round};
use crate::scenario::{Figure, Outcome, merge_json};
use crate::target::Target;
use crate::{conn, stamp};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// The topic a Phoenix server is asked on.
const TOPIC: &str = "room:echo";
/// Marks a request already answered (or never sent) in the table of send times.
const NOT_WAITING: u64 = 0;

/// Runs the echo scenario.
pub(crate) async fn run(target: &Target, rate: f64, duration: Duration) -> Result<Outcome> {
    let mut ws = conn::open_and_join(target, 0, BUSY_READ_BUFFER, TOPIC, None).await?;
    let dialect = target.dialect;
    let total = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
    // Request n goes out with id JOIN_ID + 1 + n; its send time waits here until the reply comes.
    let first_id = JOIN_ID + 1;
    let mut sent_at = vec![NOT_WAITING; total as usize];
    let mut histogram = latency::histogram();
    let (mut sent, mut answered, mut refused) = (0u64, 0u64, 0u64);
    let server_cpu = CpuWindow::start(target.server_pid);
    let start = Instant::now();
    let mut ticks = spawn_pacer(start.into_std(), rate, total);
    // Armed once everything is sent: replies still missing then are lost.
    let grace = tokio::time::sleep_until(start);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            biased;
            next = ws.next() => match next {
                Some(Ok(Message::Text(text))) => {
                    let now = stamp::now_ns();
                    let mut pinged = false;
                    dialect.for_each(&text, |incoming| match incoming {
                        Incoming::Reply { id, ok, .. } if id >= first_id && id - first_id < total => {
                            let slot = &mut sent_at[(id - first_id) as usize];
                            if *slot != NOT_WAITING {
                                latency::record_ns(&mut histogram, now.saturating_sub(*slot));
                                *slot = NOT_WAITING;
                                answered += 1;
                                refused += u64::from(!ok);
                            }
                        }
                        Incoming::Ping => pinged = true,
                        _ => {}
                    });
                    if pinged {
                        ws.send(Message::text(dialect.pong())).await?;
                    }
                    if sent == total && answered == total {
                        break;
                    }
                }
                Some(Ok(Message::Close(frame))) => return Err(format!("the server closed the connection: {frame:?}").into()),
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.into()),
                None => return Err("the connection ended".into()),
            },
            Some(()) = ticks.recv(), if sent < total => {
                let due_count = ((start.elapsed().as_secs_f64() * rate) as u64 + 1).min(total);
                if sent >= due_count {
                    continue; // An earlier tick already sent this one.
                }
                while sent < due_count {
                    let payload = stamp::payload(sent);
                    sent_at[sent as usize] = stamp::now_ns().max(1);
                    ws.feed(Message::text(dialect.echo(TOPIC, payload, first_id + sent))).await?;
                    sent += 1;
                }
                ws.flush().await?;
                if sent == total {
                    grace.as_mut().reset(Instant::now() + GRACE);
                }
            },
            () = &mut grace, if sent == total => break,
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let server_seconds = server_cpu.seconds();
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
    let summary = Summary::of(&histogram);
    let lost = total - answered;
    let cpu_per_echo = server_seconds.filter(|_| answered > 0).map(|seconds| seconds * 1e6 / answered as f64);
    let mut human = format!(
        "echo: {sent} requests at {rate}/s over {:.1} s: round trip {}, lost {lost}",
        duration.as_secs_f64(),
        summary.human()
    );
    if refused > 0 {
        human.push_str(&format!(", {refused} answered with an error"));
    }
    if let Some(us) = cpu_per_echo {
        human.push_str(&format!(", server CPU {us:.2} µs/echo"));
    }
    let figures = json!({
        "target": target.ws_url(),
        "rate": rate,
        "seconds": duration.as_secs_f64(),
        "sent": sent,
        "answered": answered,
        "refused": refused,
        "lost": lost,
        "latency": summary.json(),
        "server_cpu_us_per_echo": cpu_per_echo.map(|us| round(us, 3)),
        "server_cpu_percent": server_seconds.map(|seconds| round(seconds * 100.0 / wall, 1)),
    });
    Ok(Outcome {
        human,
        json: merge_json("echo", json!({}), figures),
        figures: vec![
            Figure::lower("p50 round trip (µs)", summary.p50_us as f64),
            Figure::lower("p99 round trip (µs)", summary.p99_us as f64),
            Figure::lower("p999 round trip (µs)", summary.p999_us as f64),
            Figure::lower("lost", lost as f64),
            Figure::lower("server CPU per echo (µs)", cpu_per_echo),
        ],
    })
}

/// Ticks once per request, on time: tokio's timer counts whole milliseconds, so at 10,000 requests a second it would
/// send them in bursts of ten, and the round trips would measure each burst's queueing at the server rather than
/// one request's trip. A thread that sleeps until each request is due spaces them ~100 µs apart (within the
/// kernel's timer slack, ~50 µs; a late tick is caught up by sending everything due).
fn spawn_pacer(start: std::time::Instant, rate: f64, total: u64) -> tokio::sync::mpsc::UnboundedReceiver<()> {
    let (tick, ticks) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for n in 0..total {
            let due = start + Duration::from_secs_f64(n as f64 / rate);
            if let Some(wait) = due.checked_duration_since(std::time::Instant::now()) {
                std::thread::sleep(wait);
            }
            if tick.send(()).is_err() {
                return; // The run is over.
            }
        }
    });
    ticks
}
