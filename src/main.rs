//! simctl: the command line. Argument parsing and printing only; the work is in `sim` and
//! `protocols`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use protocols::registry::{self, RunSummary};
use tabled::builder::Builder;
use tabled::settings::Style;

/// Exit statuses scripts and `git bisect run` can rely on (DESIGN.md).
const BAD_INPUT: u8 = 2;
const NONDETERMINISM: u8 = 3;

#[derive(Parser)]
#[command(name = "simctl", version, about = "Deterministic simulation testbed for distributed protocols")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario with a seed and print what happened.
    Run {
        /// The scenario file.
        scenario: PathBuf,
        /// The root seed: the same seed gives the same run, event for event.
        #[arg(long)]
        seed: u64,
        /// Print the summary as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Run twice in lock step and report the first event that differs (exit status 3).
        #[arg(long)]
        check_determinism: bool,
    },
    /// Check scenario files without running them.
    Validate {
        /// The scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Show the systems and their settings with defaults.
    List,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run { scenario, seed, json, check_determinism } => {
            if check_determinism {
                match registry::check_determinism(&scenario, seed) {
                    Err(error) => return bad_input(&error),
                    Ok(Err(divergence)) => {
                        eprint!("nondeterminism: {divergence}");
                        eprintln!(
                            "reproduce: simctl run {} --seed {seed} --check-determinism",
                            scenario.display()
                        );
                        return ExitCode::from(NONDETERMINISM);
                    }
                    Ok(Ok(())) => {}
                }
            }
            match registry::run(&scenario, seed) {
                Err(error) => bad_input(&error),
                Ok(summary) if json => {
                    println!("{}", serde_json::to_string_pretty(&summary).expect("summary serializes"));
                    ExitCode::SUCCESS
                }
                Ok(summary) => {
                    print_summary(&summary, check_determinism);
                    ExitCode::SUCCESS
                }
            }
        }
        Command::Validate { scenarios } => {
            let mut status = ExitCode::SUCCESS;
            for path in scenarios {
                match registry::validate(&path) {
                    Ok(scenario) => {
                        println!("ok  {} ({}, {} nodes)", path.display(), scenario.system, scenario.nodes)
                    }
                    Err(error) => status = bad_input(&error),
                }
            }
            status
        }
        Command::List => {
            for system in registry::systems() {
                println!("{}: {}\n  [settings] defaults:", system.name, system.about);
                for line in system.default_settings.lines() {
                    println!("    {line}");
                }
            }
            ExitCode::SUCCESS
        }
    }
}

fn bad_input(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(BAD_INPUT)
}

fn print_summary(summary: &RunSummary, determinism_checked: bool) {
    let network = &summary.network;
    let counters: Vec<String> =
        summary.counters.iter().map(|(name, value)| format!("{name} {value}")).collect();
    let mut table = Builder::default();
    table.push_record(["scenario", &format!("{} ({})", summary.scenario, summary.system)]);
    table.push_record(["seed", &summary.seed.to_string()]);
    table.push_record([
        "simulated",
        &format!("{:.3}s, {} events", summary.sim_time_ns as f64 / 1e9, summary.events),
    ]);
    table.push_record([
        "messages",
        &format!("{} sent, {} delivered, {} duplicated", network.sent, network.delivered, network.duplicated),
    ]);
    table.push_record([
        "dropped",
        &format!(
            "{} (loss {}, partition {}, receiver down {})",
            network.dropped(),
            network.dropped_loss,
            network.dropped_partition,
            network.dropped_crashed
        ),
    ]);
    table.push_record(["counters", &counters.join(", ")]);
    let hash_note = if determinism_checked { " (same in a second run)" } else { "" };
    table.push_record(["trace hash", &format!("{}{hash_note}", summary.trace_hash)]);
    println!("{}", table.build().with(Style::rounded()));
    println!("reproduce: simctl run {} --seed {}", summary.file, summary.seed);
}
