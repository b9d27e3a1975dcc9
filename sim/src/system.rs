//! What a system provides so that scenarios can run it.
//!
//! A system is a set of server nodes, a client node, and what it knows about itself: its
//! settings, the operations its clients accept, the roles its nodes report, and the
//! invariants it checks at the end of a run. The kernel does the rest (network, faults,
//! workload, checks, reports) from the scenario.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::check::ModelName;
use crate::engine::Sim;
use crate::history::Value;
use crate::node::{Message, NodeId};
use crate::report::Table;
use crate::scenario::{locate, Place, Scenario, ScenarioError, SystemRules};
use crate::workload::OperationSpec;

/// A verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// It holds.
    Pass,
    /// It does not.
    Fail,
    /// It could not be decided (a budget ran out).
    Unknown,
    /// It was not checked.
    Skipped,
}

impl Verdict {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Unknown => "unknown",
            Verdict::Skipped => "skipped",
        }
    }
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Its name in the summary (`assertions`, `liveness`, `latency.get.p99`, ...).
    pub name: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, for every verdict but pass.
    pub reason: Option<String>,
}

impl Check {
    /// A passing check.
    pub fn pass(name: impl Into<String>) -> Check {
        Check { name: name.into(), verdict: Verdict::Pass, reason: None }
    }

    /// A failing check and why.
    pub fn fail(name: impl Into<String>, reason: impl Into<String>) -> Check {
        Check { name: name.into(), verdict: Verdict::Fail, reason: Some(reason.into()) }
    }

    /// Pass if `holds`, else fail with `reason()`.
    pub fn from(name: impl Into<String>, holds: bool, reason: impl FnOnce() -> String) -> Check {
        if holds {
            Check::pass(name)
        } else {
            Check::fail(name, reason())
        }
    }
}

/// A system scenarios can name.
pub trait System {
    /// The wire type of its nodes.
    type Msg: Message;
    /// Its `[settings]` table.
    type Settings: DeserializeOwned + Serialize + Default + Clone + Debug;

    /// The name scenarios use in `system = "..."`.
    const NAME: &'static str;
    /// One line on what it is.
    const ABOUT: &'static str;
    /// The operations its clients accept, with the default mix.
    const OPERATIONS: &'static [OperationSpec];
    /// The roles its nodes report with `Ctx::set_role`, usable as fault targets.
    const ROLES: &'static [&'static str];
    /// The sequential model its client history must be linearizable against, if any
    /// (`[checks] linearizable = true`), with the registers' initial value.
    const MODEL: Option<(ModelName, Value)> = None;

    /// The rules across its settings (and the rest of the scenario): `(settings key,
    /// message)` on failure.
    fn validate(scenario: &Scenario<Self::Settings>) -> Result<(), (&'static str, String)>;

    /// Adds the `scenario.nodes` servers, which must get ids `0..nodes`.
    fn add_servers(scenario: &Scenario<Self::Settings>, sim: &mut Sim<Self::Msg>);

    /// Adds one client node that sends operations to `servers`; returns its id.
    fn add_client(
        scenario: &Scenario<Self::Settings>,
        servers: &[NodeId],
        sim: &mut Sim<Self::Msg>,
    ) -> NodeId;

    /// Adds the nodes that are neither servers nor workload clients (measurement servers, an
    /// indexer), after the clients. Default: none.
    fn add_others(_scenario: &Scenario<Self::Settings>, _sim: &mut Sim<Self::Msg>) {}

    /// The system's own invariants, checked at the end of the run.
    fn check(scenario: &Scenario<Self::Settings>, sim: &Sim<Self::Msg>) -> Vec<Check>;

    /// The system's own result tables (a fleet comparison, a hop-count distribution), for the
    /// terminal and `summary.json`. Default: none.
    fn tables(_scenario: &Scenario<Self::Settings>, _sim: &Sim<Self::Msg>) -> Vec<Table> {
        Vec::new()
    }
}

/// Parses and validates a scenario for system `Y`: the kernel's rules, then the system's.
pub fn parse<Y: System>(file: &str, text: &str) -> Result<Scenario<Y::Settings>, ScenarioError> {
    let rules = SystemRules { operations: Y::OPERATIONS, roles: Y::ROLES, has_model: Y::MODEL.is_some() };
    let scenario = Scenario::<Y::Settings>::parse(file, text, &rules)?;
    Y::validate(&scenario)
        .map_err(|(key, message)| locate(file, text, &Place::key("settings", key), message))?;
    Ok(scenario)
}
