//! Network partitions: which directed links are cut.
//!
//! A partition is described by a shape ([`Partition`]) and realized as a set of directed
//! cuts. Shapes with a random part (which node to isolate, how to split) are realized once,
//! when the fault is applied, with the faults stream; the realized, explicit form is what the
//! fault log records, so a replay does not depend on drawing the same numbers again.
//!
//! Cuts accumulate: two partitions applied one after the other cut the union of their links.
//! `Heal` removes every cut; healing one partition (`heal_after`, `heal = { fault = N }`)
//! removes the links it cut and leaves the links another partition also cut. Only links among the nodes a shape names are cut; nodes it does
//! not mention (typically clients) keep talking to everyone.
//!
//! When a partition affects messages in flight: a message is delivered only if its link is
//! up both when it is sent and when it arrives. A message sent across a cut is dropped at
//! once; a message in flight when a partition starts is dropped on arrival if its link is cut
//! then; a message sent before a heal across a cut stays lost. Loopback (a node to itself) is
//! never cut.

use std::collections::{BTreeMap, BTreeSet};

use super::hash::DetHashMap;
use super::ids::NodeId;
use super::rng::Rng;

/// A partition shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Partition {
    /// Nodes in different groups cannot talk, in either direction.
    Groups(Vec<Vec<NodeId>>),
    /// Messages from any node in `from` to any node in `to` are dropped; the other direction
    /// still works.
    OneWay {
        /// Senders whose messages are dropped.
        from: Vec<NodeId>,
        /// Receivers they cannot reach.
        to: Vec<NodeId>,
    },
    /// Explicit directed cuts `(from, to)`: the realized form of bridges and rings.
    Cuts(Vec<(NodeId, NodeId)>),
    /// Nodes whose network classes (regions, set by the system) are in different groups
    /// cannot talk; classes not listed are not cut. Kept as classes, not pairs, so cutting a
    /// region of a 10,000-node network costs nothing.
    Classes(Vec<Vec<u16>>),
    /// One node cut off from the rest of `among`; `None` picks it at random.
    Isolate {
        /// The node to isolate, or a random one of `among`.
        node: Option<NodeId>,
        /// The nodes the shape is drawn over.
        among: Vec<NodeId>,
    },
    /// A random majority and minority of `among` (Jepsen's `majority`/`minority` halves).
    MajorityMinority {
        /// The nodes the shape is drawn over.
        among: Vec<NodeId>,
    },
    /// Two halves of `among` joined by one bridge node that sees both (Jepsen's `bridge`).
    Bridge {
        /// The nodes the shape is drawn over.
        among: Vec<NodeId>,
    },
    /// `among` shuffled into a ring; each node sees the nodes within ring distance
    /// `d = ceil(floor(n/2) / 2)`, which is a majority, and no two nodes see the same
    /// majority (Jepsen's `majorities-ring`). Needs at least 4 nodes to cut anything.
    MajoritiesRing {
        /// The nodes the shape is drawn over.
        among: Vec<NodeId>,
    },
}

impl Partition {
    /// Draws the random parts: the result is `Groups`, `OneWay` or `Cuts`.
    pub fn realize(&self, rng: &mut Rng) -> Partition {
        let shuffled = |among: &[NodeId], rng: &mut Rng| {
            let mut nodes = among.to_vec();
            rng.shuffle(&mut nodes);
            nodes
        };
        match self {
            Partition::Groups(_) | Partition::OneWay { .. } | Partition::Cuts(_) | Partition::Classes(_) => {
                self.clone()
            }
            Partition::Isolate { node, among } => {
                let node = node.or_else(|| rng.pick(among).copied());
                let Some(node) = node else { return Partition::Groups(Vec::new()) };
                let rest = among.iter().copied().filter(|n| *n != node).collect();
                Partition::Groups(vec![vec![node], rest])
            }
            Partition::MajorityMinority { among } => {
                let nodes = shuffled(among, rng);
                let majority = nodes.len() / 2 + 1;
                let (big, small) = nodes.split_at(majority.min(nodes.len()));
                Partition::Groups(vec![sorted(big), sorted(small)])
            }
            Partition::Bridge { among } => {
                let nodes = shuffled(among, rng);
                let bridge = nodes.len() / 2;
                let (left, right) = (&nodes[..bridge], nodes.get(bridge + 1..).unwrap_or(&[]));
                let mut cuts = Vec::new();
                for &a in left {
                    for &b in right {
                        cuts.push((a, b));
                        cuts.push((b, a));
                    }
                }
                cuts.sort_unstable();
                Partition::Cuts(cuts)
            }
            Partition::MajoritiesRing { among } => {
                let nodes = shuffled(among, rng);
                let n = nodes.len();
                let reach = (n / 2).div_ceil(2);
                let mut cuts = Vec::new();
                for i in 0..n {
                    for j in 0..n {
                        let distance = (i + n - j) % n;
                        if distance.min(n - distance) > reach {
                            cuts.push((nodes[i], nodes[j]));
                        }
                    }
                }
                cuts.sort_unstable();
                Partition::Cuts(cuts)
            }
        }
    }

    /// The directed links an explicit partition cuts. Random shapes are realized with `rng`.
    pub fn cuts(&self, rng: &mut Rng) -> Vec<(NodeId, NodeId)> {
        match self.realize(rng) {
            Partition::Groups(groups) => {
                let mut cuts = Vec::new();
                for (i, a) in groups.iter().enumerate() {
                    for (j, b) in groups.iter().enumerate() {
                        if i != j {
                            cuts.extend(a.iter().flat_map(|&x| b.iter().map(move |&y| (x, y))));
                        }
                    }
                }
                cuts
            }
            Partition::OneWay { from, to } => {
                from.iter().flat_map(|&x| to.iter().map(move |&y| (x, y))).collect()
            }
            Partition::Cuts(cuts) => cuts,
            // Cut by class, in `Cuts::cut_classes`.
            Partition::Classes(_) => Vec::new(),
            _ => unreachable!("realize returns an explicit partition"),
        }
    }
}

fn sorted(nodes: &[NodeId]) -> Vec<NodeId> {
    let set: BTreeSet<NodeId> = nodes.iter().copied().collect();
    set.into_iter().collect()
}

/// The cut directed links, each with the partitions (by fault index) that cut it, so that
/// healing one partition leaves the links others cut; with a fast path when nothing is cut.
#[derive(Clone, Debug, Default)]
pub struct Cuts {
    /// Each cut link and how many partitions cut it.
    links: DetHashMap<(NodeId, NodeId), u32>,
    /// For each node, how many cut links it sends on (0 means nothing to look up).
    outgoing: Vec<u32>,
    /// Class partitions: the partition, and every class's group (`None`: not cut).
    classes: Vec<(u64, Vec<Option<usize>>)>,
    /// The links each partition cut.
    owned: BTreeMap<u64, BTreeSet<(NodeId, NodeId)>>,
}

impl Cuts {
    /// Partition `owner` cuts `from -> to` (self-links are ignored: loopback is never cut).
    pub fn cut(&mut self, owner: u64, from: NodeId, to: NodeId) {
        if from == to || !self.owned.entry(owner).or_default().insert((from, to)) {
            return;
        }
        let count = self.links.entry((from, to)).or_insert(0);
        *count += 1;
        if *count == 1 {
            if self.outgoing.len() <= from.index() {
                self.outgoing.resize(from.index() + 1, 0);
            }
            self.outgoing[from.index()] += 1;
        }
    }

    /// Partition `owner` cuts every link between classes in different `groups`.
    pub fn cut_classes(&mut self, owner: u64, groups: &[Vec<u16>]) {
        let classes = groups.iter().flatten().map(|c| usize::from(*c) + 1).max().unwrap_or(0);
        let mut group_of = vec![None; classes];
        for (i, group) in groups.iter().enumerate() {
            for class in group {
                group_of[usize::from(*class)] = Some(i);
            }
        }
        self.classes.push((owner, group_of));
    }

    /// Whether a class partition separates classes `from` and `to`.
    #[inline]
    pub fn is_class_cut(&self, from: u16, to: u16) -> bool {
        self.classes.iter().any(|(_, group_of)| {
            let group = |c: u16| group_of.get(usize::from(c)).copied().flatten();
            matches!((group(from), group(to)), (Some(a), Some(b)) if a != b)
        })
    }

    /// Whether any class partition is in force.
    #[inline]
    pub fn has_class_cuts(&self) -> bool {
        !self.classes.is_empty()
    }

    /// Removes every cut.
    pub fn heal(&mut self) {
        self.links.clear();
        self.outgoing.clear();
        self.classes.clear();
        self.owned.clear();
    }

    /// Removes the cuts of partition `owner`; links other partitions cut stay cut. Returns
    /// whether it had any.
    pub fn heal_one(&mut self, owner: u64) -> bool {
        let classes = self.classes.len();
        self.classes.retain(|(o, _)| *o != owner);
        let links = self.owned.remove(&owner).unwrap_or_default();
        for link in &links {
            let count = self.links.get_mut(link).expect("an owned link is cut");
            *count -= 1;
            if *count == 0 {
                self.links.remove(link);
                self.outgoing[link.0.index()] -= 1;
            }
        }
        !links.is_empty() || self.classes.len() != classes
    }

    /// Whether `from -> to` is cut.
    #[inline]
    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        !self.links.is_empty()
            && self.outgoing.get(from.index()).is_some_and(|n| *n > 0)
            && self.links.contains_key(&(from, to))
    }

    /// How many directed links are cut.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Whether nothing is cut.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::rng::Seed;

    fn ids(range: std::ops::Range<u32>) -> Vec<NodeId> {
        range.map(NodeId).collect()
    }

    fn apply(partition: &Partition) -> Cuts {
        let mut cuts = Cuts::default();
        for (a, b) in partition.cuts(&mut Seed(1).stream("faults", 0)) {
            cuts.cut(0, a, b);
        }
        cuts
    }

    /// For each node, how many of `among` (itself included) it can send to.
    fn reach(cuts: &Cuts, among: &[NodeId]) -> Vec<usize> {
        among.iter().map(|&a| among.iter().filter(|&&b| !cuts.is_cut(a, b)).count()).collect()
    }

    #[test]
    fn healing_one_partition_leaves_the_links_another_cut() {
        let mut cuts = Cuts::default();
        cuts.cut(1, NodeId(0), NodeId(1));
        cuts.cut(1, NodeId(0), NodeId(2));
        cuts.cut(2, NodeId(0), NodeId(1));
        cuts.cut_classes(2, &[vec![0], vec![1]]);
        assert!(cuts.heal_one(1));
        assert!(cuts.is_cut(NodeId(0), NodeId(1)), "partition 2 still cuts it");
        assert!(!cuts.is_cut(NodeId(0), NodeId(2)));
        assert!(cuts.has_class_cuts());
        assert!(!cuts.heal_one(1), "nothing left of partition 1");
        assert!(cuts.heal_one(2));
        assert!(cuts.is_empty() && !cuts.has_class_cuts() && !cuts.is_cut(NodeId(0), NodeId(1)));
    }

    #[test]
    fn groups_cut_both_ways_and_leave_others_alone() {
        let cuts = apply(&Partition::Groups(vec![ids(0..2), ids(2..4)]));
        assert!(cuts.is_cut(NodeId(0), NodeId(3)) && cuts.is_cut(NodeId(3), NodeId(0)));
        assert!(!cuts.is_cut(NodeId(0), NodeId(1)));
        assert!(!cuts.is_cut(NodeId(0), NodeId(9)) && !cuts.is_cut(NodeId(9), NodeId(2)));
    }

    #[test]
    fn one_way_cuts_one_direction() {
        let cuts = apply(&Partition::OneWay { from: ids(0..1), to: ids(1..2) });
        assert!(cuts.is_cut(NodeId(0), NodeId(1)));
        assert!(!cuts.is_cut(NodeId(1), NodeId(0)));
    }

    #[test]
    fn majority_minority_splits_three_two() {
        let cuts = apply(&Partition::MajorityMinority { among: ids(0..5) });
        let mut reach = reach(&cuts, &ids(0..5));
        reach.sort_unstable();
        assert_eq!(reach, vec![2, 2, 3, 3, 3]);
    }

    #[test]
    fn isolate_leaves_one_alone() {
        let cuts = apply(&Partition::Isolate { node: Some(NodeId(2)), among: ids(0..5) });
        assert_eq!(reach(&cuts, &ids(0..5)), vec![4, 4, 1, 4, 4]);
    }

    #[test]
    fn bridge_node_sees_everyone() {
        let cuts = apply(&Partition::Bridge { among: ids(0..5) });
        let mut reach = reach(&cuts, &ids(0..5));
        reach.sort_unstable();
        assert_eq!(reach, vec![3, 3, 3, 3, 5]);
    }

    #[test]
    fn majorities_ring_gives_distinct_majorities() {
        for n in [5u32, 6, 7, 9] {
            let among = ids(0..n);
            let cuts = apply(&Partition::MajoritiesRing { among: among.clone() });
            let views: BTreeSet<Vec<bool>> =
                among.iter().map(|&a| among.iter().map(|&b| !cuts.is_cut(a, b)).collect()).collect();
            assert_eq!(views.len(), n as usize, "n={n}: every node sees a different set");
            for seen in reach(&cuts, &among) {
                assert!(seen > n as usize / 2 && seen < n as usize, "n={n}: sees {seen}");
            }
        }
    }

    #[test]
    fn class_partitions_cut_between_listed_groups_only() {
        let mut cuts = Cuts::default();
        cuts.cut_classes(0, &[vec![3], vec![0, 1]]);
        assert!(cuts.is_class_cut(3, 0) && cuts.is_class_cut(1, 3));
        assert!(!cuts.is_class_cut(0, 1), "same group");
        assert!(!cuts.is_class_cut(2, 3) && !cuts.is_class_cut(3, 9), "classes not listed are not cut");
        cuts.heal();
        assert!(!cuts.has_class_cuts() && !cuts.is_class_cut(3, 0));
    }

    #[test]
    fn heal_clears_everything() {
        let mut cuts = apply(&Partition::Groups(vec![ids(0..1), ids(1..3)]));
        assert_eq!(cuts.len(), 4);
        cuts.heal();
        assert!(cuts.is_empty() && !cuts.is_cut(NodeId(0), NodeId(1)));
    }
}
