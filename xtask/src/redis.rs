//! The Redis server `cargo xtask test` runs for the tests: its own instance on a free loopback port, with nothing
//! saved to disk, stopped when the tests end however they end.
//!
//! The tests find it through `FERROCAST_REDIS_URL`; tests that must restart Redis start their own instance with
//! the binary named by `FERROCAST_REDIS_SERVER` (see `test.rs`, which exports both to every step).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::process::{self, say};
use crate::{Error, workspace};

/// The variable the tests read the server's URL from (`redis://127.0.0.1:PORT`).
pub(crate) const URL_VAR: &str = "FERROCAST_REDIS_URL";

/// The variable naming the `redis-server` binary: read here, to use another one than `PATH`'s, and exported to
/// the tests, so a test that must restart Redis starts its own instance with the same binary.
pub(crate) const SERVER_VAR: &str = "FERROCAST_REDIS_SERVER";

/// The program looked up on `PATH` when [`SERVER_VAR`] is not set.
const PROGRAM: &str = "redis-server";

/// How long a starting server has to answer `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a server has to exit after `SHUTDOWN NOSAVE` before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// How many lines of its log a failure to start quotes.
const LOG_TAIL_LINES: usize = 20;

/// A `redis-server` this process started; dropping it stops the server and waits for it to exit.
pub(crate) struct RedisServer {
    child: Child,
    port: u16,
    binary: PathBuf,
}

impl RedisServer {
    /// Starts `redis-server` (from [`SERVER_VAR`], else `PATH`) on a free port of 127.0.0.1, with its files and
    /// its log in `root/target/redis`, and waits until it answers `PING`.
    pub(crate) fn start(root: &Path) -> Result<RedisServer, Error> {
        RedisServer::start_binary(find_binary()?, &root.join("target/redis"))
    }

    /// Starts `binary` as a Redis server with `dir` as its working directory and log directory.
    fn start_binary(binary: PathBuf, dir: &Path) -> Result<RedisServer, Error> {
        std::fs::create_dir_all(dir).map_err(|err| Error::new(format!("could not create {}: {err}", dir.display())))?;
        let port = free_port()?;
        let log_path = dir.join(format!("redis-{port}.log"));
        let log = File::create(&log_path)
            .map_err(|err| Error::new(format!("could not create {}: {err}", log_path.display())))?;
        let log_for_stdout =
            log.try_clone().map_err(|err| Error::new(format!("could not share the log file: {err}")))?;
        let mut command = Command::new(&binary);
        command.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        command.arg("--dir").arg(dir).args(["--daemonize", "no", "--protected-mode", "yes"]);
        command.stdin(Stdio::null()).stdout(Stdio::from(log_for_stdout)).stderr(Stdio::from(log));
        let shown = process::display(&command);
        let log_shown = workspace::relative(&log_path);
        say(format!("starting Redis for the tests: $ {shown} > {} 2>&1", log_shown.display()));
        let child = command.spawn().map_err(|err| Error::new(format!("could not start `{shown}`: {err}")))?;
        // From here on the guard owns the process: an early return below stops it.
        let mut server = RedisServer { child, port, binary };
        server.wait_until_ready().map_err(|failure| {
            let tail = log_tail(&std::fs::read_to_string(&log_path).unwrap_or_default(), LOG_TAIL_LINES);
            Error::new(format!("{failure}; the end of its log, {}:\n{tail}", log_shown.display()))
        })?;
        say(format!("started Redis on {} (pid {})", server.url(), server.child.id()));
        Ok(server)
    }

    /// The URL clients connect with: `redis://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The `redis-server` binary this server runs.
    pub(crate) fn binary(&self) -> &Path {
        &self.binary
    }

    /// Polls with `PING` until the server answers `+PONG`, failing when it exits or [`START_TIMEOUT`] passes.
    fn wait_until_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("redis-server exited ({status}) before answering PING on port {}", self.port));
            }
            if ping(self.port) {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "redis-server did not answer PING on 127.0.0.1:{} within {} s",
                    self.port,
                    START_TIMEOUT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Asks the server to exit without saving, then kills it if it is still there after [`STOP_TIMEOUT`]; either
    /// way waits for it, so no process is left behind. Returns how it exited, when that is known.
    fn stop(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        // SHUTDOWN closes the connection instead of replying, so there is no answer to read.
        if let Ok(mut stream) = connect(self.port) {
            let _ = stream.write_all(b"SHUTDOWN NOSAVE\r\n");
        }
        let asked = Instant::now();
        while asked.elapsed() < STOP_TIMEOUT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        say(format!("redis-server on port {} did not exit after SHUTDOWN: killing it", self.port));
        let _ = self.child.kill();
        self.child.wait().ok()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        match self.stop() {
            Some(status) if status.success() => say(format!("stopped Redis on {}", self.url())),
            Some(status) => say(format!("stopped Redis on {} ({status})", self.url())),
            None => say(format!("could not wait for Redis ({}, pid {}) to exit", self.url(), self.child.id())),
        }
    }
}

/// The `redis-server` to run: [`SERVER_VAR`] when set, else the first one on `PATH`, as an absolute path so the
/// tests that get it do not depend on their own `PATH`.
pub(crate) fn find_binary() -> Result<PathBuf, Error> {
    if let Some(binary) = std::env::var_os(SERVER_VAR).filter(|value| !value.is_empty()) {
        let binary = PathBuf::from(binary);
        return match binary.is_file() {
            true => Ok(binary),
            false => Err(Error::new(format!("{SERVER_VAR} names {}, which is not a file", binary.display()))),
        };
    }
    find_on_path(PROGRAM, &[]).ok_or_else(|| {
        Error::new(format!(
            "{PROGRAM} is missing, and the tests run their own Redis: install it with `apt-get install -y \
             redis-server` (as root), or set {SERVER_VAR} to a redis-server binary"
        ))
    })
}

/// The first `program` on `PATH`, then in `also` (directories such as `/usr/sbin`, which a user's `PATH` may lack).
pub(crate) fn find_on_path(program: &str, also: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = also.iter().map(PathBuf::from);
    std::env::split_paths(&path).chain(extra).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}

/// A loopback port nobody listens on now.
pub(crate) fn free_port() -> Result<u16, Error> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|err| Error::new(format!("no free loopback port: {err}")))
}

/// A connection to 127.0.0.1:`port` whose reads and writes give up after a second.
pub(crate) fn connect(port: u16) -> std::io::Result<TcpStream> {
    let second = Duration::from_secs(1);
    let stream = TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), second)?;
    stream.set_read_timeout(Some(second))?;
    stream.set_write_timeout(Some(second))?;
    Ok(stream)
}

/// Whether a Redis server on `port` answers `PING` with `+PONG` (not, e.g., `-LOADING` while it starts).
pub(crate) fn ping(port: u16) -> bool {
    let Ok(mut stream) = connect(port) else { return false };
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0; 64];
    let mut read = 0;
    while read < reply.len() && !reply[..read].ends_with(b"\r\n") {
        match stream.read(&mut reply[read..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => read += n,
        }
    }
    reply[..read].starts_with(b"+PONG\r\n")
}

/// The last `lines` lines of `text`, or a note that it is empty.
pub(crate) fn log_tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    if all.is_empty() {
        return "(empty)".to_owned();
    }
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory for one test's server files, removed by the test.
    fn scratch(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("xtask-redis-{name}-{}", std::process::id()))
    }

    #[test]
    fn starts_answers_and_stops_a_server() {
        let binary = match find_binary() {
            Ok(binary) => binary,
            Err(err) => {
                eprintln!("skipped: no redis-server to run ({err})");
                return;
            }
        };
        let dir = scratch("start");
        let server = RedisServer::start_binary(binary, &dir).unwrap();
        let port = server.port;
        assert_eq!(server.url(), format!("redis://127.0.0.1:{port}"));
        assert!(ping(port), "the server answers PING once started");
        assert!(dir.join(format!("redis-{port}.log")).is_file(), "its output goes to its log");
        let pid = server.child.id();
        drop(server);
        assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(), "nothing listens on {port} after the drop");
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "process {pid} is gone (and reaped)");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_server_that_exits_at_once_fails_with_its_log() {
        // `sh` rejects the Redis options and exits, printing why: a stand-in for a redis-server that cannot start.
        let dir = scratch("exits");
        let err = RedisServer::start_binary(PathBuf::from("sh"), &dir).err().expect("sh is not a Redis server");
        let message = err.to_string();
        assert!(message.contains("exited"), "{message}");
        assert!(message.contains("the end of its log"), "{message}");
        assert!(!message.ends_with("(empty)"), "the shell's complaint is quoted: {message}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        assert_eq!(log_tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(log_tail("a\nb", 5), "a\nb");
        assert_eq!(log_tail("", 5), "(empty)");
    }
}
