//! The ping-pong wire, and what its timers mean.

use sim::{Message, NodeId};

/// Requests and answers between servers (`Ping`/`Pong`), and a client's echo, relayed
/// through a second server (`Echo`, `Relay`, `Relayed`, `Reply`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Msg {
    /// A server's request to another server.
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
    /// A client's operation, to its first server.
    Echo {
        /// The workload operation id.
        op: u64,
    },
    /// The first server relays the echo to a second one.
    Relay {
        /// The operation.
        op: u64,
        /// The client to answer in the end.
        client: NodeId,
    },
    /// The second server's answer to `Relay`.
    Relayed {
        /// The operation.
        op: u64,
        /// The client to answer.
        client: NodeId,
    },
    /// The first server's answer to `Echo { op }`.
    Reply {
        /// The operation being answered.
        op: u64,
    },
}

/// What a ping-pong timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// A server's window slot: its request may be past its deadline.
    Slot(u32),
    /// A client's operation: no reply came in time.
    Operation(u64),
    /// A server's group commit: sync the records appended since the last sync.
    Flush,
}

impl Message for Msg {
    type Timer = Timer;
    type Kind = ();
}
