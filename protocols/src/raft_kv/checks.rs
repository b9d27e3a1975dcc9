//! Raft's safety properties over a whole run, judged from the facts servers stated.

use std::collections::{BTreeMap, BTreeSet};

use sim::harness::system::Check;
use sim::kernel::observe::{Fact, Observations};
use sim::kernel::workload::{OpRecord, Outcome};

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
        let write = record.op.f != "get";
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
