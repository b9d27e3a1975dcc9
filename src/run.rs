//! `simctl run`, `replay` and `validate`.

use std::path::{Path, PathBuf};

use sim::backend::Backend;
use sim::harness::determinism;
use sim::harness::registry::Registry;
use sim::harness::run::{Messages, RunOptions};
use sim::report::RunReport;
use sim::scenario;

use crate::exit::{bad_input, ExitStatus};
use crate::print::print_report;

/// `--messages FROM..TO`: durations such as `4s..4.4s`.
pub fn message_window(text: &str) -> Result<Messages, String> {
    let error = |why: String| format!("--messages {text}: {why} (expected FROM..TO, e.g. 4s..4.4s)");
    let (from, to) = text.split_once("..").ok_or_else(|| error("no ..".to_owned()))?;
    let nanos = |part: &str| {
        scenario::duration::parse(part.trim())
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .map_err(|e| error(e.to_string()))
    };
    let (from, to) = (nanos(from)?, nanos(to)?);
    if from > to {
        return Err(error("FROM is after TO".to_owned()));
    }
    Ok(Messages::Window(from, to))
}

/// `simctl run`: a scenario with a seed; its report folder, its tables, its verdicts.
pub fn run(
    registry: &Registry,
    path: &Path,
    seed: u64,
    out: &Path,
    json: bool,
    options: RunOptions,
    check_determinism: bool,
) -> ExitStatus {
    let program = crate::program();
    let (file, text) = match scenario::read(path) {
        Ok(read) => read,
        Err(error) => return bad_input(&error),
    };
    if check_determinism && options.backend != Backend::Native {
        return hosted_determinism(registry, &file, &text, seed, out, json, &options);
    }
    if check_determinism {
        match registry.check_determinism(&file, &text, seed) {
            Err(error) => return bad_input(&error),
            Ok(Err(divergence)) => {
                eprint!("nondeterminism: {divergence}");
                eprintln!("reproduce: {program} run {file} --seed {seed} --check-determinism");
                return ExitStatus::Nondeterminism;
            }
            Ok(Ok(_)) => {}
        }
    }
    let report = match registry.run(&file, &text, seed, &options) {
        Ok(report) => report,
        Err(error) => return bad_input(&error),
    };
    finish(&report, out, json, check_determinism)
}

/// Writes a run's report folder, prints it (the tables, or `summary.json` with `--json`),
/// and returns the exit status of its verdicts.
fn finish(report: &RunReport, out: &Path, json: bool, determinism_checked: bool) -> ExitStatus {
    let folder = match report.write(out) {
        Ok(folder) => folder,
        Err(error) => return bad_input(&format!("cannot write the report under {}: {error}", out.display())),
    };
    if json {
        println!("{}", report.summary_json());
    } else {
        print_report(report, &folder, determinism_checked);
    }
    ExitStatus::of_verdicts(&report.summary)
}

/// `--check-determinism` on a hosted backend: its events cannot be stepped in lock step from
/// outside, so the run is made twice and what it produced is compared
/// ([`determinism::compare_runs`]).
fn hosted_determinism(
    registry: &Registry,
    file: &str,
    text: &str,
    seed: u64,
    out: &Path,
    json: bool,
    options: &RunOptions,
) -> ExitStatus {
    let program = crate::program();
    let runs = (registry.run(file, text, seed, options), registry.run(file, text, seed, options));
    let (first, second) = match runs {
        (Ok(first), Ok(second)) => (first, second),
        (Err(error), _) | (_, Err(error)) => return bad_input(&error),
    };
    let backend = options.backend;
    if let Some(what) = determinism::compare_runs(&first, &second) {
        eprintln!(
            "nondeterminism on {backend}: the {what} differs between two runs (trace hashes {} and {})",
            first.summary.trace_hash, second.summary.trace_hash
        );
        eprintln!("reproduce: {program} run {file} --seed {seed} --backend {backend} --check-determinism");
        return ExitStatus::Nondeterminism;
    }
    finish(&first, out, json, true)
}

/// `simctl replay`: the report's scenario and seed again; the trace hash must agree.
pub fn replay(registry: &Registry, folder: &Path) -> ExitStatus {
    let program = crate::program();
    let read = |name: &str| {
        std::fs::read_to_string(folder.join(name))
            .map_err(|e| format!("{}: {e}", folder.join(name).display()))
    };
    let (text, summary) = match (read("scenario.toml"), read("summary.json")) {
        (Ok(text), Ok(summary)) => (text, summary),
        (Err(error), _) | (_, Err(error)) => return bad_input(&format!("not a report folder: {error}")),
    };
    let summary: serde_json::Value = match serde_json::from_str(&summary) {
        Ok(summary) => summary,
        Err(error) => return bad_input(&format!("{}: {error}", folder.join("summary.json").display())),
    };
    let (Some(seed), Some(recorded), Some(file)) =
        (summary["seed"].as_u64(), summary["trace_hash"].as_str(), summary["file"].as_str())
    else {
        return bad_input(&format!("{}: no seed, trace_hash or file", folder.join("summary.json").display()));
    };
    let label = folder.join("scenario.toml").display().to_string();
    let backend = match summary["backend"].as_str().unwrap_or("native").parse::<Backend>() {
        Ok(backend) => backend,
        Err(error) => return bad_input(&format!("{}: {error}", folder.join("summary.json").display())),
    };
    let options = RunOptions { backend, ..RunOptions::default() };
    let report = match registry.run(&label, &text, seed, &options) {
        Ok(report) => report,
        Err(error) => return bad_input(&error),
    };
    if report.summary.trace_hash == recorded {
        println!(
            "replay agrees: {file} seed {seed}, trace hash {recorded}, {} events",
            report.summary.events
        );
        ExitStatus::Passed
    } else {
        eprintln!(
            "replay differs: {file} seed {seed} recorded trace hash {recorded}, this build gives {}",
            report.summary.trace_hash
        );
        eprintln!("either the code changed since the report was written, or the run is nondeterministic;");
        eprintln!("to tell: {program} run {label} --seed {seed} --check-determinism");
        ExitStatus::Nondeterminism
    }
}

/// `simctl validate`: parses and checks scenario files without running them.
pub fn validate(registry: &Registry, paths: &[PathBuf]) -> ExitStatus {
    let mut status = ExitStatus::Passed;
    for path in paths {
        let checked = scenario::read(path).and_then(|(file, text)| registry.validate(&file, &text));
        match checked {
            Ok(brief) => println!(
                "ok  {} ({}, {} servers, {} clients, {} faults{})",
                path.display(),
                brief.system,
                brief.nodes,
                brief.clients,
                brief.faults,
                if brief.swarm { ", swarm" } else { "" }
            ),
            Err(error) => status = bad_input(&error),
        }
    }
    status
}
