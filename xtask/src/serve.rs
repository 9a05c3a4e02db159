//! `cargo xtask serve`: install what the build needs, build the browser client and the demo dashboard, and run
//! the relay with the demo at `/`, on http://127.0.0.1:4000.
//!
//! It is the README's first command, so on a fresh machine it installs what it builds with (the wasm target,
//! wasm-bindgen-cli at the locked version, wasm-pack, the npm packages) and nothing only the tests use: see
//! `prereqs::FOR_SERVE`. The relay runs in the foreground, so Ctrl-C in the terminal stops it.

use std::time::Instant;

use crate::process::{self, say};
use crate::{Error, prereqs, workspace};

/// Where the relay listens unless told otherwise; the relay owns the actual default, this is for messages.
const DEFAULT_LISTEN: &str = "127.0.0.1:4000";

/// Options for `cargo xtask serve`.
pub(crate) struct Options {
    /// Run the installers first (the default); `--no-install` turns this off for people who manage their tools.
    pub install: bool,
    /// Passed through to the relay.
    pub relay_args: Vec<String>,
}

/// Installs what is missing (unless told not to), builds the client and the dashboard, and runs the relay.
pub(crate) fn run(options: &Options) -> Result<(), Error> {
    let start = Instant::now();
    let root = workspace::root();
    if options.install {
        prereqs::ensure(prereqs::FOR_SERVE, "serve")?;
    } else {
        say("--no-install: not checking or installing prerequisites");
    }
    crate::client::build()?;
    let mut relay_args = vec!["--client-dir".to_owned(), root.join("client/pkg/web").display().to_string()];
    let dashboard = root.join("www/dashboard");
    crate::test::npm_ci_if_needed(&dashboard)?;
    let mut build = std::process::Command::new("npm");
    build.args(["run", "build"]).current_dir(&dashboard);
    process::run(&mut build)?;
    relay_args.extend(["--www".to_owned(), dashboard.join("dist").display().to_string()]);

    let mut relay = process::cargo();
    relay.args(["build", "--release", "-p", "ferrocast-relay"]).current_dir(&root);
    process::run(&mut relay)?;
    say(format!("ready after {:.0} s of set-up and building", start.elapsed().as_secs_f64()));
    let address = format!("http://{}", listen_address(&options.relay_args).unwrap_or(DEFAULT_LISTEN));
    say(format!("the demo dashboard is served at {address}/"));
    say(format!("the browser client is served at {address}/ferrocast/ferrocast_client.js"));
    say(format!("starting the relay on {address} (Ctrl-C stops it)"));
    let mut relay = process::cargo();
    relay.args(["run", "--release", "-p", "ferrocast-relay", "--"]).args(&relay_args).args(&options.relay_args);
    relay.current_dir(&root);
    process::run(&mut relay)
}

/// The address given to the relay with `--listen ADDR` or `--listen=ADDR`, for the messages.
fn listen_address(relay_args: &[String]) -> Option<&str> {
    let mut args = relay_args.iter();
    while let Some(arg) = args.next() {
        if arg == "--listen" {
            return args.next().map(String::as_str);
        }
        if let Some(address) = arg.strip_prefix("--listen=") {
            return Some(address);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::listen_address;

    #[test]
    fn the_messages_name_the_address_the_relay_is_given() {
        let given = |args: &[&str]| {
            listen_address(&args.iter().map(|arg| arg.to_string()).collect::<Vec<_>>()).map(str::to_owned)
        };
        assert_eq!(given(&["--dev", "--listen", "0.0.0.0:8080"]).as_deref(), Some("0.0.0.0:8080"));
        assert_eq!(given(&["--listen=127.0.0.1:4100"]).as_deref(), Some("127.0.0.1:4100"));
        assert_eq!(given(&["--dev"]), None);
    }
}
