//! `[[faults]]`: the faults a scenario injects at given times.
//!
//! An explicit fault is a table with `at` and one kind:
//!
//! ```toml
//! [[faults]]
//! at = "5s"
//! partition = "majority-minority"   # or "isolate", "bridge", "majorities-ring",
//!                                   # { groups = [[0, 1], [2, 3, 4]] }, { isolate = 2 },
//!                                   # { isolate = "leader" } (any crash target),
//!                                   # { one_way = { from = [0], to = [1, 2] } },
//!                                   # { cuts = [[0, 1], [1, 0]] },
//!                                   # { classes = [[3], [0, 1, 2, 4]] } (network classes:
//!                                   #   the regions a system puts its nodes in)
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
//! `disk = { node = T, corrupt = { file = "log", offset = 0, len = 64 } }` (a `file` ending in
//! `*` hits one of the files that start with what precedes it, drawn per seed) or
//! `{ node = T, fsync_latency = "50ms", capacity = 4096, torn_writes = true }` (any of the
//! three; capacity may be "unlimited"); `network = { loss = 0.3, ... }` (any `[network]` field)
//! with optional `restore_after`. Node faults hit servers only (indices `0..nodes`).
//!
//! `[swarm]` (`swarm.rs`) draws more at random; `plan.rs` merges both into the kernel's
//! schedule; `realized.rs` writes what happened back out as `faults.toml`.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::network::LinkChange;
use super::text::{duration, parse_signed};
use crate::kernel::fault::{FaultKind, Target};
use crate::kernel::ids::NodeId;
use crate::kernel::partition::Partition;

/// How an entry of `kind` is written, after its key: what `simctl list` shows.
pub fn syntax(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::Partition => {
            "\"majority-minority\" | \"isolate\" | \"bridge\" | \"majorities-ring\" | { groups } | { isolate } | \
             { one_way = { from, to } } | { cuts } | { classes }"
        }
        FaultKind::Heal => "true: remove every cut",
        FaultKind::Crash | FaultKind::Pause | FaultKind::Restart | FaultKind::Resume => "target",
        FaultKind::Clock => "{ node = target, step = \"-500ms\" } | { node = target, drift_ppm = 200 }",
        FaultKind::Disk => {
            "{ node = target, corrupt = { file, offset, len } } | { node = target, fsync_latency, capacity, torn_writes }"
        }
        FaultKind::Network => "any [network] field, e.g. { loss = 0.3 }",
    }
}

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
    pub(super) fn target(&self, servers: &[NodeId]) -> Target {
        match self {
            TargetSpec::Node(index) => Target::Node(NodeId(*index)),
            TargetSpec::Random => Target::Random(servers.to_vec()),
            TargetSpec::Role(role) => Target::Role { role: role.clone(), among: servers.to_vec() },
            TargetSpec::SameAs(index) => Target::SameAs(*index),
        }
    }

    pub(super) fn to_toml(target: &Target) -> toml::Value {
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
    pub(super) const ALL: [Shape; 4] =
        [Shape::MajorityMinority, Shape::Isolate, Shape::Bridge, Shape::MajoritiesRing];

    pub(super) fn partition(self, among: &[NodeId]) -> Partition {
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
    /// One node against the other servers: an index, `"random"`, a role, `{ fault = N }`.
    Isolate(TargetSpec),
    /// Messages from `from` to `to` dropped.
    OneWay {
        /// Senders.
        from: Vec<u32>,
        /// Receivers.
        to: Vec<u32>,
    },
    /// Explicit directed cuts.
    Cuts(Vec<[u32; 2]>),
    /// Groups of network classes (the regions a system puts its nodes in).
    Classes(Vec<Vec<u16>>),
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
                     groups, isolate, one_way, cuts, classes"
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
                    isolate: Option<TargetSpec>,
                    one_way: Option<OneWay>,
                    cuts: Option<Vec<[u32; 2]>>,
                    classes: Option<Vec<Vec<u16>>>,
                }
                let table = Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                match (table.groups, table.isolate, table.one_way, table.cuts, table.classes) {
                    (Some(groups), None, None, None, None) => Ok(PartitionSpec::Groups(groups)),
                    (None, Some(node), None, None, None) => Ok(PartitionSpec::Isolate(node)),
                    (None, None, Some(OneWay { from, to }), None, None) => {
                        Ok(PartitionSpec::OneWay { from, to })
                    }
                    (None, None, None, Some(cuts), None) => Ok(PartitionSpec::Cuts(cuts)),
                    (None, None, None, None, Some(classes)) => Ok(PartitionSpec::Classes(classes)),
                    _ => Err(de::Error::custom(
                        "a partition table has exactly one of groups, isolate, one_way, cuts, classes",
                    )),
                }
            }
        }
        deserializer.deserialize_any(PartitionVisitor)
    }
}

impl PartitionSpec {
    pub(super) fn partition(&self, servers: &[NodeId]) -> Partition {
        let ids = |nodes: &[u32]| nodes.iter().copied().map(NodeId).collect::<Vec<_>>();
        match self {
            PartitionSpec::Shape(shape) => shape.partition(servers),
            PartitionSpec::Groups(groups) => Partition::Groups(groups.iter().map(|g| ids(g)).collect()),
            PartitionSpec::Isolate(TargetSpec::Node(node)) => {
                Partition::Isolate { node: Some(NodeId(*node)), among: servers.to_vec() }
            }
            PartitionSpec::Isolate(TargetSpec::Random) => {
                Partition::Isolate { node: None, among: servers.to_vec() }
            }
            PartitionSpec::Isolate(_) => unreachable!("planned as Fault::Isolate"),
            PartitionSpec::OneWay { from, to } => Partition::OneWay { from: ids(from), to: ids(to) },
            PartitionSpec::Cuts(cuts) => {
                Partition::Cuts(cuts.iter().map(|[a, b]| (NodeId(*a), NodeId(*b))).collect())
            }
            PartitionSpec::Classes(classes) => Partition::Classes(classes.clone()),
        }
    }

    fn nodes(&self) -> Vec<u32> {
        match self {
            PartitionSpec::Shape(_) => Vec::new(),
            PartitionSpec::Groups(groups) => groups.concat(),
            PartitionSpec::Isolate(TargetSpec::Node(node)) => vec![*node],
            PartitionSpec::Isolate(_) => Vec::new(),
            PartitionSpec::OneWay { from, to } => [from.as_slice(), to.as_slice()].concat(),
            PartitionSpec::Cuts(cuts) => cuts.iter().flatten().copied().collect(),
            PartitionSpec::Classes(_) => Vec::new(),
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

impl FaultSpec {
    /// The kinds this entry sets (exactly one is valid).
    pub fn kinds(&self) -> Vec<FaultKind> {
        FaultKind::ALL.into_iter().filter(|kind| self.sets(*kind)).collect()
    }

    /// The entry's kind, once validated.
    pub fn kind(&self) -> FaultKind {
        self.kinds()[0]
    }

    fn sets(&self, kind: FaultKind) -> bool {
        match kind {
            FaultKind::Partition => self.partition.is_some(),
            FaultKind::Heal => self.heal.is_some(),
            FaultKind::Crash => self.crash.is_some(),
            FaultKind::Restart => self.restart.is_some(),
            FaultKind::Pause => self.pause.is_some(),
            FaultKind::Resume => self.resume.is_some(),
            FaultKind::Clock => self.clock.is_some(),
            FaultKind::Disk => self.disk.is_some(),
            FaultKind::Network => self.network.is_some(),
        }
    }

    fn follow_up_set(&self, key: &str) -> bool {
        match key {
            "heal_after" => self.heal_after.is_some(),
            "restart_after" => self.restart_after.is_some(),
            "resume_after" => self.resume_after.is_some(),
            "restore_after" => self.restore_after.is_some(),
            _ => unreachable!("FaultKind::follow_up names these four"),
        }
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
            let names = |kinds: &[FaultKind]| kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ");
            let found = if kinds.is_empty() { "none".to_owned() } else { names(&kinds) };
            return Err((
                "at",
                format!("a fault has exactly one of {}; found {found}", names(&FaultKind::ALL)),
            ));
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
        for kind in FaultKind::ALL {
            if let Some((after, _)) = kind.follow_up() {
                if self.follow_up_set(after) && !self.sets(kind) {
                    return Err((after, format!("{after} goes with {kind}, not with {}", kinds[0])));
                }
            }
        }
        for after in
            [self.heal_after, self.restart_after, self.resume_after, self.restore_after].into_iter().flatten()
        {
            if after.is_zero() {
                return Err((
                    kinds[0].name(),
                    "a duration after a fault must be greater than zero".to_owned(),
                ));
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
        if let Some(PartitionSpec::Isolate(target)) = &self.partition {
            check_target("partition", target)?;
        }
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
            if let PartitionSpec::Classes(groups) = partition {
                let all: Vec<u16> = groups.concat();
                let unique: BTreeSet<u16> = all.iter().copied().collect();
                if unique.len() != all.len() || groups.len() < 2 {
                    return Err((
                        "partition",
                        "classes needs two or more groups, each class in one".to_owned(),
                    ));
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
