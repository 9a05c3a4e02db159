//! Opening many loopback connections: the file-descriptor limit, source addresses and WebSocket settings.
//!
//! One source address has about 28,000 ephemeral ports, and every closed connection holds its port in TIME_WAIT
//! for a minute, so a suite that opens tens of thousands of connections several times spreads them over
//! 127.0.0.1–127.0.0.8 (all of 127.0.0.0/8 is loopback on Linux); a process given a source block `b`
//! ([`set_source_block`], the `scale` children) uses 127.0.b.1–8 instead, so processes do not share ports. Each connection is one file descriptor here, so
//! counts are capped below the soft limit, raised first to the hard limit.

use crate::Result;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU8, Ordering};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// A generator's WebSocket connection, over plain TCP (`ws://`, no TLS).
pub(crate) type Ws = WebSocketStream<TcpStream>;

/// Descriptors kept free for everything that is not a measured connection (publisher, server pipes, logs).
const FD_MARGIN: u64 = 200;
/// Loopback source addresses connections are spread over.
const SOURCE_ADDRESSES: u8 = 8;

/// The third byte of this process's loopback source addresses (127.0.BLOCK.1–8).
static SOURCE_BLOCK: AtomicU8 = AtomicU8::new(0);

/// Spreads this process's connections over 127.0.`block`.1–8 rather than 127.0.0.1–8.
pub(crate) fn set_source_block(block: u8) {
    SOURCE_BLOCK.store(block, Ordering::Relaxed);
}

/// The connection count to use for `requested`, and a note when the descriptor limit lowered it.
pub(crate) struct Capped {
    /// Connections to open.
    pub count: usize,
    /// Why fewer than requested, for the output.
    pub note: Option<String>,
}

/// Raises the soft descriptor limit to the hard one and caps `requested` connections (plus `extra` other
/// descriptors the scenario opens) below it.
pub(crate) fn cap_connections(requested: usize, extra: usize) -> Capped {
    let limit = rlimit::increase_nofile_limit(u64::MAX)
        .or_else(|_| rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft))
        .unwrap_or(1024);
    let room = limit.saturating_sub(FD_MARGIN + extra as u64) as usize;
    if requested <= room {
        return Capped { count: requested, note: None };
    }
    Capped {
        count: room,
        note: Some(format!("capped at {room} connections (descriptor limit {limit} less a margin of {FD_MARGIN})")),
    }
}

/// The source address of the `index`th connection to `target`: spread over 127.0.0.1–8 (127.0.BLOCK.1–8 after
/// [`set_source_block`]) for a loopback IPv4 target, the system's choice otherwise.
pub(crate) fn source_address(target: SocketAddr, index: usize) -> Option<IpAddr> {
    match target.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => {
            let last = 1 + (index % SOURCE_ADDRESSES as usize) as u8;
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, SOURCE_BLOCK.load(Ordering::Relaxed), last)))
        }
        _ => None,
    }
}

/// A TCP connection to `target` from `source` (any port), with Nagle off: the generator's small frames must leave
/// when written, or latencies would measure the kernel's coalescing delay.
pub(crate) async fn tcp_connect(target: SocketAddr, source: Option<IpAddr>) -> Result<TcpStream> {
    let socket = if target.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if let Some(source) = source {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    let stream = socket.connect(target).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// WebSocket settings for a connection that reads up to `read_buffer` bytes at a time.
///
/// tungstenite zero-fills the free part of its read buffer before every read, including the read that finds the
/// socket drained, so a buffer far larger than what arrives costs more in memset than it saves in reads: with
/// 64 KiB, a thousand subscribers spent a quarter of the generator's CPU zeroing memory. 8 KiB still holds about
/// sixty 130-byte frames, so a subscriber that falls behind catches up many frames per read.
pub(crate) fn ws_config(read_buffer: usize) -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(read_buffer).write_buffer_size(read_buffer.min(16 * 1024))
}

/// A read buffer for connections that receive a lot (see [`ws_config`] for why not more).
pub(crate) const BUSY_READ_BUFFER: usize = 8 * 1024;
/// A read buffer for connections that mostly wait: thousands of them, so their buffers are the generator's memory.
pub(crate) const IDLE_READ_BUFFER: usize = 4 * 1024;
