//! The systems by name: how the CLI (and any tool) runs a scenario file.
//!
//! A scenario names its system; the registry reads the file once untyped to learn which,
//! then again with that system's typed `[settings]`, so a typo in a setting is reported at
//! its line and column like any other error.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use sim::determinism::{self, Divergence};
use sim::scenario::{Scenario, ScenarioError, UntypedScenario};
use sim::{Limits, NetworkStats};

use crate::pingpong;

/// A system the registry can run.
#[derive(Clone, Debug, Serialize)]
pub struct SystemInfo {
    /// The name scenarios use in `system = "..."`.
    pub name: &'static str,
    /// One line on what it is.
    pub about: &'static str,
    /// Its `[settings]` with their defaults, as TOML.
    pub default_settings: String,
}

/// Every registered system.
pub fn systems() -> Vec<SystemInfo> {
    vec![SystemInfo {
        name: "pingpong",
        about: "kernel reference workload: every node keeps `window` requests outstanding to random peers",
        default_settings: toml::to_string(&pingpong::Config::default()).expect("settings serialize"),
    }]
}

/// What one run produced.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// The scenario's name.
    pub scenario: String,
    /// The system it ran.
    pub system: String,
    /// The file it came from.
    pub file: String,
    /// The root seed.
    pub seed: u64,
    /// The trace hash, 16 hex digits.
    pub trace_hash: String,
    /// Events run.
    pub events: u64,
    /// Simulated time at the end, in nanoseconds.
    pub sim_time_ns: u64,
    /// Message counts.
    pub network: NetworkStats,
    /// The system's counters.
    pub counters: BTreeMap<String, u64>,
    /// The version of simctl that ran it.
    pub simctl_version: &'static str,
}

/// Reads, parses and validates a scenario file for its system, without running it.
pub fn validate(path: &Path) -> Result<UntypedScenario, ScenarioError> {
    let (file, text) = read(path)?;
    let scenario = UntypedScenario::parse(&file, &text)?;
    match scenario.system.as_str() {
        "pingpong" => {
            let typed = Scenario::<pingpong::Config>::parse(&file, &text)?;
            typed.settings.validate().map_err(|message| ScenarioError::file(&file, message))?;
        }
        other => return Err(unknown_system(&file, &text, other)),
    }
    Ok(scenario)
}

/// Runs a scenario file with a seed.
pub fn run(path: &Path, seed: u64) -> Result<RunSummary, ScenarioError> {
    let (file, text) = read(path)?;
    let scenario = validate(path)?;
    let mut summary = match scenario.system.as_str() {
        "pingpong" => {
            let scenario = Scenario::<pingpong::Config>::parse(&file, &text)?;
            let mut sim = pingpong::from_scenario(&scenario, seed);
            sim.run(Limits::duration(scenario.duration));
            RunSummary {
                scenario: scenario.name,
                system: scenario.system,
                file: String::new(),
                seed,
                trace_hash: format!("{:016x}", sim.trace_hash()),
                events: sim.events(),
                sim_time_ns: sim.now().as_nanos(),
                network: sim.network_stats(),
                counters: sim.observations().counters.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
                simctl_version: env!("CARGO_PKG_VERSION"),
            }
        }
        other => return Err(unknown_system(&file, &text, other)),
    };
    summary.file = file;
    Ok(summary)
}

/// Runs a scenario twice in lock step and reports the first event that differs.
pub fn check_determinism(path: &Path, seed: u64) -> Result<Result<(), Box<Divergence>>, ScenarioError> {
    let (file, text) = read(path)?;
    let scenario = validate(path)?;
    match scenario.system.as_str() {
        "pingpong" => {
            let scenario = Scenario::<pingpong::Config>::parse(&file, &text)?;
            let limits = Limits::duration(scenario.duration);
            Ok(determinism::check_determinism(|| pingpong::from_scenario(&scenario, seed), limits)
                .map(|_| ()))
        }
        other => Err(unknown_system(&file, &text, other)),
    }
}

fn read(path: &Path) -> Result<(String, String), ScenarioError> {
    let file = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| ScenarioError::file(&file, format!("cannot read: {e}")))?;
    Ok((file, text))
}

/// An unknown `system`, located at its value.
fn unknown_system(file: &str, text: &str, name: &str) -> ScenarioError {
    #[derive(serde::Deserialize)]
    struct SystemKey {
        system: toml::Spanned<String>,
    }
    let known: Vec<&str> = systems().iter().map(|s| s.name).collect();
    let message = format!("unknown system {name:?}; expected one of: {}", known.join(", "));
    match toml::from_str::<SystemKey>(text) {
        Ok(key) => ScenarioError::at(file, text, key.system.span().start, message),
        Err(_) => ScenarioError::file(file, message),
    }
}
