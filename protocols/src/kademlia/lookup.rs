//! One iterative lookup (go-libp2p-kad-dht `query.go` and `qpeerset`).
//!
//! Every peer the lookup hears of is kept, closest to the target first, in one of the states
//! `heard`, `waiting` (a request is out), `queried` (it answered) or `unreachable` (it did
//! not, within the timeout). The rules, as upstream:
//!
//! - at most `alpha` (10) requests are out at once; a free slot goes to the closest heard
//!   peer (`query.go`, `spawnQuery` over `GetClosestInStates(PeerHeard)`);
//! - the lookup ends when the `beta` (3) closest peers that are heard, waiting or queried are
//!   all queried (`isLookupTermination`), or when nothing is heard or waiting
//!   (`isStarvationTermination`);
//! - its result is the `k` closest queried peers.
//!
//! Hops: a peer from the node's own table is heard at hop 0; querying a peer heard at hop
//! `h` is hop `h + 1`, and the peers it returns are heard at hop `h + 1`. A lookup's hops to
//! finish are the deepest query it sent before it ended (the round trips it had to make one
//! after another); its hops to see all `k` closest are the largest hop at which a peer of
//! its result was first heard.

use super::key::Key;
use super::table::Population;

/// Where a peer stands in a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Known, not asked.
    Heard,
    /// A request is out.
    Waiting,
    /// It answered.
    Queried,
    /// It did not answer in time.
    Unreachable,
}

#[derive(Clone, Copy, Debug)]
struct Candidate {
    distance: Key,
    peer: u32,
    state: State,
    /// The hop at which it was first heard.
    heard: u32,
}

/// An iterative lookup of `target`.
#[derive(Clone, Debug)]
pub struct Lookup {
    target: Key,
    candidates: Vec<Candidate>,
    waiting: usize,
    /// The deepest query hop sent.
    depth: u32,
    alpha: usize,
    beta: usize,
    /// Requests sent.
    pub rpcs: u32,
}

impl Lookup {
    /// A lookup of `target` that starts from `seeds` (the node's own closest peers).
    pub fn new(target: Key, seeds: &[u32], alpha: usize, beta: usize, population: &Population) -> Lookup {
        let mut lookup =
            Lookup { target, candidates: Vec::new(), waiting: 0, depth: 0, alpha, beta, rpcs: 0 };
        lookup.hear(seeds, 0, population);
        lookup
    }

    /// The key looked up.
    pub fn target(&self) -> &Key {
        &self.target
    }

    fn hear(&mut self, peers: &[u32], hop: u32, population: &Population) {
        for &peer in peers {
            let distance = population.key(peer).distance(&self.target);
            if let Err(at) = self.candidates.binary_search_by(|c| c.distance.cmp(&distance)) {
                self.candidates.insert(at, Candidate { distance, peer, state: State::Heard, heard: hop });
            }
        }
    }

    fn position(&self, peer: u32, population: &Population) -> Option<usize> {
        let distance = population.key(peer).distance(&self.target);
        self.candidates.binary_search_by(|c| c.distance.cmp(&distance)).ok()
    }

    /// The peers to ask now (marked waiting): the closest heard ones, up to `alpha` out.
    pub fn to_query(&mut self) -> Vec<u32> {
        let mut out = Vec::new();
        for candidate in &mut self.candidates {
            if self.waiting >= self.alpha {
                break;
            }
            if candidate.state == State::Heard {
                candidate.state = State::Waiting;
                self.depth = self.depth.max(candidate.heard + 1);
                self.waiting += 1;
                self.rpcs += 1;
                out.push(candidate.peer);
            }
        }
        out
    }

    /// `peer` answered with `closer` peers.
    pub fn answered(&mut self, peer: u32, closer: &[u32], population: &Population) {
        let Some(i) = self.position(peer, population) else { return };
        if self.candidates[i].state != State::Waiting {
            return;
        }
        self.candidates[i].state = State::Queried;
        self.waiting -= 1;
        let hop = self.candidates[i].heard + 1;
        self.hear(closer, hop, population);
    }

    /// `peer` did not answer in time.
    pub fn failed(&mut self, peer: u32, population: &Population) {
        let Some(i) = self.position(peer, population) else { return };
        if self.candidates[i].state == State::Waiting {
            self.candidates[i].state = State::Unreachable;
            self.waiting -= 1;
        }
    }

    /// Whether the lookup has ended by upstream's termination rules.
    pub fn done(&self) -> bool {
        let live = self.candidates.iter().filter(|c| c.state != State::Unreachable);
        let beta_queried = live.clone().take(self.beta).all(|c| c.state == State::Queried);
        let starved = !live.clone().any(|c| matches!(c.state, State::Heard | State::Waiting));
        beta_queried || starved
    }

    /// The `n` closest queried peers, closest first.
    pub fn result(&self, n: usize) -> Vec<u32> {
        self.candidates.iter().filter(|c| c.state == State::Queried).take(n).map(|c| c.peer).collect()
    }

    /// The `n` closest peers heard, waiting or queried, with their normed distances
    /// (optimistic provide's view).
    pub fn closest_live(&self, n: usize) -> Vec<(u32, f64)> {
        self.candidates
            .iter()
            .filter(|c| c.state != State::Unreachable)
            .take(n)
            .map(|c| (c.peer, c.distance.normed()))
            .collect()
    }

    /// Normed distances of the `n` closest queried peers (for the network-size estimate).
    pub fn result_distances(&self, n: usize) -> Vec<f64> {
        self.candidates
            .iter()
            .filter(|c| c.state == State::Queried)
            .take(n)
            .map(|c| c.distance.normed())
            .collect()
    }

    /// The hop at which `peer` was queried (its heard hop + 1).
    pub fn query_hop(&self, peer: u32, population: &Population) -> u32 {
        self.position(peer, population).map_or(1, |i| self.candidates[i].heard + 1)
    }

    /// Hops to finish and hops to see every peer of the `n`-peer result (module docs).
    pub fn hops(&self, n: usize) -> (u32, u32) {
        let result = self.candidates.iter().filter(|c| c.state == State::Queried).take(n);
        (self.depth, result.map(|c| c.heard).max().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::Seed;

    fn population(n: u32) -> std::sync::Arc<Population> {
        let mut rng = Seed(9).stream("test", 0);
        let keys = (0..n).map(|_| Key::random(&mut rng)).collect();
        Population::new(keys, vec![0; n as usize], vec![true; n as usize], n)
    }

    #[test]
    fn asks_alpha_closest_first_and_ends_when_beta_closest_answered() {
        let pop = population(100);
        let target = Key([0; 4]);
        let mut by_distance: Vec<u32> = (0..100).collect();
        by_distance.sort_by_key(|p| pop.key(*p).distance(&target));
        let mut lookup = Lookup::new(target, &by_distance[10..40], 10, 3, &pop);
        let first = lookup.to_query();
        assert_eq!(first, by_distance[10..20].to_vec(), "the 10 closest heard");
        assert!(lookup.to_query().is_empty(), "alpha requests out");
        // The 11th closest answers with the 3 closest of all.
        lookup.answered(by_distance[10], &by_distance[0..3], &pop);
        assert!(!lookup.done());
        assert_eq!(lookup.to_query(), vec![by_distance[0]]);
        lookup.answered(by_distance[0], &[], &pop);
        lookup.failed(by_distance[11], &pop);
        let more = lookup.to_query();
        assert_eq!(more, vec![by_distance[1], by_distance[2]]);
        lookup.answered(by_distance[1], &[], &pop);
        assert!(!lookup.done(), "the 3rd closest is still waiting");
        lookup.answered(by_distance[2], &[], &pop);
        assert!(lookup.done(), "the beta = 3 closest are queried");
        assert_eq!(lookup.result(2), vec![by_distance[0], by_distance[1]]);
        assert_eq!(
            lookup.hops(3),
            (2, 1),
            "queried 2 deep; the closest were heard from a peer of the own table"
        );
    }

    #[test]
    fn starves_when_nobody_answers() {
        let pop = population(10);
        let mut lookup = Lookup::new(Key([0; 4]), &[1, 2], 10, 3, &pop);
        for peer in lookup.to_query() {
            lookup.failed(peer, &pop);
        }
        assert!(lookup.done());
        assert!(lookup.result(20).is_empty());
    }
}
