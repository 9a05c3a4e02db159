//! A generator connection from TCP to joined topic: connect from a chosen source address, open the WebSocket,
//! greet the server as its dialect requires, join, and wait for the join's reply.

use crate::Result;
use crate::dialect::{Dialect, Incoming, JOIN_ID};
use crate::net::{self, Ws};
use crate::socketio;
use crate::target::Target;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::client_async_with_config;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// How long one connection may take from TCP connect to joined, however loaded the server.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens the `index`th connection to `target` and joins `topic` (as `presence_user` when presence is wanted).
pub(crate) async fn open_and_join(
    target: &Target,
    index: usize,
    read_buffer: usize,
    topic: &str,
    presence_user: Option<&str>,
) -> Result<Ws> {
    let opening = async {
        let mut ws = open(target, index, read_buffer).await?;
        join(&mut ws, target.dialect, topic, presence_user).await?;
        Ok(ws)
    };
    tokio::time::timeout(OPEN_TIMEOUT, opening).await.map_err(|_| "timed out opening and joining")?
}

/// Opens the `index`th connection to `target`, ready to join.
pub(crate) async fn open(target: &Target, index: usize, read_buffer: usize) -> Result<Ws> {
    let stream = net::tcp_connect(target.addr, net::source_address(target.addr, index)).await?;
    let (mut ws, _) = client_async_with_config(target.ws_url(), stream, Some(net::ws_config(read_buffer))).await?;
    if target.dialect == Dialect::Socketio {
        connect_socketio(&mut ws).await?;
    }
    Ok(ws)
}

/// Socket.IO's own handshake inside the WebSocket: the server opens, the client connects to the default
/// namespace, the server confirms.
async fn connect_socketio(ws: &mut Ws) -> Result<()> {
    loop {
        let text = next_text(ws).await?;
        match socketio::parse(&text) {
            socketio::Packet::Open(_) => ws.send(Message::text(socketio::CONNECT)).await?,
            socketio::Packet::Connect(_) => return Ok(()),
            socketio::Packet::ConnectError(error) => return Err(format!("Socket.IO connect refused: {error}").into()),
            socketio::Packet::Ping => ws.send(Message::text(socketio::PONG)).await?,
            _ => {}
        }
    }
}

/// Joins `topic` and waits for the server's answer; fails when the join is refused.
pub(crate) async fn join(ws: &mut Ws, dialect: Dialect, topic: &str, presence_user: Option<&str>) -> Result<()> {
    ws.send(Message::text(dialect.join(topic, presence_user))).await?;
    loop {
        let text = next_text(ws).await?;
        let (mut answer, mut pinged) = (None, false);
        dialect.for_each(&text, |incoming| match incoming {
            Incoming::Reply { id: JOIN_ID, ok, response } => answer = Some((ok, response.map(str::to_owned))),
            Incoming::Ping => pinged = true,
            _ => {}
        });
        if pinged {
            ws.send(Message::text(dialect.pong())).await?;
        }
        match answer {
            Some((true, _)) => return Ok(()),
            Some((false, response)) => return Err(format!("join of {topic} refused: {response:?}").into()),
            None => {}
        }
    }
}

/// The next text message; an error when the connection ends first.
pub(crate) async fn next_text(ws: &mut Ws) -> Result<Utf8Bytes> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text),
            Some(Ok(Message::Close(frame))) => return Err(format!("closed by the server: {frame:?}").into()),
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.into()),
            None => return Err("connection ended".into()),
        }
    }
}
