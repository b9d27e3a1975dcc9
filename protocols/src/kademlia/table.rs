//! The population (every node's key and region) and k-bucket routing tables.
//!
//! A routing table keeps, for each common-prefix length `cpl` with its owner, up to `k`
//! peers whose keys share exactly `cpl` leading bits with the owner's (go-libp2p-kbucket
//! `RoutingTable`, bucket size `k = 20`). Peers are node ids; their keys come from the shared
//! [`Population`], as a peer id travels with its address in libp2p.
//!
//! **Fast construction** ([`Population::initial_table`]): the peers that belong in bucket
//! `cpl` of a node are the keys in one subtree of the key trie, a contiguous range of the
//! sorted keys. A bucket with room for all of them gets all of them; a fuller one gets
//! `k / 3` peers drawn uniformly from its range and the rest from the closest to one random
//! key of the range. Grown tables look like that: a refresh lookup into a bucket meets the
//! peers near one random key, and those fill it (`tables = "bootstrap"` grows tables by real
//! joins and refreshes). The share was fitted on 2,000 servers
//! (`scenarios/kademlia/bootstrap.toml`, seeds 1-4): grown and constructed tables agree on
//! size, full buckets and nearest neighbours held to within 0.1%, and on how spread out a
//! bucket is ([`Table::spread`]: 7.45 of 16 grown, 7.2 constructed; a uniform draw gives
//! 11.6 and costs a lookup about one hop at p90 and 10% of its requests).
//! `tests/kademlia.rs` keeps the two in step.

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
            let sibling_key = key.with_prefix_of(cpl, &key);
            let sibling = &self.sorted[self.subtree(&sibling_key, cpl + 1)];
            if sibling.len() <= k {
                for (_, peer) in sibling {
                    table.add(*peer, self, k);
                }
            } else {
                // Half drawn uniformly, half the closest to one random key of the bucket
                // (the peers a refresh lookup into it meets): see the module docs.
                for i in sample(sibling.len(), k / 3, rng) {
                    table.add(sibling[i].1, self, k);
                }
                let point = key.with_prefix_of(cpl, &Key::random(rng));
                let chosen: Vec<u32> = table.buckets[cpl as usize].clone();
                for peer in self.closest_to(&point, k, cpl + 1, |p| !chosen.contains(&p)) {
                    if table.bucket_len(cpl) >= k {
                        break;
                    }
                    table.add(peer, self, k);
                }
            }
            // Stop once no other server shares `cpl + 1` bits with `me`.
            if self.subtree(&key, cpl + 1).len() <= usize::from(me < self.servers) {
                break;
            }
        }
        table
    }
}

impl Population {
    /// The `k` reachable servers closest to `me` (other than `me`), closest first.
    pub fn nearest(&self, me: u32, k: usize) -> Vec<u32> {
        self.closest_to(self.key(me), k, 0, |p| p != me && self.reachable[p as usize])
    }

    /// The `k` reachable servers closest to `target`, closest first.
    pub fn closest_reachable(&self, target: &Key, k: usize) -> Vec<u32> {
        self.closest_to(target, k, 0, |p| self.reachable[p as usize])
    }

    /// How many reachable DHT servers share exactly `cpl` leading bits with node `me`, counted
    /// up to `enough`: those that belong in bucket `cpl` of its table.
    pub fn reachable_at(&self, me: u32, cpl: u32, enough: usize) -> usize {
        let key = self.key(me);
        // Bucket `cpl`'s servers: the subtree at depth `cpl` around `me` without the one at
        // depth `cpl + 1` (which holds `me`).
        let (outer, inner) = (self.subtree(key, cpl), self.subtree(key, cpl + 1));
        self.sorted[outer.start..inner.start]
            .iter()
            .chain(&self.sorted[inner.end..outer.end])
            .filter(|(_, p)| self.reachable[*p as usize])
            .take(enough)
            .count()
    }

    /// The `m` servers closest to `target` among those in its subtree at depth `min_bits`
    /// for which `keep` holds, closest first. They lie in the deepest subtree around
    /// `target` that holds `m` of them, found by halving the depth range.
    fn closest_to(&self, target: &Key, m: usize, min_bits: u32, keep: impl Fn(u32) -> bool) -> Vec<u32> {
        let kept =
            |bits: u32| self.sorted[self.subtree(target, bits)].iter().filter(|(_, p)| keep(*p)).count();
        // The deepest depth whose subtree has `m` servers at all, then up while too few kept.
        let (mut lo, mut hi) = (min_bits, 256);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if self.subtree(target, mid).len() >= m {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        while lo > min_bits && kept(lo) < m {
            lo -= 1;
        }
        let mut near: Vec<(Key, u32)> = self.sorted[self.subtree(target, lo)]
            .iter()
            .filter(|(_, p)| keep(*p))
            .map(|(key, p)| (key.distance(target), *p))
            .collect();
        near.sort_unstable();
        near.into_iter().take(m).map(|(_, p)| p).collect()
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

    /// How many buckets hold `k` peers.
    pub fn full_buckets(&self, k: usize) -> usize {
        self.buckets.iter().filter(|b| b.len() >= k).count()
    }

    /// How spread out the full buckets are: the mean, over full buckets, of how many of the
    /// 16 subtrees four bits below the bucket hold one of its peers (20 peers drawn
    /// uniformly cover about 11.6).
    pub fn spread(&self, k: usize, population: &Population) -> f64 {
        let full: Vec<(usize, &Vec<u32>)> =
            self.buckets.iter().enumerate().filter(|(_, b)| b.len() >= k).collect();
        if full.is_empty() {
            return 0.0;
        }
        let covered: u32 = full
            .iter()
            .map(|(cpl, bucket)| {
                let seen =
                    bucket.iter().fold(0u16, |m, p| m | 1 << population.key(*p).bits(*cpl as u32 + 1, 4));
                seen.count_ones()
            })
            .sum();
        f64::from(covered) / full.len() as f64
    }

    /// Whether `peer` is in the table.
    pub fn contains(&self, peer: u32, population: &Population) -> bool {
        let cpl = self.me.common_prefix(population.key(peer)) as usize;
        self.buckets.get(cpl).is_some_and(|b| b.contains(&peer))
    }

    /// The targets of a refresh after its self-lookup (go-libp2p-kad-dht
    /// `rt_refresh_manager.go`): a random key in every bucket up to the deepest non-empty
    /// one, at most 15 (`maxCplForRefresh`).
    pub fn refresh_targets(&self, rng: &mut Rng) -> Vec<Key> {
        self.refreshed().map(|cpl| self.me.with_prefix_of(cpl, &Key::random(rng))).collect()
    }

    /// The buckets a refresh looks into: every one up to the deepest non-empty one, at most 15.
    fn refreshed(&self) -> std::ops::RangeInclusive<u32> {
        0..=self.max_cpl().min(15)
    }

    /// How many of the buckets a refresh looks into are empty although `k` reachable servers
    /// of `population` belong in each: after a refresh, a lookup of a key in each has met
    /// the servers nearest that key, all of which belong there (node `me` owns the table).
    pub fn empty_buckets(&self, me: u32, k: usize, population: &Population) -> u64 {
        self.refreshed()
            .filter(|cpl| self.bucket_len(*cpl) == 0 && population.reachable_at(me, *cpl, k) >= k)
            .count() as u64
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
        let twenty: Vec<u32> = everyone.iter().take(20).map(|(_, p)| *p).collect();
        assert_eq!(pop.nearest(me, 20), twenty);
        assert!(twenty.iter().all(|p| table.contains(*p, &pop)));
        // Full buckets are clustered like grown ones (about 7.2 of 16 subtrees; a uniform
        // draw covers 11.6).
        let spread =
            (0..50).map(|me| pop.initial_table(me, 20, &mut rng).spread(20, &pop)).sum::<f64>() / 50.0;
        assert!((6.5..8.0).contains(&spread), "{spread}");
    }
}
