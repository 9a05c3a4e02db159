//! Backends publishing to several servers at once, each to its own topics: one keep-alive HTTP/1.1 connection per
//! server, `POST /api/broadcast` one after another on each, every POST an array of one broadcast per topic of that
//! server. The servers' lanes run side by side on a thread and a single-threaded runtime of their own, as the HTTP
//! publisher's one connection does (see [`super::http`]), so a thousand broadcasts a second per server cost a
//! hundred POSTs, not a thousand.
//!
//! Open loop, as the other publishers: a lane's array `n` is due at `n × topics / rate` seconds (lane `l` of `L`
//! shifted by `l / L` of that interval, so the servers' POSTs interleave); each payload is
//! stamped as its array is built and numbered from the lane's `first_seq` (array `n`'s broadcast to topic `j` is
//! `first_seq + n × topics + j`). A lane that falls behind stops at twice the duration, having sent fewer than
//! planned; an answer other than 2xx (a 503 from a full queue for Redis, say) fails the run.

use crate::latency::{self, Summary};
use crate::publisher::payloads_in;
use crate::{Result, net, stamp};
use bytes::Bytes;
use futures_util::future::join_all;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::fmt::Write;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// How many times its duration a lane may last before it stops sending.
const OVERRUN: u32 = 2;

/// One server's share of a run.
#[derive(Debug, Clone)]
pub(crate) struct Lane {
    /// Where to POST: the server's API port.
    pub api: SocketAddr,
    /// The topics each array covers, one broadcast each, in order.
    pub topics: Vec<String>,
    /// The first payload's sequence number.
    pub first_seq: u64,
}

/// What one lane sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LanePublished {
    /// Broadcasts sent (every one answered 2xx).
    pub sent: u64,
    /// Broadcasts the lane was to send.
    pub planned: u64,
    /// POSTs sent.
    pub posts: u64,
    /// Each POST's time from request to complete answer.
    pub answers: Summary,
}

/// What a run of every lane sent.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    /// When the first lane started, in the generator's clock.
    pub started_ns: u64,
    /// When the last lane's last answer came.
    pub finished_ns: u64,
    /// Each lane's, in the order given.
    pub lanes: Vec<LanePublished>,
}

/// Publishes `rate` broadcasts a second on each lane for `duration`, every lane at once; returns once every lane's
/// last POST is answered.
pub(crate) async fn publish(lanes: Vec<Lane>, rate: f64, duration: Duration) -> Result<Published> {
    let (done, published) = oneshot::channel();
    std::thread::Builder::new().name("array-publisher".to_owned()).spawn(move || {
        let outcome = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(run(&lanes, rate, duration)),
            Err(error) => Err(error.into()),
        };
        let _ = done.send(outcome);
    })?;
    published.await.map_err(|_| "the array publisher's thread ended during a run")?
}

async fn run(lanes: &[Lane], rate: f64, duration: Duration) -> Result<Published> {
    let mut senders = Vec::with_capacity(lanes.len());
    for (index, lane) in lanes.iter().enumerate() {
        senders.push(connect(lane.api, index).await?);
    }
    let started_ns = stamp::now_ns();
    let start = Instant::now();
    // The lanes' POSTs interleave rather than fall due together: lane `l` of `L` starts `l / L` of an interval late.
    let count = lanes.len() as u32;
    let runs = senders.iter_mut().zip(lanes).enumerate().map(|(index, (sender, lane))| {
        let interval = Duration::from_secs_f64(lane.topics.len().max(1) as f64 / rate);
        run_lane(sender, lane, start + interval * index as u32 / count, rate, duration)
    });
    let lanes = join_all(runs).await.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(Published { started_ns, finished_ns: stamp::now_ns(), lanes })
}

async fn run_lane(
    sender: &mut SendRequest<Full<Bytes>>,
    lane: &Lane,
    start: Instant,
    rate: f64,
    duration: Duration,
) -> Result<LanePublished> {
    let per_post = lane.topics.len().max(1) as u64;
    let planned = payloads_in(rate, duration).div_ceil(per_post) * per_post;
    let mut answers = latency::histogram();
    let (mut sent, mut posts) = (0, 0);
    while sent < planned && start.elapsed() < duration * OVERRUN {
        tokio::time::sleep_until(start + Duration::from_secs_f64(sent as f64 / rate)).await;
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/broadcast")
            .header(HOST, lane.api.to_string())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body(&lane.topics, lane.first_seq + sent))))?;
        let asked_ns = stamp::now_ns();
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let answer = response.into_body().collect().await?.to_bytes();
        latency::record_ns(&mut answers, stamp::now_ns() - asked_ns);
        if !status.is_success() {
            let answer = String::from_utf8_lossy(&answer);
            return Err(format!("POST /api/broadcast to {}: {status}: {answer}", lane.api).into());
        }
        sent += per_post;
        posts += 1;
    }
    Ok(LanePublished { sent, planned, posts, answers: Summary::of(&answers) })
}

/// An array of one broadcast per topic, numbered from `first_seq` in the topics' order, each payload stamped now.
fn body(topics: &[String], first_seq: u64) -> String {
    let mut body = String::with_capacity(topics.len() * (stamp::PAYLOAD_BYTES + 64) + 2);
    body.push('[');
    for (offset, topic) in topics.iter().enumerate() {
        if offset > 0 {
            body.push(',');
        }
        let payload = stamp::payload(first_seq + offset as u64);
        let _ = write!(body, r#"{{"topic":"{topic}","event":"new_msg","payload":{payload}}}"#);
    }
    body.push(']');
    body
}

/// A keep-alive HTTP/1.1 connection to `api`, from the source address of connection number `index`.
async fn connect(api: SocketAddr, index: usize) -> Result<SendRequest<Full<Bytes>>> {
    let stream = net::tcp_connect(api, net::source_address(api, index)).await?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_array_has_one_stamped_broadcast_per_topic() {
        let topics = vec!["room:d:a:0".to_owned(), "room:d:a:1".to_owned()];
        let array: serde_json::Value = serde_json::from_str(&body(&topics, 40)).unwrap();
        let array = array.as_array().unwrap();
        assert_eq!(array.len(), 2);
        assert_eq!(array[1]["topic"], "room:d:a:1");
        assert_eq!(array[1]["event"], "new_msg");
        let stamps: Vec<u64> =
            array.iter().map(|broadcast| stamp::read(&broadcast["payload"].to_string()).unwrap().seq).collect();
        assert_eq!(stamps, [40, 41]);
    }
}
