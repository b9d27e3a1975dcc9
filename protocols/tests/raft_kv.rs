//! Raft KV end to end: each canary bug is caught with a witness that names the bad read or
//! the lost write; the same scenario without the bug passes; runs are deterministic in lock
//! step (raft-rs's own election-timeout randomness is overridden from the node's stream).

use std::path::Path;

use protocols::raft_kv::config::LogStore;
use protocols::raft_kv::RaftKv;
use sim::harness::run::RunOptions;
use sim::harness::system;

fn scenario(path: &str) -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn run(path: &str, text: &str, seed: u64) -> sim::report::Summary {
    protocols::systems().run(path, text, seed, &RunOptions::default()).expect("the scenario is valid").summary
}

/// The failing checks and their reasons.
fn failures(summary: &sim::report::Summary) -> Vec<(String, String)> {
    summary
        .checks
        .iter()
        .filter(|(_, verdict)| verdict.name() == "fail")
        .map(|(name, _)| (name.clone(), summary.reasons.get(name).cloned().unwrap_or_default()))
        .collect()
}

fn without_bug(text: &str) -> String {
    text.lines().filter(|line| !line.starts_with("bugs = ")).collect::<Vec<_>>().join("\n")
}

/// Runs canary `path` (seed 1): check `check` fails with a reason that has every fragment;
/// with its bug removed, the scenario passes.
fn caught(path: &str, check: &str, fragments: &[&str]) {
    let text = scenario(path);
    let failed = failures(&run(path, &text, 1));
    let (_, reason) = failed
        .iter()
        .find(|(name, _)| name == check)
        .unwrap_or_else(|| panic!("{path}: {check} should fail; failures: {failed:?}"));
    for fragment in fragments {
        assert!(reason.contains(fragment), "{path}: {fragment:?} in {reason}");
    }
    assert!(run(path, &without_bug(&text), 1).passed, "{path} passes without the bug");
}

#[test]
fn local_reads_are_caught_by_a_stale_read() {
    caught("scenarios/raft/canary/local-reads.toml", "linearizable", &["then no order explains", "get key"]);
}

#[test]
fn ack_before_commit_is_caught_by_a_lost_write() {
    let fragments = ["was acknowledged at", "in no server's log"];
    caught("scenarios/raft/canary/ack-before-commit.toml", "raft.acknowledged_writes_kept", &fragments);
}

#[test]
fn skip_fsync_is_caught_by_a_bad_read() {
    caught("scenarios/raft/canary/skip-fsync.toml", "linearizable", &["then no order explains"]);
}

#[test]
fn the_flagship_is_deterministic_in_lock_step() {
    let path = "scenarios/partition.toml";
    let agreement = protocols::systems().check_determinism(path, &scenario(path), 3).expect("valid");
    assert!(agreement.is_ok(), "{:?}", agreement.err());
}

/// Runs scenario `path` with its log in `storage`, and with its planted bugs or without.
fn run_stored(path: &str, storage: LogStore, bugs: bool, seed: u64) -> sim::report::Summary {
    let text = scenario(path);
    let mut parsed = system::parse::<RaftKv>(path, &text).expect("the scenario is valid");
    parsed.settings.storage = storage;
    if !bugs {
        parsed.settings.bugs.clear();
    }
    sim::harness::run::run::<RaftKv>(path, &text, &parsed, seed, &RunOptions::default())
        .expect("the native engine runs every scenario")
        .summary
}

#[test]
fn the_write_ahead_log_and_redb_give_the_same_runs_when_no_disk_fault_tells_them_apart() {
    // The flagship's disk has no fsync latency and no torn writes: what a store writes and
    // recovers is the same synced state, so the runs are identical, crash and restart
    // included.
    let path = "scenarios/partition.toml";
    for seed in [1, 42] {
        let redb = run_stored(path, LogStore::Redb, true, seed);
        let wal = run_stored(path, LogStore::Wal, true, seed);
        assert!(redb.passed && wal.passed);
        assert_eq!(redb.trace_hash, wal.trace_hash, "seed {seed}");
    }
    // With fsync latency the stores differ in how many fsyncs a write costs (redb commits
    // with two), so the runs differ, and each must still pass.
    let path = "scenarios/raft/crash-restart.toml";
    let redb = run_stored(path, LogStore::Redb, true, 1);
    let wal = run_stored(path, LogStore::Wal, true, 1);
    assert!(redb.passed && wal.passed, "{:?} {:?}", failures(&redb), failures(&wal));
    assert_ne!(redb.trace_hash, wal.trace_hash);
}

#[test]
fn skip_fsync_is_caught_with_the_write_ahead_log_too() {
    let path = "scenarios/raft/canary/skip-fsync.toml";
    assert!(
        (0..5).any(|seed| !run_stored(path, LogStore::Wal, true, seed).passed),
        "fails on some seed of 0..5"
    );
    assert!(
        (0..5).all(|seed| run_stored(path, LogStore::Wal, false, seed).passed),
        "and passes without the bug"
    );
}

#[test]
fn a_joining_server_catches_up_from_a_snapshot() {
    let path = "scenarios/raft/membership.toml";
    let summary = run(path, &scenario(path), 1);
    assert!(summary.passed, "{:?}", summary.reasons);
    assert!(summary.sometimes.get("membership changed").is_some_and(|n| *n > 0));
    assert!(summary.sometimes.get("snapshot installed").is_some_and(|n| *n > 0));
}
