//! What nodes report about themselves: sometimes/always assertions and metrics.
//!
//! `sometimes` marks that a rare path was reached (a snapshot installed, a leader stepping
//! down); a sweep reports the ones that never fired, so a user sees what the seeds did not
//! explore. `always` states something that must hold every time it is evaluated; a false
//! evaluation is recorded as a violation and fails the run. Counters and samples are free-form
//! metrics keyed by a static name. All maps are ordered, so reports are stable.

use std::collections::BTreeMap;

use crate::history::HistoryEvent;
use crate::node::NodeId;
use crate::time::Time;

/// Counts for one `sometimes` assertion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SometimesStat {
    /// How many times it was evaluated.
    pub evaluated: u64,
    /// How many times the condition held.
    pub hits: u64,
    /// When it first held.
    pub first_hit: Option<Time>,
}

/// A false `always` assertion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// When it was evaluated.
    pub time: Time,
    /// The node that evaluated it.
    pub node: NodeId,
    /// The assertion's name.
    pub name: &'static str,
}

/// A fact a node states about its protocol state, for the system's end-of-run checks (a
/// leader elected for a term, an entry applied at an index): what a check over the whole
/// run needs but no single node can judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fact {
    /// When it was stated (true time).
    pub time: Time,
    /// The node that stated it.
    pub node: NodeId,
    /// What kind of fact it is.
    pub name: &'static str,
    /// Its fields, in an order the system defines per name.
    pub data: [u64; 4],
}

/// Everything nodes reported during a run.
#[derive(Clone, Debug, Default)]
pub struct Observations {
    /// Client operation events, in the order they were recorded.
    pub history: Vec<HistoryEvent>,
    /// `sometimes` assertions by name.
    pub sometimes: BTreeMap<&'static str, SometimesStat>,
    /// `always` assertions by name, with how often each was evaluated.
    pub always: BTreeMap<&'static str, u64>,
    /// Every false `always` evaluation.
    pub violations: Vec<Violation>,
    /// Counters by name.
    pub counters: BTreeMap<&'static str, u64>,
    /// Samples by name (latencies, sizes), in the order recorded.
    pub samples: BTreeMap<&'static str, Vec<u64>>,
    /// Facts, in the order stated.
    pub facts: Vec<Fact>,
}

impl Observations {
    pub(crate) fn sometimes(&mut self, time: Time, name: &'static str, condition: bool) {
        let stat = self.sometimes.entry(name).or_default();
        stat.evaluated += 1;
        if condition {
            stat.hits += 1;
            stat.first_hit.get_or_insert(time);
        }
    }

    pub(crate) fn always(&mut self, time: Time, node: NodeId, name: &'static str, condition: bool) {
        *self.always.entry(name).or_default() += 1;
        if !condition {
            self.violations.push(Violation { time, node, name });
        }
    }
}
