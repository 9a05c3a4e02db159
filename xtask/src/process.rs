//! Running other programs: echoed, checked, and reported with a message a person can act on.
//!
//! Every command the xtask runs for the user's benefit is printed first (`xtask: $ cargo test --workspace`) so a
//! failing run can be reproduced by copying the line. Quiet probes (`wasm-pack --version`) go through [`probe`]
//! and print nothing: they are questions, not steps.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};

use crate::Error;

/// Prints one of the xtask's own lines, on stderr like cargo's, so it interleaves in order with child output.
///
/// A closed stderr (`cargo xtask test 2>&1 | head`) is ignored rather than panicking: the panic would leave the
/// child command we are waiting for running on its own.
pub(crate) fn say(message: impl AsRef<str>) {
    let _ = writeln!(std::io::stderr(), "xtask: {}", message.as_ref());
}

/// A `cargo` command that uses the same cargo (and so the same toolchain) as the `cargo xtask` that started us.
///
/// Cargo tells the programs it runs where it lives in `CARGO`; falling back to `cargo` on `PATH` keeps the
/// binary usable when started directly.
pub(crate) fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Variables [`export`]ed to every command started from then on.
static EXPORTED: Mutex<Vec<(&str, OsString)>> = Mutex::new(Vec::new());

/// Gives every command the xtask starts from now on the variable `name` with `value`, on top of the environment
/// it inherits: what `std::env::set_var` would do, without its `unsafe` (edition 2024), which the workspace
/// forbids. `cargo xtask test` tells its steps where its Redis is this way.
///
/// [`run`] applies them, and so does each place that starts a command itself, through [`with_exported`].
pub(crate) fn export(name: &'static str, value: impl Into<OsString>) {
    let mut exported = EXPORTED.lock().unwrap_or_else(PoisonError::into_inner);
    exported.retain(|(existing, _)| *existing != name);
    exported.push((name, value.into()));
}

/// Adds the [`export`]ed variables to `command`'s environment.
pub(crate) fn with_exported(command: &mut Command) -> &mut Command {
    let exported = EXPORTED.lock().unwrap_or_else(PoisonError::into_inner);
    command.envs(exported.iter().map(|(name, value)| (name, value)))
}

/// Runs `command` with inherited stdio and the [`export`]ed variables after echoing it, and fails unless it exits
/// successfully.
pub(crate) fn run(command: &mut Command) -> Result<(), Error> {
    with_exported(command);
    let shown = display(command);
    say(format!("$ {shown}"));
    let status = command.status().map_err(|err| Error::new(format!("could not start `{shown}`: {err}")))?;
    if status.success() { Ok(()) } else { Err(Error::new(format!("`{shown}` failed ({status})"))) }
}

/// Runs `program args` silently and returns its stdout when it exits successfully, `None` otherwise.
///
/// Used to ask whether a tool is there and which version it is: a missing program, a failing one and one that
/// is present but broken all mean "not usable" to the caller.
pub(crate) fn probe(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Whether this process runs as root, which installing Debian packages needs.
///
/// `id -u` keeps the xtask free of a libc dependency; if it cannot be asked we assume not root, so the user gets
/// the "run this as root" advice rather than a confusing apt-get permission error.
pub(crate) fn is_root() -> bool {
    probe("id", &["-u"]).is_some_and(|uid| uid.trim() == "0")
}

/// Renders a command the way a person would type it from the workspace root: `(cd dir && program args)`, with
/// awkward arguments quoted.
///
/// Only the program's file name is shown, so the absolute path cargo gives us in `CARGO` reads as `cargo`.
pub(crate) fn display(command: &Command) -> String {
    let program = Path::new(command.get_program());
    // Variables set for this command alone change what it does (the client's release build is a nightly build
    // through them), so they are shown; PATH and the variables every command gets (see `export`) are not.
    let exported: Vec<&str> =
        EXPORTED.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|(name, _)| *name).collect();
    let mut words: Vec<String> = command
        .get_envs()
        .filter(|(name, value)| value.is_some() && *name != "PATH" && !exported.iter().any(|e| OsStr::new(e) == *name))
        .map(|(name, value)| format!("{}={}", name.to_string_lossy(), quote(value.unwrap_or_default())))
        .collect();
    words.push(quote(program.file_name().unwrap_or(program.as_os_str())));
    words.extend(command.get_args().map(quote));
    let line = words.join(" ");
    // The workspace root is where a person would type the command anyway, so it needs no `cd`.
    match command.get_current_dir().map(crate::workspace::relative) {
        Some(dir) if dir != Path::new(".") => format!("(cd {} && {line})", quote(dir.as_os_str())),
        _ => line,
    }
}

/// Quotes one word for a POSIX shell when it contains anything beyond the obviously safe characters.
fn quote(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.into_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_shows_program_name_args_and_quotes() {
        let mut command = Command::new("/home/me/.cargo/bin/cargo");
        command.args(["test", "--workspace", "a b", "it's"]);
        assert_eq!(display(&command), r"cargo test --workspace 'a b' 'it'\''s'");
    }

    #[test]
    fn exported_variables_reach_commands() {
        export("XTASK_PROCESS_TEST_EXPORT", "first");
        export("XTASK_PROCESS_TEST_EXPORT", "second");
        let mut command = Command::new("sh");
        command.args(["-c", "printf %s \"$XTASK_PROCESS_TEST_EXPORT\""]);
        let output = with_exported(&mut command).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), "second", "the child sees the last value exported");
    }

    #[test]
    fn display_shows_the_variables_set_for_the_command_alone() {
        let mut command = Command::new("wasm-pack");
        command.arg("build").env("RUSTUP_TOOLCHAIN", "nightly-2026-05-20").env("RUSTFLAGS", "-Za -Zb");
        command.env("PATH", "/somewhere:/usr/bin");
        assert_eq!(display(&command), "RUSTFLAGS='-Za -Zb' RUSTUP_TOOLCHAIN=nightly-2026-05-20 wasm-pack build");
    }

    #[test]
    fn display_shows_the_directory() {
        let mut command = Command::new("npm");
        command.args(["ci", "--no-audit"]).current_dir(crate::workspace::root().join("protocol/tests/oracle"));
        assert_eq!(display(&command), "(cd protocol/tests/oracle && npm ci --no-audit)");
        command.current_dir(crate::workspace::root());
        assert_eq!(display(&command), "npm ci --no-audit");
    }
}
