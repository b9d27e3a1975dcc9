//! `[[faults]]` and `[swarm]`: the faults a scenario injects, and their expansion into the
//! kernel's schedule.
//!
//! An explicit fault is a table with `at` and one kind:
//!
//! ```toml
//! [[faults]]
//! at = "5s"
//! partition = "majority-minority"   # or "isolate", "bridge", "majorities-ring",
//!                                   # { groups = [[0, 1], [2, 3, 4]] }, { isolate = 2 },
//!                                   # { one_way = { from = [0], to = [1, 2] } },
//!                                   # { cuts = [[0, 1], [1, 0]] }
//! heal_after = "5s"                 # optional
//!
//! [[faults]]
//! at = "12s"
//! crash = "leader"                  # a node index, "random", a role, or { fault = N }
//! restart_after = "2s"              # optional; restarts the node that crashed
//! ```
//!
//! Other kinds: `heal = true`; `restart = T`; `pause = T` with optional `resume_after`;
//! `resume = T`; `clock = { node = T, step = "-500ms" }` or `{ node = T, drift_ppm = 200 }`;
//! `disk = { node = T, corrupt = { file = "log", offset = 0, len = 64 } }` or
//! `{ node = T, fsync_latency = "50ms", capacity = 4096, torn_writes = true }` (any of the
//! three; capacity may be "unlimited"); `network = { loss = 0.3, ... }` (any `[network]` field)
//! with optional `restore_after`. Node faults hit servers only (indices `0..nodes`).
//!
//! `[swarm]` draws faults at random per seed: for each kind, a Poisson process at `rate` up
//! to `until`, with durations and sizes uniform in the given ranges, from the stream
//! `("swarm", kind)`. The swarm's faults and the explicit ones are merged by time into one
//! schedule; the run's realized timeline is written as `faults.toml`, a `[[faults]]` list
//! that replays the same faults, and the same run, with the swarm off.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::network::{link_model_toml, LinkChange};
use super::text::{
    duration, format_signed, parse_signed, DurationRange, ProbabilityRange, Rate, SignedRange,
};
use crate::disk::DiskChange;
use crate::dist::Distribution;
use crate::fault::{Fault, FaultRecord, Target};
use crate::network::LinkModel;
use crate::node::NodeId;
use crate::partition::Partition;
use crate::rng::{Probability, Rng, Seed};
use crate::time::Time;

/// Which node a fault hits, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetSpec {
    /// A server index.
    Node(u32),
    /// A random server.
    Random,
    /// A server in this role, as nodes report it.
    Role(String),
    /// The node fault number `N` (in the schedule) hit: `{ fault = N }`.
    SameAs(u64),
}

impl<'de> Deserialize<'de> for TargetSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TargetSpec, D::Error> {
        struct TargetVisitor;
        impl<'de> Visitor<'de> for TargetVisitor {
            type Value = TargetSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a node index, \"random\", a role such as \"leader\", or {{ fault = N }}")
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<TargetSpec, E> {
                u32::try_from(value)
                    .map(TargetSpec::Node)
                    .map_err(|_| E::custom(format!("node index {value} is out of range")))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<TargetSpec, E> {
                u32::try_from(value)
                    .map(TargetSpec::Node)
                    .map_err(|_| E::custom(format!("node index {value} is out of range")))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<TargetSpec, E> {
                match value {
                    "random" => Ok(TargetSpec::Random),
                    "" => Err(E::custom("a target cannot be empty")),
                    role => Ok(TargetSpec::Role(role.to_owned())),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TargetSpec, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct SameAs {
                    fault: u64,
                }
                let same = SameAs::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(TargetSpec::SameAs(same.fault))
            }
        }
        deserializer.deserialize_any(TargetVisitor)
    }
}

impl TargetSpec {
    fn target(&self, servers: &[NodeId]) -> Target {
        match self {
            TargetSpec::Node(index) => Target::Node(NodeId(*index)),
            TargetSpec::Random => Target::Random(servers.to_vec()),
            TargetSpec::Role(role) => Target::Role { role: role.clone(), among: servers.to_vec() },
            TargetSpec::SameAs(index) => Target::SameAs(*index),
        }
    }

    fn to_toml(target: &Target) -> toml::Value {
        match target {
            Target::Node(node) => toml::Value::Integer(i64::from(node.0)),
            Target::Random(_) => "random".into(),
            Target::Role { role, .. } => role.as_str().into(),
            Target::SameAs(index) => toml::Value::Table(toml::Table::from_iter([(
                "fault".to_owned(),
                toml::Value::Integer(*index as i64),
            )])),
        }
    }
}

/// The random partition shapes, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// A random majority and minority.
    MajorityMinority,
    /// One random node alone.
    Isolate,
    /// Two halves and a bridge node.
    Bridge,
    /// Overlapping majorities.
    MajoritiesRing,
}

impl Shape {
    const ALL: [Shape; 4] = [Shape::MajorityMinority, Shape::Isolate, Shape::Bridge, Shape::MajoritiesRing];

    fn partition(self, among: &[NodeId]) -> Partition {
        let among = among.to_vec();
        match self {
            Shape::MajorityMinority => Partition::MajorityMinority { among },
            Shape::Isolate => Partition::Isolate { node: None, among },
            Shape::Bridge => Partition::Bridge { among },
            Shape::MajoritiesRing => Partition::MajoritiesRing { among },
        }
    }
}

/// A partition, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartitionSpec {
    /// A named random shape over the servers.
    Shape(Shape),
    /// Explicit groups.
    Groups(Vec<Vec<u32>>),
    /// One node against the other servers.
    Isolate(u32),
    /// Messages from `from` to `to` dropped.
    OneWay {
        /// Senders.
        from: Vec<u32>,
        /// Receivers.
        to: Vec<u32>,
    },
    /// Explicit directed cuts.
    Cuts(Vec<[u32; 2]>),
}

impl<'de> Deserialize<'de> for PartitionSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PartitionSpec, D::Error> {
        struct PartitionVisitor;
        impl<'de> Visitor<'de> for PartitionVisitor {
            type Value = PartitionSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "\"majority-minority\", \"isolate\", \"bridge\", \"majorities-ring\", or a table with one of \
                     groups, isolate, one_way, cuts"
                )
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<PartitionSpec, E> {
                Shape::deserialize(de::value::StrDeserializer::<E>::new(value)).map(PartitionSpec::Shape)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PartitionSpec, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct OneWay {
                    from: Vec<u32>,
                    to: Vec<u32>,
                }
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Table {
                    groups: Option<Vec<Vec<u32>>>,
                    isolate: Option<u32>,
                    one_way: Option<OneWay>,
                    cuts: Option<Vec<[u32; 2]>>,
                }
                let table = Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                match (table.groups, table.isolate, table.one_way, table.cuts) {
                    (Some(groups), None, None, None) => Ok(PartitionSpec::Groups(groups)),
                    (None, Some(node), None, None) => Ok(PartitionSpec::Isolate(node)),
                    (None, None, Some(OneWay { from, to }), None) => Ok(PartitionSpec::OneWay { from, to }),
                    (None, None, None, Some(cuts)) => Ok(PartitionSpec::Cuts(cuts)),
                    _ => Err(de::Error::custom(
                        "a partition table has exactly one of groups, isolate, one_way, cuts",
                    )),
                }
            }
        }
        deserializer.deserialize_any(PartitionVisitor)
    }
}

impl PartitionSpec {
    fn partition(&self, servers: &[NodeId]) -> Partition {
        let ids = |nodes: &[u32]| nodes.iter().copied().map(NodeId).collect::<Vec<_>>();
        match self {
            PartitionSpec::Shape(shape) => shape.partition(servers),
            PartitionSpec::Groups(groups) => Partition::Groups(groups.iter().map(|g| ids(g)).collect()),
            PartitionSpec::Isolate(node) => {
                Partition::Isolate { node: Some(NodeId(*node)), among: servers.to_vec() }
            }
            PartitionSpec::OneWay { from, to } => Partition::OneWay { from: ids(from), to: ids(to) },
            PartitionSpec::Cuts(cuts) => {
                Partition::Cuts(cuts.iter().map(|[a, b]| (NodeId(*a), NodeId(*b))).collect())
            }
        }
    }

    fn nodes(&self) -> Vec<u32> {
        match self {
            PartitionSpec::Shape(_) => Vec::new(),
            PartitionSpec::Groups(groups) => groups.concat(),
            PartitionSpec::Isolate(node) => vec![*node],
            PartitionSpec::OneWay { from, to } => [from.as_slice(), to.as_slice()].concat(),
            PartitionSpec::Cuts(cuts) => cuts.iter().flatten().copied().collect(),
        }
    }
}

/// `clock = { node = T, step = "-500ms" }` or `{ node = T, drift_ppm = 200 }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSpec {
    /// Whose clock.
    pub node: TargetSpec,
    /// Move the reading by this much.
    #[serde(default)]
    pub step: Option<String>,
    /// Run fast (positive) or slow by this many parts per million.
    #[serde(default)]
    pub drift_ppm: Option<i64>,
}

/// `corrupt = { file = "log", offset = 0, len = 64 }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorruptSpec {
    /// The file.
    pub file: String,
    /// First byte. Default: 0.
    #[serde(default)]
    pub offset: u64,
    /// Bytes to corrupt.
    pub len: u64,
}

/// A disk capacity: bytes, or `"unlimited"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacity(pub Option<u64>);

impl<'de> Deserialize<'de> for Capacity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Capacity, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Text {
            Bytes(u64),
            Word(String),
        }
        match Text::deserialize(deserializer)? {
            Text::Bytes(bytes) => Ok(Capacity(Some(bytes))),
            Text::Word(word) if word == "unlimited" => Ok(Capacity(None)),
            Text::Word(word) => {
                Err(de::Error::custom(format!("expected bytes or \"unlimited\", got {word:?}")))
            }
        }
    }
}

/// `disk = { node = T, ... }`: corruption, or a change of configuration.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskFaultSpec {
    /// Whose disk.
    pub node: TargetSpec,
    /// Flip bits in a region of a file.
    #[serde(default)]
    pub corrupt: Option<CorruptSpec>,
    /// New fsync latency.
    #[serde(default, with = "duration::option")]
    pub fsync_latency: Option<Duration>,
    /// New capacity.
    #[serde(default)]
    pub capacity: Option<Capacity>,
    /// Torn writes on or off.
    #[serde(default)]
    pub torn_writes: Option<bool>,
}

/// One `[[faults]]` entry.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// When it happens.
    #[serde(with = "duration")]
    pub at: Duration,
    /// Partition.
    #[serde(default)]
    pub partition: Option<PartitionSpec>,
    /// With `partition`: heal this long after.
    #[serde(default, with = "duration::option")]
    pub heal_after: Option<Duration>,
    /// Remove every cut.
    #[serde(default)]
    pub heal: Option<bool>,
    /// Crash a node.
    #[serde(default)]
    pub crash: Option<TargetSpec>,
    /// With `crash`: restart the same node this long after.
    #[serde(default, with = "duration::option")]
    pub restart_after: Option<Duration>,
    /// Restart a crashed node.
    #[serde(default)]
    pub restart: Option<TargetSpec>,
    /// Pause a node.
    #[serde(default)]
    pub pause: Option<TargetSpec>,
    /// With `pause`: resume the same node this long after.
    #[serde(default, with = "duration::option")]
    pub resume_after: Option<Duration>,
    /// Resume a paused node.
    #[serde(default)]
    pub resume: Option<TargetSpec>,
    /// A clock fault.
    #[serde(default)]
    pub clock: Option<ClockSpec>,
    /// A disk fault.
    #[serde(default)]
    pub disk: Option<DiskFaultSpec>,
    /// A change to the default link model.
    #[serde(default)]
    pub network: Option<LinkChange>,
    /// With `network`: restore `[network]` this long after.
    #[serde(default, with = "duration::option")]
    pub restore_after: Option<Duration>,
}

/// A swarm kind's rate with a range of durations.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmSpan {
    /// How often, on average.
    pub rate: Rate,
    /// How long each lasts.
    pub duration: DurationRange,
}

/// `[swarm] crash = { rate = "1/10s", down = "1s..5s" }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmCrash {
    /// How often, on average.
    pub rate: Rate,
    /// How long a crashed node stays down.
    pub down: DurationRange,
}

/// `[swarm] partition = { rate, duration, shapes = [...] }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmPartition {
    /// How often, on average.
    pub rate: Rate,
    /// How long each lasts.
    pub duration: DurationRange,
    /// Which shapes to draw from. Default: all four.
    #[serde(default = "all_shapes")]
    pub shapes: Vec<Shape>,
}

fn all_shapes() -> Vec<Shape> {
    Shape::ALL.to_vec()
}

/// `[swarm] clock = { rate, step = "-1s..1s" }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmClock {
    /// How often, on average.
    pub rate: Rate,
    /// How far a step moves the clock.
    pub step: SignedRange,
}

/// `[swarm] loss = { rate, duration, loss = "0.1..0.5" }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmLoss {
    /// How often, on average.
    pub rate: Rate,
    /// How long each burst lasts.
    pub duration: DurationRange,
    /// Loss probability during a burst.
    pub loss: ProbabilityRange,
}

/// `[swarm] disk = { rate, duration, fsync_latency = "10ms..200ms" }`: slow-disk episodes.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmDisk {
    /// How often, on average.
    pub rate: Rate,
    /// How long each episode lasts.
    pub duration: DurationRange,
    /// Fsync latency during an episode.
    pub fsync_latency: DurationRange,
}

/// The `[swarm]` table.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmSpec {
    /// No swarm fault starts after this. Default: the scenario's duration.
    #[serde(default, with = "duration::option")]
    pub until: Option<Duration>,
    /// Crashes of random servers, each restarted after `down`.
    #[serde(default)]
    pub crash: Option<SwarmCrash>,
    /// Partitions of random shapes, each healed after `duration`.
    #[serde(default)]
    pub partition: Option<SwarmPartition>,
    /// Pauses of random servers.
    #[serde(default)]
    pub pause: Option<SwarmSpan>,
    /// Clock steps on random servers.
    #[serde(default)]
    pub clock: Option<SwarmClock>,
    /// Loss bursts on every link.
    #[serde(default)]
    pub loss: Option<SwarmLoss>,
    /// Slow-fsync episodes on random servers.
    #[serde(default)]
    pub disk: Option<SwarmDisk>,
}

/// A fault at its time, ready for `Sim::schedule` in list order.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    /// When.
    pub at: Time,
    /// What.
    pub fault: Fault,
}

/// One entry before sorting: `follows` names the entry whose node this one targets.
struct Draft {
    at: Duration,
    fault: Fault,
    follows: Option<usize>,
}

/// What planning needs to know about the run.
pub struct PlanContext<'a> {
    /// The server nodes (node faults and shapes range over them).
    pub servers: &'a [NodeId],
    /// The `[network]` default, for loss bursts and restores.
    pub network: &'a LinkModel,
    /// Base fsync latency, for the end of slow-disk episodes.
    pub fsync_latency: Duration,
    /// The scenario's duration.
    pub duration: Duration,
    /// The run's seed.
    pub seed: Seed,
}

impl FaultSpec {
    /// The kinds this entry sets (exactly one is valid).
    pub fn kinds(&self) -> Vec<&'static str> {
        let kinds = [
            ("partition", self.partition.is_some()),
            ("heal", self.heal.is_some()),
            ("crash", self.crash.is_some()),
            ("restart", self.restart.is_some()),
            ("pause", self.pause.is_some()),
            ("resume", self.resume.is_some()),
            ("clock", self.clock.is_some()),
            ("disk", self.disk.is_some()),
            ("network", self.network.is_some()),
        ];
        kinds.into_iter().filter(|(_, set)| *set).map(|(kind, _)| kind).collect()
    }

    /// The rules across this entry's fields: `(key, message)` on failure.
    pub fn validate(
        &self,
        nodes: u32,
        roles: &[&str],
        duration: Duration,
    ) -> Result<(), (&'static str, String)> {
        let kinds = self.kinds();
        if kinds.len() != 1 {
            let found = if kinds.is_empty() { "none".to_owned() } else { kinds.join(", ") };
            return Err(("at", format!("a fault has exactly one of partition, heal, crash, restart, pause, resume, clock, disk, network; found {found}")));
        }
        if self.at >= duration {
            return Err((
                "at",
                format!(
                    "at {} is not before the end of the run ({})",
                    duration::format(self.at),
                    duration::format(duration)
                ),
            ));
        }
        let pairs = [
            ("heal_after", self.heal_after.is_some(), "partition", self.partition.is_some()),
            ("restart_after", self.restart_after.is_some(), "crash", self.crash.is_some()),
            ("resume_after", self.resume_after.is_some(), "pause", self.pause.is_some()),
            ("restore_after", self.restore_after.is_some(), "network", self.network.is_some()),
        ];
        for (after, has_after, kind, has_kind) in pairs {
            if has_after && !has_kind {
                return Err((after, format!("{after} goes with {kind}, not with {}", kinds[0])));
            }
        }
        for after in
            [self.heal_after, self.restart_after, self.resume_after, self.restore_after].into_iter().flatten()
        {
            if after.is_zero() {
                return Err((kinds[0], "a duration after a fault must be greater than zero".to_owned()));
            }
        }
        if self.heal == Some(false) {
            return Err(("heal", "heal = false does nothing; remove it".to_owned()));
        }
        let check_target = |key: &'static str, target: &TargetSpec| match target {
            TargetSpec::Node(index) if *index >= nodes => {
                Err((key, format!("node {index} does not exist (servers are 0..{nodes})")))
            }
            TargetSpec::Role(role) if !roles.contains(&role.as_str()) => {
                let known = if roles.is_empty() {
                    "this system reports no roles".to_owned()
                } else {
                    format!("roles: {}", roles.join(", "))
                };
                Err((key, format!("unknown target {role:?}: expected a node index, \"random\", {{ fault = N }}; {known}")))
            }
            _ => Ok(()),
        };
        for (key, target) in [
            ("crash", &self.crash),
            ("restart", &self.restart),
            ("pause", &self.pause),
            ("resume", &self.resume),
        ] {
            if let Some(target) = target {
                check_target(key, target)?;
            }
        }
        if let Some(partition) = &self.partition {
            if let Some(node) = partition.nodes().into_iter().find(|n| *n >= nodes) {
                return Err(("partition", format!("node {node} does not exist (servers are 0..{nodes})")));
            }
            if let PartitionSpec::Groups(groups) = partition {
                let all: Vec<u32> = groups.concat();
                let unique: BTreeSet<u32> = all.iter().copied().collect();
                if unique.len() != all.len() {
                    return Err(("partition", "a node appears in two groups".to_owned()));
                }
            }
        }
        if let Some(clock) = &self.clock {
            check_target("clock", &clock.node)?;
            match (&clock.step, clock.drift_ppm) {
                (Some(step), None) => {
                    parse_signed(step).map_err(|e| ("clock", e))?;
                }
                (None, Some(ppm)) if ppm <= -1_000_000 => {
                    return Err((
                        "clock",
                        format!("drift_ppm {ppm} would stop the clock (must be > -1000000)"),
                    ));
                }
                (None, Some(_)) => {}
                _ => return Err(("clock", "a clock fault has exactly one of step, drift_ppm".to_owned())),
            }
        }
        if let Some(disk) = &self.disk {
            check_target("disk", &disk.node)?;
            let changes = [disk.fsync_latency.is_some(), disk.capacity.is_some(), disk.torn_writes.is_some()];
            match (&disk.corrupt, changes.iter().any(|c| *c)) {
                (Some(corrupt), false) if corrupt.len == 0 => {
                    return Err(("disk", "corrupt.len must be at least 1".to_owned()))
                }
                (Some(_), false) | (None, true) => {}
                (Some(_), true) => {
                    return Err((
                        "disk",
                        "a disk fault either corrupts or changes the configuration, not both".to_owned(),
                    ))
                }
                (None, false) => {
                    return Err((
                        "disk",
                        "a disk fault needs corrupt, fsync_latency, capacity or torn_writes".to_owned(),
                    ))
                }
            }
        }
        Ok(())
    }
}

impl SwarmSpec {
    /// The rules across fields: `(key, message)` on failure.
    pub fn validate(&self, duration: Duration) -> Result<(), (&'static str, String)> {
        if let Some(until) = self.until {
            if until > duration {
                return Err(("until", "until is after the end of the run".to_owned()));
            }
        }
        if let Some(partition) = &self.partition {
            if partition.shapes.is_empty() {
                return Err(("partition", "shapes must name at least one shape".to_owned()));
            }
        }
        let until = self.until.unwrap_or(duration).as_secs_f64();
        let rates = [
            ("crash", self.crash.as_ref().map(|c| c.rate)),
            ("partition", self.partition.as_ref().map(|p| p.rate)),
            ("pause", self.pause.as_ref().map(|p| p.rate)),
            ("clock", self.clock.as_ref().map(|c| c.rate)),
            ("loss", self.loss.as_ref().map(|l| l.rate)),
            ("disk", self.disk.as_ref().map(|d| d.rate)),
        ];
        for (kind, rate) in rates {
            if let Some(rate) = rate {
                let expected = rate.per_second * until;
                if expected > MAX_SWARM_FAULTS as f64 {
                    return Err((kind, format!("{kind} at {rate} until {until}s is about {expected:.0} faults; at most {MAX_SWARM_FAULTS} per kind")));
                }
            }
        }
        Ok(())
    }
}

/// The most faults of one kind a swarm may draw in a run (planning them is eager).
pub const MAX_SWARM_FAULTS: u64 = 100_000;

/// The schedule: explicit faults expanded, the swarm drawn, merged by time (ties keep
/// explicit faults first, in file order), with follow-up faults (`restart_after`, ...)
/// pointing at the index of the fault they follow.
pub fn plan(explicit: &[FaultSpec], swarm: Option<&SwarmSpec>, context: &PlanContext<'_>) -> Vec<Planned> {
    let mut drafts = Vec::new();
    for spec in explicit {
        expand(spec, context, &mut drafts);
    }
    if let Some(swarm) = swarm {
        draw_swarm(swarm, context, &mut drafts);
    }
    let mut order: Vec<usize> = (0..drafts.len()).collect();
    order.sort_by_key(|&i| drafts[i].at); // stable: ties keep insertion order
    let mut index_of = vec![0u64; drafts.len()];
    for (index, &draft) in order.iter().enumerate() {
        index_of[draft] = index as u64;
    }
    order
        .into_iter()
        .map(|i| {
            let draft = &drafts[i];
            let fault = match draft.follows {
                Some(first) => retarget(draft.fault.clone(), Target::SameAs(index_of[first])),
                None => draft.fault.clone(),
            };
            Planned { at: Time::from_duration(draft.at), fault }
        })
        .collect()
}

fn retarget(fault: Fault, target: Target) -> Fault {
    match fault {
        Fault::Restart(_) => Fault::Restart(target),
        Fault::Resume(_) => Fault::Resume(target),
        Fault::Disk { change, .. } => Fault::Disk { node: target, change },
        other => other,
    }
}

fn expand(spec: &FaultSpec, context: &PlanContext<'_>, drafts: &mut Vec<Draft>) {
    let servers = context.servers;
    let mut push = |at: Duration, fault: Fault, follows: Option<usize>| {
        drafts.push(Draft { at, fault, follows });
        drafts.len() - 1
    };
    let at = spec.at;
    if let Some(partition) = &spec.partition {
        push(at, Fault::Partition(partition.partition(servers)), None);
        if let Some(after) = spec.heal_after {
            push(at + after, Fault::Heal, None);
        }
    } else if spec.heal.is_some() {
        push(at, Fault::Heal, None);
    } else if let Some(target) = &spec.crash {
        let crash = push(at, Fault::Crash(target.target(servers)), None);
        if let Some(after) = spec.restart_after {
            push(at + after, Fault::Restart(Target::SameAs(0)), Some(crash));
        }
    } else if let Some(target) = &spec.restart {
        push(at, Fault::Restart(target.target(servers)), None);
    } else if let Some(target) = &spec.pause {
        let pause = push(at, Fault::Pause(target.target(servers)), None);
        if let Some(after) = spec.resume_after {
            push(at + after, Fault::Resume(Target::SameAs(0)), Some(pause));
        }
    } else if let Some(target) = &spec.resume {
        push(at, Fault::Resume(target.target(servers)), None);
    } else if let Some(clock) = &spec.clock {
        let node = clock.node.target(servers);
        let fault = match (&clock.step, clock.drift_ppm) {
            (Some(step), _) => Fault::ClockStep { node, delta_nanos: parse_signed(step).expect("validated") },
            (None, Some(ppm)) => Fault::ClockDrift { node, ppm },
            (None, None) => unreachable!("validated"),
        };
        push(at, fault, None);
    } else if let Some(disk) = &spec.disk {
        let node = disk.node.target(servers);
        let fault = match &disk.corrupt {
            Some(corrupt) => {
                Fault::Corrupt { node, file: corrupt.file.clone(), offset: corrupt.offset, len: corrupt.len }
            }
            None => Fault::Disk {
                node,
                change: DiskChange {
                    capacity: disk.capacity.map(|c| c.0),
                    fsync_latency: disk.fsync_latency,
                    torn_writes: disk.torn_writes,
                },
            },
        };
        push(at, fault, None);
    } else if let Some(change) = &spec.network {
        push(at, Fault::Network(change.apply(context.network)), None);
        if let Some(after) = spec.restore_after {
            push(at + after, Fault::Network(context.network.clone()), None);
        }
    }
}

/// Poisson times in `[0, until)` at `rate`.
fn times(rate: &Rate, until: Duration, rng: &mut Rng) -> Vec<Duration> {
    let gap = Distribution::Exponential { mean: rate.mean_interval() };
    let mut at = Duration::ZERO;
    let mut times = Vec::new();
    loop {
        at += gap.sample(rng).max(Duration::from_nanos(1));
        if at >= until {
            return times;
        }
        times.push(at);
    }
}

fn between(range: &DurationRange, rng: &mut Rng) -> Duration {
    let (low, high) = (range.0.low.as_nanos() as u64, range.0.high.as_nanos() as u64);
    Duration::from_nanos(rng.between(low, high))
}

fn draw_swarm(swarm: &SwarmSpec, context: &PlanContext<'_>, drafts: &mut Vec<Draft>) {
    let until = swarm.until.unwrap_or(context.duration);
    let servers = context.servers;
    let random = || Target::Random(servers.to_vec());
    let stream = |kind: u64| context.seed.stream("swarm", kind);
    let mut push = |at: Duration, fault: Fault, follows: Option<usize>| {
        drafts.push(Draft { at, fault, follows });
        drafts.len() - 1
    };
    if let Some(crash) = &swarm.crash {
        let mut rng = stream(0);
        for at in times(&crash.rate, until, &mut rng) {
            let first = push(at, Fault::Crash(random()), None);
            push(at + between(&crash.down, &mut rng), Fault::Restart(Target::SameAs(0)), Some(first));
        }
    }
    if let Some(partition) = &swarm.partition {
        let mut rng = stream(1);
        for at in times(&partition.rate, until, &mut rng) {
            let shape = *rng.pick(&partition.shapes).expect("validated: at least one shape");
            push(at, Fault::Partition(shape.partition(servers)), None);
            push(at + between(&partition.duration, &mut rng), Fault::Heal, None);
        }
    }
    if let Some(pause) = &swarm.pause {
        let mut rng = stream(2);
        for at in times(&pause.rate, until, &mut rng) {
            let first = push(at, Fault::Pause(random()), None);
            push(at + between(&pause.duration, &mut rng), Fault::Resume(Target::SameAs(0)), Some(first));
        }
    }
    if let Some(clock) = &swarm.clock {
        let mut rng = stream(3);
        for at in times(&clock.rate, until, &mut rng) {
            let range = clock.step.0;
            let offset = rng.between(0, (range.high - range.low) as u64) as i64;
            push(at, Fault::ClockStep { node: random(), delta_nanos: range.low + offset }, None);
        }
    }
    if let Some(loss) = &swarm.loss {
        let mut rng = stream(4);
        for at in times(&loss.rate, until, &mut rng) {
            let range = loss.loss.0;
            let p = range.low + rng.unit() * (range.high - range.low);
            let burst = LinkModel {
                loss: Probability::new(p.clamp(0.0, 1.0)).expect("in range"),
                ..context.network.clone()
            };
            push(at, Fault::Network(burst), None);
            push(at + between(&loss.duration, &mut rng), Fault::Network(context.network.clone()), None);
        }
    }
    if let Some(disk) = &swarm.disk {
        let mut rng = stream(5);
        for at in times(&disk.rate, until, &mut rng) {
            let slow = DiskChange {
                fsync_latency: Some(between(&disk.fsync_latency, &mut rng)),
                ..DiskChange::default()
            };
            let first = push(at, Fault::Disk { node: random(), change: slow }, None);
            let restore = DiskChange { fsync_latency: Some(context.fsync_latency), ..DiskChange::default() };
            let end = at + between(&disk.duration, &mut rng);
            push(end, Fault::Disk { node: Target::SameAs(0), change: restore }, Some(first));
        }
    }
}

/// The realized timeline as a `[[faults]]` list that replays it (with the swarm off).
/// Skipped faults are kept, as they were asked for, so that every fault keeps its index
/// and its random streams; a comment says why each was skipped.
pub fn realized_toml(records: &[FaultRecord]) -> String {
    let mut records: Vec<&FaultRecord> = records.iter().collect();
    records.sort_by_key(|r| r.index);
    let mut out = String::from(
        "# The realized fault timeline of this run, in schedule order. As the [[faults]] of the\n\
         # scenario, with [swarm] removed, it replays the same faults and the same run.\n",
    );
    for record in records {
        let mut entry = toml::Table::new();
        entry.insert("at".into(), duration::format(record.time.since_start()).into());
        let (key, value) = fault_toml(&record.fault);
        entry.insert(key.into(), value);
        out.push('\n');
        out.push_str(&format!("# fault {} at {}: {}\n", record.index, record.time, record.outcome));
        let mut root = toml::Table::new();
        root.insert("faults".into(), toml::Value::Array(vec![toml::Value::Table(entry)]));
        out.push_str(&toml::to_string(&root).expect("fault tables serialize"));
    }
    out
}

fn fault_toml(fault: &Fault) -> (&'static str, toml::Value) {
    let ids = |nodes: &[NodeId]| {
        toml::Value::Array(nodes.iter().map(|n| toml::Value::Integer(i64::from(n.0))).collect())
    };
    let table = |pairs: Vec<(&str, toml::Value)>| {
        toml::Value::Table(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    };
    let target = TargetSpec::to_toml;
    match fault {
        Fault::Partition(partition) => {
            let value = match partition {
                Partition::Groups(groups) => {
                    table(vec![("groups", toml::Value::Array(groups.iter().map(|g| ids(g)).collect()))])
                }
                Partition::OneWay { from, to } => {
                    table(vec![("one_way", table(vec![("from", ids(from)), ("to", ids(to))]))])
                }
                Partition::Cuts(cuts) => {
                    let pairs = cuts.iter().map(|(a, b)| ids(&[*a, *b])).collect();
                    table(vec![("cuts", toml::Value::Array(pairs))])
                }
                Partition::Isolate { node: Some(node), .. } => {
                    table(vec![("isolate", i64::from(node.0).into())])
                }
                Partition::Isolate { node: None, .. } => "isolate".into(),
                Partition::MajorityMinority { .. } => "majority-minority".into(),
                Partition::Bridge { .. } => "bridge".into(),
                Partition::MajoritiesRing { .. } => "majorities-ring".into(),
            };
            ("partition", value)
        }
        Fault::Heal => ("heal", true.into()),
        Fault::Crash(t) => ("crash", target(t)),
        Fault::Restart(t) => ("restart", target(t)),
        Fault::Pause(t) => ("pause", target(t)),
        Fault::Resume(t) => ("resume", target(t)),
        Fault::ClockStep { node, delta_nanos } => {
            ("clock", table(vec![("node", target(node)), ("step", format_signed(*delta_nanos).into())]))
        }
        Fault::ClockDrift { node, ppm } => {
            ("clock", table(vec![("node", target(node)), ("drift_ppm", (*ppm).into())]))
        }
        Fault::Corrupt { node, file, offset, len } => {
            let corrupt = table(vec![
                ("file", file.as_str().into()),
                ("offset", (*offset as i64).into()),
                ("len", (*len as i64).into()),
            ]);
            ("disk", table(vec![("node", target(node)), ("corrupt", corrupt)]))
        }
        Fault::Disk { node, change } => {
            let mut pairs = vec![("node", target(node))];
            if let Some(latency) = change.fsync_latency {
                pairs.push(("fsync_latency", duration::format(latency).into()));
            }
            if let Some(capacity) = change.capacity {
                pairs.push(("capacity", capacity.map_or_else(|| "unlimited".into(), |c| (c as i64).into())));
            }
            if let Some(torn) = change.torn_writes {
                pairs.push(("torn_writes", torn.into()));
            }
            ("disk", table(pairs))
        }
        Fault::Network(model) => ("network", toml::Value::Table(link_model_toml(model))),
    }
}
