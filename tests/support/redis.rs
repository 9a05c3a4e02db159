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
    /// A directory of its own, removed when it is dropped.
    dir: Option<std::path::PathBuf>,
}

impl Redis {
    pub fn start() -> Self {
        Redis::start_on(free_port())
    }

    pub fn start_on(port: u16) -> Self {
        Redis::start_with(port, &[])
    }

    /// A replica of the Redis on `master` (`--replicaof`), as a Sentinel setup has.
    pub fn start_replica_of(master: u16) -> Self {
        // A replica writes what it syncs to its directory: a temporary one, not the test's.
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("ferrocast-replica-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("the replica's directory");
        let mut replica = Redis::start_with(
            port,
            &["--replicaof", "127.0.0.1", &master.to_string(), "--dir", &dir.to_string_lossy()],
        );
        replica.dir = Some(dir);
        replica
    }

    /// A Redis that keeps its snapshot (`SAVE`) in `dir`, and loads it when started again there: one that comes back
    /// without what it took after the snapshot, as a replica that had not caught up does when it is made master.
    pub fn start_in(port: u16, dir: &std::path::Path) -> Self {
        Redis::start_with(port, &["--dir", &dir.to_string_lossy(), "--dbfilename", "dump.rdb"])
    }

    fn start_with(port: u16, extra: &[&str]) -> Self {
        let child = redis_server()
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("start redis-server (apt-get install redis-server, or cargo xtask test): {error}")
            });
        let redis = Redis { port, child: Some(child), dir: None };
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
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A Redis Cluster of the test's own: `masters` nodes (`--cluster-enabled yes`, no replicas), the 16384 slots split
/// evenly between them in order, joined with `CLUSTER MEET` (as `redis-cli --cluster create` does, without needing
/// redis-cli beside the server `FERROCAST_REDIS_SERVER` names); every node killed when dropped.
pub struct RedisCluster {
    pub nodes: Vec<Redis>,
}

impl RedisCluster {
    /// The total of a cluster's hash slots.
    pub const SLOTS: u16 = 16384;

    pub fn start(masters: u16) -> Self {
        let nodes: Vec<Redis> = (0..masters)
            .map(|_| {
                let port = free_port();
                let dir = std::env::temp_dir().join(format!("ferrocast-cluster-{}-{port}", std::process::id()));
                std::fs::create_dir_all(&dir).expect("the node's directory");
                let config = dir.join(format!("nodes-{port}.conf"));
                let mut node = Redis::start_with(
                    port,
                    &[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        &config.to_string_lossy(),
                        "--cluster-node-timeout",
                        "2000",
                        "--dir",
                        &dir.to_string_lossy(),
                    ],
                );
                node.dir = Some(dir);
                node
            })
            .collect();
        let cluster = RedisCluster { nodes };
        for (index, node) in cluster.nodes.iter().enumerate() {
            let (first, last) = cluster.slots_of(index);
            let added = node.command(&format!("CLUSTER ADDSLOTSRANGE {first} {last}"));
            assert!(added.as_deref().is_some_and(|reply| reply.starts_with("+OK")), "{added:?}");
            if index > 0 {
                let met = cluster.nodes[0].command(&format!("CLUSTER MEET 127.0.0.1 {}", node.port));
                assert!(met.as_deref().is_some_and(|reply| reply.starts_with("+OK")), "{met:?}");
            }
        }
        wait_until(Duration::from_secs(15), || {
            cluster.nodes.iter().all(|node| {
                node.command("CLUSTER INFO").is_some_and(|info| {
                    info.contains("cluster_state:ok") && info.contains(&format!("cluster_known_nodes:{masters}\r"))
                })
            })
        });
        cluster
    }

    /// The first and last slot of node `index`.
    pub fn slots_of(&self, index: usize) -> (u16, u16) {
        let count = self.nodes.len();
        let first = (usize::from(Self::SLOTS) * index / count) as u16;
        let last = (usize::from(Self::SLOTS) * (index + 1) / count) as u16 - 1;
        (first, last)
    }

    /// The node that has `slot`.
    pub fn node_of(&self, slot: u16) -> &Redis {
        let index = (0..self.nodes.len()).find(|index| slot <= self.slots_of(*index).1).expect("a slot below 16384");
        &self.nodes[index]
    }

    /// The slot of `key`, as the cluster says.
    pub fn keyslot(&self, key: &str) -> u16 {
        let reply = self.nodes[0].command(&format!("CLUSTER KEYSLOT {key}")).expect("an answer");
        reply.trim().strip_prefix(':').and_then(|slot| slot.parse().ok()).unwrap_or_else(|| panic!("{reply:?}"))
    }

    /// `redis+cluster://` naming its first `count` nodes.
    pub fn url(&self, count: usize) -> String {
        let nodes: Vec<String> = self.nodes.iter().take(count).map(|node| format!("127.0.0.1:{}", node.port)).collect();
        format!("redis+cluster://{}", nodes.join(","))
    }
}

/// `redis-server`: `cargo xtask test` installs it and names it; run by hand, it must be on PATH.
fn redis_server() -> Command {
    Command::new(std::env::var("FERROCAST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned()))
}

/// A Redis Sentinel of the test's own (`redis-server CONFIG --sentinel`) watching the master on `master` as
/// `name`, with a short down time (1 s) and failover timeout (2 s); killed when dropped.
pub struct Sentinel {
    pub port: u16,
    config: std::path::PathBuf,
    child: Option<Child>,
}

impl Sentinel {
    /// One sentinel, which alone may declare the master down.
    pub fn start(master: u16, name: &str) -> Self {
        Sentinel::start_with_quorum(master, name, 1)
    }

    /// A sentinel of several: `quorum` of them must agree the master is down.
    pub fn start_with_quorum(master: u16, name: &str, quorum: u32) -> Self {
        let port = free_port();
        // A sentinel rewrites its configuration file (what it learns of replicas, the other sentinels, failovers).
        let config = std::env::temp_dir().join(format!("ferrocast-sentinel-{}-{port}.conf", std::process::id()));
        let text = format!(
            "port {port}\nbind 127.0.0.1\ndaemonize no\ndir {dir}\n\
             sentinel monitor {name} 127.0.0.1 {master} {quorum}\n\
             sentinel down-after-milliseconds {name} 1000\n\
             sentinel failover-timeout {name} 2000\n\
             sentinel parallel-syncs {name} 1\n",
            dir = std::env::temp_dir().display()
        );
        std::fs::write(&config, text).expect("write the sentinel's configuration");
        let child = redis_server()
            .arg(&config)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("start redis-server --sentinel: {error}"));
        let sentinel = Sentinel { port, config, child: Some(child) };
        wait_until(Duration::from_secs(10), || {
            Redis::command_on(port, "PING").is_some_and(|reply| reply.starts_with("+PONG"))
        });
        sentinel
    }

    /// Sends one inline command; its reply (its first 512 bytes), or `None` if the sentinel is not there.
    pub fn command(&self, command: &str) -> Option<String> {
        Redis::command_on(self.port, command)
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.config);
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
