//! Bad input from the network that the other suites do not already send: each gets a clear answer, closes only
//! its own connection, and leaves the relay serving. SECURITY.md lists every bad input with the test that sends it.

mod support;

use ferrocast_relay::{CLOSE_MALFORMED, CLOSE_NOT_UTF8, Config};
use std::time::Duration;
use support::{Client, TestRelay, http};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A text frame whose payload is not UTF-8, masked as a client must: FIN + text, mask bit + length, a zero mask.
fn text_frame_not_utf8() -> Vec<u8> {
    let payload = [b'[', 0xff, 0xfe, b']'];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(&payload);
    frame
}

/// Opens a WebSocket by hand and returns the raw stream once the 101 is read.
async fn raw_socket(relay: &TestRelay) -> tokio::net::TcpStream {
    let mut tcp = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    let request = format!(
        "GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nhost: {}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n",
        relay.addr
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    tcp
}

/// Reads frames until the server's close frame, and returns its code.
async fn close_code(tcp: &mut tokio::net::TcpStream) -> u16 {
    let mut received = Vec::new();
    loop {
        // A server frame: opcode byte, unmasked length byte (short frames), payload.
        if received.len() >= 2 {
            let length = usize::from(received[1] & 0x7f);
            if received.len() >= 2 + length {
                if received[0] & 0x0f == 0x8 {
                    return u16::from_be_bytes([received[2], received[3]]);
                }
                received.drain(..2 + length);
                continue;
            }
        }
        let mut buffer = [0u8; 1024];
        let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buffer)).await.unwrap().unwrap();
        assert!(read > 0, "closed without a close frame");
        received.extend_from_slice(&buffer[..read]);
    }
}

async fn gauge(relay: &TestRelay, name: &str) -> String {
    let (_, metrics) = http(relay, "GET", "/metrics", "").await;
    metrics.lines().find(|line| line.starts_with(&format!("{name} "))).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_text_message_that_is_not_utf8_closes_with_1007() {
    let relay = TestRelay::start(Config::default()).await;
    let mut tcp = raw_socket(&relay).await;
    tcp.write_all(&text_frame_not_utf8()).await.unwrap();
    assert_eq!(close_code(&mut tcp).await, CLOSE_NOT_UTF8);
}

#[tokio::test]
async fn binary_garbage_closes_with_1011_and_only_that_socket() {
    let relay = TestRelay::start(Config::default()).await;
    let mut other = Client::connect("other", &relay.url("?vsn=2.0.0")).await;
    // An unknown kind, an empty header, a header longer than the frame, a kind only servers send.
    for garbage in [vec![0xff; 64], vec![0], vec![0, 200, 200, 200], vec![2, 1, 2, 3]] {
        let mut client = Client::connect("garbage", &relay.url("?vsn=2.0.0")).await;
        client.send_binary(garbage).await;
        client.expect_close(CLOSE_MALFORMED).await;
    }
    other.send(r#"[null,"1","phoenix","heartbeat",{}]"#).await;
    other.expect(r#"[null,"1","phoenix","phx_reply",{"status":"ok","response":{}}]"#).await;
}

#[tokio::test]
async fn a_half_open_connection_is_closed_by_the_idle_timeout_and_forgotten() {
    let relay = TestRelay::start(Config { idle_timeout: Duration::from_millis(300), ..Config::default() }).await;
    // The peer upgrades, then neither sends nor reads: what a vanished client looks like from the server.
    let _silent = raw_socket(&relay).await;
    assert_eq!(gauge(&relay, "ferrocast_connections").await, "ferrocast_connections 1");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while gauge(&relay, "ferrocast_connections").await != "ferrocast_connections 0" {
        assert!(std::time::Instant::now() < deadline, "the half-open connection is still counted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(gauge(&relay, "ferrocast_idle_timeouts_total").await, "ferrocast_idle_timeouts_total 1");
}

#[tokio::test]
async fn a_payload_a_channel_cannot_use_gets_an_error_reply_that_says_what_it_expects() {
    let relay = TestRelay::start(Config::default()).await;
    let mut client = Client::connect("client", &relay.url("?vsn=2.0.0")).await;
    client.send(r#"["1","1","zone:v","phx_join",{"user_id":"ada","permissions":2}]"#).await;
    loop {
        if client.next_json().await[3] == "phx_reply" {
            break;
        }
    }
    for (n, payload) in [r#"{"resource":"water","amount":-5}"#, r#"{"resource":"water","amount":"lots"}"#, "[1,2]"]
        .into_iter()
        .enumerate()
    {
        client.send(&format!(r#"["1","p{n}","zone:v","consume_resource",{payload}]"#)).await;
        let reply = loop {
            let frame = client.next_json().await;
            if frame[3] == "phx_reply" {
                break frame;
            }
        };
        assert_eq!(reply[4]["status"], "error", "{payload}: {reply}");
        let reason = reply[4]["response"]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("amount: positive integer"), "{payload}: {reply}");
    }
}
