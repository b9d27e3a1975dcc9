//! What nodes report about themselves: sometimes/always assertions and metrics.
//!
//! `sometimes` marks that a rare path was reached (a snapshot installed, a leader stepping
//! down); a sweep reports the ones that never fired, so a user sees what the seeds did not
//! explore. `always` states something that must hold every time it is evaluated; a false
//! evaluation is recorded as a violation and fails the run. Counters and samples are free-form
//! metrics keyed by a static name. All maps are ordered, so reports are stable.

use std::any::{Any, TypeId};
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

/// The facts nodes state about their protocol state, for the system's end-of-run checks (a
/// leader elected for a term, an entry applied at an index): what a check over the whole
/// run needs but no single node can judge. A fact is a value of the system's own type (an
/// enum of its kinds of fact, with named fields), stated with `Ctx::fact` and read back by
/// type with [`Observations::facts`]. Each type's facts are kept in one vector, in time order
/// (ties in the order stated), so stating one costs a push, not an allocation.
#[derive(Default)]
pub struct Facts {
    /// One `Vec<(Time, NodeId, F)>` per fact type `F`, in the order the types first appeared.
    by_type: Vec<(TypeId, Box<dyn Any>)>,
}

impl Facts {
    /// Records that `node` stated `fact` at `time`.
    pub fn state<F: Any>(&mut self, time: Time, node: NodeId, fact: F) {
        let id = TypeId::of::<F>();
        let index = match self.by_type.iter().position(|(t, _)| *t == id) {
            Some(index) => index,
            None => {
                self.by_type.push((id, Box::new(Vec::<(Time, NodeId, F)>::new())));
                self.by_type.len() - 1
            }
        };
        let list = self.by_type[index].1.downcast_mut::<Vec<(Time, NodeId, F)>>().expect("keyed by type");
        // In time order: the native engine states facts in time order anyway (a push); a
        // hosted run's tasks may state them out of order within a backend tick.
        let at = list.iter().rposition(|(t, _, _)| *t <= time).map_or(0, |i| i + 1);
        list.insert(at, (time, node, fact));
    }

    /// The facts of type `F`, in time order (ties in the order they were stated).
    pub fn of<F: Any>(&self) -> &[(Time, NodeId, F)] {
        let id = TypeId::of::<F>();
        self.by_type
            .iter()
            .find(|(t, _)| *t == id)
            .and_then(|(_, list)| list.downcast_ref::<Vec<(Time, NodeId, F)>>())
            .map_or(&[], Vec::as_slice)
    }
}

impl fmt::Debug for Facts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Facts({} types)", self.by_type.len())
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
    /// Facts, by type: read them with [`facts`](Observations::facts).
    pub facts: Facts,
    /// Every change of a node's reported role (`Ctx::set_role`, a crash clears it), in
    /// order: (true time, node, new role). For the report's timeline.
    pub roles: Vec<(Time, NodeId, Option<&'static str>)>,
    /// Messages sent inside `message_window` (datagrams and streams), for the report's
    /// message diagram.
    pub messages: Vec<MessageRecord>,
    /// A system's own per-node series (`Ctx::series`: Raft's term, hints pending), each
    /// value when it changed, at most `SERIES_POINTS` per series and node.
    pub series: BTreeMap<(&'static str, NodeId), Vec<(Time, i64)>>,
    /// When set, sends in [from, to] are recorded in `messages`, the last ones up to this many.
    pub message_window: Option<(Time, Time, usize)>,
}

/// What became of a datagram when it was sent (a delivery may still find its link cut or
/// its receiver down: the trace says so).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageFate {
    /// On its way; arrives at `arrives`.
    Sent,
    /// Lost to the network's loss.
    Lost,
    /// Its link was cut when it was sent.
    Cut,
    /// A second copy (duplication).
    Duplicate,
    /// An old copy arriving much later.
    Replayed,
    /// On a connection (a stream: ordered, retransmitted); arrives at `arrives`, or waits
    /// there for an earlier message. Sent again after a cut: a new record at the heal.
    Stream,
    /// On a connection cut or clogged when it was sent: held, and sent again at the heal
    /// (a `Stream` record then) unless the keepalive breaks the connection first.
    Held,
    /// On a closed connection, or one its retransmissions break: gone.
    Closed,
}

/// One message sent: a datagram, or a message on a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRecord {
    /// When it was sent (true time).
    pub sent: Time,
    /// Its sender.
    pub from: NodeId,
    /// Its receiver.
    pub to: NodeId,
    /// When it arrives, if it does.
    pub arrives: Option<Time>,
    /// What became of it.
    pub fate: MessageFate,
    /// The message, in `Debug` form.
    pub what: String,
}

/// At most this many changes are kept per series and node (the first ones).
pub const SERIES_POINTS: usize = 20_000;

impl Observations {
    /// Records a datagram if it was sent inside the message window; past the limit the
    /// older half is dropped, so the last ones of the window are kept.
    pub(crate) fn message(&mut self, record: impl FnOnce() -> MessageRecord, sent: Time) {
        if let Some((from, to, limit)) = self.message_window {
            if sent >= from && sent <= to {
                if self.messages.len() >= limit.max(2) {
                    self.messages.drain(..limit.max(2) / 2);
                }
                self.messages.push(record());
            }
        }
    }
}

impl Observations {
    /// The facts of type `F`, in time order (ties in the order they were stated).
    pub fn facts<F: Any>(&self) -> impl Iterator<Item = Fact<'_, F>> + '_ {
        self.facts.of::<F>().iter().map(|(time, node, what)| Fact { time: *time, node: *node, what })
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

#[cfg(test)]
mod message_window_tests {
    use super::*;

    fn sent(at: u64) -> MessageRecord {
        MessageRecord {
            sent: Time(at),
            from: NodeId(0),
            to: NodeId(1),
            arrives: None,
            fate: MessageFate::Lost,
            what: String::new(),
        }
    }

    /// Only sends inside the window are kept, and past the limit the latest ones are.
    #[test]
    fn the_window_keeps_its_last_messages() {
        let mut observations =
            Observations { message_window: Some((Time(10), Time(100), 8)), ..Default::default() };
        for at in 0..=120 {
            observations.message(|| sent(at), Time(at));
        }
        let kept: Vec<u64> = observations.messages.iter().map(|m| m.sent.as_nanos()).collect();
        assert!(kept.len() <= 8 && kept.len() >= 4, "{kept:?}");
        assert_eq!(kept.last(), Some(&100), "the window's last send");
        assert!(kept.windows(2).all(|w| w[1] == w[0] + 1), "consecutive: {kept:?}");
        let mut off = Observations::default();
        off.message(|| panic!("not described when no window is set"), Time(5));
        assert!(off.messages.is_empty());
    }
}
