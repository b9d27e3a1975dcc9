//! Dynamo settings: the `[settings]` table of a `dynamo` scenario.
//!
//! Dynago's own constants (gossip every 1 s, inactive after 15 s, queues of 100, re-dial
//! after 5 s) are not settings: they are what its code does (`dynago.rs`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sim::scenario::duration;

pub use super::version::Conflict;

/// How the store behaves.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `"dynamo"` (the design: quorums, vector clocks, hinted handoff, read repair,
    /// anti-entropy) or `"dynago"` (Dynago at 6bb3e07 as its code is). Default: "dynamo".
    pub mode: Mode,
    /// Dynago's later hash ring (`mode = "dynago"` only): 150 virtual nodes a node, one owner
    /// per key, GET and SET forwarded to it with a 5 s timeout, no replication. Default: false.
    pub ring: bool,
    /// What a put does (`mode = "dynago"` only): `"set"` (Jepsen's set: read, add the
    /// element, write the set back) or `"register"` (write the element alone, no read: Dynago's
    /// own SET, so that what replication loses shows without concurrent read-modify-writes
    /// overwriting each other). Default: "set".
    pub workload: Workload,
    /// N: replicas of every key (the preference list's length). Default: 3.
    pub replicas: u32,
    /// R: replies a read waits for. Default: 2.
    pub read_quorum: u32,
    /// W: acknowledgements a write waits for (the coordinator's own included). Default: 2.
    pub write_quorum: u32,
    /// A sloppy quorum: writes and reads go to the first N nodes the coordinator believes
    /// healthy, a stand-in keeping a hint for each owner it replaces (Dynamo §4.6). False:
    /// only the N owners count. Default: true.
    pub sloppy_quorum: bool,
    /// How replicas resolve versions: `"vclock"` (vector clocks, siblings) or `"lww"`
    /// (last write wins by the coordinator's clock). Default: "vclock".
    pub conflict: Conflict,
    /// How a client resolves the siblings a read returns before it writes: `"merge"` (the
    /// union of their sets, Jepsen's set workload) or `"take-one"` (the first). Default: "merge".
    pub siblings: Resolve,
    /// Partitions of the ring per server (Dynamo §6.2, strategy 3: equal partitions, each
    /// owned by one server). Default: 8.
    pub virtual_nodes: u32,
    /// How long a coordinator waits for its quorum. Default: "300ms".
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// How long a client waits for one coordinator before trying the next node of the
    /// preference list (Dynago: its one node). Default: "1s".
    #[serde(with = "duration")]
    pub client_timeout: Duration,
    /// Gossip with one random peer this often; a peer that does not answer is suspected
    /// until it is heard from again (the failure detector). Default: "1s".
    #[serde(with = "duration")]
    pub gossip_interval: Duration,
    /// Try to hand hints back this often. Default: "1s".
    #[serde(with = "duration")]
    pub handoff_interval: Duration,
    /// Read repair (Dynamo §5): after a read, replicas that answered with less get the
    /// reconciled siblings. False turns it off (PBS's model has none; Cassandra makes it a
    /// chance per read). Default: true.
    pub read_repair: bool,
    /// Compare one partition's Merkle tree with one other replica this often. Default: "500ms".
    #[serde(with = "duration")]
    pub anti_entropy_interval: Duration,
    /// How a coordinator reaches its own replica: `"local"` (in place, at once) or
    /// `"network"` (through loopback messages like every other replica, so that a message
    /// kind's latency applies to all N replicas, as PBS's WARS model draws it).
    /// Default: "local".
    pub coordinator_replica: CoordinatorReplica,
    /// Where a write goes: `"all"` (the N targets, Dynamo) or `"quorum"` (W of them at random,
    /// PBS's non-expanding quorums, for k-staleness; needs `coordinator_replica =
    /// "network"`). Default: "all".
    pub write_fanout: WriteFanout,
    /// fsync every stored version and hint before acknowledging it. Default: true.
    pub fsync: bool,
    /// `dynamo.convergence`: every replica of every key agrees this long after the last
    /// fault ends and the last write is invoked (and the run must last that long).
    /// Default: "20s".
    #[serde(with = "duration")]
    pub converge_within: Duration,
    /// Membership changes (Dynamo §4.9), in time order: `{ at = "10s", join = 5 }` adds
    /// server 5 to the ring (a server whose first change is a join starts outside it),
    /// `{ at = "20s", leave = 1 }` takes server 1 out. The server itself announces the
    /// change and gossip spreads it; every server that learns it hands the keys it holds
    /// to their new owners as hints, and anti-entropy follows the new ring. Default: none.
    pub membership: Vec<Change>,
    /// Planted bugs, for testing the checks (canaries).
    pub bugs: Vec<Bug>,
}

/// A membership change.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// When the server announces it.
    #[serde(with = "duration")]
    pub at: Duration,
    /// The server that joins.
    #[serde(default)]
    pub join: Option<u32>,
    /// The server that leaves.
    #[serde(default)]
    pub leave: Option<u32>,
}

impl Change {
    /// The server and whether it joins.
    pub fn what(&self) -> (u32, bool) {
        match (self.join, self.leave) {
            (Some(server), None) => (server, true),
            (None, Some(server)) => (server, false),
            _ => unreachable!("validated: exactly one of join and leave"),
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            mode: Mode::Dynamo,
            ring: false,
            workload: Workload::Set,
            replicas: 3,
            read_quorum: 2,
            write_quorum: 2,
            sloppy_quorum: true,
            conflict: Conflict::Vclock,
            siblings: Resolve::Merge,
            virtual_nodes: 8,
            request_timeout: Duration::from_millis(300),
            client_timeout: Duration::from_secs(1),
            gossip_interval: Duration::from_secs(1),
            handoff_interval: Duration::from_secs(1),
            read_repair: true,
            anti_entropy_interval: Duration::from_millis(500),
            coordinator_replica: CoordinatorReplica::Local,
            write_fanout: WriteFanout::All,
            fsync: true,
            converge_within: Duration::from_secs(20),
            membership: Vec::new(),
            bugs: Vec::new(),
        }
    }
}

/// Which protocol the servers run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The Dynamo design.
    Dynamo,
    /// Dynago at 6bb3e07.
    Dynago,
}

/// What a put does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// Read, add the element, write the set back.
    Set,
    /// Write the element alone: a register per key.
    Register,
}

/// How a coordinator reaches its own replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CoordinatorReplica {
    /// In place.
    Local,
    /// Through loopback messages.
    Network,
}

/// Where a write goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteFanout {
    /// Every target.
    All,
    /// W targets at random.
    Quorum,
}

/// How a client resolves siblings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resolve {
    /// The union of the siblings' sets.
    Merge,
    /// The first sibling only.
    TakeOne,
}

/// A planted bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bug {
    /// Hinted handoff deletes the hint when it sends it, before the owner acknowledges.
    HintDeletedEarly,
    /// Read repair writes the oldest version it saw instead of the reconciled one.
    RepairOlder,
    /// Replicas apply versions in arrival order, replacing what they hold.
    ArrivalOrder,
    /// A server that learns of a membership change hands nothing to the new owners.
    NoHandoff,
    /// A coordinator stamps every incarnation's writes as the same actor (its node id), so
    /// after a wipe or a lost log tail it reissues dots it already gave out (Riak's KV679).
    ReusedActor,
}

impl Config {
    /// The servers in the ring before any change: all but those whose first change is a
    /// join.
    pub fn initial_members(&self, servers: u32) -> std::collections::BTreeSet<u32> {
        let mut first = std::collections::BTreeMap::new();
        for change in &self.membership {
            let (server, join) = change.what();
            first.entry(server).or_insert(join);
        }
        (0..servers).filter(|s| first.get(s) != Some(&true)).collect()
    }

    /// The servers in the ring after every change.
    pub fn final_members(&self, servers: u32) -> std::collections::BTreeSet<u32> {
        let mut members = self.initial_members(servers);
        for change in &self.membership {
            match change.what() {
                (server, true) => members.insert(server),
                (server, false) => members.remove(&server),
            };
        }
        members
    }

    fn validate_membership(&self, nodes: u32) -> Result<(), (&'static str, String)> {
        let mut members = None;
        let mut last = Duration::ZERO;
        for (i, change) in self.membership.iter().enumerate() {
            let server = match (change.join, change.leave) {
                (Some(s), None) | (None, Some(s)) => s,
                _ => {
                    return Err((
                        "membership",
                        format!("membership change {i} names neither or both of join and leave: exactly one"),
                    ))
                }
            };
            if server >= nodes {
                return Err(("membership", format!("membership change {i}: server {server} of {nodes}")));
            }
            if change.at < last {
                return Err((
                    "membership",
                    format!("membership change {i} at {:?} is before the one before it", change.at),
                ));
            }
            last = change.at;
            let members = members.get_or_insert_with(|| self.initial_members(nodes));
            let (server, join) = change.what();
            if join == members.contains(&server) {
                let state = if join { "already in" } else { "not in" };
                return Err((
                    "membership",
                    format!("membership change {i}: server {server} is {state} the ring"),
                ));
            }
            if join {
                members.insert(server);
            } else {
                members.remove(&server);
            }
            if (members.len() as u32) < self.replicas {
                return Err((
                    "membership",
                    format!(
                        "membership change {i} leaves {} servers, fewer than N = {}",
                        members.len(),
                        self.replicas
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The rules across fields: `(settings key, message)` on failure.
    pub fn validate(&self, nodes: u32, run: Duration) -> Result<(), (&'static str, String)> {
        let positive = |key: &'static str, value: u32| {
            if value == 0 {
                Err((key, format!("{key} must be at least 1")))
            } else {
                Ok(())
            }
        };
        positive("replicas", self.replicas)?;
        positive("read_quorum", self.read_quorum)?;
        positive("write_quorum", self.write_quorum)?;
        positive("virtual_nodes", self.virtual_nodes)?;
        if self.replicas > nodes {
            return Err((
                "replicas",
                format!("replicas (N = {}) exceeds the {nodes} servers", self.replicas),
            ));
        }
        if self.read_quorum > self.replicas {
            return Err(("read_quorum", format!("R = {} exceeds N = {}", self.read_quorum, self.replicas)));
        }
        if self.write_quorum > self.replicas {
            return Err(("write_quorum", format!("W = {} exceeds N = {}", self.write_quorum, self.replicas)));
        }
        if self.virtual_nodes > 256 {
            return Err((
                "virtual_nodes",
                format!("at most 256 partitions per server, not {}", self.virtual_nodes),
            ));
        }
        sim::scenario::nonzero(&[
            ("request_timeout", self.request_timeout),
            ("client_timeout", self.client_timeout),
            ("gossip_interval", self.gossip_interval),
            ("handoff_interval", self.handoff_interval),
            ("anti_entropy_interval", self.anti_entropy_interval),
        ])?;
        if self.write_fanout == WriteFanout::Quorum && self.coordinator_replica != CoordinatorReplica::Network
        {
            return Err((
                "write_fanout",
                "write_fanout = \"quorum\" needs coordinator_replica = \"network\" (else the coordinator always stores)".into(),
            ));
        }
        if self.converge_within >= run {
            return Err((
                "converge_within",
                format!(
                    "converge_within ({:?}) must be shorter than the run ({run:?})",
                    self.converge_within
                ),
            ));
        }
        self.validate_membership(nodes)?;
        if self.mode == Mode::Dynago {
            let dynamo_only = [
                ("membership", !self.membership.is_empty()),
                ("bugs", !self.bugs.is_empty()),
                ("conflict", self.conflict != Conflict::Vclock),
                ("siblings", self.siblings != Resolve::Merge),
                ("coordinator_replica", self.coordinator_replica != CoordinatorReplica::Local),
                ("write_fanout", self.write_fanout != WriteFanout::All),
            ];
            if let Some((key, _)) = dynamo_only.iter().find(|(_, set)| *set) {
                return Err((
                    key,
                    format!("{key} does not apply to mode = \"dynago\" (it has no versions or siblings)"),
                ));
            }
        } else if self.ring {
            return Err(("ring", "ring is Dynago's hash ring: it needs mode = \"dynago\"".into()));
        } else if self.workload == Workload::Register {
            return Err((
                "workload",
                "workload = \"register\" is Dynago's plain SET: it needs mode = \"dynago\" (Dynamo's checks judge sets)".into(),
            ));
        }
        Ok(())
    }
}
