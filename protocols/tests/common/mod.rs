//! Shared by the property tests.

use proptest::test_runner::RngSeed;

/// The proptest seed: fixed, so CI is reproducible, unless `PROPTEST_RNG_SEED` says
/// otherwise (`random` to explore, or a number to reproduce).
pub fn seed() -> RngSeed {
    match std::env::var("PROPTEST_RNG_SEED").as_deref() {
        Ok("random") => RngSeed::Random,
        Ok(number) => RngSeed::Fixed(number.parse().expect("PROPTEST_RNG_SEED is a number or \"random\"")),
        Err(_) => RngSeed::Fixed(20261121),
    }
}

/// A shipped scenario's path: `scenarios/<dir>/<file>`.
pub fn scenario_path(dir: &str, file: &str) -> String {
    format!("../scenarios/{dir}/{file}")
}

/// Runs `scenarios/<dir>/<file>` at `seed`, with `from` replaced by `to` in its text (a
/// mode swapped, say) where given.
pub fn run_scenario(
    dir: &str,
    file: &str,
    seed: u64,
    replace: Option<(&str, &str)>,
) -> sim::report::RunReport {
    let path = scenario_path(dir, file);
    let mut text = std::fs::read_to_string(&path).unwrap();
    if let Some((from, to)) = replace {
        text = text.replace(from, to);
    }
    protocols::systems().run(&path, &text, seed, &sim::harness::run::RunOptions::default()).unwrap()
}

/// A check's verdict in a run.
pub fn verdict(report: &sim::report::RunReport, check: &str) -> sim::harness::system::Verdict {
    *report.summary.checks.get(check).unwrap_or_else(|| panic!("no check {check}"))
}

/// Asserts each canary (`dir`/`file`) is caught by one of its checks on at least 180 of
/// seeds 0..200.
pub fn assert_canaries_caught(dir: &str, canaries: &[(&str, &[&str])]) {
    for (file, checks) in canaries {
        let caught = (0..200)
            .filter(|&seed| {
                let report = run_scenario(dir, file, seed, None);
                checks.iter().any(|check| verdict(&report, check) == sim::harness::system::Verdict::Fail)
            })
            .count();
        assert!(caught >= 180, "{file}: {checks:?} caught it on {caught} of 200 seeds");
    }
}

/// Asserts that `base` with each `(from, to)` edit is refused with `message`, naming the
/// file, line and column.
pub fn assert_refused_at_line(base: &str, cases: &[(&str, &str, &str)]) {
    for (from, to, message) in cases {
        assert!(base.contains(from), "{from}");
        let text = base.replace(from, to);
        let error = protocols::systems().validate("bad.toml", &text).unwrap_err().to_string();
        assert!(error.contains(message), "{to}: {error}");
        assert!(error.starts_with("bad.toml:"), "names the file, line and column: {error}");
    }
}
