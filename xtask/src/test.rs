//! `cargo xtask test`: every test the project has, in one command, stopping at the first failure.
//!
//! Steps for crates and test projects that do not exist yet are skipped, so the command keeps working as the
//! relay, client and Node checks land on their own branches.
//!
//! The steps share one Redis server that the command starts first and stops at the end (`redis.rs`): every command
//! they run gets its URL in `FERROCAST_REDIS_URL`, and the `redis-server` binary in `FERROCAST_REDIS_SERVER` for
//! tests that start instances of their own. The relay binary, built before any test runs, is named to them all in
//! `FERROCAST_RELAY_BIN`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

use crate::process::{self, say};
use crate::redis::{RedisServer, SERVER_VAR, URL_VAR};
use crate::{Error, bench, client, fuzz, prereqs, workspace};

/// Node projects: a directory relative to the workspace root and the command to run there, in order: the test
/// projects, and the two pages the browser end-to-end tests load (the dashboard and the Nuxt example), built
/// just before `www/e2e` runs them.
///
/// Each runs only when its directory exists, after `npm ci` when it has a `package.json`.
const NODE_TESTS: &[(&str, &[&str])] = &[
    ("protocol/tests/presence-oracle", &["node", "oracle.mjs", "--check"]),
    (
        "tests/phoenix-js",
        &["node", "--test", "relay.test.mjs", "auth.test.mjs", "reactor.test.mjs", "cluster.test.mjs"],
    ),
    // Webhooks out: the relay POSTs signed event batches to receivers that check them with `standardwebhooks`, from
    // its memory and from the queue on Redis (the shared server, a database per test).
    ("tests/webhooks", &["node", "--test", "webhooks.test.mjs", "redis.test.mjs"]),
    // `cargo xtask cluster up --relays 3`: three relays on a Redis of their own behind HAProxy, through the balancer,
    // one killed on the way; then `cluster down`. Then a relay killed and another restarted under load, at a small
    // size (240 subscribers, 50 broadcasts/s for 16 s): every subscriber gets every broadcast once, in order. One
    // file at a time: both use the one cluster `up` starts.
    ("tests/cluster", &["node", "--test", "--test-concurrency=1", "balancer.test.mjs", "relay-killed.test.mjs"]),
    (
        "client/tests/node",
        &[
            "node",
            "--test",
            "ssr.test.mjs",
            "entries.test.mjs",
            "presence.test.mjs",
            "quickstart.test.mjs",
            "connection-values.test.mjs",
            "backoff-functions.test.mjs",
            "auth.test.mjs",
            "strings.test.mjs",
            "reactor.test.mjs",
            "vue.test.mjs",
        ],
    ),
    // The same connection tests against `@ferrocast/client/core` (`client/tests/node/entry.mjs` picks the entry).
    (
        "client/tests/node",
        &[
            "env",
            "FERROCAST_CLIENT_ENTRY=core",
            "node",
            "--test",
            "connection-values.test.mjs",
            "backoff-functions.test.mjs",
            "auth.test.mjs",
            "strings.test.mjs",
        ],
    ),
    ("www/dashboard", &["npm", "run", "build"]),
    ("www/nuxt-example", &["npm", "run", "build"]),
    ("www/e2e", &["node", "--test", "--test-concurrency=1", "dashboard.test.mjs", "nuxt.test.mjs"]),
];

/// The Node test projects that start the relay binary, and so are skipped while the relay crate does not exist.
const NEEDS_RELAY: &[&str] = &[
    "tests/phoenix-js",
    "tests/webhooks",
    "tests/cluster",
    "client/tests/node",
    "www/dashboard",
    "www/nuxt-example",
    "www/e2e",
];

/// The environment variable that tells the tests which relay binary to start (`tests/support/relay_process.rs`,
/// `tests/support/relay-process.mjs`).
const RELAY_BIN_VAR: &str = "FERROCAST_RELAY_BIN";

/// Options for `cargo xtask test`.
pub(crate) struct Options {
    /// Run the installers first (the default); `--no-install` turns this off for people who manage their tools.
    pub install: bool,
}

/// Installs what is missing (unless told not to), then runs every test step in order.
pub(crate) fn run(options: &Options) -> Result<(), Error> {
    let start = Instant::now();
    if options.install {
        prereqs::ensure(prereqs::FOR_TESTS, "test")?;
    } else {
        say("--no-install: not checking or installing prerequisites");
    }
    let root = workspace::root();

    // One Redis server for every step, stopped when `redis` is dropped: at the end, or on any early return.
    let redis = RedisServer::start(&root)?;
    process::export(URL_VAR, redis.url());
    process::export(SERVER_VAR, redis.binary());
    let (url, binary) = (redis.url(), redis.binary().display());
    say(format!("every step gets {URL_VAR}={url} and {SERVER_VAR}={binary}"));

    let steps = std::cell::Cell::new(0);
    let count = || steps.set(steps.get() + 1);
    let step = |command: &mut Command| {
        count();
        process::run(command)
    };
    let cargo = |args: &[&str]| {
        let mut command = process::cargo();
        command.args(args).current_dir(&root);
        command
    };

    // The tests that run the relay as a process (tests/relay_cli.rs, relay_cluster.rs, relay_memory.rs, the Node
    // tests) start its debug binary, which cargo builds for no other package's tests, so it must be built (and
    // current) first; every step gets its path. So must the load generator and its minimal baseline, for the
    // benchmark smoke pass at the end.
    let has_relay = workspace::has_crate("relay");
    let relay_bin = relay_binary(&root, std::env::var_os("CARGO_TARGET_DIR"));
    if has_relay {
        step(&mut cargo(&["build", "-p", "ferrocast-relay", "-p", "ferrocast-loadgen"]))?;
        process::export(RELAY_BIN_VAR, &relay_bin);
    }

    step(&mut cargo(&["test", "--workspace"]))?;
    // The load tests hold the relay to its latency targets only when optimized (see tests/relay_load.rs).
    if root.join("tests/relay_load.rs").is_file() {
        step(&mut cargo(&["test", "--release", "--test", "relay_load", "--", "--test-threads=1"]))?;
    }
    // The protocol crate is shared with the browser client: it must build for wasm, with and without serde_json.
    let wasm = ["build", "-p", "ferrocast-protocol", "--target", "wasm32-unknown-unknown"];
    step(&mut cargo(&wasm))?;
    step(&mut cargo(&[&wasm[..], &["--no-default-features"]].concat()))?;

    // The wasm client: its npm package (which the Node tests below import), then its tests in Chromium.
    if workspace::has_crate("client") {
        count();
        let sizes = client::build()?;
        for (entry, size, budget, name) in [
            ("the client (client/pkg/web)", sizes.full, client::GZIP_BUDGET, "GZIP_BUDGET"),
            ("the core (client/pkg/web-core)", sizes.core, client::CORE_GZIP_BUDGET, "CORE_GZIP_BUDGET"),
        ] {
            if size > budget {
                return Err(Error::new(format!(
                    "{entry} weighs {:.1} KB gzip, over its budget of {:.1} KB (xtask/src/client.rs, {name})",
                    size as f64 / 1000.0,
                    budget as f64 / 1000.0
                )));
            }
        }
        if has_relay {
            count();
            client::test_in_browser(&relay_bin)?;
        }
    }

    for (dir, command) in NODE_TESTS {
        let path = root.join(dir);
        if !path.is_dir() {
            continue;
        }
        if NEEDS_RELAY.contains(dir) && !has_relay {
            say(format!("{dir}: skipped, the relay crate (relay/) does not exist yet"));
            continue;
        }
        if npm_ci_if_needed(&path)? {
            count();
        }
        let (program, args) = command.split_first().expect("a Node test command names a program");
        let mut node = Command::new(program);
        node.args(args).current_dir(&path);
        step(&mut node)?;
    }

    if has_relay && root.join("loadgen").is_dir() {
        count();
        bench::smoke(&root)?;
    }

    // A short pass of every fuzz target (nightly, its own target directory): the targets keep building and their
    // seeds keep passing; `cargo xtask fuzz` is for fuzzing longer.
    if root.join("fuzz/Cargo.toml").is_file() {
        count();
        fuzz::smoke(&root, options.install)?;
    }

    drop(redis);
    say(format!("all tests passed ({} steps, {:.1} s)", steps.get(), start.elapsed().as_secs_f64()));
    Ok(())
}

/// Where `cargo build -p ferrocast-relay` puts the relay binary: `debug/` under the target directory.
fn relay_binary(root: &Path, target_dir: Option<OsString>) -> PathBuf {
    workspace::target_dir(root, target_dir)
        .join("debug")
        .join(format!("ferrocast-relay{}", std::env::consts::EXE_SUFFIX))
}

/// Runs `npm ci` in `dir` when it is a Node project whose dependencies are missing or older than its lockfile;
/// says whether it ran.
pub(crate) fn npm_ci_if_needed(dir: &Path) -> Result<bool, Error> {
    if !dir.join("package.json").is_file() {
        return Ok(false);
    }
    if !npm_install_needed(dir) {
        say(format!("{}: npm dependencies up to date, skipping npm ci", workspace::relative(dir).display()));
        return Ok(false);
    }
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund"]).current_dir(dir);
    process::run(&mut npm).map(|()| true)
}

/// Whether `npm ci` must run in `dir`, judged from the lockfile and file modification times.
pub(crate) fn npm_install_needed(dir: &Path) -> bool {
    let lockfile = dir.join("package-lock.json");
    if std::fs::read_to_string(&lockfile).is_ok_and(|text| !lock_has_dependencies(&text)) {
        // npm installs nothing and writes no node_modules for a project without dependencies.
        return false;
    }
    let modified = |path: &Path| std::fs::metadata(path).and_then(|meta| meta.modified()).ok();
    let marker = dir.join("node_modules/.package-lock.json");
    install_is_stale(modified(&lockfile), modified(&marker))
}

/// Whether a `package-lock.json` text (lockfile version 2 or 3, as npm 7 and later write) lists any package
/// besides the project itself: those are the `"node_modules/..."` keys of its `packages` map.
fn lock_has_dependencies(lockfile: &str) -> bool {
    lockfile.contains("\"node_modules/")
}

/// The npm freshness decision: npm writes `node_modules/.package-lock.json` at the end of every install, so
/// node_modules is current exactly when that file exists and is not older than `package-lock.json`.
///
/// With no `package-lock.json` we still say "install", so `npm ci` reports the missing lockfile itself.
fn install_is_stale(lockfile: Option<SystemTime>, installed_marker: Option<SystemTime>) -> bool {
    match (lockfile, installed_marker) {
        (Some(lockfile), Some(marker)) => lockfile > marker,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const T: SystemTime = SystemTime::UNIX_EPOCH;

    #[test]
    fn relay_binary_is_under_the_target_dir() {
        let root = Path::new("/repo");
        let exe = format!("ferrocast-relay{}", std::env::consts::EXE_SUFFIX);
        assert_eq!(relay_binary(root, None), root.join("target/debug").join(&exe));
        assert_eq!(relay_binary(root, Some("".into())), root.join("target/debug").join(&exe));
        assert_eq!(relay_binary(root, Some("out".into())), root.join("out/debug").join(&exe));
        assert_eq!(relay_binary(root, Some("/tmp/t".into())), Path::new("/tmp/t/debug").join(&exe));
    }

    #[test]
    fn installs_when_never_installed() {
        assert!(install_is_stale(Some(T), None));
    }

    #[test]
    fn installs_when_the_lockfile_changed_after_the_install() {
        assert!(install_is_stale(Some(T + Duration::from_secs(10)), Some(T)));
    }

    #[test]
    fn skips_when_the_install_is_newer_or_same_age() {
        assert!(!install_is_stale(Some(T), Some(T + Duration::from_secs(10))));
        assert!(!install_is_stale(Some(T), Some(T)));
    }

    #[test]
    fn lets_npm_report_a_missing_lockfile() {
        assert!(install_is_stale(None, Some(T)));
        assert!(install_is_stale(None, None));
    }

    #[test]
    fn a_lockfile_without_packages_needs_no_install() {
        let empty = r#"{"name":"o","lockfileVersion":3,"packages":{"":{"name":"o"}}}"#;
        assert!(!lock_has_dependencies(empty));
        let with_ms = r#"{"packages":{"":{"dependencies":{"ms":"^2"}},"node_modules/ms":{"version":"2.1.3"}}}"#;
        assert!(lock_has_dependencies(with_ms));
    }

    #[test]
    fn npm_decision_reads_the_files() {
        let dir = std::env::temp_dir().join(format!("xtask-npm-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("node_modules")).unwrap();
        let lock = r#"{"packages":{"":{},"node_modules/ms":{}}}"#;
        std::fs::write(dir.join("package-lock.json"), lock).unwrap();
        assert!(npm_install_needed(&dir));
        std::fs::write(dir.join("node_modules/.package-lock.json"), "{}").unwrap();
        let lock = std::fs::File::options().write(true).open(dir.join("package-lock.json")).unwrap();
        lock.set_modified(T).unwrap();
        assert!(!npm_install_needed(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
