//! A TCP proxy in front of the relay that cuts every connection through it at random moments, as a flaky network
//! does, so clients are tested against real sockets that die mid-frame.
//!
//! Just before each cut, for a random moment, what the relay sends is dropped while what the client sends still
//! goes through: a push then reaches the relay and is handled, but its reply is lost with the connection, which is
//! the case a client's resent push must not be handled twice in.

#![allow(dead_code, unreachable_pub)]

use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running proxy; it stops accepting and cutting when dropped, and the connections it carries end with it.
pub struct CutProxy {
    /// Where clients connect instead of the relay.
    pub addr: SocketAddr,
    cuts: Arc<AtomicU64>,
    tasks: [JoinHandle<()>; 2],
}

/// When to cut.
#[derive(Clone)]
pub struct Chaos {
    /// The time between cuts, drawn uniformly from this range.
    pub every_ms: RangeInclusive<u64>,
    /// How long before each cut the relay's frames are dropped, drawn uniformly from this range.
    pub mute_ms: RangeInclusive<u64>,
}

/// What the cutter tells the connections. Only connections hold receivers, so some are open while the sender counts
/// any.
#[derive(Clone, Copy, Default)]
struct Phase {
    /// Cuts so far: a connection drops both its sockets when this changes. A count, not a flag, so that a
    /// connection that wakes up late still sees that a cut happened.
    cuts: u64,
    /// The relay's bytes are being dropped.
    muted: bool,
}

impl CutProxy {
    /// Proxies a free loopback port to `target`, cutting as `chaos` says.
    pub async fn start(target: SocketAddr, chaos: Chaos) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("the proxy binds");
        let addr = listener.local_addr().expect("the proxy's address");
        let cuts = Arc::new(AtomicU64::new(0));
        let (phase, _) = watch::channel(Phase::default());
        let accepting = tokio::spawn(accept(listener, target, phase.clone()));
        let cutting = tokio::spawn(cut_at_random(phase, chaos, cuts.clone()));
        CutProxy { addr, cuts, tasks: [accepting, cutting] }
    }

    /// The relay's WebSocket URL through the proxy, with `query` appended.
    pub fn url(&self, query: &str) -> String {
        format!("ws://{}/socket/websocket{query}", self.addr)
    }

    /// Cuts that found at least one connection open.
    pub fn cuts(&self) -> u64 {
        self.cuts.load(Ordering::Relaxed)
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        // Aborting the cutter drops the watch sender, which ends every proxied connection too.
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

async fn accept(listener: TcpListener, target: SocketAddr, phase: watch::Sender<Phase>) {
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        let phase = phase.subscribe();
        tokio::spawn(async move {
            if let Ok(relay) = TcpStream::connect(target).await {
                carry(client, relay, phase).await;
            }
        });
    }
}

/// Copies both ways until the next cut (or the proxy's end), dropping the relay's bytes while muted.
async fn carry(client: TcpStream, relay: TcpStream, mut phase: watch::Receiver<Phase>) {
    let _ = client.set_nodelay(true);
    let _ = relay.set_nodelay(true);
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_relay, mut to_relay) = relay.into_split();
    let muted = phase.clone();
    let upstream = tokio::io::copy(&mut from_client, &mut to_relay);
    let downstream = async {
        let mut buffer = vec![0; 16 * 1024];
        // Once muted, muted until the cut: bytes after a hole must never reach the client, which would read them
        // as frames of a stream that TCP never delivers with a gap.
        let mut silenced = false;
        loop {
            let read = from_relay.read(&mut buffer).await?;
            if read == 0 {
                return Ok::<_, std::io::Error>(());
            }
            silenced |= muted.borrow().muted;
            if !silenced {
                to_client.write_all(&buffer[..read]).await?;
            }
        }
    };
    let born_after = phase.borrow_and_update().cuts;
    let cut = phase.wait_for(|now| now.cuts != born_after);
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
        // A cut, or the proxy is gone: both sockets drop here, mid-stream, with whatever was in flight.
        _ = cut => {}
    }
}

async fn cut_at_random(phase: watch::Sender<Phase>, chaos: Chaos, cuts: Arc<AtomicU64>) {
    let mut random = XorShift::from_entropy();
    loop {
        let mute = random.within(&chaos.mute_ms);
        let flow = random.within(&chaos.every_ms).saturating_sub(mute);
        tokio::time::sleep(Duration::from_millis(flow)).await;
        phase.send_modify(|phase| phase.muted = true);
        tokio::time::sleep(Duration::from_millis(mute)).await;
        let any_open = phase.receiver_count() > 0;
        if any_open {
            cuts.fetch_add(1, Ordering::Relaxed);
        }
        phase.send_modify(|phase| {
            phase.cuts += u64::from(any_open);
            phase.muted = false;
        });
    }
}

/// Marsaglia's xorshift64: plenty for spreading cuts, and no dependency.
struct XorShift(u64);

impl XorShift {
    /// Seeded from the process's hash randomness, so every run cuts at different moments.
    fn from_entropy() -> Self {
        XorShift(RandomState::new().hash_one(0u8) | 1)
    }

    /// A number drawn uniformly (near enough) from `range`.
    fn within(&mut self, range: &RangeInclusive<u64>) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        range.start() + self.0 % (range.end() - range.start() + 1)
    }
}
