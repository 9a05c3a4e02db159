//! Facts about the workspace the xtask needs: where it is, which crates exist yet, and pinned tool versions.
//!
//! The commands adapt to what is checked in (the relay, the wasm client and the Node checks arrive on other
//! branches), so these are read from the files rather than hard-coded. Parsing is deliberately tiny and
//! line-based: the xtask has no dependencies, and the files it reads are written by cargo in a fixed layout.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::Error;

/// The workspace root: the xtask crate lives one directory below it.
///
/// Taken from the compile-time manifest directory so it works whatever the current directory is.
pub fn root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// `path` relative to the workspace root when it is inside it, for shorter messages.
pub fn relative(path: &Path) -> PathBuf {
    let root = root();
    match path.strip_prefix(&root) {
        Ok(inner) if inner.as_os_str().is_empty() => PathBuf::from("."),
        Ok(inner) => inner.to_path_buf(),
        Err(_) => path.to_path_buf(),
    }
}

/// Where cargo builds: `configured` (the `CARGO_TARGET_DIR` variable) when set, a relative one taken from the
/// workspace root, where builds run; else `target/` under the root.
///
/// A `build.target-dir` in a cargo config file is not read: the workspace's `.cargo/config.toml` sets none.
pub fn target_dir(root: &Path, configured: Option<OsString>) -> PathBuf {
    match configured {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// Whether the crate in directory `dir` (relative to the root, e.g. `"relay"`) exists yet.
pub fn has_crate(dir: &str) -> bool {
    root().join(dir).join("Cargo.toml").is_file()
}

/// The `wasm-bindgen` version `Cargo.lock` pins, if the workspace depends on wasm-bindgen at all.
///
/// `wasm-bindgen-cli` must match it exactly, or the generated JS glue and the wasm disagree at runtime.
/// Several locked versions cannot all be matched by one CLI, so that is reported as an error.
pub fn wasm_bindgen_version() -> Result<Option<String>, Error> {
    let path = root().join("Cargo.lock");
    let Ok(lock) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let versions = locked_versions(&lock, "wasm-bindgen");
    match versions.as_slice() {
        [] => Ok(None),
        [version] => Ok(Some(version.clone())),
        several => Err(Error::new(format!(
            "Cargo.lock has several wasm-bindgen versions ({}), and one wasm-bindgen-cli can only match one: \
             see `cargo tree -i wasm-bindgen` and unify them",
            several.join(", ")
        ))),
    }
}

/// The names of the workspace's own crates, from the root `Cargo.toml`, leaving out `xtask` itself.
///
/// Used to say what `cargo xtask serve` built when there is no relay to run yet.
pub fn member_crates() -> Vec<String> {
    let read = |path: PathBuf| std::fs::read_to_string(path).unwrap_or_default();
    let root = root();
    workspace_members(&read(root.join("Cargo.toml")))
        .into_iter()
        .filter(|dir| dir != "xtask")
        .map(|dir| package_name(&read(root.join(&dir).join("Cargo.toml"))).unwrap_or(dir))
        .collect()
}

/// Every distinct version of package `name` in a `Cargo.lock` text, in file order.
pub fn locked_versions(lock: &str, name: &str) -> Vec<String> {
    let mut versions: Vec<String> = Vec::new();
    let mut current_name: Option<String> = None;
    for line in lock.lines().map(str::trim) {
        if line.starts_with('[') {
            current_name = None;
        } else if let Some(value) = string_value(line, "name") {
            current_name = Some(value);
        } else if current_name.as_deref() == Some(name) {
            match string_value(line, "version") {
                Some(value) if !versions.contains(&value) => versions.push(value),
                _ => {}
            }
        }
    }
    versions
}

/// The member directories listed in the `[workspace]` table's `members = [...]` of a `Cargo.toml` text.
///
/// Handles the one-line and the multi-line array forms and `#` comments (member names never contain `#`); glob
/// members are not expanded (the workspace has none).
pub fn workspace_members(cargo_toml: &str) -> Vec<String> {
    let mut in_workspace = false;
    let mut array = String::new();
    let mut collecting = false;
    for line in cargo_toml.lines().map(|line| line.split('#').next().unwrap_or_default().trim()) {
        if collecting {
            array.push_str(line);
            if line.contains(']') {
                break;
            }
        } else if line.starts_with('[') {
            in_workspace = line == "[workspace]";
        } else if !in_workspace {
            continue;
        } else if let Some(rest) = line.strip_prefix("members").and_then(|rest| rest.trim_start().strip_prefix('=')) {
            array.push_str(rest);
            if rest.contains(']') {
                break;
            }
            collecting = true;
        }
    }
    quoted_strings(&array)
}

/// The `name` in the `[package]` table of a `Cargo.toml` text.
pub fn package_name(cargo_toml: &str) -> Option<String> {
    let mut in_package = false;
    for line in cargo_toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(name) = string_value(line, "name") {
            return Some(name);
        }
    }
    None
}

/// The value of a `key = "value"` line, if `line` is one for `key`.
fn string_value(line: &str, key: &str) -> Option<String> {
    let rest = line.strip_prefix(key)?.trim_start().strip_prefix('=')?.trim();
    let inner = rest.strip_prefix('"')?;
    Some(inner[..inner.find('"')?].to_string())
}

/// Every `"..."` string in `text`, in order.
fn quoted_strings(text: &str) -> Vec<String> {
    text.split('"').skip(1).step_by(2).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
# This file is automatically @generated by Cargo.
version = 4

[[package]]
name = "wasm-bindgen"
version = "0.2.100"
source = "registry+https://github.com/rust-lang/crates.io-index"
dependencies = [
 "cfg-if",
 "wasm-bindgen-macro",
]

[[package]]
name = "wasm-bindgen-macro"
version = "0.2.100"

[[package]]
name = "web-sys"
version = "0.3.77"
dependencies = [
 "wasm-bindgen",
]
"#;

    #[test]
    fn finds_the_locked_wasm_bindgen_version() {
        assert_eq!(locked_versions(LOCK, "wasm-bindgen"), ["0.2.100"]);
        assert_eq!(locked_versions(LOCK, "web-sys"), ["0.3.77"]);
    }

    #[test]
    fn the_lockfile_format_version_is_not_a_package_version() {
        assert!(locked_versions("version = 4\n", "wasm-bindgen").is_empty());
        assert!(locked_versions(LOCK, "js-sys").is_empty());
    }

    #[test]
    fn reports_every_distinct_version() {
        let lock = format!("{LOCK}\n[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.99\"\n");
        assert_eq!(locked_versions(&lock, "wasm-bindgen"), ["0.2.100", "0.2.99"]);
    }

    #[test]
    fn reads_the_real_lockfile() {
        let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
        assert_eq!(locked_versions(&lock, "ferrocast-protocol"), ["0.1.0"]);
    }

    #[test]
    fn reads_workspace_members_in_both_layouts() {
        let one_line = "[package]\nname = \"x\"\n\n[workspace]\nmembers = [\"protocol\", \"xtask\"]\n";
        assert_eq!(workspace_members(one_line), ["protocol", "xtask"]);
        let multi = "[workspace]\nresolver = \"3\"\nmembers = [\n  \"protocol\", # core\n  \"relay\",\n]\n[x]\n";
        assert_eq!(workspace_members(multi), ["protocol", "relay"]);
        assert!(workspace_members("[package]\nmembers = [\"no\"]\n").is_empty());
    }

    #[test]
    fn reads_the_package_name() {
        let toml = "[package]\nname = \"ferrocast-relay\"\n\n[dependencies]\nname = \"no\"\n";
        assert_eq!(package_name(toml).as_deref(), Some("ferrocast-relay"));
        assert_eq!(package_name("[workspace]\n"), None);
    }

    #[test]
    fn lists_this_workspace() {
        assert!(member_crates().contains(&"ferrocast-protocol".to_string()));
        assert!(!member_crates().contains(&"xtask".to_string()));
    }
}
