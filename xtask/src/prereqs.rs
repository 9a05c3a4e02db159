//! Idempotent installers for the tools the commands need.
//!
//! CI runs on a fresh machine where nothing was installed by hand, and a new user starts from one, so the project
//! installs what it needs itself. Each command names the tools it needs ([`FOR_SERVE`], [`FOR_TESTS`]); each tool
//! is checked first and installed only when missing, and prints exactly one line saying what it found or what it
//! is doing, so a second run is fast and quiet. When something cannot be installed (it needs root, or there is no
//! network) we stop with a message naming the missing piece and the command to run.

use std::process::Command;

use crate::process::{self, probe, say};
use crate::{Error, client, redis, workspace};

/// One thing a command needs on the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tool {
    /// The `wasm32-unknown-unknown` standard library, for the client and the protocol crate's browser build.
    WasmTarget,
    /// The pinned nightly toolchain the client's release wasm is built with ([`client::RELEASE_TOOLCHAIN`]), with
    /// `rust-src` (for `build-std`) and its `wasm32-unknown-unknown` target; nothing else builds with it.
    WasmNightly,
    /// `wasm-bindgen-cli` at exactly the version `Cargo.lock` pins.
    WasmBindgenCli,
    /// `wasm-pack`, which builds the wasm client.
    WasmPack,
    /// `node` and `npm`: the client's build tools (`client/tools`), the dashboard's build, the Node tests.
    NodeAndNpm,
    /// Debian's Chromium and its WebDriver, for the browser tests.
    Chromium,
    /// Debian's `redis-server`, for the tests that run several relays (and, as `redis-server --sentinel`, the
    /// sentinels of the Sentinel failover test).
    RedisServer,
    /// Debian's `haproxy`, the load balancer in front of `cargo xtask cluster`'s relays.
    Haproxy,
}

/// What `cargo xtask serve` needs to build the client and the demo: nothing that only the tests use (no browser,
/// no Redis), so the README's first command is also the quickest way to a running demo on a fresh machine.
pub(crate) const FOR_SERVE: &[Tool] =
    &[Tool::WasmTarget, Tool::WasmNightly, Tool::WasmBindgenCli, Tool::WasmPack, Tool::NodeAndNpm];

/// What `cargo xtask test` needs: what `serve` does, plus a browser, a Redis server and HAProxy (the cluster test).
pub(crate) const FOR_TESTS: &[Tool] = &[
    Tool::WasmTarget,
    Tool::WasmNightly,
    Tool::WasmBindgenCli,
    Tool::WasmPack,
    Tool::Chromium,
    Tool::NodeAndNpm,
    Tool::RedisServer,
    Tool::Haproxy,
];

/// The Debian package the browser tests need: a headless browser, which playwright-core drives without a WebDriver.
/// (wasm-opt comes from npm: Debian 12's is too old, see `client.rs`.)
const BROWSER_PACKAGES: &[&str] = &["chromium"];

/// The Debian package of the Redis server `cargo xtask test` runs for the tests (see `redis.rs`).
const REDIS_PACKAGES: &[&str] = &["redis-server"];

/// The Debian package of the load balancer `cargo xtask cluster up` runs (see `cluster.rs`).
const HAPROXY_PACKAGES: &[&str] = &["haproxy"];

/// What `cargo xtask cluster up` needs besides the relay: a Redis server and HAProxy.
pub(crate) const FOR_CLUSTER: &[Tool] = &[Tool::RedisServer, Tool::Haproxy];

/// Checks and, where needed, installs each of `tools`, in order; `command` names the command that needs them,
/// for the messages.
pub(crate) fn ensure(tools: &[Tool], command: &str) -> Result<(), Error> {
    for tool in tools {
        match tool {
            Tool::WasmTarget => wasm_target()?,
            Tool::WasmNightly => wasm_nightly()?,
            Tool::WasmBindgenCli => {
                if let Some(version) = workspace::wasm_bindgen_version()? {
                    wasm_bindgen_cli(&version)?;
                }
            }
            Tool::WasmPack => wasm_pack()?,
            Tool::NodeAndNpm => node_and_npm(command)?,
            Tool::Chromium => apt_packages(BROWSER_PACKAGES, "the wasm client's browser tests")?,
            Tool::RedisServer => redis_server()?,
            Tool::Haproxy => apt_packages(HAPROXY_PACKAGES, "the load balancer of `cargo xtask cluster`")?,
        }
    }
    Ok(())
}

/// Debian's `redis-server`, unless `FERROCAST_REDIS_SERVER` names the one to use.
fn redis_server() -> Result<(), Error> {
    match std::env::var_os(redis::SERVER_VAR).filter(|value| !value.is_empty()) {
        Some(binary) => {
            say(format!("redis-server: {} names {}, not installing Debian's", redis::SERVER_VAR, binary.display()));
            Ok(())
        }
        None => apt_packages(REDIS_PACKAGES, "the Redis server the tests run"),
    }
}

/// Checks and, where needed, installs what the fuzz targets (`fuzz/`, `cargo xtask fuzz`) are built and run with:
/// the nightly toolchain, whose sanitizer flags libFuzzer's instrumentation needs, and cargo-fuzz.
pub(crate) fn ensure_for_fuzzing() -> Result<(), Error> {
    nightly_toolchain()?;
    cargo_fuzz()
}

/// Whether the nightly toolchain and cargo-fuzz are both there, without installing anything.
pub(crate) fn fuzzing_tools_present() -> bool {
    has_nightly() == Some(true) && probe("cargo", &["fuzz", "--version"]).is_some()
}

/// The nightly toolchain, minimal profile: only `cargo fuzz build` uses it, never the workspace's own builds.
fn nightly_toolchain() -> Result<(), Error> {
    match has_nightly() {
        Some(true) => {
            say("nightly toolchain: present");
            Ok(())
        }
        Some(false) => {
            let mut command = Command::new("rustup");
            command.args(["toolchain", "install", "nightly", "--profile", "minimal"]);
            install("the nightly toolchain", &mut command)
        }
        None => Err(Error::new(
            "cannot ask rustup which toolchains are installed (is rustup on PATH?): the fuzz targets need a nightly \
             toolchain, `rustup toolchain install nightly --profile minimal`",
        )),
    }
}

/// Whether rustup has the plain `nightly` toolchain (not only dated ones, which `rustup run nightly` does not
/// use); `None` when rustup cannot be asked.
fn has_nightly() -> Option<bool> {
    let toolchains = probe("rustup", &["toolchain", "list"])?;
    Some(toolchains.lines().filter_map(|line| line.split_whitespace().next()).any(is_plain_nightly))
}

/// `nightly-x86_64-unknown-linux-gnu` is; `nightly-2025-01-01-x86_64-unknown-linux-gnu` and `stable-…` are not.
fn is_plain_nightly(toolchain: &str) -> bool {
    toolchain.strip_prefix("nightly-").is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit()))
}

/// `cargo-fuzz`, which builds the fuzz targets with libFuzzer's instrumentation.
fn cargo_fuzz() -> Result<(), Error> {
    if let Some(version) = probe("cargo", &["fuzz", "--version"]) {
        say(format!("cargo-fuzz: present ({})", version.trim()));
        return Ok(());
    }
    install_crate("cargo-fuzz", None)
}

/// The `wasm32-unknown-unknown` standard library, for the protocol crate's browser build and the client.
fn wasm_target() -> Result<(), Error> {
    const TARGET: &str = "wasm32-unknown-unknown";
    let installed = probe("rustup", &["target", "list", "--installed"]).ok_or_else(|| {
        Error::new(format!(
            "cannot ask rustup which targets are installed (is rustup on PATH?): add the {TARGET} target to your \
             toolchain yourself and rerun with --no-install"
        ))
    })?;
    if installed.lines().any(|line| line.trim() == TARGET) {
        say(format!("{TARGET} target: present"));
        return Ok(());
    }
    let mut command = Command::new("rustup");
    command.args(["target", "add", TARGET]);
    install(&format!("the {TARGET} target"), &mut command)
}

/// The pinned nightly the client's release wasm is built with, minimal profile, with `rust-src` (build-std
/// compiles the standard library from it) and the `wasm32-unknown-unknown` target. Only `cargo xtask build-client`
/// uses it, through `RUSTUP_TOOLCHAIN` on its wasm-pack commands; the workspace's own builds stay on stable.
fn wasm_nightly() -> Result<(), Error> {
    let toolchain = client::RELEASE_TOOLCHAIN;
    let installed = probe("rustup", &["component", "list", "--installed", "--toolchain", toolchain]);
    if installed.as_deref().is_some_and(has_release_components) {
        say(format!("{toolchain} toolchain with rust-src and the wasm32-unknown-unknown target: present"));
        return Ok(());
    }
    if probe("rustup", &["--version"]).is_none() {
        return Err(Error::new(format!(
            "cannot ask rustup which toolchains are installed (is rustup on PATH?): the client's release wasm is \
             built with `rustup toolchain install {toolchain} --profile minimal --component rust-src --target \
             wasm32-unknown-unknown`"
        )));
    }
    // On a toolchain that is already there, this adds only the missing component or target.
    let mut command = Command::new("rustup");
    command.args(["toolchain", "install", toolchain, "--profile", "minimal"]);
    command.args(["--component", "rust-src", "--target", "wasm32-unknown-unknown"]);
    install(&format!("the {toolchain} toolchain with rust-src and the wasm32-unknown-unknown target"), &mut command)
}

/// Whether `rustup component list --installed` output has what the release wasm build needs.
fn has_release_components(installed: &str) -> bool {
    let has = |component: &str| installed.lines().any(|line| line.trim() == component);
    has("rust-src") && has("rust-std-wasm32-unknown-unknown")
}

/// `wasm-bindgen-cli` at exactly the version `Cargo.lock` pins, which wasm-pack and the test runner use.
fn wasm_bindgen_cli(version: &str) -> Result<(), Error> {
    let found = probe("wasm-bindgen", &["--version"]);
    let found = found.as_deref().and_then(cli_version);
    if found == Some(version) {
        say(format!("wasm-bindgen-cli {version}: present"));
        return Ok(());
    }
    if let Some(other) = found {
        say(format!("wasm-bindgen-cli {other} found, but Cargo.lock pins wasm-bindgen {version}"));
    }
    install_crate("wasm-bindgen-cli", Some(version))?;
    // A different wasm-bindgen earlier on PATH would shadow the one cargo just installed.
    let after = probe("wasm-bindgen", &["--version"]);
    match after.as_deref().and_then(cli_version) {
        Some(now) if now == version => Ok(()),
        now => Err(Error::new(format!(
            "installed wasm-bindgen-cli {version}, but `wasm-bindgen --version` now reports {}: put cargo's bin \
             directory (usually ~/.cargo/bin) first on PATH",
            now.unwrap_or("nothing")
        ))),
    }
}

/// `wasm-pack`, which builds the wasm client.
fn wasm_pack() -> Result<(), Error> {
    if let Some(version) = probe("wasm-pack", &["--version"]) {
        say(format!("wasm-pack: present ({})", version.trim()));
        return Ok(());
    }
    install_crate("wasm-pack", None)
}

/// `cargo install` of a tool, with the versions of its dependencies its authors tested (`--locked`); when the
/// registry no longer has one of those (yanked), again with the newest compatible ones.
fn install_crate(name: &str, version: Option<&str>) -> Result<(), Error> {
    let what = match version {
        Some(version) => format!("{name} {version}"),
        None => name.to_owned(),
    };
    locked_then_unlocked(|locked| {
        let mut command = process::cargo();
        command.args(["install", name]);
        if let Some(version) = version {
            command.args(["--version", version]);
        }
        if locked {
            command.arg("--locked");
        }
        install(&what, &mut command)
    })
}

/// Runs `attempt(true)` (install `--locked`) and, only when that fails, says why and runs `attempt(false)`.
///
/// A locked install can fail for a reason that is not ours: `wasm-bindgen-cli 0.2.x --locked` pins a dependency
/// version the registry no longer serves, while the same version without `--locked` builds and works.
fn locked_then_unlocked(mut attempt: impl FnMut(bool) -> Result<(), Error>) -> Result<(), Error> {
    attempt(true).or_else(|_| {
        // Its own advice ("no network?") would mislead here: cargo's error above says what was missing.
        say("the install with --locked failed (often a dependency version it locks is no longer in the registry): \
             trying again without --locked");
        attempt(false)
    })
}

/// Installs whichever of the Debian `packages` are missing, with one `apt-get update` and one `apt-get install`.
///
/// `why` says what needs them, for the messages. Installing needs root; when we are not root we stop and print
/// the command to run as root instead.
pub(crate) fn apt_packages(packages: &[&str], why: &str) -> Result<(), Error> {
    let list = packages.join(" ");
    let mut missing = Vec::new();
    for &package in packages {
        match dpkg_installed(package) {
            Some(true) => {}
            Some(false) => missing.push(package),
            None => {
                say(format!(
                    "cannot check Debian packages {list} (no dpkg-query, so not Debian?): make sure they, or your \
                     system's equivalents, are installed for {why}"
                ));
                return Ok(());
            }
        }
    }
    if missing.is_empty() {
        say(format!("Debian packages {list}: present"));
        return Ok(());
    }
    let missing_list = missing.join(" ");
    let advice = format!("apt-get update && apt-get install -y --no-install-recommends {missing_list}");
    let (subject, verb) = match missing.as_slice() {
        [one] => (one.to_string(), "is"),
        several => (several.join(", "), "are"),
    };
    if !process::is_root() {
        return Err(Error::new(format!(
            "{subject} {verb} missing (needed for {why}) and installing needs root: run `{advice}` as root"
        )));
    }
    say(format!("installing Debian packages {missing_list} for {why} (apt-get install)"));
    let failed = |err: Error| Error::new(format!("{err}; installing {subject} failed: fix that, or run `{advice}`"));
    let apt = |args: &[&str]| {
        let mut command = Command::new("apt-get");
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    process::run(&mut apt(&["update"])).map_err(failed)?;
    let mut install_args = vec!["install", "-y", "--no-install-recommends"];
    install_args.extend(&missing);
    process::run(&mut apt(&install_args)).map_err(failed)
}

/// Whether Debian package `package` is installed; `None` when dpkg-query cannot be run at all.
fn dpkg_installed(package: &str) -> Option<bool> {
    let output = Command::new("dpkg-query").args(["-W", "-f=${Status}", package]).output().ok()?;
    // dpkg-query exits non-zero for a package it has never heard of: that is "not installed", not "no dpkg".
    Some(String::from_utf8_lossy(&output.stdout).contains("install ok installed"))
}

/// `node` and `npm`, which the client's build tools, the dashboard and the Node tests run on; `command` is the
/// xtask command that needs them. Only checked: installing Node is the machine's business.
fn node_and_npm(command: &str) -> Result<(), Error> {
    let mut versions = Vec::new();
    for tool in ["node", "npm"] {
        match probe(tool, &["--version"]) {
            Some(version) => versions.push(format!("{tool} {}", version.trim())),
            None => {
                return Err(Error::new(format!(
                    "{tool} is missing, and `cargo xtask {command}` needs it: install Node.js 20 or later with npm \
                     (https://nodejs.org), or rerun with --no-install to skip this check"
                )));
            }
        }
    }
    say(format!("{}: present", versions.join(", ")));
    Ok(())
}

/// Announces and runs one installer command, turning a failure into advice naming what is missing.
fn install(what: &str, command: &mut Command) -> Result<(), Error> {
    let shown = process::display(command);
    say(format!("installing {what} ({shown})"));
    process::run(command).map_err(|err| {
        Error::new(format!("{err}; {what} is missing and could not be installed (no network?): run `{shown}`"))
    })
}

/// The version in `wasm-bindgen --version` output, e.g. `0.2.100` from `wasm-bindgen 0.2.100`.
fn cli_version(output: &str) -> Option<&str> {
    let mut words = output.split_whitespace();
    (words.next()? == "wasm-bindgen").then_some(())?;
    words.next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_plain_nightly_toolchain_counts() {
        assert!(is_plain_nightly("nightly-x86_64-unknown-linux-gnu"));
        assert!(is_plain_nightly("nightly-aarch64-apple-darwin"));
        assert!(!is_plain_nightly("nightly-2025-01-01-x86_64-unknown-linux-gnu"));
        assert!(!is_plain_nightly("stable-x86_64-unknown-linux-gnu"));
        assert!(!is_plain_nightly("1.95.0-x86_64-unknown-linux-gnu"));
    }

    #[test]
    fn serve_installs_what_the_demo_builds_with_and_nothing_only_tests_use() {
        for tool in [Tool::WasmTarget, Tool::WasmNightly, Tool::WasmBindgenCli, Tool::WasmPack, Tool::NodeAndNpm] {
            assert!(FOR_SERVE.contains(&tool), "serve needs {tool:?}");
            assert!(FOR_TESTS.contains(&tool), "the tests build the client too, so they need {tool:?}");
        }
        assert!(!FOR_SERVE.contains(&Tool::Chromium), "a demo needs no headless browser");
        assert!(!FOR_SERVE.contains(&Tool::RedisServer), "a demo runs one relay, in memory");
        assert!(FOR_TESTS.contains(&Tool::Chromium) && FOR_TESTS.contains(&Tool::RedisServer));
    }

    #[test]
    fn the_release_nightly_needs_rust_src_and_the_wasm_target() {
        let complete = "cargo-x86_64-unknown-linux-gnu\nrust-src\nrust-std-wasm32-unknown-unknown\n\
                        rust-std-x86_64-unknown-linux-gnu\nrustc-x86_64-unknown-linux-gnu\n";
        assert!(has_release_components(complete));
        assert!(!has_release_components("rust-src\nrust-std-x86_64-unknown-linux-gnu\n"), "no wasm32 target");
        assert!(!has_release_components("rust-std-wasm32-unknown-unknown\n"), "no rust-src for build-std");
        assert!(!has_release_components(""));
    }

    #[test]
    fn a_locked_install_that_works_is_not_repeated() {
        let mut tries = Vec::new();
        let result = locked_then_unlocked(|locked| {
            tries.push(locked);
            Ok(())
        });
        assert!(result.is_ok());
        assert_eq!(tries, [true]);
    }

    #[test]
    fn a_failed_locked_install_is_tried_again_unlocked() {
        let mut tries = Vec::new();
        let result = locked_then_unlocked(|locked| {
            tries.push(locked);
            if locked { Err(Error::new("failed to select a version for the requirement")) } else { Ok(()) }
        });
        assert!(result.is_ok(), "the unlocked install worked, so the whole install did");
        assert_eq!(tries, [true, false]);
    }

    #[test]
    fn when_both_installs_fail_the_unlocked_failure_is_reported() {
        let result = locked_then_unlocked(|locked| Err(Error::new(if locked { "locked" } else { "unlocked" })));
        assert_eq!(result.unwrap_err().to_string(), "unlocked");
    }

    #[test]
    fn parses_wasm_bindgen_version_output() {
        assert_eq!(cli_version("wasm-bindgen 0.2.100\n"), Some("0.2.100"));
        assert_eq!(cli_version("wasm-bindgen 0.2.92 (abc1234 2024-03-04)"), Some("0.2.92"));
        assert_eq!(cli_version(""), None);
        assert_eq!(cli_version("wasm-bindgen"), None);
        assert_eq!(cli_version("something-else 0.2.100"), None);
    }
}
