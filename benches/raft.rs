//! The flagship scenario's cost per seed, split into simulation (raft-rs, the log store, the
//! kernel) and the linearizability check of its history, once with each log store: redb and
//! the write-ahead log (`storage = "wal"`, as the scenario is written). Both give the same
//! trace hash per seed (the store changes what is on the disk, not what happens), which the
//! benchmark asserts, so the ratio is the price of the store alone.
//!
//! Run: `cargo bench --bench raft [-- SEEDS [wal|redb]]` (default 20 seeds of
//! `scenarios/partition.toml`, both stores; naming one store measures only it, for profiling).
//! Benchmarks measure wall-clock time, which the kernel never may; this file is outside
//! `sim` and `protocols`.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use protocols::raft_kv::config::{Config, LogStore};
use protocols::raft_kv::RaftKv;
use sim::check::{check_named, import, Budget, ModelName, Verdict};
use sim::harness::system;
use sim::kernel::history::Value;
use sim::scenario::Scenario;
use sim::Limits;

struct Cost {
    simulate: Duration,
    check: Duration,
    events: u64,
    writes: u64,
    ops: u64,
    hashes: Vec<u64>,
}

fn measure(scenario: &Scenario<Config>, seeds: u64) -> Cost {
    let mut cost = Cost {
        simulate: Duration::ZERO,
        check: Duration::ZERO,
        events: 0,
        writes: 0,
        ops: 0,
        hashes: Vec::new(),
    };
    for seed in 0..seeds {
        let started = Instant::now();
        let mut sim = sim::harness::run::build::<RaftKv>(scenario, seed);
        sim.run(Limits::duration(scenario.duration));
        cost.simulate += started.elapsed();
        cost.events += sim.events();
        cost.writes += sim.observations().counters.get("log writes").copied().unwrap_or(0);
        cost.hashes.push(sim.trace_hash());
        let started = Instant::now();
        let history = import::from_history(&sim.observations().history).expect("a well-formed history");
        cost.ops += history.len() as u64;
        let outcome = check_named(ModelName::KeyValue, &Value::Nil, false, &history, &Budget::default())
            .expect("kv operations");
        cost.check += started.elapsed();
        assert!(matches!(outcome.verdict, Verdict::Linearizable), "seed {seed}: {:?}", outcome.verdict);
    }
    cost
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seeds: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(20);
    let only = args.iter().find(|a| *a == "wal" || *a == "redb");
    let file = "scenarios/partition.toml";
    let text = std::fs::read_to_string(file).expect("run from the repository root");
    let scenario = system::parse::<RaftKv>(file, &text).expect("the flagship is valid");
    println!("{file}: {seeds} seeds, 30 simulated seconds each");
    let mut totals = Vec::new();
    let mut hashes = Vec::new();
    for (store, storage) in [("redb", LogStore::Redb), ("wal", LogStore::Wal)] {
        if only.is_some_and(|o| o != store) {
            continue;
        }
        let mut scenario = scenario.clone();
        scenario.settings.storage = storage;
        let cost = measure(&scenario, seeds);
        let per = |d: Duration| d.as_secs_f64() * 1e3 / seeds as f64;
        println!("storage = {store}");
        println!(
            "  simulate  {:8.1} ms/seed  ({} events, {} log writes per seed)",
            per(cost.simulate),
            cost.events / seeds,
            cost.writes / seeds
        );
        println!("  check     {:8.1} ms/seed  ({} operations per seed)", per(cost.check), cost.ops / seeds);
        let total = per(cost.simulate + cost.check);
        println!("  total     {total:8.1} ms/seed  = {:.0}x real time", 30_000.0 / total);
        totals.push(total);
        hashes.push(cost.hashes);
    }
    if hashes.len() < 2 {
        return;
    }
    assert_eq!(hashes[0], hashes[1], "both stores give the same runs");
    println!("redb / wal: {:.1}x (the same trace hash on every seed)", totals[0] / totals[1]);
}
