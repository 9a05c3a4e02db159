//! `GET /sse?topic=a&topic=b`: server-sent events for readers that cannot or need not open a WebSocket.
//!
//! The stream's logic (joins, positions, replay, ids) is `ferrocast_pubsub::EventStream`; this file answers the
//! request, and runs the stream as a [`Transport`] of the connection driver that writes the response body: a `retry`
//! field first (jittered, so readers cut off together do not all come back in the same instant), then the events,
//! with a keep-alive comment whenever the stream has been quiet for the keep-alive interval, so proxies do not time
//! it out.

use crate::driver::{self, Gone, Inbound, Read, Timers, Transport};
use crate::sse_body::{self, EventStreamBody};
use crate::state::Relay;
use crate::{admission, auth, close};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferrocast_pubsub::{CloseReason, EventStream, OutFrame, Outbox, Refused};
use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The query parameters the stream reads itself; every other one is a join param of its topics.
const TOPIC_PARAM: &str = "topic";
const LAST_EVENT_ID_PARAM: &str = "lastEventId";

/// `GET /sse?topic=…[&topic=…][&lastEventId=…][&param=…]`, resuming from the `Last-Event-ID` header or the
/// `lastEventId` parameter; the token comes in `Authorization: Bearer` or the `token` parameter. 400 for no topic,
/// too many or a malformed one; 404 for a topic no channel serves; 403 for a refused token or when a topic's join
/// is refused (`unauthorized` outside the token's topics); 503 while shutting down or at the connection limit.
pub(crate) async fn stream(
    State(relay): State<Arc<Relay>>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let mut token = auth::bearer_token(&headers).map(str::to_owned);
    let mut topics = Vec::new();
    let mut last_event_id = headers.get("last-event-id").and_then(|id| id.to_str().ok()).map(str::to_owned);
    let mut params = HashMap::new();
    for (name, value) in query {
        match name.as_str() {
            TOPIC_PARAM => topics.push(value),
            // For an `EventSource`, which cannot send the header; the header wins.
            auth::TOKEN_PARAM => {
                token.get_or_insert(value);
            }
            // The header wins: it is what a browser's EventSource sends when it reconnects by itself.
            LAST_EVENT_ID_PARAM => {
                last_event_id.get_or_insert(value);
            }
            _ => {
                params.insert(name, value);
            }
        }
    }
    let identity = match admission::admit(&relay, token.as_deref(), "stream") {
        Ok(identity) => identity,
        Err(denied) => return denied.into_response(),
    };
    let outbox = Arc::new(Outbox::new(relay.config.outbox));
    let max_topics = relay.config.sse.max_topics;
    let last_event_id = last_event_id.as_deref();
    let followed = EventStream::follow(&relay.backend, &topics, max_topics, &identity).await;
    let opened =
        EventStream::open(relay.backend.clone(), &topics, max_topics, last_event_id, params, identity, outbox.clone());
    drop(followed);
    let stream = match opened {
        Ok(stream) => stream,
        Err(refused) => return refusal(&refused),
    };
    relay.metrics.sse_streams_total.fetch_add(1, Ordering::Relaxed);
    let open = relay.open_connection();
    let conn = stream.conn().0;
    let timers = Timers { idle: None, keep_alive: Some(relay.config.sse.keep_alive) };
    sse_body::response(retry_field(relay.config.sse.retry, conn), move |body| {
        driver::run(relay, open, conn, outbox, None, timers, TopicStream { stream, body })
    })
}

fn refusal(refused: &Refused) -> Response {
    let status = match refused {
        Refused::NoTopic | Refused::TooManyTopics { .. } | Refused::BadTopic(_) => StatusCode::BAD_REQUEST,
        Refused::Unmatched(_) => StatusCode::NOT_FOUND,
        Refused::Join { .. } => StatusCode::FORBIDDEN,
    };
    (status, format!("{refused}\n")).into_response()
}

/// The stream's first field: the reconnection time, up to half as long again at random, so that readers cut off
/// together spread their reconnects.
fn retry_field(base: Duration, conn: u64) -> Bytes {
    let jitter = std::hash::RandomState::new().hash_one(conn) % (base.as_millis() as u64 / 2 + 1);
    Bytes::from(format!("retry: {}\n\n", base.as_millis() as u64 + jitter))
}

/// A topic stream as a connection's transport: nothing in, its events out, a comment as the close.
struct TopicStream {
    stream: EventStream,
    body: EventStreamBody,
}

impl Transport for TopicStream {
    type Input = Infallible;

    /// Its client sends nothing; when it goes away, the response and this stream are dropped.
    async fn read(&mut self) -> Read<Infallible> {
        std::future::pending().await
    }

    fn receive(input: Infallible, _: &mut Inbound<'_>) -> Result<(), CloseReason> {
        match input {}
    }

    async fn write(&mut self, batch: &mut Vec<OutFrame>) -> Result<(), Gone> {
        let mut out = Vec::new();
        for frame in batch.iter() {
            self.stream.write(frame, &mut out);
        }
        self.body.send(Bytes::from(out)).await
    }

    async fn keep_alive(&mut self) -> Result<(), Gone> {
        self.body.send(Bytes::from_static(b": keep-alive\n\n")).await
    }

    /// A slow reader's close, say: what was queued is out; the reader reconnects and resumes from its last id.
    /// The shutdown keeps the comment topic streams have always ended with.
    async fn close(&mut self, reason: CloseReason) {
        if reason.code == close::CLOSE_GOING_AWAY {
            let _ = self.body.send(Bytes::from_static(b": server shutting down\n\n")).await;
        } else {
            self.body.close(&reason).await;
        }
    }
}
