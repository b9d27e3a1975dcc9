//! The flagship scenario's cost per seed, split into simulation (raft-rs, redb, the kernel)
//! and the linearizability check of its history.
//!
//! Run: `cargo bench --bench raft [-- SEEDS]` (default 20 seeds of `scenarios/partition.toml`).
//! Benchmarks measure wall-clock time, which the kernel never may; this file is outside
//! `sim` and `protocols`.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use protocols::raft_kv::RaftKv;
use sim::check::{check_named, import, Budget, ModelName, Verdict};
use sim::history::Value;
use sim::system;
use sim::Limits;

fn main() {
    let seeds: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20);
    let file = "scenarios/partition.toml";
    let text = std::fs::read_to_string(file).expect("run from the repository root");
    let scenario = system::parse::<RaftKv>(file, &text).expect("the flagship is valid");
    let (mut simulate, mut check) = (Duration::ZERO, Duration::ZERO);
    let (mut events, mut transactions, mut ops) = (0, 0, 0);
    for seed in 0..seeds {
        let started = Instant::now();
        let mut sim = sim::run::build::<RaftKv>(&scenario, seed);
        sim.run(Limits::duration(scenario.duration));
        simulate += started.elapsed();
        events += sim.events();
        transactions += sim.observations().counters.get("redb transactions").copied().unwrap_or(0);
        let started = Instant::now();
        let history = import::from_history(&sim.observations().history).expect("a well-formed history");
        ops += history.len();
        let outcome = check_named(ModelName::KeyValue, &Value::Nil, false, &history, &Budget::default())
            .expect("kv operations");
        check += started.elapsed();
        assert!(matches!(outcome.verdict, Verdict::Linearizable), "seed {seed}: {:?}", outcome.verdict);
    }
    let per = |d: Duration| d.as_secs_f64() * 1e3 / seeds as f64;
    println!("{file}: {seeds} seeds, 30 simulated seconds each");
    println!(
        "  simulate  {:8.1} ms/seed  ({} events, {} redb transactions per seed)",
        per(simulate),
        events / seeds,
        transactions / seeds
    );
    println!("  check     {:8.1} ms/seed  ({} operations per seed)", per(check), ops as u64 / seeds);
    println!(
        "  total     {:8.1} ms/seed  = {:.0}x real time",
        per(simulate + check),
        30_000.0 / per(simulate + check)
    );
}
