//! The kernel: the discrete-event engine and the world it simulates (nodes, their clocks,
//! timers, disks and random streams, the network and its partitions, faults), and what nodes
//! report (histories, facts, assertions). It knows no protocol, no scenario file and no
//! command line: a test drives it with [`Sim`](engine::Sim) directly.
//!
//! Dependencies run one way: [`ids`] is a leaf; [`time`], [`rng`], [`hash`] and [`dist`]
//! build on nothing else of the kernel; the world's parts ([`clock`], [`disk`], [`network`],
//! [`partition`], [`connection`], [`history`], [`workload`], [`observe`], [`fault`],
//! [`damage`], [`io`]) on those; [`ctx`] and
//! [`node`] on the world; [`engine`] on everything.

pub mod buggify;
pub mod clock;
pub mod connection;
pub mod ctx;
pub mod damage;
pub mod disk;
pub mod dist;
pub mod engine;
pub mod fault;
pub mod hash;
pub mod history;
pub mod ids;
pub mod io;
pub mod network;
pub mod node;
pub mod observe;
pub mod partition;
pub mod payload;
pub mod queue;
pub mod rng;
pub mod time;
pub mod trace;
pub mod wire;
pub mod workload;
pub(crate) mod world;
