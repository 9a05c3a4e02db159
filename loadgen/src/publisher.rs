//! The publisher of the broadcast scenarios, over either of the two ways a server is published to: a backend's
//! sequential HTTP POSTs ([`http`], the default) or a client's WebSocket pushes ([`websocket`]). [`arrays`] is the
//! backends of several servers at once, each POSTing arrays to its own topics (the `disjoint-redis` run).
//!
//! Both are open loop: payload `n` of a run is due at `n / rate` seconds, and each is stamped when it is sent, so a
//! publisher that falls behind its schedule does not charge the server's delivery latency for it. The HTTP one
//! also times each POST from the request to the end of its answer: a publish that waits behind the fanout it
//! started shows there, and in how long the run took.

pub(crate) mod arrays;
mod http;
mod websocket;

use crate::Result;
use crate::latency::Summary;
use crate::target::Target;
use std::time::Duration;

/// How the publisher reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PublishOver {
    /// `POST /api/broadcast`, one after another on one keep-alive HTTP/1.1 connection, as a backend publishes.
    Http,
    /// Pushes on a joined WebSocket, as a browser publishes.
    Websocket,
}

/// What a run sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Published {
    /// Payloads sent, one broadcast each.
    pub sent: u64,
    /// Payloads the run was to send: more than `sent` when an HTTP publisher ran out of time.
    pub planned: u64,
    /// When the first was sent, in the generator's clock.
    pub started_ns: u64,
    /// When the last was sent (over HTTP: when its answer had come).
    pub finished_ns: u64,
    /// Over HTTP, each POST's time from request to complete answer; `None` over a WebSocket, whose
    /// acknowledgements are not waited for.
    pub answers: Option<Summary>,
}

/// The publisher of a stage.
pub(crate) enum Publisher {
    Http(http::HttpPublisher),
    WebSocket(websocket::WebSocketPublisher),
}

impl Publisher {
    /// Connects to `target` (as connection number `index`, which picks its source address), ready to publish on
    /// `topic`; a WebSocket publisher joins it first.
    pub(crate) async fn start(over: PublishOver, target: &Target, index: usize, topic: &str) -> Result<Publisher> {
        Ok(match over {
            PublishOver::Http => Publisher::Http(http::HttpPublisher::start(target, index, topic).await?),
            PublishOver::Websocket => {
                Publisher::WebSocket(websocket::WebSocketPublisher::start(target, index, topic).await?)
            }
        })
    }

    /// Publishes `rate × duration` payloads numbered from `first_seq` at `rate` a second; returns when the last is
    /// sent (over HTTP, answered).
    pub(crate) async fn publish(&self, first_seq: u64, rate: f64, duration: Duration) -> Result<Published> {
        match self {
            Publisher::Http(publisher) => publisher.publish(first_seq, rate, duration).await,
            Publisher::WebSocket(publisher) => publisher.publish(first_seq, rate, duration).await,
        }
    }

    /// Closes the connection.
    pub(crate) async fn stop(self) -> Result<()> {
        match self {
            Publisher::Http(publisher) => publisher.stop().await,
            Publisher::WebSocket(publisher) => publisher.stop().await.map(drop),
        }
    }
}

/// The number of payloads a run of `rate` for `duration` publishes (at least one).
fn payloads_in(rate: f64, duration: Duration) -> u64 {
    (rate * duration.as_secs_f64()).round().max(1.0) as u64
}
