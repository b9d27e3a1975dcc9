//! How much of the stored data faults may damage, so that a run tests what a system claims
//! to survive and not the impossible. Two rules:
//!
//! - Whole-disk damage (a wipe, a corruption fault, a torn write) counts disks:
//!   [`DamageBudget`] allows it on at most `[disk] damage_budget` servers over a run.
//! - Per-I/O damage (lost and misdirected writes, stale reads) to a *replicated* file counts
//!   copies of a block, as TigerBeetle's VOPR does: a disk may damage a block of such a file
//!   only while another disk holds a file of that name with that block intact
//!   ([`Replicas`]). Every block then keeps an intact copy somewhere, and several replicas
//!   can be damaged at once, at different blocks, so repair runs on all of them (a count of
//!   disks would leave the rest pristine). Per-I/O damage to any other file counts disks,
//!   as whole-disk damage does.
//!
//! Which files are replicated is the system's to say (`System::REPLICATED_FILES`, name
//! prefixes): files its servers hold as copies of each other, block for block, under the
//! same name (the collective's chunk files). The kernel cannot tell: the same name on two
//! servers may hold different data (each coordinator's own metadata, dynamo's per-server
//! logs with different keys at the same offsets), and then "another copy is intact" would
//! be false comfort.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::disk::Disk;
use super::ids::NodeId;

/// "Damage at most `max_nodes` nodes' disks": corruption and torn writes are allowed on at
/// most this many distinct nodes over a run; beyond that they are skipped (and logged), so
/// a scenario can stay within what the protocol claims to survive.
#[derive(Clone, Debug, Default)]
pub struct DamageBudget {
    max_nodes: Option<usize>,
    damaged: BTreeSet<NodeId>,
}

impl DamageBudget {
    /// At most `max_nodes` damaged disks (`None`: unlimited).
    pub fn new(max_nodes: Option<usize>) -> DamageBudget {
        DamageBudget { max_nodes, damaged: Default::default() }
    }

    /// Whether damaging `node` is allowed; if so, it is counted as damaged from now on.
    pub fn allow(&mut self, node: NodeId) -> bool {
        if self.damaged.contains(&node) || self.max_nodes.is_none_or(|max| self.damaged.len() < max) {
            self.damaged.insert(node);
            true
        } else {
            false
        }
    }

    /// The most nodes it allows (`None`: unlimited).
    pub fn max_nodes(&self) -> Option<usize> {
        self.max_nodes
    }

    /// Whether damaging `node` would be allowed, without counting it.
    pub fn would_allow(&self, node: NodeId) -> bool {
        self.damaged.contains(&node) || self.max_nodes.is_none_or(|max| self.damaged.len() < max)
    }

    /// The nodes whose disks have been damaged.
    pub fn damaged(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.damaged.iter().copied()
    }
}

/// The disks of one simulation, for the per-block rule; each disk knows its place here.
#[derive(Clone, Debug, Default)]
pub struct Replicas(Arc<Mutex<ReplicaSet>>);

#[derive(Debug, Default)]
struct ReplicaSet {
    disks: Vec<Weak<Mutex<Disk>>>,
    /// Name prefixes of the replicated files.
    files: Vec<String>,
}

impl Replicas {
    fn set(&self) -> std::sync::MutexGuard<'_, ReplicaSet> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a disk; returns its place.
    pub(crate) fn join(&self, disk: &Arc<Mutex<Disk>>) -> usize {
        let mut set = self.set();
        set.disks.push(Arc::downgrade(disk));
        set.disks.len() - 1
    }

    /// Declares the files whose names start with one of `prefixes` replicated.
    pub(crate) fn set_files(&self, prefixes: &[&str]) {
        self.set().files = prefixes.iter().map(|p| (*p).to_owned()).collect();
    }

    /// Whether `name` is a replicated file.
    pub(crate) fn is_replicated(&self, name: &str) -> bool {
        self.set().files.iter().any(|prefix| name.starts_with(prefix.as_str()))
    }

    /// Whether a disk other than the one at `place` holds `name` with bytes `lo..hi` intact.
    /// Called with the disk at `place` locked, never another.
    pub(crate) fn intact_elsewhere(&self, place: usize, name: &str, lo: u64, hi: u64) -> bool {
        self.any_other(place, |peer| peer.exists(name) && !peer.damaged().overlaps(name, lo, hi))
    }

    /// Whether a disk other than the one at `place` holds some of `name`'s bytes `lo..hi`
    /// damaged.
    pub(crate) fn damaged_elsewhere(&self, place: usize, name: &str, lo: u64, hi: u64) -> bool {
        self.any_other(place, |peer| peer.damaged().overlaps(name, lo, hi))
    }

    fn any_other(&self, place: usize, test: impl Fn(&Disk) -> bool) -> bool {
        let set = self.set();
        set.disks.iter().enumerate().filter(|(i, _)| *i != place).filter_map(|(_, d)| d.upgrade()).any(
            |peer| {
                let peer = peer.lock().unwrap_or_else(PoisonError::into_inner);
                test(&peer)
            },
        )
    }
}

/// The byte ranges of each file a disk holds damaged: sorted, disjoint, block-aligned.
#[derive(Clone, Debug, Default)]
pub struct DamagedRanges(BTreeMap<String, Vec<(u64, u64)>>);

impl DamagedRanges {
    /// Whether no file is damaged.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The files with damaged bytes, in order.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Whether any of `name`'s bytes `lo..hi` is damaged.
    pub fn overlaps(&self, name: &str, lo: u64, hi: u64) -> bool {
        self.0.get(name).is_some_and(|ranges| ranges.iter().any(|&(a, b)| a < hi && lo < b))
    }

    /// Marks `lo..hi` of `name` damaged.
    pub fn mark(&mut self, name: &str, lo: u64, hi: u64) {
        if lo >= hi {
            return;
        }
        let ranges = self.0.entry(name.to_owned()).or_default();
        let (mut lo, mut hi) = (lo, hi);
        ranges.retain(|&(a, b)| {
            let touches = a <= hi && lo <= b;
            if touches {
                (lo, hi) = (lo.min(a), hi.max(b));
            }
            !touches
        });
        let at = ranges.partition_point(|&(a, _)| a < lo);
        ranges.insert(at, (lo, hi));
    }

    /// Marks `lo..hi` of `name` intact again (rewritten whole).
    pub fn clear(&mut self, name: &str, lo: u64, hi: u64) {
        let Some(ranges) = self.0.get_mut(name) else { return };
        if lo >= hi {
            return;
        }
        let mut kept = Vec::with_capacity(ranges.len() + 1);
        for &(a, b) in ranges.iter() {
            if b <= lo || hi <= a {
                kept.push((a, b));
                continue;
            }
            if a < lo {
                kept.push((a, lo));
            }
            if hi < b {
                kept.push((hi, b));
            }
        }
        if kept.is_empty() {
            self.0.remove(name);
        } else {
            *ranges = kept;
        }
    }

    /// Forgets `name` (removed, or replaced whole).
    pub fn forget(&mut self, name: &str) {
        self.0.remove(name);
    }

    /// `from`'s damage is now `to`'s (a rename); `to`'s own is gone with the file it named.
    pub fn rename(&mut self, from: &str, to: &str) {
        self.0.remove(to);
        if let Some(ranges) = self.0.remove(from) {
            self.0.insert(to.to_owned(), ranges);
        }
    }

    /// Forgets every file (a wipe).
    pub fn clear_all(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_counts_distinct_nodes() {
        let mut budget = DamageBudget::new(Some(1));
        assert!(budget.allow(NodeId(3)));
        assert!(budget.allow(NodeId(3)), "the same node again is free");
        assert!(!budget.would_allow(NodeId(4)));
        assert!(!budget.allow(NodeId(4)));
        assert_eq!(budget.damaged().collect::<Vec<_>>(), vec![NodeId(3)]);
        assert!(DamageBudget::new(None).allow(NodeId(9)));
    }

    #[test]
    fn damaged_ranges_merge_split_and_move() {
        let mut damaged = DamagedRanges::default();
        damaged.mark("f", 512, 1024);
        damaged.mark("f", 2048, 2560);
        damaged.mark("f", 1024, 1536);
        assert_eq!(damaged.0["f"], vec![(512, 1536), (2048, 2560)], "touching ranges merge");
        damaged.clear("f", 1024, 2560);
        assert_eq!(damaged.0["f"], vec![(512, 1024)], "a rewrite splits and removes");
        assert!(
            damaged.overlaps("f", 0, 513)
                && !damaged.overlaps("f", 1024, 4096)
                && !damaged.overlaps("g", 0, 9)
        );
        damaged.rename("f", "g");
        assert!(!damaged.overlaps("f", 0, 4096) && damaged.overlaps("g", 600, 601));
        damaged.clear("g", 0, 4096);
        assert!(damaged.is_empty(), "a file with no damage left is forgotten");
    }
}
