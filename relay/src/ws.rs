//! The WebSocket endpoint: the upgrade, then one task per connection, reading into the session and writing the
//! outbox.
//!
//! The writer takes everything queued at once and flushes once per batch: the frames gather in the socket's write
//! buffer, so a burst of broadcasts to one socket costs one `write`, not one per frame. A client that asked for
//! batches ([`BATCH_PARAM`]) gets consecutive text frames as one message as well (see [`crate::batching`]).

use crate::batching::Batcher;
use crate::state::Relay;
use crate::ws_handshake::{self, Socket};
use crate::{admission, auth};
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferrocast_protocol::{BATCH_PARAM, Vsn, WireData};
use ferrocast_pubsub::auth::Identity;
use ferrocast_pubsub::{CLOSE_SLOW_CONSUMER, CloseReason, OutFrame, Outbox, Session, SessionError};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};

/// Close code for a frame that is not a valid frame of the socket's serializer; Phoenix closes with 1011 too.
pub const CLOSE_MALFORMED: u16 = 1011;
/// Close code for a socket that sent nothing for the idle timeout; Phoenix (Bandit) closes with 1002.
pub const CLOSE_IDLE: u16 = 1002;
/// Close code when the relay shuts down: clients reconnect, to another relay if there is one.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code for a message over the size limit (`--max-message-bytes`).
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close code for a text message that is not UTF-8 (RFC 6455's "inconsistent data").
pub const CLOSE_NOT_UTF8: u16 = 1007;
/// Close code for a client that kept sending over its rate limit after being refused.
pub const CLOSE_POLICY: u16 = 1008;

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
    let identity = match admission::admit(&relay, auth::socket_token(&params, headers).as_deref(), "socket") {
        Ok(identity) => identity,
        Err(denied) => return denied.into_response(),
    };
    // Frames fed to the sink gather up to `WRITE_BUFFER` bytes before a write; the flush after each batch writes
    // the rest. The buffer keeps its capacity, so it stays small: an idle socket only ever held its replies.
    let config = WebSocketConfig::default()
        .read_buffer_size(relay.config.read_buffer)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(Some(relay.config.max_message))
        .max_frame_size(Some(relay.config.max_message));
    ws_handshake::accept(request, config, move |socket| connection(relay, socket, vsn, params, identity))
}

/// One task per connection reads frames into the session and writes what its outbox holds, whichever is ready.
/// One task rather than a reader and a writer: a reply is written by the task that handled the push, with no
/// wake-up of another task (often on the other core) in between, and an idle connection holds one task's state.
/// While a batch is being written the connection reads nothing; a client that stops reading its socket is
/// therefore also not read from until the write completes, or its outbox overflows and it is closed.
async fn connection(
    relay: Arc<Relay>,
    mut socket: Socket,
    vsn: Vsn,
    params: HashMap<String, String>,
    identity: Identity,
) {
    let _open = relay.open_connection();
    let batches = params.get(BATCH_PARAM).is_some_and(|wanted| wanted == "1") && vsn == Vsn::V2;
    let outbox = Arc::new(Outbox::new(relay.config.outbox));
    let mut session = Session::new(relay.backend.clone(), params, vsn, outbox.clone(), identity);
    let mut writer = Writer { batch: Vec::new(), batcher: Batcher::new(batches) };
    let mut shutdown = relay.shutdown_signal();
    // Both futures live across the loop's turns, so a stream of frames neither postpones the idle timeout's end
    // (it is reset per frame instead) nor restarts the shutdown's wait for this connection's turn.
    let shutdown_turn = shutdown.wait_turn(session.conn().0);
    let idle = tokio::time::sleep(relay.config.idle_timeout);
    tokio::pin!(shutdown_turn, idle);
    // Cleared once the connection is closing: what is queued is still written, then the close frame.
    let mut reading = true;
    loop {
        tokio::select! {
            message = socket.next(), if reading => {
                let message = match message {
                    Some(Ok(message)) => message,
                    Some(Err(error)) => match refusal(&relay, &error) {
                        // What was read before it stands; what is queued is still written, then the close.
                        Some(close) => {
                            outbox.close(close);
                            reading = false;
                            continue;
                        }
                        None => break, // The connection broke: nothing can be written either.
                    },
                    None => break, // The peer is gone.
                };
                idle.as_mut().reset(tokio::time::Instant::now() + relay.config.idle_timeout);
                if let Err(reason) = handle(&relay, &mut session, message) {
                    outbox.close(reason);
                    reading = false;
                }
            }
            queued = outbox.next_batch(&mut writer.batch) => match queued {
                Ok(()) => {
                    if writer.write(&relay, &mut socket).await.is_err() {
                        break;
                    }
                }
                Err(CloseReason { code, reason }) => {
                    if code == CLOSE_SLOW_CONSUMER {
                        relay.metrics.slow_consumers.fetch_add(1, Ordering::Relaxed);
                        tracing::info!("closing a slow consumer");
                    }
                    let frame = CloseFrame { code: code.into(), reason: Utf8Bytes::from_static(reason) };
                    if reading_stopped_early(code) {
                        close_for_bad_input(&mut socket, frame).await;
                    } else {
                        let _ = socket.send(Message::Close(Some(frame))).await;
                    }
                    break;
                }
            },
            () = &mut idle, if reading => {
                relay.metrics.idle_timeouts.fetch_add(1, Ordering::Relaxed);
                outbox.close(CloseReason { code: CLOSE_IDLE, reason: "idle timeout" });
                reading = false;
            }
            () = &mut shutdown_turn, if reading => {
                outbox.close(CloseReason { code: CLOSE_GOING_AWAY, reason: "server shutting down" });
                reading = false;
            }
        }
    }
    relay.joined_channels_changed(-(session.joined_count() as i64));
    drop(session);
    // Topics the session left no longer push here; refuse anything that raced with leaving them.
    outbox.close(CloseReason { code: 1000, reason: "" });
}

/// How long a socket closed for what its client sent may go on sending before it is dropped: time for the rest of
/// a message far over the limit to arrive over a slow link, and the client's close after it.
const CLOSE_REPLY_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Whether the relay closed a socket while its client may still be sending: refused input, a rate-limit abuse.
fn reading_stopped_early(code: u16) -> bool {
    matches!(code, CLOSE_POLICY | CLOSE_TOO_BIG | CLOSE_NOT_UTF8 | CLOSE_MALFORMED)
}

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
        let mut scratch = [0; 4096];
        while stream.read(&mut scratch).await? > 0 {}
        std::io::Result::Ok(())
    };
    let _ = tokio::time::timeout(CLOSE_REPLY_GRACE, drain).await;
}

/// Hands one message from the client to the session; `Err` with the reason the connection must close.
fn handle(relay: &Relay, session: &mut Session, message: Message) -> Result<(), CloseReason> {
    let data = match &message {
        Message::Text(text) => WireData::Text(text.as_str()),
        Message::Binary(bytes) => WireData::Binary(bytes),
        // tungstenite has queued the answer to the client's close; the close frame ends the exchange.
        Message::Close(_) => return Err(CloseReason { code: 1000, reason: "" }),
        // Pings are answered by tungstenite; raw frames are only ever written, never read.
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return Ok(()),
    };
    relay.metrics.frames_in.fetch_add(1, Ordering::Relaxed);
    let joined_before = session.joined_count() as i64;
    let handled = session.handle(data);
    relay.joined_channels_changed(session.joined_count() as i64 - joined_before);
    handled.map_err(|error| match error {
        SessionError::Malformed(error) => {
            relay.metrics.malformed_frames.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(conn = session.conn().0, %error, "closing a socket that sent a malformed frame");
            CloseReason { code: CLOSE_MALFORMED, reason: "malformed frame" }
        }
        SessionError::RateLimited => {
            relay.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(conn = session.conn().0, "closing a socket that kept sending over its rate limit");
            CloseReason { code: CLOSE_POLICY, reason: "rate limit exceeded" }
        }
    })
}

/// The close for a read that failed on what the client sent (a message over the size limit, a text message that
/// is not UTF-8), rather than on a broken connection, which gets none.
fn refusal(relay: &Relay, error: &tungstenite::Error) -> Option<CloseReason> {
    match error {
        tungstenite::Error::Capacity(_) => {
            relay.metrics.oversized_messages.fetch_add(1, Ordering::Relaxed);
            Some(CloseReason { code: CLOSE_TOO_BIG, reason: "message too big" })
        }
        tungstenite::Error::Utf8(_) => {
            relay.metrics.malformed_frames.fetch_add(1, Ordering::Relaxed);
            Some(CloseReason { code: CLOSE_NOT_UTF8, reason: "text message not UTF-8" })
        }
        _ => None,
    }
}

/// Writes outbox batches: packed into messages (see [`Batcher`]), fed to the socket's write buffer, flushed once.
struct Writer {
    batch: Vec<OutFrame>,
    batcher: Batcher,
}

impl Writer {
    async fn write(&mut self, relay: &Relay, socket: &mut Socket) -> Result<(), tungstenite::Error> {
        let count = self.batch.len() as u64;
        for frame in self.batcher.pack(&mut self.batch) {
            if let Some(message) = to_message(frame) {
                socket.feed(message).await?;
            }
        }
        socket.flush().await?;
        relay.metrics.frames_out.fetch_add(count, Ordering::Relaxed);
        Ok(())
    }
}

fn to_message(frame: OutFrame) -> Option<Message> {
    if frame.text {
        // The codec only writes valid UTF-8 text; the check costs one pass over a short frame.
        Utf8Bytes::try_from(frame.bytes).ok().map(Message::Text)
    } else {
        Some(Message::Binary(frame.bytes))
    }
}
