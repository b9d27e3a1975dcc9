//! Versions of a key: vector clocks, siblings, and how replicas reconcile them.
//!
//! Dynamo §4.4: every write is a new version whose vector clock is the context the client
//! passed back (the clock of what it read) with the coordinator's own counter advanced.
//! A replica keeps every version that no other version it holds descends from (the
//! siblings) and drops the ones that are descended from.
//!
//! Plain clocks lose writes when one coordinator takes two concurrent writes: advancing
//! its counter past what it holds makes the second look like a descendant of the first
//! (found here: a delete with an empty context erased a put it never read). So a version
//! keeps its clock as a *dot* (the coordinator and the counter it took) and the *past*
//! it was written over (the client's context), as dotted version vectors do (Preguiça et
//! al., 2010; Riak 2.0): a version supersedes another only if its past holds the other's
//! dot. Clocks are truncated at
//! [`CLOCK_LIMIT`] entries, oldest first, as the paper says Dynamo does (§4.4: "when the
//! number of (node, counter) pairs reaches a threshold (say 10), the oldest pair is
//! removed"); a truncated clock can make a descendant look concurrent (a false sibling,
//! never a lost write).
//!
//! `conflict = "lww"` (Cassandra's rule) keeps one version per key, the one with the
//! greatest coordinator timestamp; the clock is still carried, for the checks only (they
//! judge causality by it, since a later timestamp is not causality).

use std::cmp::Ordering;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

/// How many entries a clock keeps (Dynamo §4.4).
pub const CLOCK_LIMIT: usize = 10;

/// A vector clock: (node, counter, local time of its last advance), sorted by node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VClock(pub Vec<(u32, u64, u64)>);

impl VClock {
    /// The counter of `node` (0 if absent).
    pub fn get(&self, node: u32) -> u64 {
        self.0.iter().find(|e| e.0 == node).map_or(0, |e| e.1)
    }

    /// Whether `self` has seen everything `other` has (`self >= other`).
    pub fn descends(&self, other: &VClock) -> bool {
        other.0.iter().all(|&(node, counter, _)| self.get(node) >= counter)
    }

    /// Neither descends from the other.
    pub fn concurrent(&self, other: &VClock) -> bool {
        !self.descends(other) && !other.descends(self)
    }

    /// The least clock that descends from both.
    pub fn merge(&self, other: &VClock) -> VClock {
        let mut entries = self.0.clone();
        for &(node, counter, at) in &other.0 {
            match entries.iter_mut().find(|e| e.0 == node) {
                Some(e) if e.1 < counter => *e = (node, counter, at),
                Some(e) if e.1 == counter => e.2 = e.2.max(at),
                Some(_) => {}
                None => entries.push((node, counter, at)),
            }
        }
        entries.sort_unstable_by_key(|e| e.0);
        VClock(entries)
    }

    /// `self` with `node`'s counter set to `counter` at local time `at`, truncated to
    /// [`CLOCK_LIMIT`] entries by dropping the least recently advanced.
    pub fn advanced(&self, node: u32, counter: u64, at: u64) -> VClock {
        let mut entries: Vec<(u32, u64, u64)> = self.0.iter().copied().filter(|e| e.0 != node).collect();
        entries.push((node, counter, at));
        while entries.len() > CLOCK_LIMIT {
            let oldest = (0..entries.len()).min_by_key(|&i| (entries[i].2, entries[i].0)).expect("non-empty");
            entries.remove(oldest);
        }
        entries.sort_unstable_by_key(|e| e.0);
        VClock(entries)
    }

    /// A short form for reasons: `{n0:3 n2:1}`.
    pub fn brief(&self) -> String {
        let entries: Vec<String> = self.0.iter().map(|(n, c, _)| format!("n{n}:{c}")).collect();
        format!("{{{}}}", entries.join(" "))
    }
}

/// One version of a key's value: a set of elements, or a tombstone (a delete).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Version {
    /// The coordinator and the counter it took for this version.
    pub dot: (u32, u64),
    /// What the write was made over: the context the client passed back.
    pub past: VClock,
    /// The elements, sorted and unique; `None` is a tombstone.
    pub value: Option<Rc<Vec<i64>>>,
    /// The coordinator's local clock when it wrote this version, in nanoseconds (LWW).
    pub timestamp: u64,
}

impl Version {
    /// Its vector clock: the past with the dot.
    pub fn clock(&self) -> VClock {
        self.past.advanced(self.dot.0, self.dot.1.max(self.past.get(self.dot.0)), self.timestamp)
    }

    /// Whether this version has seen `other` (its past holds `other`'s dot, or it is it).
    pub fn covers(&self, other: &Version) -> bool {
        self.dot == other.dot || self.past.get(other.dot.0) >= other.dot.1
    }

    /// The elements (none for a tombstone).
    pub fn elements(&self) -> &[i64] {
        self.value.as_deref().map_or(&[], Vec::as_slice)
    }

    fn lww_key(&self) -> (u64, u32) {
        (self.timestamp, self.dot.0)
    }
}

/// How replicas resolve versions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Conflict {
    /// Vector clocks with siblings (Dynamo, Riak).
    #[default]
    Vclock,
    /// Last write wins by the coordinator's timestamp (Cassandra).
    Lww,
}

/// Folds `incoming` into `siblings`; true if anything changed.
pub fn reconcile(siblings: &mut Vec<Version>, incoming: &Version, conflict: Conflict) -> bool {
    match conflict {
        Conflict::Vclock => {
            if siblings.iter().any(|v| v.covers(incoming)) {
                return false;
            }
            siblings.retain(|v| !incoming.covers(v));
            siblings.push(incoming.clone());
            siblings.sort_by(order);
            true
        }
        Conflict::Lww => match siblings.first() {
            Some(current) if current.lww_key() >= incoming.lww_key() => false,
            _ => {
                siblings.clear();
                siblings.push(incoming.clone());
                true
            }
        },
    }
}

/// A total order on versions, so equal sets of siblings compare equal whatever their
/// arrival order.
fn order(a: &Version, b: &Version) -> Ordering {
    a.dot.cmp(&b.dot).then(a.past.0.cmp(&b.past.0))
}

/// The clock of everything in `siblings`: the context a read hands the client.
pub fn context(siblings: &[Version]) -> VClock {
    siblings.iter().fold(VClock::default(), |clock, v| clock.merge(&v.clock()))
}

/// The union of the siblings' elements, sorted (how the set workload merges siblings).
pub fn union(siblings: &[Version]) -> Vec<i64> {
    let mut all: Vec<i64> = siblings.iter().flat_map(|v| v.elements().iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(entries: &[(u32, u64)]) -> VClock {
        VClock(entries.iter().map(|&(n, c)| (n, c, c)).collect())
    }

    /// A version with dot `dot` written over `past`.
    fn version(dot: (u32, u64), past: &[(u32, u64)], elements: &[i64], timestamp: u64) -> Version {
        Version { dot, past: clock(past), value: Some(Rc::new(elements.to_vec())), timestamp }
    }

    #[test]
    fn clocks_order_and_merge() {
        let a = clock(&[(0, 2), (1, 1)]);
        let b = clock(&[(0, 1)]);
        let c = clock(&[(1, 2)]);
        assert!(a.descends(&b) && !b.descends(&a));
        assert!(a.concurrent(&c));
        assert_eq!(a.merge(&c).0.iter().map(|e| (e.0, e.1)).collect::<Vec<_>>(), vec![(0, 2), (1, 2)]);
    }

    #[test]
    fn truncation_drops_the_least_recently_advanced() {
        let mut c = VClock::default();
        for node in 0..12 {
            c = c.advanced(node, 1, u64::from(node) + 100);
        }
        assert_eq!(c.0.len(), CLOCK_LIMIT);
        assert_eq!(c.get(0), 0);
        assert_eq!(c.get(1), 0);
        assert_eq!(c.get(11), 1);
    }

    #[test]
    fn vclock_keeps_concurrent_siblings_and_drops_ancestors() {
        let mut s = Vec::new();
        assert!(reconcile(&mut s, &version((0, 1), &[], &[1], 5), Conflict::Vclock));
        assert!(reconcile(&mut s, &version((1, 1), &[], &[2], 4), Conflict::Vclock));
        assert_eq!(s.len(), 2);
        assert!(
            !reconcile(&mut s, &version((0, 1), &[], &[1], 5), Conflict::Vclock),
            "a copy changes nothing"
        );
        assert!(reconcile(&mut s, &version((2, 1), &[(0, 1), (1, 1)], &[1, 2, 3], 1), Conflict::Vclock));
        assert_eq!(s.len(), 1);
        assert_eq!(union(&s), vec![1, 2, 3]);
        assert_eq!(context(&s).get(2), 1);
    }

    #[test]
    fn one_coordinator_s_concurrent_writes_stay_siblings() {
        // n4 takes a put (dot n4:1 over nothing), then a delete whose client read nothing
        // (dot n4:2 over nothing): the delete has not seen the put, so both stay.
        let mut s = Vec::new();
        reconcile(&mut s, &version((4, 1), &[], &[27], 1), Conflict::Vclock);
        let delete = Version { dot: (4, 2), past: VClock::default(), value: None, timestamp: 2 };
        assert!(reconcile(&mut s, &delete, Conflict::Vclock));
        assert_eq!(s.len(), 2);
        assert_eq!(union(&s), vec![27]);
    }

    #[test]
    fn lww_keeps_the_latest_timestamp_even_when_it_is_the_ancestor() {
        let mut s = Vec::new();
        reconcile(&mut s, &version((0, 1), &[], &[1], 10), Conflict::Lww);
        // Causally later, but stamped by a clock that runs behind: LWW drops it.
        assert!(!reconcile(&mut s, &version((1, 1), &[(0, 1)], &[1, 2], 9), Conflict::Lww));
        assert_eq!(union(&s), vec![1]);
    }
}
