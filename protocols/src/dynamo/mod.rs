//! A Dynamo-style leaderless store, in two modes.
//!
//! - `mode = "dynamo"` (the default) is the design of the Dynamo paper (DeCandia et al.,
//!   SOSP 2007): consistent hashing with equal partitions, a preference list of N, any
//!   server coordinating, R and W quorums, a sloppy quorum with hinted handoff, read repair,
//!   Merkle-tree anti-entropy per partition, vector clocks with siblings (or last-write-wins
//!   on the coordinator's clock, as Cassandra), gossip with one random peer a second as the
//!   failure detector, and replicas durable on their simulated disks (`node.rs`, `store.rs`).
//! - `mode = "dynago"` is Dynago (mdkhanga/dynago at 6bb3e07) as its code is:
//!   fire-and-forget replication to every member, local reads, no versions, timestamped
//!   gossip with 15 s inactivity, queues of 100 that block (`dynago.rs`).
//!
//! The store is not linearizable on purpose: its checks (`check.rs`) are that no
//! acknowledged write is lost, that replicas converge after the faults heal, the
//! invariants of its mechanisms, and staleness measured (t-visibility, k-staleness).
//! Linearizability is checked only when a scenario asks (`[checks] linearizable = true`),
//! against a set per key.

mod check;
mod client;
mod config;
mod dynago;
mod hash_ring;
mod msg;
mod node;
mod pbs;
mod ring;
mod store;
mod version;

pub use check::{DynamoFact, HintEvent, SetModel, Staleness};
pub use config::{Bug, Config, Conflict, CoordinatorReplica, Mode, Resolve, Workload, WriteFanout};
pub use dynago::MEMBERSHIP_WITHIN;
pub use msg::{Msg, Timer};
pub use pbs::{Curve, Model as WarsModel, Wars};
pub use ring::Ring;
pub use version::{VClock, Version};

sim::operations! {
    /// The store's operations: their names in scenarios and histories, arguments and
    /// default mix.
    pub enum DynamoOp {
        /// Reads a key's siblings.
        Get = ("get", sim::kernel::workload::Arg::None, 0.5),
        /// Adds a unique element to a key's set (writes it, in Dynago's register workload).
        Put = ("put", sim::kernel::workload::Arg::Unique, 0.45),
        /// Deletes a key.
        Delete = ("delete", sim::kernel::workload::Arg::None, 0.05),
    }
}

use std::rc::Rc;

use sim::harness::system::{Check, Consistency, Slot, System};
use sim::kernel::network::NetworkModel;
use sim::kernel::workload::{OperationSpec, Operations};
use sim::report::Table;
use sim::scenario::Scenario;
use sim::{Node, NodeId, Seed, Sim, Status, Time};

/// What every node of a run shares: the settings and the ring.
pub struct Shared {
    config: Config,
    ring: Ring,
    /// Dynago's hash ring, with `ring = true`.
    hash_ring: Option<hash_ring::HashRing>,
    servers: u32,
    /// The ring's servers after every membership change.
    members: std::collections::BTreeSet<u32>,
}

impl Shared {
    /// The servers that replicate `key`: its preference list (Dynago: every server).
    fn owners(&self, key: u64) -> Vec<u32> {
        match self.config.mode {
            Mode::Dynamo => {
                let partition = self.ring.partition(key);
                self.ring.preference_among(partition, self.config.replicas, |s| self.members.contains(&s))
            }
            Mode::Dynago => match &self.hash_ring {
                Some(ring) => ring.owner(key, |_| true).into_iter().collect(),
                None => (0..self.servers).collect(),
            },
        }
    }
}

/// PBS's WARS model of a scenario whose coordinators reach every replica through the
/// network (`coordinator_replica = "network"`) and send every write to all N (the model's
/// expanding quorums): W, A, R and S are the latencies of the
/// `replicate`, `replicated`, `read` and `read-reply` kinds (the network's where unset).
fn wars_model(scenario: &Scenario<Config>) -> Option<WarsModel> {
    let config = &scenario.settings;
    let expanding = config.write_fanout == WriteFanout::All;
    if config.mode != Mode::Dynamo || config.coordinator_replica != CoordinatorReplica::Network || !expanding
    {
        return None;
    }
    let network = &scenario.network;
    let latency = |kind: &str| network.kinds.get(kind).unwrap_or(&network.latency).0.clone();
    let wars = Wars {
        w: latency("replicate"),
        a: latency("replicated"),
        r: latency("read"),
        s: latency("read-reply"),
    };
    Some(WarsModel {
        wars,
        replicas: config.replicas as usize,
        read_quorum: config.read_quorum as usize,
        write_quorum: config.write_quorum as usize,
    })
}

/// The Dynamo store as a system scenarios can name.
pub struct Dynamo;

/// The bug classes the Dynamo mode's scenarios must reach (docs/BUG-FINDING.md): each is
/// stated with `Ctx::sometimes` where its situation arises, so a sweep's ledger shows it.
pub(crate) mod class {
    use sim::harness::system::BugClass;

    pub const LWW_DISCARDED: &str = "class: last-write-wins discarded a version for one stamped later";
    pub const HINTS_ACROSS_CRASH: &str = "class: a server restarted holding hints for another";
    pub const HINT_HANDED_OFF: &str = "class: a hint was deleted once its owner acknowledged it";
    pub const LATE_TOMBSTONE: &str = "class: a replica that missed a delete got its tombstone later";
    pub const READ_REPAIR: &str = "class: read repair wrote a replica that answered with less";
    pub const RANGES_DIFFER: &str = "class: anti-entropy found ranges that differ";
    pub const CAUGHT_UP: &str = "class: anti-entropy brought a replica writes it missed";
    pub const ALL: &[BugClass] = &[
        BugClass { name: LWW_DISCARDED, reached_by: "scenarios/dynamo/canary/lww-skew.toml" },
        BugClass { name: HINTS_ACROSS_CRASH, reached_by: "scenarios/dynamo/churn.toml" },
        BugClass { name: HINT_HANDED_OFF, reached_by: "scenarios/dynamo/partition.toml" },
        BugClass { name: LATE_TOMBSTONE, reached_by: "scenarios/dynamo/partition.toml" },
        BugClass { name: READ_REPAIR, reached_by: "scenarios/dynamo/partition.toml" },
        BugClass { name: RANGES_DIFFER, reached_by: "scenarios/dynamo/partition.toml" },
        BugClass { name: CAUGHT_UP, reached_by: "scenarios/dynamo/loss-duplication.toml" },
    ];
}

impl System for Dynamo {
    type Msg = Msg;
    type Settings = Config;
    type Setup = Rc<Shared>;

    const NAME: &'static str = "dynamo";
    const ABOUT: &'static str = "Dynamo-style leaderless store (mode dynamo: quorums, vector clocks, hinted handoff, \
                                 read repair, anti-entropy; mode dynago: Dynago as its code is); set workload";
    const OPERATIONS: &'static [OperationSpec] = DynamoOp::SPECS;
    const CONSISTENCY: Option<Consistency> = Some(Consistency {
        name: "linearizable",
        judge: |ops, budget| sim::check::check(&SetModel, ops, budget),
        promised: false,
    });
    const BUG_CLASSES: &'static [sim::harness::system::BugClass] = class::ALL;

    fn validate(scenario: &Scenario<Config>) -> Result<(), (&'static str, String)> {
        scenario.settings.validate(scenario.nodes, scenario.duration)
    }

    fn setup(scenario: &Scenario<Config>, seed: Seed) -> Rc<Shared> {
        let config = scenario.settings.clone();
        let ring = Ring::new(scenario.nodes, config.virtual_nodes, &mut seed.stream("dynamo-ring", 0));
        let hash_ring = config.ring.then(|| hash_ring::HashRing::new(scenario.nodes));
        let members = config.final_members(scenario.nodes);
        Rc::new(Shared { config, ring, hash_ring, servers: scenario.nodes, members })
    }

    fn node(setup: &Rc<Shared>, slot: Slot, _id: NodeId) -> Box<dyn Node<Msg = Msg>> {
        match (slot, setup.config.mode) {
            (Slot::Server(i), Mode::Dynamo) => Box::new(node::Server::new(setup.clone(), i)),
            (Slot::Server(i), Mode::Dynago) => Box::new(dynago::Dynago::new(setup.clone(), i)),
            (Slot::Client(i) | Slot::Other(i), _) => Box::new(client::Client::new(setup.clone(), i)),
        }
    }

    /// Dynago's peers talk over gRPC streams.
    fn network(scenario: &Scenario<Config>, _setup: &Rc<Shared>, network: &mut NetworkModel) {
        if scenario.settings.mode == Mode::Dynago {
            network.use_connections();
        }
    }

    fn check(_scenario: &Scenario<Config>, shared: &Rc<Shared>, sim: &Sim<Msg>) -> Vec<Check> {
        let facts = sim.observations();
        let up = |node: NodeId| sim.status(node) == Status::Up;
        let state = check::final_state(facts, up);
        let owners = |key| shared.owners(key);
        let config = &shared.config;
        let healed = sim.fault_log().iter().map(|r| r.time).max().unwrap_or(Time::ZERO);
        // Convergence is owed once the faults have healed and the writes have stopped.
        let last_write =
            sim.operations().iter().filter(|r| !r.op.is(DynamoOp::Get)).filter_map(|r| r.invoked).max();
        let quiet = healed.max(last_write.unwrap_or(Time::ZERO));
        let deadline = quiet + config.converge_within;
        let mut checks = vec![match config.workload {
            Workload::Set => check::acknowledged_writes_kept(facts, &state, owners, config.conflict),
            Workload::Register => check::last_write_kept(sim.operations(), &state, owners),
        }];
        checks.push(Check::owed(
            "dynamo.convergence",
            deadline,
            sim.now(),
            &format!("the last fault or write at {quiet} + converge_within"),
            || check::convergence(&state, owners, deadline),
        ));
        checks.push(check::no_unwritten_versions(facts, sim.operations()));
        if config.mode == Mode::Dynago {
            // In Dynamo mode a server coordinates the keys it heads the preference list of,
            // which may be few: the kernel's liveness check covers service there.
            checks.push(
                check::every_server_serves(sim.operations(), config.client_timeout * 5, shared.servers, up)
                    .of_whole_run(),
            );
            let due = healed + MEMBERSHIP_WITHIN;
            checks.push(Check::owed(
                "dynamo.membership_converges",
                due,
                sim.now(),
                "the last fault + 27 s, Dynago's own test's wait",
                || check::membership_converges(facts, up, shared.servers, due),
            ));
        }
        if config.mode == Mode::Dynamo {
            if config.conflict == Conflict::Vclock {
                checks.push(check::clocks_never_shrink(facts));
            }
            checks.push(check::hints_handed_back(facts, up));
        }
        checks
    }

    fn tables(scenario: &Scenario<Config>, _shared: &Rc<Shared>, sim: &Sim<Msg>) -> Vec<Table> {
        let staleness = Staleness::measure(sim.operations());
        let until = staleness.reads.iter().map(|r| r.0).max().unwrap_or(0).min(10_000_000_000);
        let curve =
            wars_model(scenario).map(|model| Curve::new(&model, until, 2_000, &mut sim.stream("pbs", 0)));
        vec![staleness.table(curve.as_ref())]
    }
}
