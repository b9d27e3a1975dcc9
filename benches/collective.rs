//! The storage collective's costs: wall time per seed of the flagship
//! (`scenarios/collective/crash-restart.toml`) in each mode, and the 100-node case
//! (`scenarios/collective/scale.toml`: 110 files of 1 GiB) with its wall time, events a
//! second, and the process's peak resident memory against the bytes it stored.
//!
//! Run: `cargo bench --bench collective [-- SEEDS]` (default 20 seeds). Each run is a whole
//! `simctl run` but for writing the report folder: simulation, checks and tables.
//! Benchmarks measure wall-clock time, which the kernel never may; this file is outside
//! `sim` and `protocols`.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use sim::harness::run::RunOptions;

/// The process's peak resident set so far, in MB (Linux: `VmHWM`).
fn peak_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let seeds: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20);
    let options = RunOptions::default();

    let file = "scenarios/collective/scale.toml";
    let text = std::fs::read_to_string(file).expect("run from the repository root");
    let started = Instant::now();
    let report = protocols::systems().run(file, &text, 42, &options).expect("the scale case runs");
    let wall = started.elapsed().as_secs_f64();
    assert!(report.summary.passed, "{file}: {:?}", report.summary.reasons);
    let stored: u64 = 110 << 30;
    let peak = peak_mb().unwrap_or(f64::NAN);
    println!(
        "{file} --seed 42: {} events in {wall:.2} s ({:.0} events/s)",
        report.summary.events,
        report.summary.events as f64 / wall
    );
    println!(
        "  peak resident memory {peak:.0} MB for {} GiB stored: {:.0} bytes stored per byte held",
        stored >> 30,
        stored as f64 / (peak * 1048576.0)
    );

    let file = "scenarios/collective/crash-restart.toml";
    let text = std::fs::read_to_string(file).expect("run from the repository root");
    let mut per_mode = Vec::new();
    for mode in ["durable", "collective"] {
        let text = text.replace("mode = \"durable\"", &format!("mode = \"{mode}\""));
        let (mut events, started) = (0, Instant::now());
        for seed in 0..seeds {
            let report = protocols::systems().run(file, &text, seed, &options).expect("the flagship runs");
            events += report.summary.events;
        }
        let ms = started.elapsed().as_secs_f64() * 1e3 / seeds as f64;
        println!("{file}, mode = {mode}: {ms:.1} ms/seed over {seeds} seeds ({} events a seed, 120 simulated seconds)", events / seeds);
        per_mode.push(ms);
    }
    println!("durable / collective: {:.2}x per seed", per_mode[0] / per_mode[1]);
}
