//! The relay's memory per idle joined connection, measured on a real relay process.
//!
//! axum's default WebSocket buffers cost ~135 KiB per idle connection; the relay reads through 4 KiB and keeps
//! no write buffer, so an idle joined connection should cost a small fraction of that. This prints the figure and
//! fails if it regresses towards the defaults.

use futures_util::{SinkExt, StreamExt};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

const CONNECTIONS: usize = 2_000;

struct Relay(Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the relay's /proc status");
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("VmRSS in kB")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_joined_connection_costs_a_few_kib() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("no /proc here: skipping the memory measurement");
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_ferrocast-relay"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("the relay starts");
    let relay = Relay(child);
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(10), "the relay listens within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let url = format!("ws://127.0.0.1:{port}/socket/websocket?vsn=2.0.0");

    // Warm up (the first connections allocate the runtime's and allocator's pools), then measure the next batch.
    let mut sockets = Vec::with_capacity(CONNECTIONS + 100);
    let join = r#"["1","1","room:idle","phx_join",{"no_presence":true}]"#;
    for _ in 0..100 {
        let (mut socket, _) = connect_async(url.as_str()).await.expect("connect");
        socket.send(Message::text(join)).await.unwrap();
        socket.next().await.unwrap().unwrap();
        sockets.push(socket);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_kib(relay.0.id());
    for _ in 0..CONNECTIONS {
        let (mut socket, _) = connect_async(url.as_str()).await.expect("connect");
        socket.send(Message::text(join)).await.unwrap();
        let reply = socket.next().await.unwrap().unwrap();
        assert!(reply.to_text().unwrap().contains(r#""status":"ok""#));
        sockets.push(socket);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = rss_kib(relay.0.id());
    let per_connection = (after.saturating_sub(before)) as f64 / CONNECTIONS as f64;
    println!(
        "relay RSS: {before} KiB -> {after} KiB for {CONNECTIONS} idle joined connections: {per_connection:.1} KiB each"
    );
    assert!(per_connection < 32.0, "{per_connection:.1} KiB per idle joined connection");
    drop(sockets);
}
