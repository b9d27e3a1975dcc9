//! `simctl diff`: what changed between two runs or two sweeps, and its exit status as a CI
//! gate (1 when B regressed: a verdict lost or a percentile slower than allowed).

use std::process::Output;

use crate::common::{scratch, simctl, stderr};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Writes `text` with `from` replaced by `to` into `dir/file`; its path.
fn variant(dir: &std::path::Path, file: &str, text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} in the scenario");
    let path = dir.join(file);
    std::fs::write(&path, text.replace(from, to)).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn the_same_sweep_twice_differs_in_nothing() {
    let dir = scratch("diff-same");
    let out = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    for name in ["a.jsonl", "b.jsonl"] {
        let output = simctl(&[
            "sweep",
            "scenarios/pingpong/crash.toml",
            "--seeds",
            "6",
            "--jobs",
            "1",
            "--out",
            &out(name),
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    }
    let output = simctl(&["diff", &out("a.jsonl"), &out("b.jsonl"), "--max-regression", "0%"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert!(text.contains("verdicts: 0 changed"), "{text}");
    assert!(text.contains("trace hashes: 0 of 6 runs in both differ"), "{text}");
    assert!(text.contains("(unchanged)"), "the digest: {text}");
    assert!(text.contains("no regression"), "{text}");
    for phase in ["ping.before", "ping.during", "ping.after"] {
        assert!(text.contains(&format!("│ crash    │ {phase} ")), "results files carry phases too: {text}");
    }
}

#[test]
fn slower_in_simulated_time_fails_the_gate_beyond_its_limit() {
    let dir = scratch("diff-slower");
    let text = std::fs::read_to_string("scenarios/partition.toml").unwrap();
    let slow = variant(&dir, "slow.toml", &text, "max = \"10ms\" }", "max = \"14ms\" }");
    let reports = dir.join("reports");
    for file in ["scenarios/partition.toml", slow.as_str()] {
        let reports = reports.join(if file == slow { "b" } else { "a" });
        simctl(&["run", file, "--seed", "42", "--out", reports.to_str().unwrap()]);
    }
    let (a, b) = (reports.join("a/partition/42"), reports.join("b/partition/42"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let gated = simctl(&["diff", a, b, "--max-regression", "10%"]);
    let text = stdout(&gated);
    assert_eq!(gated.status.code(), Some(1), "{text}");
    assert!(text.contains("REGRESSED"), "{text}");
    assert!(text.contains("partition get.during p90:"), "per operation and phase: {text}");
    assert!(text.contains("EXCEEDED"), "{text}");
    assert!(text.contains("trace hashes: 1 of 1 runs in both differ"), "{text}");
    let generous = simctl(&["diff", a, b, "--max-regression", "1000%"]);
    assert_eq!(generous.status.code(), Some(0), "{}", stdout(&generous));
    let json = simctl(&["diff", a, b, "--max-regression", "p99=5%", "--json"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(value["latency"].as_array().unwrap().iter().all(|row| row["percentile"] != "p99"
        || row["over_limit"] == (row["change_percent"].as_f64().unwrap_or(0.0) > 5.0)));
}

#[test]
fn a_check_that_passed_and_now_fails_is_a_regression() {
    let dir = scratch("diff-verdict");
    let file = "scenarios/raft/canary/ack-before-commit.toml";
    let text = std::fs::read_to_string(file).unwrap();
    let fixed = variant(&dir, "fixed.toml", &text, "bugs = [\"ack-before-commit\"]", "bugs = []");
    let out = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    for (scenario, name) in [(fixed.as_str(), "fixed.jsonl"), (file, "bug.jsonl")] {
        simctl(&["sweep", scenario, "--seeds", "1..3", "--jobs", "1", "--out", &out(name)]);
    }
    let output = simctl(&["diff", &out("fixed.jsonl"), &out("bug.jsonl")]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    assert!(text.contains("canary-ack-before-commit seed 1: passed -> FAILED"), "{text}");
    let back = simctl(&["diff", &out("bug.jsonl"), &out("fixed.jsonl")]);
    assert_eq!(back.status.code(), Some(0), "a fix is no regression: {}", stdout(&back));
    assert!(stdout(&back).contains("seed 1: FAILED -> passed"));
    let bad = simctl(&["diff", &out("fixed.jsonl"), "no-such-file"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("no-such-file: cannot read"), "{}", stderr(&bad));
}
