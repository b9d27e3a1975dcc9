//! What goes over the wire: the DHT's RPCs (go-libp2p-kad-dht `pb.Message` types), the
//! indexer's, and the scheduler's instruction to retrieve.

use sim::Message;

use super::key::Key;

/// A message. Requests carry an `rpc` number their answer echoes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Msg {
    /// FIND_NODE: the `k` closest peers to `target` you know.
    FindNode {
        /// Request number.
        rpc: u32,
        /// The key looked up.
        target: Key,
    },
    /// GET_PROVIDERS: provider records for `key`, and closer peers.
    GetProviders {
        /// Request number.
        rpc: u32,
        /// The content key.
        key: Key,
    },
    /// The answer to FIND_NODE and GET_PROVIDERS.
    Peers {
        /// The request answered.
        rpc: u32,
        /// Closer peers (node ids; their keys travel with them, as libp2p peer records do).
        closer: Vec<u32>,
        /// Providers of the key (GET_PROVIDERS only).
        providers: Vec<u32>,
    },
    /// ADD_PROVIDER: the sender provides `key`.
    AddProvider {
        /// Request number.
        rpc: u32,
        /// The content key.
        key: Key,
    },
    /// Stored, or ingested.
    Ack {
        /// The request answered.
        rpc: u32,
    },
    /// A crawler's request for the whole routing table (the accelerated client's crawl asks
    /// FIND_NODE for one key per bucket; one request for all of them returns the same peers).
    Crawl {
        /// Request number.
        rpc: u32,
    },
    /// IPNI: the sender has a new advertisement for `key`.
    Announce {
        /// Request number.
        rpc: u32,
        /// The content key.
        key: Key,
    },
    /// IPNI: the indexer fetches the advertisement it was told of.
    FetchAd {
        /// Request number.
        rpc: u32,
        /// The content key.
        key: Key,
    },
    /// IPNI: a lookup at the indexer; answered with `Peers`.
    Find {
        /// Request number.
        rpc: u32,
        /// The content key.
        key: Key,
    },
    /// The scheduler: retrieve `key`, provide number `provide`.
    Retrieve {
        /// The content key.
        key: Key,
        /// Which provide it came from.
        provide: u64,
    },
}

/// What a Kademlia timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Request `0` (of the node's `Rpcs`) got no answer in time.
    Rpc(u32),
    /// A bootstrapping server joins (a lookup of its own key, then its buckets).
    Join,
    /// A routing-table refresh.
    Refresh,
    /// A server states its table (`kad.table`).
    Snapshot,
    /// A measurement server's next scheduled provide.
    Provide,
    /// The accelerated client's crawl of the network.
    Crawl,
}

impl Message for Msg {
    type Timer = Timer;
    type Kind = ();

    fn wire_size(&self) -> u64 {
        match self {
            Msg::Peers { closer, providers, .. } => 16 + 40 * (closer.len() + providers.len()) as u64,
            _ => 48,
        }
    }
}
