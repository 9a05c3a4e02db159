//! The relay binary as a real process, on a free loopback port, killed when dropped: for the tests of several
//! relays on Redis, of the binary's start-up, and of its memory.

#![allow(dead_code, unreachable_pub)]

use super::redis::Redis;
use super::{free_port, http_request, http_response, wait_until};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The environment variable that names the relay binary (`cargo xtask test` sets it, as for the Node tests).
const BINARY_VAR: &str = "FERROCAST_RELAY_BIN";

/// The relay binary: `$FERROCAST_RELAY_BIN`, or `ferrocast-relay` in the directory of this test's profile
/// (`target/debug/`), where `cargo build -p ferrocast-relay` puts it. Only the relay's own tests get its path from
/// cargo (`CARGO_BIN_EXE_*`), and cargo builds it for no other package's tests, so it must be built first:
/// `cargo xtask test` does, as `tests/support/relay-process.mjs` expects for the Node tests.
pub fn binary() -> PathBuf {
    if let Some(binary) = std::env::var_os(BINARY_VAR).filter(|binary| !binary.is_empty()) {
        return PathBuf::from(binary);
    }
    // This test runs as `<target>/<profile>/deps/<test>-<hash>`.
    let test = std::env::current_exe().expect("the test's own path");
    let profile = test.parent().and_then(Path::parent).expect("the test is in <target>/<profile>/deps");
    let binary = profile.join(format!("ferrocast-relay{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "no relay binary at {}: build it first (cargo build -p ferrocast-relay, with --release for a release test \
         run), or set {BINARY_VAR}",
        binary.display()
    );
    binary
}

/// A relay binary on a port of its own.
pub struct RelayProcess {
    pub addr: SocketAddr,
    args: Vec<String>,
    child: Option<Child>,
}

impl RelayProcess {
    /// A relay on `redis`, with a short heartbeat and presence timeout, and `extra` arguments.
    pub fn start(redis: &Redis, extra: &[&str]) -> Self {
        RelayProcess::start_on_url(&redis.url(), extra)
    }

    /// A relay on the Redis at `url` (a proxy to one, say), as [`RelayProcess::start`].
    pub fn start_on_url(url: &str, extra: &[&str]) -> Self {
        let mut args: Vec<String> =
            ["--pubsub", url, "--presence-heartbeat-ms", "200", "--presence-timeout-ms", "1000"]
                .iter()
                .map(|arg| arg.to_string())
                .collect();
        args.extend(extra.iter().map(|arg| arg.to_string()));
        RelayProcess::start_with(SocketAddr::from(([127, 0, 0, 1], free_port())), args)
    }

    /// A relay on its own (no Redis), with `args` only.
    pub fn start_alone(args: &[&str]) -> Self {
        let args = args.iter().map(|arg| arg.to_string()).collect();
        RelayProcess::start_with(SocketAddr::from(([127, 0, 0, 1], free_port())), args)
    }

    fn start_with(addr: SocketAddr, args: Vec<String>) -> Self {
        let child = Command::new(binary())
            .arg("--listen")
            .arg(addr.to_string())
            .args(&args)
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run the relay");
        let relay = RelayProcess { addr, args, child: Some(child) };
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
        *self = RelayProcess::start_with(self.addr, self.args.clone());
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/socket/websocket?vsn=2.0.0", self.addr)
    }

    /// A plain HTTP/1.1 request; `(status, body)`, or `None` if the relay does not answer.
    pub fn http(&self, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(self.addr).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream.write_all(http_request(self.addr, method, path, &[], body).as_bytes()).ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        http_response(&response)
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

    /// Its resident memory now (`VmRSS:`) or at its peak so far (`VmHWM:`), in KiB, from `/proc`.
    pub fn memory_kib(&self, field: &str) -> u64 {
        let pid = self.child.as_ref().expect("the relay is running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
        let line = status.lines().find(|line| line.starts_with(field)).expect("the field");
        line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("a size in kB")
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
