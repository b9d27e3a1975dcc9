//! The systems simctl simulates, each a set of sans-IO nodes written against the `sim` kernel.
//!
//! - [`pingpong`]: the kernel's reference workload for benchmarks and kernel tests.
//! - [`storage`]: redb on the simulated disk, for systems that keep their state in redb.
pub mod pingpong;
pub mod registry;
pub mod storage;
