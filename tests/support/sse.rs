//! A server-sent events reader over a plain TCP socket, reading the stream with the protocol crate's `sse::Reader`
//! as the browser client does.

#![allow(dead_code, unreachable_pub)]

use ferrocast_protocol::sse::{Event, Reader};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PATIENCE: Duration = Duration::from_secs(5);

/// An open stream.
pub struct SseStream {
    socket: TcpStream,
    reader: Reader,
    events: VecDeque<Event>,
    /// The response head (status line and headers).
    pub head: String,
    /// Every byte of the body received so far, as text: fields, comments and all.
    pub raw: String,
}

/// A refused stream: the status and the body; status 0 when there was no answer (the body says why).
#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    pub body: String,
}

impl SseStream {
    /// `GET path_and_query` with `headers` (`"name: value"` lines). HTTP/1.0, so the body ends with the
    /// connection and needs no chunked decoding.
    pub async fn open(addr: SocketAddr, path_and_query: &str, headers: &[&str]) -> Result<SseStream, Refusal> {
        let refused = |body: String| Refusal { status: 0, body };
        let mut socket = TcpStream::connect(addr).await.map_err(|error| refused(error.to_string()))?;
        let mut request = format!("GET {path_and_query} HTTP/1.0\r\nhost: {addr}\r\naccept: text/event-stream\r\n");
        for header in headers {
            request.push_str(header);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        socket.write_all(request.as_bytes()).await.map_err(|error| refused(error.to_string()))?;
        let mut received = Vec::new();
        let head_end = loop {
            if let Some(end) = received.windows(4).position(|window| window == b"\r\n\r\n") {
                break end;
            }
            let mut buffer = [0u8; 4096];
            let read = tokio::time::timeout(PATIENCE, socket.read(&mut buffer)).await;
            let read = read.map_err(|_| refused("no response head in time".into()))?;
            let read = read.map_err(|error| refused(error.to_string()))?;
            if read == 0 {
                return Err(refused(format!(
                    "closed before the response head: {}",
                    String::from_utf8_lossy(&received)
                )));
            }
            received.extend_from_slice(&buffer[..read]);
        };
        let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
        let body = received[head_end + 4..].to_vec();
        let status: u16 = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
        if status != 200 {
            let mut rest = body;
            let _ = tokio::time::timeout(PATIENCE, socket.read_to_end(&mut rest)).await;
            return Err(Refusal { status, body: String::from_utf8_lossy(&rest).into_owned() });
        }
        let mut stream = SseStream { socket, reader: Reader::new(), events: VecDeque::new(), head, raw: String::new() };
        stream.take(&body);
        Ok(stream)
    }

    fn take(&mut self, bytes: &[u8]) {
        self.raw.push_str(&String::from_utf8_lossy(bytes));
        self.events.extend(self.reader.feed(bytes));
    }

    /// Reads more of the body; `false` once the server ended the stream.
    pub async fn read_more(&mut self, patience: Duration) -> bool {
        let mut buffer = [0u8; 16 * 1024];
        let read = tokio::time::timeout(patience, self.socket.read(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("nothing on the stream within {patience:?}; so far:\n{}", self.raw));
        match read {
            Ok(0) | Err(_) => false,
            Ok(read) => {
                self.take(&buffer[..read]);
                true
            }
        }
    }

    /// The next event.
    pub async fn next(&mut self) -> Event {
        loop {
            if let Some(event) = self.events.pop_front() {
                return event;
            }
            assert!(self.read_more(PATIENCE).await, "the stream ended; it said:\n{}", self.raw);
        }
    }

    /// The next event that is not presence (`presence_state`, `presence_diff`): channels such as `room:*` track
    /// a stream's reader as they track a socket's.
    pub async fn next_not_presence(&mut self) -> Event {
        loop {
            let event = self.next().await;
            if !event.event.starts_with("presence_") {
                return event;
            }
        }
    }

    /// The next event that is not presence, if one comes within `patience`.
    pub async fn next_within(&mut self, patience: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            if let Some(event) = self.events.pop_front() {
                if event.event.starts_with("presence_") {
                    continue;
                }
                return Some(event);
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let mut buffer = [0u8; 16 * 1024];
            match tokio::time::timeout(left, self.socket.read(&mut buffer)).await {
                Err(_) | Ok(Ok(0) | Err(_)) => return None,
                Ok(Ok(read)) => self.take(&buffer[..read]),
            }
        }
    }

    /// The last event id, to resume from.
    pub fn last_event_id(&self) -> String {
        self.reader.last_event_id().to_owned()
    }
}
