//! `simctl bisect`: [`sim::explore::bisect`], and what happened just before the deciding
//! event.

use std::path::Path;

use sim::explore::bisect::{bisect_run, Bisected, NotBisectable};
use sim::harness::registry::Registry;
use sim::scenario;
use sim::Time;

use crate::exit::{bad_input, ExitStatus};
use crate::sweep::clip;

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
    let reason =
        report.failure().and_then(|f| report.summary.reasons.get(&f.check).cloned()).unwrap_or_default();
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
