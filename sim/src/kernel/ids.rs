//! The names every layer shares: a node's address, a timer's handle, and what a message
//! must be. A leaf module: it imports nothing of the kernel, so the modules that use these
//! (context, faults, network, history, workload, observations, the engine) form a tree.

use std::fmt;
use std::hash::Hash;

/// A node's address. Nodes are numbered from 0 in the order they were added.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The id as an index into per-node tables.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// A pending timer, returned by `set_timer`, for cancelling it.
///
/// Ids are never reused while the timer is pending; cancelling a timer that already fired
/// or was cancelled does nothing. What the timer means is its payload (the protocol's
/// [`Message::Timer`]), handed to `on_timer` when it fires: no node keeps a map from ids to
/// meanings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

/// A protocol's vocabulary: what goes over the simulated wire, and what its timers mean.
///
/// `Hash` feeds the trace hash (a message's digest is part of every delivery event);
/// `Clone` is for duplication; `Debug` is for traces and divergence reports.
pub trait Message: Clone + fmt::Debug + Hash + 'static {
    /// A timer's payload, as stateright's `Actor::Timer`: set with the timer, handed back
    /// to `on_timer` when it fires (an enum of the protocol's timeouts, say). `()` for a
    /// protocol whose timers all mean the same thing.
    type Timer: fmt::Debug + 'static;

    /// The names of the protocol's message kinds, for latencies per kind (`[network.kinds]`
    /// in a scenario: PBS's W, A, R and S are the latencies of four kinds). Default: none.
    const KINDS: &'static [&'static str] = &[];

    /// This message's kind: one of [`KINDS`](Self::KINDS), by name (so a new kind shifts
    /// nothing); consulted only when a kind has a latency of its own. Default: `""`.
    fn kind(&self) -> &'static str {
        ""
    }

    /// Bytes on the wire, for bandwidth limits. Defaults to the in-memory size; override it
    /// when payloads live behind pointers and bandwidth matters.
    fn wire_size(&self) -> u64 {
        std::mem::size_of::<Self>() as u64
    }
}
