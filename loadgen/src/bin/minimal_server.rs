//! `minimal-server`: the ceiling of the stack, a baseline for `cargo xtask bench`, not a product.
//!
//! It is the broadcast server a first tokio-tungstenite implementation would be: one task per connection that reads
//! frames and writes each outgoing message with `send` (write and flush, no batching), and one
//! `tokio::sync::broadcast` channel whose messages are encoded once and shared by every subscriber. Comparing the
//! relay with it shows what Ferrocast's protocol work costs on top of the WebSocket stack itself.
//!
//! It speaks just enough of the Phoenix Channels V2 JSON protocol (`[join_ref, ref, topic, event, payload]`) for the
//! load generator: `phx_join`, `phx_leave`, `new_msg` (broadcast), `ping` (echo) and the `phoenix` heartbeat. There
//! is ONE broadcast group for all topics: a joined connection receives every `new_msg`, whatever its topic. A
//! subscriber that falls more than `--lag-limit` messages behind is closed, so memory stays bounded: the channel is a
//! fixed ring, and a client that stops reading altogether only holds its task in one pending `send` until it reads
//! again, then learns it lagged and is closed.

use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::value::RawValue;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

#[derive(Parser)]
#[command(about = "A minimal tokio-tungstenite broadcast server speaking a subset of Phoenix Channels V2 JSON")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4900")]
    listen: String,
    /// Broadcast messages a subscriber may fall behind before it is disconnected.
    #[arg(long, default_value_t = 4096)]
    lag_limit: usize,
}

/// A V2 JSON frame; `join_ref`, `ref` and `topic` are echoed back verbatim, so they stay raw.
type Frame<'a> = (&'a RawValue, &'a RawValue, &'a RawValue, String, &'a RawValue);

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(&args.listen).await?;
    println!("listening on {}", listener.local_addr()?);
    std::io::Write::flush(&mut std::io::stdout())?;
    let (broadcasts, _) = broadcast::channel::<Utf8Bytes>(args.lag_limit);
    let accept_loop = async {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Typically out of file descriptors: back off instead of spinning on the same error.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            // Without it, Nagle's algorithm and delayed ACKs would add tens of milliseconds to measured latencies.
            let _ = stream.set_nodelay(true);
            tokio::spawn(serve(stream, broadcasts.clone()));
        }
    };
    tokio::select! {
        () = accept_loop => {}
        () = shutdown_signal() => {}
    }
    Ok(())
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

/// Accepts any path and, when the client offers it, the `phoenix` subprotocol.
#[expect(clippy::result_large_err, reason = "the signature tungstenite's handshake callback requires")]
fn accept_phoenix_subprotocol(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    let offered = request.headers().get_all("sec-websocket-protocol").iter().filter_map(|value| value.to_str().ok());
    if offered.flat_map(|list| list.split(',')).any(|protocol| protocol.trim() == "phoenix") {
        response.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("phoenix"));
    }
    Ok(response)
}

/// Runs one connection until it closes, errs, sends garbage or lags behind the broadcasts.
async fn serve(stream: TcpStream, broadcasts: broadcast::Sender<Utf8Bytes>) {
    let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, accept_phoenix_subprotocol).await else { return };
    // `None` until the connection joins; a connection that never joins receives no broadcasts.
    let mut subscription: Option<broadcast::Receiver<Utf8Bytes>> = None;
    loop {
        let outgoing = tokio::select! {
            incoming = socket.next() => match incoming {
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
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
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
    broadcasts: &broadcast::Sender<Utf8Bytes>,
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
            // Encoded once; every subscriber's copy shares these bytes. No subscribers is not an error.
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
