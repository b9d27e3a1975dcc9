//! Determinism of whole runs: same seed same trace; different seeds differ; pinned golden
//! values for the benchmark fixed points, a Raft run and a Kademlia run. (Two processes
//! agreeing is tests/cli.rs's, through the binary.)

use std::time::Duration;

use protocols::pingpong::{self, Config, PingPongSystem};
use sim::harness::determinism::check_determinism;
use sim::prelude::*;

fn latency() -> LinkModel {
    LinkModel::with_latency(Distribution::Uniform {
        min: Duration::from_millis(1),
        max: Duration::from_millis(10),
    })
}

fn run(seed: u64, (nodes, config): &(u32, Config), seconds: u64) -> (u64, u64) {
    let mut sim = pingpong::build(seed, *nodes, config, latency());
    sim.run(Limits::duration(Duration::from_secs(seconds)));
    (sim.trace_hash(), sim.events())
}

#[test]
fn same_seed_same_trace_different_seeds_differ() {
    let config = (5, Config { window: 4, ..Config::default() });
    assert_eq!(run(42, &config, 10), run(42, &config, 10));
    assert_ne!(run(42, &config, 10).0, run(43, &config, 10).0);
}

/// Pinned: a change here changes what every recorded seed means. If it changes on
/// purpose, say why in the commit.
#[test]
fn golden_trace_hashes_of_the_bench_fixed_points() {
    let text = std::fs::read_to_string("../scenarios/pingpong/bench-5.toml").unwrap();
    let scenario = sim::harness::system::parse::<PingPongSystem>("bench-5.toml", &text).unwrap();
    let mut sim = pingpong::from_scenario(&scenario, 42);
    sim.run(Limits::duration(scenario.duration));
    let bench5 = (sim.trace_hash(), sim.events());
    assert_eq!(bench5, run(42, &(5, Config::default()), 60), "the file says what the code says");
    assert_eq!(bench5, (0x42cf_14ae_0e14_d8e5, 54_836), "bench-5 seed 42");
}

/// The trace hash and event count of `file` (under `scenarios/`) at `seed`, through the
/// registry as `simctl run` runs it.
fn scenario_run(file: &str, seed: u64) -> (String, u64) {
    let path = format!("../scenarios/{file}");
    let text = std::fs::read_to_string(&path).unwrap();
    let report =
        protocols::systems().run(&path, &text, seed, &sim::harness::run::RunOptions::default()).unwrap();
    assert!(report.summary.passed, "{file} seed {seed}: {:?}", report.summary.reasons);
    (report.summary.trace_hash, report.summary.events)
}

/// Pinned like the ping-pong one: the Raft KV store (raft-rs, the WAL, a partition and a
/// crash) and the Kademlia DHT (200 servers, every fleet). README shows partition.toml's.
#[test]
fn golden_trace_hashes_of_a_raft_and_a_kademlia_run() {
    assert_eq!(scenario_run("partition.toml", 42), ("8926c756e1e43c80".to_owned(), 67_212), "raft-kv");
    assert_eq!(scenario_run("kademlia/small.toml", 42).0, "0a99899feee6ba62", "kademlia");
}

#[test]
fn double_run_check_agrees_on_pingpong() {
    let config = (5, Config { window: 2, ..Config::default() });
    let limits = Limits::duration(Duration::from_secs(5));
    let agreement = check_determinism(|| pingpong::build(3, config.0, &config.1, latency()), limits)
        .expect("deterministic");
    assert_eq!((agreement.trace_hash, agreement.events), run(3, &config, 5));
}
