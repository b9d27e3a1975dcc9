//! The sans-IO node: what a protocol implements.
//!
//! A node is a value that reacts to events (start, message, timer) and asks for effects
//! through its [`Ctx`]. It never touches a socket, a clock, a thread or a random generator,
//! so the same code runs under any engine that implements the context, and every run of it
//! is reproducible. A crash drops the value; a restart builds a new one from the node's
//! factory, and only what was made durable on its disk survives.

use std::fmt;
use std::hash::Hash;

use crate::ctx::Ctx;
use crate::workload::Operation;

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

/// A pending timer, returned by `set_timer` and passed back to `on_timer`.
///
/// Ids are never reused while the timer is pending; cancelling a timer that already fired
/// or was cancelled does nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

/// What goes over the simulated wire.
///
/// `Hash` feeds the trace hash (a message's digest is part of every delivery event);
/// `Clone` is for duplication; `Debug` is for traces and divergence reports.
pub trait Message: Clone + fmt::Debug + Hash + 'static {
    /// Bytes on the wire, for bandwidth limits. Defaults to the in-memory size; override it
    /// when payloads live behind pointers and bandwidth matters.
    fn wire_size(&self) -> u64 {
        std::mem::size_of::<Self>() as u64
    }
}

/// A protocol participant: a server, a client, anything with an address.
pub trait Node {
    /// The protocol's wire type, shared by every node of one simulation.
    type Msg: Message;

    /// Called when the node boots, and again after every restart (on a fresh value).
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self::Msg>);

    /// Called when a message arrives.
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self::Msg>, from: NodeId, msg: Self::Msg);

    /// Called when a timer set by this incarnation of the node fires.
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self::Msg>, timer: TimerId);

    /// Called on client nodes when the workload driver hands them an operation; the client
    /// reports its end with `Ctx::complete`. Servers never get one: the default panics.
    fn on_invoke(&mut self, ctx: &mut Ctx<'_, Self::Msg>, op: Operation) {
        panic!("{} got operation {op:?} but is not a client", ctx.id());
    }
}

/// Builds a node's value at start and at every restart.
pub type Factory<M> = Box<dyn Fn() -> Box<dyn Node<Msg = M>>>;
