//! Raft's safety properties over a whole run, judged from the facts servers stated.

use std::collections::{BTreeMap, BTreeSet};

use std::time::Duration;

use sim::harness::system::Check;
use sim::kernel::observe::{Fact, Observations};
use sim::kernel::time::Time;
use sim::kernel::workload::{OpRecord, Outcome};

use super::config::Change;

/// What a Raft server states for these checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaftFact {
    /// The server became leader of `term`.
    Leader {
        /// The term it leads.
        term: u64,
    },
    /// The server applied the entry at `index` of `term`.
    Apply {
        /// The entry's index.
        index: u64,
        /// The entry's term.
        term: u64,
        /// The client command it carries, or none (a no-op or configuration entry).
        command: Option<Session>,
    },
    /// The server first heard from `leader` in `term` (an append, heartbeat or snapshot).
    Heard {
        /// The term.
        term: u64,
        /// The leader's node index.
        leader: u32,
    },
}

/// A client command's identity: the client node and its sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Session {
    /// The client's node index.
    pub client: u32,
    /// The command's number within its client's session.
    pub seq: u64,
}

/// A server's log as it synced it for raft-rs (synchronous persistence: raft-rs then counts
/// on it), or as it found it on starting again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogState {
    /// Found on a restart, not synced.
    pub recovered: bool,
    /// The last log index (a snapshot's, when no entry follows it).
    pub last: u64,
    /// The hard state's term.
    pub term: u64,
    /// The hard state's vote in that term.
    pub vote: u64,
}

/// Durability of the log itself: a restarted server recovers at least what it last synced
/// before it crashed: no shorter log, no older term, and the same vote in the same term
/// (otherwise it may vote twice in a term, or forget entries it acknowledged to a leader).
/// Only a disk that loses synced data (a wipe) may break it, and that is unsafe for Raft.
pub fn recovers_what_it_synced(facts: &Observations) -> Check {
    let mut synced: BTreeMap<u32, LogState> = BTreeMap::new();
    let mut broken = None;
    for fact in facts.facts::<LogState>() {
        let state = *fact.what;
        if !state.recovered {
            synced.insert(fact.node.0, state);
            continue;
        }
        let Some(before) = synced.get(&fact.node.0) else { continue };
        let kept = state.last >= before.last
            && (state.term > before.term || (state.term == before.term && state.vote == before.vote));
        if !kept && broken.is_none() {
            broken = Some((fact.node.0, fact.time, *before, state));
        }
    }
    Check::from("raft.recovers_what_it_synced", broken.is_none(), || {
        let (node, at, before, after) = broken.expect("found");
        format!(
            "server {node} restarted at {at} with log up to {} (term {}, vote {}), but had synced up to {} (term {}, vote {})",
            after.last, after.term, after.vote, before.last, before.term, before.vote
        )
    })
}

/// A server applied a configuration change; the voters (node indexes) after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Configured {
    /// The voters, by node index.
    pub voters: BTreeSet<u32>,
}

/// Reconfiguration: every membership change the scenario schedules takes effect, so some
/// server applies a configuration whose voters are the schedule's end result. None when
/// nothing is scheduled.
pub fn membership_done(facts: &Observations, initial: u32, changes: &[Change]) -> Option<Check> {
    if changes.is_empty() {
        return None;
    }
    let mut expected: BTreeSet<u32> = (0..initial).collect();
    let mut ordered: Vec<&Change> = changes.iter().collect();
    ordered.sort_by_key(|c| c.at);
    for change in ordered {
        expected.extend(change.add);
        if let Some(removed) = change.remove {
            expected.remove(&removed);
        }
    }
    let configured: Vec<Fact<'_, Configured>> = facts.facts::<Configured>().collect();
    let done = configured.iter().any(|c| c.what.voters == expected);
    Some(Check::from("raft.membership_done", done, || {
        match configured.last() {
        Some(last) => format!(
            "the schedule ends with voters {expected:?}; the last configuration applied (server {} at {}) has {:?}",
            last.node.0, last.time, last.what.voters
        ),
        None => format!("the schedule ends with voters {expected:?}; no server applied a configuration change"),
    }
    }))
}

/// Clients answer in time: an operation ends by its client's operation timeout, plus the
/// one attempt (or backoff) whose timer finds the deadline passed and gives up; one still
/// open at the end of the run (`end`) must not be past that either. (A crashed client's
/// operations end as info when it crashes.)
pub fn client_deadline(operations: &[OpRecord], bound: Duration, end: Time) -> Check {
    let late = operations.iter().find_map(|r| {
        let invoked = r.invoked?;
        let ended = r.completed.as_ref().map(|(at, _)| *at);
        (ended.unwrap_or(end) > invoked + bound).then_some((r, invoked, ended))
    });
    Check::from("raft.client_deadline", late.is_none(), || {
        let (late, invoked, ended) = late.expect("found");
        let ended = ended.map_or_else(|| format!("was still open at {end}"), |at| format!("ended at {at}"));
        format!(
            "{} {} of client {} invoked at {invoked} {ended}, after the client's deadline ({bound:?} with its last attempt)",
            late.op.f, late.op.id, late.client.0
        )
    })
}

/// Every `Apply` fact: (fact, index, term, command).
fn applied(facts: &Observations) -> impl Iterator<Item = (Fact<'_, RaftFact>, u64, u64, Option<Session>)> {
    facts.facts::<RaftFact>().filter_map(|fact| match *fact.what {
        RaftFact::Apply { index, term, command } => Some((fact, index, term, command)),
        _ => None,
    })
}

/// Election safety: at most one leader per term, over the whole run (Raft Figure 3).
pub fn election_safety(facts: &Observations) -> Check {
    let mut leaders: BTreeMap<u64, BTreeSet<u32>> = BTreeMap::new();
    for fact in facts.facts::<RaftFact>() {
        if let RaftFact::Leader { term } = *fact.what {
            leaders.entry(term).or_default().insert(fact.node.0);
        }
    }
    let split = leaders.iter().find(|(_, nodes)| nodes.len() > 1);
    Check::from("raft.election_safety", split.is_none(), || {
        let (term, nodes) = split.expect("found");
        format!("term {term} had {} leaders: servers {nodes:?}", nodes.len())
    })
}

/// State-machine safety: no two servers apply different entries at one index, so every
/// server's applied sequence is a prefix of one sequence (Raft Figure 3).
pub fn state_machine_safety(facts: &Observations) -> Check {
    let mut first: BTreeMap<u64, (u64, Option<Session>, Fact<'_, RaftFact>)> = BTreeMap::new();
    let mut conflict = None;
    for (fact, index, term, command) in applied(facts) {
        let (first_term, first_command, by) = *first.entry(index).or_insert((term, command, fact));
        if (first_term, first_command) != (term, command) && conflict.is_none() {
            conflict = Some((index, (first_term, first_command, by), (term, command, fact)));
        }
    }
    Check::from("raft.state_machine_safety", conflict.is_none(), || {
        let (index, (term, command, by), (other_term, other_command, other)) = conflict.expect("found");
        format!(
            "index {index}: server {} applied term {term} {} at {}, server {} applied term {other_term} {} at {}",
            by.node.0,
            describe(command),
            by.time,
            other.node.0,
            describe(other_command),
            other.time
        )
    })
}

fn describe(command: Option<Session>) -> String {
    match command {
        None => "a no-op or configuration entry".into(),
        Some(Session { client, seq }) => format!("operation {seq} of client {client}"),
    }
}

/// Durability: every write a client was told succeeded is in the log as the servers last
/// applied it (the latest entry applied at each index).
pub fn acknowledged_writes_kept(facts: &Observations, operations: &[OpRecord]) -> Check {
    let mut latest: BTreeMap<u64, Option<Session>> = BTreeMap::new();
    for (_, index, _, command) in applied(facts) {
        latest.insert(index, command);
    }
    let kept: BTreeSet<Session> = latest.into_values().flatten().collect();
    let lost = operations.iter().find(|record| {
        let write = !record.op.is(super::RaftOp::Get);
        let acknowledged = matches!(record.completed, Some((_, Outcome::Ok(_))));
        write && acknowledged && !kept.contains(&Session { client: record.client.0, seq: record.op.id })
    });
    Check::from("raft.acknowledged_writes_kept", lost.is_none(), || {
        let record = lost.expect("found");
        let (at, _) = record.completed.as_ref().expect("acknowledged");
        format!(
            "operation {} ({} key {} {}) was acknowledged at {at} by server {} but is in no server's log",
            record.op.id,
            record.op.f,
            record.op.key,
            record.op.value,
            record.served_by.map_or("?".into(), |s| s.0.to_string()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::{NodeId, Time};

    fn stated(facts: &[(u32, RaftFact)]) -> Observations {
        let mut observations = Observations::default();
        for &(node, fact) in facts {
            observations.facts.state(Time::ZERO, NodeId(node), fact);
        }
        observations
    }

    fn apply(index: u64, term: u64, client: u32, seq: u64) -> RaftFact {
        RaftFact::Apply { index, term, command: Some(Session { client, seq }) }
    }

    #[test]
    fn two_leaders_in_one_term_fail_election_safety() {
        let leader = |term| RaftFact::Leader { term };
        let good = stated(&[(0, leader(2)), (1, leader(3)), (0, leader(2))]);
        assert_eq!(election_safety(&good).verdict, sim::harness::system::Verdict::Pass);
        let bad = stated(&[(0, leader(2)), (1, leader(2))]);
        let check = election_safety(&bad);
        assert!(check.reason.unwrap().contains("term 2 had 2 leaders"));
    }

    #[test]
    fn different_entries_at_one_index_fail_state_machine_safety() {
        let good = stated(&[(0, apply(5, 2, 9, 1)), (1, apply(5, 2, 9, 1)), (1, apply(6, 2, 9, 2))]);
        assert_eq!(state_machine_safety(&good).verdict, sim::harness::system::Verdict::Pass);
        let bad = stated(&[(0, apply(5, 2, 9, 1)), (1, apply(5, 3, 9, 4))]);
        assert!(state_machine_safety(&bad).reason.unwrap().starts_with("index 5"));
        let noop =
            stated(&[(0, apply(5, 2, 9, 1)), (1, RaftFact::Apply { index: 5, term: 2, command: None })]);
        assert!(state_machine_safety(&noop).reason.unwrap().contains("a no-op or configuration entry"));
    }
}
