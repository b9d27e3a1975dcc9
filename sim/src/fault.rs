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
//!   dropped, and its disk loses everything not fsynced (see `disk`). Messages it sent
//!   before the crash are already on the wire and are still delivered.
//! - `Restart`: a fresh value is built by the node's factory and `on_start` runs. Messages
//!   sent to the node while it was down and arriving after the restart are delivered.
//! - `Pause`/`Resume`: a paused node runs nothing; messages that arrive and timers that
//!   fire meanwhile queue up, and on resume it handles them, in arrival order, at the resume
//!   time (a stop-the-world GC pause, or SIGSTOP/SIGCONT).

use std::fmt;

use crate::disk::DiskConfig;
use crate::network::LinkModel;
use crate::node::NodeId;
use crate::partition::Partition;
use crate::time::Time;

/// A fault to inject.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Adds the cuts of a partition shape.
    Partition(Partition),
    /// Removes every cut.
    Heal,
    /// Crashes a node (see the module docs).
    Crash(NodeId),
    /// Restarts a crashed node.
    Restart(NodeId),
    /// Pauses a node.
    Pause(NodeId),
    /// Resumes a paused node.
    Resume(NodeId),
    /// Moves a node's clock reading by `delta_nanos` (negative: backwards).
    ClockStep {
        /// The node whose clock moves.
        node: NodeId,
        /// Nanoseconds to move it by.
        delta_nanos: i64,
    },
    /// Sets a node's clock drift, in parts per million (positive: runs fast).
    ClockDrift {
        /// The node whose clock drifts.
        node: NodeId,
        /// The new drift.
        ppm: i64,
    },
    /// Flips bits in a region of a file on a node's disk (counts against the damage budget).
    Corrupt {
        /// The node whose disk is damaged.
        node: NodeId,
        /// The file.
        file: String,
        /// First byte of the region.
        offset: u64,
        /// Length of the region (clipped to the file).
        len: u64,
    },
    /// Replaces a node's disk configuration (slow fsync, capacity, torn writes).
    Disk {
        /// The node whose disk changes.
        node: NodeId,
        /// The new configuration.
        config: DiskConfig,
    },
    /// Replaces the default link model (a loss burst, a latency spike).
    Network(LinkModel),
}

impl Fault {
    /// The node a fault targets, if it targets one.
    pub fn node(&self) -> Option<NodeId> {
        match self {
            Fault::Crash(node) | Fault::Restart(node) | Fault::Pause(node) | Fault::Resume(node) => {
                Some(*node)
            }
            Fault::ClockStep { node, .. }
            | Fault::ClockDrift { node, .. }
            | Fault::Corrupt { node, .. }
            | Fault::Disk { node, .. } => Some(*node),
            Fault::Partition(_) | Fault::Heal | Fault::Network(_) => None,
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
    /// When it was applied.
    pub time: Time,
    /// The realized fault (random shapes replaced by their explicit form).
    pub fault: Fault,
    /// Whether it took effect.
    pub outcome: FaultOutcome,
}

/// "Damage at most `max_nodes` nodes' disks": corruption and torn writes are allowed on at
/// most this many distinct nodes over a run; beyond that they are skipped (and logged), so
/// a scenario can stay within what the protocol claims to survive.
#[derive(Clone, Debug, Default)]
pub struct DamageBudget {
    max_nodes: Option<usize>,
    damaged: std::collections::BTreeSet<NodeId>,
}

impl DamageBudget {
    /// At most `max_nodes` damaged disks (`None`: unlimited).
    pub fn new(max_nodes: Option<usize>) -> DamageBudget {
        DamageBudget { max_nodes, damaged: Default::default() }
    }

    /// Whether damaging `node` is allowed; if so, it is counted as damaged from now on.
    pub fn allow(&mut self, node: NodeId) -> bool {
        if self.damaged.contains(&node) || self.max_nodes.is_none_or(|max| self.damaged.len() < max) {
            self.damaged.insert(node);
            true
        } else {
            false
        }
    }

    /// Whether damaging `node` would be allowed, without counting it.
    pub fn would_allow(&self, node: NodeId) -> bool {
        self.damaged.contains(&node) || self.max_nodes.is_none_or(|max| self.damaged.len() < max)
    }

    /// The nodes whose disks have been damaged.
    pub fn damaged(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.damaged.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_counts_distinct_nodes() {
        let mut budget = DamageBudget::new(Some(1));
        assert!(budget.allow(NodeId(3)));
        assert!(budget.allow(NodeId(3)), "the same node again is free");
        assert!(!budget.would_allow(NodeId(4)));
        assert!(!budget.allow(NodeId(4)));
        assert_eq!(budget.damaged().collect::<Vec<_>>(), vec![NodeId(3)]);
        assert!(DamageBudget::new(None).allow(NodeId(9)));
    }
}
