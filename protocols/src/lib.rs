//! The systems simctl simulates, each a set of sans-IO nodes written against the `sim` kernel.
//!
//! - [`dynamo`]: a Dynamo-style leaderless store, and Dynago as its code is.
//! - [`kademlia`]: a Kademlia DHT measured like parsec (provide / retrieve per fleet).
//! - [`pingpong`]: the kernel's reference workload for benchmarks and kernel tests.
//! - [`raft_kv`]: a Raft replicated key-value store (raft-rs, its log in redb).
//! - [`storage`]: redb on the simulated disk, for systems that keep their state in redb.
pub mod registry;
pub mod storage;

// Each system is a module and a line of the registry. The modules are declared here, not by
// the macro, because tools that read the source find files by their `mod` items and do not
// expand macros (cargo-mutants, for the mutation score: docs/BUG-FINDING.md).

/// A chunked, replicated storage collective (and collective as its code is).
pub mod collective;
/// A dataset service: TAR dataranges in an object store, metadata in a transactional store.
pub mod datas3t;
/// A Dynamo-style leaderless store (and Dynago as its code is).
pub mod dynamo;
/// A Kademlia DHT measured like parsec.
pub mod kademlia;
/// The kernel's reference workload.
pub mod pingpong;
/// A Raft replicated key-value store.
pub mod raft_kv;

systems! {
    pingpong => PingPongSystem,
    raft_kv => RaftKv,
    kademlia => Kademlia,
    dynamo => Dynamo,
    collective => Collective,
    datas3t => Datas3t,
}
