//! The systems simctl simulates, each a set of sans-IO nodes written against the `sim` kernel.
//!
//! - [`pingpong`]: the kernel's reference workload for benchmarks and kernel tests.
pub mod pingpong;
pub mod registry;
