//! The systems by name: how the CLI (and any tool) runs a scenario file.
//!
//! A [`Registry`] is a list of systems, each registered once from its `System` impl
//! ([`register`], or the [`systems!`](crate::systems) macro for a list). A scenario names
//! its system; the registry reads just the `system` key to find it, then parses the whole
//! file for that system, so a typo in a setting is reported at its line and column like any
//! other error. The shipped systems are `protocols::systems()`; a crate of its own builds
//! its registry with `systems![MySystem]`, or adds to the shipped one with
//! [`Registry::with`], and hands it to `simctl::main` for the whole command line.

use serde::Deserialize;

use super::determinism::{self, Agreement, Divergence};
use super::run::{self, RunOptions};
use super::system::{self, BugClass, System};
use crate::kernel::workload::OperationSpec;
use crate::report::RunReport;
use crate::scenario::{Scenario, ScenarioError, SystemRules, UntypedScenario};
use crate::Limits;

/// A system the registry can run: what `simctl list` prints of it, and how to load its
/// scenarios.
pub struct Registered {
    /// The name scenarios use in `system = "..."`.
    pub name: &'static str,
    /// One line on what it is.
    pub about: &'static str,
    /// The operations its clients accept, with the default mix.
    pub operations: &'static [OperationSpec],
    /// The roles its nodes report (fault targets).
    pub roles: &'static [&'static str],
    /// Its message kinds, whose latencies `[network] kinds` may set.
    pub message_kinds: &'static [&'static str],
    /// The files its servers hold as copies of each other (per-I/O damage keeps one intact).
    pub replicated_files: &'static [&'static str],
    /// The bug classes its scenarios must reach (`sometimes` names; docs/BUG-FINDING.md).
    pub bug_classes: &'static [BugClass],
    /// Its `[settings]` with their defaults, as TOML.
    pub default_settings: fn() -> String,
    load: fn(&str, &str) -> Load,
}

/// A scenario loaded for its system, or why it is not one.
pub type Load = Result<Box<dyn Loaded>, ScenarioError>;

/// How a backend maps what it has no exact equivalent for, one line each.
pub type BackendNotes = Vec<String>;

/// A lock-step double run: agreement, or the first divergence.
pub type DoubleRun = Result<Agreement, Box<Divergence>>;

/// What `validate` learned about a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Brief {
    /// Its name.
    pub name: String,
    /// Its system.
    pub system: String,
    /// Servers.
    pub nodes: u32,
    /// Clients.
    pub clients: u32,
    /// Explicit faults.
    pub faults: usize,
    /// Whether it draws random faults.
    pub swarm: bool,
}

/// A scenario parsed and validated once for its system, ready to run any seed: what the
/// registry hands back ([`Registry::load`]), its system's type erased.
pub trait Loaded {
    /// What it is, in brief.
    fn brief(&self) -> &Brief;
    /// Whether `options.backend` can run it with `seed`, without running it: the notes on
    /// what the backend maps, or what it cannot express.
    fn check_backend(&self, seed: u64, options: &RunOptions) -> Result<BackendNotes, ScenarioError>;
    /// Runs it with `seed` (an error only if `options` ask what the backend cannot do).
    fn run(&self, seed: u64, options: &RunOptions) -> Result<RunReport, ScenarioError>;
    /// Runs it twice with `seed` in lock step; the first event that differs, if one does.
    fn check_determinism(&self, seed: u64) -> DoubleRun;
}

/// A scenario of system `Y`, parsed.
struct Parsed<Y: System> {
    file: String,
    text: String,
    scenario: Scenario<Y::Settings>,
    brief: Brief,
}

impl<Y: System> Loaded for Parsed<Y> {
    fn brief(&self) -> &Brief {
        &self.brief
    }

    fn check_backend(&self, seed: u64, options: &RunOptions) -> Result<BackendNotes, ScenarioError> {
        run::check_backend::<Y>(&self.file, &self.text, &self.scenario, seed, options)
    }

    fn run(&self, seed: u64, options: &RunOptions) -> Result<RunReport, ScenarioError> {
        run::run::<Y>(&self.file, &self.text, &self.scenario, seed, options)
    }

    fn check_determinism(&self, seed: u64) -> DoubleRun {
        let limits = Limits::duration(self.scenario.duration);
        determinism::check_determinism(|| run::build::<Y>(&self.scenario, seed), limits)
    }
}

/// The registration of system `Y`, from its `System` impl.
pub fn register<Y: System>() -> Registered {
    Registered {
        name: Y::NAME,
        about: Y::ABOUT,
        operations: Y::OPERATIONS,
        roles: Y::ROLES,
        message_kinds: system::message_kinds::<Y>(),
        replicated_files: Y::REPLICATED_FILES,
        bug_classes: Y::BUG_CLASSES,
        default_settings: || toml::to_string(&Y::Settings::default()).expect("settings serialize"),
        load: |file, text| {
            let scenario = system::parse::<Y>(file, text)?;
            let brief = Brief {
                name: scenario.name.clone(),
                system: scenario.system.clone(),
                nodes: scenario.nodes,
                clients: scenario.workload.as_ref().map_or(0, |w| w.clients),
                faults: scenario.faults.len(),
                swarm: scenario.swarm.is_some(),
            };
            Ok(Box::new(Parsed::<Y> { file: file.to_owned(), text: text.to_owned(), scenario, brief }))
        },
    }
}

/// A list of systems scenarios can name, in `simctl list` order.
pub struct Registry {
    systems: Vec<Registered>,
}

/// A registry of the systems given (`module::Type` paths), in order:
/// `simctl::main(sim::systems![lease::Lease])`.
#[macro_export]
macro_rules! systems {
    ($($system:path),* $(,)?) => {
        $crate::harness::registry::Registry::new(vec![$($crate::harness::registry::register::<$system>()),*])
    };
}

impl Registry {
    /// A registry of these systems, in this order.
    ///
    /// # Panics
    /// If two have the same name: a scenario could not say which it means.
    pub fn new(systems: Vec<Registered>) -> Registry {
        let mut registry = Registry { systems: Vec::new() };
        for system in systems {
            registry = registry.with(system);
        }
        registry
    }

    /// This registry and one more system, last.
    ///
    /// # Panics
    /// If a system of that name is already registered.
    pub fn with(mut self, system: Registered) -> Registry {
        assert!(
            self.get(system.name).is_none(),
            "two systems are named {:?}: a scenario could not say which it means",
            system.name
        );
        self.systems.push(system);
        self
    }

    /// Every system, in order.
    pub fn systems(&self) -> &[Registered] {
        &self.systems
    }

    /// The system of this name.
    pub fn get(&self, name: &str) -> Option<&Registered> {
        self.systems.iter().find(|s| s.name == name)
    }

    /// The system a scenario text names; errors point at the `system` key or the syntax error.
    fn system_of(&self, file: &str, text: &str) -> Result<&Registered, ScenarioError> {
        #[derive(Deserialize)]
        struct Head {
            system: toml::Spanned<String>,
        }
        let head = match toml::from_str::<Head>(text) {
            Ok(head) => head,
            Err(_) => {
                // Let the full parse say what is wrong, at its line and column.
                UntypedScenario::parse(file, text, &SystemRules::NONE)?;
                unreachable!("a scenario that parses has a system")
            }
        };
        let name = head.system.get_ref();
        self.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.systems.iter().map(|s| s.name).collect();
            let message = format!("unknown system {name:?}; expected one of: {}", known.join(", "));
            ScenarioError::at(file, text, head.system.span().start, message)
        })
    }

    /// Parses and validates scenario text for its system, once: the handle that runs it.
    pub fn load(&self, file: &str, text: &str) -> Load {
        (self.system_of(file, text)?.load)(file, text)
    }

    /// Parses and validates scenario text for its system, without running it.
    pub fn validate(&self, file: &str, text: &str) -> Result<Brief, ScenarioError> {
        Ok(self.load(file, text)?.brief().clone())
    }

    /// Runs scenario text with a seed.
    pub fn run(
        &self,
        file: &str,
        text: &str,
        seed: u64,
        options: &RunOptions,
    ) -> Result<RunReport, ScenarioError> {
        self.load(file, text)?.run(seed, options)
    }

    /// The first of `seeds` on which `class`'s scenario (its text) reaches the class: its
    /// `sometimes` fires. The bug-class test and the mutation score's sweep ask this.
    pub fn first_seed_reaching(
        &self,
        class: &BugClass,
        text: &str,
        seeds: std::ops::Range<u64>,
        options: &RunOptions,
    ) -> Result<Option<u64>, ScenarioError> {
        let loaded = self.load(class.reached_by, text)?;
        for seed in seeds {
            let report = loaded.run(seed, options)?;
            if report.summary.sometimes.get(class.name).copied().unwrap_or(0) > 0 {
                return Ok(Some(seed));
            }
        }
        Ok(None)
    }

    /// Whether `options.backend` can run scenario text with a seed, without running it: the
    /// notes on what it maps, or what it cannot express.
    pub fn check_backend(
        &self,
        file: &str,
        text: &str,
        seed: u64,
        options: &RunOptions,
    ) -> Result<Vec<String>, ScenarioError> {
        self.load(file, text)?.check_backend(seed, options)
    }

    /// Runs scenario text twice in lock step; reports the first event that differs.
    pub fn check_determinism(&self, file: &str, text: &str, seed: u64) -> Result<DoubleRun, ScenarioError> {
        Ok(self.load(file, text)?.check_determinism(seed))
    }
}
