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
//! impl Message for Hello {
//!     type Timer = ();
//!     type Kind = ();
//! }
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
//!     fn on_timer(&mut self, _ctx: &mut Ctx<'_, Hello>, _timer: ()) {}
//! }
//!
//! let mut sim = Sim::new(42, LinkModel::default());
//! sim.add_node(|| Greeter);
//! sim.add_node(|| Greeter);
//! assert_eq!(sim.run(Limits::duration(Duration::from_secs(1))), StopReason::Quiescent);
//! assert_eq!(sim.observations().counters["greetings"], 1);
//! ```
#![warn(missing_docs)]

pub mod backend;
pub mod check;
pub mod explore;
pub mod harness;
pub mod judge;
pub mod kernel;
pub mod report;
pub mod scenario;

pub use kernel::buggify::{BuggifyConfig, PointStat};
pub use kernel::connection::ConnId;
pub use kernel::ctx::{Clock, Ctx, Network, Timers};
pub use kernel::disk::{Disk, DiskChange, DiskConfig, DiskError, DiskHandle};
pub use kernel::dist::Distribution;
pub use kernel::engine::{Limits, Sim, StopReason};
pub use kernel::fault::{Fault, FaultKind, FaultOutcome, FaultRecord, Target};
pub use kernel::ids::{Message, Names, NodeId, TimerId};
pub use kernel::io::{IoId, IoRequest, IoResult};
pub use kernel::network::{ConnectionStats, LinkModel, NetworkStats};
pub use kernel::node::Node;
pub use kernel::partition::Partition;
pub use kernel::payload::Payload;
pub use kernel::rng::{Probability, Rng, Seed};
pub use kernel::time::Time;
pub use kernel::trace::{EventKind, TraceEvent};
pub use kernel::wire::Wire;
pub use kernel::workload::{Operation, Outcome};
pub use kernel::world::Status;

/// Everything a protocol module needs, in one import.
pub mod prelude {
    pub use crate::kernel::connection::ConnId;
    pub use crate::kernel::ctx::{Clock, Ctx, Network, Timers};
    pub use crate::kernel::dist::Distribution;
    pub use crate::kernel::engine::{Limits, Sim, StopReason};
    pub use crate::kernel::fault::{Fault, Target};
    pub use crate::kernel::history::{Op, OpKind, Value};
    pub use crate::kernel::ids::{Message, Names, NodeId, TimerId};
    pub use crate::kernel::io::{IoId, IoResult};
    pub use crate::kernel::network::LinkModel;
    pub use crate::kernel::node::Node;
    pub use crate::kernel::partition::Partition;
    pub use crate::kernel::rng::Probability;
    pub use crate::kernel::time::Time;
    pub use crate::kernel::workload::{Operation, Outcome};
}
