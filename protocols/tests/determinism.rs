//! Determinism of whole runs: same seed same trace, in one process or two; different seeds
//! differ; pinned golden values for the benchmark fixed points.

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

const CHILD: &str = "SIMCTL_DETERMINISM_CHILD";

/// Run by `same_trace_in_two_processes` in a child process; prints the hash.
#[test]
fn child_prints_trace_hash() {
    if std::env::var_os(CHILD).is_some() {
        let (hash, events) = run(7, &(7, Config { window: 2, ..Config::default() }), 20);
        println!("TRACE {hash:016x} {events}");
    }
}

#[test]
fn same_trace_in_two_processes() {
    let child = || {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["determinism::child_prints_trace_hash", "--exact", "--nocapture", "--test-threads", "1"])
            .env(CHILD, "1")
            .output()
            .expect("the test binary runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let start = stdout.find("TRACE ").expect("child printed a hash");
        stdout[start..].split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    };
    let first = child();
    let second = child();
    assert_eq!(first, second);
    let (hash, events) = run(7, &(7, Config { window: 2, ..Config::default() }), 20);
    assert_eq!(first, format!("TRACE {hash:016x} {events}"), "and the same as in this process");
}

#[test]
fn double_run_check_agrees_on_pingpong() {
    let config = (5, Config { window: 2, ..Config::default() });
    let limits = Limits::duration(Duration::from_secs(5));
    let agreement = check_determinism(|| pingpong::build(3, config.0, &config.1, latency()), limits)
        .expect("deterministic");
    assert_eq!((agreement.trace_hash, agreement.events), run(3, &config, 5));
}
