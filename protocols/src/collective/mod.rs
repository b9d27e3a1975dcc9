//! A storage collective: chunked, replicated files across members, in two modes.
//!
//! After ColeGreenlee/collective at 317ed19 (before its federation rewrite). Members
//! (alice, bob, ...) each run a coordinator; storage nodes register with their member's
//! coordinator; coordinators peer, share their node lists and heartbeat each other. A client
//! puts a whole file to its member's coordinator, which cuts it into chunks (by file size),
//! places replica i of chunk c on healthy node (c + i) mod n, and keeps the file entries and
//! chunk allocations.
//!
//! - `mode = "collective"` is the code as it is: RF 2, replicas written one after the
//!   other with 10 s timeouts, a chunk stored when one replica is (a chunk with none is left
//!   out and the put still succeeds), metadata in the coordinator's memory only, reads from
//!   the first healthy replica without checksums, nodes re-registered from their
//!   heartbeats.
//! - `mode = "durable"` (the default) is the design it reaches for: metadata in redb on the
//!   coordinator's disk, a put acknowledged only when every chunk has its replicas (or the
//!   scenario's write quorum), checksums verified on read with failover, re-replication of
//!   the chunks of lost nodes, and removal of chunks no file refers to.
//!
//! File content is described, not held ([`sim::Payload`]): a put of id `v` writes the
//! first `size(v)` bytes of stream `v`, every chunk is a slice of it, and corruption flips
//! real bits the checksum sees. The checks (`check.rs`) judge reads by content.

mod check;
mod client;
mod config;
mod coordinator;
mod meta;
mod msg;
mod node;

pub use check::{CollectiveFact, Throughput};
pub use config::{Bug, Config, FileSize, Mode, Sizes};
pub use msg::{Answer, ChunkId, Msg, Path, Timer};

use std::rc::Rc;

use sim::check::{check_named, ModelName};
use sim::harness::system::{Check, Consistency, Slot, System};
use sim::kernel::history::Value;
use sim::kernel::workload::{Arg, OpRecord, OperationSpec, Operations};
use sim::report::Table;
use sim::scenario::{Scenario, WorkloadSpec};
use sim::Names;
use sim::{Node, NodeId, Payload, Seed, Sim, Time};

sim::names! {
    /// The roles its nodes report (`Ctx::set_role`), which faults can target.
    pub enum Role {
        /// The coordinator (metadata, placement).
        Coordinator = "coordinator",
        /// A storage node (chunks).
        Storage = "storage",
    }
}

sim::operations! {
    /// The collective's operations: their names in scenarios and histories, arguments and
    /// default mix.
    pub enum CollectiveOp {
        /// Stores a file of a unique content under a path.
        Put = ("put", Arg::Unique, 0.35),
        /// Reads a path's file.
        Get = ("get", Arg::None, 0.45),
        /// Deletes a path.
        Delete = ("delete", Arg::None, 0.05),
        /// Creates a directory.
        Mkdir = ("mkdir", Arg::None, 0.05),
        /// Lists a directory.
        List = ("list", Arg::None, 0.1),
    }
}

/// What every node of a run shares: the settings and who is who.
pub struct Shared {
    config: Config,
    sizes: Vec<Sizes>,
    seed: Seed,
    /// Member m's coordinator is server m.
    members: u32,
    /// Each member's storage nodes.
    storage: Vec<Vec<NodeId>>,
    /// Clients stop taking operations and read back every path from here on.
    audit_at: Time,
    /// The workload's paths (`[workload] keys`) and clients: client `i` audits the paths
    /// `p` with `p % clients == i`.
    paths: u64,
    clients: u64,
}

impl Shared {
    fn new(
        config: Config,
        seed: Seed,
        duration: std::time::Duration,
        workload: Option<&WorkloadSpec>,
    ) -> Shared {
        let members = config.members.len() as u32;
        let mut next = members;
        let storage = config
            .members
            .iter()
            .map(|&n| {
                let nodes = (next..next + n).map(NodeId).collect();
                next += n;
                nodes
            })
            .collect();
        let audit_at = Time::ZERO + duration.saturating_sub(config.audit);
        let (paths, clients) = workload.map_or((0, 1), |w| (w.keys, u64::from(w.clients.max(1))));
        Shared {
            sizes: config.sizes().expect("validated"),
            config,
            seed,
            members,
            storage,
            audit_at,
            paths,
            clients,
        }
    }

    /// Member `m`'s coordinator.
    fn coordinator(&self, member: u32) -> NodeId {
        NodeId(member)
    }

    /// The member whose namespace `path` is in (and whose coordinator keeps its entry).
    fn owner(&self, path: Path) -> u32 {
        (path % u64::from(self.members)) as u32
    }

    /// The member server `id` belongs to.
    fn member_of(&self, id: NodeId) -> u32 {
        if id.0 < self.members {
            return id.0;
        }
        self.storage.iter().position(|nodes| nodes.contains(&id)).expect("a server") as u32
    }

    /// The size of the file put with value `id`: drawn from the seed, so every node knows it.
    pub fn size_of(&self, id: u64) -> u64 {
        let mut rng = self.seed.stream("collective-size", id);
        let sizes = &self.sizes[rng.below(self.sizes.len() as u64) as usize];
        sizes.draw(rng.unit())
    }

    /// The content put with value `id`.
    pub fn content(&self, id: u64) -> Payload {
        Payload::new(id, self.size_of(id))
    }

    /// The value a read of `parts` returns: the put whose content it is exactly, else a
    /// mark no put wrote (`bad:` and what was read).
    pub fn identify(&self, parts: &[Payload]) -> Value {
        let whole = Payload::join(parts);
        match whole {
            Some(p) if p.offset() == 0 && p.is_pristine() && p.len() == self.size_of(p.seed()) => {
                Value::Int(p.seed() as i64)
            }
            _ => {
                let bytes: u64 = parts.iter().map(Payload::len).sum();
                let flipped = parts.iter().filter(|p| !p.is_pristine()).count();
                Value::Str(format!("bad:{} chunks,{bytes} bytes,{flipped} corrupt", parts.len()))
            }
        }
    }

    /// The text of a path.
    pub fn path_name(&self, path: Path) -> String {
        format!("/m{}/d{}/f{path}", self.owner(path), path % u64::from(self.config.dirs))
    }
}

/// The bug classes the collective's scenarios must reach (docs/BUG-FINDING.md): each is
/// stated with `Ctx::sometimes` where its situation arises, so a sweep's ledger shows it.
pub(crate) mod class {
    use sim::harness::system::BugClass;

    pub const NODE_CRASHED_HOLDING: &str = "class: a storage node restarted after acknowledging chunk stores";
    pub const COORDINATOR_RECOVERED: &str = "class: a coordinator restarted and recovered file entries";
    pub const FAILOVER_CHECKSUM: &str = "class: a read failed over from a copy whose checksum failed";
    pub const DAMAGED_SOURCE: &str = "class: a re-replication's source found its copy damaged";
    pub const TARGET_HOLDS: &str = "class: re-replication passed over a node already holding the chunk";
    pub const GC_MEETS_UPLOAD: &str = "class: garbage collection met a chunk of an upload in flight";
    pub const ALL: &[BugClass] = &[
        BugClass { name: NODE_CRASHED_HOLDING, reached_by: "scenarios/collective/crash-restart.toml" },
        BugClass { name: COORDINATOR_RECOVERED, reached_by: "scenarios/collective/coordinator-restart.toml" },
        BugClass { name: FAILOVER_CHECKSUM, reached_by: "scenarios/collective/corruption.toml" },
        BugClass { name: DAMAGED_SOURCE, reached_by: "scenarios/collective/damaged-source.toml" },
        BugClass { name: TARGET_HOLDS, reached_by: "scenarios/collective/member-partition.toml" },
        BugClass { name: GC_MEETS_UPLOAD, reached_by: "scenarios/collective/node-lost.toml" },
    ];
}

/// The most paths a scenario may have: the audit reads each of them at once.
const MAX_AUDITED_PATHS: u64 = 100_000;

/// The storage collective as a system scenarios can name.
pub struct Collective;

impl System for Collective {
    type Msg = Msg;
    type Settings = Config;
    type Setup = Rc<Shared>;

    const NAME: &'static str = "collective";
    const ABOUT: &'static str = "chunked, replicated file storage across members (mode collective: its code at \
                                 317ed19; mode durable: persisted metadata, write quorums, checksums, re-replication, GC)";
    /// Chunk files: each replica holder stores a chunk whole under the chunk's name.
    const REPLICATED_FILES: &'static [&'static str] = &["chunk/"];
    const BUG_CLASSES: &'static [sim::harness::system::BugClass] = class::ALL;
    const OPERATIONS: &'static [OperationSpec] = CollectiveOp::SPECS;
    const ROLES: &'static [&'static str] = Role::NAMES;
    const CONSISTENCY: Option<Consistency> = Some(Consistency {
        name: "linearizable",
        // A register per path: put, get and delete; mkdir and list are not about one path.
        judge: |ops, budget| {
            let files: Vec<_> =
                ops.iter().filter(|op| !matches!(op.f.as_str(), "mkdir" | "list")).cloned().collect();
            check_named(ModelName::KeyValue, &Value::Nil, false, &files, budget)
        },
        promised: true,
    });

    fn validate(scenario: &Scenario<Config>) -> Result<(), (&'static str, String)> {
        scenario.settings.validate(scenario.nodes, scenario.duration)?;
        // The audit reads every path in one go: bound it (the fuzzer found 2^60 keys, whose
        // audit allocated until the machine ran out of memory).
        match &scenario.workload {
            Some(workload) if workload.keys > MAX_AUDITED_PATHS => Err((
                "audit",
                format!(
                    "the audit reads every one of the workload's {} keys: at most {MAX_AUDITED_PATHS}",
                    workload.keys
                ),
            )),
            _ => Ok(()),
        }
    }

    fn setup(scenario: &Scenario<Config>, seed: Seed) -> Rc<Shared> {
        Rc::new(Shared::new(scenario.settings.clone(), seed, scenario.duration, scenario.workload.as_ref()))
    }

    fn node(shared: &Rc<Shared>, slot: Slot, id: NodeId) -> Box<dyn Node<Msg = Msg>> {
        match slot {
            Slot::Server(i) if i < shared.members => {
                Box::new(coordinator::Coordinator::new(shared.clone(), i))
            }
            Slot::Server(_) => Box::new(node::StorageNode::new(shared.clone(), id)),
            Slot::Client(i) | Slot::Other(i) => Box::new(client::Client::new(shared.clone(), u64::from(i))),
        }
    }

    fn check(_scenario: &Scenario<Config>, shared: &Rc<Shared>, sim: &Sim<Msg>) -> Vec<Check> {
        check::all(shared, sim)
    }

    fn latency_class(shared: &Rc<Shared>, record: &OpRecord) -> Option<String> {
        Throughput::class(shared, record).map(str::to_owned)
    }

    fn tables(_scenario: &Scenario<Config>, shared: &Rc<Shared>, sim: &Sim<Msg>) -> Vec<Table> {
        vec![Throughput::measure(shared, sim.operations()).table()]
    }
}
