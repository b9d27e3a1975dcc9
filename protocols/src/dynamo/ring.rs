//! The ring: consistent hashing with equal partitions (Dynamo §6.2, strategy 3).
//!
//! The hash space is cut into Q = servers × `virtual_nodes` equal partitions, and each
//! server owns `virtual_nodes` of them, placed by the seed. A key belongs to the partition
//! its hash falls in; its preference list is the first N distinct servers met walking the
//! ring clockwise from there (§4.3). Every key of a partition has the same preference list,
//! which is what lets replicas compare a partition's Merkle tree (§4.7).

use sim::kernel::hash::mix64;
use sim::Rng;

/// Partitions and their owners, with every partition's ring walk computed once (a walk
/// per request was half of a 100-server run's time).
#[derive(Clone, Debug)]
pub struct Ring {
    owners: Vec<u32>,
    walks: Vec<Vec<u32>>,
}

impl Ring {
    /// `servers` servers with `virtual_nodes` partitions each, placed with `rng`.
    pub fn new(servers: u32, virtual_nodes: u32, rng: &mut Rng) -> Ring {
        let mut owners: Vec<u32> =
            (0..servers).flat_map(|s| std::iter::repeat_n(s, virtual_nodes as usize)).collect();
        rng.shuffle(&mut owners);
        let walks = (0..owners.len()).map(|p| walk(&owners, p, servers)).collect();
        Ring { owners, walks }
    }

    /// How many partitions.
    pub fn partitions(&self) -> u32 {
        self.owners.len() as u32
    }

    /// The partition of `key`.
    pub fn partition(&self, key: u64) -> u32 {
        ((u128::from(mix64(key)) * self.owners.len() as u128) >> 64) as u32
    }

    /// Every server, in the order the ring meets them walking clockwise from `partition`:
    /// the first N are its preference list, the rest its stand-ins in order.
    pub fn walk(&self, partition: u32) -> &[u32] {
        &self.walks[partition as usize]
    }

    /// The preference list of `partition`: its N owners.
    pub fn preference_list(&self, partition: u32, n: u32) -> &[u32] {
        &self.walk(partition)[..n as usize]
    }

    /// The preference list of `partition` among the servers for which `member` holds.
    pub fn preference_among(&self, partition: u32, n: u32, member: impl Fn(u32) -> bool) -> Vec<u32> {
        self.walk(partition).iter().copied().filter(|s| member(*s)).take(n as usize).collect()
    }

    /// The partitions `server` is one of the N owners of.
    pub fn replicated_by(&self, server: u32, n: u32) -> Vec<u32> {
        (0..self.partitions()).filter(|&p| self.preference_list(p, n).contains(&server)).collect()
    }
}

/// The distinct owners met walking clockwise from `partition`.
fn walk(owners: &[u32], partition: usize, servers: u32) -> Vec<u32> {
    let mut seen = vec![false; servers as usize];
    let mut walk = Vec::with_capacity(servers as usize);
    for step in 0..owners.len() {
        let owner = owners[(partition + step) % owners.len()];
        if !std::mem::replace(&mut seen[owner as usize], true) {
            walk.push(owner);
            if walk.len() == servers as usize {
                break;
            }
        }
    }
    walk
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::Seed;

    #[test]
    fn every_partition_has_n_distinct_owners_and_load_is_even() {
        let ring = Ring::new(5, 8, &mut Seed(1).stream("ring", 0));
        assert_eq!(ring.partitions(), 40);
        let mut load = [0; 5];
        for p in 0..ring.partitions() {
            let list = ring.preference_list(p, 3);
            assert_eq!(list.len(), 3);
            let mut sorted = list.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 3, "distinct owners for partition {p}");
            for &s in list {
                load[s as usize] += 1;
            }
        }
        assert_eq!(load.iter().sum::<u32>(), 120);
        assert!(load.iter().all(|&l| (12..=36).contains(&l)), "{load:?}");
        assert_eq!(ring.walk(0).len(), 5);
    }
}
