//! What the Dynamo store promises, judged over a whole run: it is not linearizable on
//! purpose, so the checks are eventual consistency's (no acknowledged write lost,
//! convergence after heal), the invariants of its mechanisms, and staleness measured.
//!
//! The workload is Jepsen's set: every put adds a unique element to its key's set (the
//! client reads, merges the siblings, adds, writes back with the context it read), so
//! a final read names every write that survived.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

use sim::check::{CheckOp, Model, Output, Step};
use sim::harness::system::Check;
use sim::kernel::history::Value;
use sim::kernel::observe::Observations;
use sim::kernel::workload::{OpRecord, Outcome};
use sim::report::{Cell, Table};
use sim::{NodeId, Time};

use super::version::{reconcile, union, Conflict, VClock, Version};

/// What Dynamo's nodes state for these checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DynamoFact {
    /// A server (re)started: what it held before is gone but for what it recovers, which
    /// follows as `Stored` facts.
    Wiped,
    /// A server's siblings of `key` changed (or were recovered) to these.
    Stored {
        /// The key.
        key: u64,
        /// Its siblings now.
        siblings: Rc<Vec<Version>>,
    },
    /// A client's put or delete was acknowledged.
    Acknowledged {
        /// The operation.
        op: u64,
        /// The key.
        key: u64,
        /// The element a put added (none for a delete).
        element: Option<i64>,
        /// The new version's clock.
        clock: VClock,
        /// Who stored it before the acknowledgement.
        replicas: Vec<u32>,
    },
    /// A client sent a write that removes elements it read (a delete, or what a `take-one`
    /// resolution dropped): if it takes effect, and it may even when its outcome is unknown,
    /// it supersedes their writes causally.
    Removes {
        /// The operation.
        op: u64,
        /// The key.
        key: u64,
        /// The elements it read and does not write back.
        elements: Vec<i64>,
    },
    /// A Dynago server's member list (`GET /members`: its active entries) changed to this.
    Members {
        /// The servers it lists, in order.
        listed: Vec<u32>,
    },
    /// Something happened to hint `id` kept by the stating server for `owner`.
    Hint {
        /// The hint's id at its holder.
        id: u64,
        /// The owner it is for.
        owner: u32,
        /// What.
        event: HintEvent,
    },
}

/// The life of a hint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HintEvent {
    /// The stand-in stored it.
    Kept,
    /// It was offered to its owner.
    Sent,
    /// The owner acknowledged it.
    Acknowledged,
    /// The stand-in deleted it.
    Deleted,
}

/// Each up server's siblings by key at the end, and the last time each key changed anywhere.
pub struct Final {
    /// Server → key → siblings.
    pub held: BTreeMap<u32, BTreeMap<u64, Rc<Vec<Version>>>>,
    /// Key → the last time a server's siblings of it changed.
    pub changed: BTreeMap<u64, Time>,
}

/// Replays the `Wiped` and `Stored` facts of the servers for which `up` holds.
pub fn final_state(facts: &Observations, up: impl Fn(NodeId) -> bool) -> Final {
    let mut held: BTreeMap<u32, BTreeMap<u64, Rc<Vec<Version>>>> = BTreeMap::new();
    let mut changed = BTreeMap::new();
    for fact in facts.facts::<DynamoFact>() {
        match fact.what {
            DynamoFact::Wiped => {
                held.insert(fact.node.0, BTreeMap::new());
            }
            DynamoFact::Stored { key, siblings } => {
                held.entry(fact.node.0).or_default().insert(*key, siblings.clone());
                changed.insert(*key, fact.time);
            }
            _ => {}
        }
    }
    held.retain(|node, _| up(NodeId(*node)));
    Final { held, changed }
}

/// The elements a final read of `key` over `owners` returns: the union of their reconciled
/// siblings.
fn final_read(state: &Final, key: u64, owners: &[u32], conflict: Conflict) -> Option<Vec<i64>> {
    let mut merged = Vec::new();
    let mut any = false;
    for owner in owners {
        if let Some(siblings) = state.held.get(owner).and_then(|h| h.get(&key)) {
            any = true;
            for v in siblings.iter() {
                reconcile(&mut merged, v, conflict);
            }
        } else if state.held.contains_key(owner) {
            any = true;
        }
    }
    any.then(|| union(&merged))
}

/// `dynamo.acknowledged_writes_kept`: every acknowledged element is in the final read of its
/// key, unless a write that read it removed it (a delete, acknowledged or not).
pub fn acknowledged_writes_kept(
    facts: &Observations,
    state: &Final,
    owners: impl Fn(u64) -> Vec<u32>,
    conflict: Conflict,
) -> Check {
    let mut dropped: BTreeSet<(u64, i64)> = BTreeSet::new();
    let mut written = Vec::new();
    for fact in facts.facts::<DynamoFact>() {
        match fact.what {
            DynamoFact::Removes { key, elements, .. } => dropped.extend(elements.iter().map(|e| (*key, *e))),
            DynamoFact::Acknowledged { op, key, element: Some(element), clock, replicas } => {
                written.push((*op, *key, *element, clock, replicas, fact.time));
            }
            _ => {}
        }
    }
    let mut reads: BTreeMap<u64, Option<Vec<i64>>> = BTreeMap::new();
    let mut lost = Vec::new();
    for (op, key, element, clock, replicas, at) in written {
        if dropped.contains(&(key, element)) {
            continue;
        }
        let owners = owners(key);
        let read = reads.entry(key).or_insert_with(|| final_read(state, key, &owners, conflict));
        let Some(read) = read else { continue }; // no owner of the key is up at the end
        if read.binary_search(&element).is_err() {
            lost.push(format!(
                "put {element} (operation {op}) to key {key}, acknowledged at {at} with clock {} after replicas {replicas:?} stored it, is not in the final read of owners {owners:?}",
                clock.brief()
            ));
        }
    }
    Check::from("dynamo.acknowledged_writes_kept", lost.is_empty(), || {
        format!("{} acknowledged writes lost; first: {}", lost.len(), lost[0])
    })
}

/// `dynamo.last_write_kept` (the register workload): at the end every up owner of a key
/// holds a put that no acknowledged put of the key followed in real time, and holds one if
/// any was acknowledged. A put acknowledged before another was invoked was overwritten; an
/// owner still holding it lost the later one. A put whose outcome is unknown may have taken
/// effect at any time, so it is never followed.
pub fn last_write_kept(operations: &[OpRecord], state: &Final, owners: impl Fn(u64) -> Vec<u32>) -> Check {
    let name = "dynamo.last_write_kept";
    let mut puts: BTreeMap<u64, Vec<&OpRecord>> = BTreeMap::new();
    for r in operations.iter().filter(|r| r.op.is(super::DynamoOp::Put)) {
        puts.entry(r.op.key).or_default().push(r);
    }
    let acked = |r: &OpRecord| match r.completed {
        Some((at, Outcome::Ok(_))) => Some(at),
        _ => None,
    };
    for (key, list) in &puts {
        let first_acked = list.iter().find_map(|r| acked(r).map(|at| (r.op.id, at)));
        for owner in owners(*key).into_iter().filter(|o| state.held.contains_key(o)) {
            let held = state.held[&owner].get(key).map(|s| union(s)).unwrap_or_default();
            let Some(element) = held.first() else {
                if let Some((op, at)) = first_acked {
                    return Check::fail(
                        name,
                        format!("n{owner} holds nothing under key {key}, though put {op} was acknowledged at {at}"),
                    );
                }
                continue;
            };
            let Some(put) = list.iter().find(|r| r.op.value == Value::Int(*element)) else { continue };
            let Some(done) = acked(put) else { continue };
            let later = list
                .iter()
                .filter(|r| r.invoked.is_some_and(|i| i > done))
                .find_map(|r| acked(r).map(|at| (r, at)));
            if let Some((later, at)) = later {
                return Check::fail(
                    name,
                    format!(
                        "n{owner} holds {element} under key {key} (put {}, acknowledged at {done}), overwritten by put {} of {:?}, invoked after it and acknowledged at {at}: n{owner} lost it",
                        put.op.id, later.op.id, later.op.value
                    ),
                );
            }
        }
    }
    Check::pass(name)
}

/// `dynamo.membership_converges` (Dynago): by `deadline` every up server lists exactly the
/// up servers as members (`GET /members`) and lists nothing else after. Dynago's own test
/// allows 27 s after a node is killed (`e2e-tests/test_membership.py`: 2 s, then 25 s).
pub fn membership_converges(
    facts: &Observations,
    up: impl Fn(NodeId) -> bool,
    servers: u32,
    deadline: Time,
) -> Check {
    let name = "dynamo.membership_converges";
    let mut listed: BTreeMap<u32, (Time, &Vec<u32>)> = BTreeMap::new();
    for fact in facts.facts::<DynamoFact>() {
        if let DynamoFact::Members { listed: list } = fact.what {
            listed.insert(fact.node.0, (fact.time, list));
        }
    }
    let up_servers: Vec<u32> = (0..servers).filter(|s| up(NodeId(*s))).collect();
    for server in &up_servers {
        match listed.get(server) {
            Some((_, list)) if **list != up_servers => {
                return Check::fail(
                    name,
                    format!("n{server} lists {list:?} as members at the end, where {up_servers:?} are up"),
                );
            }
            Some((at, _)) if *at > deadline => {
                return Check::fail(
                    name,
                    format!("n{server}'s member list changed at {at}, after the bound {deadline}"),
                );
            }
            _ => {}
        }
    }
    Check::pass(name)
}

/// `dynamo.convergence`: the up owners of every key hold the same siblings at the end, and
/// no key changed later than `deadline` (the last fault's end plus `converge_within`).
pub fn convergence(state: &Final, owners: impl Fn(u64) -> Vec<u32>, deadline: Time) -> Check {
    let keys: BTreeSet<u64> = state.held.values().flat_map(|h| h.keys().copied()).collect();
    for key in keys {
        let owners: Vec<u32> = owners(key).into_iter().filter(|o| state.held.contains_key(o)).collect();
        let empty = Rc::new(Vec::new());
        let views: Vec<(u32, &Rc<Vec<Version>>)> =
            owners.iter().map(|o| (*o, state.held[o].get(&key).unwrap_or(&empty))).collect();
        if let Some((other, theirs)) = views.iter().find(|(_, s)| s.as_slice() != views[0].1.as_slice()) {
            let show = |s: &[Version]| format!("{:?}", union(s));
            return Check::fail(
                "dynamo.convergence",
                format!(
                    "key {key}: n{} holds {} and n{other} holds {} at the end",
                    views[0].0,
                    show(views[0].1),
                    show(theirs)
                ),
            );
        }
        if let Some(at) = state.changed.get(&key).filter(|at| **at > deadline) {
            return Check::fail(
                "dynamo.convergence",
                format!("key {key} was still changing at {at}, after the bound {deadline}"),
            );
        }
    }
    Check::pass("dynamo.convergence")
}

/// `dynamo.no_unwritten_versions`: every element any server ever held under a key, and
/// every element a read of a key returned, was put to that key by a client.
pub fn no_unwritten_versions(facts: &Observations, operations: &[OpRecord]) -> Check {
    let name = "dynamo.no_unwritten_versions";
    let mut put: BTreeSet<(u64, i64)> = BTreeSet::new();
    for record in operations.iter().filter(|r| r.op.is(super::DynamoOp::Put)) {
        if let Value::Int(e) = record.op.value {
            put.insert((record.op.key, e));
        }
    }
    for fact in facts.facts::<DynamoFact>() {
        if let DynamoFact::Stored { key, siblings } = fact.what {
            if let Some(e) = siblings.iter().flat_map(|v| v.elements()).find(|e| !put.contains(&(*key, **e)))
            {
                return Check::fail(
                    name,
                    format!(
                        "{} held element {e} under key {key} at {}, which no client put there",
                        fact.node, fact.time
                    ),
                );
            }
        }
    }
    for record in operations.iter().filter(|r| r.op.is(super::DynamoOp::Get)) {
        if let Some((at, Outcome::Ok(Value::List(items)))) = &record.completed {
            let key = record.op.key;
            if let Some(e) = items.iter().find(|v| !matches!(v, Value::Int(e) if put.contains(&(key, *e)))) {
                return Check::fail(
                    name,
                    format!(
                        "get of key {key} (operation {}) returned {e} at {at}, which no client put there",
                        record.op.id
                    ),
                );
            }
        }
    }
    Check::pass(name)
}

/// `dynamo.clocks_never_shrink`: between restarts, the clock of what a server holds of a key
/// only grows (vector-clock mode).
pub fn clocks_never_shrink(facts: &Observations) -> Check {
    let mut last: BTreeMap<(u32, u64), VClock> = BTreeMap::new();
    for fact in facts.facts::<DynamoFact>() {
        match fact.what {
            DynamoFact::Wiped => last.retain(|(node, _), _| *node != fact.node.0),
            DynamoFact::Stored { key, siblings } => {
                let clock = super::version::context(siblings);
                if let Some(before) = last.get(&(fact.node.0, *key)) {
                    if !clock.descends(before) {
                        return Check::fail(
                            "dynamo.clocks_never_shrink",
                            format!(
                                "{} at {}: key {key}'s clock went from {} to {}",
                                fact.node,
                                fact.time,
                                before.brief(),
                                clock.brief()
                            ),
                        );
                    }
                }
                last.insert((fact.node.0, *key), clock);
            }
            _ => {}
        }
    }
    Check::pass("dynamo.clocks_never_shrink")
}

/// `dynamo.hints_handed_back`: a stand-in deletes a hint only after its owner acknowledged
/// it, never offers it again after, and by the end has handed back every hint whose owner
/// is up (a stand-in that crashed keeps its hints on disk and offers them when it returns).
pub fn hints_handed_back(facts: &Observations, up: impl Fn(NodeId) -> bool) -> Check {
    let name = "dynamo.hints_handed_back";
    let mut life: BTreeMap<(u32, u64), (u32, Vec<HintEvent>, Time)> = BTreeMap::new();
    for fact in facts.facts::<DynamoFact>() {
        if let DynamoFact::Wiped = fact.what {
            // A restart ends the lives of the holder's hints: what it owes from then on is
            // what it recovered from its disk, which it reports as kept again (a wiped disk,
            // or a delete or a hint that was never fsynced, changes that set; without fsync
            // an id may be taken again).
            life.retain(|(holder, _), _| *holder != fact.node.0);
        }
        if let DynamoFact::Hint { id, owner, event } = fact.what {
            let entry = life.entry((fact.node.0, *id)).or_insert((*owner, Vec::new(), fact.time));
            let seen = &entry.1;
            let problem = match event {
                HintEvent::Deleted if !seen.contains(&HintEvent::Acknowledged) => {
                    Some("deleted before its owner acknowledged it")
                }
                HintEvent::Sent if seen.contains(&HintEvent::Deleted) => {
                    Some("offered again after it was deleted")
                }
                _ => None,
            };
            if let Some(problem) = problem {
                return Check::fail(
                    name,
                    format!("hint {id} for n{owner} at {}: {problem} (at {})", fact.node, fact.time),
                );
            }
            entry.1.push(*event);
        }
    }
    let kept = life.iter().find(|((holder, _), (owner, events, _))| {
        !events.contains(&HintEvent::Deleted) && up(NodeId(*holder)) && up(NodeId(*owner))
    });
    match kept {
        // Handing back is owed by the end of the run only; the rules above hold at any point.
        Some(((holder, id), (owner, _, at))) => Check::fail(
            name,
            format!("hint {id} kept by n{holder} since {at} was never handed back to n{owner}"),
        )
        .of_whole_run(),
        None => Check::pass(name).of_whole_run(),
    }
}

/// `dynamo.every_server_serves`: a server up at the end that acknowledged puts does not
/// stop: its last acknowledged put is within `gap` of the last put a client invoked
/// (Dynago blocked on a full queue with the cluster lock held takes no writes again).
pub fn every_server_serves(
    operations: &[OpRecord],
    gap: Duration,
    servers: u32,
    up: impl Fn(NodeId) -> bool,
) -> Check {
    let mut last: BTreeMap<u32, Time> = BTreeMap::new();
    for r in operations.iter().filter(|r| r.op.is(super::DynamoOp::Put)) {
        if let (Some((at, Outcome::Ok(_))), Some(server)) = (&r.completed, r.served_by) {
            let entry = last.entry(server.0).or_insert(*at);
            *entry = (*entry).max(*at);
        }
    }
    let end = operations
        .iter()
        .filter(|r| r.op.is(super::DynamoOp::Put))
        .filter_map(|r| r.invoked)
        .max()
        .unwrap_or(Time::ZERO);
    let stopped: Vec<String> = last
        .iter()
        .filter(|(s, at)| **s < servers && up(NodeId(**s)) && **at + gap < end)
        .map(|(s, at)| format!("n{s} (last at {at})"))
        .collect();
    Check::from("dynamo.every_server_serves", stopped.is_empty(), || {
        format!(
            "{} acknowledged no put in the last {gap:?} before the last put was invoked ({end}), though up",
            stopped.join(", ")
        )
    })
}

/// The staleness of every ok read, against the puts acknowledged before it began.
pub struct Staleness {
    /// Per read: time since the latest acknowledged put of its key (ns), whether it saw that
    /// put, and how many versions behind it was (1: fresh).
    pub reads: Vec<(u64, bool, u32)>,
}

impl Staleness {
    /// Measures the history.
    pub fn measure(operations: &[OpRecord]) -> Staleness {
        let mut puts: BTreeMap<u64, Vec<(Time, i64)>> = BTreeMap::new();
        for r in operations {
            if let (Some((at, Outcome::Ok(_))), true, Value::Int(e)) =
                (&r.completed, r.op.is(super::DynamoOp::Put), &r.op.value)
            {
                puts.entry(r.op.key).or_default().push((*at, *e));
            }
        }
        for list in puts.values_mut() {
            list.sort_unstable();
        }
        let mut reads = Vec::new();
        for r in operations.iter().filter(|r| r.op.is(super::DynamoOp::Get)) {
            let (Some(invoked), Some((_, Outcome::Ok(Value::List(seen))))) = (r.invoked, &r.completed) else {
                continue;
            };
            let Some(list) = puts.get(&r.op.key) else { continue };
            let before: Vec<&(Time, i64)> = list.iter().filter(|(at, _)| *at < invoked).collect();
            let Some((latest_at, _)) = before.last() else { continue };
            let seen: BTreeSet<i64> =
                seen.iter().filter_map(|v| if let Value::Int(i) = v { Some(*i) } else { None }).collect();
            let k = before
                .iter()
                .rev()
                .position(|(_, e)| seen.contains(e))
                .map_or(before.len() as u32 + 1, |i| i as u32 + 1);
            reads.push(((invoked - *latest_at).as_nanos() as u64, k == 1, k));
        }
        Staleness { reads }
    }

    /// The time bins of the table: reads whose latest put committed `[low, high)` before.
    pub const BINS: [(u64, u64, &'static str); 9] = [
        (0, 100_000, "0-0.1ms"),
        (100_000, 1_000_000, "0.1-1ms"),
        (1_000_000, 5_000_000, "1-5ms"),
        (5_000_000, 10_000_000, "5-10ms"),
        (10_000_000, 50_000_000, "10-50ms"),
        (50_000_000, 100_000_000, "50-100ms"),
        (100_000_000, 1_000_000_000, "100ms-1s"),
        (1_000_000_000, u64::MAX, ">=1s"),
        (0, u64::MAX, "all"),
    ];

    /// Per bin: (reads, consistent, k <= 2, k <= 3), counts.
    pub fn bins(&self) -> Vec<(&'static str, [u64; 4])> {
        Staleness::BINS
            .iter()
            .map(|&(low, high, label)| {
                let mut counts = [0u64; 4];
                for &(_, _, k) in self.reads.iter().filter(|r| (low..high).contains(&r.0)) {
                    counts[0] += 1;
                    counts[1] += u64::from(k == 1);
                    counts[2] += u64::from(k <= 2);
                    counts[3] += u64::from(k <= 3);
                }
                (label, counts)
            })
            .collect()
    }

    /// t-visibility (the share of reads that saw the latest acknowledged put, by time since
    /// it committed) and k-staleness (within k versions of it) as a table; with a WARS
    /// model, beside each bin the share the model predicts for the same reads.
    pub fn table(&self, model: Option<&super::pbs::Curve>) -> Table {
        let rows = self
            .bins()
            .into_iter()
            .zip(Staleness::BINS)
            .map(|((label, [reads, fresh, k2, k3]), (low, high, _))| {
                let share = |n: f64| Cell::share(n, reads);
                let mut row = vec![
                    Cell::Text(label.into()),
                    Cell::Int(reads),
                    share(fresh as f64),
                    share(k2 as f64),
                    share(k3 as f64),
                ];
                if let Some(curve) = model {
                    let predicted: f64 =
                        self.reads.iter().filter(|r| (low..high).contains(&r.0)).map(|r| curve.at(r.0)).sum();
                    row.push(share(predicted));
                }
                row
            })
            .collect();
        let mut columns: Vec<String> =
            ["since commit", "reads", "consistent %", "k <= 2 %", "k <= 3 %"].map(String::from).into();
        if model.is_some() {
            columns.push("WARS model %".into());
        }
        Table {
            title: "staleness: reads by time since the latest acknowledged put of their key".into(),
            columns,
            rows,
        }
    }
}

/// A grow-only set per key, with deletes that empty it: what a linearizable store would do
/// with the set workload (`put` adds its element, `get` returns the set, `delete` clears).
pub struct SetModel;

/// A set operation, prepared.
#[derive(Debug)]
pub enum SetInput {
    /// Adds an element.
    Add(i64),
    /// Reads the set (`None`: unknown result).
    Read(Option<Vec<i64>>),
    /// Empties the set.
    Clear,
}

impl Model for SetModel {
    type State = Vec<i64>;
    type Input = SetInput;

    fn init(&self) -> Vec<i64> {
        Vec::new()
    }

    fn prepare(&self, op: &CheckOp) -> Result<SetInput, String> {
        match (op.f.as_str(), &op.input, &op.output) {
            ("put", Value::Int(e), _) => Ok(SetInput::Add(*e)),
            ("get", _, Output::Value(Value::List(items))) => {
                let mut set: Vec<i64> = items
                    .iter()
                    .map(|v| {
                        if let Value::Int(i) = v {
                            Ok(*i)
                        } else {
                            Err(format!("{op}: a set holds integers"))
                        }
                    })
                    .collect::<Result<_, _>>()?;
                set.sort_unstable();
                Ok(SetInput::Read(Some(set)))
            }
            ("get", _, _) => Ok(SetInput::Read(None)),
            ("delete", _, _) => Ok(SetInput::Clear),
            _ => Err(format!("operation {op} is not one the set model knows (put, get, delete)")),
        }
    }

    fn step(&self, state: &Vec<i64>, input: &SetInput) -> Step<Vec<i64>> {
        match input {
            SetInput::Add(e) => match state.binary_search(e) {
                Ok(_) => Step::Same,
                Err(at) => {
                    let mut next = state.clone();
                    next.insert(at, *e);
                    Step::To(next)
                }
            },
            SetInput::Read(None) => Step::Same,
            SetInput::Read(Some(set)) if set == state => Step::Same,
            SetInput::Read(Some(_)) => Step::Impossible,
            SetInput::Clear if state.is_empty() => Step::Same,
            SetInput::Clear => Step::To(Vec::new()),
        }
    }

    fn partition(&self, ops: &[CheckOp]) -> Vec<Vec<usize>> {
        sim::check::by_key(ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(obs: &mut Observations, at: u64, node: u32, key: u64, elements: &[i64]) {
        // One dot for every value, so replicas holding equal elements hold equal versions.
        let version = Version {
            dot: (0, 1),
            past: VClock::default(),
            value: Some(Rc::new(elements.to_vec())),
            timestamp: 0,
        };
        obs.facts.state(Time(at), NodeId(node), DynamoFact::Stored { key, siblings: Rc::new(vec![version]) });
    }

    fn acknowledged(obs: &mut Observations, at: u64, key: u64, element: i64) {
        let fact = DynamoFact::Acknowledged {
            op: element as u64,
            key,
            element: Some(element),
            clock: VClock::default(),
            replicas: vec![0, 1],
        };
        obs.facts.state(Time(at), NodeId(9), fact);
    }

    #[test]
    fn a_lost_acknowledged_element_fails_and_is_named() {
        let mut obs = Observations::default();
        stored(&mut obs, 1, 0, 5, &[1, 2]);
        stored(&mut obs, 2, 1, 5, &[1]);
        acknowledged(&mut obs, 3, 5, 2);
        // n0, the only one that held 2, is down at the end.
        let state = final_state(&obs, |n| n.0 != 0);
        let check = acknowledged_writes_kept(&obs, &state, |_| vec![0, 1, 2], Conflict::Vclock);
        assert_eq!(check.verdict, sim::harness::system::Verdict::Fail);
        assert!(check.reason.unwrap().contains("put 2 (operation 2) to key 5"));
        let kept = final_state(&obs, |_| true);
        assert!(acknowledged_writes_kept(&obs, &kept, |_| vec![0, 1, 2], Conflict::Vclock).reason.is_none());
    }

    #[test]
    fn replicas_that_disagree_do_not_converge() {
        let mut obs = Observations::default();
        stored(&mut obs, 1, 0, 5, &[1, 2]);
        stored(&mut obs, 2, 1, 5, &[1]);
        let state = final_state(&obs, |_| true);
        assert!(convergence(&state, |_| vec![0, 1], Time(10)).reason.unwrap().contains("key 5"));
        stored(&mut obs, 12, 1, 5, &[1, 2]);
        let late = final_state(&obs, |_| true);
        assert!(convergence(&late, |_| vec![0, 1], Time(10)).reason.unwrap().contains("still changing"));
    }

    #[test]
    fn a_hint_deleted_before_its_acknowledgement_fails() {
        let mut obs = Observations::default();
        for event in [HintEvent::Kept, HintEvent::Sent, HintEvent::Deleted] {
            obs.facts.state(Time(1), NodeId(2), DynamoFact::Hint { id: 7, owner: 0, event });
        }
        assert!(hints_handed_back(&obs, |_| true).reason.unwrap().contains("before its owner acknowledged"));
    }

    #[test]
    fn the_set_model_refuses_a_read_that_misses_an_add_before_it() {
        let op = |id, call, ret, f: &str, input, output| CheckOp {
            id,
            process: id as u64,
            call,
            ret,
            f: f.into(),
            key: Some(Value::Int(1)),
            input,
            output,
        };
        let ok = vec![
            op(0, 0, 1, "put", Value::Int(5), Output::Value(Value::Nil)),
            op(1, 2, 3, "get", Value::Nil, Output::Value(Value::List(vec![Value::Int(5)]))),
        ];
        let stale = vec![
            op(0, 0, 1, "put", Value::Int(5), Output::Value(Value::Nil)),
            op(1, 2, 3, "get", Value::Nil, Output::Value(Value::List(vec![]))),
        ];
        let budget = sim::check::Budget::default();
        let verdict = |ops: &[CheckOp]| sim::check::check(&SetModel, ops, &budget).unwrap().verdict;
        assert!(matches!(verdict(&ok), sim::check::Verdict::Linearizable));
        assert!(matches!(verdict(&stale), sim::check::Verdict::NotLinearizable(_)));
    }
}
