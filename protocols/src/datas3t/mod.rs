//! A dataset service: numbered datapoints kept as TAR dataranges in an object store, with
//! their metadata in a transactional store, after draganm/datas3t at fa4800e.
//!
//! Three servers: the datas3t server (n0), the object store (n1, S3's semantics on its
//! disk: `s3.rs`) and the metadata store (n2, the service's tables in redb: `db.rs`);
//! clients build real TARs with the `tar` crate (`tarball.rs`, `client.rs`). The server's
//! flows (`server.rs`) are the real ones: uploads checked for overlap, planned as one
//! presigned PUT or a multipart upload, completed by validating the index and a few
//! headers; aggregates of 2 or more adjacent ranges; downloads as ranged GETs through an
//! index cache; deletes; a deletion worker.
//!
//! - `mode = "datas3t"` is the code as it is.
//! - `mode = "safe"` (the default) is the design it reaches for: the completing transaction
//!   re-checks the overlap (and an aggregate its sources), a delete schedules its objects in
//!   the transaction that deletes its row, and uploads not completed within a lease are
//!   aborted and their objects collected (docs/design-notes.md says why each).

mod check;
mod client;
mod config;
mod db;
mod msg;
mod s3;
mod server;
pub mod tarball;

pub use check::Datas3tFact;
pub use client::{content, content_len};
pub use config::{Bug, Config, Mode};
pub use msg::{Msg, Range, Timer, Upload};

use std::rc::Rc;

use sim::harness::system::{Check, Slot, System};
use sim::kernel::workload::{Arg, OpRecord, OperationSpec, Operations};
use sim::report::Table;
use sim::scenario::Scenario;
use sim::Names;
use sim::{Node, NodeId, Seed, Sim};

sim::names! {
    /// The roles its nodes report (`Ctx::set_role`), which faults can target.
    pub enum Role {
        /// A datas3t server.
        Server = "server",
        /// The object store (S3).
        ObjectStore = "object-store",
        /// The transactional metadata store.
        MetadataStore = "metadata-store",
    }
}

sim::operations! {
    /// The service's operations: their names in scenarios and histories, arguments and
    /// default mix.
    pub enum Datas3tOp {
        /// Uploads a datarange (a unique version of its datapoints).
        Upload = ("upload", Arg::Unique, 0.4),
        /// Aggregates the ranges over a span into one.
        Aggregate = ("aggregate", Arg::None, 0.15),
        /// Downloads a span of datapoints.
        Download = ("download", Arg::None, 0.4),
        /// Deletes a datarange.
        Delete = ("delete", Arg::None, 0.05),
        /// Imports the object store's ranges into the metadata store.
        Import = ("import", Arg::None, 0.0),
        /// Not in a mix: a client cancels an upload whose object-store calls failed for good
        /// (`client.rs`, `give_up`); named here so that checks can ask for it.
        Cancel = ("cancel", Arg::None, 0.0),
    }
}

/// What every node of a run shares.
pub struct Shared {
    config: Config,
    /// The seed datapoint contents are drawn from.
    seed: u64,
    /// Workload clients.
    clients: u64,
    server: NodeId,
    object_store: NodeId,
    metadata_store: NodeId,
}

/// The dataset service as a system scenarios can name.
pub struct Datas3t;

/// The bug classes datas3t's scenarios must reach (docs/BUG-FINDING.md): each is stated
/// with `Ctx::sometimes` where its situation arises, so a sweep's ledger shows it.
pub(crate) mod class {
    use sim::harness::system::BugClass;

    pub const METADATA_RECOVERED: &str = "class: the metadata store restarted and recovered committed ranges";
    pub const DELETIONS_ACROSS_CRASH: &str =
        "class: the deletion queue held entries across a metadata-store restart";
    pub const COMMIT_CONFLICT: &str = "class: a completion was refused for a range another commit took";
    pub const MULTIPART_FAILED: &str = "class: a multipart upload failed midway and was dropped";
    pub const ABANDONED_ABORTED: &str = "class: the lease sweep aborted an abandoned multipart upload";
    pub const ALL: &[BugClass] = &[
        BugClass { name: METADATA_RECOVERED, reached_by: "scenarios/datas3t/metadata-crash.toml" },
        BugClass { name: DELETIONS_ACROSS_CRASH, reached_by: "scenarios/datas3t/metadata-crash.toml" },
        BugClass { name: COMMIT_CONFLICT, reached_by: "scenarios/datas3t/s3-failures.toml" },
        BugClass { name: MULTIPART_FAILED, reached_by: "scenarios/datas3t/s3-failures.toml" },
        BugClass { name: ABANDONED_ABORTED, reached_by: "scenarios/datas3t/abandoned-uploads.toml" },
    ];
}

impl System for Datas3t {
    type Msg = Msg;
    type Settings = Config;
    type Setup = Rc<Shared>;

    const BUG_CLASSES: &'static [sim::harness::system::BugClass] = class::ALL;
    const NAME: &'static str = "datas3t";
    const ABOUT: &'static str = "numbered datapoints as TAR dataranges in an object store, metadata in a transactional \
                                 store (mode datas3t: its code at fa4800e; mode safe: the design it reaches for)";
    const OPERATIONS: &'static [OperationSpec] = Datas3tOp::SPECS;
    const ROLES: &'static [&'static str] = Role::NAMES;

    fn validate(scenario: &Scenario<Config>) -> Result<(), (&'static str, String)> {
        scenario.settings.validate()?;
        if scenario.workload.as_ref().is_some_and(|w| w.mix.get("cancel").is_some_and(|weight| *weight > 0.0))
        {
            return Err((
                "workload.mix",
                "mix names cancel, which a client calls itself after an upload failed; it cannot be mixed in"
                    .into(),
            ));
        }
        if scenario.nodes != 3 {
            return Err((
                "nodes",
                format!(
                    "datas3t runs on 3 servers (the server, the object store, the metadata store), not {}",
                    scenario.nodes
                ),
            ));
        }
        Ok(())
    }

    fn setup(scenario: &Scenario<Config>, seed: Seed) -> Rc<Shared> {
        Rc::new(Shared {
            config: scenario.settings.clone(),
            seed: seed.stream("datas3t-content", 0).next_u64(),
            clients: scenario.workload.as_ref().map_or(0, |w| u64::from(w.clients)),
            server: NodeId(0),
            object_store: NodeId(1),
            metadata_store: NodeId(2),
        })
    }

    fn node(shared: &Rc<Shared>, slot: Slot, _id: NodeId) -> Box<dyn Node<Msg = Msg>> {
        match slot {
            Slot::Server(0) => Box::new(server::Server::new(shared.clone())),
            Slot::Server(1) => Box::new(s3::ObjectStore::new(shared.clone())),
            Slot::Server(_) => Box::new(db::MetadataStore::new()),
            Slot::Client(i) | Slot::Other(i) => Box::new(client::Client::new(shared.clone(), u64::from(i))),
        }
    }

    fn check(_scenario: &Scenario<Config>, shared: &Rc<Shared>, sim: &Sim<Msg>) -> Vec<Check> {
        check::all(shared, sim)
    }

    fn latency_class(shared: &Rc<Shared>, record: &OpRecord) -> Option<String> {
        check::size_class(shared, record).map(str::to_owned)
    }

    fn tables(_scenario: &Scenario<Config>, _shared: &Rc<Shared>, sim: &Sim<Msg>) -> Vec<Table> {
        vec![check::ranges_at_end(sim.observations())]
    }
}
