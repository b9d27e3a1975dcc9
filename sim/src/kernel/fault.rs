//! Faults the engine can inject, and the log of what was realized.
//!
//! A fault is data: it can be scheduled at a time (`Sim::schedule`) or applied at once
//! (`Sim::apply`). Random parts (which node to isolate, how bits flip) are drawn from the
//! faults stream when the fault is applied, and the log records the realized, explicit form,
//! so that replaying the log reproduces the faults without the random draws.
//!
//! Process faults:
//! - `Crash`: the node's value is dropped (all volatile state is lost), its pending timers
//!   are cancelled, messages in flight to it and messages queued while it was paused are
//!   dropped, and its disk loses everything not fsynced (see `disk`). Dropping the value runs
//!   its destructors, but its disk handles are fenced first, so nothing they write or sync
//!   reaches the disk: a crashed process runs no code that matters. Messages it sent
//!   before the crash are already on the wire and are still delivered.
//! - `Restart`: a fresh value is built by the node's factory and `on_start` runs. Messages
//!   sent to the node while it was down and arriving after the restart are delivered.
//!
//! Network faults:
//! - `Partition`/`Heal`: see `partition`.
//! - `HealOne(N)` removes the cuts of partition fault `N` only: a link another partition
//!   also cut stays cut (a swarm heal does not end an explicit partition).
//! - `Clog`/`Unclog` (FoundationDB's clogging): the links of a partition shape hold every
//!   message that arrives on them instead of delivering or dropping it. Sending is not
//!   affected; a message in flight when the clog starts is held when it arrives. `Unclog`
//!   removes every clog (`UnclogOne(N)` clog fault `N` only) and releases the held messages
//!   whose links no clog holds any more, at once, at the unclog time, in the order they
//!   arrived, or in an order drawn from the fault's stream if a clog released said
//!   `reorder` (a burst of late messages from an old term or epoch). A released message is
//!   judged again as it is delivered: dropped if its receiver crashed or restarted since it
//!   was sent, or if a partition cuts its link then, held again by a newer clog. Timers are
//!   not affected. Held messages count as in flight.
//!
//! Process faults, continued:
//! - `Wipe`: a down node's disk loses every file, durable or not (see `disk`); it counts
//!   against the damage budget. With the restart that follows, the node comes back with
//!   its identity and nothing else: FoundationDB's RebootAndDelete.
//! - `Version`: the node runs version `version` of its software from its next start on
//!   (`Sim::add_version`; 0 is the one it was added with): a crash and a restart after it
//!   are an upgrade or a downgrade. Its disk, identity and clock stay; nothing else changes
//!   until the restart, so a rolling upgrade is a crash, a version and a restart per node.
//! - `Slow`: every handler the node runs from now on costs it `per_event` of true time after
//!   it returns, as a slow fsync does: what arrives meanwhile waits, so heartbeats are
//!   answered late though nothing is lost. Zero makes it fast again. A crash keeps it (the
//!   machine is slow, not the process).
//! - `Pause`/`Resume`: a paused node runs nothing; messages that arrive and timers that
//!   fire meanwhile queue up, and on resume it handles them, in arrival order, at the resume
//!   time (a stop-the-world GC pause, or SIGSTOP/SIGCONT).

use std::fmt;

use super::disk::DiskChange;
use super::ids::NodeId;
use super::network::LinkModel;
use super::partition::Partition;
use super::time::Time;

/// Which node a fault hits, decided when it is applied.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// This node.
    Node(NodeId),
    /// One of these, drawn from the fault's own stream.
    Random(Vec<NodeId>),
    /// A node among `among` whose role (as it reports with `Ctx::set_role`) is `role`; if
    /// several are (two leaders in different terms), one of them at random.
    Role {
        /// The role, e.g. "leader".
        role: String,
        /// The nodes to look among.
        among: Vec<NodeId>,
    },
    /// The node that fault number `index` (in scheduling order) hit: a restart after a crash
    /// of "the leader" restarts that node, whoever leads by then.
    SameAs(u64),
}

impl From<NodeId> for Target {
    fn from(node: NodeId) -> Target {
        Target::Node(node)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Node(node) => write!(f, "{node}"),
            Target::Random(_) => write!(f, "a random node"),
            Target::Role { role, .. } => write!(f, "the {role}"),
            Target::SameAs(index) => write!(f, "the node fault #{index} hit"),
        }
    }
}

/// A fault to inject.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Adds the cuts of a partition shape.
    Partition(Partition),
    /// Cuts one node off from the rest of `among`, the node chosen when it applies ("the
    /// leader"); realized as a partition.
    Isolate {
        /// The node to cut off.
        node: Target,
        /// The nodes it is cut off from.
        among: Vec<NodeId>,
    },
    /// Removes every cut.
    Heal,
    /// Removes the cuts of partition fault number `N`, leaving the links other partitions
    /// cut (`heal_after`, a swarm partition's end).
    HealOne(u64),
    /// Makes the links of a partition shape hold the messages arriving on them (see the
    /// module docs).
    Clog {
        /// The links, as a partition shape.
        partition: Partition,
        /// Release the held messages in a drawn order rather than in arrival order.
        reorder: bool,
    },
    /// Removes every clog and releases what the clogs held.
    Unclog,
    /// Removes clog fault number `N` and releases what no other clog holds.
    UnclogOne(u64),
    /// Crashes a node (see the module docs).
    Crash(Target),
    /// Restarts a crashed node.
    Restart(Target),
    /// Empties a down node's disk.
    Wipe(Target),
    /// The version of its software a node runs from its next start.
    Version {
        /// The node.
        node: Target,
        /// The version's index (0: the one it was added with).
        version: u32,
        /// The version's name, for logs and `faults.toml`.
        name: String,
    },
    /// Makes each of a node's handlers cost `per_event` of true time (zero: normal).
    Slow {
        /// The node.
        node: Target,
        /// What each handler costs.
        per_event: std::time::Duration,
    },
    /// Pauses a node.
    Pause(Target),
    /// Resumes a paused node.
    Resume(Target),
    /// Moves a node's clock reading by `delta_nanos` (negative: backwards).
    ClockStep {
        /// The node whose clock moves.
        node: Target,
        /// Nanoseconds to move it by.
        delta_nanos: i64,
    },
    /// Sets a node's clock drift, in parts per million (positive: runs fast).
    ClockDrift {
        /// The node whose clock drifts.
        node: Target,
        /// The new drift.
        ppm: i64,
    },
    /// Flips bits in a region of a file on a node's disk (counts against the damage budget).
    Corrupt {
        /// The node whose disk is damaged.
        node: Target,
        /// The file.
        file: String,
        /// First byte of the region.
        offset: u64,
        /// Length of the region (clipped to the file).
        len: u64,
    },
    /// Changes a node's disk configuration (slow fsync, capacity, torn writes).
    Disk {
        /// The node whose disk changes.
        node: Target,
        /// The fields that change.
        change: DiskChange,
    },
    /// Replaces the default link model (a loss burst, a latency spike).
    Network(LinkModel),
    /// Sets the model of the links from each of `from` to each of `to` (a flaky link, a slow
    /// node), until `LinksRestore` of this fault.
    Links {
        /// Senders.
        from: Vec<NodeId>,
        /// Receivers.
        to: Vec<NodeId>,
        /// Their model meanwhile.
        model: LinkModel,
    },
    /// Gives the links fault number `N` changed back the models they had before it.
    LinksRestore(u64),
    /// From now on each message between two nodes has, with `chance`, a late copy arriving
    /// `delay_min..delay_max` after it (an old packet replayed); a zero chance stops it.
    Replay {
        /// The chance per message.
        chance: crate::kernel::rng::Probability,
        /// The least delay after the original's arrival.
        delay_min: std::time::Duration,
        /// The most.
        delay_max: std::time::Duration,
    },
}

/// What kind of fault an entry is: the key it has in a `[[faults]]` entry and in
/// `faults.toml`, and the name the coverage ledger counts it under. Every piece of code that
/// needs a fault's kind (the summary, a sweep's coverage, `simctl list`, the shrinker's
/// pairing of starts and ends) takes it from here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// Cuts links: every partition shape and an isolated node.
    Partition,
    /// Removes every cut.
    Heal,
    /// Holds the messages on a partition shape's links.
    Clog,
    /// Releases every clog.
    Unclog,
    /// Crashes a node.
    Crash,
    /// Restarts a crashed node.
    Restart,
    /// Empties a down node's disk.
    Wipe,
    /// Sets the version a node restarts into.
    Version,
    /// Makes a node's handlers take time.
    Slow,
    /// Pauses a node.
    Pause,
    /// Resumes a paused node.
    Resume,
    /// Steps a clock or sets its drift.
    Clock,
    /// Corrupts a disk or changes its configuration.
    Disk,
    /// Replaces the default link model.
    Network,
    /// Changes some links' model for a while.
    Link,
    /// Replays old packets late.
    Replay,
}

impl FaultKind {
    /// Every kind, in the order `simctl list` shows them.
    pub const ALL: [FaultKind; 16] = [
        FaultKind::Partition,
        FaultKind::Heal,
        FaultKind::Clog,
        FaultKind::Unclog,
        FaultKind::Crash,
        FaultKind::Restart,
        FaultKind::Wipe,
        FaultKind::Version,
        FaultKind::Slow,
        FaultKind::Pause,
        FaultKind::Resume,
        FaultKind::Clock,
        FaultKind::Disk,
        FaultKind::Network,
        FaultKind::Link,
        FaultKind::Replay,
    ];

    /// Its key in a `[[faults]]` entry: `partition`, `crash`, ...
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Heal => "heal",
            FaultKind::Clog => "clog",
            FaultKind::Unclog => "unclog",
            FaultKind::Crash => "crash",
            FaultKind::Restart => "restart",
            FaultKind::Wipe => "wipe",
            FaultKind::Version => "version",
            FaultKind::Slow => "slow",
            FaultKind::Pause => "pause",
            FaultKind::Resume => "resume",
            FaultKind::Clock => "clock",
            FaultKind::Disk => "disk",
            FaultKind::Network => "network",
            FaultKind::Link => "link",
            FaultKind::Replay => "replay",
        }
    }

    /// The `*_after` key that schedules this kind's end in the same entry (a crash's
    /// `restart_after`).
    pub fn follow_up(self) -> Option<&'static str> {
        match self {
            FaultKind::Partition => Some("heal_after"),
            FaultKind::Clog => Some("unclog_after"),
            FaultKind::Crash => Some("restart_after"),
            FaultKind::Pause => Some("resume_after"),
            FaultKind::Network | FaultKind::Link => Some("restore_after"),
            FaultKind::Slow => Some("recover_after"),
            FaultKind::Replay => Some("stop_after"),
            _ => None,
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The target of a fault that hits one node, by shared or mutable reference: the one list
/// of which faults hit a node, for `Fault::target` and `Fault::target_mut`.
macro_rules! node_target {
    ($fault:expr) => {
        match $fault {
            Fault::Crash(target)
            | Fault::Restart(target)
            | Fault::Wipe(target)
            | Fault::Pause(target)
            | Fault::Resume(target) => Some(target),
            Fault::ClockStep { node, .. }
            | Fault::ClockDrift { node, .. }
            | Fault::Slow { node, .. }
            | Fault::Version { node, .. }
            | Fault::Corrupt { node, .. }
            | Fault::Disk { node, .. }
            | Fault::Isolate { node, .. } => Some(node),
            Fault::Partition(_)
            | Fault::Heal
            | Fault::HealOne(_)
            | Fault::Clog { .. }
            | Fault::Unclog
            | Fault::UnclogOne(_)
            | Fault::Network(_)
            | Fault::Links { .. }
            | Fault::LinksRestore(_)
            | Fault::Replay { .. } => None,
        }
    };
}

impl Fault {
    /// Its kind.
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Partition(_) | Fault::Isolate { .. } => FaultKind::Partition,
            Fault::Heal | Fault::HealOne(_) => FaultKind::Heal,
            Fault::Clog { .. } => FaultKind::Clog,
            Fault::Unclog | Fault::UnclogOne(_) => FaultKind::Unclog,
            Fault::Crash(_) => FaultKind::Crash,
            Fault::Restart(_) => FaultKind::Restart,
            Fault::Wipe(_) => FaultKind::Wipe,
            Fault::Version { .. } => FaultKind::Version,
            Fault::Slow { .. } => FaultKind::Slow,
            Fault::Pause(_) => FaultKind::Pause,
            Fault::Resume(_) => FaultKind::Resume,
            Fault::ClockStep { .. } | Fault::ClockDrift { .. } => FaultKind::Clock,
            Fault::Corrupt { .. } | Fault::Disk { .. } => FaultKind::Disk,
            Fault::Network(_) => FaultKind::Network,
            Fault::Links { .. } | Fault::LinksRestore(_) => FaultKind::Link,
            Fault::Replay { .. } => FaultKind::Replay,
        }
    }

    /// The target of a fault that hits one node.
    pub fn target(&self) -> Option<&Target> {
        node_target!(self)
    }

    fn target_mut(&mut self) -> Option<&mut Target> {
        node_target!(self)
    }

    /// The node a fault hits, once its target is resolved.
    pub fn node(&self) -> Option<NodeId> {
        match self.target() {
            Some(Target::Node(node)) => Some(*node),
            _ => None,
        }
    }

    /// This fault with its target replaced by the resolved node.
    pub(crate) fn resolved(mut self, node: NodeId) -> Fault {
        if let Some(target) = self.target_mut() {
            *target = Target::Node(node);
        }
        self
    }
}

impl fmt::Display for Fault {
    /// One line for tables and summaries: `partition [n0 n1] | [n2 n3 n4]`, `crash n2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |nodes: &[NodeId]| nodes.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" ");
        match self {
            Fault::Partition(Partition::Classes(groups)) => {
                let groups: Vec<String> = groups.iter().map(|g| format!("{g:?}")).collect();
                write!(f, "partition classes {}", groups.join(" | "))
            }
            Fault::Partition(Partition::Groups(groups)) => {
                let groups: Vec<String> = groups.iter().map(|g| format!("[{}]", list(g))).collect();
                write!(f, "partition {}", groups.join(" | "))
            }
            Fault::Partition(Partition::OneWay { from, to }) => {
                write!(f, "one-way cut [{}] -> [{}]", list(from), list(to))
            }
            Fault::Partition(Partition::Cuts(cuts)) => {
                write!(f, "partition: {} directed links cut", cuts.len())
            }
            Fault::Partition(Partition::Isolate { node: Some(node), .. }) => {
                write!(f, "partition: isolate {node}")
            }
            Fault::Partition(Partition::Isolate { node: None, .. }) => {
                write!(f, "partition: isolate a random node")
            }
            Fault::Partition(Partition::MajorityMinority { .. }) => write!(f, "partition: majority-minority"),
            Fault::Partition(Partition::Bridge { .. }) => write!(f, "partition: bridge"),
            Fault::Partition(Partition::MajoritiesRing { .. }) => write!(f, "partition: majorities-ring"),
            Fault::Isolate { node, .. } => write!(f, "partition: isolate {node}"),
            Fault::Heal => write!(f, "heal"),
            Fault::HealOne(partition) => write!(f, "heal the partition of fault #{partition}"),
            Fault::UnclogOne(clog) => write!(f, "unclog the clog of fault #{clog}"),
            Fault::Clog { partition, reorder } => {
                let shape = Fault::Partition(partition.clone()).to_string();
                let shape = shape.trim_start_matches("partition").trim_start_matches(':').trim_start();
                write!(f, "clog {shape}{}", if *reorder { ", released out of order" } else { "" })
            }
            Fault::Unclog => write!(f, "unclog"),
            Fault::Crash(target) => write!(f, "crash {target}"),
            Fault::Restart(target) => write!(f, "restart {target}"),
            Fault::Wipe(target) => write!(f, "wipe {target}'s disk"),
            Fault::Version { node, name, .. } => write!(f, "{node} restarts into version {name}"),
            Fault::Slow { node, per_event } if per_event.is_zero() => write!(f, "{node} fast again"),
            Fault::Slow { node, per_event } => write!(f, "slow {node}: {per_event:?} per event"),
            Fault::Pause(target) => write!(f, "pause {target}"),
            Fault::Resume(target) => write!(f, "resume {target}"),
            Fault::ClockStep { node, delta_nanos } => {
                write!(f, "clock step {node} by {:+.3}ms", *delta_nanos as f64 / 1e6)
            }
            Fault::ClockDrift { node, ppm } => write!(f, "clock drift {node} {ppm:+} ppm"),
            Fault::Corrupt { node, file, offset, len } => {
                write!(f, "corrupt {node} {file} bytes {offset}..{}", offset + len)
            }
            Fault::Disk { node, change } => {
                write!(f, "disk {node}")?;
                if let Some(latency) = change.fsync_latency {
                    write!(f, " fsync {latency:?}")?;
                }
                if let Some(capacity) = change.capacity {
                    match capacity {
                        Some(bytes) => write!(f, " capacity {bytes} B")?,
                        None => write!(f, " capacity unlimited")?,
                    }
                }
                if let Some(torn) = change.torn_writes {
                    write!(f, " torn writes {}", if torn { "on" } else { "off" })?;
                }
                if let Some(p) = change.fsync_errors {
                    write!(f, " fsync errors {}", p.as_f64())?;
                }
                if let Some(p) = change.write_errors {
                    write!(f, " write errors {}", p.as_f64())?;
                }
                Ok(())
            }
            Fault::Network(model) => {
                write!(f, "network loss {} duplicate {}", model.loss.as_f64(), model.duplicate.as_f64())
            }
            Fault::Links { from, to, model } => write!(
                f,
                "links [{}] -> [{}]: latency {:?}, loss {}, duplicate {}",
                list(from),
                list(to),
                model.latency,
                model.loss.as_f64(),
                model.duplicate.as_f64()
            ),
            Fault::LinksRestore(links) => write!(f, "links of fault #{links} restored"),
            Fault::Replay { chance, .. } if chance.is_never() => write!(f, "replay stops"),
            Fault::Replay { chance, delay_min, delay_max } => {
                write!(
                    f,
                    "replay {:.2}% of messages {delay_min:?}..{delay_max:?} late",
                    chance.as_f64() * 100.0
                )
            }
        }
    }
}

/// What happened when a fault was applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultOutcome {
    /// The fault took effect.
    Applied,
    /// The fault did nothing, and why (crashing a node that is down, a corruption the damage
    /// budget refused, a missing file).
    Skipped(String),
}

impl fmt::Display for FaultOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultOutcome::Applied => write!(f, "applied"),
            FaultOutcome::Skipped(reason) => write!(f, "skipped: {reason}"),
        }
    }
}

/// One entry of the realized fault timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRecord {
    /// The fault's index in scheduling order.
    pub index: u64,
    /// When it was applied.
    pub time: Time,
    /// The realized fault (random shapes replaced by their explicit form).
    pub fault: Fault,
    /// Whether it took effect.
    pub outcome: FaultOutcome,
}
