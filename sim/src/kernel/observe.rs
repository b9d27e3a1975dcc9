//! What nodes report about themselves: sometimes/always assertions and metrics.
//!
//! `sometimes` marks that a rare path was reached (a snapshot installed, a leader stepping
//! down); a sweep reports the ones that never fired, so a user sees what the seeds did not
//! explore. `always` states something that must hold every time it is evaluated; a false
//! evaluation is recorded as a violation and fails the run. Counters and samples are free-form
//! metrics keyed by a static name. All maps are ordered, so reports are stable.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;

use super::history::HistoryEvent;
use super::ids::NodeId;
use super::time::Time;

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
/// run needs but no single node can judge. The fact is the system's own type (an enum of
/// its kinds of fact, with named fields), stated with `Ctx::fact` and read back by type
/// with [`Observations::facts`]; the kernel only keeps it in order with its time and node.
pub struct Stated {
    /// When it was stated (true time).
    pub time: Time,
    /// The node that stated it.
    pub node: NodeId,
    what: Box<dyn FactValue>,
}

impl Stated {
    /// A stated fact (for tests of a system's checks).
    pub fn new<F: Any + fmt::Debug>(time: Time, node: NodeId, fact: F) -> Stated {
        Stated { time, node, what: Box::new(fact) }
    }

    /// The fact, if it is an `F`.
    pub fn get<F: Any>(&self) -> Option<Fact<'_, F>> {
        let what = (*self.what).as_any().downcast_ref::<F>()?;
        Some(Fact { time: self.time, node: self.node, what })
    }
}

impl fmt::Debug for Stated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {:?}", self.time, self.node, self.what)
    }
}

/// Any value a node may state as a fact.
trait FactValue: fmt::Debug {
    fn as_any(&self) -> &dyn Any;
}

impl<F: Any + fmt::Debug> FactValue for F {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A fact of type `F`, with when and where it was stated.
#[derive(Debug)]
pub struct Fact<'a, F> {
    /// When it was stated (true time).
    pub time: Time,
    /// The node that stated it.
    pub node: NodeId,
    /// What the node stated.
    pub what: &'a F,
}

impl<F> Clone for Fact<'_, F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F> Copy for Fact<'_, F> {}

/// Everything nodes reported during a run.
#[derive(Debug, Default)]
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
    /// Facts, in the order stated: read them with [`facts`](Observations::facts).
    pub stated: Vec<Stated>,
}

impl Observations {
    /// The facts of type `F`, in the order they were stated.
    pub fn facts<F: Any>(&self) -> impl Iterator<Item = Fact<'_, F>> + '_ {
        self.stated.iter().filter_map(Stated::get)
    }

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
