//! A Redis server of a test's own, on a free loopback port, killed when dropped. Shared with the workspace's
//! cross-crate tests (`tests/chaos.rs` includes this file).

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port").port()
}

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

pub fn wait_until(patience: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + patience;
    while !ready() {
        assert!(Instant::now() < deadline, "not ready within {patience:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
