//! The architecture invariants of ARCHITECTURE.md, checked: a change that breaks one fails here, not in review.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The crates `package` depends on for normal builds (not tests), by name.
fn normal_dependencies(package: &str) -> Vec<String> {
    cargo_tree(&["-e", "normal", "-p", package])
}

/// The crates `package` depends on for any build, its tests' and benchmarks' included, by name.
fn all_dependencies(package: &str) -> Vec<String> {
    cargo_tree(&["-e", "normal,build,dev", "-p", package])
}

/// The crates `package`'s own `[dependencies]` table names, and `package`.
fn direct_dependencies(package: &str) -> Vec<String> {
    cargo_tree(&["-e", "normal", "--depth", "1", "-p", package])
}

/// The workspace's packages, by name.
fn workspace_packages() -> Vec<String> {
    cargo_tree(&["-e", "normal", "--depth", "0", "--workspace"])
}

/// The package names `cargo tree` lists with `args`.
fn cargo_tree(args: &[&str]) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["tree", "--offline", "--prefix", "none", "--format", "{p}"])
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn rust_sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("source directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files.extend(rust_sources(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
    files
}

/// Asserts `package` depends, for normal builds, on none of `forbidden`.
fn assert_depends_on_none(package: &str, forbidden: &[&str]) {
    assert_none_among(package, &normal_dependencies(package), forbidden);
}

/// Asserts `dependencies`, which cargo tree listed for `package`, hold none of `forbidden`.
fn assert_none_among(package: &str, dependencies: &[String], forbidden: &[&str]) {
    assert!(dependencies.iter().any(|name| name == package), "cargo tree listed {dependencies:?}");
    for forbidden in forbidden {
        assert!(!dependencies.iter().any(|name| name == forbidden), "{package} depends on {forbidden}");
    }
}

/// Asserts no Rust source under `dir` mentions any of `forbidden`.
fn assert_sources_never_mention(dir: &str, forbidden: &[&str]) {
    assert_sources_never_mention_except(dir, forbidden, |_| false);
}

/// Asserts no Rust source under `dir`, other than those `exempt` picks, mentions any of `forbidden`.
fn assert_sources_never_mention_except(dir: &str, forbidden: &[&str], exempt: impl Fn(&Path) -> bool) {
    let sources = rust_sources(&workspace_root().join(dir));
    assert!(sources.len() > 5, "found the sources under {dir}");
    for file in sources.into_iter().filter(|file| !exempt(file)) {
        let text = std::fs::read_to_string(&file).expect("readable source");
        for needle in forbidden {
            assert!(!text.contains(needle), "{} mentions {needle}", file.display());
        }
    }
}

#[test]
fn protocol_depends_on_no_runtime_and_no_browser_binding() {
    assert_depends_on_none("ferrocast-protocol", &["tokio", "wasm-bindgen", "web-sys", "js-sys", "mio", "getrandom"]);
}

#[test]
fn protocol_never_reads_a_clock_and_does_no_io() {
    let forbidden = ["Instant::now", "SystemTime", "std::net", "std::fs", "std::thread", "std::io::stdin", "tokio"];
    assert_sources_never_mention("protocol/src", &forbidden);
}

#[test]
fn only_the_client_binds_to_the_browser() {
    for package in ["ferrocast-pubsub", "ferrocast-channels", "ferrocast-relay", "ferrocast-reactor"] {
        assert_depends_on_none(package, &["wasm-bindgen", "web-sys", "js-sys"]);
    }
}

#[test]
fn the_client_is_an_io_shell_without_serde_json_or_a_runtime() {
    // The browser decodes JSON (`JSON.parse`); protocol logic lives in ferrocast-protocol, I/O is the browser's.
    assert_depends_on_none("ferrocast-client", &["serde_json", "tokio", "axum", "ferrocast-pubsub"]);
    assert!(normal_dependencies("ferrocast-client").iter().any(|name| name == "wasm-bindgen"));
}

#[test]
fn reactor_depends_on_no_server_and_no_browser_binding() {
    // The engine runs on tokio; whoever serves it (the `reactor:*` channel in ferrocast-channels, the relay's API)
    // depends on the reactor, not the other way round.
    assert_depends_on_none(
        "ferrocast-reactor",
        &["axum", "tokio-tungstenite", "ferrocast-pubsub", "ferrocast-channels", "ferrocast-relay"],
    );
}

#[test]
fn reactor_core_never_reads_a_clock_and_does_no_io() {
    // Only the engine (`engine/`) and the demo's simulated stages (`demo.rs`) touch tokio and time.
    let forbidden =
        ["Instant::now", "SystemTime", "std::net", "std::fs", "std::thread", "std::io", "tokio", "axum", "sleep("];
    let outside_the_core =
        |file: &Path| file.ends_with("demo.rs") || file.components().any(|part| part.as_os_str() == "engine");
    assert_sources_never_mention_except("reactor/src", &forbidden, outside_the_core);
}

#[test]
fn pubsub_depends_on_no_http_or_websocket_crate() {
    // The relay is the transport: pubsub is handed each connection's messages and hands back its outbox.
    assert_depends_on_none(
        "ferrocast-pubsub",
        &["axum", "hyper", "http", "tungstenite", "tokio-tungstenite", "reqwest"],
    );
}

#[test]
fn pubsub_depends_on_neither_the_reactor_nor_a_channel_even_in_its_tests() {
    // pubsub is the engine; the built-in channels (ferrocast-channels) and the workflow engine that `reactor:*`
    // serves are applications of it, which depend on it, never the other way round.
    let forbidden = ["ferrocast-reactor", "ferrocast-channels"];
    assert_none_among("ferrocast-pubsub", &all_dependencies("ferrocast-pubsub"), &forbidden);
}

#[test]
fn only_the_channels_crate_joins_pubsub_and_the_reactor() {
    // A crate that names both is an application of the engine: a channel, which goes in ferrocast-channels. The
    // relay, which serves the channels and the workflow API, and this crate, which tests them, name both too.
    let names_both = |package: &str| {
        let dependencies = direct_dependencies(package);
        ["ferrocast-pubsub", "ferrocast-reactor"].iter().all(|both| dependencies.iter().any(|name| name == both))
    };
    assert!(names_both("ferrocast-channels"), "ferrocast-channels names ferrocast-pubsub and ferrocast-reactor");
    let packages = workspace_packages();
    assert!(packages.len() > 5, "cargo tree listed the workspace's packages: {packages:?}");
    let exempt = ["ferrocast", "ferrocast-relay", "ferrocast-channels"];
    for package in packages.iter().filter(|name| !exempt.contains(&name.as_str())) {
        assert!(!names_both(package), "{package} depends on both ferrocast-pubsub and ferrocast-reactor");
    }
}

#[test]
fn the_relay_defines_no_channel_and_decides_no_topic_permission() {
    // Channels are ferrocast-channels' (or an embedding program's), and who may join or read a topic is pubsub's:
    // the relay asks (`Identity::may_read`), never decides.
    assert_sources_never_mention("relay/src", &["impl Channel for", "may_join(", "zone_permissions(", "Pattern::"]);
}

#[test]
fn only_the_hooks_crate_calls_backends_and_it_serves_nothing() {
    // The hooks are the one HTTP client of the workspace: pubsub sees them as a `Remote`, the relay as the connect
    // and refresh calls, and neither speaks HTTP to a backend itself. They serve no socket and run no channel.
    for package in workspace_packages().iter().filter(|name| name.as_str() != "ferrocast-hooks") {
        assert_none_among(package, &direct_dependencies(package), &["reqwest"]);
    }
    assert_depends_on_none(
        "ferrocast-hooks",
        &["axum", "tokio-tungstenite", "ferrocast-relay", "ferrocast-channels", "ferrocast-reactor"],
    );
}
