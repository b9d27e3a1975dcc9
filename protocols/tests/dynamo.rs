//! The Dynamo store end to end through the registry, as `simctl run` runs it: the flagship
//! passes, its canaries are caught on at least 90% of 200 seeds, linearizability fails where
//! it must and holds where it should, and bad settings are refused at their line.

use sim::harness::system::Verdict;

use crate::common::{assert_canaries_caught, assert_refused_at_line, run_scenario, scenario_path, verdict};

fn run(file: &str, seed: u64) -> sim::report::RunReport {
    run_scenario("dynamo", file, seed, None)
}

#[test]
fn the_flagship_passes_every_check() {
    for seed in 0..20 {
        let report = run("partition.toml", seed);
        assert!(report.summary.passed, "seed {seed}: {:?}", report.summary.reasons);
    }
}

#[test]
fn golden_trace_hash_of_the_flagship() {
    let report = run("partition.toml", 42);
    assert_eq!((report.summary.trace_hash.as_str(), report.summary.events), ("482513b46f25f05b", 31_355));
}

/// Each canary, with the checks that catch it: one of them fails on at least 180 of seeds
/// 0..200 (each canary's scenario without its bug or fault passes: docs/systems/dynamo.md).
#[test]
fn every_canary_is_caught_on_at_least_90_percent_of_200_seeds() {
    assert_canaries_caught(
        "dynamo",
        &[
            ("canary/hint-deleted-early.toml", &["dynamo.hints_handed_back"]),
            ("canary/repair-older.toml", &["dynamo.acknowledged_writes_kept"]),
            ("canary/arrival-order.toml", &["dynamo.clocks_never_shrink"]),
            ("canary/lww-skew.toml", &["dynamo.acknowledged_writes_kept"]),
            ("canary/dynago-blocked-queue.toml", &["dynamo.every_server_serves"]),
            ("canary/no-handoff.toml", &["dynamo.convergence"]),
            (
                "canary/dynago-forward-channel.toml",
                &["dynamo.no_unwritten_versions", "dynamo.acknowledged_writes_kept"],
            ),
        ],
    );
}

#[test]
fn linearizability_fails_under_a_sloppy_quorum_and_holds_with_strict_quorums() {
    for seed in 0..5 {
        let sloppy = run("sloppy-stale-read-unsafe.toml", seed);
        assert_eq!(verdict(&sloppy, "linearizable"), Verdict::Fail, "seed {seed}");
        let reason = &sloppy.summary.reasons["linearizable"];
        assert!(reason.contains("then no order explains"), "a witness: {reason}");
        let strict = run("strict-linearizable.toml", seed);
        assert_eq!(
            verdict(&strict, "linearizable"),
            Verdict::Pass,
            "seed {seed}: {:?}",
            strict.summary.reasons
        );
    }
}

#[test]
fn the_faithful_dynago_mode_loses_writes_and_diverges() {
    let report = run("dynago-unsafe.toml", 1);
    assert_eq!(verdict(&report, "dynamo.acknowledged_writes_kept"), Verdict::Fail);
    assert_eq!(verdict(&report, "dynamo.convergence"), Verdict::Fail);
}

const RESTART: &str = "[[faults]]\nat = \"16s\"\ncrash = 2\nrestart_after = \"3s\"\n";

/// Dynago's peers talk over gRPC streams: an 8 s partition, under the 15 s inactivity
/// limit, holds their messages and delivers them at the heal. Nothing stops, nothing piles
/// up in a channel no loop drains, and every node keeps taking writes.
#[test]
fn dynago_streams_carry_a_partition_shorter_than_the_inactivity_limit() {
    for seed in 0..20 {
        let report = run_scenario("dynamo", "dynago-register-unsafe.toml", seed, Some((RESTART, "")));
        assert_eq!(verdict(&report, "dynamo.every_server_serves"), Verdict::Pass, "seed {seed}");
        assert_eq!(verdict(&report, "dynamo.membership_converges"), Verdict::Pass, "seed {seed}");
        assert!(report.summary.sometimes["connection held messages across a cut"] > 0, "seed {seed}");
        assert!(!report.summary.counters.contains_key("dynago: messages into a channel no loop drains"));
    }
}

/// Replicas apply KEY_VALUEs in arrival order (`peer.go:282-287`): with no fault at all, a
/// write acknowledged after another began can be overwritten by it at a replica.
#[test]
fn dynago_replicas_apply_writes_in_arrival_order() {
    let text = std::fs::read_to_string(scenario_path("dynamo", "dynago-register-unsafe.toml")).unwrap();
    let no_faults = &text[..text.find("[[faults]]").unwrap()];
    let lost = (0..20)
        .filter(|&seed| {
            let report =
                protocols::systems().run("no-faults.toml", no_faults, seed, &Default::default()).unwrap();
            verdict(&report, "dynamo.last_write_kept") == Verdict::Fail
                && report.summary.reasons["dynamo.last_write_kept"].contains("overwritten by put")
        })
        .count();
    assert!(lost >= 2, "arrival order lost a write on {lost} of 20 seeds");
}

/// A partition past 15 s: each side stops the other's streams, only the seed link is dialed
/// again, gossip marks the stopped peers active again, and after 100 writes queued for them
/// a write blocks with the cluster lock held (`ClusterService.go:219-232`): the node takes
/// no write again.
#[test]
fn dynago_a_partition_past_the_inactivity_limit_freezes_writers_for_good() {
    for seed in 0..5 {
        let report = run("dynago-long-partition-unsafe.toml", seed);
        assert_eq!(verdict(&report, "dynamo.every_server_serves"), Verdict::Fail, "seed {seed}");
        let fired = |name: &str| report.summary.sometimes.get(name).copied().unwrap_or(0) > 0;
        assert!(fired("dynago: gossip marked a stopped peer active again"), "seed {seed}");
        assert!(fired("dynago: a send into a full channel holds the cluster lock for good"), "seed {seed}");
    }
}

/// Members are stamped by the stamping node's wall clock and judged by the judging node's:
/// a clock 20 s ahead stops streams that are alive, and the node freezes as above; without
/// the step no node stops serving.
#[test]
fn dynago_a_clock_ahead_stops_live_peers() {
    let step = "[[faults]]\nat = \"5s\"\nclock = { node = 3, step = \"+20s\" }\n";
    let (mut frozen, mut without) = (0, 0);
    for seed in 0..10 {
        let report = run("dynago-clock-skew-unsafe.toml", seed);
        frozen += usize::from(verdict(&report, "dynamo.every_server_serves") == Verdict::Fail);
        let calm = run_scenario("dynamo", "dynago-clock-skew-unsafe.toml", seed, Some((step, "")));
        assert_eq!(verdict(&calm, "dynamo.every_server_serves"), Verdict::Pass, "seed {seed}");
        assert_eq!(verdict(&calm, "dynamo.membership_converges"), Verdict::Pass, "seed {seed}");
        without += 1;
    }
    assert!(frozen >= 9 && without == 10, "{frozen} of 10 froze with the step");
}

/// At HEAD a key's owner is fixed on each node's ring (nodes are added, never removed): when
/// it is gone, requests for its keys fail at every other node instead of moving to a live one.
#[test]
fn dynago_ring_a_dead_owners_keys_fail_and_do_not_move() {
    let text = std::fs::read_to_string(scenario_path("dynamo", "dynago-ring-unsafe.toml")).unwrap();
    let text = text
        .replace("crash = 2\nrestart_after = \"3s\"", "crash = 2")
        .replace("stop = \"25s\"", "stop = \"40s\"");
    let report = protocols::systems().run("crash-for-good.toml", &text, 1, &Default::default()).unwrap();
    let refused = report.summary.sometimes.get("dynago ring: a key's owner has no active entry");
    assert!(refused.is_some_and(|n| *n > 0), "{:?}", report.summary.sometimes);
}

/// Membership beyond crash and restart (Dynamo §4.9): a server joins and another leaves
/// under writes, a crash and loss; every acknowledged write is in the final ring's owners,
/// which converge, and the keys went to their new owners as hints that were handed back.
#[test]
fn a_join_and_a_leave_lose_no_acknowledged_write() {
    for seed in 0..20 {
        let report = run("membership.toml", seed);
        assert!(report.summary.passed, "seed {seed}: {:?}", report.summary.reasons);
        let handed = report.summary.sometimes["dynamo: a membership change handed a key to a new owner"];
        assert!(handed > 0, "seed {seed}");
        assert_eq!(report.summary.sometimes["dynamo: a server joined"], 1);
        assert_eq!(report.summary.sometimes["dynamo: a server left"], 1);
    }
}

#[test]
fn bad_settings_are_refused_at_their_line() {
    let base = std::fs::read_to_string("../scenarios/dynamo/partition.toml").unwrap();
    let cases = [
        ("read_quorum = 2", "read_quorum = 4", "R = 4 exceeds N = 3"),
        ("mode = \"dynamo\"", "mode = \"riak\"", "unknown variant `riak`"),
        (
            "mode = \"dynamo\"",
            "mode = \"dynago\"\nconflict = \"lww\"",
            "conflict does not apply to mode = \"dynago\"",
        ),
        ("replicas = 3", "replicas = 9", "exceeds the 5 servers"),
        (
            "replicas = 3",
            "replicas = 3\nmembership = [{ at = \"1s\", join = 2, leave = 3 }]",
            "membership change 0 names neither or both of join and leave",
        ),
        (
            "replicas = 3",
            "replicas = 3\nmembership = [{ at = \"1s\", leave = 1 }, { at = \"2s\", leave = 2 }, { at = \"3s\", leave = 3 }]",
            "membership change 2 leaves 2 servers, fewer than N = 3",
        ),
        (
            "replicas = 3",
            "replicas = 3\nmembership = [{ at = \"1s\", leave = 7 }]",
            "membership change 0: server 7 of 5",
        ),
        (
            "replicas = 3",
            "replicas = 3\nmembership = [{ at = \"1s\", leave = 1 }, { at = \"2s\", leave = 1 }]",
            "membership change 1: server 1 is not in the ring",
        ),
        (
            "mode = \"dynamo\"",
            "mode = \"dynamo\"\nworkload = \"register\"",
            "workload = \"register\" is Dynago's plain SET: it needs mode = \"dynago\"",
        ),
        (
            "loss = 0.01",
            "loss = 0.01\nkinds = { replicat = { dist = \"constant\", value = \"1ms\" } }",
            "unknown message kind \"replicat\"; expected one of: get, put",
        ),
    ];
    assert_refused_at_line(&base, &cases);
}

/// PBS: over seeds 0..10, the share of reads within 5 ms of a commit that saw it is within 2
/// points of what the WARS model predicts for the same reads (the model itself reproduces
/// the paper's figures: `dynamo::pbs` unit tests).
#[test]
fn measured_staleness_matches_the_wars_model() {
    use sim::report::Cell;
    for file in ["pbs/exp-fast-writes.toml", "pbs/exp-slow-writes.toml", "pbs/linkedin-ssd.toml"] {
        let (mut reads, mut seen, mut predicted) = (0.0, 0.0, 0.0);
        for seed in 0..10 {
            let report = run(file, seed);
            assert!(report.summary.passed, "{file} seed {seed}: {:?}", report.summary.reasons);
            let table = report.summary.tables.iter().find(|t| t.title.starts_with("staleness")).unwrap();
            for row in table.rows.iter().filter(|r| ["0-0.1ms", "0.1-1ms", "1-5ms"].contains(&text(&r[0]))) {
                let (Cell::Int(n), Cell::Share { part: fresh, .. }, Cell::Share { part: model, .. }) =
                    (&row[1], &row[2], &row[5])
                else {
                    panic!("{file}: a staleness row of a count and shares: {row:?}");
                };
                reads += *n as f64;
                seen += fresh;
                predicted += model;
            }
        }
        let (measured, model) = (100.0 * seen / reads, 100.0 * predicted / reads);
        assert!(reads > 4_000.0, "{file}: {reads} reads");
        assert!((measured - model).abs() <= 2.0, "{file}: measured {measured:.2}%, WARS model {model:.2}%");
    }
}

fn text(cell: &sim::report::Cell) -> &str {
    match cell {
        sim::report::Cell::Text(s) => s,
        _ => "",
    }
}

/// PBS's closed form for k-staleness with non-expanding quorums, N = 3, R = W = 1: a read is
/// within k versions of the latest with probability 1 - (2/3)^k. Over seeds 0..10, every
/// read added up, within 2 points for k = 1, 2, 3.
#[test]
fn k_staleness_matches_the_closed_form() {
    use sim::report::Cell;
    let (mut reads, mut within) = (0u64, [0.0f64; 3]);
    for seed in 0..10 {
        let report = run("pbs/k-staleness-unsafe.toml", seed);
        let table = report.summary.tables.iter().find(|t| t.title.starts_with("staleness")).unwrap();
        let row = table.rows.iter().find(|r| text(&r[0]) == "all").expect("an all row");
        let Cell::Int(n) = row[1] else { panic!("reads: {row:?}") };
        reads += n;
        for (k, cell) in row[2..5].iter().enumerate() {
            let Cell::Share { part, .. } = cell else { panic!("a share: {row:?}") };
            within[k] += part;
        }
    }
    assert!(reads > 10_000, "{reads} reads");
    for (k, count) in within.iter().enumerate() {
        let measured = 100.0 * count / reads as f64;
        let closed_form = 100.0 * (1.0 - libm::pow(2.0 / 3.0, k as f64 + 1.0));
        assert!(
            (measured - closed_form).abs() <= 2.0,
            "k <= {}: measured {measured:.2}%, closed form {closed_form:.2}%",
            k + 1
        );
    }
}
