//! `cargo xtask`: the project's commands, so a contributor needs to know only these.
//!
//! - `cargo xtask serve` builds what is needed and runs the relay with the demo on http://127.0.0.1:4000.
//! - `cargo xtask build-client` builds the browser client's npm package into `client/pkg` (`client.rs`).
//! - `cargo xtask test` installs the tools the tests need (when missing) and runs every test the project has.
//! - `cargo xtask bench` runs every benchmark and writes the figures BENCHMARKS.md quotes.
//! - `cargo xtask fuzz` runs every fuzz target for a bounded time and reports the executions of each.
//! - `cargo xtask cluster up|restart|down` runs several relays on one Redis behind HAProxy in the background,
//!   restarts one of them, or stops them.
//!
//! This crate has no dependencies on purpose: it is compiled before anything else on a fresh clone, so it must
//! build in seconds. Each concern lives in its own module; `main` only parses arguments and maps failures to exit
//! codes (1 for a failed command, 2 for a usage error).

mod bench;
mod client;
mod cluster;
mod fuzz;
mod prereqs;
mod process;
mod redis;
mod serve;
mod test;
mod wasm_opt;
mod workspace;

use std::fmt;
use std::process::ExitCode;

/// The usage text for `cargo xtask help`, no arguments, and unknown commands.
const USAGE: &str = "\
Usage: cargo xtask <command> [options]

Commands:
  serve [--no-install] [ARGS...]
                       Install what the build needs when missing (wasm32 target,
                       the pinned nightly the client's release wasm is built with,
                       wasm-bindgen-cli, wasm-pack, the npm packages; no browser,
                       no Redis), build the client and the demo, and run the relay
                       with the demo on http://127.0.0.1:4000. Other arguments go
                       to the relay; Ctrl-C stops it.
  test [--no-install]  Install the tools the tests need when missing (wasm32 target,
                       the client's pinned nightly, wasm-bindgen-cli, wasm-pack,
                       chromium, redis-server, ...),
                       then run every test: cargo tests, the protocol crate's wasm
                       builds, the Node checks, and a short pass of each fuzz
                       target, with a Redis server of its own on a free loopback
                       port (FERROCAST_REDIS_URL), stopped at the end. Stops at the
                       first failure. --no-install skips the installers, for people
                       who manage their own tools.
  bench [--quick] [--only PART,...]
                       Run every benchmark: criterion micro-benchmarks, the load
                       generator's suite (the release relay next to a minimal
                       tokio-tungstenite server and Socket.IO), the browser
                       benchmark (the wasm client next to phoenix.js) and the
                       size of each realtime client a page can pick (benches/size).
                       Results go to target/bench. --quick: shorter windows,
                       rougher figures. PARTs: criterion, load, browser, size,
                       cluster (a relay killed under load: 3 relays behind
                       HAProxy, 3,000 subscribers, tests/cluster), scale
                       (100,000 connections over 7 relays behind HAProxy) and
                       presence-cluster (10,000 members of one presence topic
                       over 6 relays, one killed); the last two only when named
                       in --only.
  fuzz [--seconds N] [--only TARGET,...]
                       Run every fuzz target of fuzz/ (the V1 and V2 JSON and the
                       binary decoders, the event-stream reader, the server's
                       session) for N seconds each (default 60), from a copy of
                       fuzz/seeds, after installing the nightly toolchain and
                       cargo-fuzz when missing. Prints the executions of each
                       target; a crash fails it and names the saved input. Builds,
                       corpora, crashes and logs go to target/fuzz. TARGETs:
                       decode_v1_json, decode_v2_json, decode_binary, sse_reader,
                       session.
  cluster up [--relays N] [--release]
                       Build the relay, install redis-server and haproxy when
                       missing, and start in the background, on free loopback
                       ports: one Redis (nothing saved), N relays on it (default
                       3, --shutdown-drain-ms 3000, dev mode) and HAProxy in front
                       (deploy/haproxy.cfg's settings). Returns once all answer,
                       printing the balancer's, Redis's and each relay's address
                       last. Fails if a cluster is already up. Logs, HAProxy's
                       configuration and the pids go to target/cluster.
                       FERROCAST_RELAY_BIN: run that relay instead of building.
  cluster restart N    Stop relay N as `down` does (SIGTERM, its drain, SIGKILL after
                       10 s), or find it gone (killed), and start it again on its
                       port with the same binary and arguments; returns once it
                       answers, printing its line as `up` does.
  cluster down         Stop the cluster: the relays (SIGTERM, so they drain), then
                       HAProxy, then Redis; what is left after 10 s is killed.
                       Nothing up is not an error.
  build-client         Install what the build needs when missing (as `serve` does),
                       build the wasm client into client/pkg (the npm package
                       @ferrocast/client, plus its Node and no-bundler builds)
                       with wasm-pack, and print its size. `serve` and `test`
                       run it too.
  help                 Show this text.
";

/// A failure to report to the user: printed as `xtask: <message>`, then the process exits with status 1.
#[derive(Debug)]
pub struct Error(String);

impl Error {
    /// A failure with a message that says what went wrong and, where possible, what to do about it.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("serve") => serve::run(&serve_options(&args[1..])),
        Some("build-client") => {
            prereqs::ensure(prereqs::FOR_SERVE, "build-client").and_then(|()| client::build().map(|_| ()))
        }
        Some("bench") => match bench_options(&args[1..]) {
            Ok(options) => bench::run(&options),
            Err(message) => return usage_error(&message),
        },
        Some("fuzz") => match fuzz_options(&args[1..]) {
            Ok(options) => fuzz::run(&options),
            Err(message) => return usage_error(&message),
        },
        Some("cluster") => match cluster_command(&args[1..]) {
            Ok(Cluster::Up(options)) => cluster::up(&options),
            Ok(Cluster::Restart(index)) => cluster::restart(index),
            Ok(Cluster::Down) => cluster::down(),
            Err(message) => return usage_error(&message),
        },
        Some("test") => match test_options(&args[1..]) {
            Ok(Some(options)) => test::run(&options),
            Ok(None) => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            Err(message) => return usage_error(&message),
        },
        Some(other) => return usage_error(&format!("unknown command `{other}`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            process::say(err.to_string());
            ExitCode::FAILURE
        }
    }
}

/// Parses the options of `cargo xtask serve`: `--no-install` when it comes first, everything else is the relay's.
fn serve_options(args: &[String]) -> serve::Options {
    match args.split_first() {
        Some((first, rest)) if first == "--no-install" => serve::Options { install: false, relay_args: rest.to_vec() },
        _ => serve::Options { install: true, relay_args: args.to_vec() },
    }
}

/// Parses the options of `cargo xtask test`; `Ok(None)` means help was asked for.
fn test_options(args: &[String]) -> Result<Option<test::Options>, String> {
    let mut options = test::Options { install: true };
    for arg in args {
        match arg.as_str() {
            "--no-install" => options.install = false,
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown option `{other}` for `cargo xtask test`")),
        }
    }
    Ok(Some(options))
}

/// What `cargo xtask cluster` is asked to do.
enum Cluster {
    Up(cluster::Options),
    /// Relay N, 1-based.
    Restart(usize),
    Down,
}

/// Parses `cargo xtask cluster up [--relays N] [--release]`, `cargo xtask cluster restart N` and
/// `cargo xtask cluster down`.
fn cluster_command(args: &[String]) -> Result<Cluster, String> {
    match args.split_first() {
        Some((command, rest)) if command == "up" => {
            let mut options = cluster::Options { relays: 3, release: false };
            let mut rest = rest.iter();
            while let Some(arg) = rest.next() {
                match arg.as_str() {
                    "--release" => options.release = true,
                    "--relays" => {
                        let count = rest.next().ok_or("`--relays` needs a number of relays")?;
                        options.relays = match count.parse() {
                            Ok(count) if count > 0 => count,
                            _ => return Err(format!("`--relays` needs a whole number above 0, not `{count}`")),
                        };
                    }
                    other => return Err(format!("unknown option `{other}` for `cargo xtask cluster up`")),
                }
            }
            Ok(Cluster::Up(options))
        }
        Some((command, rest)) if command == "restart" => match rest {
            [index] => match index.parse() {
                Ok(index) if index > 0 => Ok(Cluster::Restart(index)),
                _ => Err(format!("`cargo xtask cluster restart` needs a relay's number (1, 2, …), not `{index}`")),
            },
            [] => Err("`cargo xtask cluster restart` needs a relay's number (1, 2, …)".to_owned()),
            [_, other, ..] => Err(format!("unknown option `{other}` for `cargo xtask cluster restart`")),
        },
        Some((command, rest)) if command == "down" => match rest.first() {
            None => Ok(Cluster::Down),
            Some(other) => Err(format!("unknown option `{other}` for `cargo xtask cluster down`")),
        },
        Some((other, _)) => Err(format!("unknown cluster command `{other}`: expected up, restart or down")),
        None => Err("`cargo xtask cluster` needs a command: up, restart or down".to_owned()),
    }
}

/// Parses the options of `cargo xtask bench`.
fn bench_options(args: &[String]) -> Result<bench::Options, String> {
    let mut options = bench::Options { quick: false, only: Vec::new() };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--only" => options.only = only(args.next(), &bench::PARTS, "part")?,
            other => return Err(format!("unknown option `{other}` for `cargo xtask bench`")),
        }
    }
    Ok(options)
}

/// Parses the options of `cargo xtask fuzz`.
fn fuzz_options(args: &[String]) -> Result<fuzz::Options, String> {
    let mut options = fuzz::Options { seconds: fuzz::DEFAULT_SECONDS, only: Vec::new() };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let seconds = args.next().ok_or("`--seconds` needs a number of seconds")?;
                options.seconds = positive_seconds(seconds)?;
            }
            "--only" => options.only = only(args.next(), &fuzz::TARGETS, "fuzz target")?,
            other => return Err(format!("unknown option `{other}` for `cargo xtask fuzz`")),
        }
    }
    Ok(options)
}

/// The comma-separated value of `--only`, each item one of `known` (a `kind`, for the message).
fn only(value: Option<&String>, known: &[&str], kind: &str) -> Result<Vec<String>, String> {
    let value = value.ok_or_else(|| format!("`--only` needs a list: {}", known.join(", ")))?;
    value
        .split(',')
        .map(|item| match known.contains(&item) {
            true => Ok(item.to_owned()),
            false => Err(format!("unknown {kind} `{item}` for `--only`: expected {}", known.join(", "))),
        })
        .collect()
}

/// A whole number of seconds above 0: libFuzzer takes 0 to mean "no limit", which a bounded run must never be.
fn positive_seconds(text: &str) -> Result<u64, String> {
    match text.parse() {
        Ok(seconds) if seconds > 0 => Ok(seconds),
        _ => Err(format!("`--seconds` needs a whole number of seconds above 0, not `{text}`")),
    }
}

/// Reports a usage mistake with the usage text, exiting with status 2 as command-line tools conventionally do.
fn usage_error(message: &str) -> ExitCode {
    process::say(message);
    eprint!("\n{USAGE}");
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn test_options_parse() {
        assert!(test_options(&args(&[])).unwrap().unwrap().install);
        assert!(!test_options(&args(&["--no-install"])).unwrap().unwrap().install);
        assert!(test_options(&args(&["--help"])).unwrap().is_none());
        assert!(test_options(&args(&["--frobnicate"])).is_err());
    }

    #[test]
    fn cluster_commands_parse() {
        let Ok(Cluster::Up(defaults)) = cluster_command(&args(&["up"])) else { panic!("up parses") };
        assert_eq!((defaults.relays, defaults.release), (3, false));
        let Ok(Cluster::Up(options)) = cluster_command(&args(&["up", "--relays", "5", "--release"])) else {
            panic!("up with options parses")
        };
        assert_eq!((options.relays, options.release), (5, true));
        assert!(matches!(cluster_command(&args(&["down"])), Ok(Cluster::Down)));
        assert!(matches!(cluster_command(&args(&["restart", "2"])), Ok(Cluster::Restart(2))));
        assert!(cluster_command(&args(&["restart"])).is_err());
        assert!(cluster_command(&args(&["restart", "0"])).is_err());
        assert!(cluster_command(&args(&["restart", "two"])).is_err());
        assert!(cluster_command(&args(&["restart", "2", "--now"])).is_err());
        assert!(cluster_command(&args(&["up", "--relays", "0"])).is_err());
        assert!(cluster_command(&args(&["up", "--relays"])).is_err());
        assert!(cluster_command(&args(&["up", "--fast"])).is_err());
        assert!(cluster_command(&args(&["down", "--now"])).is_err());
        assert!(cluster_command(&args(&["sideways"])).is_err());
        assert!(cluster_command(&args(&[])).is_err());
    }

    #[test]
    fn serve_options_parse() {
        let defaults = serve_options(&args(&["--listen", "127.0.0.1:4001"]));
        assert!(defaults.install);
        assert_eq!(defaults.relay_args, ["--listen", "127.0.0.1:4001"]);
        let no_install = serve_options(&args(&["--no-install", "--dev"]));
        assert!(!no_install.install);
        assert_eq!(no_install.relay_args, ["--dev"]);
    }

    #[test]
    fn bench_options_parse() {
        let options = bench_options(&args(&["--quick", "--only", "load,browser"])).unwrap();
        assert!(options.quick);
        assert_eq!(options.only, ["load", "browser"]);
        assert!(bench_options(&args(&["--only", "everything"])).is_err());
        assert!(bench_options(&args(&["--only"])).is_err());
    }

    #[test]
    fn fuzz_options_parse() {
        let defaults = fuzz_options(&args(&[])).unwrap();
        assert_eq!((defaults.seconds, defaults.only.len()), (fuzz::DEFAULT_SECONDS, 0));
        let options = fuzz_options(&args(&["--seconds", "15", "--only", "session,sse_reader"])).unwrap();
        assert_eq!(options.seconds, 15);
        assert_eq!(options.only, ["session", "sse_reader"]);
        assert!(fuzz_options(&args(&["--seconds", "0"])).is_err(), "0 would be unbounded");
        assert!(fuzz_options(&args(&["--seconds", "a minute"])).is_err());
        assert!(fuzz_options(&args(&["--seconds"])).is_err());
        assert!(fuzz_options(&args(&["--only", "everything"])).is_err());
        assert!(fuzz_options(&args(&["--forever"])).is_err());
    }
}
