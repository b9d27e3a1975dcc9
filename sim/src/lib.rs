//! `sim`: a deterministic discrete-event simulation kernel for distributed protocols.
//!
//! A protocol is a set of sans-IO [`Node`]s that react to messages and timers through a
//! [`Ctx`]; the [`Sim`] engine delivers their messages over a simulated network, fires
//! their timers on simulated local clocks, persists their data on simulated disks, and
//! injects [`Fault`]s. Everything random comes from one seed, so a run is a pure function of
//! (code, configuration, seed), and its [trace hash](Sim::trace_hash) proves it.
//!
//! ```
//! use std::time::Duration;
//! use sim::prelude::*;
//!
//! #[derive(Clone, Debug, Hash)]
//! struct Hello;
//! impl Message for Hello {}
//!
//! struct Greeter;
//! impl Node for Greeter {
//!     type Msg = Hello;
//!     fn on_start(&mut self, ctx: &mut Ctx<'_, Hello>) {
//!         if ctx.id() == NodeId(0) {
//!             ctx.send(NodeId(1), Hello);
//!         }
//!     }
//!     fn on_message(&mut self, ctx: &mut Ctx<'_, Hello>, _from: NodeId, _msg: Hello) {
//!         ctx.count("greetings", 1);
//!     }
//!     fn on_timer(&mut self, _ctx: &mut Ctx<'_, Hello>, _timer: TimerId) {}
//! }
//!
//! let mut sim = Sim::new(42, LinkModel::default());
//! sim.add_node(|| Greeter);
//! sim.add_node(|| Greeter);
//! assert_eq!(sim.run(Limits::duration(Duration::from_secs(1))), StopReason::Quiescent);
//! assert_eq!(sim.observations().counters["greetings"], 1);
//! ```
#![warn(missing_docs)]

pub mod check;
pub mod clock;
pub mod ctx;
pub mod determinism;
pub mod disk;
pub mod dist;
pub mod engine;
pub mod fault;
pub mod hash;
pub mod history;
pub mod network;
pub mod node;
pub mod observe;
pub mod partition;
pub mod queue;
pub mod report;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod system;
pub mod time;
pub mod trace;
pub mod workload;
mod world;

pub use ctx::{Clock, Ctx, Network, Timers};
pub use disk::{Disk, DiskChange, DiskConfig, DiskError, DiskHandle};
pub use dist::Distribution;
pub use engine::{Limits, Sim, StopReason};
pub use fault::{Fault, FaultOutcome, FaultRecord, Target};
pub use network::{LinkModel, NetworkStats};
pub use node::{Message, Node, NodeId, TimerId};
pub use partition::Partition;
pub use rng::{Probability, Rng, Seed};
pub use time::Time;
pub use trace::{EventKind, TraceEvent};
pub use workload::{Operation, Outcome};
pub use world::Status;

/// Everything a protocol module needs, in one import.
pub mod prelude {
    pub use crate::ctx::{Clock, Ctx, Network, Timers};
    pub use crate::dist::Distribution;
    pub use crate::engine::{Limits, Sim, StopReason};
    pub use crate::fault::{Fault, Target};
    pub use crate::history::{Op, OpKind, Value};
    pub use crate::network::LinkModel;
    pub use crate::node::{Message, Node, NodeId, TimerId};
    pub use crate::partition::Partition;
    pub use crate::rng::Probability;
    pub use crate::time::Time;
    pub use crate::workload::{Operation, Outcome};
}
