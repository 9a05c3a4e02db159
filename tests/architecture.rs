//! The architecture invariants of ARCHITECTURE.md, checked: a change that breaks one fails here, not in review.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The crates `package` depends on for normal builds (not tests), by name.
fn normal_dependencies(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["tree", "--offline", "-e", "normal", "--prefix", "none", "--format", "{p}", "-p", package])
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

#[test]
fn protocol_depends_on_no_runtime_and_no_browser_binding() {
    let dependencies = normal_dependencies("ferrocast-protocol");
    assert!(dependencies.iter().any(|name| name == "ferrocast-protocol"), "cargo tree listed {dependencies:?}");
    for forbidden in ["tokio", "wasm-bindgen", "web-sys", "js-sys", "mio", "getrandom"] {
        assert!(!dependencies.iter().any(|name| name == forbidden), "ferrocast-protocol depends on {forbidden}");
    }
}

#[test]
fn protocol_never_reads_a_clock_and_does_no_io() {
    let forbidden = ["Instant::now", "SystemTime", "std::net", "std::fs", "std::thread", "std::io::stdin", "tokio"];
    let sources = rust_sources(&workspace_root().join("protocol/src"));
    assert!(sources.len() > 5, "found the protocol sources");
    for file in sources {
        let text = std::fs::read_to_string(&file).expect("readable source");
        for needle in forbidden {
            assert!(!text.contains(needle), "{} mentions {needle}", file.display());
        }
    }
}

#[test]
fn only_the_client_binds_to_the_browser() {
    for package in ["ferrocast-pubsub", "ferrocast-relay"] {
        let dependencies = normal_dependencies(package);
        for forbidden in ["wasm-bindgen", "web-sys", "js-sys"] {
            assert!(!dependencies.iter().any(|name| name == forbidden), "{package} depends on {forbidden}");
        }
    }
}

#[test]
fn the_client_is_an_io_shell_without_serde_json_or_a_runtime() {
    // The browser decodes JSON (`JSON.parse`); protocol logic lives in ferrocast-protocol, I/O is the browser's.
    let dependencies = normal_dependencies("ferrocast-client");
    assert!(dependencies.iter().any(|name| name == "wasm-bindgen"), "cargo tree listed {dependencies:?}");
    for forbidden in ["serde_json", "tokio", "axum", "ferrocast-pubsub"] {
        assert!(!dependencies.iter().any(|name| name == forbidden), "ferrocast-client depends on {forbidden}");
    }
}
