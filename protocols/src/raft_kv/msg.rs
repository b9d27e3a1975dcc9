//! The Raft KV wire: raft-rs messages between servers, requests and replies with clients.

use std::hash::{Hash, Hasher};

use raft::eraftpb;
use serde::{Deserialize, Serialize};
use sim::{Message, NodeId};

use super::machine::{Command, Datum};

/// Everything that crosses the network.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Msg {
    /// A raft-rs message between servers, on the wire in raft-rs's own protobuf encoding.
    Raft(#[serde(with = "protobuf_bytes")] Box<eraftpb::Message>),
    /// A client's command.
    Request {
        /// The workload operation, echoed in the reply.
        op: u64,
        /// What to do, with the client's session.
        command: Command,
    },
    /// A server's answer.
    Reply {
        /// The operation answered.
        op: u64,
        /// The answer.
        reply: Reply,
    },
}

/// A server's answer to a request.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reply {
    /// Done, with the result (nil for writes).
    Done(Datum),
    /// A compare-and-set found another value: it took effect as a no-op.
    CasMismatch,
    /// This server is not the leader; it names the one it knows, if any. Nothing was proposed.
    NotLeader(Option<NodeId>),
    /// The server lost leadership with the command proposed: it may still commit.
    Unknown,
}

impl Hash for Msg {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Msg::Raft(m) => {
                0u8.hash(state);
                (m.get_msg_type() as i32, m.from, m.to, m.term, m.log_term, m.index, m.commit).hash(state);
                (m.reject, m.reject_hint, m.request_snapshot, m.commit_term).hash(state);
                m.context.hash(state);
                for entry in &m.entries {
                    (entry.index, entry.term, entry.get_entry_type() as i32).hash(state);
                    entry.data.hash(state);
                }
                let snapshot = m.get_snapshot().get_metadata();
                (snapshot.index, snapshot.term).hash(state);
            }
            Msg::Request { op, command } => {
                1u8.hash(state);
                op.hash(state);
                command.hash(state);
            }
            Msg::Reply { op, reply } => {
                2u8.hash(state);
                op.hash(state);
                reply.hash(state);
            }
        }
    }
}

/// What a Raft KV timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// A server's next raft-rs tick.
    Tick,
    /// A client's current attempt (or backoff) of operation `0` ran out.
    Attempt(u64),
}

impl Message for Msg {
    type Timer = Timer;
    type Kind = ();

    fn wire_size(&self) -> u64 {
        match self {
            Msg::Raft(m) => {
                let entries: usize = m.entries.iter().map(|e| e.data.len() + 24).sum();
                64 + entries as u64 + m.get_snapshot().data.len() as u64
            }
            Msg::Request { .. } | Msg::Reply { .. } => 64,
        }
    }
}

/// raft-rs's messages cross a byte network as the protobuf raft-rs itself speaks.
mod protobuf_bytes {
    use protobuf::Message as _;
    use raft::eraftpb;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(msg: &eraftpb::Message, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes = msg.write_to_bytes().map_err(serde::ser::Error::custom)?;
        serializer.serialize_bytes(&bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Box<eraftpb::Message>, D::Error> {
        let bytes = <Vec<u8>>::deserialize(deserializer)?;
        eraftpb::Message::parse_from_bytes(&bytes).map(Box::new).map_err(serde::de::Error::custom)
    }
}
