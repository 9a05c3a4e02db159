//! `cargo xtask`: the project's commands. (Being written.)
fn main() {}
