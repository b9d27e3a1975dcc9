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

use super::model::Model;
use super::op::{CheckOp, Output};
use crate::hash::DetHashSet;

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
    /// Entry 0 is the head sentinel.
    entries: Vec<Entry>,
    stack: Vec<(usize, M::State)>,
    linearized: Vec<u64>,
    memo: DetHashSet<(Vec<u64>, M::State)>,
    state: M::State,
    cursor: usize,
    /// The longest sequence of operations linearized so far (local indices, in order).
    pub(crate) best: Vec<usize>,
    pub(crate) steps: u64,
    done: Option<Progress>,
}

impl<'a, M: Model> Search<'a, M> {
    pub(crate) fn new(model: &'a M, ops: Vec<&'a CheckOp>) -> Search<'a, M> {
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
        let cursor = entries[0].next;
        Search {
            model,
            ops,
            entries,
            stack: Vec::new(),
            linearized: vec![0; words],
            memo: DetHashSet::default(),
            state,
            cursor,
            best: Vec::new(),
            steps: 0,
            done: None,
        }
    }

    /// States remembered so far (the search's memory).
    pub(crate) fn memo_len(&self) -> usize {
        self.memo.len()
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
                let op = self.ops[entry.op];
                let next = match (self.model.step(&self.state, op), &op.output) {
                    (Some(next), _) => Some(next),
                    (None, Output::Unknown) => Some(self.state.clone()),
                    (None, _) => None,
                };
                if let Some(next) = next {
                    self.flip(entry.op);
                    if self.memo.insert((self.linearized.clone(), next.clone())) {
                        let previous = std::mem::replace(&mut self.state, next);
                        self.stack.push((self.cursor, previous));
                        self.lift(self.cursor);
                        if self.stack.len() > self.best.len() {
                            self.best = self.stack.iter().map(|(call, _)| self.entries[*call].op).collect();
                        }
                        self.cursor = self.entries[0].next;
                        continue;
                    }
                    self.flip(entry.op);
                }
                self.cursor = entry.next;
            } else {
                let Some((call, previous)) = self.stack.pop() else {
                    self.done = Some(Progress::NotLinearizable);
                    return Progress::NotLinearizable;
                };
                self.state = previous;
                self.flip(self.entries[call].op);
                self.unlift(call);
                self.cursor = self.entries[call].next;
            }
        }
        self.done = Some(Progress::Linearizable);
        Progress::Linearizable
    }
}
