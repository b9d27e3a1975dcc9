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
//! - then the follow-up round (`lookup.go`, `runLookupWithFollowup`): every one of the `k`
//!   closest peers heard, waiting or queried that has not answered is asked at once, with
//!   no `alpha` cap, and the lookup waits for them; their answers are not followed (the peers
//!   they name are not heard), and requests still out to peers outside those `k` are
//!   cancelled (a late answer from one is ignored);
//! - its result is those `k` peers less the ones that failed the follow-up (upstream stores
//!   on all `k`; a second dial to a peer that just failed one ends at once in libp2p's dial
//!   backoff, so leaving it out changes no outcome). A lookup stopped before its walk ends
//!   (optimistic provide's stop function) has no follow-up, and its result is the `k`
//!   closest peers heard, waiting or queried at that moment, as upstream.
//!
//! Hops: a peer from the node's own table is heard at hop 0; querying a peer heard at hop
//! `h` is hop `h + 1`, and the peers it returns are heard at hop `h + 1`. A lookup's hops to
//! finish are the deepest query its walk sent (the round trips it had to make one after
//! another; the follow-up is one more round trip, not counted); its hops to see all `k` closest are the largest hop at which a peer of
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

/// The parameters of a lookup: go-libp2p-kad-dht's `k` (bucket size, result size), `alpha`
/// (requests out at once) and `beta` (closest peers that must answer).
#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub k: usize,
    pub alpha: usize,
    pub beta: usize,
}

/// An iterative lookup of `target`.
#[derive(Clone, Debug)]
pub struct Lookup {
    target: Key,
    candidates: Vec<Candidate>,
    /// Requests out (that count: cancelled ones do not).
    waiting: usize,
    /// The deepest query hop the walk sent.
    depth: u32,
    params: Params,
    /// The `k` peers of the follow-up round, once the walk has ended.
    followup: Option<Vec<u32>>,
    /// The `k` closest peers queried when the walk ended (upstream `lookupRes.closest`).
    closest_queried: Vec<u32>,
    /// Requests sent.
    pub rpcs: u32,
}

impl Lookup {
    /// A lookup of `target` that starts from `seeds` (the node's own closest peers).
    pub fn new(target: Key, seeds: &[u32], params: Params, population: &Population) -> Lookup {
        let mut lookup = Lookup {
            target,
            candidates: Vec::new(),
            waiting: 0,
            depth: 0,
            params,
            followup: None,
            closest_queried: Vec::new(),
            rpcs: 0,
        };
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

    /// The peers to ask now (marked waiting): while walking, the closest heard ones up to
    /// `alpha` out; once the walk has ended, the follow-up round (module docs).
    pub fn to_query(&mut self) -> Vec<u32> {
        let mut out = Vec::new();
        if self.followup.is_some() {
            return out;
        }
        if self.walk_ended() {
            self.closest_queried = self
                .candidates
                .iter()
                .filter(|c| c.state == State::Queried)
                .take(self.params.k)
                .map(|c| c.peer)
                .collect();
            let mut followup = Vec::with_capacity(self.params.k);
            for candidate in self.candidates.iter_mut().filter(|c| c.state != State::Unreachable) {
                if followup.len() < self.params.k {
                    followup.push(candidate.peer);
                    if candidate.state == State::Heard {
                        candidate.state = State::Waiting;
                        self.waiting += 1;
                        self.rpcs += 1;
                        out.push(candidate.peer);
                    }
                } else if candidate.state == State::Waiting {
                    // Cancelled: upstream ends the walk's context.
                    candidate.state = State::Heard;
                    self.waiting -= 1;
                }
            }
            self.followup = Some(followup);
            return out;
        }
        for candidate in &mut self.candidates {
            if self.waiting >= self.params.alpha {
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

    /// `peer` answered with `closer` peers; false when the answer does not count (the
    /// request was cancelled or timed out).
    pub fn answered(&mut self, peer: u32, closer: &[u32], population: &Population) -> bool {
        let Some(i) = self.position(peer, population) else { return false };
        if self.candidates[i].state != State::Waiting {
            return false;
        }
        self.candidates[i].state = State::Queried;
        self.waiting -= 1;
        if self.followup.is_none() {
            let hop = self.candidates[i].heard + 1;
            self.hear(closer, hop, population);
        }
        true
    }

    /// `peer` did not answer in time.
    pub fn failed(&mut self, peer: u32, population: &Population) {
        let Some(i) = self.position(peer, population) else { return };
        if self.candidates[i].state == State::Waiting {
            self.candidates[i].state = State::Unreachable;
            self.waiting -= 1;
        }
    }

    /// Whether the walk has ended by upstream's termination rules (`query.go`).
    pub fn walk_ended(&self) -> bool {
        let live = self.candidates.iter().filter(|c| c.state != State::Unreachable);
        let beta_queried = live.clone().take(self.params.beta).all(|c| c.state == State::Queried);
        let starved = !live.clone().any(|c| matches!(c.state, State::Heard | State::Waiting));
        beta_queried || starved
    }

    /// Whether the walk and its follow-up round are over. Call [`Lookup::to_query`] first:
    /// it is what starts the follow-up.
    pub fn done(&self) -> bool {
        self.followup.is_some() && self.waiting == 0
    }

    /// The lookup's result, closest first (module docs): after the follow-up, its peers that
    /// answered; before, the `k` closest heard, waiting or queried.
    pub fn result(&self, population: &Population) -> Vec<u32> {
        match &self.followup {
            Some(peers) => peers
                .iter()
                .copied()
                .filter(|p| {
                    self.position(*p, population).is_some_and(|i| self.candidates[i].state == State::Queried)
                })
                .collect(),
            None => self.closest_live(self.params.k).into_iter().map(|(p, _)| p).collect(),
        }
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

    /// The `k` closest peers queried when the walk ended, closest first (upstream's
    /// `lookupRes.closest`); empty before.
    pub fn closest_queried(&self) -> &[u32] {
        &self.closest_queried
    }

    /// The `k` closest peers heard, waiting or queried when the walk ended, closest first
    /// (upstream's `lookupRes.peers`, the follow-up's peers); empty before.
    pub fn closest_known(&self) -> &[u32] {
        self.followup.as_deref().unwrap_or(&[])
    }

    /// The hop at which `peer` was queried (its heard hop + 1).
    pub fn query_hop(&self, peer: u32, population: &Population) -> u32 {
        self.position(peer, population).map_or(1, |i| self.candidates[i].heard + 1)
    }

    /// Hops to finish and hops to see every one of the `k` closest queried peers (module
    /// docs).
    pub fn hops(&self) -> (u32, u32) {
        let result = self.candidates.iter().filter(|c| c.state == State::Queried).take(self.params.k);
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

    const PARAMS: Params = Params { k: 5, alpha: 10, beta: 3 };

    #[test]
    fn asks_alpha_closest_first_ends_when_beta_closest_answered_then_follows_up() {
        let pop = population(100);
        let target = Key([0; 4]);
        let mut by_distance: Vec<u32> = (0..100).collect();
        by_distance.sort_by_key(|p| pop.key(*p).distance(&target));
        let d = |i: usize| by_distance[i];
        let mut lookup = Lookup::new(target, &by_distance[10..40], PARAMS, &pop);
        let first = lookup.to_query();
        assert_eq!(first, by_distance[10..20].to_vec(), "the 10 closest heard");
        assert!(lookup.to_query().is_empty(), "alpha requests out");
        // The 11th closest answers with the 4 closest of all.
        assert!(lookup.answered(d(10), &by_distance[0..4], &pop));
        assert!(!lookup.walk_ended());
        assert_eq!(lookup.to_query(), vec![d(0)]);
        lookup.answered(d(0), &[], &pop);
        lookup.failed(d(11), &pop);
        assert_eq!(lookup.to_query(), vec![d(1), d(2)]);
        lookup.answered(d(1), &[], &pop);
        assert!(!lookup.walk_ended(), "the 3rd closest is still waiting");
        lookup.answered(d(2), &[], &pop);
        assert!(lookup.walk_ended(), "the beta = 3 closest are queried");
        assert!(!lookup.done(), "the follow-up has not run");
        // Follow-up: of the k = 5 closest live (d0..d3, d10), only d3 was never asked.
        assert_eq!(lookup.to_query(), vec![d(3)]);
        assert!(lookup.to_query().is_empty(), "one follow-up round");
        assert!(!lookup.answered(d(12), &by_distance[4..6], &pop), "the walk's requests are cancelled");
        assert!(!lookup.done());
        assert!(lookup.answered(d(3), &by_distance[4..6], &pop));
        assert!(lookup.done());
        assert_eq!(lookup.result(&pop), vec![d(0), d(1), d(2), d(3), d(10)]);
        assert_eq!(lookup.closest_queried(), &[d(0), d(1), d(2), d(10)], "as the walk ended");
        assert_eq!(lookup.closest_known(), &[d(0), d(1), d(2), d(3), d(10)]);
        assert_eq!(
            lookup.closest_live(6).len(),
            6,
            "the follow-up's answer was not followed: d4, d5 unheard"
        );
        assert!(lookup.closest_live(6).iter().all(|(p, _)| *p != d(4)));
        assert_eq!(
            lookup.hops(),
            (2, 1),
            "walked 2 deep (the follow-up does not count); the closest heard at hop 1"
        );
        assert_eq!(lookup.rpcs, 14);
    }

    #[test]
    fn a_peer_that_fails_the_follow_up_is_left_out_of_the_result() {
        let pop = population(100);
        let target = Key([0; 4]);
        let mut by_distance: Vec<u32> = (0..100).collect();
        by_distance.sort_by_key(|p| pop.key(*p).distance(&target));
        let mut lookup = Lookup::new(target, &by_distance[0..8], PARAMS, &pop);
        let sent = lookup.to_query();
        assert_eq!(sent.len(), 8);
        for &peer in &sent[..3] {
            lookup.answered(peer, &[], &pop);
        }
        // The walk ended with d3..d7 still out; d3 and d4 are among the k = 5, the rest are
        // cancelled.
        assert!(lookup.to_query().is_empty());
        lookup.failed(by_distance[3], &pop);
        assert!(!lookup.done());
        lookup.answered(by_distance[4], &[], &pop);
        assert!(lookup.done());
        assert_eq!(lookup.result(&pop), vec![by_distance[0], by_distance[1], by_distance[2], by_distance[4]]);
    }

    #[test]
    fn a_stopped_walk_results_in_the_closest_known() {
        let pop = population(100);
        let mut lookup = Lookup::new(Key([0; 4]), &[5, 6, 7, 8, 9, 10, 11], PARAMS, &pop);
        let sent = lookup.to_query();
        lookup.answered(sent[6], &[], &pop);
        let mut expected: Vec<u32> = vec![5, 6, 7, 8, 9, 10, 11];
        expected.sort_by_key(|p| pop.key(*p).distance(&Key([0; 4])));
        expected.truncate(5);
        assert_eq!(lookup.result(&pop), expected, "heard, waiting or queried");
    }

    #[test]
    fn starves_when_nobody_answers() {
        let pop = population(10);
        let mut lookup = Lookup::new(Key([0; 4]), &[1, 2], PARAMS, &pop);
        for peer in lookup.to_query() {
            lookup.failed(peer, &pop);
        }
        assert!(lookup.walk_ended());
        assert!(lookup.to_query().is_empty(), "nobody to follow up");
        assert!(lookup.done());
        assert!(lookup.result(&pop).is_empty());
    }
}
