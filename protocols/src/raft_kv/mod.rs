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

sim::names! {
    /// The roles a server reports (`Ctx::set_role`), which faults can target.
    pub enum Role {
        /// Raft's leader.
        Leader = "leader",
        /// A server that does not lead: a follower or a candidate.
        Follower = "follower",
    }
}

sim::operations! {
    /// The store's operations: their names in scenarios and histories, arguments and
    /// default mix.
    pub enum RaftOp {
        /// Reads a key.
        Get = ("get", Arg::None, 0.45),
        /// Writes a unique value.
        Put = ("put", Arg::Unique, 0.3),
        /// Compare-and-set from the last value this workload wrote.
        Cas = ("cas", Arg::Cas, 0.15),
        /// Appends a unique token.
        Append = ("append", Arg::Text, 0.05),
        /// Deletes a key.
        Delete = ("delete", Arg::None, 0.05),
    }
}

use sim::harness::system::{Check, Consistency, Slot, System};
use sim::kernel::workload::{Arg, OperationSpec, Operations};
use sim::scenario::Scenario;
use sim::Names;
use sim::{Node, NodeId, Seed, Sim};

/// Raft KV as a system scenarios can name.
pub struct RaftKv;

/// What every Raft KV node is built from.
pub struct Setup {
    config: Config,
    servers: u32,
    voters: u32,
}

/// The bug classes raft-kv's scenarios must reach (docs/BUG-FINDING.md): each is stated
/// with `Ctx::sometimes` where its situation arises, so a sweep's coverage ledger shows it.
pub(crate) mod class {
    use sim::harness::system::BugClass;

    pub const VOTE_RECOVERED: &str = "class: a restarted server recovered its term and vote";
    pub const DEPOSED_WITH_READS: &str = "class: a leader was deposed with reads in flight";
    pub const EARLIER_TERM: &str = "class: a leader committed an entry of an earlier term (Figure 8)";
    pub const TAIL_CUT: &str = "class: a restarted server cut a torn or corrupt log tail";
    pub const EMPTY_RESTART: &str = "class: a restarted server found its log empty (a wiped disk)";
    pub const UNSYNCED_ACK: &str = "class: a client was answered while its server had unsynced log writes";
    pub const REPLAYED: &str = "class: a restarted server re-applied committed entries past its snapshot";
    pub const DUPLICATE: &str = "class: a retried command was committed twice and applied once";
    pub const SNAPSHOT_RACE: &str = "class: a snapshot crossed appends of the entries around it";
    pub const MEMBERSHIP_CUT_OFF: &str = "class: membership changed while a voter was out of reach";
    pub const TRUNCATED: &str = "class: a follower's log was truncated by a new leader";
    pub const STALE_RESPONSE: &str = "class: a leader got an append response below its match index";
    pub const ALL: &[BugClass] = &[
        BugClass { name: VOTE_RECOVERED, reached_by: "scenarios/raft/crash-restart.toml" },
        BugClass { name: DEPOSED_WITH_READS, reached_by: "scenarios/raft/leader-isolation.toml" },
        BugClass { name: EARLIER_TERM, reached_by: "scenarios/raft/crash-restart.toml" },
        BugClass { name: TAIL_CUT, reached_by: "scenarios/raft/stuck-disk.toml" },
        BugClass { name: EMPTY_RESTART, reached_by: "scenarios/raft/wiped-disk-unsafe.toml" },
        BugClass { name: UNSYNCED_ACK, reached_by: "scenarios/raft/stuck-disk.toml" },
        BugClass { name: REPLAYED, reached_by: "scenarios/raft/crash-restart.toml" },
        BugClass { name: DUPLICATE, reached_by: "scenarios/raft/loss-duplication.toml" },
        BugClass { name: SNAPSHOT_RACE, reached_by: "scenarios/raft/snapshot-catch-up.toml" },
        BugClass { name: MEMBERSHIP_CUT_OFF, reached_by: "scenarios/raft/membership.toml" },
        BugClass { name: TRUNCATED, reached_by: "scenarios/raft/leader-isolation.toml" },
        BugClass { name: STALE_RESPONSE, reached_by: "scenarios/raft/loss-duplication.toml" },
    ];
}

impl System for RaftKv {
    type Msg = Msg;
    type Settings = Config;
    type Setup = Setup;

    const NAME: &'static str = "raft-kv";
    const ABOUT: &'static str =
        "Raft replicated key-value store: raft-rs RawNode, log in redb on the simulated disk";
    const OPERATIONS: &'static [OperationSpec] = RaftOp::SPECS;
    const ROLES: &'static [&'static str] = Role::NAMES;
    const CONSISTENCY: Option<Consistency> = Some(Consistency::KEY_VALUE);
    const BUG_CLASSES: &'static [sim::harness::system::BugClass] = class::ALL;

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

    fn check(_scenario: &Scenario<Config>, setup: &Setup, sim: &Sim<Msg>) -> Vec<Check> {
        let facts = sim.observations();
        let config = &setup.config;
        let attempt = config.request_timeout.max(client::BACKOFF);
        let mut checks = vec![
            checks::election_safety(facts),
            checks::state_machine_safety(facts),
            checks::acknowledged_writes_kept(facts, sim.operations()),
            checks::recovers_what_it_synced(facts),
            checks::client_deadline(sim.operations(), config.operation_timeout + attempt, sim.now()),
        ];
        checks.extend(checks::membership_done(facts, setup.voters, &config.membership));
        checks
    }
}
