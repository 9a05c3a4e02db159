//! A Redis server of a test's own, on a free loopback port, killed when dropped; and a proxy to it that can cut
//! the way there.

#![allow(dead_code, unreachable_pub)]

use super::{free_port, wait_until};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A Redis server of the test's own, without persistence, so a restart loses everything as a real crash of an
/// unpersisted Redis does.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Self {
        Redis::start_on(free_port())
    }

    pub fn start_on(port: u16) -> Self {
        // `cargo xtask test` installs redis-server and names it; run by hand, it must be on PATH.
        let program = std::env::var("FERROCAST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned());
        let child = Command::new(&program)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("start {program} (apt-get install redis-server, or cargo xtask test): {error}")
            });
        let redis = Redis { port, child: Some(child) };
        wait_until(Duration::from_secs(10), || redis.command("PING").is_some_and(|reply| reply.starts_with("+PONG")));
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends one inline command; its reply's first line, or `None` if Redis is not there.
    pub fn command(&self, command: &str) -> Option<String> {
        Redis::command_on(self.port, command)
    }

    /// [`Redis::command`] to the Redis on `port`.
    pub fn command_on(port: u16, command: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream.write_all(format!("{command}\r\n").as_bytes()).ok()?;
        let mut reply = [0u8; 512];
        let read = stream.read(&mut reply).ok()?;
        Some(String::from_utf8_lossy(&reply[..read]).into_owned())
    }

    /// Kills it at once, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
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
