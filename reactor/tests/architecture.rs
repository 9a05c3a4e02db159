//! The reactor's invariants from ARCHITECTURE.md, checked: it is a sans-IO core with no clock, no I/O and no
//! runtime, so a later executor (tokio) and publisher can sit on top and tests run in simulated time.

use std::path::{Path, PathBuf};

fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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
fn the_reactor_depends_only_on_serde_json_and_thiserror() {
    let manifest = std::fs::read_to_string(crate_root().join("Cargo.toml")).expect("the manifest");
    let dependencies: Vec<&str> = manifest
        .lines()
        .skip_while(|line| line.trim() != "[dependencies]")
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .filter_map(|line| line.split('=').next().map(str::trim))
        .filter(|name| !name.is_empty() && !name.starts_with('#'))
        .collect();
    assert_eq!(dependencies, ["serde_json", "thiserror"]);
}

#[test]
fn the_reactor_never_reads_a_clock_and_does_no_io() {
    let forbidden =
        ["Instant::now", "SystemTime", "std::net", "std::fs", "std::thread", "std::io", "tokio", "axum", "sleep("];
    let sources = rust_sources(&crate_root().join("src"));
    assert!(sources.len() > 5, "found the reactor's sources");
    for file in sources {
        let text = std::fs::read_to_string(&file).expect("readable source");
        for needle in forbidden {
            assert!(!text.contains(needle), "{} mentions {needle}", file.display());
        }
    }
}
