//! The collective's checks, read from the client history, the facts the nodes state, and
//! the disks at the end.
//!
//! - `collective.acknowledged_files_intact`: a read returns exactly the content of a put
//!   (never bytes no put wrote), and a file whose put was acknowledged reads back as that
//!   content whenever it is read after the acknowledgement with no other write to its path
//!   that could be ordered after it (one not acknowledged before it began), and in the
//!   audit at the end — as long as no more than RF − 1 storage nodes
//!   were lost for good or had their disks damaged.
//! - `collective.replication_restored` (durable): `restore_within` after the last node
//!   lost for good went down (or at the end), every chunk a file refers to is held by
//!   `replication` nodes that are not lost.
//! - `collective.no_orphans` (both modes): at the end, no node's disk holds a chunk its
//!   owner's files do not refer to.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

use sim::harness::system::Check;
use sim::kernel::history::Value;
use sim::kernel::observe::Observations;
use sim::kernel::workload::OpRecord;
use sim::report::{Cell, Table};
use sim::{Fault, FaultOutcome, NodeId, Outcome, Sim, Status, Time};

use super::config::Mode;
use super::msg::{ChunkId, Msg, Path};
use super::Shared;

/// What nodes state for the checks.
#[derive(Clone, Debug)]
pub enum CollectiveFact {
    /// A storage node stored a chunk (and synced it, in durable mode).
    Holds { chunk: ChunkId },
    /// A storage node deleted a chunk.
    Drops { chunk: ChunkId },
    /// A storage node started holding exactly these (what its disk kept).
    Inventory { chunks: Vec<ChunkId> },
    /// A coordinator started with these files (reloaded; none if in memory only).
    Loaded { files: Vec<(Path, Placement)> },
    /// A coordinator's entry of a path changed (`None`: removed).
    File { path: Path, chunks: Option<Placement> },
    /// A coordinator acknowledged a put whose file is these chunks (durable mode).
    Acked { chunks: Vec<ChunkId> },
    /// `node`'s copy of a chunk failed its checksum: found by a coordinator's read, or by
    /// the node when asked to copy it elsewhere (durable mode).
    Damaged { chunk: ChunkId, node: NodeId },
}

/// `collective.damaged_copies_removed`: a copy found damaged at `t` is off its node's disk by
/// `t + within` (the design drops it from the allocation and deletes it at once; garbage
/// collection deletes it if that message was lost), unless a fresh copy replaced it. Not
/// owed on a node down at `end`, or when the coordinator that owns the chunk restarted after
/// finding it (its decision may not have reached its disk; a later read finds the copy
/// again).
pub fn damaged_copies_removed(
    facts: &Observations,
    end: Time,
    within: Duration,
    up: &BTreeSet<NodeId>,
) -> Check {
    let name = "collective.damaged_copies_removed";
    let mut held: BTreeMap<NodeId, BTreeSet<ChunkId>> = BTreeMap::new();
    // (node, chunk) -> when its copy was found damaged.
    let mut damaged: BTreeMap<(NodeId, ChunkId), Time> = BTreeMap::new();
    for fact in facts.facts::<CollectiveFact>() {
        match fact.what {
            CollectiveFact::Damaged { chunk, node } => {
                damaged.entry((*node, *chunk)).or_insert(fact.time);
            }
            CollectiveFact::Holds { chunk } => {
                damaged.remove(&(fact.node, *chunk));
            }
            CollectiveFact::Loaded { .. } => damaged.retain(|(_, chunk), _| chunk.owner != fact.node.0),
            _ => {}
        }
        hold(&mut held, fact.node, fact.what);
    }
    for ((node, chunk), at) in damaged {
        let owed = at + within <= end && up.contains(&node);
        if owed && held.get(&node).is_some_and(|h| h.contains(&chunk)) {
            return Check::fail(
                name,
                format!("{node}'s copy of chunk {chunk} was found damaged at {at} and is still on its disk at {end}"),
            );
        }
    }
    Check::pass(name)
}

/// A file's chunks, each with the storage nodes its entry lists as holding it (what a read
/// asks).
pub type Placement = Vec<(ChunkId, Vec<u32>)>;

/// `collective.acknowledged_on_quorum`: the durable mode acknowledges a put only once each
/// of its chunks is stored and synced on `quorum` disks, as the storage nodes said (their
/// `Holds`), not as the coordinator counted. The quorum is the design's: `write_quorum`, or
/// every one of the `replication` copies when unset.
pub fn acknowledged_on_quorum(facts: &Observations, quorum: usize) -> Check {
    let name = "collective.acknowledged_on_quorum";
    let mut held: BTreeMap<NodeId, BTreeSet<ChunkId>> = BTreeMap::new();
    for fact in facts.facts::<CollectiveFact>() {
        match fact.what {
            CollectiveFact::Acked { chunks } => {
                let holders = |c: &ChunkId| held.values().filter(|h| h.contains(c)).count();
                if let Some(chunk) = chunks.iter().find(|c| holders(c) < quorum) {
                    let n = holders(chunk);
                    return Check::fail(
                        name,
                        format!(
                            "at {}, a put was acknowledged with chunk {chunk} on {n} of {quorum} disks",
                            fact.time
                        ),
                    );
                }
            }
            what => hold(&mut held, fact.node, what),
        }
    }
    Check::pass(name)
}

/// Every check of a run.
pub fn all(shared: &Rc<Shared>, sim: &Sim<Msg>) -> Vec<Check> {
    let config = &shared.config;
    let storage: Vec<NodeId> = shared.storage.iter().flatten().copied().collect();
    let mut lost = BTreeMap::new();
    let mut damaged = BTreeSet::new();
    for record in sim.fault_log() {
        let Some(node) = record.fault.node().filter(|n| storage.contains(n)) else { continue };
        match (&record.fault, &record.outcome) {
            (Fault::Crash(_), FaultOutcome::Applied) => {
                lost.insert(node, record.time);
            }
            (Fault::Corrupt { .. }, FaultOutcome::Applied) => {
                damaged.insert(node);
            }
            _ => {}
        }
    }
    // Lost for good: down at the end.
    lost.retain(|node, _| sim.status(*node) == Status::Down);
    let harmed = lost.keys().chain(&damaged).collect::<BTreeSet<_>>().len();
    let within_budget = harmed < config.replication as usize;
    let mut checks = vec![acknowledged_files_intact(
        shared,
        sim.operations(),
        within_budget.then_some(shared.audit_at),
        harmed,
    )];
    if config.mode == Mode::Durable {
        let last_loss = lost.values().max().copied();
        let at = last_loss.map_or(sim.now(), |t| t + config.restore_within);
        let facts = sim.observations();
        checks.push(Check::owed(
            "collective.replication_restored",
            at,
            sim.now(),
            "the last loss + restore_within",
            || {
                if within_budget {
                    let gone: BTreeSet<NodeId> = lost.keys().copied().collect();
                    replication_restored(facts, at, &gone, config.replication as usize)
                } else {
                    Check::pass("collective.replication_restored")
                }
            },
        ));
        let quorum = config.write_quorum.unwrap_or(config.replication) as usize;
        checks.push(acknowledged_on_quorum(facts, quorum));
        let up: BTreeSet<NodeId> = storage.iter().copied().filter(|n| sim.status(*n) == Status::Up).collect();
        checks.push(damaged_copies_removed(facts, sim.now(), config.gc_interval * 2, &up).of_whole_run());
    }
    // Both modes: the faithful one leaks an overwritten file's chunks, a failed delete's
    // and every chunk of a restarted coordinator's files (its metadata is in memory).
    let held: Vec<(NodeId, Vec<ChunkId>)> = storage
        .iter()
        .filter(|n| sim.status(**n) == Status::Up)
        .map(|n| (*n, sim.disk(*n).names_with_prefix("chunk/").filter_map(ChunkId::parse).collect()))
        .collect();
    let coordinators_up = (0..shared.members).all(|m| sim.status(NodeId(m)) == Status::Up);
    checks.push(
        if coordinators_up {
            no_orphans(&files_at(sim.observations(), sim.now()), &held)
        } else {
            Check::unknown(
                "collective.no_orphans",
                "a coordinator is down at the end: what its files refer to is unknown",
            )
        }
        .of_whole_run(),
    );
    checks
}

/// Per path, the writes that may have taken effect: (invoked, acknowledged at, value).
type Writes = Vec<(Time, Option<Time>, Value)>;

/// `collective.acknowledged_files_intact`. `audit_from` is when the audit starts, `None`
/// when more than RF − 1 nodes were harmed (`harmed`): then a read that fails or returns an
/// older file is excused, but content no put wrote never is.
pub fn acknowledged_files_intact(
    shared: &Shared,
    operations: &[OpRecord],
    audit_from: Option<Time>,
    harmed: usize,
) -> Check {
    let name = "collective.acknowledged_files_intact";
    let mut writes: BTreeMap<u64, Writes> = BTreeMap::new();
    for record in operations
        .iter()
        .filter(|r| r.op.is(super::CollectiveOp::Put) || r.op.is(super::CollectiveOp::Delete))
    {
        let Some(invoked) = record.invoked else { continue };
        let acked = match &record.completed {
            Some((_, Outcome::Fail)) => continue,
            Some((at, Outcome::Ok(_))) => Some(*at),
            _ => None,
        };
        let value = if record.op.is(super::CollectiveOp::Put) { record.op.value.clone() } else { Value::Nil };
        writes.entry(record.op.key).or_default().push((invoked, acked, value));
    }
    let show = |v: &Value| match v {
        Value::Nil => "no file".to_string(),
        Value::Int(id) => format!("put #{id} ({} bytes)", shared.size_of(*id as u64)),
        other => format!("{other}"),
    };
    for read in operations.iter().filter(|r| r.op.is(super::CollectiveOp::Get)) {
        let (Some(invoked), Some((returned, outcome))) = (read.invoked, &read.completed) else { continue };
        let path = shared.path_name(read.op.key);
        if let Outcome::Ok(Value::Str(bad)) = outcome {
            return Check::fail(
                name,
                format!("a get of {path} ({invoked}..{returned}) read content no put wrote: {bad}"),
            );
        }
        let Some(audit_from) = audit_from else { continue };
        let empty = Vec::new();
        let candidates = writes.get(&read.op.key).unwrap_or(&empty);
        // The last write acknowledged before the read began...
        let Some(at) =
            candidates.iter().filter(|w| w.1.is_some_and(|at| at < invoked)).map(|w| w.1).max().flatten()
        else {
            continue;
        };
        let last = candidates.iter().find(|w| w.1 == Some(at)).expect("the maximum is one of them");
        // ...and no other write that may take effect after it, before the read ends: every
        // other write invoked before the read returned was acknowledged before it began.
        let raced = candidates
            .iter()
            .any(|w| !std::ptr::eq(w, last) && w.0 < *returned && w.1.is_none_or(|t| t >= last.0));
        if raced {
            continue;
        }
        let acked = last.1.expect("acknowledged");
        match outcome {
            Outcome::Ok(value) if *value != last.2 => {
                return Check::fail(
                    name,
                    format!(
                        "{} of {path} was acknowledged at {acked}, but a get ({invoked}..{returned}) read {}",
                        show(&last.2),
                        show(value)
                    ),
                );
            }
            Outcome::Fail | Outcome::Info if invoked >= audit_from => {
                return Check::fail(
                    name,
                    format!(
                        "{} of {path} was acknowledged at {acked}, but the audit read at {invoked} failed ({harmed} nodes harmed)",
                        show(&last.2)
                    ),
                );
            }
            _ => {}
        }
    }
    // The audit must have read every path a put was acknowledged on: a run whose audit never
    // happened (found by the mutation score: a client that never set its audit timer) has
    // checked nothing.
    if let Some(audit_from) = audit_from {
        let audited: BTreeSet<u64> = operations
            .iter()
            .filter(|r| r.op.is(super::CollectiveOp::Get) && r.invoked.is_some_and(|at| at >= audit_from))
            .map(|r| r.op.key)
            .collect();
        let acknowledged =
            writes.iter().filter(|(_, w)| w.iter().any(|w| w.1.is_some() && w.2 != Value::Nil));
        if let Some((path, _)) = acknowledged.into_iter().find(|(path, _)| !audited.contains(path)) {
            let path = shared.path_name(*path);
            return Check::fail(
                name,
                format!("the audit from {audit_from} never read {path}, which a put was acknowledged on"),
            )
            .of_whole_run();
        }
    }
    Check::pass(name)
}

/// The coordinators' files at `at`, replayed from their facts: owner -> path -> chunks.
pub fn files_at(facts: &Observations, at: Time) -> BTreeMap<u32, BTreeMap<Path, Placement>> {
    let mut files: BTreeMap<u32, BTreeMap<Path, Placement>> = BTreeMap::new();
    for fact in facts.facts::<CollectiveFact>().take_while(|f| f.time <= at) {
        match fact.what {
            CollectiveFact::Loaded { files: loaded } => {
                files.insert(fact.node.0, loaded.iter().cloned().collect());
            }
            CollectiveFact::File { path, chunks: Some(chunks) } => {
                files.entry(fact.node.0).or_default().insert(*path, chunks.clone());
            }
            CollectiveFact::File { path, chunks: None } => {
                files.entry(fact.node.0).or_default().remove(path);
            }
            _ => {}
        }
    }
    files
}

/// The storage nodes' chunks at `at`, replayed from their facts.
fn held_at(facts: &Observations, at: Time) -> BTreeMap<NodeId, BTreeSet<ChunkId>> {
    let mut held: BTreeMap<NodeId, BTreeSet<ChunkId>> = BTreeMap::new();
    for fact in facts.facts::<CollectiveFact>().take_while(|f| f.time <= at) {
        hold(&mut held, fact.node, fact.what);
    }
    held
}

/// What a storage node's fact says it holds now: its disk's inventory on a start, then each
/// chunk it stored or deleted. Other facts change nothing.
fn hold(held: &mut BTreeMap<NodeId, BTreeSet<ChunkId>>, node: NodeId, fact: &CollectiveFact) {
    match fact {
        CollectiveFact::Inventory { chunks } => {
            held.insert(node, chunks.iter().copied().collect());
        }
        CollectiveFact::Holds { chunk } => {
            held.entry(node).or_default().insert(*chunk);
        }
        CollectiveFact::Drops { chunk } => {
            held.entry(node).or_default().remove(chunk);
        }
        _ => {}
    }
}

/// `collective.replication_restored` at `at`: every referenced chunk has `replication`
/// holders outside `gone` that its file's entry lists (a copy the entry does not list is
/// one no read asks: found by the mutation score, a re-replication that never recorded
/// its copies).
pub fn replication_restored(
    facts: &Observations,
    at: Time,
    gone: &BTreeSet<NodeId>,
    replication: usize,
) -> Check {
    let name = "collective.replication_restored";
    let files = files_at(facts, at);
    let held = held_at(facts, at);
    for chunks in files.values().flat_map(BTreeMap::values) {
        for (chunk, listed) in chunks {
            let holds =
                |node: &NodeId| !gone.contains(node) && held.get(node).is_some_and(|h| h.contains(chunk));
            let n = listed.iter().map(|r| NodeId(*r)).filter(holds).count();
            if n < replication {
                let unlisted = held.keys().filter(|node| holds(node) && !listed.contains(&node.0)).count();
                return Check::fail(
                    name,
                    format!(
                        "at {at}, chunk {chunk} has {n} of {replication} replicas on nodes not lost that its entry lists ({unlisted} more unlisted)"
                    ),
                );
            }
        }
    }
    Check::pass(name)
}

/// `collective.no_orphans`: every chunk on a disk is referred to by its owner's files.
pub fn no_orphans(
    files: &BTreeMap<u32, BTreeMap<Path, Placement>>,
    held: &[(NodeId, Vec<ChunkId>)],
) -> Check {
    let name = "collective.no_orphans";
    let empty = BTreeMap::new();
    for (node, chunks) in held {
        for chunk in chunks {
            let owner = files.get(&chunk.owner).unwrap_or(&empty);
            if !owner.get(&chunk.path).is_some_and(|c| c.iter().any(|(id, _)| id == chunk)) {
                return Check::fail(
                    name,
                    format!("{node} holds chunk {chunk}, which no file of member {} refers to", chunk.owner),
                );
            }
        }
    }
    Check::pass(name)
}

/// Write and read throughput in simulated time by file size, as the real system's notes
/// report it: each acknowledged put's and each whole-file get's size over its latency, the
/// median per size class.
pub struct Throughput {
    /// Per class: puts, their median MB/s in thousandths, gets, theirs.
    rows: Vec<(&'static str, [u64; 4])>,
}

/// The size classes: the real system's chunk-size boundaries.
const CLASSES: [(&str, u64); 3] =
    [("small (< 1 MiB)", 1 << 20), ("medium (1-100 MiB)", 100 << 20), ("large (> 100 MiB)", u64::MAX)];

/// The same classes as latency histogram names (`put.medium.hgrm`).
const CLASS_NAMES: [&str; 3] = ["small", "medium", "large"];

impl Throughput {
    /// The size class of an acknowledged put or of a get that read a whole file.
    pub fn class(shared: &Shared, record: &OpRecord) -> Option<&'static str> {
        let Some((_, Outcome::Ok(value))) = &record.completed else { return None };
        let id = match (record.op.kind::<super::CollectiveOp>(), value, &record.op.value) {
            (super::CollectiveOp::Put, _, Value::Int(id)) | (super::CollectiveOp::Get, Value::Int(id), _) => {
                *id as u64
            }
            _ => return None,
        };
        let size = shared.size_of(id);
        CLASSES.iter().position(|(_, max)| size < *max).map(|i| CLASS_NAMES[i])
    }

    /// From the history: acknowledged puts, and gets that read a whole file back, before
    /// the audit (which reads every path at once).
    pub fn measure(shared: &Shared, operations: &[OpRecord]) -> Throughput {
        let mut rates: [[Vec<u64>; 2]; 3] = Default::default();
        for record in operations {
            let (Some(invoked), Some((done, Outcome::Ok(value)))) = (record.invoked, &record.completed)
            else {
                continue;
            };
            if invoked >= shared.audit_at {
                continue;
            }
            let (id, side) = match (record.op.kind::<super::CollectiveOp>(), value, &record.op.value) {
                (super::CollectiveOp::Put, _, Value::Int(id)) => (*id as u64, 0),
                (super::CollectiveOp::Get, Value::Int(id), _) => (*id as u64, 1),
                _ => continue,
            };
            let size = shared.size_of(id);
            let class = CLASSES.iter().position(|(_, max)| size < *max).expect("the last class is unbounded");
            let nanos = done.saturating_since(invoked).as_nanos().max(1);
            rates[class][side].push((u128::from(size) * 1_000_000 / nanos) as u64);
        }
        let median = |v: &mut Vec<u64>| {
            v.sort_unstable();
            v.get(v.len() / 2).copied().unwrap_or(0)
        };
        let rows = CLASSES
            .iter()
            .zip(rates.iter_mut())
            .map(|((label, _), [puts, gets])| {
                (*label, [puts.len() as u64, median(puts), gets.len() as u64, median(gets)])
            })
            .collect();
        Throughput { rows }
    }

    /// The table: operations and median MB/s (10^6 bytes a second).
    pub fn table(&self) -> Table {
        Table {
            title: "Throughput by file size (simulated time, median per operation)".into(),
            columns: ["files", "puts", "write MB/s", "gets", "read MB/s"].map(String::from).to_vec(),
            rows: self
                .rows
                .iter()
                .map(|(label, [puts, write, gets, read])| {
                    let rate =
                        |n: u64, r: u64| if n == 0 { Cell::Empty } else { Cell::Float(r as f64 / 1000.0) };
                    vec![
                        Cell::Text((*label).into()),
                        Cell::Int(*puts),
                        rate(*puts, *write),
                        Cell::Int(*gets),
                        rate(*gets, *read),
                    ]
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::harness::system::Verdict;
    use sim::kernel::workload::Operation;
    use sim::{Payload, Seed};

    use crate::collective::Config;

    fn shared() -> Shared {
        Shared::new(Config::default(), Seed(1), std::time::Duration::from_secs(100), None)
    }

    fn op(f: &str, key: u64, value: Value, at: (u64, u64), outcome: Outcome) -> OpRecord {
        OpRecord {
            op: Operation { id: at.0, process: at.0, f: f.into(), key, value },
            client: NodeId(20),
            intended: Time(at.0),
            invoked: Some(Time(at.0)),
            completed: Some((Time(at.1), outcome)),
            served_by: Some(NodeId(0)),
        }
    }

    fn ok(v: Value) -> Outcome {
        Outcome::Ok(v)
    }

    #[test]
    fn a_read_of_an_older_file_after_an_acknowledged_put_fails_and_is_named() {
        let s = shared();
        let history = [
            op("put", 3, Value::Int(7), (10, 20), ok(Value::Nil)),
            op("put", 3, Value::Int(8), (30, 40), ok(Value::Nil)),
            op("get", 3, Value::Nil, (50, 60), ok(Value::Int(7))),
        ];
        let check = acknowledged_files_intact(&s, &history, Some(Time(1_000)), 0);
        assert_eq!(check.verdict, Verdict::Fail);
        assert!(check.reason.unwrap().contains("put #8"), "names the put");
        // The same read while the second put is still under way may return either.
        let mut raced = history.clone();
        raced[1] = op("put", 3, Value::Int(8), (30, 55), ok(Value::Nil));
        raced[2] = op("get", 3, Value::Nil, (50, 60), ok(Value::Int(7)));
        assert_eq!(acknowledged_files_intact(&s, &raced[..], Some(Time(50)), 0).verdict, Verdict::Pass);
        let unaudited = acknowledged_files_intact(&s, &raced[..], Some(Time(1_000)), 0);
        assert_eq!(unaudited.verdict, Verdict::Fail, "an audit that never read the path checked nothing");
        assert!(unaudited.reason.unwrap().contains("never read"));
    }

    #[test]
    fn content_no_put_wrote_always_fails_and_a_failed_audit_fails_within_the_budget() {
        let s = shared();
        let mut corrupt = Payload::new(7, s.size_of(7));
        corrupt.flip(3, 1);
        let bad = s.identify(&[corrupt]);
        assert!(matches!(&bad, Value::Str(t) if t.starts_with("bad:")), "{bad:?}");
        assert_eq!(s.identify(&[s.content(7)]), Value::Int(7));
        let history = [
            op("put", 3, Value::Int(7), (10, 20), ok(Value::Nil)),
            op("get", 3, Value::Nil, (50, 60), ok(bad)),
        ];
        assert_eq!(
            acknowledged_files_intact(&s, &history, None, 5).verdict,
            Verdict::Fail,
            "even beyond the budget"
        );
        let audit = [
            op("put", 3, Value::Int(7), (10, 20), ok(Value::Nil)),
            op("get", 3, Value::Nil, (50, 60), Outcome::Fail),
        ];
        assert_eq!(acknowledged_files_intact(&s, &audit, Some(Time(50)), 0).verdict, Verdict::Fail);
        let later =
            [audit[0].clone(), audit[1].clone(), op("get", 3, Value::Nil, (60, 70), ok(Value::Int(7)))];
        assert_eq!(
            acknowledged_files_intact(&s, &later, Some(Time(51)), 0).verdict,
            Verdict::Pass,
            "not the audit"
        );
        assert_eq!(
            acknowledged_files_intact(&s, &audit, None, 2).verdict,
            Verdict::Pass,
            "beyond the budget"
        );
    }

    fn chunk(path: u64, index: u32) -> ChunkId {
        ChunkId { owner: 0, path, index, tag: 1 }
    }

    #[test]
    fn an_acknowledgement_before_the_quorum_holds_the_chunk_fails() {
        let mut obs = Observations::default();
        obs.facts.state(Time(1), NodeId(3), CollectiveFact::Holds { chunk: chunk(5, 0) });
        obs.facts.state(Time(2), NodeId(0), CollectiveFact::Acked { chunks: vec![chunk(5, 0)] });
        let check = acknowledged_on_quorum(&obs, 2);
        assert_eq!(check.verdict, Verdict::Fail);
        assert!(check.reason.unwrap().contains("on 1 of 2 disks"));
        assert_eq!(acknowledged_on_quorum(&obs, 1).verdict, Verdict::Pass);
        // A holder that restarts without the chunk no longer counts.
        let mut obs = Observations::default();
        obs.facts.state(Time(1), NodeId(3), CollectiveFact::Holds { chunk: chunk(5, 0) });
        obs.facts.state(Time(1), NodeId(4), CollectiveFact::Holds { chunk: chunk(5, 0) });
        obs.facts.state(Time(2), NodeId(4), CollectiveFact::Inventory { chunks: vec![] });
        obs.facts.state(Time(3), NodeId(0), CollectiveFact::Acked { chunks: vec![chunk(5, 0)] });
        assert_eq!(acknowledged_on_quorum(&obs, 2).verdict, Verdict::Fail);
    }

    #[test]
    fn a_chunk_below_its_replication_or_no_file_refers_to_fails() {
        let mut obs = Observations::default();
        obs.facts.state(Time(1), NodeId(0), CollectiveFact::Loaded { files: vec![] });
        obs.facts.state(Time(2), NodeId(3), CollectiveFact::Holds { chunk: chunk(5, 0) });
        obs.facts.state(Time(2), NodeId(4), CollectiveFact::Holds { chunk: chunk(5, 0) });
        obs.facts.state(
            Time(3),
            NodeId(0),
            CollectiveFact::File { path: 5, chunks: Some(vec![(chunk(5, 0), vec![3, 4])]) },
        );
        let none = BTreeSet::new();
        assert_eq!(replication_restored(&obs, Time(10), &none, 2).verdict, Verdict::Pass);
        let lost = BTreeSet::from([NodeId(4)]);
        let check = replication_restored(&obs, Time(10), &lost, 2);
        assert_eq!(check.verdict, Verdict::Fail);
        assert!(check.reason.unwrap().contains("1 of 2 replicas"));
        obs.facts.state(Time(20), NodeId(5), CollectiveFact::Holds { chunk: chunk(5, 0) });
        let unlisted = replication_restored(&obs, Time(30), &lost, 2);
        assert_eq!(unlisted.verdict, Verdict::Fail, "copied to n5, but the entry does not list it");
        assert!(unlisted.reason.unwrap().contains("(1 more unlisted)"));
        obs.facts.state(
            Time(21),
            NodeId(0),
            CollectiveFact::File { path: 5, chunks: Some(vec![(chunk(5, 0), vec![3, 5])]) },
        );
        assert_eq!(replication_restored(&obs, Time(30), &lost, 2).verdict, Verdict::Pass, "copied to n5");
        assert_eq!(replication_restored(&obs, Time(10), &lost, 2).verdict, Verdict::Fail, "not yet at 10");

        let files = files_at(&obs, Time(30));
        let held = vec![(NodeId(3), vec![chunk(5, 0)]), (NodeId(5), vec![chunk(5, 0), chunk(6, 0)])];
        let check = no_orphans(&files, &held);
        assert_eq!(check.verdict, Verdict::Fail);
        assert!(check.reason.unwrap().starts_with("n5 holds chunk"));
        obs.facts.state(Time(40), NodeId(0), CollectiveFact::File { path: 5, chunks: None });
        assert_eq!(
            no_orphans(&files_at(&obs, Time(40)), &held[..1]).verdict,
            Verdict::Fail,
            "its file was deleted"
        );
    }

    #[test]
    fn a_copy_found_damaged_and_left_on_its_disk_fails_once_owed() {
        let file = |obs: &mut Observations| {
            obs.facts.state(Time(1), NodeId(0), CollectiveFact::Loaded { files: vec![] });
            obs.facts.state(Time(2), NodeId(3), CollectiveFact::Holds { chunk: chunk(5, 0) });
            obs.facts.state(
                Time(2),
                NodeId(0),
                CollectiveFact::File { path: 5, chunks: Some(vec![(chunk(5, 0), vec![3])]) },
            );
            obs.facts.state(
                Time(10),
                NodeId(0),
                CollectiveFact::Damaged { chunk: chunk(5, 0), node: NodeId(3) },
            );
        };
        let within = Duration::from_nanos(20);
        let up = BTreeSet::from([NodeId(3)]);
        let mut obs = Observations::default();
        file(&mut obs);
        let check = damaged_copies_removed(&obs, Time(30), within, &up);
        assert_eq!(check.verdict, Verdict::Fail);
        assert!(check.reason.unwrap().contains("n3's copy of chunk"), "names the node");
        assert_eq!(
            damaged_copies_removed(&obs, Time(29), within, &up).verdict,
            Verdict::Pass,
            "not owed yet"
        );
        assert_eq!(
            damaged_copies_removed(&obs, Time(30), within, &BTreeSet::new()).verdict,
            Verdict::Pass,
            "down"
        );
        // Deleted, or replaced by a fresh copy: done.
        for fix in
            [CollectiveFact::Drops { chunk: chunk(5, 0) }, CollectiveFact::Holds { chunk: chunk(5, 0) }]
        {
            let mut obs = Observations::default();
            file(&mut obs);
            obs.facts.state(Time(15), NodeId(3), fix);
            assert_eq!(damaged_copies_removed(&obs, Time(30), within, &up).verdict, Verdict::Pass);
        }
        // Its coordinator restarted after finding it: no longer owed.
        let mut obs = Observations::default();
        file(&mut obs);
        obs.facts.state(
            Time(12),
            NodeId(0),
            CollectiveFact::Loaded { files: vec![(5, vec![(chunk(5, 0), vec![3])])] },
        );
        assert_eq!(damaged_copies_removed(&obs, Time(30), within, &up).verdict, Verdict::Pass);
    }
}
