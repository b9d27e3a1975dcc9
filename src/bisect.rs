//! `simctl bisect`: the earliest point of a failing run at which the failure is already
//! determined, and what happened just before it.
//!
//! A run stopped at an event budget runs exactly the first events of the full run (the budget
//! changes nothing before it), and its safety checks (linearizability of the history so far,
//! the system's invariants) are judged on that prefix; both are prefix-closed, so once a
//! prefix fails it stays failed. A binary search over the budget finds the first event after
//! which the run fails in the same bucket as the full run. The events just before it are the
//! first bad step: the delivery that completes the stale read, the message that overwrites
//! the last copy of an acknowledged write.

use std::path::Path;

use sim::harness::registry::Registry;
use sim::harness::run::RunOptions;
use sim::report::RunReport;
use sim::scenario;
use sim::Time;

use crate::exit::{bad_input, ExitStatus};
use crate::sweep::{clip, SeedResult};

/// Where a failing run's failure is determined: what [`bisect_run`] finds.
#[derive(Debug)]
pub struct Bisected {
    /// The failure: the sweep's bucket of the full run.
    pub bucket: String,
    /// The check that decides it.
    pub check: String,
    /// Events in the full run.
    pub events: u64,
    /// The first this many events fail the same way; one fewer do not.
    pub first_failing: u64,
    /// Runs it took to find it (the full run and the search; the traced prefix besides).
    pub runs: usize,
    /// The run stopped after `first_failing` events, with its trace.
    pub prefix: RunReport,
}

/// Why a run cannot be bisected.
#[derive(Debug, PartialEq, Eq)]
pub enum NotBisectable {
    /// The scenario is invalid, or a run could not be made.
    Invalid(String),
    /// It passes on that seed.
    Passes,
    /// Its deciding check is judged over the whole run (liveness, a latency bound,
    /// convergence): no prefix decides it.
    WholeRun {
        /// The check.
        check: String,
        /// The failure's bucket.
        bucket: String,
    },
}

/// Finds the first event after which scenario `text` (named `file`), failing on `seed`, is
/// bound to fail the same way: a binary search over event budgets, each prefix judged by
/// its safety checks. The library's `simctl bisect`, for a `cargo test`.
///
/// # Errors
/// See [`NotBisectable`].
pub fn bisect_run(registry: &Registry, file: &str, text: &str, seed: u64) -> Result<Bisected, NotBisectable> {
    let run = |max_events: Option<u64>, trace: bool| -> Result<RunReport, NotBisectable> {
        registry
            .run(file, text, seed, &RunOptions { trace, max_events, ..RunOptions::default() })
            .map_err(|e| NotBisectable::Invalid(e.to_string()))
    };
    let full = run(None, false)?;
    let result = SeedResult::from_report(file, &full, 0.0);
    let (Some(bucket), Some(check)) = (result.bucket.clone(), result.failed_check.clone()) else {
        return Err(NotBisectable::Passes);
    };
    if result.passed {
        return Err(NotBisectable::Passes);
    }
    if check == "complete" || full.summary.whole_run_checks.contains(&check) {
        return Err(NotBisectable::WholeRun { check, bucket });
    }
    let fails_at = |events: u64| -> Result<bool, NotBisectable> {
        let prefix = SeedResult::from_report(file, &run(Some(events), false)?, 0.0);
        Ok(prefix.bucket.as_deref() == Some(bucket.as_str())
            && prefix.failed_check.as_deref() == Some(&check))
    };
    // Invariant: a prefix of `low` events does not fail, one of `high` events does.
    let (mut low, mut high) = (0u64, full.summary.events);
    let mut runs = 1;
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        runs += 1;
        if fails_at(middle)? {
            high = middle;
        } else {
            low = middle;
        }
    }
    let prefix = run(Some(high), true)?;
    Ok(Bisected { bucket, check, events: full.summary.events, first_failing: high, runs, prefix })
}

/// `simctl bisect`: [`bisect_run`], and what happened just before the deciding event.
pub fn bisect(registry: &Registry, path: &Path, seed: u64, window: usize) -> ExitStatus {
    let program = crate::program();
    let (file, text) = match scenario::read(path) {
        Ok(read) => read,
        Err(error) => return bad_input(&error),
    };
    let bisected = match bisect_run(registry, &file, &text, seed) {
        Ok(bisected) => bisected,
        Err(NotBisectable::Invalid(error)) => return bad_input(&error),
        Err(NotBisectable::Passes) => {
            return bad_input(&format!("{file} seed {seed} passes: there is no failure to bisect"))
        }
        Err(NotBisectable::WholeRun { check, bucket }) => {
            println!("bisect {file} seed {seed}: fails {bucket}");
            println!(
                "{check} is judged over the whole run, so only the end decides it; look at the report's \
                 timeline instead: {program} run {file} --seed {seed}"
            );
            return ExitStatus::BadInput;
        }
    };
    let Bisected { bucket, events, first_failing: high, runs, prefix: report, .. } = bisected;
    let low = high - 1;
    println!("bisect {file} seed {seed}: fails {bucket}");
    let trace = report.trace.as_deref().unwrap_or_default();
    let Some(last) = trace.last() else {
        return bad_input(&"the bisected run recorded no events");
    };
    let at = Time::from_nanos(last.time_ns);
    println!(
        "determined by event #{} (of {events}) at {at} simulated: the first {high} events fail, the first {low} do not ({runs} runs)",
        last.index,
    );
    let prefix = SeedResult::from_report(&file, &report, 0.0);
    let reason = prefix.reason.unwrap_or_default();
    println!("\nwhat the checks say at that point:");
    for line in reason.lines().take(14) {
        println!("  {line}");
    }
    let shown = &trace[trace.len().saturating_sub(window)..];
    let since = shown.first().map_or(0, |line| line.time_ns);
    let faults: Vec<&sim::report::FaultLine> =
        report.summary.faults.iter().filter(|f| f.at_ns <= last.time_ns).collect();
    if !faults.is_empty() {
        println!("\nfaults up to then:");
        for fault in faults.iter().rev().take(8).rev() {
            println!(
                "  {:>12}  {}  ({})",
                Time::from_nanos(fault.at_ns).to_string(),
                fault.fault,
                fault.outcome
            );
        }
    }
    println!("\nclient operations from {} to {at}:", Time::from_nanos(since));
    for event in report.history.iter().filter(|e| e.time.as_nanos() >= since) {
        let value = serde_json::to_value(event).unwrap_or_default();
        let field = |name: &str| {
            value.get(name).map_or(String::new(), |v| v.to_string().trim_matches('"').to_owned())
        };
        let served = event.served_by.map_or(String::new(), |n| format!(" (served by n{})", n.0));
        println!(
            "  {:>12}  process {} {} {} key {} value {}{served}",
            event.time.to_string(),
            event.process,
            field("type"),
            field("f"),
            field("key"),
            field("value"),
        );
    }
    println!("\nthe last {} events:", shown.len());
    for line in shown {
        let what = clip(&line.what, 220);
        println!("  #{:<7} {:>12}  {what}", line.index, Time::from_nanos(line.time_ns).to_string());
    }
    println!("\nreproduce the prefix: {program} run {file} --seed {seed} --max-events {high} --trace");
    ExitStatus::Passed
}
