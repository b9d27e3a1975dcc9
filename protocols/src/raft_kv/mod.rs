//! Raft KV: a replicated key-value store on raft-rs, its log in redb (or a write-ahead log of
//! our own, `storage = "wal"`) on the simulated disk.
//!
//! - [`server`]: raft-rs `RawNode` driven from the node callbacks (ticks, messages, the
//!   Ready cycle), reads by ReadIndex, through the log or under a lease, snapshots and log
//!   compaction, scheduled membership changes.
//! - [`log`]: raft-rs `Storage` over redb on a file of the node's simulated disk, or over
//!   [`wal`], an append-only log file with CRC-framed records.
//! - [`machine`]: the state-machine trait, client sessions and the key-value map.
//! - [`client`]: finds the leader, follows redirects, retries, reports honestly.
//! - [`checks`]: election safety, state-machine safety, acknowledged writes kept.
//!
//! Linearizability of the client history is checked against the `kv` model by the kernel
//! (`[checks] linearizable = true`).

pub mod checks;
pub mod client;
pub mod config;
pub mod log;
pub mod machine;
pub mod msg;
pub mod server;
pub mod wal;

pub use client::Client;
pub use config::{Bug, Change, Config, ReadMode};
pub use msg::Msg;
pub use server::Server;

use sim::harness::system::{Check, Consistency, Slot, System};
use sim::kernel::workload::{Arg, OperationSpec};
use sim::scenario::Scenario;
use sim::{Node, NodeId, Seed, Sim};

/// Raft KV as a system scenarios can name.
pub struct RaftKv;

/// What every Raft KV node is built from.
pub struct Setup {
    config: Config,
    servers: u32,
    voters: u32,
}

impl System for RaftKv {
    type Msg = Msg;
    type Settings = Config;
    type Setup = Setup;

    const NAME: &'static str = "raft-kv";
    const ABOUT: &'static str =
        "Raft replicated key-value store: raft-rs RawNode, log in redb on the simulated disk";
    const OPERATIONS: &'static [OperationSpec] = &[
        OperationSpec { name: "get", arg: Arg::None, weight: 0.45 },
        OperationSpec { name: "put", arg: Arg::Unique, weight: 0.3 },
        OperationSpec { name: "cas", arg: Arg::Cas, weight: 0.15 },
        OperationSpec { name: "append", arg: Arg::Text, weight: 0.05 },
        OperationSpec { name: "delete", arg: Arg::None, weight: 0.05 },
    ];
    const ROLES: &'static [&'static str] = &["leader", "follower"];
    const CONSISTENCY: Option<Consistency> = Some(Consistency::KEY_VALUE);

    fn validate(scenario: &Scenario<Config>) -> Result<(), (&'static str, String)> {
        scenario.settings.validate(scenario.nodes)
    }

    fn setup(scenario: &Scenario<Config>, _seed: Seed) -> Setup {
        let voters = scenario.settings.initial_voters(scenario.nodes);
        Setup { config: scenario.settings.clone(), servers: scenario.nodes, voters }
    }

    fn node(setup: &Setup, slot: Slot, _id: NodeId) -> Box<dyn Node<Msg = Msg>> {
        match slot {
            Slot::Server(_) => Box::new(Server::new(setup.config.clone(), setup.voters)),
            Slot::Client(_) | Slot::Other(_) => Box::new(Client::new(setup.config.clone(), setup.servers)),
        }
    }

    fn check(_scenario: &Scenario<Config>, _setup: &Setup, sim: &Sim<Msg>) -> Vec<Check> {
        let facts = sim.observations();
        vec![
            checks::election_safety(facts),
            checks::state_machine_safety(facts),
            checks::acknowledged_writes_kept(facts, sim.operations()),
        ]
    }
}
