//! The systems simctl simulates, each a set of sans-IO nodes written against the `sim` kernel.
//!
//! - [`dynamo`]: a Dynamo-style leaderless store, and Dynago as its code is.
//! - [`kademlia`]: a Kademlia DHT measured like parsec (provide / retrieve per fleet).
//! - [`pingpong`]: the kernel's reference workload for benchmarks and kernel tests.
//! - [`raft_kv`]: a Raft replicated key-value store (raft-rs, its log in redb).
//! - [`storage`]: redb on the simulated disk, for systems that keep their state in redb.
pub mod registry;
pub mod storage;

systems! {
    /// The kernel's reference workload.
    pingpong => PingPongSystem,
    /// A Raft replicated key-value store.
    raft_kv => RaftKv,
    /// A Kademlia DHT measured like parsec.
    kademlia => Kademlia,
    /// A Dynamo-style leaderless store (and Dynago as its code is).
    dynamo => Dynamo,
    /// A chunked, replicated storage collective (and collective as its code is).
    collective => Collective,
    /// A dataset service: TAR dataranges in an object store, metadata in a transactional store.
    datas3t => Datas3t,
}
