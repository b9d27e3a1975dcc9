//! The dataset service end to end through the registry: the safe mode passes its
//! scenarios, the real service's fixed bugs are caught on at least 90% of 200 seeds, the
//! faithful mode puts datapoints in two ranges on its own, and bad settings are refused at
//! their line.

use sim::harness::system::Verdict;
use sim::report::RunReport;

use crate::common::{assert_canaries_caught, assert_refused_at_line, run_scenario, verdict};

fn run(file: &str, seed: u64) -> RunReport {
    run_scenario("datas3t", file, seed, None)
}

/// The scenario with `mode = "datas3t"`: the real code under the same faults.
fn run_faithful(file: &str, seed: u64) -> RunReport {
    run_scenario("datas3t", file, seed, Some(("mode = \"safe\"", "mode = \"datas3t\"")))
}

const CHECKS: [&str; 6] = [
    "datas3t.every_datapoint_once",
    "datas3t.downloads_exact",
    "datas3t.no_dangling_rows",
    "datas3t.no_orphans",
    "datas3t.upload_plan_fits",
    "datas3t.malformed_rejected",
];

#[test]
fn the_safe_mode_passes_every_check_under_each_fault() {
    for file in [
        "uploads.toml",
        "server-crash.toml",
        "s3-failures.toml",
        "metadata-crash.toml",
        "abandoned-uploads.toml",
        "malformed.toml",
    ] {
        for seed in 0..5 {
            let report = run(file, seed);
            assert!(report.summary.passed, "{file} seed {seed}: {:?}", report.summary.reasons);
            for check in CHECKS {
                assert_eq!(verdict(&report, check), Verdict::Pass, "{file} seed {seed}: {check}");
            }
        }
    }
}

#[test]
fn golden_trace_hash_of_the_flagship() {
    let report = run("uploads.toml", 42);
    let classes: Vec<&String> = report.summary.latency.keys().filter(|k| k.contains('.')).collect();
    assert!(classes.contains(&&"upload.16KiB-1MiB".to_string()), "latency per size class: {classes:?}");
    assert!(report.histograms.keys().any(|(op, _)| op == "download.16KiB-1MiB"), "its histogram");
    assert_eq!((report.summary.trace_hash.as_str(), report.summary.events), ("fcf5de9a8df65bfe", 5_314));
}

/// Each canary runs the safe mode with one bug, so only the bug can fail it; the same
/// scenarios pass without it (docs/systems/datas3t.md).
#[test]
fn every_canary_is_caught_on_at_least_90_percent_of_200_seeds() {
    assert_canaries_caught(
        "datas3t",
        &[
            ("canary/aggregate-deletes-itself.toml", &["datas3t.no_dangling_rows"]),
            ("canary/no-upload-counter.toml", &["datas3t.downloads_exact", "datas3t.no_dangling_rows"]),
            ("canary/size-estimate.toml", &["datas3t.upload_plan_fits"]),
        ],
    );
}

/// Without a re-check in the completing transaction, two uploads of one range that both
/// passed the check at their start both complete.
#[test]
fn the_faithful_mode_puts_datapoints_in_two_ranges() {
    let caught = (0..10)
        .filter(|&seed| {
            verdict(&run_faithful("uploads.toml", seed), "datas3t.every_datapoint_once") == Verdict::Fail
        })
        .count();
    assert!(caught >= 5, "two ranges over one datapoint on {caught} of 10 seeds");
    let report = run_faithful("abandoned-uploads.toml", 1);
    assert_eq!(
        verdict(&report, "datas3t.no_orphans"),
        Verdict::Fail,
        "abandoned uploads are never collected"
    );
}

/// An index that is not a whole number of 16-byte entries skips validation in the code
/// (complete_upload.go:280-285 at fa4800e): a client's index cut short is accepted in the
/// faithful mode and rejected in the safe one.
#[test]
fn the_faithful_mode_accepts_an_index_cut_short() {
    let faithful = run_faithful("malformed.toml", 0);
    let reason = faithful.summary.reasons.get("datas3t.malformed_rejected");
    assert!(reason.is_some_and(|r| r.contains("an index cut short")), "{reason:?}");
    assert_eq!(verdict(&run("malformed.toml", 0), "datas3t.malformed_rejected"), Verdict::Pass);
}

/// A failed validation schedules both objects by presigned URL (`complete_upload.go:182-243`
/// at fa4800e), rows the running deletion worker never takes (its query needs an object
/// name, `query.sql:110-122`): the rejected upload's objects stay in the store for good.
/// The safe mode schedules them by name, and its worker deletes them.
#[test]
fn the_faithful_mode_leaves_a_rejected_uploads_objects_for_good() {
    for seed in 0..5 {
        let faithful = run_faithful("malformed.toml", seed);
        let reason = faithful.summary.reasons.get("datas3t.no_orphans");
        assert!(
            reason.is_some_and(|r| r.contains("scheduled for deletion by presigned URL only")),
            "{reason:?}"
        );
        assert_eq!(verdict(&run("malformed.toml", seed), "datas3t.no_orphans"), Verdict::Pass, "seed {seed}");
    }
}

#[test]
fn bad_settings_are_refused_at_their_line() {
    let base = std::fs::read_to_string("../scenarios/datas3t/uploads.toml").unwrap();
    let cases = [
        ("part_size = \"4KiB\"", "part_size = 0", "part_size must be more than zero"),
        ("mode = \"safe\"", "mode = \"postgres\"", "unknown variant `postgres`"),
        ("mode = \"safe\"", "mode = \"safe\"\nbugs = [\"aggregate\"]", "unknown variant `aggregate`"),
        ("mode = \"safe\"", "mode = \"safe\"\ns3_error_rate = 1.5", "s3_error_rate must be in [0, 1)"),
        ("mode = \"safe\"", "mode = \"safe\"\naggregate_ranges = 1", "an aggregate joins at least 2 ranges"),
        ("nodes = 3", "nodes = 4", "datas3t runs on 3 servers"),
    ];
    assert_refused_at_line(&base, &cases);
}

/// Bits flipped in stored objects reach downloads in both modes: nothing in datas3t checks
/// content end to end (the index holds no checksum; the completion samples headers). With
/// the same faults aimed at no file, the same seeds pass `downloads_exact`: the corruption,
/// flipped in the rendered TAR and not in its description, is what fails them.
#[test]
fn object_corruption_reaches_downloads_in_both_modes() {
    let file = "object-corruption-unsafe.toml";
    for seed in 0..3 {
        let safe = run(file, seed);
        for check in CHECKS {
            let expected = if check == "datas3t.downloads_exact" { Verdict::Fail } else { Verdict::Pass };
            assert_eq!(verdict(&safe, check), expected, "seed {seed}: {check}");
        }
        let faithful = run_faithful(file, seed);
        assert_eq!(verdict(&faithful, "datas3t.downloads_exact"), Verdict::Fail, "seed {seed}");
        let aimed_at_nothing = run_scenario("datas3t", file, seed, Some(("obj/*", "none/*")));
        assert_eq!(verdict(&aimed_at_nothing, "datas3t.downloads_exact"), Verdict::Pass, "seed {seed}");
    }
}
