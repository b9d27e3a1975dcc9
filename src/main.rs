//! simctl: the command line. Argument parsing (`cli`) and printing (`print`) only; the work
//! is in `sim` and `protocols`. `main` dispatches the subcommands and turns outcomes into
//! exit statuses; `run`, `replay` and `validate` are here, the longer ones in their modules.

mod bisect;
mod check_history;
mod cli;
mod diff;
mod print;
mod shrink;
mod sweep;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use protocols::registry;
use sim::backend::Backend;
use sim::harness::run::{Messages, RunOptions};
use sim::harness::system::Verdict;
use sim::report::{RunReport, Summary};
use sim::scenario;

use check_history::check_history;
use cli::{Cli, Command};
use print::{list, print_report};

/// Exit statuses scripts and `git bisect run` can rely on (docs/DESIGN.md).
const FAILED: u8 = 1;
const BAD_INPUT: u8 = 2;
const NONDETERMINISM: u8 = 3;
const INCONCLUSIVE: u8 = 4;

/// mimalloc rather than the system allocator: runs allocate and free on every message
/// (docs/PERFORMANCE.md measures the difference). Allocation addresses never reach a run's
/// outcome, so the choice cannot change a trace.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    restore_sigpipe();
    sim::harness::run::install_panic_hook();
    match Cli::parse().command {
        Command::Run {
            scenario,
            seed,
            out,
            json,
            trace,
            check_determinism,
            max_events,
            backend,
            messages,
        } => {
            let messages = match messages.as_deref().map(message_window).transpose() {
                Ok(window) => window.unwrap_or(Messages::Failing),
                Err(error) => return bad_input(&error),
            };
            let options = RunOptions { trace, max_events, backend, messages };
            run(&scenario, seed, &out, json, options, check_determinism)
        }
        Command::Replay { report } => replay(&report),
        Command::Validate { scenarios } => validate(&scenarios),
        Command::List => list(),
        Command::Sweep(args) => sweep::sweep(args),
        Command::Shrink { scenario, seed, out, max_runs } => {
            shrink::shrink(&scenario, seed, out.as_deref(), max_runs)
        }
        Command::Bisect { scenario, seed, window } => bisect::bisect(&scenario, seed, window),
        Command::Merge { files, junit, html, reports, json } => {
            let html = html.as_deref().map(|page| (page, reports.as_deref()));
            sweep::merge(&files, junit.as_deref(), html, json)
        }
        Command::Diff { a, b, max_regression, json } => diff::diff(&a, &b, &max_regression, json),
        Command::SweepWorker { scenarios, max_events, backend, reports } => {
            let options = RunOptions { trace: false, max_events, backend, messages: Messages::Failing };
            sweep::worker(&scenarios, options, reports.as_deref())
        }
        Command::CheckHistory { files, model, init, format, budget, max_states, json } => {
            check_history(&files, &model, init.as_deref(), format.as_deref(), &budget, max_states, json)
        }
    }
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`simctl list | head`) would panic;
/// the default action ends the process quietly, as for any Unix filter.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default, before any thread or handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// `--messages FROM..TO`: durations such as `4s..4.4s`.
fn message_window(text: &str) -> Result<Messages, String> {
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

fn bad_input(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(BAD_INPUT)
}

fn run(
    path: &Path,
    seed: u64,
    out: &Path,
    json: bool,
    options: RunOptions,
    check_determinism: bool,
) -> ExitCode {
    let (file, text) = match scenario::read(path) {
        Ok(read) => read,
        Err(error) => return bad_input(&error),
    };
    if check_determinism && options.backend != Backend::Native {
        return hosted_determinism(&file, &text, seed, out, json, &options);
    }
    if check_determinism {
        match registry::check_determinism(&file, &text, seed) {
            Err(error) => return bad_input(&error),
            Ok(Err(divergence)) => {
                eprint!("nondeterminism: {divergence}");
                eprintln!("reproduce: simctl run {file} --seed {seed} --check-determinism");
                return ExitCode::from(NONDETERMINISM);
            }
            Ok(Ok(_)) => {}
        }
    }
    let report = match registry::run(&file, &text, seed, &options) {
        Ok(report) => report,
        Err(error) => return bad_input(&error),
    };
    finish(&report, out, json, check_determinism)
}

/// Writes a run's report folder, prints it (the tables, or `summary.json` with `--json`),
/// and returns the exit status of its verdicts.
fn finish(report: &RunReport, out: &Path, json: bool, determinism_checked: bool) -> ExitCode {
    let folder = match report.write(out) {
        Ok(folder) => folder,
        Err(error) => return bad_input(&format!("cannot write the report under {}: {error}", out.display())),
    };
    if json {
        println!("{}", report.summary_json());
    } else {
        print_report(report, &folder, determinism_checked);
    }
    verdict_status(&report.summary)
}

/// `--check-determinism` on a hosted backend: its events cannot be stepped in lock step from
/// outside, so the run is made twice and what it produced is compared: the trace hash (every
/// boot, delivery, timer, invocation and fault, in order, with its time), the history and the
/// verdicts.
fn hosted_determinism(
    file: &str,
    text: &str,
    seed: u64,
    out: &Path,
    json: bool,
    options: &RunOptions,
) -> ExitCode {
    let runs = (registry::run(file, text, seed, options), registry::run(file, text, seed, options));
    let (first, second) = match runs {
        (Ok(first), Ok(second)) => (first, second),
        (Err(error), _) | (_, Err(error)) => return bad_input(&error),
    };
    let backend = options.backend;
    let differs = [
        ("trace hash", first.summary.trace_hash != second.summary.trace_hash),
        ("history", first.history != second.history),
        ("verdicts", first.summary.checks != second.summary.checks),
    ];
    if let Some((what, _)) = differs.iter().find(|(_, differs)| *differs) {
        eprintln!(
            "nondeterminism on {backend}: the {what} differs between two runs (trace hashes {} and {})",
            first.summary.trace_hash, second.summary.trace_hash
        );
        eprintln!("reproduce: simctl run {file} --seed {seed} --backend {backend} --check-determinism");
        return ExitCode::from(NONDETERMINISM);
    }
    finish(&first, out, json, true)
}

fn verdict_status(summary: &Summary) -> ExitCode {
    ExitCode::from(verdict_status_code(summary))
}

/// A run's exit status: 1 if a check failed, else 4 if one is unknown, else 0.
fn verdict_status_code(summary: &Summary) -> u8 {
    if summary.checks.values().any(|v| *v == Verdict::Fail) {
        FAILED
    } else if summary.checks.values().any(|v| *v == Verdict::Unknown) {
        INCONCLUSIVE
    } else {
        0
    }
}

fn replay(folder: &Path) -> ExitCode {
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
    let report = match registry::run(&label, &text, seed, &options) {
        Ok(report) => report,
        Err(error) => return bad_input(&error),
    };
    if report.summary.trace_hash == recorded {
        println!(
            "replay agrees: {file} seed {seed}, trace hash {recorded}, {} events",
            report.summary.events
        );
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "replay differs: {file} seed {seed} recorded trace hash {recorded}, this build gives {}",
            report.summary.trace_hash
        );
        eprintln!("either the code changed since the report was written, or the run is nondeterministic;");
        eprintln!("to tell: simctl run {label} --seed {seed} --check-determinism");
        ExitCode::from(NONDETERMINISM)
    }
}

fn validate(paths: &[PathBuf]) -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for path in paths {
        let checked = scenario::read(path).and_then(|(file, text)| registry::validate(&file, &text));
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
