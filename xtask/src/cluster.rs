//! `cargo xtask cluster up|restart|down`: several relays on one Redis behind HAProxy, on this machine, in the
//! background, as `deploy/` describes them for a real deployment.
//!
//! `up` starts one `redis-server` (nothing saved), N relays on it and HAProxy in front of them, each on a free
//! loopback port, detached (a process group of their own, stdin closed, output to a log in `target/cluster/`), and
//! records what it started in `target/cluster/state`, one process a line: `KIND INDEX PID PORT`. It returns once
//! Redis answers PING, every relay answers `/healthz` with 200 and HAProxy does too through its frontend, and
//! prints where everything is as its last lines, on stdout (see [`summary`]). A cluster already up (a state file
//! naming a live process) is left alone: `up` fails and says to run `down` first.
//!
//! `restart N` stops relay N as `down` stops the relays (SIGTERM, so it drains; SIGKILL after [`STOP_TIMEOUT`]), or
//! finds it gone already (killed), starts it again on its port with the binary and arguments `up` gave it (the binary
//! is recorded in `target/cluster/relay-binary`), its output appended to its log, and returns once it answers
//! `/healthz` with 200, printing its line as `up` does (`relay N: http://127.0.0.1:PORT pid PID`).
//!
//! `down` SIGTERMs the relays (they drain: `--shutdown-drain-ms`), then HAProxy, then Redis (`SHUTDOWN NOSAVE`),
//! waits for each group up to [`STOP_TIMEOUT`], SIGKILLs what is left and removes the state. With no state it says
//! so and succeeds.
//!
//! The relay is built first (`cargo build -p ferrocast-relay`, a no-op when current), unless `FERROCAST_RELAY_BIN`
//! names one, as `cargo xtask test` does for its steps.
//!
//! Signals go through `kill(1)`, and liveness is read from `/proc`, to keep the xtask free of a libc dependency.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{self, say};
use crate::{Error, prereqs, redis, workspace};

/// How long the cluster has, all together, to answer once started.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long each group (the relays, HAProxy, Redis) has to exit after being asked, before it is killed. A relay's
/// drain alone is [`DRAIN_MS`].
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The relays' `--shutdown-drain-ms`: longer than HAProxy takes to mark a relay down (`inter 1s`, `fall 2`).
const DRAIN_MS: u32 = 3000;

/// Names the relay binary to run instead of building one (not with `--release`).
const RELAY_BIN_VAR: &str = "FERROCAST_RELAY_BIN";

/// How many lines of a log a failure to start quotes.
const LOG_TAIL_LINES: usize = 20;

/// The file in the cluster's directory that names the relay binary `up` started, for `restart`.
const RELAY_BINARY_FILE: &str = "relay-binary";

/// Options for `cargo xtask cluster up`.
pub(crate) struct Options {
    /// How many relays (at least 1).
    pub relays: usize,
    /// Build and run the optimized relay.
    pub release: bool,
}

/// What a state line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Redis,
    Relay,
    Balancer,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Redis => "redis",
            Kind::Relay => "relay",
            Kind::Balancer => "balancer",
        }
    }

    /// The program this kind runs: a pid whose command line does not start with it is not ours (any more).
    fn program(self) -> &'static str {
        match self {
            Kind::Redis => "redis-server",
            Kind::Relay => "ferrocast-relay",
            Kind::Balancer => "haproxy",
        }
    }

    fn parse(text: &str) -> Option<Kind> {
        [Kind::Redis, Kind::Relay, Kind::Balancer].into_iter().find(|kind| kind.name() == text)
    }
}

/// One process of the cluster, as the state file records it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Member {
    kind: Kind,
    /// 1-based among the relays; 1 for the others.
    index: usize,
    pid: u32,
    port: u16,
}

/// The state file's text for `members`.
fn state_text(members: &[Member]) -> String {
    let mut text = String::new();
    for m in members {
        let _ = writeln!(text, "{} {} {} {}", m.kind.name(), m.index, m.pid, m.port);
    }
    text
}

/// Reads a state file's text back; a malformed line is an error naming it.
fn parse_state(text: &str) -> Result<Vec<Member>, String> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let member = match words.as_slice() {
                [kind, index, pid, port] => Kind::parse(kind).and_then(|kind| {
                    Some(Member { kind, index: index.parse().ok()?, pid: pid.parse().ok()?, port: port.parse().ok()? })
                }),
                _ => None,
            };
            member.ok_or_else(|| format!("malformed line `{line}`"))
        })
        .collect()
}

/// The lines `up` ends with: the balancer, Redis, then each relay.
fn summary(members: &[Member]) -> String {
    let mut text = String::new();
    let of = |kind| members.iter().filter(move |m: &&Member| m.kind == kind);
    for m in of(Kind::Balancer) {
        let _ = writeln!(text, "balancer: http://127.0.0.1:{}", m.port);
    }
    for m in of(Kind::Redis) {
        let _ = writeln!(text, "redis: redis://127.0.0.1:{}", m.port);
    }
    for m in of(Kind::Relay) {
        let _ = writeln!(text, "relay {}: http://127.0.0.1:{} pid {}", m.index, m.port, m.pid);
    }
    text
}

/// HAProxy's configuration for relays on `relay_ports`: `deploy/haproxy.cfg`'s settings, on loopback ports.
fn haproxy_config(balancer_port: u16, stats_port: u16, relay_ports: &[u16]) -> String {
    let mut servers = String::new();
    for (i, port) in relay_ports.iter().enumerate() {
        let _ = writeln!(servers, "    server relay{} 127.0.0.1:{port}", i + 1);
    }
    format!(
        "\
# Written by `cargo xtask cluster up`: deploy/haproxy.cfg's settings (see the comments there), on loopback ports.
global
    # Low enough for a default open-file limit: this is a cluster for trying things, not for load.
    maxconn 4096
    log stdout format raw local0

defaults
    mode http
    log global
    option httplog
    option dontlognull
    maxconn 4096
    timeout connect 5s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 5s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    timeout client-fin 30s
    timeout server-fin 30s
    retries 3
    option redispatch 1

frontend ferrocast
    bind 127.0.0.1:{balancer_port}
    option forwardfor
    default_backend relays

backend relays
    balance leastconn
    option httpchk GET /healthz
    http-check expect status 200
    default-server check inter 1s fall 2 rise 2
{servers}
frontend stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /
    stats refresh 5s
    monitor-uri /healthz
"
    )
}

/// The cluster's directory (logs, HAProxy's configuration, the state) under the target directory.
fn cluster_dir(root: &Path) -> PathBuf {
    workspace::target_dir(root, std::env::var_os("CARGO_TARGET_DIR")).join("cluster")
}

/// `cargo xtask cluster up`.
pub(crate) fn up(options: &Options) -> Result<(), Error> {
    let root = workspace::root();
    let dir = cluster_dir(&root);
    let state_path = dir.join("state");
    if let Some(members) = read_state(&state_path)? {
        let alive: Vec<String> = members.iter().filter(|m| is_ours(m)).map(|m| m.pid.to_string()).collect();
        if !alive.is_empty() {
            return Err(Error::new(format!(
                "a cluster is already up ({}, pids {}): run `cargo xtask cluster down` first",
                workspace::relative(&state_path).display(),
                alive.join(" ")
            )));
        }
        say("the last cluster's processes are all gone: forgetting it");
        remove_state(&state_path)?;
    }
    prereqs::ensure(prereqs::FOR_CLUSTER, "cluster up")?;
    let redis_binary = redis::find_binary()?;
    let haproxy = redis::find_on_path("haproxy", &["/usr/sbin", "/usr/local/sbin", "/sbin"]).ok_or_else(|| {
        Error::new("haproxy is missing: install it with `apt-get install -y haproxy` (as root)".to_owned())
    })?;

    let relay_binary = relay_binary(&root, options.release)?;
    std::fs::create_dir_all(&dir).map_err(|err| Error::new(format!("could not create {}: {err}", dir.display())))?;
    // The logs of an earlier, larger cluster would read as this one's.
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().ends_with(".log") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let binary_path = dir.join(RELAY_BINARY_FILE);
    std::fs::write(&binary_path, relay_binary.as_os_str().as_encoded_bytes())
        .map_err(|err| Error::new(format!("could not write {}: {err}", binary_path.display())))?;
    let mut cluster = Starting { members: Vec::new(), children: Vec::new(), state_path: state_path.clone() };
    let started = start_all(&mut cluster, &dir, options.relays, &redis_binary, &relay_binary, &haproxy)
        .and_then(|()| cluster.wait_until_ready(&dir));
    if let Err(err) = started {
        say("stopping what was started");
        stop(&cluster.members);
        let _ = remove_state(&state_path);
        return Err(err);
    }
    say(format!("cluster up: logs in {}; `cargo xtask cluster down` stops it", workspace::relative(&dir).display()));
    print!("{}", summary(&cluster.members));
    let _ = std::io::stdout().flush();
    Ok(())
}

/// The relay binary to run: the one `FERROCAST_RELAY_BIN` names (`cargo xtask test` sets it to the relay it has
/// just built, so its cluster test builds nothing, and waits on no cargo lock), else the one `cargo build` makes.
fn relay_binary(root: &Path, release: bool) -> Result<PathBuf, Error> {
    if let Some(binary) = std::env::var_os(RELAY_BIN_VAR).filter(|value| !value.is_empty() && !release) {
        say(format!("running the relay {RELAY_BIN_VAR} names: {}", PathBuf::from(&binary).display()));
        return Ok(binary.into());
    }
    // A no-op when the relay is current, so `up` stays quick.
    let mut build = process::cargo();
    build.args(["build", "-p", "ferrocast-relay"]).current_dir(root);
    if release {
        build.arg("--release");
    }
    process::run(&mut build)?;
    let profile = if release { "release" } else { "debug" };
    Ok(workspace::target_dir(root, std::env::var_os("CARGO_TARGET_DIR"))
        .join(profile)
        .join(format!("ferrocast-relay{}", std::env::consts::EXE_SUFFIX)))
}

/// The processes `up` has started so far; each is in the state file as soon as it runs.
struct Starting {
    members: Vec<Member>,
    /// The members' processes, to notice one that exits while we wait (and to reap it).
    children: Vec<Child>,
    state_path: PathBuf,
}

impl Starting {
    /// Starts `command` detached, its output in `dir/LOG`, and records it.
    fn spawn(&mut self, kind: Kind, index: usize, port: u16, command: &mut Command, log: &Path) -> Result<(), Error> {
        let file = File::create(log).map_err(|err| Error::new(format!("could not create {}: {err}", log.display())))?;
        let child = spawn_detached(command, file, log, ">")?;
        self.members.push(Member { kind, index, pid: child.id(), port });
        self.children.push(child);
        std::fs::write(&self.state_path, state_text(&self.members))
            .map_err(|err| Error::new(format!("could not write {}: {err}", self.state_path.display())))
    }

    /// Waits until Redis answers PING, each relay `/healthz` with 200, and HAProxy `/healthz` through its frontend.
    fn wait_until_ready(&mut self, dir: &Path) -> Result<(), Error> {
        let deadline = Instant::now() + START_TIMEOUT;
        for i in 0..self.members.len() {
            let member = self.members[i].clone();
            loop {
                if let Ok(Some(status)) = self.children[i].try_wait() {
                    return Err(failed(dir, &member, &format!("exited ({status}) while starting")));
                }
                let ready = match member.kind {
                    Kind::Redis => redis::ping(member.port),
                    Kind::Relay | Kind::Balancer => http_status(member.port, "/healthz") == Some(200),
                };
                if ready {
                    break;
                }
                if Instant::now() > deadline {
                    let what = match member.kind {
                        Kind::Redis => "did not answer PING",
                        _ => "did not answer GET /healthz with 200",
                    };
                    return Err(failed(dir, &member, &format!("{what} within {} s", START_TIMEOUT.as_secs())));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }
}

/// Starts `command` detached, its output to `file` (the log at `log`, which `redirect`, `>` or `>>`, shows).
fn spawn_detached(command: &mut Command, file: File, log: &Path, redirect: &str) -> Result<Child, Error> {
    let file2 = file.try_clone().map_err(|err| Error::new(format!("could not share the log file: {err}")))?;
    // A process group of its own: Ctrl-C in the terminal that ran `up` (or the end of a test) does not reach it.
    command.process_group(0).stdin(Stdio::null()).stdout(Stdio::from(file)).stderr(Stdio::from(file2));
    let shown = process::display(command);
    say(format!("$ {shown} {redirect} {} 2>&1 &", workspace::relative(log).display()));
    command.spawn().map_err(|err| Error::new(format!("could not start `{shown}`: {err}")))
}

/// A relay's arguments: listening on loopback `port`, on the Redis at `redis_port`, draining for [`DRAIN_MS`].
fn relay_args(port: u16, redis_port: u16) -> Vec<String> {
    let (listen, pubsub) = (format!("127.0.0.1:{port}"), format!("redis://127.0.0.1:{redis_port}"));
    ["--listen", &listen, "--pubsub", &pubsub, "--shutdown-drain-ms", &DRAIN_MS.to_string()].map(str::to_owned).to_vec()
}

/// Starts Redis, the relays and HAProxy, in that order, on free ports.
fn start_all(
    cluster: &mut Starting,
    dir: &Path,
    relays: usize,
    redis_binary: &Path,
    relay_binary: &Path,
    haproxy: &Path,
) -> Result<(), Error> {
    let redis_port = redis::free_port()?;
    let mut command = Command::new(redis_binary);
    command.args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
    command.arg("--dir").arg(dir).args(["--daemonize", "no", "--protected-mode", "yes"]);
    cluster.spawn(Kind::Redis, 1, redis_port, &mut command, &dir.join("redis.log"))?;

    let mut relay_ports = Vec::new();
    for index in 1..=relays {
        let port = redis::free_port()?;
        let mut command = Command::new(relay_binary);
        command.args(relay_args(port, redis_port));
        cluster.spawn(Kind::Relay, index, port, &mut command, &dir.join(format!("relay-{index}.log")))?;
        relay_ports.push(port);
    }

    let (balancer_port, stats_port) = (redis::free_port()?, redis::free_port()?);
    let config = dir.join("haproxy.cfg");
    std::fs::write(&config, haproxy_config(balancer_port, stats_port, &relay_ports))
        .map_err(|err| Error::new(format!("could not write {}: {err}", config.display())))?;
    let mut command = Command::new(haproxy);
    command.arg("-f").arg(&config);
    cluster.spawn(Kind::Balancer, 1, balancer_port, &mut command, &dir.join("haproxy.log"))?;
    say(format!("HAProxy's stats: http://127.0.0.1:{stats_port}/"));
    Ok(())
}

/// A start failure naming the process and quoting its log.
fn failed(dir: &Path, member: &Member, what: &str) -> Error {
    let log = match member.kind {
        Kind::Redis => dir.join("redis.log"),
        Kind::Relay => dir.join(format!("relay-{}.log", member.index)),
        Kind::Balancer => dir.join("haproxy.log"),
    };
    let tail = redis::log_tail(&std::fs::read_to_string(&log).unwrap_or_default(), LOG_TAIL_LINES);
    let name = match member.kind {
        Kind::Relay => format!("relay {}", member.index),
        kind => kind.name().to_owned(),
    };
    Error::new(format!(
        "{name} (pid {}, port {}) {what}; the end of its log, {}:\n{tail}",
        member.pid,
        member.port,
        workspace::relative(&log).display()
    ))
}

/// `cargo xtask cluster restart N`.
pub(crate) fn restart(index: usize) -> Result<(), Error> {
    let dir = cluster_dir(&workspace::root());
    let state_path = dir.join("state");
    let Some(mut members) = read_state(&state_path)? else {
        return Err(Error::new("no cluster is up (no target/cluster/state): run `cargo xtask cluster up` first"));
    };
    let relays = members.iter().filter(|m| m.kind == Kind::Relay).count();
    let Some(at) = members.iter().position(|m| m.kind == Kind::Relay && m.index == index) else {
        return Err(Error::new(format!("the cluster has no relay {index}: its relays are 1 to {relays}")));
    };
    let Some(redis_port) = members.iter().find(|m| m.kind == Kind::Redis).map(|m| m.port) else {
        return Err(Error::new(format!("{} names no Redis: run `cargo xtask cluster down`", state_path.display())));
    };
    let binary_path = dir.join(RELAY_BINARY_FILE);
    let binary = std::fs::read(&binary_path).map_err(|err| {
        Error::new(format!(
            "could not read {}: {err}; run `cargo xtask cluster down`, then `up`",
            binary_path.display()
        ))
    })?;
    let binary = PathBuf::from(String::from_utf8_lossy(&binary).into_owned());

    let old = members[at].clone();
    if is_ours(&old) {
        stop(std::slice::from_ref(&old));
    } else {
        say(format!("relay {index} (pid {}) is not running: starting it", old.pid));
    }
    let log = dir.join(format!("relay-{index}.log"));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|err| Error::new(format!("could not open {}: {err}", log.display())))?;
    let _ = writeln!(file, "--- cargo xtask cluster restart {index} ---");
    let mut command = Command::new(&binary);
    command.args(relay_args(old.port, redis_port));
    let child = spawn_detached(&mut command, file, &log, ">>")?;
    members[at].pid = child.id();
    std::fs::write(&state_path, state_text(&members))
        .map_err(|err| Error::new(format!("could not write {}: {err}", state_path.display())))?;
    let mut starting = Starting { members: vec![members[at].clone()], children: vec![child], state_path };
    starting.wait_until_ready(&dir)?;
    say(format!("relay {index} restarted on its port"));
    print!("{}", summary(&starting.members));
    let _ = std::io::stdout().flush();
    Ok(())
}

/// `cargo xtask cluster down`.
pub(crate) fn down() -> Result<(), Error> {
    let state_path = cluster_dir(&workspace::root()).join("state");
    let Some(members) = read_state(&state_path)? else {
        say("no cluster is up (no target/cluster/state): nothing to stop");
        return Ok(());
    };
    stop(&members);
    remove_state(&state_path)?;
    say("cluster down");
    Ok(())
}

/// Stops `members`: the relays, then HAProxy, then Redis, each group asked first and killed after [`STOP_TIMEOUT`].
fn stop(members: &[Member]) {
    for kind in [Kind::Relay, Kind::Balancer, Kind::Redis] {
        let group: Vec<&Member> = members.iter().filter(|m| m.kind == kind && is_ours(m)).collect();
        if group.is_empty() {
            continue;
        }
        for m in &group {
            match kind {
                // SHUTDOWN closes the connection instead of replying; SIGTERM too when Redis cannot be reached.
                Kind::Redis => match redis::connect(m.port) {
                    Ok(mut stream) => {
                        let _ = stream.write_all(b"SHUTDOWN NOSAVE\r\n");
                    }
                    Err(_) => signal("TERM", m.pid),
                },
                _ => signal("TERM", m.pid),
            }
        }
        let pids: Vec<String> = group.iter().map(|m| m.pid.to_string()).collect();
        let what = match kind {
            Kind::Relay => "the relays",
            Kind::Balancer => "HAProxy",
            Kind::Redis => "Redis",
        };
        say(format!("stopping {what} (pid {})", pids.join(" ")));
        let asked = Instant::now();
        while group.iter().any(|m| is_ours(m)) && asked.elapsed() < STOP_TIMEOUT {
            std::thread::sleep(Duration::from_millis(50));
        }
        for m in group.iter().filter(|m| is_ours(m)) {
            say(format!("{} pid {} did not exit within {} s: killing it", kind.name(), m.pid, STOP_TIMEOUT.as_secs()));
            signal("KILL", m.pid);
        }
    }
}

/// Sends SIGNAL to `pid` with `kill(1)`; a process already gone is not an error.
fn signal(name: &str, pid: u32) {
    let _ = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether `member.pid` is a live process running its program: not gone, not a zombie waiting for a parent that
/// does not reap it, and not a later process that reused the pid.
fn is_ours(member: &Member) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{}", member.pid));
    let Ok(stat) = std::fs::read_to_string(proc_dir.join("stat")) else { return false };
    // `pid (comm) STATE …`: comm may hold spaces and parentheses, so the state follows the last `)`.
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
    if matches!(state, Some("Z" | "X")) {
        return false;
    }
    let mut cmdline = Vec::new();
    let read = File::open(proc_dir.join("cmdline")).and_then(|mut file| file.read_to_end(&mut cmdline));
    let program = cmdline.split(|&byte| byte == 0).next().unwrap_or_default();
    // An unreadable command line (another user's process) is not ours either.
    read.is_ok()
        && Path::new(&*String::from_utf8_lossy(program)).file_name().is_some_and(|name| {
            // redis-server renames itself `redis-server 127.0.0.1:PORT` in its command line.
            name.to_string_lossy().starts_with(member.kind.program())
        })
}

/// The state file's members; `None` when there is none.
fn read_state(path: &Path) -> Result<Option<Vec<Member>>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_state(&text)
            .map(Some)
            .map_err(|err| Error::new(format!("{}: {err}; remove it if no cluster runs", path.display()))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(Error::new(format!("could not read {}: {err}", path.display()))),
    }
}

fn remove_state(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::new(format!("could not remove {}: {err}", path.display())))
        }
        _ => Ok(()),
    }
}

/// The status code of `GET path` on 127.0.0.1:`port`, or `None` when nothing answers (in a second).
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = redis::connect(port).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0; 64];
    let mut read = 0;
    while read < 12 {
        match stream.read(&mut head[read..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    status_code(&head[..read])
}

/// The code of an HTTP/1.x status line: `HTTP/1.1 200 OK` is 200.
fn status_code(head: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(head.get(..12)?).ok()?;
    text.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(kind: Kind, index: usize, pid: u32, port: u16) -> Member {
        Member { kind, index, pid, port }
    }

    /// Redis, two relays and the balancer.
    fn two_relays() -> Vec<Member> {
        vec![
            member(Kind::Redis, 1, 10, 6000),
            member(Kind::Relay, 1, 11, 6001),
            member(Kind::Relay, 2, 12, 6002),
            member(Kind::Balancer, 1, 13, 6003),
        ]
    }

    #[test]
    fn the_state_reads_back_what_was_written() {
        let members = two_relays();
        assert_eq!(parse_state(&state_text(&members)).unwrap(), members);
        assert!(parse_state("relay 1 x 4000\n").is_err());
        assert!(parse_state("proxy 1 2 3\n").is_err());
        assert_eq!(parse_state("\n").unwrap(), []);
    }

    #[test]
    fn up_ends_with_the_balancer_redis_and_each_relay() {
        let members = two_relays();
        assert_eq!(
            summary(&members),
            "balancer: http://127.0.0.1:6003\nredis: redis://127.0.0.1:6000\n\
             relay 1: http://127.0.0.1:6001 pid 11\nrelay 2: http://127.0.0.1:6002 pid 12\n"
        );
    }

    #[test]
    fn haproxy_gets_a_server_line_per_relay() {
        let config = haproxy_config(5000, 5001, &[5002, 5003]);
        assert!(config.contains("bind 127.0.0.1:5000\n"));
        assert!(config.contains("    server relay1 127.0.0.1:5002\n    server relay2 127.0.0.1:5003\n"));
        assert!(config.contains("balance leastconn") && config.contains("option httpchk GET /healthz"));
        assert!(!config.contains("http-server-close"), "WebSockets need the connection kept");
    }

    #[test]
    fn a_relay_is_started_on_its_port_and_the_cluster_redis() {
        let args = relay_args(6001, 6000);
        assert_eq!(
            args.join(" "),
            format!("--listen 127.0.0.1:6001 --pubsub redis://127.0.0.1:6000 --shutdown-drain-ms {DRAIN_MS}")
        );
    }

    #[test]
    fn status_lines_give_their_code() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(status_code(b"HTTP/1.0 503 Service Unavailable"), Some(503));
        assert_eq!(status_code(b"HTTP/1.1 20"), None);
        assert_eq!(status_code(b"SSH-2.0-OpenSSH_9.2p1"), None);
    }

    #[test]
    fn only_a_live_process_running_the_program_is_ours() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let sleeping = Member { kind: Kind::Relay, index: 1, pid: child.id(), port: 1 };
        assert!(!is_ours(&sleeping), "sleep is not a relay");
        child.kill().unwrap();
        child.wait().unwrap();
        let redis = Member { kind: Kind::Redis, index: 1, pid: std::process::id(), port: 1 };
        assert!(!is_ours(&redis), "the test binary is not redis-server");
    }
}
