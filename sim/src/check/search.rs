//! The Wing–Gong linearizability search with Lowe's memoisation, as Porcupine implements it.
//!
//! Calls and returns form one list ordered by time. The search walks it: at a call, it tries
//! to linearize that operation now (the model accepts it from the current state, and the
//! pair (set of linearized operations, new state) was not explored before), removes the
//! operation's call and return from the list and starts again from the front; at a return,
//! the operation returning there had to be linearized already, so it backtracks the last
//! choice. The list empties iff the history is linearizable.
//!
//! An operation with unknown outcome returns "never", so it may be linearized anywhere after
//! its call; if the model cannot apply it in a state, it is linearized there as a no-op (it
//! may not have taken effect at all).
//!
//! The search is resumable: `run` does a bounded number of steps and returns, so several
//! partitions can share one budget.

#![allow(clippy::disallowed_types)] // a HashMap with a fixed (identity) hasher, never iterated

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::model::{Model, Step};
use super::op::{CheckOp, Output};
use crate::hash::{mix64, StableHasher};

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
struct Memo<S> {
    words: usize,
    heads: HashMap<u64, u32, BuildHasherDefault<KeyHasher>>,
    next: Vec<u32>,
    sets: Vec<u64>,
    states: Vec<S>,
}

impl<S: Clone + Eq> Memo<S> {
    /// Adds (set, state) under `key`; false if it was there already.
    fn insert(&mut self, key: u64, set: &[u64], state: &S) -> bool {
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

fn hash_of<S: Hash>(state: &S) -> u64 {
    let mut hasher = StableHasher::default();
    state.hash(&mut hasher);
    hasher.finish()
}

const NONE: usize = usize::MAX;

#[derive(Clone, Copy, Debug)]
struct Entry {
    op: usize,
    is_call: bool,
    /// For a call, its return entry.
    matching: usize,
    prev: usize,
    next: usize,
}

/// Where a search stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    Linearizable,
    NotLinearizable,
    Paused,
}

/// The search over one partition.
pub(crate) struct Search<'a, M: Model> {
    model: &'a M,
    pub(crate) ops: Vec<&'a CheckOp>,
    inputs: Vec<M::Input>,
    /// Entry 0 is the head sentinel.
    entries: Vec<Entry>,
    /// The calls linearized, with the state before each (`None`: it did not change) and
    /// that state's hash.
    stack: Vec<(usize, Option<M::State>, u64)>,
    linearized: Vec<u64>,
    /// Zobrist hash of `linearized`: the XOR of a fixed random key per linearized operation,
    /// updated in O(1) as operations are added and removed.
    linearized_hash: u64,
    memo: Memo<M::State>,
    state: M::State,
    state_hash: u64,
    cursor: usize,
    /// The longest sequence of operations linearized so far (local indices, in order).
    pub(crate) best: Vec<usize>,
    pub(crate) steps: u64,
    done: Option<Progress>,
}

impl<'a, M: Model> Search<'a, M> {
    /// A search over `ops`, prepared by the model as `inputs`.
    pub(crate) fn new(model: &'a M, ops: Vec<&'a CheckOp>, inputs: Vec<M::Input>) -> Search<'a, M> {
        let mut order: Vec<(u64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
        for (index, op) in ops.iter().enumerate() {
            order.push((op.call, false, index));
            order.push((op.ret, true, index));
        }
        order.sort_unstable();
        let mut entries = vec![Entry { op: NONE, is_call: false, matching: NONE, prev: NONE, next: NONE }];
        let mut call_of = vec![NONE; ops.len()];
        for (position, &(_, is_return, op)) in order.iter().enumerate() {
            let index = position + 1;
            entries.push(Entry { op, is_call: !is_return, matching: NONE, prev: index - 1, next: NONE });
            entries[index - 1].next = index;
            if is_return {
                entries[call_of[op]].matching = index;
            } else {
                call_of[op] = index;
            }
        }
        let words = ops.len().div_ceil(64);
        let state = model.init();
        let state_hash = hash_of(&state);
        let cursor = entries[0].next;
        let memo =
            Memo { words, heads: HashMap::default(), next: Vec::new(), sets: Vec::new(), states: Vec::new() };
        Search {
            model,
            ops,
            inputs,
            entries,
            stack: Vec::new(),
            linearized: vec![0; words],
            linearized_hash: 0,
            memo,
            state,
            state_hash,
            cursor,
            best: Vec::new(),
            steps: 0,
            done: None,
        }
    }

    /// States remembered so far (the search's memory).
    pub(crate) fn memo_len(&self) -> usize {
        self.memo.states.len()
    }

    fn lift(&mut self, call: usize) {
        let entry = self.entries[call];
        self.entries[entry.prev].next = entry.next;
        if entry.next != NONE {
            self.entries[entry.next].prev = entry.prev;
        }
        let ret = self.entries[entry.matching];
        self.entries[ret.prev].next = ret.next;
        if ret.next != NONE {
            self.entries[ret.next].prev = ret.prev;
        }
    }

    fn unlift(&mut self, call: usize) {
        let ret_index = self.entries[call].matching;
        let ret = self.entries[ret_index];
        self.entries[ret.prev].next = ret_index;
        if ret.next != NONE {
            self.entries[ret.next].prev = ret_index;
        }
        let entry = self.entries[call];
        self.entries[entry.prev].next = call;
        if entry.next != NONE {
            self.entries[entry.next].prev = call;
        }
    }

    fn flip(&mut self, op: usize) {
        self.linearized[op / 64] ^= 1 << (op % 64);
        self.linearized_hash ^= mix64(op as u64 ^ 0x5851_F42D_4C95_7F2D);
    }

    /// Runs at most `limit` steps.
    pub(crate) fn run(&mut self, limit: u64) -> Progress {
        if let Some(done) = self.done {
            return done;
        }
        let stop = self.steps + limit;
        while self.entries[0].next != NONE {
            if self.steps >= stop {
                return Progress::Paused;
            }
            self.steps += 1;
            let entry = self.entries[self.cursor];
            if entry.is_call {
                let op = entry.op;
                let step = match self.model.step(&self.state, &self.inputs[op]) {
                    // An unknown outcome may not have taken effect: a no-op, here.
                    Step::Impossible if self.ops[op].output == Output::Unknown => Step::Same,
                    step => step,
                };
                let advanced = match step {
                    Step::Impossible => false,
                    Step::Same => {
                        self.flip(op);
                        let key = self.linearized_hash ^ self.state_hash;
                        let new = self.memo.insert(key, &self.linearized, &self.state);
                        if new {
                            self.stack.push((self.cursor, None, self.state_hash));
                        } else {
                            self.flip(op);
                        }
                        new
                    }
                    Step::To(next) => {
                        let next_hash = hash_of(&next);
                        self.flip(op);
                        let new = self.memo.insert(self.linearized_hash ^ next_hash, &self.linearized, &next);
                        if new {
                            let previous = std::mem::replace(&mut self.state, next);
                            self.stack.push((self.cursor, Some(previous), self.state_hash));
                            self.state_hash = next_hash;
                        } else {
                            self.flip(op);
                        }
                        new
                    }
                };
                if advanced {
                    self.lift(self.cursor);
                    if self.stack.len() > self.best.len() {
                        self.best = self.stack.iter().map(|(call, _, _)| self.entries[*call].op).collect();
                    }
                    self.cursor = self.entries[0].next;
                } else {
                    self.cursor = entry.next;
                }
            } else {
                let Some((call, previous, previous_hash)) = self.stack.pop() else {
                    self.done = Some(Progress::NotLinearizable);
                    return Progress::NotLinearizable;
                };
                if let Some(previous) = previous {
                    self.state = previous;
                }
                self.state_hash = previous_hash;
                self.flip(self.entries[call].op);
                self.unlift(call);
                self.cursor = self.entries[call].next;
            }
        }
        self.done = Some(Progress::Linearizable);
        Progress::Linearizable
    }
}
