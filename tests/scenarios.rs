//! Every scenario in `scenarios/` validates, passes its checks, and gives the same trace
//! hash twice in two processes (seeds 7 and 42). The canaries (`scenarios/*/canary/`, with a
//! planted bug) and the `*-unsafe` scenarios (a configuration outside its safety assumptions)
//! must fail instead, with exit status 1, on at least one of the two seeds, and each run that
//! fails must fail one of the checks its `[checks] caught_by` names.

use crate::common;

use common::simctl;

use std::path::{Path, PathBuf};

/// Whether a shipped scenario exists to fail.
fn expected_to_fail(file: &str) -> bool {
    file.contains("/canary/") || file.ends_with("-unsafe.toml")
}

fn scenario_files() -> Vec<PathBuf> {
    sim::scenario::find_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"))
}

#[test]
fn every_shipped_scenario_validates_passes_and_is_deterministic() {
    let files = scenario_files();
    assert!(files.len() >= 10, "{files:?}");
    let dir = common::scratch("scenarios");
    let out = dir.to_str().unwrap();
    let mut problems = Vec::new();
    for file in &files {
        let file = file.to_str().unwrap();
        let validated = simctl(&["validate", file]);
        if validated.status.code() != Some(0) {
            problems.push(format!("{file}: validate: {}", String::from_utf8_lossy(&validated.stderr)));
            continue;
        }
        let mut exits = Vec::new();
        for seed in ["7", "42"] {
            let hash = |output: &std::process::Output| {
                let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
                (
                    output.status.code(),
                    summary["trace_hash"].as_str().map(str::to_owned),
                    summary["reasons"].clone(),
                    summary["checks"].clone(),
                    summary["caught_by"].as_array().cloned().unwrap_or_default(),
                )
            };
            let first = hash(&simctl(&["run", file, "--seed", seed, "--json", "--out", out]));
            let second = hash(&simctl(&["run", file, "--seed", seed, "--json", "--out", out]));
            exits.push(first.0);
            if !expected_to_fail(file) && first.0 != Some(0) {
                problems.push(format!("{file} seed {seed}: exit {:?}, {}", first.0, first.2));
            }
            if expected_to_fail(file) && !matches!(first.0, Some(0 | 1)) {
                problems
                    .push(format!("{file} seed {seed}: exit {:?} (expected 0 or 1), {}", first.0, first.2));
            }
            let caught_by = &first.4;
            if expected_to_fail(file) && caught_by.is_empty() {
                problems.push(format!("{file}: meant to fail, but names no check in [checks] caught_by"));
            }
            let caught = caught_by
                .iter()
                .filter_map(|check| check.as_str())
                .any(|check| first.3[check].as_str() == Some("fail"));
            if expected_to_fail(file) && first.0 == Some(1) && !caught {
                problems.push(format!("{file} seed {seed}: failed, but none of {caught_by:?}: {}", first.2));
            }
            if first.1.is_none() || first.1 != second.1 {
                problems.push(format!("{file} seed {seed}: trace hashes {:?} and {:?}", first.1, second.1));
            }
        }
        if expected_to_fail(file) && !exits.contains(&Some(1)) {
            problems.push(format!("{file}: meant to fail, but passed with seeds 7 and 42"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// What `change` plants (its text, found `count` times in `file`; `undo` takes it back) is
/// what fails the scenario: the same seeds without it pass, with other trace hashes.
fn the_change_is_what_fails(file: &str, change: &str, count: usize, undo: &str, seeds: &[&str]) {
    let dir = common::scratch(&file.replace('/', "_"));
    let out = dir.to_str().unwrap();
    let text = std::fs::read_to_string(file).unwrap();
    assert_eq!(text.matches(change).count(), count, "{file} has {change} {count} times");
    let without = common::write(&dir, "without.toml", &text.replace(change, undo));
    for seed in seeds {
        let run = |file: &str| {
            let output = simctl(&["run", file, "--seed", seed, "--json", "--out", out]);
            let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
            (output.status.code(), summary["trace_hash"].as_str().map(str::to_owned))
        };
        let (with, without) = (run(file), run(&without));
        assert_eq!(with.0, Some(1), "{file} seed {seed}: {change} fails it");
        assert_eq!(without.0, Some(0), "{file} seed {seed}: the same run without {change} passes");
        assert_ne!(with.1, without.1);
    }
}

/// Every canary with a planted bug (`bugs = [...]`) is the bug: on the first of seeds 0..5
/// where a check its `caught_by` names fails, the same run with `bugs = []` has another
/// trace hash and passes every one of those checks (a canary whose bug changes nothing, or
/// whose checks fail without it, would claim what the system does by itself).
#[test]
fn every_planted_bug_changes_the_run_and_is_what_its_checks_catch() {
    let dir = common::scratch("planted");
    let out = dir.to_str().unwrap();
    let mut problems = Vec::new();
    let canaries: Vec<PathBuf> =
        scenario_files().into_iter().filter(|f| f.to_str().is_some_and(|f| f.contains("/canary/"))).collect();
    let mut judged = 0;
    for file in &canaries {
        let file = file.to_str().unwrap();
        let text = std::fs::read_to_string(file).unwrap();
        let Some(line) = text.lines().find(|l| l.starts_with("bugs = [")) else { continue };
        let without = common::write(&dir, "without.toml", &text.replace(line, "bugs = []"));
        let run = |file: &str, seed: &str| {
            let output = simctl(&["run", file, "--seed", seed, "--json", "--out", out]);
            serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap_or_default()
        };
        let failing = |summary: &serde_json::Value| -> Vec<String> {
            let named = summary["caught_by"].as_array().cloned().unwrap_or_default();
            named
                .iter()
                .filter_map(|c| c.as_str())
                .filter(|c| summary["checks"][*c].as_str() == Some("fail"))
                .map(str::to_owned)
                .collect()
        };
        let Some((seed, with)) = ["0", "1", "2", "3", "4", "5"].iter().find_map(|seed| {
            let summary = run(file, seed);
            (!failing(&summary).is_empty()).then_some((*seed, summary))
        }) else {
            problems.push(format!("{file}: no check it names fails on seeds 0..5"));
            continue;
        };
        let plain = run(&without, seed);
        judged += 1;
        if plain["trace_hash"] == with["trace_hash"] {
            problems.push(format!("{file} seed {seed}: the same trace hash without its bug"));
        }
        let still = failing(&plain);
        if !still.is_empty() {
            problems.push(format!("{file} seed {seed}: {still:?} fail without its bug too"));
        }
    }
    assert!(judged >= 15, "{judged} canaries judged");
    assert!(problems.is_empty(), "{problems:#?}");
}

/// A version is the system's settings with some changed, and the servers run it from their
/// restart on: the upgrade canary fails with its version faults (five servers upgrade) and
/// passes, with another trace hash, when they name the base version instead.
#[test]
fn an_upgrade_into_a_buggy_version_is_what_fails_the_canary() {
    let file = "scenarios/raft/canary/upgrade-to-local-reads.toml";
    the_change_is_what_fails(file, "to = \"v2\"", 5, "to = \"base\"", &["1"]);
}

/// The ack-before-sync canary fails because of its bug (asynchronous persistence itself
/// keeps every acknowledgement).
#[test]
fn acknowledging_before_the_sync_is_what_fails_the_async_canary() {
    let file = "scenarios/raft/canary/ack-before-sync.toml";
    the_change_is_what_fails(file, "bugs = [\"ack-before-sync\"]", 1, "bugs = []", &["7", "42"]);
}

/// KV679: reusing one actor across incarnations loses writes after a wipe; actor epochs do
/// not.
#[test]
fn reusing_the_actor_after_a_wipe_is_what_loses_writes() {
    let file = "scenarios/dynamo/kv679-unsafe.toml";
    the_change_is_what_fails(file, "bugs = [\"reused-actor\"]", 1, "bugs = []", &["7"]);
}
