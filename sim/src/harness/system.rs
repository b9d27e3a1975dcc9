//! What a system provides so that scenarios can run it.
//!
//! A system is a set of server nodes, client nodes if it takes operations, other nodes if it
//! needs them, and what it knows about itself: its settings, the operations its clients
//! accept, the roles its nodes report, the faults it brings, its consistency model and the
//! invariants it checks at the end of a run. The kernel does the rest (network, faults,
//! workload, checks, reports) from the scenario.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::check::{self, Budget, CheckOp, ModelName, Outcome};
pub use crate::judge::{Check, Verdict};
use crate::kernel::engine::Sim;
use crate::kernel::fault::Fault;
use crate::kernel::history::Value;
use crate::kernel::ids::{Message, Names, NodeId};
use crate::kernel::network::NetworkModel;
use crate::kernel::node::Node;
use crate::kernel::rng::Seed;
use crate::kernel::time::Time;
use crate::kernel::wire::Wire;
use crate::kernel::workload::{OpRecord, OperationSpec};
use crate::report::Table;
use crate::scenario::{locate, Place, Scenario, ScenarioError, SystemRules};

/// What a system's client history is checked against: on every run that has a workload
/// unless the scenario says `[checks] linearizable = false` when the system `promised` it,
/// else only when the scenario says `linearizable = true` (a store that is not linearizable
/// on purpose, checked to show where it is not).
///
/// The kernel's checker takes any [`Model`](crate::check::Model): a system with a model of
/// its own passes a `judge` that calls [`check::check`](crate::check::check) with it.
#[derive(Clone, Copy)]
pub struct Consistency {
    /// The check's name in the summary (`linearizable`).
    pub name: &'static str,
    /// Judges the history within the budget.
    pub judge: fn(&[CheckOp], &Budget<'_>) -> Result<Outcome, String>,
    /// Whether the system promises it (checked by default) or not (checked when asked).
    pub promised: bool,
}

impl Consistency {
    /// Linearizable against `KeyValue`, every key starting absent.
    pub const KEY_VALUE: Consistency = Consistency {
        name: "linearizable",
        judge: |ops, budget| check::check_named(ModelName::KeyValue, &Value::Nil, false, ops, budget),
        promised: true,
    };
    /// Linearizable against a read/write register starting at nil.
    pub const REGISTER: Consistency = Consistency {
        name: "linearizable",
        judge: |ops, budget| check::check_named(ModelName::Register, &Value::Nil, false, ops, budget),
        promised: true,
    };
}

/// Which of a system's nodes a factory is asked for: node ids are the servers `0..nodes`,
/// then the workload's clients, then the system's other nodes (measurement servers, an
/// indexer), each numbered from 0 within its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Server `i` (node id `i`).
    Server(u32),
    /// Workload client `i`. Only systems with operations are asked for clients.
    Client(u32),
    /// The system's other node `i` (of [`System::other_nodes`]).
    Other(u32),
}

/// A class of bug that real deployments of a system shipped, which its scenarios must
/// reach (docs/BUG-FINDING.md): the situation the bug needs, stated with `Ctx::sometimes`
/// under `name` where it arises, and the shipped scenario that reaches it
/// (protocols/tests/bug_classes.rs runs each until it does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BugClass {
    /// The `sometimes` name, `class: <the situation>`.
    pub name: &'static str,
    /// A scenario that reaches it, from the repository root.
    pub reached_by: &'static str,
}

/// A system scenarios can name.
///
/// The kernel calls [`setup`](System::setup) once per run, keeps the value, and hands it to
/// every later hook and to every node's factory: a layout computed there (a population of
/// keys, a roster) is computed once, and a factory is a function, not a closure each
/// system clones its settings into. `docs/adding-a-system.md` walks through one.
pub trait System: 'static {
    /// The wire type of its nodes; `Wire` (serde) for the backends whose networks carry
    /// bytes.
    type Msg: Message + Wire;
    /// Its `[settings]` table.
    type Settings: DeserializeOwned + Serialize + Default + Clone + Debug;
    /// What it builds once per run from the scenario and the seed, shared by every hook.
    type Setup: 'static;

    /// The name scenarios use in `system = "..."`.
    const NAME: &'static str;
    /// One line on what it is.
    const ABOUT: &'static str;
    /// The operations its clients accept, with the default mix. A system with none has no
    /// clients, and a scenario of it may not have a `[workload]`.
    const OPERATIONS: &'static [OperationSpec] = &[];
    /// The roles its nodes report with `Ctx::set_role`, usable as fault targets: the
    /// `NAMES` of its roles enum ([`names!`](crate::names)).
    const ROLES: &'static [&'static str] = &[];
    /// What its client history is checked against by default, if anything.
    const CONSISTENCY: Option<Consistency> = None;
    /// Name prefixes of the files its servers hold as copies of each other, block for block
    /// (same name, same bytes at the same offsets): per-I/O disk damage to them keeps an
    /// intact copy of every block on some server (see `kernel::damage`). Default: none.
    const REPLICATED_FILES: &'static [&'static str] = &[];
    /// The bug classes its scenarios must reach (docs/BUG-FINDING.md). Every run's coverage
    /// ledger lists each one, reached or not, so a sweep shows the classes it never reached.
    /// Default: none.
    const BUG_CLASSES: &'static [BugClass] = &[];

    /// The rules across its settings (and the rest of the scenario): `(settings key,
    /// message)` on failure, or `(section.key, message)` for a key of another section
    /// (`workload.mix`).
    fn validate(scenario: &Scenario<Self::Settings>) -> Result<(), (&'static str, String)>;

    /// The value every later hook shares, drawn from `seed`'s streams if it needs any.
    fn setup(scenario: &Scenario<Self::Settings>, seed: Seed) -> Self::Setup;

    /// How many nodes it adds after the servers and clients. Default: none.
    fn other_nodes(_setup: &Self::Setup) -> u32 {
        0
    }

    /// A fresh value of the node in `slot`, with id `id`: at the start and at every restart.
    fn node(setup: &Self::Setup, slot: Slot, id: NodeId) -> Box<dyn Node<Msg = Self::Msg>>;

    /// Shapes the network before the scenario's own overrides apply (regions as network
    /// classes, their latencies). Default: nothing.
    fn network(_scenario: &Scenario<Self::Settings>, _setup: &Self::Setup, _network: &mut NetworkModel) {}

    /// The faults the system itself brings (churn), by time. They join the scenario's in one
    /// plan, so every fault has one index and `{ fault = N }` and `restart_after` point at
    /// the right one. Default: none.
    fn faults(_scenario: &Scenario<Self::Settings>, _setup: &Self::Setup) -> Vec<(Time, Fault)> {
        Vec::new()
    }

    /// The system's own invariants, checked at the end of the run.
    fn check(scenario: &Scenario<Self::Settings>, setup: &Self::Setup, sim: &Sim<Self::Msg>) -> Vec<Check>;

    /// A class an operation's latency is also reported under (a size class): besides
    /// `<op>`'s, it goes into the histogram `<op>.<class>` (its own `.hgrm` file, a row in
    /// the terminal, an entry in `summary.json`). Default: none.
    fn latency_class(_setup: &Self::Setup, _record: &OpRecord) -> Option<String> {
        None
    }

    /// The system's own result tables (a fleet comparison, a hop-count distribution), for the
    /// terminal and `summary.json`. Default: none.
    fn tables(
        _scenario: &Scenario<Self::Settings>,
        _setup: &Self::Setup,
        _sim: &Sim<Self::Msg>,
    ) -> Vec<Table> {
        Vec::new()
    }
}

/// The names of system `Y`'s message kinds (its `Msg::Kind`).
pub fn message_kinds<Y: System>() -> &'static [&'static str] {
    <<Y::Msg as Message>::Kind as Names>::NAMES
}

/// Parses and validates a scenario for system `Y`: the kernel's rules, then the system's.
pub fn parse<Y: System>(file: &str, text: &str) -> Result<Scenario<Y::Settings>, ScenarioError> {
    let rules = SystemRules {
        operations: Y::OPERATIONS,
        roles: Y::ROLES,
        message_kinds: message_kinds::<Y>(),
        has_model: Y::CONSISTENCY.is_some(),
        model_by_default: Y::CONSISTENCY.is_some_and(|c| c.promised),
    };
    let scenario = Scenario::<Y::Settings>::parse(file, text, &rules)?;
    Y::validate(&scenario).map_err(|(key, message)| {
        let place = match key.split_once('.') {
            Some((section, key)) => Place::key(section, key),
            None => Place::key("settings", key),
        };
        locate(file, text, &place, message)
    })?;
    for (name, settings) in &scenario.versions {
        Y::validate(&scenario.with_settings(settings.clone())).map_err(|(key, message)| {
            let place = text.find(&format!("[versions.{name}]")).unwrap_or(0);
            ScenarioError::at(file, text, place, format!("version {name}: {key}: {message}"))
        })?;
    }
    Ok(scenario)
}
