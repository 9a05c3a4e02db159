//! The HTTP publisher: `POST /api/broadcast` one after another on one keep-alive HTTP/1.1 connection, the way a
//! backend publishes, each POST timed until its answer is complete.
//!
//! A POST is sent when it falls due or, when the answer to the one before came late, as soon as that answer is in:
//! a sequential publisher can only keep its rate if every answer comes within one interval. A run that falls so far
//! behind that it would last more than [`OVERRUN`] times its duration stops there, having sent fewer than planned:
//! a server that answers in 8 ms would otherwise stretch a 3 s step at 3,000/s to 72 s.
//!
//! A backend publishes from a machine of its own; here it shares two cores with a thousand subscribers that all
//! wake at once when a broadcast lands, just as its answer does. So that what it times is the server's answer and
//! not its own turn behind the generator's subscriber tasks, the publisher runs on a thread and a single-threaded
//! runtime of its own. A raised priority (nice -20) was tried too: against the relay's API port it took 10–40 µs
//! off the POST's p50 at 100/s, and added 5 ms to the relay's delivery p99 at 300/s, whose threads it preempted
//! whenever it woke; it is not used.

use crate::latency::{self, Summary};
use crate::publisher::{Published, payloads_in};
use crate::target::Target;
use crate::{Result, net, stamp};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// The path a relay (and each baseline) takes broadcasts on.
const BROADCAST_PATH: &str = "/api/broadcast";

/// How many times its duration a run may last before it stops sending.
const OVERRUN: u32 = 2;

type RunCommand = (u64, f64, Duration, oneshot::Sender<Result<Published>>);

/// A handle on the publisher's thread.
pub(crate) struct HttpPublisher {
    runs: mpsc::Sender<RunCommand>,
    thread: std::thread::JoinHandle<()>,
}

impl HttpPublisher {
    /// Opens the connection to `target` (from the source address of connection number `index`) on a thread of its
    /// own; each run then publishes on `topic`.
    pub(crate) async fn start(target: &Target, index: usize, topic: &str) -> Result<HttpPublisher> {
        let (runs, commands) = mpsc::channel(1);
        let (opened, connected) = oneshot::channel();
        let (target, topic) = (target.clone(), topic.to_owned());
        let thread = std::thread::Builder::new().name("http-publisher".to_owned()).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(error) => return drop(opened.send(Err(error.into()))),
            };
            runtime.block_on(async move {
                let sender = match connect(&target, index).await {
                    Ok(sender) => sender,
                    Err(error) => return drop(opened.send(Err(error))),
                };
                let _ = opened.send(Ok(()));
                serve(sender, &target, &topic, commands).await;
            });
        })?;
        connected.await.map_err(|_| "the HTTP publisher's thread ended before connecting")??;
        Ok(HttpPublisher { runs, thread })
    }

    /// Publishes `rate × duration` payloads numbered from `first_seq`; returns when the last POST is answered.
    pub(crate) async fn publish(&self, first_seq: u64, rate: f64, duration: Duration) -> Result<Published> {
        let (done, published) = oneshot::channel();
        self.runs.send((first_seq, rate, duration, done)).await.map_err(|_| "the HTTP publisher has stopped")?;
        published.await.map_err(|_| "the HTTP publisher stopped during a run")?
    }

    /// Closes the connection and waits for the thread.
    pub(crate) async fn stop(self) -> Result<()> {
        drop(self.runs);
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await?
            .map_err(|_| "the HTTP publisher's thread panicked")?;
        Ok(())
    }
}

async fn connect(target: &Target, index: usize) -> Result<SendRequest<Full<Bytes>>> {
    let addr = target.api.unwrap_or(target.addr);
    let stream = net::tcp_connect(addr, net::source_address(addr, index)).await?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

async fn serve(
    mut sender: SendRequest<Full<Bytes>>,
    target: &Target,
    topic: &str,
    mut commands: mpsc::Receiver<RunCommand>,
) {
    while let Some((first_seq, rate, duration, done)) = commands.recv().await {
        let _ = done.send(run(&mut sender, target, topic, first_seq, rate, duration).await);
    }
}

/// One run: every payload POSTed in turn, each when due or right after the answer before it.
async fn run(
    sender: &mut SendRequest<Full<Bytes>>,
    target: &Target,
    topic: &str,
    first_seq: u64,
    rate: f64,
    duration: Duration,
) -> Result<Published> {
    let total = payloads_in(rate, duration);
    let topic = serde_json::to_string(topic)?;
    let mut answers = latency::histogram();
    let (start, started_ns) = (Instant::now(), stamp::now_ns());
    let mut sent = 0;
    while sent < total && start.elapsed() < duration * OVERRUN {
        tokio::time::sleep_until(start + Duration::from_secs_f64(sent as f64 / rate)).await;
        let body = format!(r#"{{"topic":{topic},"event":"new_msg","payload":{}}}"#, stamp::payload(first_seq + sent));
        let request = Request::builder()
            .method(Method::POST)
            .uri(BROADCAST_PATH)
            .header(HOST, target.api.map_or_else(|| target.authority.clone(), |api| api.to_string()))
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let asked_ns = stamp::now_ns();
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let answer = response.into_body().collect().await?.to_bytes();
        latency::record_ns(&mut answers, stamp::now_ns() - asked_ns);
        if !status.is_success() {
            let answer = String::from_utf8_lossy(&answer);
            return Err(format!("POST {BROADCAST_PATH}: {status}: {answer}").into());
        }
        sent += 1;
    }
    let answers = Some(Summary::of(&answers));
    Ok(Published { sent, planned: total, started_ns, finished_ns: stamp::now_ns(), answers })
}
