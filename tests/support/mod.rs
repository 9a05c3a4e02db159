//! The harness of the workspace's integration tests: a relay on a free loopback port (in this process, or the
//! binary as a process of its own, `relay_process.rs`), a Redis server (`redis.rs`), and a raw WebSocket client
//! that asserts exact frames.
//!
//! Tests that need more include it by path: `sse.rs` (an event-stream reader), `flood.rs`, `cut_proxy.rs` and
//! `native_client.rs`.

#![allow(dead_code, unreachable_pub)]

pub mod redis;
pub mod relay_process;

/// A V2 frame read cheaply by a test that counts many: its event and its payload, left unparsed.
pub type Frame =
    (serde::de::IgnoredAny, serde::de::IgnoredAny, serde::de::IgnoredAny, String, Box<serde_json::value::RawValue>);

/// A `presence_diff`'s keys, their metas left unread.
#[derive(serde::Deserialize)]
pub struct Diff {
    pub joins: std::collections::HashMap<String, serde::de::IgnoredAny>,
    pub leaves: std::collections::HashMap<String, serde::de::IgnoredAny>,
}

use ferrocast_relay::Config;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::net::TcpListener;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// How long any single expected frame may take.
const PATIENCE: Duration = Duration::from_secs(5);

/// A running relay; it shuts down when dropped.
pub struct TestRelay {
    pub addr: std::net::SocketAddr,
    /// The backend API's own address, for a relay started with [`TestRelay::start_with_api`].
    pub api_addr: Option<std::net::SocketAddr>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestRelay {
    pub async fn start(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(ferrocast_relay::serve(listener, config, async move {
            let _ = stopped.await;
        }));
        TestRelay { addr, api_addr: None, stop: Some(stop), task: Some(task) }
    }

    /// [`TestRelay::start`] with the backend API on a second port, from its own thread (`--api-listen`).
    pub async fn start_with_api(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let api_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the API port");
        let (addr, api_addr) = (listener.local_addr().expect("addr"), api_listener.local_addr().expect("api addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(ferrocast_relay::serve_with_api(listener, api_listener, config, async move {
            let _ = stopped.await;
        }));
        TestRelay { addr, api_addr: Some(api_addr), stop: Some(stop), task: Some(task) }
    }

    pub fn url(&self, query: &str) -> String {
        format!("ws://{}/socket/websocket{query}", self.addr)
    }

    /// Starts the graceful shutdown.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        self.begin_shutdown();
    }
}

pub struct Client {
    pub name: &'static str,
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect(name: &'static str, url: &str) -> Self {
        let (socket, _) = connect_async(url).await.unwrap_or_else(|error| panic!("{name} connects to {url}: {error}"));
        Client { name, socket }
    }

    /// A client on a socket the test opened itself (with headers of its own).
    pub fn from_socket(name: &'static str, socket: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Self {
        Client { name, socket }
    }

    pub async fn send(&mut self, text: &str) {
        self.socket.send(Message::text(text)).await.expect("send");
    }

    /// Sends unless the connection is gone; says whether it went.
    pub async fn try_send(&mut self, text: &str) -> bool {
        self.socket.send(Message::text(text)).await.is_ok()
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.socket.send(Message::binary(bytes)).await.expect("send");
    }

    /// The next data message (text or binary), skipping pings.
    pub async fn next(&mut self) -> Message {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("{}: no frame within {PATIENCE:?}", self.name))
                .unwrap_or_else(|| panic!("{}: socket ended", self.name))
                .unwrap_or_else(|error| panic!("{}: socket error {error}", self.name));
            if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
                return message;
            }
        }
    }

    /// Asserts the next frame is this JSON text, with presence refs and times normalized.
    pub async fn expect(&mut self, expected: &str) {
        let message = self.next().await;
        let Message::Text(text) = message else { panic!("{}: expected {expected}, got {message:?}", self.name) };
        assert_eq!(normalize(text.as_str()), normalize(expected), "{}: got {text}", self.name);
    }

    /// Like [`Client::expect`], skipping `presence_diff` frames, whose timing (the coalescing window) is not what
    /// the test is about.
    pub async fn expect_skipping_diffs(&mut self, expected: &str) {
        loop {
            let message = self.next().await;
            let Message::Text(text) = message else { panic!("{}: expected {expected}, got {message:?}", self.name) };
            let frame = normalize(text.as_str());
            if frame.get(3).and_then(Value::as_str) == Some("presence_diff") {
                continue;
            }
            assert_eq!(frame, normalize(expected), "{}: got {text}", self.name);
            return;
        }
    }

    /// The next text frame as JSON (a V2 array or a V1 object), skipping presence (`presence_state`,
    /// `presence_diff`), whose timing is not what the test is about.
    pub async fn next_json(&mut self) -> Value {
        loop {
            let message = self.next().await;
            let Message::Text(text) = message else { panic!("{}: expected text, got {message:?}", self.name) };
            let frame: Value = serde_json::from_str(text.as_str()).expect("JSON frame");
            let event = frame.get(3).or_else(|| frame.get("event")).and_then(Value::as_str);
            if !event.is_some_and(|event| event.starts_with("presence_")) {
                return frame;
            }
        }
    }

    pub async fn expect_binary(&mut self, hex: &str) {
        let message = self.next().await;
        let Message::Binary(bytes) = message else { panic!("{}: expected binary, got {message:?}", self.name) };
        assert_eq!(bytes.as_ref(), unhex(hex).as_slice(), "{}", self.name);
    }

    /// Asserts the server closes the socket with this code (after any frames it still had).
    pub async fn expect_close(&mut self, code: u16) {
        let message = self.next().await;
        match message {
            Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), code, "{}: {frame:?}", self.name),
            other => panic!("{}: expected close {code}, got {other:?}", self.name),
        }
    }

    /// Asserts nothing arrives for `ms`.
    pub async fn expect_silence(&mut self, ms: u64) {
        if let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_millis(ms), self.socket.next()).await {
            panic!("{}: expected nothing, got {message:?}", self.name);
        }
    }

    /// The next text frame as JSON, whatever its event (presence too), skipping other messages; `None` if none
    /// comes within `patience` or the socket ends.
    pub async fn next_frame_within(&mut self, patience: Duration) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(patience, self.socket.next()).await.ok()??.ok()?;
            if let Message::Text(text) = message {
                return Some(serde_json::from_str(&text).expect("a JSON frame"));
            }
        }
    }

    /// [`Client::next_frame_within`] 10 s: relays on Redis may take longer than [`PATIENCE`].
    pub async fn next_frame(&mut self) -> Value {
        self.next_frame_within(Duration::from_secs(10)).await.expect("a frame within 10 s")
    }

    /// The next frame of `event`, skipping others (presence, replies).
    pub async fn next_event(&mut self, event: &str) -> Value {
        loop {
            let frame = self.next_frame().await;
            if frame[3] == event {
                return frame;
            }
        }
    }

    /// Joins with the recovery extension, offering `offered` (`{}` for none); returns the reply.
    pub async fn join(&mut self, topic: &str, params: Value, offered: Option<Value>) -> Value {
        let mut join = serde_json::json!(["1", "1", topic, "phx_join", params]);
        if let Some(offered) = offered {
            join.as_array_mut().expect("array").push(offered);
        }
        self.send(&join.to_string()).await;
        let reply = self.next_event("phx_reply").await;
        assert_eq!(reply[4]["status"], "ok", "{reply}");
        reply
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}

/// Opens a socket with these extra headers; `Err((status, body))` when the upgrade is refused.
pub async fn upgrade(url: &str, headers: &[(&'static str, String)]) -> Result<Client, (u16, String)> {
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(*name, tokio_tungstenite::tungstenite::http::HeaderValue::from_str(value).unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(Client::from_socket("client", socket)),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response.body().as_ref().map(|body| String::from_utf8_lossy(body).into_owned());
            Err((response.status().as_u16(), body.unwrap_or_default()))
        }
        Err(error) => panic!("upgrade failed for another reason: {error}"),
    }
}

/// Bytes from hex, as the transcripts write binary frames.
pub fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect()
}

/// Parses JSON, replacing the random parts of presence (`phx_ref`, `online_at`) with placeholders.
pub fn normalize(text: &str) -> Value {
    let mut value: Value = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));
    scrub(&mut value);
    value
}

fn scrub(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, inner) in object.iter_mut() {
                match key.as_str() {
                    "phx_ref" => *inner = Value::String("REF".into()),
                    "online_at" => *inner = Value::String("TIME".into()),
                    _ => scrub(inner),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// A plain HTTP/1.1 request to the relay; returns the status code and the body.
pub async fn http(relay: &TestRelay, method: &str, path: &str, body: &str) -> (u16, String) {
    http_with(relay, method, path, &[], body).await
}

/// [`http`] with extra header lines (`"name: value"`).
pub async fn http_with(relay: &TestRelay, method: &str, path: &str, headers: &[&str], body: &str) -> (u16, String) {
    http_at(relay.addr, method, path, headers, body).await
}

/// [`http_with`] to any address (a relay's API port, say).
pub async fn http_at(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &str,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(http_request(addr, method, path, headers, body).as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    http_response(&response).unwrap_or((0, String::new()))
}

/// One HTTP/1.1 request to `addr` that closes the connection after its answer, so the answer is read to the end.
pub fn http_request(addr: std::net::SocketAddr, method: &str, path: &str, headers: &[&str], body: &str) -> String {
    let headers: String = headers.iter().map(|header| format!("{header}\r\n")).collect();
    format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\n{headers}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The status and body of a whole HTTP/1.1 response; `None` when it has no status line.
pub fn http_response(response: &str) -> Option<(u16, String)> {
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    Some((status, body))
}

/// `GET /metrics` until its text satisfies `wanted` or five seconds pass; the last text either way.
pub async fn metrics_until(relay: &TestRelay, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, metrics) = http(relay, "GET", "/metrics", "").await;
        if wanted(&metrics) || Instant::now() > deadline {
            return metrics;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port").port()
}

/// Waits, blocking the thread, until `ready` says so; fails after `patience`.
pub fn wait_until(patience: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + patience;
    while !ready() {
        assert!(Instant::now() < deadline, "not ready within {patience:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
