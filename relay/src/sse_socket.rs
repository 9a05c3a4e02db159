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
//! browser client's `SseSocket` uses too; this file answers both requests and runs each
//! stream as a [`Transport`] of the connection driver; [`crate::sse_sessions`] routes POSTs to their session.

use crate::driver::{self, Gone, Inbound, Read, Timers, Transport};
use crate::sse_body::{self, EventStreamBody};
use crate::sse_sessions::Registration;
use crate::state::Relay;
use crate::{admission, auth};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrocast_protocol::sse_socket::{self, SESSION_PARAM};
use ferrocast_protocol::{Vsn, WireData};
use ferrocast_pubsub::{CloseReason, OutFrame, Outbox};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

/// POSTed bodies waiting for their session, per session: a client sends one POST at a time, so a few suffice.
const INBOX: usize = 8;

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
    let admitted = match admission::admit_socket(&relay, token.as_deref(), &params, &headers, "sse", "2.0.0").await {
        Ok(admitted) => admitted,
        // An event stream has no close frame: the backend's code and reason are its one comment, as any close's.
        Err(admission::Denied::Disconnect(code, reason)) => {
            let comment = format!(": closed {code} {}\n\n", reason.replace(['\r', '\n'], " "));
            return ([(header::CONTENT_TYPE, "text/event-stream")], comment).into_response();
        }
        Err(denied) => return denied.into_response(),
    };
    let (sender, inbox) = mpsc::channel(INBOX);
    let registration = relay.sse_sessions.register(sender);
    let outbox = Arc::new(Outbox::new(relay.config.outbox));
    let session = admitted.session(&relay, params, Vsn::V2, outbox.clone());
    let conn = session.session.conn().0;
    let mut first = String::new();
    sse_socket::write_session_event(&mut first, registration.token());
    relay.metrics.sse_streams_total.fetch_add(1, Ordering::Relaxed);
    let open = relay.open_connection();
    let timers = Timers { idle: Some(relay.config.idle_timeout), keep_alive: None };
    sse_body::response(Bytes::from(first), move |body| {
        let transport = SocketStream { inbox, body, _registration: registration };
        driver::run(relay, open, conn, outbox, Some(session), timers, transport)
    })
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

/// An event-stream socket as a connection's transport: POSTed bodies in, frames out as events, a comment as the
/// close. The idle timeout runs from the last POST: a client that stopped posting (it heartbeats every 30 s by
/// default) is gone.
struct SocketStream {
    inbox: mpsc::Receiver<Bytes>,
    body: EventStreamBody,
    _registration: Registration,
}

impl Transport for SocketStream {
    type Input = Bytes;

    /// The next POSTed body. The inbox never closes first (the stream holds its registration); when the client
    /// goes away, the response and this stream are dropped.
    async fn read(&mut self) -> Read<Bytes> {
        self.inbox.recv().await.map_or(Read::Gone, Read::Input)
    }

    fn receive(posted: Bytes, session: &mut Inbound<'_>) -> Result<(), CloseReason> {
        for frame in sse_socket::read_post_body(&posted) {
            // `Err`: the line is not UTF-8 text, or not base64.
            session.frame(frame.ok().as_ref().map(|frame| frame.wire()))?;
        }
        Ok(())
    }

    /// Each frame as one event.
    async fn write(&mut self, batch: &mut Vec<OutFrame>) -> Result<(), Gone> {
        let mut out = String::new();
        for frame in batch.iter() {
            let bytes = frame.contiguous();
            if frame.text {
                sse_socket::write_frame_event(&mut out, WireData::Text(&String::from_utf8_lossy(&bytes)));
            } else {
                sse_socket::write_frame_event(&mut out, WireData::Binary(&bytes));
            }
        }
        self.body.send(Bytes::from(out)).await
    }

    /// The close reason as a comment, and the end of the stream.
    async fn close(&mut self, reason: CloseReason) {
        self.body.close(&reason).await;
    }
}
