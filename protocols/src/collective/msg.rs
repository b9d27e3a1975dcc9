//! The collective's wire: the coordinator and node RPCs of the real system, and its timers.
//!
//! Every request that waits for an answer carries a request id the answer echoes. Chunk
//! data travels as [`Payload`]s, so a 4 MiB chunk costs 4 MiB on a link with a bandwidth
//! (`wire_size`) but a few words of memory.

use std::fmt;

use serde::{Deserialize, Serialize};
use sim::{Message, NodeId, Payload};

/// A file's path, by its workload key: `/m{key % members}/d{key % dirs}/f{key}`, in the
/// namespace of member `key % members`, whose coordinator keeps its entry.
pub type Path = u64;

/// A chunk's identity. The real id is `{path with / as _}-{i}-{first 8 bytes of the
/// chunk's sha256}`; `owner` is the member whose coordinator wrote it (its file entry lives
/// there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ChunkId {
    /// The member whose coordinator placed it.
    pub owner: u32,
    /// The file it belongs to.
    pub path: Path,
    /// Its position in the file.
    pub index: u32,
    /// The first 8 bytes of its checksum.
    pub tag: u64,
}

impl ChunkId {
    /// The file a node keeps it in.
    pub fn file_name(&self) -> String {
        format!("chunk/{}/{}-{}-{:016x}", self.owner, self.path, self.index, self.tag)
    }

    /// Parses a name made by [`file_name`](Self::file_name).
    pub fn parse(name: &str) -> Option<ChunkId> {
        let rest = name.strip_prefix("chunk/")?;
        let (owner, rest) = rest.split_once('/')?;
        let mut parts = rest.splitn(3, '-');
        let path = parts.next()?.parse().ok()?;
        let index = parts.next()?.parse().ok()?;
        let tag = u64::from_str_radix(parts.next()?, 16).ok()?;
        Some(ChunkId { owner: owner.parse().ok()?, path, index, tag })
    }
}

impl fmt::Display for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m{}:f{}-{}-{:08x}", self.owner, self.path, self.index, self.tag >> 32)
    }
}

/// What a coordinator answers a client.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Answer {
    /// The operation took effect.
    Done,
    /// A read's content, chunk by chunk.
    Content(Vec<Payload>),
    /// No such file.
    NotFound,
    /// A listing: the paths in the directory.
    Listing(Vec<Path>),
    /// It failed, and did not take effect.
    Failed(#[serde(with = "sim::kernel::wire::interned")] sim::kernel::wire::StaticStr),
}

/// The collective's messages.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Msg {
    // Client -> coordinator.
    /// Write a whole file (streamed in 1 MiB messages in the real system: one message of
    /// the file's size here, which the bandwidth model charges the same).
    Put { op: u64, path: Path, content: Payload },
    /// Read a whole file.
    Get { op: u64, path: Path },
    /// Delete a file.
    Delete { op: u64, path: Path },
    /// Create a directory.
    Mkdir { op: u64, dir: u32 },
    /// List a directory.
    List { op: u64, dir: u32 },
    /// Coordinator -> client: how an operation ended.
    Reply { op: u64, answer: Answer },

    // Coordinator <-> its storage nodes.
    /// Node -> its coordinator: register (at start, and when the re-registration check
    /// finds it unknown).
    Register { req: u64 },
    /// Coordinator -> node: registered.
    Registered { req: u64 },
    /// Node -> coordinator, every `node_heartbeat`.
    Heartbeat { req: u64 },
    /// Coordinator -> node: whether it knows the node.
    HeartbeatAck { req: u64, known: bool },
    /// Coordinator -> node, every `health_interval`.
    HealthCheck { req: u64 },
    /// Node -> coordinator, with the bytes its disk has free (`u64::MAX`: no capacity), as
    /// the real health response reports its used capacity.
    Healthy { req: u64, free: u64 },
    /// Store a chunk; answer `reply_to` (the coordinator, also for a copy a node sends).
    StoreChunk { req: u64, chunk: ChunkId, data: Payload, reply_to: NodeId },
    /// Whether it was stored durably.
    Stored { req: u64, ok: bool },
    /// Read a chunk.
    RetrieveChunk { req: u64, chunk: ChunkId },
    /// The chunk's content, or none (missing, unreadable).
    Retrieved { req: u64, data: Option<Payload> },
    /// Delete a chunk (no answer).
    DeleteChunk { chunk: ChunkId },
    /// Durable mode: copy a chunk you hold to `to` (re-replication) if its checksum is
    /// `digest`; `to` answers `Stored` (you do, with `ok: false`, if you cannot).
    Copy { req: u64, chunk: ChunkId, to: NodeId, digest: u64 },
    /// Durable mode: the chunks of `owner` you hold.
    Inventory { req: u64, owner: u32 },
    /// The answer.
    Held { req: u64, chunks: Vec<ChunkId> },

    // Coordinator <-> coordinator.
    /// Peer connect (at start, retried with backoff).
    PeerConnect { req: u64 },
    /// Peer accepted; and every peer heartbeat's answer.
    PeerAck { req: u64 },
    /// Peer heartbeat.
    PeerHeartbeat { req: u64 },
    /// A coordinator's nodes and whether each is healthy (ShareNodeList on every
    /// registration, SyncState every `sync_interval`).
    NodeList { nodes: Vec<(NodeId, bool)> },
}

/// What a timer means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// A request went unanswered.
    Request(u64),
    /// Coordinator: poll the nodes' health.
    Health,
    /// Coordinator: heartbeat the peers.
    PeerHeartbeat,
    /// Coordinator: send the peers the node list.
    Sync,
    /// Coordinator: dial member `m` again.
    PeerRetry(u32),
    /// Coordinator (durable): collect unreferenced chunks.
    Gc,
    /// Node: heartbeat the coordinator.
    Heartbeat,
    /// Node: check registration.
    Reregister,
    /// Client: an operation went unanswered.
    Operation(u64),
    /// Client: read back every path written.
    Audit,
}

sim::names! {
    /// The message kinds scenarios give latencies of their own (`[network.kinds]`).
    pub enum Kind {
        /// Every message without chunk bytes.
        Control = "control",
        /// A message carrying chunk bytes.
        Data = "data",
    }
}

impl Message for Msg {
    type Timer = Timer;
    type Kind = Kind;

    fn kind(&self) -> Option<Kind> {
        Some(if self.data_bytes() > 0 { Kind::Data } else { Kind::Control })
    }

    fn wire_size(&self) -> u64 {
        let listed = match self {
            Msg::Held { chunks, .. } => 32 * chunks.len() as u64,
            Msg::NodeList { nodes } => 8 * nodes.len() as u64,
            Msg::Reply { answer: Answer::Listing(paths), .. } => 8 * paths.len() as u64,
            _ => 0,
        };
        64 + listed + self.data_bytes()
    }
}

impl Msg {
    /// The file or chunk bytes it carries.
    pub fn data_bytes(&self) -> u64 {
        match self {
            Msg::Put { content, .. } => content.len(),
            Msg::Reply { answer: Answer::Content(parts), .. } => parts.iter().map(Payload::len).sum(),
            Msg::StoreChunk { data, .. } => data.len(),
            Msg::Retrieved { data: Some(data), .. } => data.len(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_file_names_parse_back() {
        let id = ChunkId { owner: 2, path: 77, index: 5, tag: 0xdead_beef_0000_0001 };
        assert_eq!(ChunkId::parse(&id.file_name()), Some(id));
        assert_eq!(ChunkId::parse("meta.redb"), None);
    }
}
