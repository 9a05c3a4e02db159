//! Flooding a topic through a publisher that keeps up, and draining a laggard to its close: shared by the load test
//! (`relay_load.rs`) and the memory test (`relay_memory.rs`).

#![allow(dead_code, unreachable_pub)]

use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A client WebSocket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Pushes `count` `new_msg` events of `{"n": 0.., "body": "x…"}` (a body of `body_len` bytes) to `topic`, joined
/// with join ref "1", in windows of `window`, reading each window's replies and broadcasts before the next, as a
/// healthy client keeps up. `on_broadcast` gets the text of every broadcast received.
pub async fn publish_keeping_up(
    publisher: &mut Ws,
    topic: &str,
    count: usize,
    window: usize,
    body_len: usize,
    mut on_broadcast: impl FnMut(&str),
) {
    let body = "x".repeat(body_len);
    for start in (0..count).step_by(window) {
        let end = (start + window).min(count);
        for n in start..end {
            let push = format!(r#"["1","{}","{topic}","new_msg",{{"n":{n},"body":"{body}"}}]"#, n + 2);
            publisher.feed(Message::text(push)).await.unwrap();
        }
        publisher.flush().await.unwrap();
        let mut replies = 0;
        while replies < end - start {
            let message = tokio::time::timeout(Duration::from_secs(20), publisher.next())
                .await
                .expect("the publisher keeps receiving")
                .expect("open")
                .expect("frame");
            let text = message.into_text().expect("text");
            if text.starts_with("[null,null,") {
                on_broadcast(text.as_str());
            } else {
                replies += 1;
            }
        }
    }
}

/// Reads a client that stopped reading until the server closes it: how many text frames it still got, and the
/// close code.
pub async fn drain_until_closed(laggard: &mut Ws) -> (usize, Option<u16>) {
    let mut received = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), laggard.next()).await.expect("the laggard is closed") {
            Some(Ok(Message::Text(_))) => received += 1,
            Some(Ok(Message::Close(frame))) => return (received, frame.map(|frame| u16::from(frame.code))),
            other => panic!("unexpected {other:?}"),
        }
    }
}
