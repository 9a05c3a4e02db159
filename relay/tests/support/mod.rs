//! Real processes for the cluster tests: a Redis server and relay binaries, each on a free loopback port, killed
//! when dropped; and a raw client for the relays' WebSocket and HTTP.

#![allow(dead_code, unreachable_pub)]

mod redis;

pub use redis::{Redis, free_port, wait_until};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const RELAY: &str = env!("CARGO_BIN_EXE_ferrocast-relay");

/// A relay binary on a port of its own.
pub struct Relay {
    pub addr: SocketAddr,
    args: Vec<String>,
    child: Option<Child>,
}

impl Relay {
    /// A relay on `redis`, with a short heartbeat and presence timeout, and `extra` arguments.
    pub fn start(redis: &Redis, extra: &[&str]) -> Self {
        Relay::start_on_url(&redis.url(), extra)
    }

    /// A relay on the Redis at `url` (a proxy to one, say), as [`Relay::start`].
    pub fn start_on_url(url: &str, extra: &[&str]) -> Self {
        let mut args: Vec<String> =
            ["--pubsub", url, "--presence-heartbeat-ms", "200", "--presence-timeout-ms", "1000"]
                .iter()
                .map(|arg| arg.to_string())
                .collect();
        args.extend(extra.iter().map(|arg| arg.to_string()));
        Relay::start_with(SocketAddr::from(([127, 0, 0, 1], free_port())), args)
    }

    fn start_with(addr: SocketAddr, args: Vec<String>) -> Self {
        let child = Command::new(RELAY)
            .arg("--listen")
            .arg(addr.to_string())
            .args(&args)
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run the relay");
        let relay = Relay { addr, args, child: Some(child) };
        wait_until(Duration::from_secs(15), || {
            relay.http("GET", "/healthz", "").is_some_and(|(status, _)| status == 200)
        });
        relay
    }

    /// Kills it with SIGKILL: no goodbye to the other relays.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills it and starts it again on the same port with the same arguments.
    pub fn restart(&mut self) {
        self.kill();
        *self = Relay::start_with(self.addr, self.args.clone());
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/socket/websocket?vsn=2.0.0", self.addr)
    }

    /// A plain HTTP/1.1 request; `(status, body)`, or `None` if the relay does not answer.
    pub fn http(&self, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(self.addr).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        stream.write_all(request.as_bytes()).ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let status = response.split(' ').nth(1)?.parse().ok()?;
        let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
        Some((status, body))
    }

    /// Publishes through `POST /api/broadcast`.
    pub fn publish(&self, topic: &str, event: &str, payload: &Value) {
        let body = serde_json::json!({ "topic": topic, "event": event, "payload": payload }).to_string();
        let (status, response) = self.http("POST", "/api/broadcast", &body).expect("the relay answers");
        assert_eq!(status, 200, "{response}");
    }

    /// One metric's value from `GET /metrics`.
    pub fn metric(&self, name: &str) -> u64 {
        let (_, text) = self.http("GET", "/metrics", "").expect("metrics");
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw Phoenix V2 client that reads JSON frames.
pub struct Client {
    socket: Socket,
}

impl Client {
    pub async fn connect(url: &str) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap_or_else(|error| panic!("{url}: {error}"));
        Client { socket }
    }

    pub async fn send(&mut self, frame: &Value) {
        self.socket.send(Message::Text(frame.to_string().into())).await.expect("send");
    }

    /// The next JSON frame, within `patience`.
    pub async fn next_within(&mut self, patience: Duration) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(patience, self.socket.next()).await.ok()??.ok()?;
            if let Message::Text(text) = message {
                return Some(serde_json::from_str(&text).expect("a JSON frame"));
            }
        }
    }

    pub async fn next(&mut self) -> Value {
        self.next_within(Duration::from_secs(10)).await.expect("a frame within 10 s")
    }

    /// The next frame of `event`, skipping others (presence, replies).
    pub async fn next_event(&mut self, event: &str) -> Value {
        loop {
            let frame = self.next().await;
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
        self.send(&join).await;
        let reply = self.next_event("phx_reply").await;
        assert_eq!(reply[4]["status"], "ok", "{reply}");
        reply
    }
}

/// A TCP proxy to a Redis that can be held: while held it cuts the connections it carries and refuses new ones, as
/// a network between one relay and Redis that fails would.
pub struct HoldProxy {
    pub port: u16,
    held: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl HoldProxy {
    pub async fn start(target_port: u16) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let held = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (accepting_held, accepting_cut) = (held.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if accepting_held.load(Ordering::SeqCst) {
                    continue; // Dropped: refused.
                }
                let mut cut = accepting_cut.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        HoldProxy { port, held, cut }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Cuts every connection and refuses new ones until [`HoldProxy::release`].
    pub fn hold(&self) {
        self.held.store(true, std::sync::atomic::Ordering::SeqCst);
        self.cut.send_modify(|generation| *generation += 1);
    }

    pub fn release(&self) {
        self.held.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}
