//! The WebSocket endpoint: the upgrade, then each connection as a [`Transport`] of the connection driver.
//!
//! The writer takes everything queued at once and flushes once per batch: the frames gather in the socket's write
//! buffer (16 KiB), so a burst of broadcasts to one socket costs one `write`, not one per frame. A client that
//! asked for batches ([`BATCH_PARAM`]) gets consecutive text frames as one message as well (see
//! [`crate::batching`]). Messages over 1 KiB skip that buffer, which would keep their size for the socket's life
//! (see [`crate::large_messages`]).

use crate::admission::Admitted;
use crate::batching::Batcher;
use crate::driver::{self, Gone, Inbound, Read, Timers, Transport};
use crate::large_messages::{self, LARGE_MESSAGE, LargeMessage, MAX_RUN};
use crate::state::Relay;
use crate::ws_handshake::{self, Socket};
use crate::{admission, auth, close};
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferrocast_protocol::{BATCH_PARAM, Vsn, WireData};
use ferrocast_pubsub::{CloseReason, OutFrame, Outbox};
use futures_util::{SinkExt, StreamExt};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};

/// How many bytes of frames the writer gathers before it writes to the socket (the final flush writes the rest).
const WRITE_BUFFER: usize = 16 * 1024;

/// `GET /socket/websocket?vsn=…`: refuses versions it does not speak with 403, as Phoenix does, and a missing,
/// expired or forged token with 403 and the reason; 503 at the connection limit; 400 for a request that is not a
/// WebSocket upgrade. (Origins are checked before, for every socket route: see [`crate::origin`].)
pub(crate) async fn upgrade(
    State(relay): State<Arc<Relay>>,
    Query(params): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    let headers = request.headers();
    let Some(vsn) = Vsn::from_param(params.get("vsn").map(String::as_str)) else {
        let vsn = params.get("vsn").cloned().unwrap_or_default();
        tracing::info!(%vsn, "refused a socket with an unsupported vsn");
        return (StatusCode::FORBIDDEN, format!("unsupported vsn {vsn:?}: use 1.0.0 or 2.0.0\n")).into_response();
    };
    let token = auth::socket_token(&params, headers);
    let protocol = if vsn == Vsn::V1 { "1.0.0" } else { "2.0.0" };
    let admitted = admission::admit_socket(&relay, token.as_deref(), &params, headers, "websocket", protocol).await;
    // Frames fed to the sink gather up to `WRITE_BUFFER` bytes before a write; the flush after each batch writes
    // the rest. The buffer keeps its capacity, so it stays small: an idle socket only ever held its replies.
    let config = WebSocketConfig::default()
        .read_buffer_size(relay.config.read_buffer)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(Some(relay.config.max_message))
        .max_frame_size(Some(relay.config.max_message));
    match admitted {
        Ok(admitted) => {
            ws_handshake::accept(request, config, move |socket| connection(relay, socket, vsn, params, admitted))
        }
        // The backend asked to close with its code: the socket opens, so the client reads the code and the reason.
        Err(admission::Denied::Disconnect(code, reason)) => {
            ws_handshake::accept(request, config, move |socket| close_at_once(socket, code, reason))
        }
        Err(denied) => denied.into_response(),
    }
}

/// Closes a socket the connect hook disconnected, with the hook's code and reason.
async fn close_at_once(mut socket: Socket, code: u16, reason: String) {
    let frame = CloseFrame { code: code.into(), reason: Utf8Bytes::from(reason) };
    let _ = socket.send(Message::Close(Some(frame))).await;
    // Read until the client's close comes back, briefly, so the close is clean on both sides.
    let _ = tokio::time::timeout(CLOSE_REPLY_GRACE, async { while let Some(Ok(_)) = socket.next().await {} }).await;
}

/// One connection: a session fed by the socket's messages, driven by [`driver::run`]. Not an `async fn`, whose
/// future would keep its arguments beside the driver's (rustc does not overlap them): every idle connection would
/// hold its socket and session twice.
fn connection(
    relay: Arc<Relay>,
    socket: Socket,
    vsn: Vsn,
    params: HashMap<String, String>,
    admitted: Admitted,
) -> impl Future<Output = ()> + Send + 'static {
    let open = relay.open_connection();
    let batches = params.get(BATCH_PARAM).is_some_and(|wanted| wanted == "1") && vsn == Vsn::V2;
    let outbox = Arc::new(Outbox::new(relay.config.outbox));
    let session = admitted.session(&relay, params, vsn, outbox.clone());
    let conn = session.session.conn().0;
    let timers = Timers { idle: Some(relay.config.idle_timeout), keep_alive: None };
    let transport = WebSocket { relay: relay.clone(), socket, batcher: Batcher::new(batches), peer_closed: false };
    driver::run(relay, open, conn, outbox, Some(session), timers, transport)
}

/// A WebSocket as a connection's transport: messages in, batches out as messages, the close as a close frame.
struct WebSocket {
    relay: Arc<Relay>,
    socket: Socket,
    batcher: Batcher,
    /// The client sent its close: tungstenite refuses to send after it, and the large messages written past
    /// tungstenite must not go out either.
    peer_closed: bool,
}

impl Transport for WebSocket {
    type Input = Message;

    async fn read(&mut self) -> Read<Message> {
        match self.socket.next().await {
            Some(Ok(message)) => {
                self.peer_closed |= matches!(message, Message::Close(_));
                Read::Input(message)
            }
            Some(Err(error)) => match refusal(&self.relay, &error) {
                Some(close) => Read::Refused(close),
                None => Read::Gone,
            },
            None => Read::Gone,
        }
    }

    fn receive(message: Message, session: &mut Inbound<'_>) -> Result<(), CloseReason> {
        let data = match &message {
            Message::Text(text) => WireData::Text(text.as_str()),
            Message::Binary(bytes) => WireData::Binary(bytes),
            // tungstenite has queued the answer to the client's close; the close frame ends the exchange.
            Message::Close(_) => return Err(close::NORMAL),
            // Pings are answered by tungstenite; raw frames are only ever written, never read.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return Ok(()),
        };
        session.frame(Some(data))
    }

    /// Packs the batch into messages (see [`Batcher`]) and writes them in order: small ones fed to the socket's
    /// write buffer, large ones in runs past it (see [`crate::large_messages`]); flushes once at the end.
    async fn write(&mut self, batch: &mut Vec<OutFrame>) -> Result<(), Gone> {
        let WebSocket { socket, batcher, peer_closed, .. } = self;
        // A run of large messages to write together; allocated only when one comes, so no socket keeps it.
        let large = &mut Vec::new();
        for frame in batcher.pack(batch) {
            // A message in parts shares them with other sockets' messages: written from them, never copied.
            if frame.rest.is_some() || frame.bytes.len() > LARGE_MESSAGE {
                // The codec only writes valid UTF-8 text (and each part of a message in parts is); checked as
                // `to_message` checks the small ones.
                if !frame.text || frame.parts().all(|part| std::str::from_utf8(part).is_ok()) {
                    let OutFrame { text, bytes, rest, .. } = frame;
                    large.push(LargeMessage { text, bytes, rest: rest.map(|rest| *rest).unwrap_or_default() });
                }
                if large.len() >= MAX_RUN || large.iter().map(LargeMessage::slices).sum::<usize>() >= MAX_RUN * 2 {
                    write_large(socket, large, *peer_closed).await?;
                }
                continue;
            }
            write_large(socket, large, *peer_closed).await?;
            if let Some(message) = to_message(frame) {
                socket.feed(message).await.map_err(|_| Gone)?;
            }
        }
        write_large(socket, large, *peer_closed).await?;
        socket.flush().await.map_err(|_| Gone)
    }

    async fn close(&mut self, reason: CloseReason) {
        let text = match reason.reason {
            Cow::Borrowed(fixed) => Utf8Bytes::from_static(fixed),
            Cow::Owned(owned) => Utf8Bytes::from(owned),
        };
        let frame = CloseFrame { code: reason.code.into(), reason: text };
        if close::stops_reading_early(reason.code) {
            close_for_bad_input(&mut self.socket, frame).await;
        } else {
            let _ = self.socket.send(Message::Close(Some(frame))).await;
        }
    }
}

/// How long a socket closed for what its client sent may go on sending before it is dropped: time for the rest of
/// a message far over the limit to arrive over a slow link, and the client's close after it.
const CLOSE_REPLY_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Closes a socket for what its client sent: the close frame, then our side of the connection (FIN), then every
/// byte the client still sends read and dropped, unparsed, until it closes its side or the grace ends. Dropping the
/// connection with data unread would make the kernel reset it; the reset fails the client's writes, and a browser
/// (or the `ws` package) then reports 1006 without reading the close frame and its reason. The bytes cannot be
/// parsed: after a message over the limit, the stream is in the middle of its frame.
async fn close_for_bad_input(socket: &mut Socket, frame: CloseFrame) {
    if socket.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let stream = socket.get_mut();
    let drain = async {
        stream.shutdown().await?;
        // On the heap: an array here would be part of every connection's task, used or not (4 KiB of each idle
        // connection's memory).
        let mut scratch = vec![0; 4096];
        while stream.read(&mut scratch).await? > 0 {}
        std::io::Result::Ok(())
    };
    let _ = tokio::time::timeout(CLOSE_REPLY_GRACE, drain).await;
}

/// The close for a read that failed on what the client sent (a message over the size limit, a text message that
/// is not UTF-8), rather than on a broken connection, which gets none.
fn refusal(relay: &Relay, error: &tungstenite::Error) -> Option<CloseReason> {
    match error {
        tungstenite::Error::Capacity(_) => {
            relay.metrics.oversized_messages.fetch_add(1, Ordering::Relaxed);
            Some(close::TOO_BIG)
        }
        tungstenite::Error::Utf8(_) => {
            relay.metrics.malformed_frames.fetch_add(1, Ordering::Relaxed);
            Some(close::NOT_UTF8)
        }
        _ => None,
    }
}

/// Writes the large messages waiting in `large`, after what the socket's buffer holds, and empties `large`.
async fn write_large(socket: &mut Socket, large: &mut Vec<LargeMessage>, peer_closed: bool) -> Result<(), Gone> {
    if large.is_empty() {
        return Ok(());
    }
    if peer_closed {
        return Err(Gone);
    }
    socket.flush().await.map_err(|_| Gone)?;
    // Boxed: its state would otherwise be part of every connection's task, written to or not.
    let written = Box::pin(large_messages::write_all(socket.get_mut(), large)).await;
    large.clear();
    written.map_err(|_| Gone)
}

fn to_message(frame: OutFrame) -> Option<Message> {
    if frame.text {
        // The codec only writes valid UTF-8 text; the check costs one pass over a short frame.
        Utf8Bytes::try_from(frame.bytes).ok().map(Message::Text)
    } else {
        Some(Message::Binary(frame.bytes))
    }
}
