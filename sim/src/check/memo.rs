//! The search's memory: every (linearised set, state) configuration explored, so that none
//! is explored twice (Lowe's memoisation).
//!
//! Stored flat for few allocations and few cache misses: one arena of set words, one of
//! states, and a map from each pair's 64-bit hash to the newest pair with that hash, older
//! ones chained. Equality is checked along the chain, so the memo is exact. Measured against
//! a hash set of boxed pairs and an open-addressing table in docs/PERFORMANCE.md.

#![allow(clippy::disallowed_types)] // a HashMap with a fixed (identity) hasher, never iterated

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use crate::kernel::hash::StableHasher;

/// The memo's keys are already uniformly mixed 64-bit hashes; hashing them again is waste.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

/// Explored (linearized set, state) pairs, stored flat: pair `i` has its set at
/// `sets[i * words..]` and its state at `states[i]`. `heads` maps the pair's combined hash
/// to the newest pair with that hash and `next` chains older ones. Equality is checked along
/// the chain, so the memo is exact; a pair is copied only when it is new.
pub(crate) struct Memo<S> {
    words: usize,
    heads: HashMap<u64, u32, BuildHasherDefault<KeyHasher>>,
    next: Vec<u32>,
    sets: Vec<u64>,
    states: Vec<S>,
}

impl<S: Clone + Eq> Memo<S> {
    /// An empty memo for sets of `words` words.
    pub(crate) fn new(words: usize) -> Memo<S> {
        Memo { words, heads: HashMap::default(), next: Vec::new(), sets: Vec::new(), states: Vec::new() }
    }

    /// How many pairs it holds.
    pub(crate) fn len(&self) -> usize {
        self.states.len()
    }

    /// Adds (set, state) under `key`; false if it was there already.
    pub(crate) fn insert(&mut self, key: u64, set: &[u64], state: &S) -> bool {
        const END: u32 = u32::MAX;
        let head = self.heads.get(&key).copied().unwrap_or(END);
        let mut at = head;
        while at != END {
            let index = at as usize;
            let seen = &self.sets[index * self.words..(index + 1) * self.words];
            if seen.iter().zip(set).all(|(a, b)| a == b) && self.states[index] == *state {
                return false;
            }
            at = self.next[index];
        }
        let index = u32::try_from(self.states.len()).expect("fewer than 2^32 remembered states");
        self.sets.extend_from_slice(set);
        self.states.push(state.clone());
        self.next.push(head);
        self.heads.insert(key, index);
        true
    }
}

pub(crate) fn hash_of<S: Hash>(state: &S) -> u64 {
    let mut hasher = StableHasher::default();
    state.hash(&mut hasher);
    hasher.finish()
}

/// Where a search stands after `run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    Linearizable,
    NotLinearizable,
    Paused,
}
