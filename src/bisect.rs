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

/// `simctl bisect`.
pub fn bisect(registry: &Registry, path: &Path, seed: u64, window: usize) -> ExitStatus {
    let program = crate::program();
    let (file, text) = match scenario::read(path) {
        Ok(read) => read,
        Err(error) => return bad_input(&error),
    };
    let run = |max_events: Option<u64>, trace: bool| -> Result<RunReport, String> {
        registry
            .run(&file, &text, seed, &RunOptions { trace, max_events, ..RunOptions::default() })
            .map_err(|e| e.to_string())
    };
    let full = match run(None, false) {
        Ok(report) => report,
        Err(error) => return bad_input(&error),
    };
    let result = SeedResult::from_report(&file, &full, 0.0);
    let (Some(bucket), Some(check)) = (result.bucket.clone(), result.failed_check.clone()) else {
        return bad_input(&format!("{file} seed {seed} passes: there is no failure to bisect"));
    };
    if result.passed {
        return bad_input(&format!("{file} seed {seed} passes: there is no failure to bisect"));
    }
    println!("bisect {file} seed {seed}: fails {bucket}");
    if check == "complete" || full.summary.whole_run_checks.contains(&check) {
        println!(
            "{check} is judged over the whole run, so only the end decides it; look at the report's \
             timeline instead: {program} run {file} --seed {seed}"
        );
        return ExitStatus::BadInput;
    }
    let fails_at = |events: u64| -> Result<bool, String> {
        let report = run(Some(events), false)?;
        let prefix = SeedResult::from_report(&file, &report, 0.0);
        Ok(prefix.bucket.as_deref() == Some(bucket.as_str())
            && prefix.failed_check.as_deref() == Some(&check))
    };
    // Invariant: a prefix of `low` events does not fail, one of `high` events does.
    let (mut low, mut high) = (0u64, full.summary.events);
    let mut runs = 1;
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        runs += 1;
        match fails_at(middle) {
            Ok(true) => high = middle,
            Ok(false) => low = middle,
            Err(error) => return bad_input(&error),
        }
    }
    let report = match run(Some(high), true) {
        Ok(report) => report,
        Err(error) => return bad_input(&error),
    };
    let trace = report.trace.as_deref().unwrap_or_default();
    let Some(last) = trace.last() else {
        return bad_input(&"the bisected run recorded no events");
    };
    let at = Time::from_nanos(last.time_ns);
    println!(
        "determined by event #{} (of {}) at {at} simulated: the first {high} events fail, the first {low} do not ({runs} runs)",
        last.index,
        full.summary.events
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
