//! The Dynamo wire, and what its timers mean.

use std::rc::Rc;

use sim::Message;

use super::version::{VClock, Version};

/// A coordinator's answer to a write.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Written {
    /// The new version's clock.
    pub clock: VClock,
    /// The nodes that stored it (or a hint of it) before the write was acknowledged.
    pub replicas: Vec<u32>,
}

/// A Dynago member entry: its timestamp is the stamping node's wall clock, in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Member {
    /// The member's node index.
    pub node: u32,
    /// When it was last refreshed, by whoever refreshed it, in ms of that node's clock.
    pub timestamp: u64,
    /// Whether it is active.
    pub active: bool,
}

/// Every message of both modes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Msg {
    /// Client to coordinator: read `key`.
    Get { op: u64, key: u64 },
    /// Client to coordinator: write `value` (a tombstone if none) with the context read.
    Put { op: u64, key: u64, value: Option<Rc<Vec<i64>>>, context: VClock },
    /// Coordinator to client: the siblings read.
    GetReply { op: u64, siblings: Vec<Version> },
    /// Coordinator to client: the write's fate (`None`: the quorum was not reached in time,
    /// the write may or may not have been stored).
    PutReply { op: u64, written: Option<Written> },
    /// Coordinator to replica: store the coordinator's siblings, the new version among them
    /// (for `hint`, its owner, when a stand-in). All of them, not the new version alone, as
    /// Riak sends the whole object: a replica that has a coordinator's dot k then has, or has
    /// something that covers, each of its dots below k, so a context read there claims only
    /// what it saw (docs/design-notes.md).
    Replicate { req: u64, key: u64, siblings: Vec<Version>, hint: Option<u32> },
    /// Replica to coordinator: stored.
    Replicated { req: u64 },
    /// Coordinator to replica: what do you hold of `key`?
    Read { req: u64, key: u64 },
    /// Replica to coordinator: these siblings.
    ReadReply { req: u64, siblings: Vec<Version> },
    /// Read repair: store these versions (no answer); `overwrite` replaces what the replica
    /// holds (only the `repair-older` canary sets it).
    Repair { key: u64, siblings: Vec<Version>, overwrite: bool },
    /// A stand-in hands a hint (the siblings it was given) back to its owner.
    Handoff { hint: u64, key: u64, siblings: Vec<Version> },
    /// The owner stored it.
    HandoffAck { hint: u64 },
    /// Failure detection: are you there?
    Gossip,
    /// Yes.
    GossipAck,
    /// Anti-entropy: the leaves of my Merkle tree of `partition`.
    Digest { partition: u32, leaves: [u64; 16] },
    /// Anti-entropy: my keys in the leaves that differ (`mask`); `reply` asks for yours.
    Sync { partition: u32, mask: u16, entries: Vec<(u64, Vec<Version>)>, reply: bool },
    /// Dynago: the dialing end of a stream pings every second.
    Ping,
    /// Dynago: the answer (nobody reads it).
    PingResponse,
    /// Dynago: gossip of the member list.
    ClusterInfoRequest { members: Vec<Member> },
    /// Dynago: the receiver's entries that are as new or newer, after its merge.
    ClusterInfoResponse { members: Vec<Member> },
    /// Dynago: replicate a write (fire and forget on the peer's stream).
    KeyValue { key: u64, value: Rc<Vec<i64>> },
    /// Dynago's ring: a GET forwarded to the key's owner.
    ForwardGet { key: u64 },
    /// Dynago's ring: its answer (no request id, as in Dynago).
    ForwardGetResponse { value: Option<Rc<Vec<i64>>> },
    /// Dynago's ring: a SET forwarded to the key's owner.
    ForwardSet { key: u64, value: Rc<Vec<i64>> },
    /// Dynago's ring: its answer (no request id).
    ForwardSetResponse,
    /// Dynago's ring, to a client: the forward timed out (an HTTP error).
    Refused { op: u64 },
    /// Membership (only with `membership` changes): the sender's view, each server's latest
    /// change as (server, version, in the ring); `reply` asks for the receiver's.
    Members { view: Vec<(u32, u32, bool)>, reply: bool },
}

/// What a Dynamo timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// A server's next gossip round.
    Gossip,
    /// A stand-in's next hinted-handoff round.
    Handoff,
    /// A server's next anti-entropy exchange.
    AntiEntropy,
    /// A coordinator's request `0` ran out of time.
    Request(u64),
    /// A client's current attempt of operation `0` ran out of time.
    Attempt(u64),
    /// Dynago: re-dial the seed link.
    Redial,
    /// Dynago: `Peer` `0`'s next ping.
    Ping(u64),
    /// Dynago: dial the member `Peer` `0` was made for.
    Connect(u64),
    /// Dynago's ring: forward `0` ran out of time.
    Forward(u64),
    /// Membership change `0` of the settings is due (its server announces it).
    Membership(usize),
}

fn elements(siblings: &[Version]) -> u64 {
    siblings.iter().map(|v| 40 + 8 * v.elements().len() as u64 + 20 * (v.past.0.len() as u64 + 1)).sum()
}

sim::names! {
    /// The message kinds scenarios give latencies of their own (`[network.kinds]`). PBS's
    /// WARS latencies are those of `replicate` (W), `replicated` (A), `read` (R) and
    /// `read-reply` (S).
    pub enum Kind {
        /// A client's read.
        Get = "get",
        /// A client's write.
        Put = "put",
        /// A read's answer to the client.
        GetReply = "get-reply",
        /// A write's answer to the client.
        PutReply = "put-reply",
        /// A coordinator's write to a replica (PBS's W).
        Replicate = "replicate",
        /// A replica's write acknowledgement (A).
        Replicated = "replicated",
        /// A coordinator's read of a replica (R).
        Read = "read",
        /// A replica's read answer (S).
        ReadReply = "read-reply",
        /// Read repair.
        Repair = "repair",
        /// Hinted handoff and its acknowledgement.
        Handoff = "handoff",
        /// Membership gossip.
        Gossip = "gossip",
        /// Merkle anti-entropy.
        AntiEntropy = "anti-entropy",
        /// Dynago's own messages (its gRPC calls).
        Dynago = "dynago",
    }
}

impl Message for Msg {
    type Timer = Timer;
    type Kind = Kind;

    fn kind(&self) -> Option<Kind> {
        Some(match self {
            Msg::Get { .. } => Kind::Get,
            Msg::Put { .. } => Kind::Put,
            Msg::GetReply { .. } => Kind::GetReply,
            Msg::PutReply { .. } => Kind::PutReply,
            Msg::Replicate { .. } => Kind::Replicate,
            Msg::Replicated { .. } => Kind::Replicated,
            Msg::Read { .. } => Kind::Read,
            Msg::ReadReply { .. } => Kind::ReadReply,
            Msg::Repair { .. } => Kind::Repair,
            Msg::Handoff { .. } | Msg::HandoffAck { .. } => Kind::Handoff,
            Msg::Gossip | Msg::GossipAck | Msg::Members { .. } => Kind::Gossip,
            Msg::Digest { .. } | Msg::Sync { .. } => Kind::AntiEntropy,
            Msg::Ping
            | Msg::PingResponse
            | Msg::ClusterInfoRequest { .. }
            | Msg::ClusterInfoResponse { .. }
            | Msg::KeyValue { .. }
            | Msg::ForwardGet { .. }
            | Msg::ForwardGetResponse { .. }
            | Msg::ForwardSet { .. }
            | Msg::ForwardSetResponse
            | Msg::Refused { .. } => Kind::Dynago,
        })
    }

    fn wire_size(&self) -> u64 {
        64 + match self {
            Msg::Put { value, context, .. } => {
                8 * value.as_ref().map_or(0, |v| v.len()) as u64 + 20 * context.0.len() as u64
            }
            Msg::GetReply { siblings, .. }
            | Msg::ReadReply { siblings, .. }
            | Msg::Repair { siblings, .. } => elements(siblings),
            Msg::Replicate { siblings, .. } | Msg::Handoff { siblings, .. } => elements(siblings),
            Msg::Sync { entries, .. } => entries.iter().map(|(_, s)| 8 + elements(s)).sum(),
            Msg::KeyValue { value, .. } | Msg::ForwardSet { value, .. } => 8 * value.len() as u64,
            Msg::ForwardGetResponse { value } => 8 * value.as_ref().map_or(0, |v| v.len()) as u64,
            Msg::ClusterInfoRequest { members } | Msg::ClusterInfoResponse { members } => {
                16 * members.len() as u64
            }
            Msg::Members { view, .. } => 9 * view.len() as u64,
            _ => 0,
        }
    }
}
