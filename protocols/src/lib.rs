//! The systems simctl simulates, each a set of sans-IO nodes written against the `sim` kernel.
//!
//! Each system is a folder and its `pub mod` line below; [`systems`] is their registry, the
//! one `simctl` runs, found from the source by the build script (`build/discover.rs`).
//! [`storage`] is redb on the simulated disk, for systems that keep their state in redb.
pub mod storage;

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

/// Every shipped system, in `simctl list` order: each module above whose `mod.rs`
/// implements `System`, in the order declared (the build script finds them:
/// `build/discover.rs`), so a new system is its folder and its `pub mod` line.
pub fn systems() -> sim::harness::registry::Registry {
    include!(concat!(env!("OUT_DIR"), "/systems.rs"))
}
