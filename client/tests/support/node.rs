//! The JavaScript side of a parity test: one of this folder's Node scripts, given a JSON array on stdin, answers
//! with one JSON value per element on stdout.

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// What `client/tests/support/{script}` answers for `input`.
pub(crate) fn answers(script: &str, input: &[&Value]) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support").join(script);
    let mut node = Command::new("node")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs (the client's tests need Node)");
    node.stdin.take().expect("stdin").write_all(serde_json::to_string(input).unwrap().as_bytes()).unwrap();
    let output = node.wait_with_output().expect("node finishes");
    assert!(output.status.success(), "the JavaScript side ({}) failed", script.display());
    let answers: Vec<Value> = serde_json::from_slice(&output.stdout).expect("the JavaScript side writes JSON");
    assert_eq!(answers.len(), input.len(), "one answer per input");
    answers
}
