//! The ping-pong wire.

use sim::Message;

/// A request or its answer. `slot` is the requester's window slot, echoed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Msg {
    /// A request.
    Ping {
        /// The requester's request number.
        id: u64,
        /// The requester's window slot.
        slot: u32,
    },
    /// The answer to `Ping { id, slot }`.
    Pong {
        /// The request number being answered.
        id: u64,
        /// The requester's window slot.
        slot: u32,
    },
}

impl Message for Msg {}
