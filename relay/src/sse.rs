//! `GET /sse?topic=a&topic=b`: server-sent events for readers that cannot or need not open a WebSocket.
//!
//! The stream's logic (joins, positions, replay, ids) is `ferrocast_pubsub::EventStream`; this file answers the
//! request and turns the stream's outbox into the response body: a `retry` field first (jittered, so readers
//! cut off together do not all come back in the same instant), then the events, with a keep-alive comment whenever
//! the stream has been quiet for the keep-alive interval, so proxies do not time it out.

use crate::state::Relay;
use crate::{admission, auth};
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrocast_pubsub::{EventStream, OutFrame, Outbox, Refused};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
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
    let opened =
        EventStream::open(relay.backend.clone(), &topics, max_topics, last_event_id, params, identity, outbox.clone());
    let stream = match opened {
        Ok(stream) => stream,
        Err(refused) => return refusal(&refused),
    };
    relay.metrics.sse_streams_total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    event_stream_response(Writer::new(relay, stream, outbox))
}

/// What an event-stream response's body is read from, a chunk at a time, until it returns `None`.
pub(crate) trait Chunks: Send + 'static {
    /// The next piece of the body, or `None` to end it.
    fn next_chunk(&mut self) -> impl Future<Output = Option<Bytes>> + Send;
}

/// A `text/event-stream` response whose body is read from `chunks`: the topic streams' and the socket streams'.
pub(crate) fn event_stream_response(chunks: impl Chunks) -> Response {
    let body = Body::from_stream(futures_util::stream::unfold(chunks, |mut chunks| async move {
        let chunk = chunks.next_chunk().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), chunks))
    }));
    let headers = [
        (header::CONTENT_TYPE, "text/event-stream"),
        (header::CACHE_CONTROL, "no-cache"),
        // Tells nginx not to buffer the stream.
        (header::HeaderName::from_static("x-accel-buffering"), "no"),
    ];
    (headers, body).into_response()
}

fn refusal(refused: &Refused) -> Response {
    let status = match refused {
        Refused::NoTopic | Refused::TooManyTopics { .. } | Refused::BadTopic(_) => StatusCode::BAD_REQUEST,
        Refused::Unmatched(_) => StatusCode::NOT_FOUND,
        Refused::Join { .. } => StatusCode::FORBIDDEN,
    };
    (status, format!("{refused}\n")).into_response()
}

/// The response body's source: the stream's outbox, keep-alives and the shutdown.
struct Writer {
    relay: Arc<Relay>,
    stream: EventStream,
    outbox: Arc<Outbox>,
    shutdown: crate::state::ShutdownSignal,
    conn: u64,
    retry: Option<Bytes>,
    batch: Vec<OutFrame>,
    done: bool,
    _open: crate::state::OpenConnection,
}

impl Writer {
    fn new(relay: Arc<Relay>, stream: EventStream, outbox: Arc<Outbox>) -> Self {
        let open = relay.open_connection();
        let conn = stream.conn().0;
        let base = relay.config.sse.retry;
        // Up to half as long again, at random, so that readers cut off together spread their reconnects.
        let jitter = std::hash::RandomState::new().hash_one(conn) % (base.as_millis() as u64 / 2 + 1);
        let retry = Bytes::from(format!("retry: {}\n\n", base.as_millis() as u64 + jitter));
        let shutdown = relay.shutdown_signal();
        Writer {
            relay,
            stream,
            outbox,
            shutdown,
            conn,
            retry: Some(retry),
            batch: Vec::new(),
            done: false,
            _open: open,
        }
    }
}

impl Chunks for Writer {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        if let Some(retry) = self.retry.take() {
            return Some(retry);
        }
        let keep_alive = self.relay.config.sse.keep_alive;
        self.batch.clear();
        tokio::select! {
            next = self.outbox.next_batch(&mut self.batch) => match next {
                Ok(()) => {
                    let mut out = Vec::new();
                    for frame in &self.batch {
                        self.stream.write(frame, &mut out);
                    }
                    Some(Bytes::from(out))
                }
                Err(reason) => {
                    // A slow reader: what was queued is out; the reader reconnects and resumes from its last id.
                    self.done = true;
                    Some(Bytes::from(format!(": closed {} {}\n\n", reason.code, reason.reason)))
                }
            },
            () = tokio::time::sleep(keep_alive) => Some(Bytes::from_static(b": keep-alive\n\n")),
            () = self.shutdown.wait_turn(self.conn) => {
                self.done = true;
                Some(Bytes::from_static(b": server shutting down\n\n"))
            }
        }
    }
}

/// The keep-alive interval, topic limit and reconnection time of event streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseLimits {
    /// A comment goes out when a stream has been quiet this long. Default 15 s.
    pub keep_alive: Duration,
    /// The most topics one stream reads. Default 16.
    pub max_topics: usize,
    /// The reconnection time sent in `retry`, to which each stream adds up to half again at random. Default 2 s.
    pub retry: Duration,
}

impl Default for SseLimits {
    fn default() -> Self {
        SseLimits { keep_alive: Duration::from_secs(15), max_topics: 16, retry: Duration::from_secs(2) }
    }
}
