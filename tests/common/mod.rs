//! Shared by the command-line tests.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs the built `simctl` from the project root.
pub fn simctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simctl"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}
