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
use std::time::Duration;

use serde::de;
use serde::Deserialize;

use super::network::{LinkChange, LinkOverride};
use super::shapes::{NodeRef, PartitionSpec, TargetSpec};
use super::text::{duration, format_signed, parse_signed, DurationRange, Range};
use crate::kernel::disk::DiskChange;
use crate::kernel::fault::{Fault, FaultKind};
use crate::kernel::rng::Probability;

/// How an entry of `kind` is written, after its key: what `simctl list` shows.
pub fn syntax(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::Partition => {
            "\"majority-minority\" | \"isolate\" | \"bridge\" | \"majorities-ring\" | { groups } | { isolate } | \
             { one_way = { from, to } } | { cuts } | { classes }"
        }
        FaultKind::Heal => "true: remove every cut | { fault = N }: the cuts of partition N only",
        FaultKind::Clog => "a partition shape whose links hold messages; reorder = true releases them out of order",
        FaultKind::Unclog => "true: release every clog's messages | { fault = N }: clog N only",
        FaultKind::Crash => "target; with restart_after, wiped = true restarts it into an empty disk",
        FaultKind::Wipe => "target (a down server): its disk loses every file",
        FaultKind::Version => "{ node = target, to = \"v2\" }: the [versions] entry (or \"base\") it restarts into",
        FaultKind::Slow => "{ node = target, per_event = \"5ms\" }",
        FaultKind::Pause | FaultKind::Restart | FaultKind::Resume => "target",
        FaultKind::Clock => "{ node = target, step = \"-500ms\" } | { node = target, drift_ppm = 200 }",
        FaultKind::Disk => {
            "{ node = target, corrupt = { file, offset, len } } | { node = target, fsync_latency, capacity, torn_writes, fsync_errors, write_errors, read_errors, lost_writes, misdirected_writes, stale_reads }"
        }
        FaultKind::Network => "any [network] field, e.g. { loss = 0.3 }",
        FaultKind::Link => "{ from, to, any [network] field }: those links' model | { restore = { fault = N } }",
        FaultKind::Replay => "{ chance = 0.01, delay = \"1s..5s\" }: late copies of old messages",
    }
}

/// One `[[faults]]` entry, parsed once: when, and what. Scenario files, the realized
/// timeline (`faults.toml`) and the shrinker all read and write this one type.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpec {
    /// When it happens.
    pub at: Duration,
    /// What happens.
    pub action: FaultAction,
}

/// What a fault entry does: one variant per kind, with the follow-up (`heal_after`,
/// `restart_after`, ...) where the kind has one.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    /// Cut links, and heal them all `heal_after` later.
    Partition {
        /// The shape.
        partition: PartitionSpec,
        /// Heal this long after.
        heal_after: Option<Duration>,
    },
    /// Remove every cut, or (`{ fault = N }`) partition N's only.
    Heal {
        /// The partition fault to heal, or every cut.
        partition: Option<u64>,
    },
    /// Hold the messages on a partition shape's links, and release them `unclog_after` later.
    Clog {
        /// The links.
        partition: PartitionSpec,
        /// Release them in a drawn order (`reorder = true`), not in arrival order.
        reorder: bool,
        /// Unclog this long after.
        unclog_after: Option<Duration>,
    },
    /// Release every clog, or (`{ fault = N }`) clog N only.
    Unclog {
        /// The clog fault to release, or every clog.
        clog: Option<u64>,
    },
    /// Crash a server, and restart it `restart_after` later.
    Crash {
        /// Which server.
        node: TargetSpec,
        /// Restart the same server this long after.
        restart_after: Option<Duration>,
        /// Wipe its disk just before that restart (`wiped = true`).
        wiped: bool,
    },
    /// Make each of a server's handlers cost `per_event`, and fast again `recover_after`.
    Slow {
        /// Which server.
        node: TargetSpec,
        /// What each handler costs.
        per_event: Duration,
        /// Fast again this long after.
        recover_after: Option<Duration>,
    },
    /// Empty a down server's disk.
    Wipe {
        /// Which server.
        node: TargetSpec,
    },
    /// The version a server runs from its next restart on.
    Version {
        /// Which server.
        node: TargetSpec,
        /// A `[versions]` name, or `"base"` (the scenario's `[settings]`).
        to: String,
    },
    /// Restart a crashed server.
    Restart {
        /// Which server.
        node: TargetSpec,
    },
    /// Pause a server, and resume it `resume_after` later.
    Pause {
        /// Which server.
        node: TargetSpec,
        /// Resume the same server this long after.
        resume_after: Option<Duration>,
    },
    /// Resume a paused server.
    Resume {
        /// Which server.
        node: TargetSpec,
    },
    /// Move a server's clock reading.
    ClockStep {
        /// Whose clock.
        node: TargetSpec,
        /// Nanoseconds to move it by (negative: backwards).
        step: i64,
    },
    /// Set a server's clock drift.
    ClockDrift {
        /// Whose clock.
        node: TargetSpec,
        /// Parts per million (positive: runs fast); more than -1,000,000.
        ppm: i64,
    },
    /// Flip bits in a region of a file.
    Corrupt {
        /// Whose disk.
        node: TargetSpec,
        /// The file; `prefix*` is one of the files starting with `prefix`, drawn per seed.
        file: String,
        /// First byte.
        offset: u64,
        /// Bytes to corrupt, at least 1.
        len: u64,
    },
    /// Change a server's disk configuration.
    Disk {
        /// Whose disk.
        node: TargetSpec,
        /// The fields that change (at least one).
        change: DiskChange,
    },
    /// Set the model of the links from each of `from` to each of `to` (`[network]` with
    /// `change` applied), and give them back their own `restore_after` later.
    Link {
        /// Senders (server indices).
        from: Vec<u32>,
        /// Receivers.
        to: Vec<u32>,
        /// What differs from `[network]`.
        change: LinkChange,
        /// Restore this long after.
        restore_after: Option<Duration>,
    },
    /// Give the links fault N changed back their models.
    LinkRestore {
        /// The link fault.
        fault: u64,
    },
    /// Replay old messages: a late copy of each with `chance`, `delay` after it; stop
    /// `stop_after` later.
    Replay {
        /// The chance per message.
        chance: Probability,
        /// How late, uniform in the range.
        delay: DurationRange,
        /// Stop this long after.
        stop_after: Option<Duration>,
    },
    /// Change the default link model, and restore `[network]` `restore_after` later.
    Network {
        /// The fields that change.
        change: LinkChange,
        /// Restore this long after.
        restore_after: Option<Duration>,
    },
}

impl FaultAction {
    /// Its kind: the key it is written under.
    pub fn kind(&self) -> FaultKind {
        match self {
            FaultAction::Partition { .. } => FaultKind::Partition,
            FaultAction::Heal { .. } => FaultKind::Heal,
            FaultAction::Clog { .. } => FaultKind::Clog,
            FaultAction::Unclog { .. } => FaultKind::Unclog,
            FaultAction::Crash { .. } => FaultKind::Crash,
            FaultAction::Restart { .. } => FaultKind::Restart,
            FaultAction::Wipe { .. } => FaultKind::Wipe,
            FaultAction::Version { .. } => FaultKind::Version,
            FaultAction::Slow { .. } => FaultKind::Slow,
            FaultAction::Pause { .. } => FaultKind::Pause,
            FaultAction::Resume { .. } => FaultKind::Resume,
            FaultAction::ClockStep { .. } | FaultAction::ClockDrift { .. } => FaultKind::Clock,
            FaultAction::Corrupt { .. } | FaultAction::Disk { .. } => FaultKind::Disk,
            FaultAction::Network { .. } => FaultKind::Network,
            FaultAction::Replay { .. } => FaultKind::Replay,
            FaultAction::Link { .. } | FaultAction::LinkRestore { .. } => FaultKind::Link,
        }
    }

    /// The follow-up's duration (`heal_after`, `restart_after`, ...), for the kinds that have
    /// one; the shrinker shortens it through this.
    pub fn after_mut(&mut self) -> Option<&mut Option<Duration>> {
        match self {
            FaultAction::Partition { heal_after: after, .. }
            | FaultAction::Clog { unclog_after: after, .. }
            | FaultAction::Crash { restart_after: after, .. }
            | FaultAction::Pause { resume_after: after, .. }
            | FaultAction::Network { restore_after: after, .. }
            | FaultAction::Slow { recover_after: after, .. }
            | FaultAction::Replay { stop_after: after, .. }
            | FaultAction::Link { restore_after: after, .. } => Some(after),
            _ => None,
        }
    }

    /// The follow-up's duration, if set.
    pub fn after(&self) -> Option<Duration> {
        self.clone().after_mut().and_then(|after| *after)
    }

    /// The server it hits, as written (for a partition, the isolated node).
    pub fn target(&self) -> Option<&TargetSpec> {
        match self {
            FaultAction::Partition { partition: PartitionSpec::Isolate(node), .. }
            | FaultAction::Crash { node, .. }
            | FaultAction::Restart { node }
            | FaultAction::Wipe { node }
            | FaultAction::Version { node, .. }
            | FaultAction::Slow { node, .. }
            | FaultAction::Pause { node, .. }
            | FaultAction::Resume { node }
            | FaultAction::ClockStep { node, .. }
            | FaultAction::ClockDrift { node, .. }
            | FaultAction::Corrupt { node, .. }
            | FaultAction::Disk { node, .. } => Some(node),
            FaultAction::Partition { .. }
            | FaultAction::Heal { .. }
            | FaultAction::Clog { .. }
            | FaultAction::Unclog { .. }
            | FaultAction::Network { .. }
            | FaultAction::Link { .. }
            | FaultAction::LinkRestore { .. }
            | FaultAction::Replay { .. } => None,
        }
    }

    /// Whether it ends an earlier fault's effect (heal, restart, resume): the shrinker moves
    /// these earlier, the others later.
    pub fn is_ending(&self) -> bool {
        match self {
            FaultAction::Heal { .. }
            | FaultAction::Unclog { .. }
            | FaultAction::Restart { .. }
            | FaultAction::Resume { .. }
            | FaultAction::LinkRestore { .. } => true,
            FaultAction::Slow { per_event, .. } => per_event.is_zero(),
            _ => false,
        }
    }

    /// A fault the kernel planned or realized in a run with `servers` servers, as an entry
    /// writes it.
    pub fn of(fault: &Fault, servers: u32) -> FaultAction {
        let of = |target: &crate::kernel::fault::Target| TargetSpec::of(target, servers);
        match fault {
            Fault::Partition(partition) => {
                FaultAction::Partition { partition: PartitionSpec::of(partition, servers), heal_after: None }
            }
            Fault::Isolate { node, .. } => {
                FaultAction::Partition { partition: PartitionSpec::Isolate(of(node)), heal_after: None }
            }
            Fault::Heal => FaultAction::Heal { partition: None },
            Fault::HealOne(partition) => FaultAction::Heal { partition: Some(*partition) },
            Fault::UnclogOne(clog) => FaultAction::Unclog { clog: Some(*clog) },
            Fault::Clog { partition, reorder } => FaultAction::Clog {
                partition: PartitionSpec::of(partition, servers),
                reorder: *reorder,
                unclog_after: None,
            },
            Fault::Unclog => FaultAction::Unclog { clog: None },
            Fault::Crash(node) => FaultAction::Crash { node: of(node), restart_after: None, wiped: false },
            Fault::Wipe(node) => FaultAction::Wipe { node: of(node) },
            Fault::Version { node, name, .. } => FaultAction::Version { node: of(node), to: name.clone() },
            Fault::Slow { node, per_event } => {
                FaultAction::Slow { node: of(node), per_event: *per_event, recover_after: None }
            }
            Fault::Restart(node) => FaultAction::Restart { node: of(node) },
            Fault::Pause(node) => FaultAction::Pause { node: of(node), resume_after: None },
            Fault::Resume(node) => FaultAction::Resume { node: of(node) },
            Fault::ClockStep { node, delta_nanos } => {
                FaultAction::ClockStep { node: of(node), step: *delta_nanos }
            }
            Fault::ClockDrift { node, ppm } => FaultAction::ClockDrift { node: of(node), ppm: *ppm },
            Fault::Corrupt { node, file, offset, len } => {
                FaultAction::Corrupt { node: of(node), file: file.clone(), offset: *offset, len: *len }
            }
            Fault::Disk { node, change } => FaultAction::Disk { node: of(node), change: change.clone() },
            Fault::Network(model) => {
                FaultAction::Network { change: LinkChange::of(model), restore_after: None }
            }
            Fault::Links { from, to, model } => FaultAction::Link {
                from: from.iter().map(|n| n.0).collect(),
                to: to.iter().map(|n| n.0).collect(),
                change: LinkChange::of(model),
                restore_after: None,
            },
            Fault::LinksRestore(fault) => FaultAction::LinkRestore { fault: *fault },
            Fault::Replay { chance, delay_min, delay_max } => FaultAction::Replay {
                chance: *chance,
                delay: DurationRange(Range { low: *delay_min, high: *delay_max }),
                stop_after: None,
            },
        }
    }

    /// The value under the entry's kind key, and the entry's other keys (the follow-up).
    fn to_toml(&self) -> (toml::Value, Vec<(&'static str, toml::Value)>) {
        let table = |pairs: Vec<(&str, toml::Value)>| {
            toml::Value::Table(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        };
        let key = self.kind().follow_up();
        let follow = |after: &Option<Duration>| {
            key.zip(*after).map(|(key, a)| (key, duration::format(a).into())).into_iter().collect()
        };
        match self {
            FaultAction::Partition { partition, heal_after } => (partition.to_toml(), follow(heal_after)),
            FaultAction::Heal { partition: one } | FaultAction::Unclog { clog: one } => {
                let value = match one {
                    None => true.into(),
                    Some(index) => TargetSpec::SameAs(*index).to_toml(),
                };
                (value, Vec::new())
            }
            FaultAction::Clog { partition, reorder, unclog_after } => {
                let mut keys: Vec<(&'static str, toml::Value)> = follow(unclog_after);
                if *reorder {
                    keys.push(("reorder", true.into()));
                }
                (partition.to_toml(), keys)
            }
            FaultAction::Crash { node, restart_after, wiped } => {
                let mut keys: Vec<(&'static str, toml::Value)> = follow(restart_after);
                if *wiped {
                    keys.push(("wiped", true.into()));
                }
                (node.to_toml(), keys)
            }
            FaultAction::Pause { node, resume_after } => (node.to_toml(), follow(resume_after)),
            FaultAction::Restart { node } | FaultAction::Wipe { node } | FaultAction::Resume { node } => {
                (node.to_toml(), Vec::new())
            }
            FaultAction::ClockStep { node, step } => {
                (table(vec![("node", node.to_toml()), ("step", format_signed(*step).into())]), Vec::new())
            }
            FaultAction::Version { node, to } => {
                (table(vec![("node", node.to_toml()), ("to", to.as_str().into())]), Vec::new())
            }
            FaultAction::Slow { node, per_event, recover_after } => {
                let value =
                    table(vec![("node", node.to_toml()), ("per_event", duration::format(*per_event).into())]);
                (value, follow(recover_after))
            }
            FaultAction::ClockDrift { node, ppm } => {
                (table(vec![("node", node.to_toml()), ("drift_ppm", (*ppm).into())]), Vec::new())
            }
            FaultAction::Corrupt { node, file, offset, len } => {
                let corrupt = table(vec![
                    ("file", file.as_str().into()),
                    ("offset", (*offset as i64).into()),
                    ("len", (*len as i64).into()),
                ]);
                (table(vec![("node", node.to_toml()), ("corrupt", corrupt)]), Vec::new())
            }
            FaultAction::Disk { node, change } => {
                let mut pairs = vec![("node", node.to_toml())];
                if let Some(latency) = change.fsync_latency {
                    pairs.push(("fsync_latency", duration::format(latency).into()));
                }
                if let Some(capacity) = change.capacity {
                    pairs.push((
                        "capacity",
                        capacity.map_or_else(|| "unlimited".into(), |c| (c as i64).into()),
                    ));
                }
                if let Some(torn) = change.torn_writes {
                    pairs.push(("torn_writes", torn.into()));
                }
                for (key, p) in [
                    ("fsync_errors", change.fsync_errors),
                    ("write_errors", change.write_errors),
                    ("read_errors", change.read_errors),
                    ("lost_writes", change.lost_writes),
                    ("misdirected_writes", change.misdirected_writes),
                    ("stale_reads", change.stale_reads),
                ] {
                    if let Some(p) = p {
                        pairs.push((key, p.as_f64().into()));
                    }
                }
                (table(pairs), Vec::new())
            }
            FaultAction::Link { from, to, change, restore_after } => {
                let ids =
                    |nodes: &[u32]| toml::Value::Array(nodes.iter().map(|n| i64::from(*n).into()).collect());
                let mut link = change.to_toml();
                link.insert("from".into(), ids(from));
                link.insert("to".into(), ids(to));
                (toml::Value::Table(link), follow(restore_after))
            }
            FaultAction::LinkRestore { fault } => {
                (table(vec![("restore", TargetSpec::SameAs(*fault).to_toml())]), Vec::new())
            }
            FaultAction::Replay { chance, delay, stop_after } => {
                let range = format!("{}..{}", duration::format(delay.0.low), duration::format(delay.0.high));
                (table(vec![("chance", chance.as_f64().into()), ("delay", range.into())]), follow(stop_after))
            }
            FaultAction::Network { change, restore_after } => {
                (toml::Value::Table(change.to_toml()), follow(restore_after))
            }
        }
    }
}

impl FaultSpec {
    /// The entry as a `[[faults]]` table: `at`, the kind's key, the follow-up if set.
    pub fn to_toml(&self) -> toml::Table {
        let mut entry = toml::Table::new();
        entry.insert("at".into(), duration::format(self.at).into());
        let (value, keys) = self.action.to_toml();
        entry.insert(self.action.kind().name().into(), value);
        for (key, value) in keys {
            entry.insert(key.into(), value);
        }
        entry
    }

    /// The rules that need the rest of the scenario (the servers, the roles, the run's
    /// length): `(key, message)` on failure.
    pub fn validate(
        &self,
        nodes: u32,
        clients: u32,
        roles: &[&str],
        duration: Duration,
    ) -> Result<(), (&'static str, String)> {
        let key = self.action.kind().name();
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
        match self.action.target() {
            Some(TargetSpec::Node(node)) if node.missing(nodes, clients).is_some() => {
                return Err((key, node.missing(nodes, clients).unwrap_or_default()));
            }
            Some(TargetSpec::Role(role)) if !roles.contains(&role.as_str()) => {
                let known = if roles.is_empty() {
                    "this system reports no roles".to_owned()
                } else {
                    format!("roles: {}", roles.join(", "))
                };
                return Err((
                    key,
                    format!("unknown target {role:?}: expected a node index, \"random\", {{ fault = N }}; {known}"),
                ));
            }
            _ => {}
        }
        if let FaultAction::Link { from, to, .. } = &self.action {
            if let Some(node) = from.iter().chain(to).find(|n| **n >= nodes) {
                return Err((key, format!("node {node} does not exist (servers are 0..{nodes})")));
            }
        }
        if let FaultAction::Partition { partition, .. } | FaultAction::Clog { partition, .. } = &self.action {
            if let Some(missing) = partition.nodes().into_iter().find_map(|n| n.missing(nodes, clients)) {
                return Err((key, missing));
            }
            if let (
                FaultAction::Clog { .. },
                PartitionSpec::Isolate(TargetSpec::Role(_) | TargetSpec::SameAs(_)),
            ) = (&self.action, partition)
            {
                return Err((key, "a clog isolates a node index or \"random\", not a role".to_owned()));
            }
        }
        Ok(())
    }
}

/// A `[[faults]]` table as written, before it becomes a [`FaultSpec`]: every kind's key is
/// optional here, and [`WrittenFault::parse`] checks that exactly one is set.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrittenFault {
    #[serde(with = "duration")]
    at: Duration,
    #[serde(default)]
    partition: Option<PartitionSpec>,
    #[serde(default, with = "duration::option")]
    heal_after: Option<Duration>,
    #[serde(default)]
    heal: Option<Ending>,
    #[serde(default)]
    clog: Option<PartitionSpec>,
    #[serde(default)]
    reorder: Option<bool>,
    #[serde(default, with = "duration::option")]
    unclog_after: Option<Duration>,
    #[serde(default)]
    unclog: Option<Ending>,
    #[serde(default)]
    crash: Option<TargetSpec>,
    #[serde(default, with = "duration::option")]
    restart_after: Option<Duration>,
    #[serde(default)]
    wiped: Option<bool>,
    #[serde(default)]
    restart: Option<TargetSpec>,
    #[serde(default)]
    wipe: Option<TargetSpec>,
    #[serde(default)]
    version: Option<VersionTable>,
    #[serde(default)]
    slow: Option<SlowTable>,
    #[serde(default, with = "duration::option")]
    recover_after: Option<Duration>,
    #[serde(default)]
    pause: Option<TargetSpec>,
    #[serde(default, with = "duration::option")]
    resume_after: Option<Duration>,
    #[serde(default)]
    resume: Option<TargetSpec>,
    #[serde(default)]
    clock: Option<ClockTable>,
    #[serde(default)]
    disk: Option<DiskTable>,
    #[serde(default)]
    network: Option<LinkChange>,
    #[serde(default, with = "duration::option")]
    restore_after: Option<Duration>,
    #[serde(default)]
    replay: Option<ReplayTable>,
    #[serde(default)]
    link: Option<LinkTable>,
    #[serde(default, with = "duration::option")]
    stop_after: Option<Duration>,
}

/// `heal = true` (every cut) or `heal = { fault = N }` (partition N's), and the same for
/// `unclog`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Ending(Option<u64>);

impl<'de> Deserialize<'de> for Ending {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Ending, D::Error> {
        struct EndingVisitor;
        impl<'de> de::Visitor<'de> for EndingVisitor {
            type Value = Ending;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "true (every one) or {{ fault = N }} (fault N's only)")
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Ending, E> {
                match value {
                    true => Ok(Ending(None)),
                    false => Err(E::custom("false does nothing; remove it")),
                }
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Ending, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct One {
                    fault: u64,
                }
                let one = One::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Ending(Some(one.fault)))
            }
        }
        deserializer.deserialize_any(EndingVisitor)
    }
}

/// `clock = { node = T, step = "-500ms" }` or `{ node = T, drift_ppm = 200 }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockTable {
    node: TargetSpec,
    #[serde(default)]
    step: Option<String>,
    #[serde(default)]
    drift_ppm: Option<i64>,
}

/// `link = { from = 0, to = [1, 2], loss = 0.5 }` (any `[network]` field), or
/// `link = { restore = { fault = N } }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged, expecting = "{ from, to, and [network] fields } or { restore = { fault = N } }")]
enum LinkTable {
    Restore { restore: Ending },
    Change(LinkOverride),
}

/// `replay = { chance = 0.01, delay = "1s..5s" }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayTable {
    #[serde(deserialize_with = "super::network::probability")]
    chance: Probability,
    delay: DurationRange,
}

/// `version = { node = T, to = "v2" }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionTable {
    node: TargetSpec,
    to: String,
}

/// `slow = { node = T, per_event = "5ms" }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlowTable {
    node: TargetSpec,
    #[serde(with = "duration")]
    per_event: Duration,
}

/// `corrupt = { file = "log", offset = 0, len = 64 }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct CorruptTable {
    file: String,
    #[serde(default)]
    offset: u64,
    len: u64,
}

/// A disk capacity: bytes, or `"unlimited"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Capacity(Option<u64>);

impl<'de> Deserialize<'de> for Capacity {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Capacity, D::Error> {
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
struct DiskTable {
    node: TargetSpec,
    #[serde(default)]
    corrupt: Option<CorruptTable>,
    #[serde(default, with = "duration::option")]
    fsync_latency: Option<Duration>,
    #[serde(default)]
    capacity: Option<Capacity>,
    #[serde(default)]
    torn_writes: Option<bool>,
    #[serde(default, deserialize_with = "super::network::some_probability")]
    fsync_errors: Option<Probability>,
    #[serde(default, deserialize_with = "super::network::some_probability")]
    write_errors: Option<Probability>,
    #[serde(default, deserialize_with = "super::network::some_probability")]
    read_errors: Option<Probability>,
    #[serde(default, deserialize_with = "super::network::some_probability")]
    lost_writes: Option<Probability>,
    #[serde(default, deserialize_with = "super::network::some_probability")]
    misdirected_writes: Option<Probability>,
    #[serde(default, deserialize_with = "super::network::some_probability")]
    stale_reads: Option<Probability>,
}

/// The one kind key a `[[faults]]` table set, with its value.
enum KindTable {
    Partition(PartitionSpec),
    Heal(Ending),
    Clog(PartitionSpec),
    Unclog(Ending),
    Crash(TargetSpec),
    Restart(TargetSpec),
    Wipe(TargetSpec),
    Version(VersionTable),
    Slow(SlowTable),
    Pause(TargetSpec),
    Resume(TargetSpec),
    Clock(ClockTable),
    Disk(DiskTable),
    Network(LinkChange),
    Replay(ReplayTable),
    Link(LinkTable),
}

impl KindTable {
    fn kind(&self) -> FaultKind {
        match self {
            KindTable::Partition(_) => FaultKind::Partition,
            KindTable::Heal(_) => FaultKind::Heal,
            KindTable::Clog(_) => FaultKind::Clog,
            KindTable::Unclog(_) => FaultKind::Unclog,
            KindTable::Crash(_) => FaultKind::Crash,
            KindTable::Restart(_) => FaultKind::Restart,
            KindTable::Wipe(_) => FaultKind::Wipe,
            KindTable::Version(_) => FaultKind::Version,
            KindTable::Slow(_) => FaultKind::Slow,
            KindTable::Pause(_) => FaultKind::Pause,
            KindTable::Resume(_) => FaultKind::Resume,
            KindTable::Clock(_) => FaultKind::Clock,
            KindTable::Disk(_) => FaultKind::Disk,
            KindTable::Network(_) => FaultKind::Network,
            KindTable::Replay(_) => FaultKind::Replay,
            KindTable::Link(_) => FaultKind::Link,
        }
    }
}

impl WrittenFault {
    /// The kind keys this table sets, with their values (exactly one is valid), in
    /// `FaultKind::ALL`'s order.
    fn take_kinds(&mut self) -> Vec<KindTable> {
        let mut kinds: Vec<KindTable> = [
            self.partition.take().map(KindTable::Partition),
            self.heal.take().map(KindTable::Heal),
            self.clog.take().map(KindTable::Clog),
            self.unclog.take().map(KindTable::Unclog),
            self.crash.take().map(KindTable::Crash),
            self.restart.take().map(KindTable::Restart),
            self.wipe.take().map(KindTable::Wipe),
            self.version.take().map(KindTable::Version),
            self.slow.take().map(KindTable::Slow),
            self.pause.take().map(KindTable::Pause),
            self.resume.take().map(KindTable::Resume),
            self.clock.take().map(KindTable::Clock),
            self.disk.take().map(KindTable::Disk),
            self.network.take().map(KindTable::Network),
            self.replay.take().map(KindTable::Replay),
            self.link.take().map(KindTable::Link),
        ]
        .into_iter()
        .flatten()
        .collect();
        let position = |kind: FaultKind| FaultKind::ALL.iter().position(|k| *k == kind);
        kinds.sort_by_key(|table| position(table.kind()));
        kinds
    }

    /// The typed entry, or `(key, message)` for the rule this table breaks.
    pub fn parse(mut self) -> Result<FaultSpec, (&'static str, String)> {
        let tables = self.take_kinds();
        let [table] = <[KindTable; 1]>::try_from(tables).map_err(|tables| {
            let names = |kinds: Vec<FaultKind>| kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ");
            let found = if tables.is_empty() {
                "none".to_owned()
            } else {
                names(tables.iter().map(KindTable::kind).collect())
            };
            ("at", format!("a fault has exactly one of {}; found {found}", names(FaultKind::ALL.to_vec())))
        })?;
        let kind = table.kind();
        let follow_ups = [
            ("heal_after", self.heal_after),
            ("unclog_after", self.unclog_after),
            ("restart_after", self.restart_after),
            ("resume_after", self.resume_after),
            ("restore_after", self.restore_after),
            ("recover_after", self.recover_after),
            ("stop_after", self.stop_after),
        ];
        // Which kind a follow-up key goes with is `FaultKind::follow_up`'s to say.
        let own = kind.follow_up();
        for (key, after) in follow_ups {
            match after {
                Some(_) if own != Some(key) => {
                    let owners: Vec<&str> = FaultKind::ALL
                        .into_iter()
                        .filter(|k| k.follow_up() == Some(key))
                        .map(FaultKind::name)
                        .collect();
                    return Err((key, format!("{key} goes with {}, not with {kind}", owners.join(" or "))));
                }
                Some(after) if after.is_zero() => {
                    return Err((
                        kind.name(),
                        "a duration after a fault must be greater than zero".to_owned(),
                    ))
                }
                _ => {}
            }
        }
        if self.reorder.is_some() && kind != FaultKind::Clog {
            return Err(("reorder", format!("reorder goes with clog, not with {kind}")));
        }
        if self.wiped.is_some() && (kind != FaultKind::Crash || self.restart_after.is_none()) {
            return Err(("wiped", "wiped goes with crash and restart_after".to_owned()));
        }
        let at = self.at;
        let action = match table {
            KindTable::Partition(partition) => {
                check_shape("partition", &partition)?;
                FaultAction::Partition { partition, heal_after: self.heal_after }
            }
            KindTable::Heal(ending) => FaultAction::Heal { partition: ending.0 },
            KindTable::Clog(partition) => {
                check_shape("clog", &partition)?;
                FaultAction::Clog {
                    partition,
                    reorder: self.reorder == Some(true),
                    unclog_after: self.unclog_after,
                }
            }
            KindTable::Unclog(ending) => FaultAction::Unclog { clog: ending.0 },
            KindTable::Crash(node) => FaultAction::Crash {
                node,
                restart_after: self.restart_after,
                wiped: self.wiped == Some(true),
            },
            KindTable::Wipe(node) => FaultAction::Wipe { node },
            KindTable::Version(VersionTable { node, to }) => FaultAction::Version { node, to },
            KindTable::Slow(SlowTable { node, per_event }) => {
                FaultAction::Slow { node, per_event, recover_after: self.recover_after }
            }
            KindTable::Restart(node) => FaultAction::Restart { node },
            KindTable::Pause(node) => FaultAction::Pause { node, resume_after: self.resume_after },
            KindTable::Resume(node) => FaultAction::Resume { node },
            KindTable::Clock(ClockTable { node, step, drift_ppm }) => match (step, drift_ppm) {
                (Some(step), None) => {
                    FaultAction::ClockStep { node, step: parse_signed(&step).map_err(|e| ("clock", e))? }
                }
                (None, Some(ppm)) if ppm <= -1_000_000 => {
                    return Err((
                        "clock",
                        format!("drift_ppm {ppm} would stop the clock (must be > -1000000)"),
                    ))
                }
                (None, Some(ppm)) => FaultAction::ClockDrift { node, ppm },
                _ => return Err(("clock", "a clock fault has exactly one of step, drift_ppm".to_owned())),
            },
            KindTable::Disk(disk) => {
                let DiskTable {
                    node,
                    corrupt,
                    fsync_latency,
                    capacity,
                    torn_writes,
                    fsync_errors,
                    write_errors,
                    read_errors,
                    lost_writes,
                    misdirected_writes,
                    stale_reads,
                } = disk;
                let change = DiskChange {
                    capacity: capacity.map(|c| c.0),
                    fsync_latency,
                    torn_writes,
                    fsync_errors,
                    write_errors,
                    read_errors,
                    lost_writes,
                    misdirected_writes,
                    stale_reads,
                };
                let changes = change != DiskChange::default();
                match corrupt {
                    Some(_) if changes => {
                        return Err((
                            "disk",
                            "a disk fault either corrupts or changes the configuration, not both".to_owned(),
                        ))
                    }
                    Some(corrupt) if corrupt.len == 0 => {
                        return Err(("disk", "corrupt.len must be at least 1".to_owned()))
                    }
                    Some(CorruptTable { file, offset, len }) => {
                        FaultAction::Corrupt { node, file, offset, len }
                    }
                    None if changes => FaultAction::Disk { node, change },
                    None => {
                        return Err((
                            "disk",
                            "a disk fault needs corrupt, fsync_latency, capacity or torn_writes".to_owned(),
                        ))
                    }
                }
            }
            KindTable::Network(change) => FaultAction::Network { change, restore_after: self.restore_after },
            KindTable::Link(link) => match link {
                LinkTable::Restore { restore: Ending(Some(fault)) } if self.restore_after.is_none() => {
                    FaultAction::LinkRestore { fault }
                }
                LinkTable::Restore { .. } => {
                    return Err((
                        "link",
                        "restore names the link fault it undoes: { restore = { fault = N } }".to_owned(),
                    ))
                }
                LinkTable::Change(link) => FaultAction::Link {
                    from: link.from.indices(),
                    to: link.to.indices(),
                    change: link.change,
                    restore_after: self.restore_after,
                },
            },
            KindTable::Replay(ReplayTable { chance, delay }) => {
                FaultAction::Replay { chance, delay, stop_after: self.stop_after }
            }
        };
        Ok(FaultSpec { at, action })
    }
}

/// The rules of a partition shape that need nothing else: no node in two groups, at least
/// two groups of classes.
fn check_shape(key: &'static str, partition: &PartitionSpec) -> Result<(), (&'static str, String)> {
    if let PartitionSpec::Groups(groups) = partition {
        let all: Vec<NodeRef> = groups.concat();
        if all.iter().collect::<BTreeSet<_>>().len() != all.len() {
            return Err((key, "a node appears in two groups".to_owned()));
        }
    }
    if let PartitionSpec::Classes(groups) = partition {
        let all: Vec<u16> = groups.concat();
        if all.iter().collect::<BTreeSet<_>>().len() != all.len() || groups.len() < 2 {
            return Err((key, "classes needs two or more groups, each class in one".to_owned()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Shape;

    /// Every kind as an entry writes it, back through the written table to the same value.
    #[test]
    fn every_kind_round_trips_through_its_table() {
        let secs = Duration::from_secs;
        let node = TargetSpec::Node(NodeRef::Server(2));
        let (s, c) = (NodeRef::Server, NodeRef::Client);
        let actions = vec![
            FaultAction::Partition {
                partition: PartitionSpec::Groups(vec![vec![s(0), c(1)], vec![s(1), s(2), c(0)]]),
                heal_after: Some(secs(2)),
            },
            FaultAction::Partition {
                partition: PartitionSpec::OneWay { from: vec![c(0)], to: vec![s(0), s(1)] },
                heal_after: None,
            },
            FaultAction::Partition {
                partition: PartitionSpec::Isolate(TargetSpec::Role("leader".into())),
                heal_after: None,
            },
            FaultAction::Heal { partition: None },
            FaultAction::Heal { partition: Some(3) },
            FaultAction::Clog {
                partition: PartitionSpec::Shape(Shape::Bridge),
                reorder: true,
                unclog_after: Some(secs(1)),
            },
            FaultAction::Clog {
                partition: PartitionSpec::Cuts(vec![[s(0), s(1)], [c(2), s(0)]]),
                reorder: false,
                unclog_after: None,
            },
            FaultAction::Unclog { clog: None },
            FaultAction::Unclog { clog: Some(4) },
            FaultAction::Crash { node: TargetSpec::Random, restart_after: Some(secs(3)), wiped: true },
            FaultAction::Crash { node: node.clone(), restart_after: None, wiped: false },
            FaultAction::Crash { node: TargetSpec::Node(c(1)), restart_after: Some(secs(1)), wiped: false },
            FaultAction::Wipe { node: node.clone() },
            FaultAction::Version { node: node.clone(), to: "v2".into() },
            FaultAction::Slow {
                node: node.clone(),
                per_event: Duration::from_millis(5),
                recover_after: Some(secs(2)),
            },
            FaultAction::Link {
                from: vec![0],
                to: vec![1, 2],
                change: LinkChange { loss: Some(Probability::new(0.5).unwrap()), ..LinkChange::default() },
                restore_after: Some(secs(3)),
            },
            FaultAction::LinkRestore { fault: 2 },
            FaultAction::Replay {
                chance: Probability::new(0.01).unwrap(),
                delay: DurationRange(Range { low: secs(1), high: secs(5) }),
                stop_after: Some(secs(10)),
            },
            FaultAction::Restart { node: TargetSpec::SameAs(4) },
            FaultAction::Pause { node: node.clone(), resume_after: Some(secs(1)) },
            FaultAction::Resume { node: node.clone() },
            FaultAction::ClockStep { node: node.clone(), step: -1_500_000 },
            FaultAction::ClockDrift { node: node.clone(), ppm: 200 },
            FaultAction::Corrupt { node: node.clone(), file: "chunk/*".into(), offset: 3, len: 9 },
            FaultAction::Disk {
                node: node.clone(),
                change: DiskChange {
                    capacity: Some(None),
                    fsync_latency: Some(secs(1)),
                    torn_writes: Some(true),
                    fsync_errors: Some(Probability::new(0.5).unwrap()),
                    write_errors: None,
                    read_errors: Some(Probability::new(0.2).unwrap()),
                    lost_writes: Some(Probability::new(0.01).unwrap()),
                    misdirected_writes: None,
                    stale_reads: Some(Probability::ALWAYS),
                },
            },
            FaultAction::Network {
                change: LinkChange { loss: Some(Probability::new(0.25).unwrap()), ..LinkChange::default() },
                restore_after: Some(secs(5)),
            },
        ];
        for action in actions {
            let spec = FaultSpec { at: Duration::from_millis(1_500), action };
            let text = toml::to_string(&spec.to_toml()).unwrap();
            let written: WrittenFault = toml::from_str(&text).unwrap();
            assert_eq!(written.parse(), Ok(spec.clone()), "{text}");
        }
    }

    #[test]
    fn a_table_breaking_a_rule_names_the_key() {
        let parse = |text: &str| toml::from_str::<WrittenFault>(text).unwrap().parse().unwrap_err();
        assert_eq!(parse("at = \"1s\"").0, "at");
        assert_eq!(parse("at = \"1s\"\ncrash = 1\nheal = true").1, "a fault has exactly one of partition, heal, clog, unclog, crash, restart, wipe, version, slow, pause, resume, clock, disk, network, link, replay; found heal, crash");
        assert_eq!(parse("at = \"1s\"\ncrash = 1\nheal_after = \"1s\"").0, "heal_after");
        assert_eq!(
            parse("at = \"1s\"\ncrash = 1\nrestore_after = \"1s\"").1,
            "restore_after goes with network or link, not with crash"
        );
        assert_eq!(parse("at = \"1s\"\nheal = true\nreorder = true").0, "reorder");
        assert_eq!(parse("at = \"1s\"\ncrash = 1\nwiped = true").0, "wiped");
        assert_eq!(parse("at = \"1s\"\nclog = { groups = [[0], [0, 1]] }").0, "clog");
        assert_eq!(parse("at = \"1s\"\nclock = { node = 1, step = \"soon\" }").0, "clock");
    }
}
