//! The test command of the mutation score (`scripts/mutation-score`, docs/BUG-FINDING.md):
//! a seed sweep of one system's CI scenarios, in process, that fails at the first seed a
//! check fails on. cargo-mutants plants a bug in the system's code and runs this; a
//! mutant it fails on is killed.
//!
//! Which system and how many seeds come from the environment, since cargo-mutants runs
//! `cargo test` and passes nothing else: `MUTATION_SYSTEM` (a directory of `scenarios/`:
//! raft, dynamo, collective, datas3t, kademlia, pingpong; or `all`, every system's, for the
//! kernel's mutants, which every system relies on) and `MUTATION_SEEDS` (seeds per
//! scenario, default 10, at most each line's CI count). The scenarios are those of
//! `scenarios/ci/regression.txt` in that directory (raft also gets `scenarios/partition.toml`,
//! the flagship), which must pass, and the system's canaries (`scenarios/<system>/canary/`),
//! which must still fail on 4 of seeds 0..5 as they do unmutated (`../shared/acceptance.sh`),
//! and its `-unsafe` findings, which must still fail on one: a mutant of a check that stops
//! it seeing a canary's bug or a finding is killed by it. Then each of its bug classes must
//! still be reached by the scenario that names it. Ignored
//! in the default run: `scripts/mutation-score` passes `--ignored`.

use sim::harness::run::RunOptions;

/// The regression lines (scenario path from the repository root, CI seed count) of `system`.
fn scenarios(system: &str) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string("../scenarios/ci/regression.txt").expect("the regression set");
    let mut lines = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (path, seeds) = line.split_once(' ').expect("a line is `<scenario> <seeds>`");
        let seeds: u64 = seeds.trim().parse().expect("a seed count");
        let in_system = system == "all"
            || path.starts_with(&format!("scenarios/{system}/"))
            || (system == "raft" && path == "scenarios/partition.toml");
        if in_system {
            lines.push((path.to_owned(), seeds));
        }
    }
    lines
}

#[test]
#[ignore = "the mutation score's sweep: scripts/mutation-score runs it with --ignored"]
fn sweep() {
    let system = std::env::var("MUTATION_SYSTEM").expect("MUTATION_SYSTEM names a directory of scenarios/");
    let per_scenario: u64 =
        std::env::var("MUTATION_SEEDS").map_or(10, |s| s.parse().expect("MUTATION_SEEDS is a number"));
    let lines = scenarios(&system);
    assert!(!lines.is_empty(), "scenarios/ci/regression.txt has no scenario of {system}");
    // A mutant that makes a run endless is cut by cargo-mutants' timeout; one that makes
    // it slow but finite is cut here, by events, and the run then counts as not passing.
    let options = RunOptions { max_events: Some(5_000_000), ..RunOptions::default() };
    let mut runs = 0;
    for (path, ci_seeds) in &lines {
        let text = std::fs::read_to_string(format!("../{path}")).expect("a shipped scenario");
        for seed in 0..per_scenario.min(*ci_seeds) {
            let report = protocols::systems()
                .run(path, &text, seed, &options)
                .unwrap_or_else(|error| panic!("{path} does not run: {error}"));
            runs += 1;
            assert!(
                report.summary.passed,
                "killed: {path} --seed {seed} fails: {:?} (after {runs} runs)",
                report.summary.reasons
            );
        }
    }
    let systems: Vec<String> = if system == "all" {
        let mut dirs: Vec<String> = std::fs::read_dir("../scenarios")
            .expect("the scenarios folder")
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.path().is_dir() && entry.file_name() != "ci")
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        dirs.sort();
        dirs
    } else {
        vec![system.clone()]
    };
    // What must keep failing, and on how many of seeds 0..5: each canary on 4 (as
    // `../shared/acceptance.sh` asks), each `-unsafe` finding (a scenario whose failure is the
    // point: a model that is not linearizable, a bug before its fix) on at least 1 (each
    // fails on 2 to 5 unmutated). A mutant of a check that stops it seeing either is killed.
    let mut must_fail: Vec<(std::path::PathBuf, usize)> = Vec::new();
    for system in &systems {
        let mut files = sim::scenario::find_files(std::path::Path::new(&format!("../scenarios/{system}")));
        files.sort();
        for path in files {
            let name = path.to_string_lossy();
            if name.contains("/canary/") {
                must_fail.push((path, 4));
            } else if name.ends_with("-unsafe.toml") {
                must_fail.push((path, 1));
            }
        }
    }
    for (path, at_least) in &must_fail {
        let text = std::fs::read_to_string(path).expect("a scenario that must fail");
        let file = path.display().to_string();
        // Each check that catches its bug (`[checks] caught_by`) must fail on that many seeds:
        // a mutant that blinds one of them is killed even when another still fails.
        // check -> seeds it failed on; a check a run did not judge (one that panicked) is
        // absent from it.
        let mut caught_by = Vec::new();
        let mut failures: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        for seed in 0..5 {
            let report = protocols::systems()
                .run(&file, &text, seed, &options)
                .unwrap_or_else(|error| panic!("{file} does not run: {error}"));
            caught_by.clone_from(&report.summary.caught_by);
            assert!(!caught_by.is_empty(), "{file} names no check in [checks] caught_by");
            for check in &caught_by {
                if let Some(verdict) = report.summary.checks.get(check) {
                    // Only a failure counts: a check skipped or undecided did not catch it.
                    let failed = usize::from(*verdict == sim::harness::system::Verdict::Fail);
                    *failures.entry(check.clone()).or_default() += failed;
                }
            }
        }
        for check in &caught_by {
            let failed = failures.get(check).copied();
            let failed =
                failed.unwrap_or_else(|| panic!("{file}: caught_by names {check}, which no run of it has"));
            assert!(
                failed >= *at_least,
                "killed: {check} fails {file} on only {failed} of seeds 0..5, not {at_least}"
            );
        }
    }
    // Each bug class the system declares is still reached by its scenario within 50 seeds
    // (as protocols/tests/bug_classes.rs asks): a mutant that stops the scenarios from
    // creating a class's situation (kademlia's churn that never happens) is killed.
    let mut classes = 0;
    for registered in protocols::systems().systems() {
        for class in registered.bug_classes {
            let mine = systems.iter().any(|s| class.reached_by.starts_with(&format!("scenarios/{s}/")));
            if !mine {
                continue;
            }
            classes += 1;
            let text =
                std::fs::read_to_string(format!("../{}", class.reached_by)).expect("a class's scenario");
            let reached = protocols::systems()
                .first_seed_reaching(class, &text, 0..50, &options)
                .unwrap_or_else(|error| panic!("{} does not run: {error}", class.reached_by));
            assert!(
                reached.is_some(),
                "killed: `{}` not reached on seeds 0..50 of {}",
                class.name,
                class.reached_by
            );
        }
    }
    eprintln!(
        "{system}: {runs} runs of {} scenarios passed, {} canaries and findings failed, {classes} bug classes reached",
        lines.len(),
        must_fail.len()
    );
}
