//! Every integration test of this crate in one test binary, one module per file: a release
//! build links each test binary on its own, and one link instead of one per file keeps the
//! README's test command fast on a fresh clone (docs/PERFORMANCE.md, "Build profile").
//! Run one file's tests with `cargo test --release --test integration <file>::`.

mod common;

mod bug_classes;
mod collective;
mod datas3t;
mod determinism;
mod dynamo;
mod fault_schedules;
mod parser_fuzz;
mod raft_kv;
mod redb_on_sim_disk;
mod registry;
