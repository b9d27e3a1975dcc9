//! Scenario files: the schema, its validation, and what the kernel makes of it.
//!
//! A scenario is TOML. The kernel reads the cluster, the duration, the network and disk
//! models, the workload, the faults, the swarm and the checks; the system named by `system`
//! reads its own `[settings]` table into its own typed config. Every table is parsed with
//! `deny_unknown_fields`, and every error, from the TOML syntax to a rule across fields,
//! names the file, line and column and says what was expected.
//!
//! ```toml
//! name = "partition"
//! system = "pingpong"
//! nodes = 5
//! duration = "30s"
//!
//! [settings]                # the system's own settings
//! window = 1
//!
//! [network]
//! latency = { dist = "uniform", min = "1ms", max = "10ms" }
//!
//! [workload]
//! clients = 2
//! rate = "100/s"            # open loop; or concurrency = 8 (closed loop)
//!
//! [[faults]]
//! at = "5s"
//! partition = "majority-minority"
//! heal_after = "5s"
//!
//! [checks]
//! liveness = { heal_by = "15s", within = "5s" }
//! ```
//!
//! Why `[settings]` and not `[system]`: TOML forbids a key that is both a string
//! (`system = "raft-kv"`) and a table (`[system]`); see docs/design-notes.md.

mod buggify;
mod checks;
mod document;
mod faults;
mod network;
mod plan;
mod realized;
mod shapes;
mod swarm;
pub mod text;
mod workload;

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

pub use buggify::BuggifySpec;
pub use checks::{ChecksSpec, LatencyBound, LivenessSpec, Phase};
pub use document::{Count, Document};
pub use faults::{syntax, FaultAction, FaultSpec, WrittenFault};
pub use network::{latency_toml, LatencySpec, LinkChange, LinkOverride, NetworkSpec, NodeOverride, Nodes};
pub use plan::{plan, PlanContext, Planned};
pub use realized::{realized, realized_toml};
pub use shapes::{NodeRef, PartitionSpec, Shape, TargetSpec};
pub use swarm::{
    SwarmClock, SwarmClog, SwarmCrash, SwarmDisk, SwarmDraw, SwarmDrift, SwarmLoss, SwarmPartition,
    SwarmReplay, SwarmSlow, SwarmSpan, SwarmSpec, SwarmStrobe, MAX_SWARM_FAULTS, SWARM_KINDS,
};
pub use text::{duration, line_column, Bytes, DurationRange, IntRange, Rate, RateRange, SignedRange};
pub use workload::{KeyDistribution, WorkloadSpec};

use crate::kernel::disk::{CrashKeeps, DiskConfig};
use crate::kernel::rng::Probability;
use crate::kernel::workload::OperationSpec;

/// The most nodes a scenario may ask for.
pub const MAX_NODES: u32 = 1_000_000;

/// The name of the version a server starts with: the scenario's `[settings]`.
pub const BASE_VERSION: &str = "base";

/// A scenario file, with the system's settings parsed as `S`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, bound = "S: DeserializeOwned")]
pub struct Scenario<S> {
    /// A short name; reports are written under it.
    pub name: String,
    /// The system to run (`simctl list` shows them).
    pub system: String,
    /// Number of server nodes (1 to 1,000,000).
    pub nodes: u32,
    /// Simulated time to run.
    #[serde(with = "duration")]
    pub duration: Duration,
    /// The system's own settings. Default: the system's defaults.
    #[serde(default = "empty_table")]
    pub settings: S,
    /// The network model. Default: lossless, constant 1 ms.
    #[serde(default)]
    pub network: NetworkSpec,
    /// Every server's disk. Default: no latency, no limit, no torn writes.
    #[serde(default)]
    pub disk: DiskSpec,
    /// The client workload. Default: none.
    #[serde(default)]
    pub workload: Option<WorkloadSpec>,
    /// Other versions of the servers' software, by name, each the settings that differ
    /// from `[settings]` (`[versions.v2]`); a `version` fault says when a server restarts
    /// into one. Read by `parse` into `versions`.
    #[serde(default, rename = "versions")]
    written_versions: BTreeMap<String, toml::Table>,
    /// The versions: name and settings, in name order (version `i + 1`; 0 is `"base"`).
    #[serde(skip)]
    pub versions: Vec<(String, S)>,
    /// Explicit faults, `[[faults]]`, each parsed into what it does (by `parse`).
    #[serde(skip)]
    pub faults: Vec<FaultSpec>,
    /// The `[[faults]]` tables as read; `parse` turns them into `faults` and empties this.
    #[serde(default, rename = "faults")]
    written_faults: Vec<WrittenFault>,
    /// Random faults drawn per seed.
    #[serde(default)]
    pub swarm: Option<SwarmSpec>,
    /// What the run must satisfy.
    #[serde(default)]
    pub checks: ChecksSpec,
    /// Every server's clock at the start, drawn per server. Default: true time.
    #[serde(default)]
    pub clocks: ClocksSpec,
    /// Fault points in protocol code. Default: off (every point false).
    #[serde(default)]
    pub buggify: Option<BuggifySpec>,
    /// How the turmoil backend runs it (`--backend turmoil`). Default: 1 ms ticks.
    #[serde(default)]
    pub turmoil: TurmoilSpec,
}

/// The `[turmoil]` table: turmoil's step (its tick). The simulated duration is the
/// scenario's `duration`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurmoilSpec {
    /// How far each turmoil step moves time: every host runs that long per step, and
    /// messages are delivered and faults applied at step boundaries. Default: 1 ms.
    #[serde(with = "duration")]
    pub tick: Duration,
}

impl Default for TurmoilSpec {
    fn default() -> TurmoilSpec {
        TurmoilSpec { tick: Duration::from_millis(1) }
    }
}

fn empty_table<S: DeserializeOwned>() -> S {
    S::deserialize(toml::Value::Table(toml::Table::new())).expect("settings have defaults for every field")
}

/// A scenario whose settings are not read yet: enough to know which system to ask.
pub type UntypedScenario = Scenario<toml::Table>;

/// The `[clocks]` table: each server's clock starts `offset` off true time and runs
/// `drift_ppm` fast (negative: slow), each drawn per server, uniformly in its range, from
/// the stream `("clock-init", server)`: `offset = "-50ms..50ms"`, `drift_ppm = "-100..100"`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClocksSpec {
    /// The range of starting offsets. Default: none.
    #[serde(default)]
    pub offset: Option<text::SignedRange>,
    /// The range of drifts, in parts per million (each more than -1,000,000). Default: none.
    #[serde(default)]
    pub drift_ppm: Option<text::IntRange>,
}

impl ClocksSpec {
    /// Server `index`'s starting offset (nanoseconds) and drift (ppm), drawn from `seed`.
    pub fn draw(&self, seed: crate::kernel::rng::Seed, index: u32) -> (i64, i64) {
        let mut rng = seed.stream("clock-init", u64::from(index));
        let mut within = |range: Option<text::Range<i64>>| {
            range.map_or(0, |r| r.low + rng.between(0, r.high.abs_diff(r.low)) as i64)
        };
        let offset = within(self.offset.map(|r| r.0));
        (offset, within(self.drift_ppm.map(|r| r.0)))
    }
}

/// The `[disk]` table: every server's disk.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskSpec {
    /// Time each fsync takes. Default: zero.
    #[serde(default, with = "duration::option")]
    pub fsync_latency: Option<Duration>,
    /// A crash leaves torn last writes. Default: false.
    #[serde(default)]
    pub torn_writes: bool,
    /// Bytes each disk holds (`4096`, `"10GiB"`). Default: unlimited.
    #[serde(default)]
    pub capacity: Option<Bytes>,
    /// Bytes per second each disk writes (`"200MB"`). Default: unlimited.
    #[serde(default)]
    pub write_bandwidth: Option<Bytes>,
    /// Sector size for torn writes. Default: 512.
    #[serde(default)]
    pub sector_size: Option<u64>,
    /// Damage (corruption, torn writes) at most this many servers' disks. Default: no limit.
    #[serde(default)]
    pub damage_budget: Option<usize>,
    /// What a crash keeps of unsynced writes: "nothing", "prefix" (the page cache wrote some
    /// back, in order) or "subset" (any of them). Default: nothing.
    #[serde(default)]
    pub crash_keeps: CrashKeeps,
    /// The chance an fsync fails, leaving what it covered not durable (fsyncgate).
    /// Default: 0.
    #[serde(default, deserialize_with = "network::some_probability")]
    pub fsync_errors: Option<Probability>,
    /// The chance a write fails, changing nothing. Default: 0.
    #[serde(default, deserialize_with = "network::some_probability")]
    pub write_errors: Option<Probability>,
    /// The chance a read fails (EIO), reading nothing. Default: 0.
    #[serde(default, deserialize_with = "network::some_probability")]
    pub read_errors: Option<Probability>,
    /// A file's name is durable only after its directory is synced (`sync_dir`), not by the
    /// file's fsync. Default: false.
    #[serde(default)]
    pub names_need_sync_dir: bool,
    /// The chance a write is lost silently (reports success, changes nothing), on the
    /// disks the damage budget allows. Default: 0.
    #[serde(default, deserialize_with = "network::some_probability")]
    pub lost_writes: Option<Probability>,
    /// The chance a write lands at another offset of its file, silently. Default: 0.
    #[serde(default, deserialize_with = "network::some_probability")]
    pub misdirected_writes: Option<Probability>,
    /// The chance a read returns the last synced bytes instead of the latest. Default: 0.
    #[serde(default, deserialize_with = "network::some_probability")]
    pub stale_reads: Option<Probability>,
    /// What each read and write costs, a latency distribution like `[network] latency`.
    /// Default: nothing.
    #[serde(default)]
    pub io_latency: Option<network::LatencySpec>,
    /// Space is allocated when data is written back: writes are not refused for space, an
    /// fsync is (ENOSPC), leaving what it covered not durable. Needs `capacity`. Default:
    /// false.
    #[serde(default)]
    pub delayed_allocation: bool,
}

impl DiskSpec {
    /// The kernel's disk configuration.
    pub fn config(&self) -> DiskConfig {
        let default = DiskConfig::default();
        DiskConfig {
            capacity: self.capacity.map(|b| b.0),
            write_bandwidth: self.write_bandwidth.map(|b| b.0),
            fsync_latency: self.fsync_latency.unwrap_or(default.fsync_latency),
            torn_writes: self.torn_writes,
            sector_size: self.sector_size.unwrap_or(default.sector_size),
            crash_keeps: self.crash_keeps,
            fsync_errors: self.fsync_errors.unwrap_or(Probability::NEVER),
            write_errors: self.write_errors.unwrap_or(Probability::NEVER),
            read_errors: self.read_errors.unwrap_or(Probability::NEVER),
            names_need_sync_dir: self.names_need_sync_dir,
            lost_writes: self.lost_writes.unwrap_or(Probability::NEVER),
            misdirected_writes: self.misdirected_writes.unwrap_or(Probability::NEVER),
            stale_reads: self.stale_reads.unwrap_or(Probability::NEVER),
            io_latency: self.io_latency.as_ref().map(|l| l.0.clone()),
            delayed_allocation: self.delayed_allocation,
        }
    }
}

/// What a system tells the scenario about itself, for validation.
pub struct SystemRules<'a> {
    /// The operations its clients accept.
    pub operations: &'a [OperationSpec],
    /// The roles its nodes report (fault targets such as "leader").
    pub roles: &'a [&'a str],
    /// Whether its histories can be checked for linearizability.
    pub has_model: bool,
    /// The names of its message kinds (`[network] kinds` may set their latencies).
    pub message_kinds: &'a [&'a str],
    /// Whether that check runs unless the scenario turns it off (a system that promises
    /// linearizability), or only when the scenario asks (one that does not, on purpose).
    pub model_by_default: bool,
}

impl SystemRules<'static> {
    /// The rules of a system that has nothing: what a file whose system is unknown is
    /// parsed with, to report its syntax errors at their place.
    pub const NONE: SystemRules<'static> = SystemRules {
        operations: &[],
        roles: &[],
        message_kinds: &[],
        has_model: false,
        model_by_default: false,
    };
}

/// Where and why a scenario file is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The file.
    pub file: String,
    /// 1-based line, if the error has a place.
    pub line: Option<usize>,
    /// 1-based column, if the error has a place.
    pub column: Option<usize>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "{}:{line}:{column}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl ScenarioError {
    /// An error about the whole file (unreadable).
    pub fn file(file: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError { file: file.to_owned(), line: None, column: None, message: message.into() }
    }

    /// An error at byte `offset` of the file's `text`.
    pub fn at(file: &str, text: &str, offset: usize, message: impl Into<String>) -> ScenarioError {
        let (line, column) = line_column(text, offset);
        ScenarioError {
            file: file.to_owned(),
            line: Some(line),
            column: Some(column),
            message: message.into(),
        }
    }

    fn from_toml(file: &str, text: &str, error: &toml::de::Error) -> ScenarioError {
        let message = error.message().trim_end();
        match error.span() {
            Some(span) => ScenarioError::at(file, text, span.start, message),
            None => ScenarioError::file(file, message),
        }
    }
}

/// Where a rule across fields broke: a top-level key, or a key inside a section (`index`
/// for the entries of an array of tables such as `[[faults]]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// `nodes`, `duration`, `workload`, `faults`, `swarm`, `checks`, `network`, `settings`.
    pub section: &'static str,
    /// The entry of an array of tables.
    pub index: Option<usize>,
    /// The key within the section (or entry).
    pub key: Option<&'static str>,
}

impl Place {
    /// A top-level key.
    pub fn top(section: &'static str) -> Place {
        Place { section, index: None, key: None }
    }

    /// A key in a table.
    pub fn key(section: &'static str, key: &'static str) -> Place {
        Place { section, index: None, key: Some(key) }
    }

    /// A key in entry `index` of an array of tables.
    pub fn entry(section: &'static str, index: usize, key: &'static str) -> Place {
        Place { section, index: Some(index), key: Some(key) }
    }
}

/// For a system's settings validation: the first of `fields` that is zero (a duration, a
/// size, a count), as `(settings key, "<key> must be more than zero")`.
pub fn nonzero<T: Default + PartialEq>(fields: &[(&'static str, T)]) -> Result<(), (&'static str, String)> {
    match fields.iter().find(|(_, value)| *value == T::default()) {
        Some((key, _)) => Err((key, format!("{key} must be more than zero"))),
        None => Ok(()),
    }
}

/// Every `.toml` file under `dir`, recursively, sorted (none if `dir` does not exist).
pub fn find_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Reads a file as UTF-8; invalid bytes are an error at their line and column.
pub fn read(path: &Path) -> Result<(String, String), ScenarioError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| ScenarioError::file(&file, format!("cannot read: {e}")))?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok((file, text)),
        Err(error) => {
            let valid = error.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(&error.as_bytes()[..valid]).into_owned();
            Err(ScenarioError::at(&file, &text, valid, "the file is not valid UTF-8 here"))
        }
    }
}

impl<S: DeserializeOwned> Scenario<S> {
    /// Parses and validates scenario text; `file` is only used in errors.
    pub fn parse(file: &str, text: &str, rules: &SystemRules<'_>) -> Result<Scenario<S>, ScenarioError> {
        let mut scenario: Scenario<S> =
            toml::from_str(text).map_err(|e| ScenarioError::from_toml(file, text, &e))?;
        for (index, written) in std::mem::take(&mut scenario.written_faults).into_iter().enumerate() {
            let fault = written.parse().map_err(|(key, message)| {
                locate(file, text, &Place::entry("faults", index, key), format!("fault {index}: {message}"))
            })?;
            scenario.faults.push(fault);
        }
        let base = toml::from_str::<toml::Table>(text)
            .ok()
            .and_then(|doc| doc.get("settings").and_then(toml::Value::as_table).cloned())
            .unwrap_or_default();
        for (name, changes) in std::mem::take(&mut scenario.written_versions) {
            let place =
                text.find(&format!("[versions.{name}]")).or_else(|| text.find("versions")).unwrap_or(0);
            if name == BASE_VERSION {
                return Err(ScenarioError::at(
                    file,
                    text,
                    place,
                    "\"base\" is the scenario's [settings]; name versions otherwise",
                ));
            }
            let mut settings = base.clone();
            settings.extend(changes);
            let settings = S::deserialize(toml::Value::Table(settings)).map_err(|e| {
                ScenarioError::at(file, text, place, format!("version {name}: {}", e.message().trim_end()))
            })?;
            scenario.versions.push((name, settings));
        }
        scenario.validate(rules).map_err(|(place, message)| locate(file, text, &place, message))?;
        // Checked by default: a system with a consistency model has it checked on every
        // run with a workload, unless the scenario turns it off.
        let default = rules.has_model && rules.model_by_default && scenario.workload.is_some();
        scenario.checks.linearizable = Some(scenario.checks.linearizable.unwrap_or(default));
        Ok(scenario)
    }

    /// This scenario with the servers' settings replaced (a version's).
    pub fn with_settings(&self, settings: S) -> Scenario<S>
    where
        S: Clone,
    {
        Scenario { settings, ..self.clone() }
    }

    /// Reads, parses and validates a scenario file.
    pub fn load(path: &Path, rules: &SystemRules<'_>) -> Result<Scenario<S>, ScenarioError> {
        let (file, text) = read(path)?;
        Scenario::parse(&file, &text, rules)
    }

    /// The rules across fields.
    pub fn validate(&self, rules: &SystemRules<'_>) -> Result<(), (Place, String)> {
        if !(1..=MAX_NODES).contains(&self.nodes) {
            return Err((
                Place::top("nodes"),
                format!("nodes must be between 1 and {MAX_NODES}, got {}", self.nodes),
            ));
        }
        if self.duration.is_zero() {
            return Err((Place::top("duration"), "duration must be greater than zero".into()));
        }
        if self.name.trim().is_empty() || self.name.contains(['/', '\\']) {
            return Err((
                Place::top("name"),
                format!("name must be non-empty and without slashes, got {:?}", self.name),
            ));
        }
        let missing = |nodes: Vec<u32>| nodes.into_iter().find(|n| *n >= self.nodes);
        let does_not_exist =
            |node: u32| format!("node {node} does not exist (servers are 0..{})", self.nodes);
        for (index, link) in self.network.links.iter().enumerate() {
            for (key, nodes) in [("from", &link.from), ("to", &link.to)] {
                if let Some(node) = missing(nodes.indices()) {
                    return Err((Place::entry("network.links", index, key), does_not_exist(node)));
                }
            }
        }
        for (index, node) in self.network.nodes.iter().enumerate() {
            if let Some(node) = missing(vec![node.node]) {
                return Err((Place::entry("network.nodes", index, "node"), does_not_exist(node)));
            }
        }
        if let Some(kind) = self.network.kinds.keys().find(|k| !rules.message_kinds.contains(&k.as_str())) {
            let known = if rules.message_kinds.is_empty() {
                "this system names no message kinds".to_owned()
            } else {
                format!("expected one of: {}", rules.message_kinds.join(", "))
            };
            return Err((Place::key("network", "kinds"), format!("unknown message kind {kind:?}; {known}")));
        }
        if self.network.keepalive.is_some_and(|k| k.is_zero()) {
            return Err((Place::key("network", "keepalive"), "keepalive must be greater than zero".into()));
        }
        if self.clocks.drift_ppm.is_some_and(|r| r.0.low <= -1_000_000) {
            return Err((
                Place::key("clocks", "drift_ppm"),
                "a drift of -1000000 ppm or less would stop the clock".into(),
            ));
        }
        if self.disk.sector_size == Some(0) {
            return Err((Place::key("disk", "sector_size"), "sector_size must be at least 1".into()));
        }
        let capacity_set = self.disk.capacity.is_some()
            || self
                .faults
                .iter()
                .any(|f| matches!(&f.action, FaultAction::Disk { change, .. } if change.capacity.is_some()));
        if self.disk.delayed_allocation && !capacity_set {
            return Err((
                Place::key("disk", "delayed_allocation"),
                "delayed_allocation needs a capacity ([disk] capacity, or a disk fault that sets one)".into(),
            ));
        }
        if let Some(workload) = &self.workload {
            workload
                .validate(self.duration, rules.operations)
                .map_err(|(key, message)| (Place::key("workload", key), message))?;
        }
        for (index, fault) in self.faults.iter().enumerate() {
            if let FaultAction::Version { to, .. } = &fault.action {
                if to != BASE_VERSION && !self.versions.iter().any(|(name, _)| name == to) {
                    let known: Vec<&str> = std::iter::once(BASE_VERSION)
                        .chain(self.versions.iter().map(|(n, _)| n.as_str()))
                        .collect();
                    return Err((
                        Place::entry("faults", index, "version"),
                        format!(
                            "fault {index}: unknown version {to:?}; the versions are {}",
                            known.join(", ")
                        ),
                    ));
                }
            }
            let clients = self.workload.as_ref().map_or(0, |w| w.clients);
            fault.validate(self.nodes, clients, rules.roles, self.duration).map_err(|(key, message)| {
                (Place::entry("faults", index, key), format!("fault {index}: {message}"))
            })?;
        }
        if let Some(swarm) = &self.swarm {
            swarm.validate(self.duration).map_err(|(key, message)| (Place::key("swarm", key), message))?;
            let known = || -> Vec<&str> {
                std::iter::once(BASE_VERSION).chain(self.versions.iter().map(|(n, _)| n.as_str())).collect()
            };
            if let Some(to) =
                swarm.upgrade.iter().flat_map(|u| &u.to).find(|to| !known().contains(&to.as_str()))
            {
                return Err((
                    Place::key("swarm", "upgrade"),
                    format!("unknown version {to:?}; the versions are {}", known().join(", ")),
                ));
            }
            if swarm.client_crash.is_some() && self.workload.is_none() {
                return Err((
                    Place::key("swarm", "client_crash"),
                    "client_crash needs a [workload] (its clients)".into(),
                ));
            }
        }
        if let Some(buggify) = &self.buggify {
            buggify.validate().map_err(|(key, message)| (Place::key("buggify", key), message))?;
        }
        for op in self.checks.liveness.iter().flat_map(|l| &l.ops) {
            if !rules.operations.iter().any(|known| known.name == op) {
                let known: Vec<&str> = rules.operations.iter().map(|op| op.name).collect();
                return Err((
                    Place::key("checks", "liveness"),
                    format!("ops: unknown operation {op:?}; this system's operations: {}", known.join(", ")),
                ));
            }
        }
        for (index, bound) in self.checks.latency.iter().enumerate() {
            if bound.bounds().is_empty() {
                return Err((
                    Place::entry("checks.latency", index, "op"),
                    "a latency bound needs p50, p90, p99, p999 or max".into(),
                ));
            }
            if !rules.operations.iter().any(|op| op.name == bound.op) {
                let known: Vec<&str> = rules.operations.iter().map(|op| op.name).collect();
                return Err((
                    Place::entry("checks.latency", index, "op"),
                    format!(
                        "unknown operation {:?}; this system's operations: {}",
                        bound.op,
                        known.join(", ")
                    ),
                ));
            }
        }
        if self.workload.is_some() && rules.operations.is_empty() {
            return Err((
                Place::top("workload"),
                "this system takes no client operations (it drives its own): remove [workload]".into(),
            ));
        }
        if self.checks.linearizable == Some(true) && !rules.has_model {
            return Err((
                Place::key("checks", "linearizable"),
                "this system has no linearizability model".into(),
            ));
        }
        if self.checks.linearizable == Some(true) && self.workload.is_none() {
            return Err((
                Place::key("checks", "linearizable"),
                "linearizable needs a [workload] history to check".into(),
            ));
        }
        if let Some(liveness) = &self.checks.liveness {
            if liveness.heal_by + liveness.within > self.duration {
                return Err((
                    Place::key("checks", "liveness"),
                    "liveness heal_by + within is after the end of the run".into(),
                ));
            }
            if self.workload.is_none() {
                return Err((
                    Place::key("checks", "liveness"),
                    "liveness needs a [workload] to observe".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Finds `place` in the text: the key's line inside its table (`[section]`, the
/// `index`th `[[section]]`, or an inline `section = { ... }`), else the table, else the start.
pub fn locate(file: &str, text: &str, place: &Place, message: String) -> ScenarioError {
    let top_level = 0..text.find("\n[").map_or(text.len(), |i| i + 1);
    let region = match place.index {
        Some(index) => nth_table(text, place.section, index),
        // A top-level key, or a whole table (its header).
        None if place.key.is_none() => table(text, place.section).or_else(|| Some(top_level.clone())),
        None => table(text, place.section).or_else(|| find_key(text, top_level.clone(), place.section)),
    };
    let Some(region) = region else { return ScenarioError::at(file, text, 0, message) };
    let key = place.key.unwrap_or(place.section);
    let span = find_key(text, region.clone(), key).unwrap_or(region);
    ScenarioError::at(file, text, span.start, message)
}

/// The span of `key = ...` inside `within`: the first line that assigns it, or the first
/// inline occurrence (`{ key = ... }`).
fn find_key(text: &str, within: Range<usize>, key: &str) -> Option<Range<usize>> {
    let region = text.get(within.clone())?;
    let mut offset = 0;
    for line in region.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(key) {
            if rest.trim_start().starts_with('=') {
                let start = within.start + offset + (line.len() - trimmed.len());
                return Some(start..start + key.len());
            }
        }
        offset += line.len();
    }
    let inline = region.find(&format!("{key} ="))?;
    Some(within.start + inline..within.start + inline + key.len())
}

/// The span of the `[section]` table, from its header to the next header.
fn table(text: &str, section: &str) -> Option<Range<usize>> {
    headers(text, &format!("[{section}]")).first().cloned()
}

/// The span of the `index`th `[[section]]` table, from its header to the next header.
fn nth_table(text: &str, section: &str, index: usize) -> Option<Range<usize>> {
    headers(text, &format!("[[{section}]]")).get(index).cloned()
}

fn headers(text: &str, header: &str) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim() == header {
            let body = offset + line.len();
            let end = text[body..].find("\n[").map_or(text.len(), |i| body + i + 1);
            let end = if text[body..].starts_with('[') { body } else { end };
            found.push(offset..end);
        }
        offset += line.len();
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::dist::Distribution;
    use crate::kernel::rng::Probability;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Settings {
        #[serde(default)]
        window: u32,
    }

    const OPS: &[OperationSpec] =
        &[OperationSpec { name: "ping", arg: crate::kernel::workload::Arg::None, weight: 1.0 }];
    const RULES: SystemRules<'static> = SystemRules {
        operations: OPS,
        roles: &["leader"],
        message_kinds: &[],
        has_model: false,
        model_by_default: false,
    };

    const GOOD: &str = r#"
name = "t"
system = "pingpong"
nodes = 3
duration = "1.5s"

[settings]
window = 4

[network]
latency = { dist = "uniform", min = "1ms", max = "10ms" }
loss = 0.25
"#;

    fn error(text: &str) -> String {
        Scenario::<Settings>::parse("bad.toml", text, &RULES).unwrap_err().to_string()
    }

    #[test]
    fn parses_a_scenario() {
        let scenario = Scenario::<Settings>::parse("t.toml", GOOD, &RULES).unwrap();
        assert_eq!(scenario.duration, Duration::from_millis(1_500));
        assert_eq!(scenario.settings, Settings { window: 4 });
        let model = scenario.network.link_model();
        assert_eq!(model.loss, Probability::new(0.25).unwrap());
        assert_eq!(
            model.latency,
            Distribution::Uniform { min: Duration::from_millis(1), max: Duration::from_millis(10) }
        );
    }

    #[test]
    fn errors_name_file_line_and_column() {
        assert_eq!(
            error(&GOOD.replace("window = 4", "windw = 4")),
            "bad.toml:8:1: unknown field `windw`, expected `window`"
        );
        assert_eq!(
            error(&GOOD.replace("\"1.5s\"", "\"soon\"")),
            "bad.toml:5:12: expected a duration like \"150ms\" or \"2s\", got \"soon\""
        );
        let bad_range =
            error(&GOOD.replace("min = \"1ms\", max = \"10ms\"", "min = \"10ms\", max = \"1ms\""));
        assert!(bad_range.starts_with("bad.toml:11:11: uniform distribution has min"), "{bad_range}");
        assert_eq!(
            error(&GOOD.replace("0.25", "1.25")),
            "bad.toml:12:8: probability 1.25 is not between 0 and 1"
        );
        assert_eq!(
            error(&GOOD.replace("nodes = 3", "nodes = 0")),
            "bad.toml:4:1: nodes must be between 1 and 1000000, got 0"
        );
        assert!(error(&GOOD.replace("nodes = 3\n", "")).contains("missing field `nodes`"));
        assert!(error(&format!("{GOOD}\n[system]\nx = 1\n")).contains("duplicate key"));
    }

    #[test]
    fn cross_field_errors_point_at_the_entry() {
        let text =
            format!("{GOOD}\n[[faults]]\nat = \"1s\"\nheal = true\n\n[[faults]]\nat = \"1s\"\ncrash = 7\n");
        assert_eq!(error(&text), "bad.toml:20:1: fault 1: node 7 does not exist (servers are 0..3)");
        let text = format!("{GOOD}\n[workload]\nrate = \"10/s\"\nconcurrency = 3\n");
        assert_eq!(
            error(&text),
            "bad.toml:15:1: rate and concurrency cannot both be set: open loop or closed loop"
        );
    }

    #[test]
    fn mixtures_and_defaults() {
        let text = r#"
name = "m"
system = "pingpong"
nodes = 1
duration = "1s"
[network.latency]
dist = "mixture"
parts = [
  { weight = 0.9, dist = "pareto", scale = "2ms", shape = 1.5 },
  { weight = 0.1, dist = "exponential", mean = "50ms" },
]
"#;
        let scenario = Scenario::<Settings>::parse("m.toml", text, &RULES).unwrap();
        assert!(matches!(scenario.network.latency.0, Distribution::Mixture(_)));
        assert_eq!(scenario.settings, Settings { window: 0 });
    }
}
