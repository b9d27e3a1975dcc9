//! Raft's safety properties over a whole run, judged from the facts servers stated.

use std::collections::{BTreeMap, BTreeSet};

use sim::observe::Fact;
use sim::system::Check;
use sim::workload::{OpRecord, Outcome};

use super::server::{APPLY, LEADER};

/// Election safety: at most one leader per term, over the whole run (Raft Figure 3).
pub fn election_safety(facts: &[Fact]) -> Check {
    let mut leaders: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for fact in facts.iter().filter(|f| f.name == LEADER) {
        leaders.entry(fact.data[0]).or_default().insert(fact.data[1]);
    }
    let split = leaders.iter().find(|(_, nodes)| nodes.len() > 1);
    Check::from("raft.election_safety", split.is_none(), || {
        let (term, nodes) = split.expect("found");
        format!("term {term} had {} leaders: servers {nodes:?}", nodes.len())
    })
}

/// An applied entry's identity: its term and the command's session (client, seq).
type Applied = (u64, u64, u64);

/// State-machine safety: no two servers apply different entries at one index, so every
/// server's applied sequence is a prefix of one sequence (Raft Figure 3).
pub fn state_machine_safety(facts: &[Fact]) -> Check {
    let mut first: BTreeMap<u64, (Applied, &Fact)> = BTreeMap::new();
    let mut conflict = None;
    for fact in facts.iter().filter(|f| f.name == APPLY) {
        let [index, term, client, seq] = fact.data;
        let (applied, by) = *first.entry(index).or_insert(((term, client, seq), fact));
        if applied != (term, client, seq) && conflict.is_none() {
            conflict = Some((index, applied, by, fact));
        }
    }
    Check::from("raft.state_machine_safety", conflict.is_none(), || {
        let (index, (term, client, seq), by, other) = conflict.expect("found");
        format!(
            "index {index}: server {} applied term {term} {} at {}, server {} applied term {} {} at {}",
            by.node.0,
            describe(client, seq),
            by.time,
            other.node.0,
            other.data[1],
            describe(other.data[2], other.data[3]),
            other.time
        )
    })
}

fn describe(client: u64, seq: u64) -> String {
    if client == u64::MAX {
        "a no-op or configuration entry".into()
    } else {
        format!("operation {seq} of client {client}")
    }
}

/// Durability: every write a client was told succeeded is in the log as the servers last
/// applied it (the latest entry applied at each index).
pub fn acknowledged_writes_kept(facts: &[Fact], operations: &[OpRecord]) -> Check {
    let mut latest: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for fact in facts.iter().filter(|f| f.name == APPLY) {
        latest.insert(fact.data[0], (fact.data[2], fact.data[3]));
    }
    let kept: BTreeSet<(u64, u64)> = latest.into_values().collect();
    let lost = operations.iter().find(|record| {
        let write = record.op.f != "get";
        let acknowledged = matches!(record.completed, Some((_, Outcome::Ok(_))));
        write && acknowledged && !kept.contains(&(u64::from(record.client.0), record.op.id))
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

    fn fact(name: &'static str, node: u32, data: [u64; 4]) -> Fact {
        Fact { time: Time::ZERO, node: NodeId(node), name, data }
    }

    #[test]
    fn two_leaders_in_one_term_fail_election_safety() {
        let good =
            [fact(LEADER, 0, [2, 0, 0, 0]), fact(LEADER, 1, [3, 1, 0, 0]), fact(LEADER, 0, [2, 0, 0, 0])];
        assert_eq!(election_safety(&good).verdict, sim::system::Verdict::Pass);
        let bad = [fact(LEADER, 0, [2, 0, 0, 0]), fact(LEADER, 1, [2, 1, 0, 0])];
        let check = election_safety(&bad);
        assert!(check.reason.unwrap().contains("term 2 had 2 leaders"));
    }

    #[test]
    fn different_entries_at_one_index_fail_state_machine_safety() {
        let good = [fact(APPLY, 0, [5, 2, 9, 1]), fact(APPLY, 1, [5, 2, 9, 1]), fact(APPLY, 1, [6, 2, 9, 2])];
        assert_eq!(state_machine_safety(&good).verdict, sim::system::Verdict::Pass);
        let bad = [fact(APPLY, 0, [5, 2, 9, 1]), fact(APPLY, 1, [5, 3, 9, 4])];
        assert!(state_machine_safety(&bad).reason.unwrap().starts_with("index 5"));
    }
}
