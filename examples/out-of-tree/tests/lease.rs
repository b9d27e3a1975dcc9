//! The lease under simctl from a plain `cargo test`: every scenario passes a sweep of
//! seeds, the canary's planted bug is caught, and its failure shrinks to the faults that
//! cause it. Budgets are seeds and runs, never wall time.

use std::path::Path;

use sim::harness::registry::Registry;
use sim::harness::run::RunOptions;
use sim::harness::system::Verdict;

fn registry() -> Registry {
    sim::systems![lease::Lease]
}

fn scenario(name: &str) -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path.display().to_string(), text)
}

/// Seeds 0..SEEDS of a scenario: the verdict of `lease.one_leader` on each.
fn sweep(name: &str, seeds: u64) -> Vec<(u64, Verdict)> {
    let (file, text) = scenario(name);
    let registry = registry();
    (0..seeds)
        .map(|seed| {
            let report =
                registry.run(&file, &text, seed, &RunOptions::default()).expect("the scenario is valid");
            let passed =
                report.summary.checks.values().all(|v| *v == Verdict::Pass || *v == Verdict::Skipped);
            let one_leader = report.summary.checks["lease.one_leader"];
            assert!(passed || one_leader == Verdict::Fail, "{name} seed {seed}: {:?}", report.summary.checks);
            (seed, one_leader)
        })
        .collect()
}

#[test]
fn every_scenario_passes_a_sweep() {
    for name in ["steady.toml", "partition.toml", "swarm.toml"] {
        let failed: Vec<u64> =
            sweep(name, 30).into_iter().filter(|(_, v)| *v != Verdict::Pass).map(|(seed, _)| seed).collect();
        assert!(failed.is_empty(), "{name} fails on seeds {failed:?}");
    }
}

#[test]
fn the_canary_is_caught() {
    let verdicts = sweep("canary/wall-clock.toml", 10);
    let caught = verdicts.iter().filter(|(_, v)| *v == Verdict::Fail).count();
    assert!(caught >= 9, "the wall-clock lease overlaps another leader on most seeds: {verdicts:?}");
    // The same faults without the bug pass: the check fails for the bug, not the faults.
    let (file, text) = scenario("canary/wall-clock.toml");
    let fixed = text.replace("bugs = [\"wall-clock\"]", "bugs = []");
    for seed in 0..10 {
        let report = registry().run(&file, &fixed, seed, &RunOptions::default()).expect("valid");
        assert_eq!(report.summary.checks["lease.one_leader"], Verdict::Pass, "seed {seed} without the bug");
    }
}

#[test]
fn the_canary_shrinks_to_the_clock_step_and_the_partition() {
    let (file, text) = scenario("canary/wall-clock.toml");
    let shrunk = sim::explore::shrink::shrink_scenario(&registry(), &file, &text, 1, 100, |_| {})
        .expect("seed 1 fails");
    assert_eq!(shrunk.failure.check, "lease.one_leader", "{}", shrunk.bucket);
    let kinds: Vec<&str> = shrunk.faults.iter().map(|f| f.action.kind().name()).collect();
    assert_eq!(kinds, ["clock", "partition"], "{:#?}", shrunk.account);
    // The shrunk scenario fails the same way on its own.
    let report = registry().run("shrunk.toml", &shrunk.text, 1, &RunOptions::default()).expect("valid");
    assert_eq!(report.summary.checks["lease.one_leader"], Verdict::Fail);
    assert!(shrunk.runs <= 100);
}

#[test]
fn the_canary_bisects_to_the_grant_that_makes_a_second_leader() {
    let (file, text) = scenario("canary/wall-clock.toml");
    let bisected = sim::explore::bisect::bisect_run(&registry(), &file, &text, 1).expect("seed 1 fails");
    assert_eq!(bisected.failure.check, "lease.one_leader");
    assert!(bisected.first_failing < bisected.events, "{} of {}", bisected.first_failing, bisected.events);
    let trace = bisected.prefix.trace.as_deref().expect("the prefix is traced");
    let last = trace.last().expect("events");
    // The first events that fail end with the grant that gives a majority-side server its
    // majority while n0, cut off, still believes it leads.
    assert!(last.what.contains("Grant"), "{}", last.what);
    assert_eq!(bisected.prefix.summary.checks["lease.one_leader"], Verdict::Fail);
}
