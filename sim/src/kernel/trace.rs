//! The trace: one record per event, folded into the run's trace hash.
//!
//! The trace hash is the determinism contract: same binary, scenario and seed give the same
//! hash. Each event contributes its time, node, kind, peer and digest (the stable hash of the
//! delivered message or applied fault); the fold is order-sensitive, so two runs with the
//! same events in a different order differ.

use std::fmt;
use std::hash::Hasher;

use super::hash::StableHasher;
use super::ids::NodeId;
use super::time::Time;

/// What kind of event ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A node booted (`on_start` on its first value).
    Start,
    /// A crashed node came back (`on_start` on a fresh value).
    Restart,
    /// A message was handed to `on_message`.
    Deliver,
    /// A timer fired (`on_timer`).
    Timer,
    /// A message arrived on a link that is cut now.
    DropPartitioned,
    /// A message arrived for a node that is down or restarted since it was sent.
    DropCrashed,
    /// A fault was applied (or skipped; the fault log says which).
    Fault,
    /// A workload operation was handed to a client (`on_invoke`).
    Invoke,
    /// A node was told a connection closed (`on_closed`).
    Closed,
    /// A node was told a submitted sync completed (`on_io_done`).
    IoDone,
}

/// One event of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct TraceEvent {
    /// Position in the run, from 0.
    pub index: u64,
    /// Simulated (true) time.
    pub time: Time,
    /// The node it happened at, if any (not for partitions and network faults).
    pub node: Option<NodeId>,
    /// What happened.
    pub kind: EventKind,
    /// The sender of a delivered or dropped message.
    pub peer: Option<NodeId>,
    /// The stable digest of the message or fault (0 for starts and timers).
    pub digest: u64,
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} at {} {:?}", self.index, self.time, self.kind)?;
        if let Some(node) = self.node {
            write!(f, " at {node}")?;
        }
        if let Some(peer) = self.peer {
            write!(f, " from {peer}")?;
        }
        write!(f, " digest {:016x}", self.digest)
    }
}

/// The running trace hash: every event's fields are absorbed, in order, into one stable
/// hasher, so the hash depends on every event and on their order.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceHash {
    hasher: StableHasher,
    events: u64,
}

impl TraceHash {
    /// Folds in the next event; returns it with its index filled in.
    #[inline]
    pub(crate) fn record(&mut self, mut event: TraceEvent) -> TraceEvent {
        event.index = self.events;
        let node = u64::from(event.node.map_or(u32::MAX, |n| n.0));
        let peer = u64::from(event.peer.map_or(u32::MAX, |n| n.0));
        self.hasher.write_u64(event.time.as_nanos());
        self.hasher.write_u64(node | peer << 32);
        self.hasher.write_u64(event.digest ^ (event.kind as u64) << 56);
        self.events += 1;
        event
    }

    /// The hash of all events so far.
    pub fn value(&self) -> u64 {
        self.hasher.finish()
    }

    /// How many events have run.
    pub fn events(&self) -> u64 {
        self.events
    }
}
