//! The test backend the relay's hooks call (`hooks-backend.mjs`, a Node process on a free loopback port): it answers
//! connect, join, push and refresh as the request picks, logs every call, and can be made to fail or stall. Killed
//! when dropped; it also exits by itself when its stdin (a pipe held here) closes, so it never outlives a test run.
//!
//! Tests include it by path: `#[path = "support/hooks_backend.rs"] mod hooks_backend;`.

#![allow(dead_code, unreachable_pub)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the backend may take to print `listening <port>`.
const START_PATIENCE: Duration = Duration::from_secs(10);

/// A running backend.
#[derive(Debug)]
pub struct HooksBackend {
    pub port: u16,
    /// Its stdin stays piped and open as long as this lives.
    child: Child,
}

impl HooksBackend {
    /// Starts it, checking `x-ferrocast-signature` with `secret` when given; returns once it listens.
    pub fn start(secret: Option<&str>) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/hooks-backend.mjs");
        let mut command = Command::new("node");
        command.arg(&script).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        if let Some(secret) = secret {
            command.args(["--secret", secret]);
        }
        let mut child = command.spawn().unwrap_or_else(|error| {
            panic!("cannot run `node {}` (the hooks backend needs Node 20 on the PATH): {error}", script.display())
        });

        // Its first line, read on a thread so that waiting for it can time out; the thread then drains the rest, so
        // the backend never blocks on (or dies of) a full or closed stdout.
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (first_line, line) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            if stdout.read_line(&mut line).is_ok_and(|read| read > 0) {
                let _ = first_line.send(line);
                let _ = std::io::copy(&mut stdout, &mut std::io::sink());
            }
        });
        let port = match line.recv_timeout(START_PATIENCE) {
            Ok(line) => line
                .trim()
                .strip_prefix("listening ")
                .and_then(|port| port.parse().ok())
                .unwrap_or_else(|| panic!("the hooks backend printed {line:?}, not `listening <port>`")),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().expect("the hooks backend's exit status");
                panic!("the hooks backend exited ({status}) before it listened; its stderr is above");
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the hooks backend did not start listening within {START_PATIENCE:?}");
            }
        };
        HooksBackend { port, child }
    }

    /// The URL of `hook` (`connect`, `join`, `push`, `refresh`), for the relay's `--proxy-*` flags.
    pub fn url(&self, hook: &str) -> String {
        format!("http://127.0.0.1:{}/{hook}", self.port)
    }

    /// Every hook call so far, oldest first: `{hook, body, raw, headers, signature, at}`.
    pub fn log(&self) -> Vec<Value> {
        let body = self.request("GET", "/log", "");
        serde_json::from_str(&body).unwrap_or_else(|error| panic!("GET /log: {error}: {body}"))
    }

    /// Forgets the log, the push counters and the mode.
    pub fn reset(&self) {
        self.request("POST", "/reset", "{}");
    }

    /// Makes every hook answer `{"status": n}` with an empty body, or wait `{"delay_ms": n}` first (both at once:
    /// wait, then fail); `{}` is back to normal.
    pub fn set_mode(&self, mode: Value) {
        self.request("POST", "/mode", &mode.to_string());
    }

    /// A plain HTTP/1.1 request, one connection each; the body of a 200 answer (anything else fails the test).
    fn request(&self, method: &str, path: &str, body: &str) -> String {
        let exchange = || -> std::io::Result<String> {
            let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            let request = format!(
                "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                self.port,
                body.len()
            );
            stream.write_all(request.as_bytes())?;
            let mut response = String::new();
            stream.read_to_string(&mut response)?;
            Ok(response)
        };
        let response = exchange().unwrap_or_else(|error| panic!("{method} {path} to the hooks backend: {error}"));
        // The backend always sends a content-length, so the body is everything after the head.
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head.split_whitespace().nth(1).unwrap_or("none");
        assert_eq!(status, "200", "{method} {path} to the hooks backend: {head}\n\n{body}");
        body.to_owned()
    }
}

impl Drop for HooksBackend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
