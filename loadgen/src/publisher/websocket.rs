//! The WebSocket publisher: one connection that pushes stamped broadcasts at a paced rate, open loop.
//!
//! Open loop means the schedule does not wait for the server: payload `n` of a run is due at `n / rate` seconds,
//! whatever came back. Tokio's timer wakes at millisecond granularity, so each wake sends every payload that has
//! fallen due (a burst, at high rates), then flushes once. The payloads are stamped when written, so a generator
//! that falls behind its own schedule does not charge the server for it.
//!
//! The connection is one task that owns the socket, and takes runs as commands: between runs it keeps reading (its
//! own broadcasts and the server's acknowledgements come back to it), answering pings and sending heartbeats, so it
//! stays healthy across the steps of a ramp.

use crate::Result;
use crate::dialect::{Dialect, Incoming, JOIN_ID};
use crate::net::{BUSY_READ_BUFFER, Ws};
use crate::publisher::{Published, payloads_in};
use crate::subscriber::HEARTBEAT_INTERVAL;
use crate::target::Target;
use crate::{conn, stamp};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

struct Run {
    first_seq: u64,
    rate: f64,
    total: u64,
    start: Instant,
    started_ns: u64,
    sent: u64,
    done: oneshot::Sender<Published>,
}

/// A handle on the publisher's task.
pub(crate) struct WebSocketPublisher {
    runs: mpsc::Sender<(u64, f64, Duration, oneshot::Sender<Published>)>,
    task: tokio::task::JoinHandle<Result<u64>>,
}

impl WebSocketPublisher {
    /// Connects to `target` (as connection number `index`, which picks its source address) and joins `topic`.
    pub(crate) async fn start(target: &Target, index: usize, topic: &str) -> Result<WebSocketPublisher> {
        let ws = conn::open_and_join(target, index, BUSY_READ_BUFFER, topic, None).await?;
        let (runs, commands) = mpsc::channel(1);
        let task = tokio::spawn(serve(ws, target.dialect, topic.to_owned(), commands));
        Ok(WebSocketPublisher { runs, task })
    }

    /// Publishes `rate × duration` payloads numbered from `first_seq` at `rate` a second; returns when the last is
    /// sent.
    pub(crate) async fn publish(&self, first_seq: u64, rate: f64, duration: Duration) -> Result<Published> {
        let (done, published) = oneshot::channel();
        self.runs.send((first_seq, rate, duration, done)).await.map_err(|_| "the publisher's connection ended")?;
        Ok(published.await.map_err(|_| "the publisher's connection ended during a run")?)
    }

    /// Closes the connection; returns how many acknowledgements the server sent.
    pub(crate) async fn stop(self) -> Result<u64> {
        drop(self.runs);
        self.task.await?
    }
}

async fn serve(
    mut ws: Ws,
    dialect: Dialect,
    topic: String,
    mut commands: mpsc::Receiver<(u64, f64, Duration, oneshot::Sender<Published>)>,
) -> Result<u64> {
    let mut heartbeat = tokio::time::interval_at(Instant::now() + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
    let mut next_id = JOIN_ID + 1;
    let mut acknowledged = 0u64;
    let mut run: Option<Run> = None;
    let due = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(due);
    loop {
        tokio::select! {
            biased;
            command = commands.recv(), if run.is_none() => match command {
                Some((first_seq, rate, duration, done)) => {
                    let total = payloads_in(rate, duration);
                    let (start, started_ns) = (Instant::now(), stamp::now_ns());
                    run = Some(Run { first_seq, rate, total, start, started_ns, sent: 0, done });
                    due.as_mut().reset(start);
                }
                None => break,
            },
            () = &mut due, if run.is_some() => {
                let current = run.as_mut().expect("a run is on");
                // Every payload due by now: the one at n / rate for each n up to the elapsed time.
                let elapsed = current.start.elapsed().as_secs_f64();
                let due_count = ((elapsed * current.rate) as u64 + 1).min(current.total);
                while current.sent < due_count {
                    let seq = current.first_seq + current.sent;
                    ws.feed(Message::text(dialect.publish(&topic, stamp::payload(seq), next_id))).await?;
                    next_id += 1;
                    current.sent += 1;
                }
                ws.flush().await?;
                if current.sent == current.total {
                    let finished = run.take().expect("a run is on");
                    let published =
                        Published {
                            sent: finished.sent,
                            planned: finished.total,
                            started_ns: finished.started_ns,
                            finished_ns: stamp::now_ns(),
                            answers: None,
                        };
                    let _ = finished.done.send(published);
                } else {
                    let next = current.start + Duration::from_secs_f64(current.sent as f64 / current.rate);
                    due.as_mut().reset(next);
                }
            },
            next = ws.next() => match next {
                Some(Ok(Message::Text(text))) => {
                    let mut pinged = false;
                    dialect.for_each(&text, |incoming| match incoming {
                        Incoming::Reply { .. } => acknowledged += 1,
                        Incoming::Ping => pinged = true,
                        _ => {}
                    });
                    if pinged {
                        ws.send(Message::text(dialect.pong())).await?;
                    }
                }
                Some(Ok(Message::Close(frame))) => return Err(format!("the server closed the publisher: {frame:?}").into()),
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.into()),
                None => return Err("the publisher's connection ended".into()),
            },
            _ = heartbeat.tick() => {
                if let Some(beat) = dialect.heartbeat(next_id) {
                    next_id += 1;
                    ws.send(Message::text(beat)).await?;
                }
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
    Ok(acknowledged)
}
