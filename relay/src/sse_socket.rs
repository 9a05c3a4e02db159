//! A Phoenix socket over server-sent events and HTTP POST, for networks that block WebSockets: the client receives
//! its frames on one event stream and sends its frames in POST requests.
//!
//! `GET /socket/sse?vsn=2.0.0&…params` opens a session, as the WebSocket endpoint does, and answers with an event
//! stream. Its first event, `ferrocast:session`, gives the token the client's POSTs carry
//! (`POST /socket/sse?token=…`, frames separated by line feeds, `text/plain` so browsers send it without a CORS
//! preflight). Every frame the session sends is one event whose `data` is the V2 JSON frame; a binary frame (a
//! binary payload) is a `binary` event in base64, and is posted as a base64 line. The session lives as long as the
//! stream: when it ends, the client reconnects and rejoins, as after a lost WebSocket.
//!
//! The framing (the session event, frames as events, POSTed lines) is `ferrocast_protocol::sse_socket`'s, which the
//! browser client's `SseSocket` uses too; this file routes POSTs to sessions and runs each stream.

use crate::sse::{Chunks, event_stream_response};
use crate::state::{OpenConnection, Relay, ShutdownSignal};
use crate::{admission, auth};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferrocast_protocol::sse_socket::{self, SESSION_PARAM};
use ferrocast_protocol::{Vsn, WireData};
use ferrocast_pubsub::{CloseReason, OutFrame, Outbox, Session, SessionError};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;

/// POSTed bodies waiting for their session, per session: a client sends one POST at a time, so a few suffice.
const INBOX: usize = 8;

/// The open sessions' inboxes by token.
#[derive(Debug, Default)]
pub(crate) struct SseSessions {
    inboxes: RwLock<HashMap<String, mpsc::Sender<Bytes>>>,
}

impl SseSessions {
    fn register(self: &Arc<Self>, sender: mpsc::Sender<Bytes>) -> Registration {
        let token = new_token();
        self.inboxes.write().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(token.clone(), sender);
        Registration { sessions: Arc::clone(self), token }
    }

    fn inbox(&self, token: &str) -> Option<mpsc::Sender<Bytes>> {
        self.inboxes.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(token).cloned()
    }
}

/// Keeps a session's token valid until the stream ends.
struct Registration {
    sessions: Arc<SseSessions>,
    token: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.sessions.inboxes.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&self.token);
    }
}

/// 128 bits no one can guess: whoever holds a token can send as its session. `RandomState` keys SipHash with the
/// operating system's randomness, so hashing a counter with fresh states is a keyed pseudo-random function.
fn new_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}{:016x}", RandomState::new().hash_one(count), RandomState::new().hash_one(!count))
}

/// `GET /socket/sse?vsn=2.0.0&…`: a session whose frames come back as events. V2 only: V1 has no binary frames,
/// and one serializer keeps both ends simple.
pub(crate) async fn open(
    State(relay): State<Arc<Relay>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if Vsn::from_param(params.get("vsn").map(String::as_str)) != Some(Vsn::V2) {
        return (StatusCode::FORBIDDEN, "the event-stream socket speaks vsn 2.0.0 only\n").into_response();
    }
    let token = auth::socket_token(&params, &headers).or_else(|| auth::bearer_token(&headers).map(str::to_owned));
    let identity = match admission::admit(&relay, token.as_deref(), "event-stream socket") {
        Ok(identity) => identity,
        Err(denied) => return denied.into_response(),
    };
    let (sender, inbox) = mpsc::channel(INBOX);
    let registration = relay.sse_sessions.register(sender);
    let outbox = Arc::new(Outbox::new(relay.config.outbox));
    let session = Session::new(relay.backend.clone(), params, Vsn::V2, outbox.clone(), identity);
    let mut first = String::new();
    sse_socket::write_session_event(&mut first, &registration.token);
    relay.metrics.sse_streams_total.fetch_add(1, Ordering::Relaxed);
    let writer = SocketStream {
        _open: relay.open_connection(),
        last_post: tokio::time::Instant::now(),
        shutdown: relay.shutdown_signal(),
        relay,
        session,
        outbox,
        inbox,
        _registration: registration,
        first: Some(Bytes::from(first)),
        batch: Vec::new(),
        done: false,
    };
    event_stream_response(writer)
}

/// `POST /socket/sse?token=…`: frames for a session, one per line. 200 once they are handled; 404 for a token
/// with no open session (it ended: reconnect); 413 for a body over the message limit.
pub(crate) async fn send(
    State(relay): State<Arc<Relay>>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let Some(inbox) = query.get(SESSION_PARAM).and_then(|token| relay.sse_sessions.inbox(token)) else {
        return (StatusCode::NOT_FOUND, "no such session: it has ended, so reconnect\n").into_response();
    };
    if body.len() > relay.config.max_message {
        return (StatusCode::PAYLOAD_TOO_LARGE, "frames over the message limit\n").into_response();
    }
    match inbox.send(body).await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "no such session: it has ended, so reconnect\n").into_response(),
    }
}

/// One session's stream: frames POSTed in go to the session, what it sends goes out as events.
struct SocketStream {
    relay: Arc<Relay>,
    session: Session,
    outbox: Arc<Outbox>,
    inbox: mpsc::Receiver<Bytes>,
    shutdown: ShutdownSignal,
    first: Option<Bytes>,
    batch: Vec<OutFrame>,
    done: bool,
    _registration: Registration,
    /// When the client last posted: a stream whose client stopped posting (it heartbeats every 30 s by default)
    /// is gone.
    last_post: tokio::time::Instant,
    _open: OpenConnection,
}

impl Chunks for SocketStream {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        let conn = self.session.conn().0;
        loop {
            self.batch.clear();
            tokio::select! {
                next = self.outbox.next_batch(&mut self.batch) => return Some(self.write_batch(next)),
                posted = self.inbox.recv() => match posted {
                    Some(frames) => {
                        self.last_post = tokio::time::Instant::now();
                        self.handle(&frames);
                    }
                    None => return None,
                },
                () = tokio::time::sleep_until(self.last_post + self.relay.config.idle_timeout) => {
                    self.relay.metrics.idle_timeouts.fetch_add(1, Ordering::Relaxed);
                    self.outbox.close(CloseReason { code: crate::ws::CLOSE_IDLE, reason: "idle timeout" });
                }
                () = self.shutdown.wait_turn(conn) => {
                    self.outbox.close(CloseReason { code: crate::ws::CLOSE_GOING_AWAY, reason: "server shutting down" });
                }
            }
        }
    }
}

impl SocketStream {
    /// Hands each posted frame to the session, in order.
    fn handle(&mut self, frames: &[u8]) {
        for frame in sse_socket::read_post_body(frames) {
            self.relay.metrics.frames_in.fetch_add(1, Ordering::Relaxed);
            // `None`: the line is not UTF-8 text, or not base64.
            let handled = frame.ok().map(|frame| self.session.handle(frame.wire()));
            let close = match handled {
                Some(Ok(())) => continue,
                Some(Err(SessionError::RateLimited)) => {
                    self.relay.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
                    CloseReason { code: crate::ws::CLOSE_POLICY, reason: "rate limit exceeded" }
                }
                Some(Err(SessionError::Malformed(_))) | None => {
                    self.relay.metrics.malformed_frames.fetch_add(1, Ordering::Relaxed);
                    CloseReason { code: crate::ws::CLOSE_MALFORMED, reason: "malformed frame" }
                }
            };
            tracing::warn!(conn = self.session.conn().0, reason = close.reason, "ending an event-stream socket");
            self.outbox.close(close);
            return;
        }
    }

    /// Each frame as one event; the close reason as a comment, and the end of the stream.
    fn write_batch(&mut self, next: Result<(), CloseReason>) -> Bytes {
        let mut out = String::new();
        match next {
            Ok(()) => {
                for frame in &self.batch {
                    if frame.text {
                        sse_socket::write_frame_event(&mut out, WireData::Text(&String::from_utf8_lossy(&frame.bytes)));
                    } else {
                        sse_socket::write_frame_event(&mut out, WireData::Binary(&frame.bytes));
                    }
                }
                self.relay.metrics.frames_out.fetch_add(self.batch.len() as u64, Ordering::Relaxed);
            }
            Err(reason) => {
                self.done = true;
                out.push_str(&format!(": closed {} {}\n\n", reason.code, reason.reason));
            }
        }
        Bytes::from(out)
    }
}
