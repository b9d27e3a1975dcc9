//! Every integration test of this crate in one test binary, one module per file: a release
//! build links each test binary on its own, and one link instead of one per file keeps the
//! README's test command fast on a fresh clone (docs/PERFORMANCE.md, "Build profile").
//! Run one file's tests with `cargo test --release --test integration <file>::`.

mod common;

mod connections;
mod determinism;
mod disk_and_clock;
mod io;
mod layers;
mod linearizability;
mod linearizable_runs;
mod network;
mod process;
mod targets;
mod workload;
