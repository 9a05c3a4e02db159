//! `cargo xtask serve`: build what is needed (the browser client and the demo dashboard too) and run the relay,
//! with the demo at `/`, on http://127.0.0.1:4000.
//!
//! The relay runs in the foreground, so Ctrl-C in the terminal stops it. Until the relay crate exists this still
//! builds the workspace (so `serve` doubles as "does it build?") and then says plainly that there is nothing to
//! serve yet, with a failing exit code so scripts do not mistake it for a running server.

use crate::process::{self, say};
use crate::{Error, workspace};

/// Where the relay serves the demo; the relay owns the actual default, this is for messages.
const ADDRESS: &str = "http://127.0.0.1:4000";

/// Builds and runs the relay, passing `relay_args` through to it.
pub fn run(relay_args: &[String]) -> Result<(), Error> {
    let root = workspace::root();
    if !workspace::has_crate("relay") {
        let mut build = process::cargo();
        build.args(["build", "--workspace"]).current_dir(&root);
        process::run(&mut build)?;
        return Err(Error::new(format!(
            "the relay (crate ferrocast-relay, relay/) does not exist yet, so there is nothing to serve on \
             {ADDRESS}. Built: {}.",
            workspace::member_crates().join(", ")
        )));
    }
    let mut client_args = Vec::new();
    if workspace::has_crate("client") {
        crate::client::build()?;
        client_args = vec!["--client-dir".to_owned(), root.join("client/pkg/web").display().to_string()];
        say(format!("the browser client is served at {ADDRESS}/ferrocast/ferrocast_client.js"));
        let dashboard = root.join("www/dashboard");
        if dashboard.join("package.json").is_file() {
            crate::test::npm_ci_if_needed(&dashboard)?;
            let mut build = std::process::Command::new("npm");
            build.args(["run", "build"]).current_dir(&dashboard);
            process::run(&mut build)?;
            client_args.extend(["--www".to_owned(), dashboard.join("dist").display().to_string()]);
            say(format!("the demo dashboard is served at {ADDRESS}/"));
        }
    }
    say(format!("starting the relay on {ADDRESS} (Ctrl-C stops it)"));
    let mut relay = process::cargo();
    relay.args(["run", "--release", "-p", "ferrocast-relay", "--"]).args(&client_args).args(relay_args);
    relay.current_dir(&root);
    process::run(&mut relay)
}
