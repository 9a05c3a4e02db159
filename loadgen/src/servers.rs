//! Starting the servers the suite compares, each on a free loopback port, and making sure they stop.
//!
//! A server's output goes to a log file of its own (the relay logs to stderr). It counts as up once its port
//! accepts a connection; a relay on Redis, once it answers `GET /healthz` (it binds its port before it has reached
//! Redis, and serves only after). A [`Redis`] counts as up once it answers `PING`, and a Node helper (a hooks
//! [`Backend`], or the webhooks run's receiver) once it prints the port it listens on. Dropping a [`Server`], a
//! [`Redis`] or a [`Backend`] kills it, so an error or Ctrl-C anywhere in the suite leaves no process behind.

use crate::Result;
use crate::dialect::Dialect;
use crate::target::Target;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How many times a server whose port was taken is started (see [`Server::start_with`]).
const START_ATTEMPTS: u32 = 3;
/// How long a server may take to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// The servers the suite knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The Ferrocast relay: the server measured, the others being baselines.
    Relay,
    /// The tokio-tungstenite baseline.
    Minimal,
    /// The Node Socket.IO baseline.
    SocketIo,
}

impl Kind {
    /// Its name in tables and file names.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Relay => "relay",
            Kind::Minimal => "minimal",
            Kind::SocketIo => "socket.io",
        }
    }

    /// The protocol it speaks.
    pub(crate) fn dialect(self) -> Dialect {
        match self {
            Kind::Relay | Kind::Minimal => Dialect::Phoenix,
            Kind::SocketIo => Dialect::Socketio,
        }
    }
}

/// Where each server's program is.
#[derive(Debug, Clone)]
pub(crate) struct Programs {
    /// `ferrocast-relay`.
    pub relay: PathBuf,
    /// `minimal-server`.
    pub minimal: PathBuf,
    /// The directory of `server.mjs`, when Node and its modules are there.
    pub socketio_dir: Option<PathBuf>,
    /// The push backend of the `hooks` run, when Node can run it; `None` skips that run.
    pub hooks_backend: Option<PathBuf>,
    /// The webhook receiver of the `webhooks` run, when Node can run it; `None` skips that run.
    pub webhooks_receiver: Option<PathBuf>,
    /// `redis-server`, for the relays that share one; `None` skips the runs that need it.
    pub redis_server: Option<PathBuf>,
    /// Where logs go.
    pub log_dir: PathBuf,
}

impl Programs {
    /// Relays on a Redis and nothing else, as the runs of many relays start them.
    pub(crate) fn relays_on_redis(relay: PathBuf, redis_server: PathBuf, log_dir: PathBuf) -> Self {
        Programs {
            minimal: relay.clone(),
            relay,
            socketio_dir: None,
            hooks_backend: None,
            webhooks_receiver: None,
            redis_server: Some(redis_server),
            log_dir,
        }
    }
}

/// A running server, killed when dropped.
pub(crate) struct Server {
    /// Which server it is: its name in logs and tables, and the protocol it speaks.
    pub kind: Kind,
    /// Where it listens.
    pub addr: SocketAddr,
    /// A relay's backend API port (`--api-listen`), where the HTTP publisher POSTs.
    pub api: Option<SocketAddr>,
    child: Child,
}

impl Server {
    /// Starts `kind` on a free port, logging to `{log_dir}/{name}-{label}.log`, and waits until it accepts.
    pub(crate) async fn start(kind: Kind, programs: &Programs, label: &str) -> Result<Server> {
        Server::start_with(kind, programs, label, None, &[]).await
    }

    /// Starts a relay that shares its topics with the other relays on the Redis at `redis_url` (`--pubsub`), with
    /// `args` added to its usual flags (`--presence-timeout-ms …`), and waits until it serves.
    pub(crate) async fn start_relay_on_redis(
        programs: &Programs,
        label: &str,
        redis_url: &str,
        args: &[String],
    ) -> Result<Server> {
        Server::start_with(Kind::Relay, programs, label, Some(redis_url), args).await
    }

    /// Starts a relay with `args` added to its usual flags (`--proxy-push …`), and waits until it accepts.
    pub(crate) async fn start_relay_with(programs: &Programs, label: &str, args: &[String]) -> Result<Server> {
        Server::start_with(Kind::Relay, programs, label, None, args).await
    }

    /// [`Server::start_once`], again (up to [`START_ATTEMPTS`] times) when the server could not bind a port it was
    /// given: [`free_port`] frees its port before the server binds it, and another process (a relay's connection to
    /// Redis, from an ephemeral port) may take it in between.
    async fn start_with(
        kind: Kind,
        programs: &Programs,
        label: &str,
        redis_url: Option<&str>,
        relay_args: &[String],
    ) -> Result<Server> {
        let mut attempt = 1;
        loop {
            match Server::start_once(kind, programs, label, redis_url, relay_args).await {
                Err(error) if attempt < START_ATTEMPTS && port_was_taken(&programs.log_dir, kind, label) => {
                    eprintln!(
                        "{} ({label}): its port was taken before it bound it ({error}); starting it again",
                        kind.name()
                    );
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn start_once(
        kind: Kind,
        programs: &Programs,
        label: &str,
        redis_url: Option<&str>,
        relay_args: &[String],
    ) -> Result<Server> {
        let addr = free_port()?;
        let mut api = None;
        let mut command = match kind {
            Kind::Relay => {
                let mut command = Command::new(&programs.relay);
                command.arg("--listen").arg(addr.to_string()).env("RUST_LOG", "warn");
                // Backends publish to the API port, as the relay's deployment notes advise.
                let api_addr = free_port()?;
                command.arg("--api-listen").arg(api_addr.to_string());
                api = Some(api_addr);
                // The echo scenario sends 10,000 requests a second on one socket, far over a page's rate limit;
                // the baselines limit nothing either.
                command.args(["--rate-limit", "10000000", "--rate-burst", "10000000"]);
                if let Some(url) = redis_url {
                    command.args(["--pubsub", url]);
                }
                command.args(relay_args);
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
        let log = std::fs::File::create(log_path(&programs.log_dir, kind, label))?;
        command.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log).kill_on_drop(true);
        let child = command.spawn().map_err(|error| format!("starting {}: {error}", kind.name()))?;
        let mut server = Server { kind, addr, api, child };
        server.wait_until_accepting().await?;
        if redis_url.is_some() {
            server.wait_until_serving().await?;
        }
        Ok(server)
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The target scenarios drive.
    pub(crate) fn target(&self) -> Target {
        Target { api: self.api, ..Target::local(self.kind.dialect(), self.addr, self.pid()) }
    }

    /// Kills the server and waits for it to be gone.
    pub(crate) async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }

    async fn wait_until_accepting(&mut self) -> Result<()> {
        let addr = self.addr;
        let accepting = || async move { tokio::net::TcpStream::connect(addr).await.is_ok() };
        wait_for(&mut self.child, self.kind.name(), "accept connections", accepting).await
    }
}

impl Server {
    /// Polls `GET /healthz` until it answers 200: a relay on Redis accepts connections before it serves them.
    async fn wait_until_serving(&mut self) -> Result<()> {
        let addr = self.addr;
        let serving = || async move {
            matches!(tokio::time::timeout(Duration::from_secs(1), http_get(addr, "/healthz")).await, Ok(Ok((200, _))))
        };
        wait_for(&mut self.child, self.kind.name(), "serve /healthz", serving).await
    }
}

/// A Redis server on a free loopback port, saving nothing, for relays to share; killed when dropped.
pub(crate) struct Redis {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

impl Redis {
    /// Starts `binary` as a Redis server, logging to `{log_dir}/redis-{label}.log`, and waits until it answers
    /// `PING`.
    pub(crate) async fn start(binary: &Path, log_dir: &Path, label: &str) -> Result<Redis> {
        let addr = free_port()?;
        std::fs::create_dir_all(log_dir)?;
        let log = std::fs::File::create(log_dir.join(format!("redis-{label}.log")))?;
        let mut command = Command::new(binary);
        command.args(["--port", &addr.port().to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        // Its working directory is where it would write files, were it asked to: the log directory, not ours.
        command.current_dir(log_dir);
        command.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log).kill_on_drop(true);
        let child = command.spawn().map_err(|error| format!("starting {}: {error}", binary.display()))?;
        let mut redis = Redis { addr, child };
        redis.wait_until_ready().await?;
        Ok(redis)
    }

    /// The URL relays are given: `redis://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the server and waits for it to be gone.
    pub(crate) async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }

    async fn wait_until_ready(&mut self) -> Result<()> {
        let addr = self.addr;
        // Not `-LOADING` or a refused connection: `+PONG` is ready.
        let ready =
            || async move { matches!(tokio::time::timeout(Duration::from_secs(1), ping(addr)).await, Ok(Ok(true))) };
        wait_for(&mut self.child, "redis-server", "answer PING", ready).await
    }
}

/// The Node push backend of the `hooks` scenario (`loadgen/hooks/backend.mjs`) on a free loopback port; killed when
/// dropped, and it exits by itself when its stdin (held here) closes.
pub(crate) struct Backend {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    // Held open: the backend exits when its stdin closes. Its stdout is kept too, so it never writes to a closed pipe.
    _stdin: Option<ChildStdin>,
    _stdout: BufReader<ChildStdout>,
}

impl Backend {
    /// Starts `node script`, its stderr to `{log_dir}/backend-{label}.log`, and waits until it prints
    /// `listening <port>`.
    pub(crate) async fn start(script: &Path, log_dir: &Path, label: &str) -> Result<Backend> {
        Backend::start_with(script, &[], log_dir, &format!("backend-{label}")).await
    }

    /// Starts `node script args…`, its stderr to `{log_dir}/{log_name}.log`, and waits until it prints
    /// `listening <port>`.
    pub(crate) async fn start_with(script: &Path, args: &[String], log_dir: &Path, log_name: &str) -> Result<Backend> {
        std::fs::create_dir_all(log_dir)?;
        let log = std::fs::File::create(log_dir.join(format!("{log_name}.log")))?;
        let mut command = Command::new("node");
        command.arg(script).args(args);
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(log).kill_on_drop(true);
        let mut child = command.spawn().map_err(|error| format!("starting node {}: {error}", script.display()))?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().ok_or("a Node helper without a stdout")?);
        let mut line = String::new();
        let read = tokio::time::timeout(STARTUP_TIMEOUT, stdout.read_line(&mut line)).await;
        let port = match read {
            Ok(Ok(_)) => line.trim().strip_prefix("listening ").and_then(|port| port.parse::<u16>().ok()),
            Ok(Err(error)) => return Err(format!("reading {log_name}'s output: {error}").into()),
            Err(_) => return Err(format!("{log_name} did not listen within {STARTUP_TIMEOUT:?}").into()),
        };
        let port = port.ok_or_else(|| format!("{log_name} printed {line:?}, not `listening <port>`; see its log"))?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        Ok(Backend { addr, child, _stdin: stdin, _stdout: stdout })
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the backend and waits for it to be gone.
    pub(crate) async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// Polls `ready` every 50 ms until it holds; fails if `child` (`name`) exits first, or after [`STARTUP_TIMEOUT`],
/// saying what it did not do.
async fn wait_for<F: std::future::Future<Output = bool>>(
    child: &mut Child,
    name: &str,
    what: &str,
    mut ready: impl FnMut() -> F,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            return Err(format!("{name} exited at startup ({status}); see its log").into());
        }
        if ready().await {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("{name} did not {what} within {STARTUP_TIMEOUT:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the Redis server at `addr` answers `PING` with `+PONG`.
async fn ping(addr: SocketAddr) -> Result<bool> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(b"PING\r\n").await?;
    let mut reply = Vec::new();
    let mut chunk = [0; 64];
    while !reply.ends_with(b"\r\n") && reply.len() < 64 {
        match stream.read(&mut chunk).await? {
            0 => break,
            read => reply.extend_from_slice(&chunk[..read]),
        }
    }
    Ok(reply.starts_with(b"+PONG\r\n"))
}

/// The `field:value` lines of `INFO section` from the Redis server at `addr` (`used_memory`, `used_cpu_sys`, …).
pub(crate) async fn redis_info(addr: SocketAddr, section: &str) -> Result<Vec<(String, String)>> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(format!("INFO {section}\r\nQUIT\r\n").as_bytes()).await?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await?;
    let reply = String::from_utf8_lossy(&reply);
    if !reply.starts_with('$') {
        return Err(format!("INFO {section} answered {:?}", reply.lines().next().unwrap_or("")).into());
    }
    Ok(parse_info(&reply))
}

/// The `field:value` lines of an INFO reply (its `$len` line, `# Section` headers and `+OK` are not).
fn parse_info(reply: &str) -> Vec<(String, String)> {
    reply
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(field, value)| (field.to_owned(), value.trim().to_owned()))
        .collect()
}

/// The servers of one run of the suite, all stopped together.
pub(crate) enum Deployment {
    /// One server on its own: the relay, or a baseline.
    Single(Server),
    /// Relays sharing their topics through one Redis.
    RelaysOnRedis {
        /// The relays, in the order they started (`A`, `B`, …).
        relays: Vec<Server>,
        /// Their Redis.
        redis: Redis,
    },
    /// A relay whose push hook calls a backend.
    RelayWithBackend {
        /// The relay, started with `--proxy-push` to the backend.
        relay: Server,
        /// The backend (boxed: a child process and its pipes are large).
        backend: Box<Backend>,
    },
    /// A relay whose webhook POSTs to a receiver, its queue in memory or on a Redis of its own.
    RelayWithReceiver {
        /// The relay, started with `--webhook` to the receiver (and `--pubsub` to `redis`, if any).
        relay: Server,
        /// The receiver (boxed, as a backend).
        receiver: Box<Backend>,
        /// The Redis the relay keeps its webhooks' queue on (boxed, as the receiver); `None` for the queue in memory.
        redis: Option<Box<Redis>>,
    },
}

impl Deployment {
    /// Starts one Redis, then `count` relays on it, logging to `relay-{label}-a.log` and so on.
    pub(crate) async fn relays_on_redis(programs: &Programs, label: &str, count: usize) -> Result<Deployment> {
        Deployment::relays_on_redis_with(programs, label, count, &[]).await
    }

    /// [`Deployment::relays_on_redis`], each relay with `args` added to its usual flags.
    pub(crate) async fn relays_on_redis_with(
        programs: &Programs,
        label: &str,
        count: usize,
        args: &[String],
    ) -> Result<Deployment> {
        let binary = programs.redis_server.as_ref().ok_or("no redis-server to run")?;
        let redis = Redis::start(binary, &programs.log_dir, label).await?;
        let mut relays = Vec::with_capacity(count);
        for letter in ('a'..='z').take(count) {
            let label = format!("{label}-{letter}");
            // On an error here, `relays` and `redis` are dropped, which kills them.
            relays.push(Server::start_relay_on_redis(programs, &label, &redis.url(), args).await?);
        }
        Ok(Deployment::RelaysOnRedis { relays, redis })
    }

    /// Starts the push backend `script`, then a relay that hands it the pushes on the topics matching `pattern`,
    /// logging to `backend-{label}.log` and `relay-{label}.log`.
    pub(crate) async fn relay_with_backend(
        programs: &Programs,
        label: &str,
        script: &Path,
        pattern: &str,
    ) -> Result<Deployment> {
        let backend = Backend::start(script, &programs.log_dir, label).await?;
        let push = format!("{pattern}=http://{}/push", backend.addr);
        // On an error here, `backend` is dropped, which kills it.
        let relay = Server::start_relay_with(programs, label, &["--proxy-push".to_owned(), push]).await?;
        Ok(Deployment::RelayWithBackend { relay, backend: Box::new(backend) })
    }

    /// Starts the webhook receiver `script` with the secret `secret`, then a relay whose webhook `name` POSTs every
    /// event to it, signed with that secret, logging to `receiver-{label}.log` and `relay-{label}.log`. With
    /// `on_redis`, a fresh Redis first (`redis-{label}.log`), and the relay on it (`--pubsub`): its webhooks' queue
    /// is then a stream there.
    pub(crate) async fn relay_with_receiver(
        programs: &Programs,
        label: &str,
        script: &Path,
        name: &str,
        secret: &str,
        on_redis: bool,
    ) -> Result<Deployment> {
        let redis = match on_redis {
            true => {
                let binary = programs.redis_server.as_ref().ok_or("no redis-server to run")?;
                Some(Box::new(Redis::start(binary, &programs.log_dir, label).await?))
            }
            false => None,
        };
        let args = ["--secret".to_owned(), secret.to_owned()];
        // On an error from here on, what started is dropped, which kills it.
        let receiver = Backend::start_with(script, &args, &programs.log_dir, &format!("receiver-{label}")).await?;
        let webhook = [
            "--webhook".to_owned(),
            format!("{name}=http://{}/", receiver.addr),
            "--webhook-secret".to_owned(),
            format!("{name}={secret}"),
        ];
        let redis_url = redis.as_ref().map(|redis| redis.url());
        let relay = Server::start_with(Kind::Relay, programs, label, redis_url.as_deref(), &webhook).await?;
        Ok(Deployment::RelayWithReceiver { relay, receiver: Box::new(receiver), redis })
    }

    /// Kills every server, the relays before their Redis, and waits for them to be gone.
    pub(crate) async fn stop(self) {
        match self {
            Deployment::Single(server) => server.stop().await,
            Deployment::RelaysOnRedis { relays, redis } => {
                for relay in relays {
                    relay.stop().await;
                }
                redis.stop().await;
            }
            Deployment::RelayWithBackend { relay, backend } => {
                relay.stop().await;
                backend.stop().await;
            }
            Deployment::RelayWithReceiver { relay, receiver, redis } => {
                relay.stop().await;
                receiver.stop().await;
                if let Some(redis) = redis {
                    redis.stop().await;
                }
            }
        }
    }
}

/// `GET path` from the HTTP server at `addr`: its status and body.
pub(crate) async fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").ok_or("an HTTP response without a blank line")?;
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).ok_or("no HTTP status")?;
    Ok((status, body.to_owned()))
}

/// Why `binary` cannot run as a Redis server, if it cannot (it is missing, say).
pub(crate) fn redis_unavailable(binary: &Path) -> Option<String> {
    match std::process::Command::new(binary).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(status) if status.success() => None,
        Ok(status) => Some(format!("`{} --version` failed ({status})", binary.display())),
        Err(error) => Some(format!("{} cannot be run ({error}); install redis-server", binary.display())),
    }
}

/// Where a server of `kind` started for `label` logs.
fn log_path(log_dir: &Path, kind: Kind, label: &str) -> PathBuf {
    log_dir.join(format!("{}-{label}.log", kind.name()))
}

/// Whether the log of a server that failed to start says a port it was to listen on was in use.
fn port_was_taken(log_dir: &Path, kind: Kind, label: &str) -> bool {
    std::fs::read_to_string(log_path(log_dir, kind, label)).is_ok_and(|log| log.contains("Address already in use"))
}

/// A loopback port nobody listens on right now.
pub(crate) fn free_port() -> Result<SocketAddr> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?)
}

/// Why the Node helper `script` (the hooks backend, the webhook receiver) cannot run, if it cannot: the script
/// missing, or Node.
pub(crate) fn backend_unavailable(script: &Path) -> Option<String> {
    if !script.is_file() {
        return Some(format!("no {}", script.display()));
    }
    match std::process::Command::new("node").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(status) if status.success() => None,
        _ => Some("node is not installed".to_owned()),
    }
}

/// Why the Socket.IO baseline cannot run from `dir`, if it cannot: Node missing, or its modules not installed.
pub(crate) fn socketio_unavailable(dir: &Path) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fields_are_read() {
        let reply = "$60\r\n# Memory\r\nused_memory:1024\r\nused_memory_human:1.00K\r\n\r\n+OK\r\n";
        let fields = parse_info(reply);
        assert_eq!(fields, [("used_memory".into(), "1024".into()), ("used_memory_human".into(), "1.00K".into())]);
    }
}
