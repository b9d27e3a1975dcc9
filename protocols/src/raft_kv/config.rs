//! Raft KV settings: the `[settings]` table of a `raft-kv` scenario.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sim::scenario::text::Range;
use sim::scenario::{duration, DurationRange};

/// How the Raft KV servers and clients behave.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Raft's logical clock: one raft-rs `tick` per `tick` of the node's local oscillator.
    /// Heartbeat and election timeouts are whole numbers of ticks. Default: "10ms".
    #[serde(with = "duration")]
    pub tick: Duration,
    /// Start each server's tick timer at a random point of its first tick, so that servers
    /// do not tick in step (real servers' timers are not aligned; Raft's Figure 16 depends on
    /// it). False: every server ticks at the same instants. Default: false.
    pub tick_phase: bool,
    /// The leader's heartbeat interval. Default: "50ms".
    #[serde(with = "duration")]
    pub heartbeat: Duration,
    /// Election timeouts are drawn uniformly from this range (inclusive, in whole ticks) from
    /// the node's own random stream every time raft-rs resets its election timer.
    /// Default: "150ms..300ms".
    pub election_timeout: DurationRange,
    /// Pre-vote (Raft thesis 9.6): a partitioned node does not disrupt the cluster when it
    /// returns. Default: true.
    pub pre_vote: bool,
    /// Check quorum: a leader that has not heard from a quorum for an election timeout steps
    /// down. Default: true (required by `read_mode = "lease"`).
    pub check_quorum: bool,
    /// How reads are served: `"read-index"` (raft-rs ReadIndex: the leader confirms its
    /// leadership with a heartbeat round, linearizable), `"log"` (reads go through the log,
    /// linearizable), `"lease"` (the leader answers while its lease holds: linearizable only
    /// while clocks drift less than the lease margin). Default: "read-index".
    pub read_mode: ReadMode,
    /// Where the log, hard state and snapshots are durable: `"redb"` (redb on a file of the
    /// simulated disk) or `"wal"` (an append-only log file of our own; the same durability
    /// rules at a fraction of the CPU, docs/PERFORMANCE.md). Default: "redb".
    pub storage: LogStore,
    /// Persist each Ready asynchronously, as TiKV does: its writes go to the WAL at once and
    /// its fsync is submitted (`Ctx::fsync_async`); the server goes on ticking, heartbeating
    /// and stepping messages, and the messages that must wait for the sync (votes, append
    /// acknowledgements) leave when it completes (raft-rs `advance_append_async`,
    /// `on_persist_ready`). A leader whose disk is stuck then keeps its followers and
    /// commits with them. Needs `storage = "wal"`. Default: false.
    pub async_persistence: bool,
    /// Take a snapshot and compact the log every this many applied entries (0: never).
    /// Default: 200.
    pub compact_every: u64,
    /// The servers in the initial configuration: ids `0..voters` (0: all `nodes`). The rest
    /// start empty and join through `membership`. Default: 0.
    pub voters: u32,
    /// Scheduled membership changes, proposed by the leader from the given time on.
    pub membership: Vec<Change>,
    /// How long a client waits for one server's answer before trying the next. Default: "500ms".
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// How long a client keeps retrying an operation before it reports it as unknown (info),
    /// or as failed when no attempt could have been applied. Default: "5s".
    #[serde(with = "duration")]
    pub operation_timeout: Duration,
    /// Clients send each get to a random server instead of the leader they know (read load
    /// balancing); a server that cannot serve it redirects to the leader. Default: false.
    pub spread_reads: bool,
    /// Planted bugs, for testing the checks (canaries).
    pub bugs: Vec<Bug>,
}

/// One membership change: add or remove a server at a time.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// From when the leader proposes it.
    #[serde(with = "duration")]
    pub at: Duration,
    /// The server to add as a voter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add: Option<u32>,
    /// The server to remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove: Option<u32>,
}

/// How reads are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadMode {
    /// raft-rs ReadIndex (safe).
    ReadIndex,
    /// Through the log.
    Log,
    /// Leader lease (raft-rs `LeaseBased`).
    Lease,
}

/// Where Raft's durable state lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogStore {
    /// redb on a file of the simulated disk (`raft.redb`).
    Redb,
    /// An append-only log file of our own (`raft.wal`).
    Wal,
}

/// A planted bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bug {
    /// Any server answers a get from its own state machine at once, leader or not.
    LocalReads,
    /// The leader acknowledges a put, append or delete when it proposes it, before it is
    /// committed.
    AckBeforeCommit,
    /// Log entries and the hard state are written without fsync: a vote or an
    /// acknowledgement can rest on data a crash loses.
    SkipFsync,
    /// With `async_persistence`, the messages that must wait for a Ready's fsync (votes,
    /// append acknowledgements) leave when it is submitted, before it completes.
    AckBeforeSync,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            tick: Duration::from_millis(10),
            tick_phase: false,
            heartbeat: Duration::from_millis(50),
            election_timeout: DurationRange(Range {
                low: Duration::from_millis(150),
                high: Duration::from_millis(300),
            }),
            pre_vote: true,
            check_quorum: true,
            read_mode: ReadMode::ReadIndex,
            storage: LogStore::Redb,
            compact_every: 200,
            voters: 0,
            membership: Vec::new(),
            request_timeout: Duration::from_millis(500),
            operation_timeout: Duration::from_secs(5),
            spread_reads: false,
            async_persistence: false,
            bugs: Vec::new(),
        }
    }
}

/// Timeouts in ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticks {
    /// Heartbeat interval.
    pub heartbeat: usize,
    /// Shortest election timeout.
    pub election_low: usize,
    /// Longest election timeout.
    pub election_high: usize,
}

impl Config {
    /// The timeouts in whole ticks.
    pub fn ticks(&self) -> Ticks {
        let ticks = |d: Duration| (d.as_nanos() / self.tick.as_nanos().max(1)) as usize;
        Ticks {
            heartbeat: ticks(self.heartbeat),
            election_low: ticks(self.election_timeout.0.low),
            election_high: ticks(self.election_timeout.0.high),
        }
    }

    /// Whether bug `bug` is planted.
    pub fn has(&self, bug: Bug) -> bool {
        self.bugs.contains(&bug)
    }

    /// The rules across fields, for `nodes` servers: `(key, message)` on failure.
    pub fn validate(&self, nodes: u32) -> Result<(), (&'static str, String)> {
        if self.tick.is_zero() {
            return Err(("tick", "tick must be greater than zero".into()));
        }
        let ticks = self.ticks();
        if ticks.heartbeat == 0 {
            return Err(("heartbeat", format!("heartbeat must be at least one tick ({:?})", self.tick)));
        }
        if ticks.election_low <= ticks.heartbeat {
            return Err((
                "election_timeout",
                format!(
                    "the shortest election timeout ({} ticks) must be longer than the heartbeat ({} ticks)",
                    ticks.election_low, ticks.heartbeat
                ),
            ));
        }
        if self.read_mode == ReadMode::Lease && !self.check_quorum {
            return Err(("read_mode", "read_mode = \"lease\" requires check_quorum = true".into()));
        }
        if self.async_persistence && self.storage != LogStore::Wal {
            return Err((
                "async_persistence",
                "async_persistence needs storage = \"wal\" (redb syncs inside its commit)".into(),
            ));
        }
        if self.voters > nodes {
            return Err(("voters", format!("voters is {} but the scenario has {nodes} nodes", self.voters)));
        }
        if self.request_timeout.is_zero() || self.operation_timeout < self.request_timeout {
            return Err((
                "operation_timeout",
                "operation_timeout must be at least request_timeout, which must be positive".into(),
            ));
        }
        for change in &self.membership {
            let server = match (change.add, change.remove) {
                (Some(server), None) | (None, Some(server)) => server,
                _ => {
                    return Err((
                        "membership",
                        "each membership change has exactly one of add or remove".into(),
                    ))
                }
            };
            if server >= nodes {
                return Err(("membership", format!("server {server} is not one of the {nodes} nodes")));
            }
        }
        Ok(())
    }

    /// The initial voters among `nodes` servers.
    pub fn initial_voters(&self, nodes: u32) -> u32 {
        if self.voters == 0 {
            nodes
        } else {
            self.voters
        }
    }
}
