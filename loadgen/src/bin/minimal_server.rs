//! `minimal-server`: the baseline `cargo xtask bench` compares the relay with, not a product.
//!
//! It is the plainest correct broadcast server, the one a first axum implementation would be: one task per
//! WebSocket that reads frames and writes each outgoing message with `send` (write and flush, no batching), one
//! `tokio::sync::broadcast` channel whose messages are encoded once and shared by every subscriber, and
//! `POST /api/broadcast` for backends, answered once the message is in the channel. Comparing the relay with it
//! shows what Ferrocast's protocol work costs, or saves, on top of the same HTTP and WebSocket stack.
//!
//! It speaks just enough of the Phoenix Channels V2 JSON protocol (`[join_ref, ref, topic, event, payload]`) for the
//! load generator: `phx_join`, `phx_leave`, `new_msg` (broadcast), `ping` (echo) and the `phoenix` heartbeat, on a
//! WebSocket at any path. There is ONE broadcast group for all topics: a joined connection receives every
//! broadcast, whatever its topic. A subscriber that falls more than `--lag-limit` messages behind is closed, so
//! memory stays bounded: the channel is a fixed ring, and a client that stops reading altogether only holds its task
//! in one pending `send` until it reads again, then learns it lagged and is closed.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{any, post};
use axum::serve::ListenerExt;
use clap::Parser;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::net::TcpListener;
use tokio::sync::broadcast::{self, error::RecvError};

#[derive(Parser)]
#[command(about = "A minimal axum broadcast server speaking a subset of Phoenix Channels V2 JSON")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4900")]
    listen: String,
    /// Broadcast messages a subscriber may fall behind before it is disconnected.
    #[arg(long, default_value_t = 4096)]
    lag_limit: usize,
}

type Broadcasts = broadcast::Sender<Utf8Bytes>;

/// A V2 JSON frame; `join_ref`, `ref` and `topic` are echoed back verbatim, so they stay raw.
type Frame<'a> = (&'a RawValue, &'a RawValue, &'a RawValue, String, &'a RawValue);

/// The body of `POST /api/broadcast`, kept raw: it is only copied into the frame.
#[derive(Deserialize)]
struct Publish<'a> {
    #[serde(borrow)]
    topic: &'a RawValue,
    #[serde(borrow)]
    event: &'a RawValue,
    #[serde(borrow)]
    payload: &'a RawValue,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(&args.listen).await?;
    println!("listening on {}", listener.local_addr()?);
    std::io::Write::flush(&mut std::io::stdout())?;
    let (broadcasts, _) = broadcast::channel::<Utf8Bytes>(args.lag_limit);
    let app = Router::new().route("/api/broadcast", post(publish)).fallback(any(upgrade)).with_state(broadcasts);
    // Without it, Nagle's algorithm and delayed ACKs would add tens of milliseconds to measured latencies.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await
}

/// Resolves on Ctrl-C or SIGTERM (what `cargo xtask bench` sends when it is done).
async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

/// `POST /api/broadcast` with `{"topic", "event", "payload"}`: 202 once the frame is in the channel.
async fn publish(State(broadcasts): State<Broadcasts>, body: Bytes) -> (StatusCode, &'static str) {
    let Ok(Publish { topic, event, payload }) = serde_json::from_slice(&body) else {
        return (StatusCode::BAD_REQUEST, "expected {\"topic\", \"event\", \"payload\"}\n");
    };
    // Encoded once; every subscriber's copy shares these bytes. No subscribers is not an error.
    let _ = broadcasts.send(Utf8Bytes::from(format!("[null,null,{topic},{event},{payload}]")));
    (StatusCode::ACCEPTED, "")
}

/// Any other request: a WebSocket, with the `phoenix` subprotocol when the client offers it.
async fn upgrade(State(broadcasts): State<Broadcasts>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.protocols(["phoenix"]).on_upgrade(move |socket| serve(socket, broadcasts))
}

/// Runs one connection until it closes, errs, sends garbage or lags behind the broadcasts.
async fn serve(mut socket: WebSocket, broadcasts: Broadcasts) {
    // `None` until the connection joins; a connection that never joins receives no broadcasts.
    let mut subscription: Option<broadcast::Receiver<Utf8Bytes>> = None;
    loop {
        let outgoing = tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let Some(reply) = handle_frame(&text, &mut subscription, &broadcasts) else { break };
                    reply
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                // Pings are answered by tungstenite itself; binary frames are not part of this subset.
                Some(Ok(_)) => continue,
            },
            broadcast = next_broadcast(&mut subscription) => match broadcast {
                Ok(encoded) => encoded,
                Err(RecvError::Lagged(_) | RecvError::Closed) => break,
            },
        };
        if socket.send(Message::Text(outgoing)).await.is_err() {
            break;
        }
    }
    // A lagging client may not be reading at all: give the close frame a moment, not forever.
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.send(Message::Close(None))).await;
}

/// The next broadcast for a joined connection; never resolves for one that has not joined.
async fn next_broadcast(subscription: &mut Option<broadcast::Receiver<Utf8Bytes>>) -> Result<Utf8Bytes, RecvError> {
    match subscription {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// Acts on one client frame and returns the reply to send, or `None` if the frame is not V2 JSON.
fn handle_frame(
    text: &str,
    subscription: &mut Option<broadcast::Receiver<Utf8Bytes>>,
    broadcasts: &Broadcasts,
) -> Option<Utf8Bytes> {
    let (join_ref, reference, topic, event, payload): Frame<'_> = serde_json::from_str(text).ok()?;
    let (status, response) = match (topic.get(), event.as_str()) {
        (r#""phoenix""#, "heartbeat") => ("ok", "{}"),
        (_, "phx_join") => {
            subscription.get_or_insert_with(|| broadcasts.subscribe());
            ("ok", "{}")
        }
        (_, "phx_leave") => {
            *subscription = None;
            ("ok", "{}")
        }
        (_, "new_msg") => {
            let _ = broadcasts.send(Utf8Bytes::from(format!(r#"[null,null,{topic},"new_msg",{payload}]"#)));
            ("ok", "{}")
        }
        (_, "ping") => ("ok", payload.get()),
        _ => ("error", r#"{"reason":"unknown event"}"#),
    };
    let reply =
        format!(r#"[{join_ref},{reference},{topic},"phx_reply",{{"status":"{status}","response":{response}}}]"#);
    Some(Utf8Bytes::from(reply))
}
