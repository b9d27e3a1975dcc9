//! The population (every node's key and region) and k-bucket routing tables.
//!
//! A routing table keeps, for each common-prefix length `cpl` with its owner, up to `k`
//! peers whose keys share exactly `cpl` leading bits with the owner's (go-libp2p-kbucket
//! `RoutingTable`, bucket size `k = 20`). Peers are node ids; their keys come from the shared
//! [`Population`], as a peer id travels with its address in libp2p.
//!
//! **Fast construction** ([`Population::initial_table`]): the peers that belong in bucket
//! `cpl` of a node are the keys in one subtree of the key trie, a contiguous range of the
//! sorted keys. Each bucket is filled with `k` peers drawn uniformly from its range (all of
//! them when fewer), which is the table a node converges to after its refreshes when every
//! server is equally likely to be met. `tests/kademlia.rs` compares it with tables built by
//! real bootstrap lookups.

use std::sync::Arc;

use sim::Rng;

use super::key::Key;

/// Every node's key and region, and which DHT servers answer dials.
#[derive(Debug)]
pub struct Population {
    /// Each node's key, by node id (DHT servers first, then the measurement servers and the
    /// indexer).
    pub keys: Vec<Key>,
    /// Each node's region index.
    pub region: Vec<u16>,
    /// Whether each node answers at all (an unreachable server never does: dials to it time
    /// out).
    pub reachable: Vec<bool>,
    /// DHT servers are ids `0..servers`.
    pub servers: u32,
    /// How many of them answer.
    pub reachable_servers: u32,
    /// The DHT servers' keys, sorted.
    sorted: Vec<(Key, u32)>,
}

impl Population {
    /// A population; `keys`, `region` and `reachable` cover every node.
    pub fn new(keys: Vec<Key>, region: Vec<u16>, reachable: Vec<bool>, servers: u32) -> Arc<Population> {
        let mut sorted: Vec<(Key, u32)> = (0..servers).map(|i| (keys[i as usize], i)).collect();
        sorted.sort_unstable();
        let reachable_servers = reachable[..servers as usize].iter().filter(|r| **r).count() as u32;
        Arc::new(Population { keys, region, reachable, servers, reachable_servers, sorted })
    }

    /// The key of node `node`.
    #[inline]
    pub fn key(&self, node: u32) -> &Key {
        &self.keys[node as usize]
    }

    /// The index range of `sorted` whose keys start with the first `bits` bits of `key`.
    fn subtree(&self, key: &Key, bits: u32) -> std::ops::Range<usize> {
        if bits == 0 {
            return 0..self.sorted.len();
        }
        let mask = |k: &Key| {
            let mut out = [0u64; 4];
            for (w, slot) in out.iter_mut().enumerate() {
                let lo = w as u32 * 64;
                *slot = if bits >= lo + 64 {
                    k.0[w]
                } else if bits <= lo {
                    0
                } else {
                    k.0[w] & !(u64::MAX >> (bits - lo))
                };
            }
            Key(out)
        };
        let prefix = mask(key);
        let start = self.sorted.partition_point(|(k, _)| mask(k) < prefix);
        let end = self.sorted.partition_point(|(k, _)| mask(k) <= prefix);
        start..end
    }

    /// The routing table of `me` after a well-refreshed life: each bucket holds `k` servers
    /// drawn uniformly from the servers that belong in it (see the module docs).
    pub fn initial_table(&self, me: u32, k: usize, rng: &mut Rng) -> Table {
        let key = *self.key(me);
        let mut table = Table::new(key);
        for cpl in 0..256u32 {
            // Servers sharing exactly `cpl` bits: the sibling subtree at depth `cpl`.
            // `me` is not in it: its bit `cpl` differs from `me`'s.
            let sibling = &self.sorted[self.subtree(&key.with_prefix_of(cpl, &key), cpl + 1)];
            for i in sample(sibling.len(), k, rng) {
                table.add(sibling[i].1, self, k);
            }
            // Stop once no other server shares `cpl + 1` bits with `me`.
            if self.subtree(&key, cpl + 1).len() <= usize::from(me < self.servers) {
                break;
            }
        }
        table
    }
}

/// `n` distinct indices below `len` drawn uniformly (all of them when there are fewer), in
/// draw order (Floyd's algorithm: `n` draws whatever `len` is).
fn sample(len: usize, n: usize, rng: &mut Rng) -> Vec<usize> {
    if len <= n {
        return (0..len).collect();
    }
    let len = len as u64;
    let mut chosen: Vec<u64> = Vec::with_capacity(n);
    for j in len - n as u64..len {
        let t = rng.below(j + 1);
        chosen.push(if chosen.contains(&t) { j } else { t });
    }
    chosen.into_iter().map(|i| i as usize).collect()
}

/// A k-bucket routing table.
#[derive(Clone, Debug)]
pub struct Table {
    me: Key,
    buckets: Vec<Vec<u32>>,
    len: usize,
}

impl Table {
    /// An empty table of the node with key `me`.
    pub fn new(me: Key) -> Table {
        Table { me, buckets: Vec::new(), len: 0 }
    }

    /// How many peers it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no peer.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The peers in bucket `cpl`.
    pub fn bucket_len(&self, cpl: u32) -> usize {
        self.buckets.get(cpl as usize).map_or(0, Vec::len)
    }

    /// The deepest non-empty bucket's common-prefix length.
    pub fn max_cpl(&self) -> u32 {
        self.buckets.iter().rposition(|b| !b.is_empty()).unwrap_or(0) as u32
    }

    /// Adds `peer` if its bucket (of size `k`) has room (go-libp2p-kbucket keeps the peers it
    /// has when a bucket is full); returns whether it is in the table now.
    pub fn add(&mut self, peer: u32, population: &Population, k: usize) -> bool {
        let cpl = self.me.common_prefix(population.key(peer)) as usize;
        if cpl == 256 {
            return false;
        }
        if self.buckets.len() <= cpl {
            self.buckets.resize(cpl + 1, Vec::new());
        }
        let bucket = &mut self.buckets[cpl];
        if bucket.contains(&peer) {
            return true;
        }
        if bucket.len() >= k {
            return false;
        }
        bucket.push(peer);
        self.len += 1;
        true
    }

    /// Removes `peer` (a dial to it failed).
    pub fn remove(&mut self, peer: u32, population: &Population) {
        let cpl = self.me.common_prefix(population.key(peer)) as usize;
        if let Some(bucket) = self.buckets.get_mut(cpl) {
            if let Some(i) = bucket.iter().position(|p| *p == peer) {
                bucket.swap_remove(i);
                self.len -= 1;
            }
        }
    }

    /// The `n` peers closest to `target`, closest first (go-libp2p-kbucket `NearestPeers`).
    ///
    /// Buckets come in classes of equal distance to `target`: with `c` the common prefix of
    /// the owner and `target`, bucket `c` is closest, then the buckets deeper than `c` (their
    /// peers share exactly `c` bits with `target`), then buckets `c-1`, `c-2`, ... So whole
    /// classes are gathered until `n` peers are in hand, then sorted.
    pub fn closest(&self, target: &Key, n: usize, population: &Population) -> Vec<u32> {
        let c = self.me.common_prefix(target) as usize;
        let mut found: Vec<(Key, u32)> = Vec::new();
        let take = |bucket: &Vec<u32>, found: &mut Vec<(Key, u32)>| {
            found.extend(bucket.iter().map(|p| (population.key(*p).distance(target), *p)));
        };
        if let Some(bucket) = self.buckets.get(c) {
            take(bucket, &mut found);
        }
        if found.len() < n {
            for bucket in self.buckets.iter().skip(c + 1) {
                take(bucket, &mut found);
            }
        }
        for bucket in self.buckets.iter().take(c.min(self.buckets.len())).rev() {
            if found.len() >= n {
                break;
            }
            take(bucket, &mut found);
        }
        found.sort_unstable();
        found.truncate(n);
        found.into_iter().map(|(_, p)| p).collect()
    }

    /// Every peer, bucket by bucket.
    pub fn peers(&self) -> impl Iterator<Item = u32> + '_ {
        self.buckets.iter().flatten().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::Seed;

    fn population(n: u32, seed: u64) -> Arc<Population> {
        let mut rng = Seed(seed).stream("test", 0);
        let keys = (0..n).map(|_| Key::random(&mut rng)).collect();
        Population::new(keys, vec![0; n as usize], vec![true; n as usize], n)
    }

    #[test]
    fn closest_agrees_with_sorting_every_peer() {
        let pop = population(2000, 1);
        let mut rng = Seed(2).stream("test", 0);
        for me in [0u32, 17, 1999] {
            let table = pop.initial_table(me, 20, &mut rng);
            for _ in 0..50 {
                let target = Key::random(&mut rng);
                let mut all: Vec<(Key, u32)> =
                    table.peers().map(|p| (pop.key(p).distance(&target), p)).collect();
                all.sort_unstable();
                let expected: Vec<u32> = all.iter().take(20).map(|(_, p)| *p).collect();
                assert_eq!(table.closest(&target, 20, &pop), expected);
            }
        }
    }

    #[test]
    fn initial_tables_fill_each_bucket_from_its_subtree() {
        let pop = population(5000, 3);
        let mut rng = Seed(4).stream("test", 0);
        let me = 42;
        let table = pop.initial_table(me, 20, &mut rng);
        let key = *pop.key(me);
        for (cpl, bucket) in table.buckets.iter().enumerate() {
            let belong =
                (0..5000u32).filter(|p| *p != me && key.common_prefix(pop.key(*p)) as usize == cpl).count();
            assert_eq!(bucket.len(), belong.min(20), "bucket {cpl}");
            assert!(bucket.iter().all(|p| key.common_prefix(pop.key(*p)) as usize == cpl));
        }
        // 5000 servers: about log2(5000/20) = 8 full buckets, and the closest servers of all.
        assert!(table.len() > 150 && table.len() < 300, "{}", table.len());
        let mut everyone: Vec<(Key, u32)> =
            (0..5000u32).filter(|p| *p != me).map(|p| (pop.key(p).distance(&key), p)).collect();
        everyone.sort_unstable();
        let nearest: Vec<u32> = everyone.iter().take(5).map(|(_, p)| *p).collect();
        assert!(
            nearest.iter().all(|p| table.peers().any(|q| q == *p)),
            "a node knows its nearest neighbours"
        );
    }
}
