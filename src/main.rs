//! simctl: the command line. Argument parsing and printing only; the work is in `sim` and
//! `protocols`.

mod bisect;
mod shrink;
mod sweep;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use protocols::registry;
use sim::harness::run::RunOptions;
use sim::harness::system::Verdict;
use sim::kernel::fault::FaultKind;
use sim::report::{RunReport, Summary};
use sim::scenario;
use tabled::builder::Builder;
use tabled::settings::Style;

/// Exit statuses scripts and `git bisect run` can rely on (DESIGN.md).
const FAILED: u8 = 1;
const BAD_INPUT: u8 = 2;
const NONDETERMINISM: u8 = 3;
const INCONCLUSIVE: u8 = 4;

/// mimalloc rather than the system allocator: runs allocate and free on every message
/// (docs/PERFORMANCE.md measures the difference). Allocation addresses never reach a run's
/// outcome, so the choice cannot change a trace.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "simctl",
    version,
    about = "Deterministic simulation testbed for distributed protocols",
    after_help = "Exit status: 0 every check passed, 1 a check failed, 2 bad input, 3 nondeterminism, \
                  4 inconclusive.\n\nExample:\n  simctl run scenarios/pingpong/partition.toml --seed 42"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario with a seed: print a table, write a report folder.
    #[command(after_help = "Examples:\n  simctl run scenarios/pingpong/partition.toml --seed 42\n  \
                            simctl run scenarios/pingpong/swarm.toml --seed 7 --json --out /tmp/reports\n  \
                            simctl run scenarios/pingpong/crash.toml --seed 1 --trace --check-determinism")]
    Run {
        /// The scenario file.
        scenario: PathBuf,
        /// The root seed: the same seed gives the same run, event for event.
        #[arg(long)]
        seed: u64,
        /// Where report folders go (`DIR/<scenario>/<seed>/`).
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// Print summary.json to stdout instead of the table.
        #[arg(long)]
        json: bool,
        /// Also write every event to trace.jsonl (slower).
        #[arg(long)]
        trace: bool,
        /// First run twice in lock step and report the first event that differs (exit 3).
        #[arg(long)]
        check_determinism: bool,
        /// Stop after this many events; the run is then inconclusive (exit 4).
        #[arg(long)]
        max_events: Option<u64>,
    },
    /// Re-run a report's scenario and seed; exit 3 if the trace hash differs.
    #[command(after_help = "Example:\n  simctl replay reports/partition/42")]
    Replay {
        /// A report folder written by `simctl run`.
        report: PathBuf,
    },
    /// Check scenario files without running them.
    #[command(after_help = "Example:\n  simctl validate scenarios/pingpong/*.toml")]
    Validate {
        /// The scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Check histories for linearizability against a model.
    #[command(
        after_help = "Formats: jsonl (simctl's history.jsonl), jepsen-log (Porcupine's etcd logs), edn (a Knossos \
                            vector of op maps), edn-lines (one op map per line); detected when --format is not given.\n\n\
                            Examples:\n  simctl check-history reports/partition/42/history.jsonl --model kv\n  \
                            simctl check-history etcd_000.log --model cas-register --budget 10s --json\n  \
                            simctl check-history knossos.edn --model cas-register --init 0"
    )]
    CheckHistory {
        /// The history files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// register, cas-register, kv, mutex or list-append.
        #[arg(long)]
        model: String,
        /// The registers' initial value, in EDN (default nil: never written).
        #[arg(long)]
        init: Option<String>,
        /// jsonl, jepsen-log, edn or edn-lines (default: detected).
        #[arg(long)]
        format: Option<String>,
        /// Give up with verdict unknown after this long per file.
        #[arg(long, default_value = "60s")]
        budget: String,
        /// Give up with verdict unknown after remembering this many search states per file
        /// (the search's memory).
        #[arg(long, default_value_t = 5_000_000)]
        max_states: usize,
        /// Print one JSON object per file.
        #[arg(long)]
        json: bool,
    },
    /// Run many seeds of one or more scenarios in parallel and summarize them.
    #[command(
        after_help = "Every seed runs in a worker process: a seed that crashes it or overruns its budget \
                            fails alone. Exit status 1 if any seed failed.\n\n\
                            Examples:\n  simctl sweep scenarios/partition.toml --seeds 0..1000\n  \
                            simctl sweep scenarios/raft/*.toml --seeds 200 --jobs 2 --out results.jsonl --junit junit.xml\n  \
                            simctl sweep scenarios/partition.toml --seeds 0..10000 --shard 2/4 --out shard-2.jsonl\n  \
                            simctl merge shard-*.jsonl"
    )]
    Sweep(sweep::SweepArgs),
    /// Summarize the results files of several sweeps (shards) as one sweep.
    #[command(after_help = "Example:\n  simctl merge shard-1.jsonl shard-2.jsonl --junit junit.xml")]
    Merge {
        /// JSON-lines results files written by `simctl sweep --out`.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write JUnit XML here.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Print the summary as JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Minimize a failing run: fewer faults, shorter, a smaller workload, fewer servers.
    #[command(
        after_help = "Writes a standalone scenario (swarm off, explicit faults) that fails the same way \
                            (same check, same reason up to numbers) with the same seed.\n\n\
                            Example:\n  simctl shrink scenarios/raft/canary/local-reads.toml --seed 3\n  \
                            simctl run reports/canary-local-reads/3/shrunk.toml --seed 3"
    )]
    Shrink {
        /// The scenario file.
        scenario: PathBuf,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// Where the shrunk scenario goes (default reports/<name>/<seed>/shrunk.toml).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Give up shrinking after this many runs.
        #[arg(long, default_value_t = 300)]
        max_runs: usize,
    },
    /// Find the first event after which a failing run is bound to fail, and show what led to it.
    #[command(
        after_help = "Binary search over runs stopped at an event budget (a prefix of the same run), \
                            judging the history and invariants so far.\n\n\
                            Example:\n  simctl bisect scenarios/raft/canary/ack-before-commit.toml --seed 1"
    )]
    Bisect {
        /// The scenario file.
        scenario: PathBuf,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// How many events before the decisive one to show.
        #[arg(long, default_value_t = 30)]
        window: usize,
    },
    /// A sweep's worker process (runs seeds named on stdin).
    #[command(hide = true)]
    SweepWorker {
        scenarios: Vec<PathBuf>,
        #[arg(long)]
        max_events: Option<u64>,
        #[arg(long)]
        reports: Option<PathBuf>,
    },
    /// Show the systems, their settings with defaults, the fault kinds and the scenarios.
    #[command(after_help = "Example:\n  simctl list")]
    List,
}

fn main() -> ExitCode {
    restore_sigpipe();
    sim::harness::run::install_panic_hook();
    match Cli::parse().command {
        Command::Run { scenario, seed, out, json, trace, check_determinism, max_events } => {
            run(&scenario, seed, &out, json, RunOptions { trace, max_events }, check_determinism)
        }
        Command::Replay { report } => replay(&report),
        Command::Validate { scenarios } => validate(&scenarios),
        Command::List => list(),
        Command::Sweep(args) => sweep::sweep(args),
        Command::Shrink { scenario, seed, out, max_runs } => {
            shrink::shrink(&scenario, seed, out.as_deref(), max_runs)
        }
        Command::Bisect { scenario, seed, window } => bisect::bisect(&scenario, seed, window),
        Command::Merge { files, junit, json } => sweep::merge(&files, junit.as_deref(), json),
        Command::SweepWorker { scenarios, max_events, reports } => {
            sweep::worker(&scenarios, max_events, reports.as_deref())
        }
        Command::CheckHistory { files, model, init, format, budget, max_states, json } => {
            check_history(&files, &model, init.as_deref(), format.as_deref(), &budget, max_states, json)
        }
    }
}

fn check_history(
    files: &[PathBuf],
    model: &str,
    init: Option<&str>,
    format: Option<&str>,
    budget: &str,
    max_states: usize,
    json: bool,
) -> ExitCode {
    use sim::check::import::{self, Format};
    use sim::check::{check_named, Budget, ModelName, Verdict};
    let Some(model) = ModelName::parse(model) else {
        let known: Vec<&str> = ModelName::ALL.iter().map(|m| m.name()).collect();
        return bad_input(&format!("unknown model {model:?}; expected one of: {}", known.join(", ")));
    };
    let init = match init.map(import::parse_value).transpose() {
        Ok(init) => init.unwrap_or(sim::kernel::history::Value::Nil),
        Err(error) => return bad_input(&format!("--init: {error}")),
    };
    let forced = match format.map(|f| Format::parse(f).ok_or(f)).transpose() {
        Ok(forced) => forced,
        Err(name) => {
            return bad_input(&format!(
                "unknown format {name:?}; expected jsonl, jepsen-log, edn or edn-lines"
            ))
        }
    };
    let limit = match scenario::duration::parse(budget) {
        Ok(limit) => limit,
        Err(error) => return bad_input(&format!("--budget: {error}")),
    };
    let (mut bad, mut refuted, mut unknown) = (false, false, false);
    for path in files {
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                bad = true;
                eprintln!("error: {file}: cannot read: {error}");
                continue;
            }
        };
        let Some(format) = forced.or_else(|| Format::detect(&text)) else {
            bad = true;
            eprintln!("error: {file}: cannot tell the format; give --format");
            continue;
        };
        let ops = match import::import(&text, format) {
            Ok(ops) => ops,
            Err(error) => {
                bad = true;
                match error.line {
                    Some(line) => eprintln!("error: {file}:{line}: {}", error.message),
                    None => eprintln!("error: {file}: {}", error.message),
                }
                continue;
            }
        };
        let started = std::time::Instant::now();
        let past_deadline = || started.elapsed() >= limit;
        let budget =
            Budget { max_steps: None, max_states: Some(max_states), should_stop: Some(&past_deadline) };
        let outcome = match check_named(model, &init, format.nil_reads_match_anything(), &ops, &budget) {
            Ok(outcome) => outcome,
            Err(error) => {
                bad = true;
                eprintln!("error: {file}: {error}");
                continue;
            }
        };
        let check_ms = started.elapsed().as_secs_f64() * 1e3;
        let (verdict, detail) = match &outcome.verdict {
            Verdict::Linearizable => ("linearizable", None),
            Verdict::NotLinearizable(witness) => {
                refuted = true;
                ("not-linearizable", Some(witness.to_string()))
            }
            Verdict::Unknown(reason) => {
                unknown = true;
                ("unknown", Some(reason.clone()))
            }
        };
        if json {
            let mut object = serde_json::json!({
                "file": file,
                "verdict": verdict,
                "ops": ops.len(),
                "check_ms": check_ms,
                "model": model.name(),
                "format": format.name(),
                "partitions": outcome.partitions,
                "steps": outcome.steps,
                "states": outcome.states,
            });
            match &outcome.verdict {
                Verdict::NotLinearizable(witness) => {
                    object["witness"] = serde_json::json!({
                        "prefix": witness.prefix.iter().map(|op| op.to_string()).collect::<Vec<_>>(),
                        "stuck": witness.stuck.to_string(),
                        "concurrent": witness.concurrent.iter().map(|op| op.to_string()).collect::<Vec<_>>(),
                    });
                }
                Verdict::Unknown(reason) => object["reason"] = reason.as_str().into(),
                Verdict::Linearizable => {}
            }
            println!("{object}");
        } else {
            println!(
                "{file}: {verdict} ({} operations, {} partitions, {} search steps, {check_ms:.1} ms, {} model, {} format)",
                ops.len(),
                outcome.partitions,
                outcome.steps,
                model.name(),
                format.name()
            );
            if let Some(detail) = detail {
                println!("{}", detail.trim_end());
            }
        }
    }
    if bad {
        ExitCode::from(BAD_INPUT)
    } else if refuted {
        ExitCode::from(FAILED)
    } else if unknown {
        ExitCode::from(INCONCLUSIVE)
    } else {
        ExitCode::SUCCESS
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
    let folder = match report.write(out) {
        Ok(folder) => folder,
        Err(error) => return bad_input(&format!("cannot write the report under {}: {error}", out.display())),
    };
    if json {
        println!("{}", report.summary_json());
    } else {
        print_report(&report, &folder, check_determinism);
    }
    verdict_status(&report.summary)
}

fn verdict_status(summary: &Summary) -> ExitCode {
    if summary.checks.values().any(|v| *v == Verdict::Fail) {
        ExitCode::from(FAILED)
    } else if summary.checks.values().any(|v| *v == Verdict::Unknown) {
        ExitCode::from(INCONCLUSIVE)
    } else {
        ExitCode::SUCCESS
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
    let report = match registry::run(&label, &text, seed, &RunOptions::default()) {
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

fn list() -> ExitCode {
    for system in registry::systems() {
        println!("system {}: {}", system.name, system.about);
        let operations: Vec<&str> = system.operations.iter().map(|op| op.name).collect();
        println!("  operations: {}", operations.join(", "));
        let roles = if system.roles.is_empty() { "none".to_owned() } else { system.roles.join(", ") };
        println!("  roles (fault targets): {roles}");
        println!("  [settings] defaults:");
        for line in (system.default_settings)().lines() {
            println!("    {line}");
        }
    }
    println!("\nfault kinds ([[faults]] entries; targets: a server index, \"random\", a role, or {{ fault = N }}):");
    for kind in FaultKind::ALL {
        let follow_up = kind.follow_up().map(|(after, _)| format!("; {after}")).unwrap_or_default();
        println!("  {:<10} {}{follow_up}", kind.name(), scenario::syntax(kind));
    }
    println!("  [swarm]    crash, partition, pause, clock, loss, disk: random faults at a rate, e.g. crash = {{ rate = \"1/10s\", down = \"1s..5s\" }}");
    println!("\nscenarios:");
    for path in scenario::find_files(Path::new("scenarios")) {
        let checked = scenario::read(&path).and_then(|(file, text)| registry::validate(&file, &text));
        match checked {
            Ok(brief) => println!("  {}  ({}, {} servers)", path.display(), brief.system, brief.nodes),
            Err(error) => println!("  {}  INVALID: {error}", path.display()),
        }
    }
    ExitCode::SUCCESS
}

fn print_report(report: &RunReport, folder: &Path, determinism_checked: bool) {
    let summary = &report.summary;
    let network = &summary.network;
    println!(
        "{} ({}) seed {}: {:.3}s simulated, {} events, {} messages sent, {} delivered, {} dropped, {} duplicated",
        summary.scenario,
        summary.system,
        summary.seed,
        summary.sim_time_ns as f64 / 1e9,
        summary.events,
        network.sent,
        network.delivered,
        network.dropped,
        network.duplicated
    );
    if !summary.ops.is_empty() {
        let mut ops = Builder::default();
        ops.push_record([
            "operation",
            "ok",
            "fail",
            "info",
            "pending",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
        ]);
        for (op, counts) in &summary.ops {
            let latency = summary.latency.get(op);
            let ms = |pick: fn(&sim::report::LatencyStats) -> f64| {
                latency.map_or("-".to_owned(), |l| format!("{:.2}", pick(l)))
            };
            ops.push_record([
                op.clone(),
                counts.ok.to_string(),
                counts.fail.to_string(),
                counts.info.to_string(),
                counts.pending.to_string(),
                ms(|l| l.p50),
                ms(|l| l.p90),
                ms(|l| l.p99),
                ms(|l| l.max),
            ]);
            for (phase, stats) in summary.latency_by_phase.get(op).into_iter().flatten() {
                ops.push_record([
                    format!("  {} faults", phase.name()),
                    stats.count.to_string(),
                    String::new(),
                    String::new(),
                    String::new(),
                    format!("{:.2}", stats.p50),
                    format!("{:.2}", stats.p90),
                    format!("{:.2}", stats.p99),
                    format!("{:.2}", stats.max),
                ]);
            }
        }
        println!("{}", ops.build().with(Style::rounded()));
    }
    for table in &summary.tables {
        let mut builder = Builder::default();
        builder.push_record(table.columns.iter().cloned());
        for row in &table.rows {
            builder.push_record(row.iter().map(ToString::to_string));
        }
        println!("{}\n{}", table.title, builder.build().with(Style::rounded()));
    }
    if !summary.faults.is_empty() {
        let applied = summary.faults.iter().filter(|f| f.outcome == "applied").count();
        println!("faults: {applied} applied, {} skipped", summary.faults.len() - applied);
        const SHOWN: usize = 12;
        for fault in summary.faults.iter().take(SHOWN) {
            println!(
                "  {:>10.3}s  {}{}",
                fault.at_ns as f64 / 1e9,
                fault.fault,
                if fault.outcome == "applied" { String::new() } else { format!("  ({})", fault.outcome) }
            );
        }
        if summary.faults.len() > SHOWN {
            println!("  ... {} more in faults.toml", summary.faults.len() - SHOWN);
        }
    }
    let mut checks = Builder::default();
    checks.push_record(["check", "verdict", "why"]);
    for (name, verdict) in &summary.checks {
        let reason = summary.reasons.get(name).cloned().unwrap_or_default();
        checks.push_record([name.clone(), verdict.name().to_uppercase(), reason]);
    }
    println!("{}", checks.build().with(Style::rounded()));
    let hash_note = if determinism_checked { " (the same in a second run)" } else { "" };
    println!(
        "{}: trace hash {}{hash_note}",
        if summary.passed { "PASSED" } else { "FAILED" },
        summary.trace_hash
    );
    println!("report: {}", folder.display());
    println!("reproduce: {}", summary.reproduce);
}
