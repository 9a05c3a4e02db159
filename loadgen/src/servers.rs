//! Starting the servers the suite compares, each on a free loopback port, and making sure they stop.
//!
//! A server's output goes to a log file of its own (the relay logs to stderr). It counts as up once its port
//! accepts a connection. Dropping a [`Server`] kills it, so an error or Ctrl-C anywhere in the suite leaves no
//! process behind.

use crate::Result;
use crate::dialect::Dialect;
use crate::target::Target;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// How long a server may take to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// The servers the suite knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The Ferrocast relay.
    Relay,
    /// The tokio-tungstenite baseline.
    Minimal,
    /// The Node Socket.IO baseline.
    SocketIo,
}

impl Kind {
    /// Its name in tables and file names.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Relay => "relay",
            Kind::Minimal => "minimal",
            Kind::SocketIo => "socket.io",
        }
    }

    /// The protocol it speaks.
    pub fn dialect(self) -> Dialect {
        match self {
            Kind::Relay | Kind::Minimal => Dialect::Phoenix,
            Kind::SocketIo => Dialect::Socketio,
        }
    }
}

/// Where each server's program is.
#[derive(Debug, Clone)]
pub struct Programs {
    /// `ferrocast-relay`.
    pub relay: PathBuf,
    /// `minimal-server`.
    pub minimal: PathBuf,
    /// The directory of `server.mjs`, when Node and its modules are there.
    pub socketio_dir: Option<PathBuf>,
    /// Where logs go.
    pub log_dir: PathBuf,
}

/// A running server, killed when dropped.
pub struct Server {
    /// Which one.
    pub kind: Kind,
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

impl Server {
    /// Starts `kind` on a free port, logging to `{log_dir}/{name}-{label}.log`, and waits until it accepts.
    pub async fn start(kind: Kind, programs: &Programs, label: &str) -> Result<Server> {
        let addr = free_port()?;
        let mut command = match kind {
            Kind::Relay => {
                let mut command = Command::new(&programs.relay);
                command.arg("--listen").arg(addr.to_string()).env("RUST_LOG", "warn");
                // The echo scenario sends 10,000 requests a second on one socket, far over a page's rate limit;
                // the baselines limit nothing either.
                command.args(["--rate-limit", "10000000", "--rate-burst", "10000000"]);
                command
            }
            Kind::Minimal => {
                let mut command = Command::new(&programs.minimal);
                command.arg("--listen").arg(addr.to_string());
                command
            }
            Kind::SocketIo => {
                let dir = programs.socketio_dir.as_ref().ok_or("no Socket.IO directory")?;
                let mut command = Command::new("node");
                command.arg("server.mjs").arg("--port").arg(addr.port().to_string()).current_dir(dir);
                command
            }
        };
        std::fs::create_dir_all(&programs.log_dir)?;
        let log = std::fs::File::create(programs.log_dir.join(format!("{}-{label}.log", kind.name())))?;
        command.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log).kill_on_drop(true);
        let child = command.spawn().map_err(|error| format!("starting {}: {error}", kind.name()))?;
        let mut server = Server { kind, addr, child };
        server.wait_until_accepting().await?;
        Ok(server)
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The target scenarios drive.
    pub fn target(&self) -> Target {
        Target::local(self.kind.dialect(), self.addr, self.pid())
    }

    /// Kills the server and waits for it to be gone.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }

    async fn wait_until_accepting(&mut self) -> Result<()> {
        let deadline = tokio::time::Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("{} exited at startup ({status}); see its log", self.kind.name()).into());
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(
                    format!("{} did not accept connections within {STARTUP_TIMEOUT:?}", self.kind.name()).into()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> Result<SocketAddr> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?)
}

/// Why the Socket.IO baseline cannot run from `dir`, if it cannot: Node missing, or its modules not installed.
pub fn socketio_unavailable(dir: &Path) -> Option<String> {
    if !dir.join("server.mjs").is_file() {
        return Some(format!("no server.mjs in {}", dir.display()));
    }
    if !dir.join("node_modules").join("socket.io").is_dir() {
        return Some(format!("no node_modules in {} (run `npm ci` there)", dir.display()));
    }
    match std::process::Command::new("node").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(status) if status.success() => None,
        _ => Some("node is not installed".to_owned()),
    }
}
