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
pub mod election;
pub mod log;
pub mod machine;
pub mod msg;
pub mod server;
pub mod wal;

pub use client::Client;
pub use config::{Bug, Change, Config, ReadMode};
pub use msg::Msg;
pub use server::Server;

use sim::check::ModelName;
use sim::history::Value;
use sim::scenario::Scenario;
use sim::system::{Check, System};
use sim::workload::{Arg, OperationSpec};
use sim::{NodeId, Sim};

/// Raft KV as a system scenarios can name.
pub struct RaftKv;

impl System for RaftKv {
    type Msg = Msg;
    type Settings = Config;

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
    const MODEL: Option<(ModelName, Value)> = Some((ModelName::KeyValue, Value::Nil));

    fn validate(scenario: &Scenario<Config>) -> Result<(), (&'static str, String)> {
        scenario.settings.validate(scenario.nodes)
    }

    fn add_servers(scenario: &Scenario<Config>, sim: &mut Sim<Msg>) {
        let voters = scenario.settings.initial_voters(scenario.nodes);
        for _ in 0..scenario.nodes {
            let config = scenario.settings.clone();
            sim.add_node(move || Server::new(config.clone(), voters));
        }
    }

    fn add_client(scenario: &Scenario<Config>, servers: &[NodeId], sim: &mut Sim<Msg>) -> NodeId {
        let (config, count) = (scenario.settings.clone(), servers.len() as u32);
        sim.add_node(move || Client::new(config.clone(), count))
    }

    fn check(_scenario: &Scenario<Config>, sim: &Sim<Msg>) -> Vec<Check> {
        let facts = &sim.observations().facts;
        vec![
            checks::election_safety(facts),
            checks::state_machine_safety(facts),
            checks::acknowledged_writes_kept(facts, sim.operations()),
        ]
    }
}
