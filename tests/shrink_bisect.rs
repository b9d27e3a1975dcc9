//! `simctl shrink` and `simctl bisect` on the Raft canaries: each shrinks to a scenario of at
//! most three faults that still fails the same way, and bisect's window holds the bad read.

use crate::common;

use common::{scratch, simctl, stderr, write};
use serde_json::Value;

/// A canary, a seed it fails on, and the check that fails.
const CANARIES: &[(&str, u64)] = &[
    ("scenarios/raft/canary/local-reads.toml", 1),
    ("scenarios/raft/canary/ack-before-commit.toml", 1),
    ("scenarios/raft/canary/skip-fsync.toml", 17),
];

/// The failure bucket of one seed, as a sweep reports it.
fn bucket(scenario: &str, seed: u64) -> String {
    let dir = scratch(&format!("shrink-bucket-{seed}"));
    let seeds = format!("{seed}..{}", seed + 1);
    let reports = dir.to_str().unwrap();
    let output =
        simctl(&["sweep", scenario, "--seeds", &seeds, "--json", "--jobs", "1", "--reports", reports]);
    assert_eq!(output.status.code(), Some(1), "{scenario} seed {seed} fails: {}", stderr(&output));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    let buckets = summary["scenarios"][scenario]["buckets"].as_object().unwrap();
    assert_eq!(buckets.len(), 1);
    buckets.keys().next().unwrap().clone()
}

#[test]
fn each_raft_canary_shrinks_to_at_most_three_faults_that_still_fail() {
    let dir = scratch("shrink");
    for (scenario, seed) in CANARIES {
        let out = dir.join(format!("{seed}-{}", scenario.rsplit('/').next().unwrap()));
        let output =
            simctl(&["shrink", scenario, "--seed", &seed.to_string(), "--out", out.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{scenario}: {text}{}", stderr(&output));
        assert!(text.contains("it fails the same way"), "{text}");
        let written = std::fs::read_to_string(&out).unwrap();
        let doc: toml::Table = written.parse().unwrap();
        let faults = doc.get("faults").and_then(|f| f.as_array()).map_or(0, Vec::len);
        assert!(faults <= 3, "{scenario}: {faults} faults left\n{written}");
        assert!(!doc.contains_key("swarm"));
        assert!(written.starts_with("# Shrunk by `simctl shrink"), "{written}");
        let path = out.to_str().unwrap();
        assert_eq!(bucket(path, *seed), bucket(scenario, *seed), "{scenario}: it fails the same way");
    }
}

#[test]
fn bisect_shows_the_bad_read_in_its_window() {
    for (scenario, seed) in CANARIES {
        let output = simctl(&["bisect", scenario, "--seed", &seed.to_string()]);
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert_eq!(output.status.code(), Some(0), "{scenario}: {text}{}", stderr(&output));
        // The witness names the operation no order explains; its completion is the last
        // event before the failure is determined.
        let stuck = text.split("then no order explains: ").nth(1).unwrap_or_else(|| panic!("{text}"));
        let process: u64 = stuck.split_whitespace().nth(2).unwrap().parse().unwrap();
        let window = text.split("the last 30 events:").nth(1).unwrap();
        let completion =
            window.lines().rev().find(|l| !l.trim().is_empty() && l.trim_start().starts_with('#')).unwrap();
        assert!(completion.contains("Reply {"), "{scenario}: the decisive event is a reply: {completion}");
        assert!(
            text.contains(&format!("process {process} ok ")),
            "{scenario}: the bad read is listed\n{text}"
        );
        let events: u64 =
            text.split("--max-events ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
        // One event less and the same run does not fail yet.
        let dir = scratch(&format!("bisect-{seed}"));
        let before = simctl(&[
            "run",
            scenario,
            "--seed",
            &seed.to_string(),
            "--max-events",
            &(events - 1).to_string(),
            "--json",
            "--out",
            dir.to_str().unwrap(),
        ]);
        let summary: Value = serde_json::from_slice(&before.stdout).unwrap();
        assert_eq!(summary["checks"]["linearizable"], "pass", "{scenario}: {summary}");
    }
}

#[test]
fn passing_seeds_and_whole_run_checks_are_refused_with_a_reason() {
    let output = simctl(&["shrink", "scenarios/pingpong/crash.toml", "--seed", "1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("passes: there is no failure to shrink"), "{}", stderr(&output));
    let output = simctl(&["bisect", "scenarios/pingpong/crash.toml", "--seed", "1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("passes: there is no failure to bisect"), "{}", stderr(&output));
    // A latency bound fails only at the end of a run: no prefix decides it.
    let dir = scratch("bisect-latency");
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/partition.toml"),
    )
    .unwrap()
    .replace("p90 = \"60ms\"", "p50 = \"1ms\"");
    let strict = write(&dir, "strict.toml", &text);
    let output = simctl(&["bisect", &strict, "--seed", "1"]);
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stdout));
    assert!(String::from_utf8_lossy(&output.stdout).contains("is judged over the whole run"));
}
