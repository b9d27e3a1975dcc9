//! Just-in-time linearisation (Lowe, "Testing for linearizability", 2017): walk the
//! history's events in order and linearise an operation only when its return forces it.
//!
//! A configuration is (next event, linearised set, state). Calls just make operations
//! pending. At the return of an operation not yet linearised, the search must linearise it
//! now, possibly after other pending operations: it branches over which pending operation
//! goes next, until the returning one has been placed. Configurations are memoised, so each
//! is explored once.
//!
//! Two rules cut the branching without losing any linearisation:
//! - A completed pending operation whose step leaves the state unchanged (a read that
//!   matches) is linearised at once, without branching: placing it later can never help,
//!   since it changes nothing and its obligation disappears.
//! - An operation with unknown outcome is never forced (it may never take effect) and is
//!   only worth placing when it changes the state.
//! - Of pending operations that are the same operation (same function, key, input and
//!   output, so the same step from every state), only the one that must return first is
//!   tried. Any linearisation that places a later-returning twin now can swap the two: the
//!   states are the same, and the later twin fits wherever the earlier one went. Many
//!   identical writes pending at once (writes whose values nobody reads, collapsed into one
//!   stand-in by `unobserved`) otherwise make the search try every subset of them.
//!
//! It replaced a Wing–Gong search with Lowe's memoisation (Porcupine's algorithm), which
//! linearises eagerly and took 3.3 times as many steps on etcd_002 (docs/PERFORMANCE.md).
//!
//! The search is resumable: `run` does a bounded number of steps, so partitions can share
//! one budget.

use super::memo::{hash_of, Memo, Progress};
use super::model::{Model, Step};
use super::op::{CheckOp, Output};
use crate::kernel::hash::mix64;

/// One event: the call or the return of an operation.
#[derive(Clone, Copy, Debug)]
struct Event {
    op: usize,
    is_return: bool,
}

/// A move: linearising `op`, from `state_before` (`None`: the step left it unchanged).
struct Move<S> {
    op: usize,
    state_before: Option<S>,
    hash_before: u64,
    event_before: usize,
}

/// A branching point: the return at `event` forces `forced`; `candidates` are the pending
/// operations to try next, `next` the first not tried yet. `arrived_by` is the move that
/// led here, undone when the node is exhausted.
struct Node<S> {
    event: usize,
    forced: usize,
    candidates: Vec<usize>,
    next: usize,
    arrived_by: Option<Move<S>>,
}

/// The just-in-time search over one partition.
pub(crate) struct Jit<'a, M: Model> {
    pub(crate) model: &'a M,
    pub(crate) ops: Vec<&'a CheckOp>,
    inputs: Vec<M::Input>,
    unknown: Vec<bool>,
    /// A hash of each operation's function, key, input and output: equal for twins (see the
    /// module docs), confirmed field by field.
    signature: Vec<u64>,
    events: Vec<Event>,
    /// For each event index, how many operations have been called before it (ops are
    /// numbered in call order, so "called before event i" is `op < called[i]`).
    called: Vec<usize>,
    linearized: Vec<u64>,
    linearized_hash: u64,
    /// Every operation below this one is linearized: the scans for pending operations start
    /// here, so a long history costs what is open, not everything called so far.
    open_from: usize,
    memo: Memo<M::State>,
    state: M::State,
    state_hash: u64,
    event: usize,
    stack: Vec<Node<M::State>>,
    /// Moves made without branching since the last node (undone with that node).
    forced_moves: Vec<Vec<Move<M::State>>>,
    /// The linearized set of the configuration that got furthest (see `best_ops`).
    best: Vec<u64>,
    best_event: usize,
    best_stuck: Option<usize>,
    pub(crate) steps: u64,
    done: Option<Progress>,
    started: bool,
}

/// Whether bit `op` of a linearized set is set.
fn bit(words: &[u64], op: usize) -> bool {
    words[op / 64] >> (op % 64) & 1 == 1
}

impl<'a, M: Model> Jit<'a, M> {
    /// A search over `ops` (any order), prepared by the model as `inputs`.
    pub(crate) fn new(model: &'a M, ops: Vec<&'a CheckOp>, inputs: Vec<M::Input>) -> Jit<'a, M> {
        // Number operations in call order.
        let mut order: Vec<usize> = (0..ops.len()).collect();
        order.sort_by_key(|&i| (ops[i].call, i));
        let mut slots: Vec<Option<M::Input>> = inputs.into_iter().map(Some).collect();
        let inputs: Vec<M::Input> =
            order.iter().map(|&i| slots[i].take().expect("each input once")).collect();
        let ops: Vec<&CheckOp> = order.iter().map(|&i| ops[i]).collect();
        let unknown: Vec<bool> = ops.iter().map(|op| op.output == Output::Unknown).collect();
        let signature: Vec<u64> = ops
            .iter()
            .map(|op| crate::kernel::hash::digest(&(&op.f, &op.key, &op.input, &op.output)))
            .collect();
        let mut timeline: Vec<(u64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
        for (index, op) in ops.iter().enumerate() {
            timeline.push((op.call, false, index));
            if !unknown[index] {
                timeline.push((op.ret, true, index));
            }
        }
        timeline.sort_unstable();
        let events: Vec<Event> = timeline.iter().map(|&(_, is_return, op)| Event { op, is_return }).collect();
        let mut called = Vec::with_capacity(events.len() + 1);
        let mut count = 0;
        for event in &events {
            called.push(count);
            if !event.is_return {
                count += 1;
            }
        }
        called.push(count);
        let words = ops.len().div_ceil(64) + 1;
        let state = model.init();
        let state_hash = hash_of(&state);
        Jit {
            model,
            ops,
            inputs,
            unknown,
            signature,
            events,
            called,
            linearized: vec![0; words],
            linearized_hash: 0,
            memo: Memo::new(words),
            state,
            state_hash,
            event: 0,
            stack: Vec::new(),
            forced_moves: vec![Vec::new()],
            open_from: 0,
            best: Vec::new(),
            best_event: 0,
            best_stuck: None,
            steps: 0,
            done: None,
            started: false,
        }
    }

    pub(crate) fn memo_len(&self) -> usize {
        self.memo.len()
    }

    /// The operation that could not be placed on the deepest path, for the witness.
    pub(crate) fn stuck(&self) -> Option<usize> {
        self.best_stuck
    }

    fn is_linearized(&self, op: usize) -> bool {
        bit(&self.linearized, op)
    }

    fn flip(&mut self, op: usize) {
        self.linearized[op / 64] ^= 1 << (op % 64);
        self.linearized_hash ^= mix64(op as u64 ^ 0x5851_F42D_4C95_7F2D);
        if !self.is_linearized(op) {
            self.open_from = self.open_from.min(op);
        }
        while self.open_from < self.ops.len() && self.is_linearized(self.open_from) {
            self.open_from += 1;
        }
    }

    /// The operations linearized in the configuration that got furthest through the
    /// history, in call order.
    pub(crate) fn best_ops(&self) -> Vec<usize> {
        (0..self.ops.len()).filter(|&q| bit(&self.best, q)).collect()
    }

    /// An order of the operations in `best_ops` that real time allows and the model
    /// explains, with the state after each (the witness's numbered prefix); `None` if
    /// `max_steps` run out first. The search found the set, not an order of it, so this
    /// looks for one: depth first, operations that return first tried first, remembering
    /// (placed set, state) pairs already explored.
    pub(crate) fn best_order(&self, max_steps: u64) -> Option<Vec<(usize, M::State)>> {
        let set = self.best_ops();
        let mut placed = vec![0u64; self.ops.len().div_ceil(64) + 1];
        let candidates = |placed: &[u64]| {
            let open: Vec<usize> = set.iter().copied().filter(|&q| !bit(placed, q)).collect();
            let first_return = open.iter().map(|&q| self.ops[q].ret).min().unwrap_or(u64::MAX);
            let mut next: Vec<usize> =
                open.into_iter().filter(|&q| self.ops[q].call < first_return).collect();
            next.sort_by_key(|&q| (self.ops[q].ret, q));
            next
        };
        let mut seen: std::collections::BTreeSet<(Vec<u64>, u64)> = std::collections::BTreeSet::new();
        let mut frames: Vec<(Vec<usize>, usize)> = vec![(candidates(&placed), 0)];
        let mut path: Vec<(usize, M::State)> = Vec::new();
        let init = self.model.init();
        for _ in 0..max_steps {
            if path.len() == set.len() {
                return Some(path);
            }
            let (choices, next) = frames.last_mut()?;
            let Some(&q) = choices.get(*next) else {
                frames.pop();
                if let Some((undone, _)) = path.pop() {
                    placed[undone / 64] ^= 1 << (undone % 64);
                }
                continue;
            };
            *next += 1;
            let before = path.last().map_or(&init, |(_, state)| state);
            let after = match self.model.step(before, &self.inputs[q]) {
                Step::Same => before.clone(),
                Step::To(state) => state,
                Step::Impossible => continue,
            };
            placed[q / 64] ^= 1 << (q % 64);
            if !seen.insert((placed.clone(), hash_of(&after))) {
                placed[q / 64] ^= 1 << (q % 64);
                continue;
            }
            path.push((q, after));
            frames.push((candidates(&placed), 0));
        }
        None
    }

    /// Applies a step's result for `op`; returns the move, to undo later.
    fn apply(&mut self, op: usize, step: Step<M::State>) -> Move<M::State> {
        let before = Move { op, state_before: None, hash_before: self.state_hash, event_before: self.event };
        self.flip(op);
        match step {
            Step::To(next) => {
                self.state_hash = hash_of(&next);
                Move { state_before: Some(std::mem::replace(&mut self.state, next)), ..before }
            }
            Step::Same | Step::Impossible => before,
        }
    }

    fn undo(&mut self, undone: Move<M::State>) {
        self.flip(undone.op);
        if let Some(state) = undone.state_before {
            self.state = state;
        }
        self.state_hash = undone.hash_before;
        self.event = undone.event_before;
    }

    /// Moves past calls and returns of linearised operations, and linearises at once every
    /// pending completed operation that leaves the state unchanged. Returns the op whose
    /// return now forces a choice, or `None` at the end of the history.
    fn settle(&mut self) -> Option<usize> {
        loop {
            // Greedy: completed pending operations that change nothing go now.
            let pending = self.called[self.event];
            let same = (self.open_from..pending).find(|&q| {
                !self.unknown[q]
                    && !self.is_linearized(q)
                    && self.model.step(&self.state, &self.inputs[q]) == Step::Same
            });
            if let Some(q) = same {
                let moved = self.apply(q, Step::Same);
                self.forced_moves.last_mut().expect("a frame").push(moved);
                continue;
            }
            let event = self.events.get(self.event)?;
            if event.is_return && !self.is_linearized(event.op) {
                return Some(event.op);
            }
            self.event += 1;
        }
    }

    fn key(&self) -> u64 {
        self.linearized_hash ^ self.state_hash ^ mix64(self.event as u64)
    }

    /// Remembers the configuration that got furthest through the history, for the witness.
    fn record_best(&mut self, forced: usize) {
        if self.best_stuck.is_none() || self.event > self.best_event {
            self.best.clone_from(&self.linearized);
            self.best_event = self.event;
            self.best_stuck = Some(forced);
        }
    }

    /// Enters the configuration we are in: the end (true), a seen one (false: the caller
    /// backtracks), or a new node on the stack.
    fn enter(&mut self, arrived_by: Option<Move<M::State>>) -> Option<bool> {
        self.forced_moves.push(Vec::new());
        let Some(forced) = self.settle() else { return Some(true) };
        let last = self.linearized.len() - 1;
        self.linearized[last] = self.event as u64;
        let key = self.key();
        let new = self.memo.insert(key, &self.linearized, &self.state);
        if !new {
            // Undo the forced moves of this configuration and the move that led here.
            for moved in self.forced_moves.pop().expect("pushed").into_iter().rev() {
                self.undo(moved);
            }
            if let Some(moved) = arrived_by {
                self.undo(moved);
            }
            return Some(false);
        }
        self.record_best(forced);
        let pending = self.called[self.event];
        let mut candidates = vec![forced];
        candidates.extend((self.open_from..pending).filter(|&q| q != forced && !self.is_linearized(q)));
        self.keep_first_of_twins(&mut candidates);
        self.stack.push(Node { event: self.event, forced, candidates, next: 0, arrived_by });
        None
    }

    /// Whether `a` and `b` are the same operation.
    fn twins(&self, a: usize, b: usize) -> bool {
        let (x, y) = (self.ops[a], self.ops[b]);
        self.signature[a] == self.signature[b]
            && x.f == y.f
            && x.key == y.key
            && x.input == y.input
            && x.output == y.output
    }

    /// Keeps, of each set of twins among `candidates`, the one that returns first; the
    /// forced operation (first) returns now, before any other.
    fn keep_first_of_twins(&self, candidates: &mut Vec<usize>) {
        let forced = candidates[0];
        let mut kept: Vec<usize> = Vec::with_capacity(candidates.len());
        for &q in candidates.iter() {
            match kept.iter_mut().find(|k| self.twins(**k, q)) {
                Some(k) if *k != forced && (self.ops[q].ret, q) < (self.ops[*k].ret, *k) => *k = q,
                Some(_) => {}
                None => kept.push(q),
            }
        }
        *candidates = kept;
    }

    /// Runs at most `limit` steps.
    pub(crate) fn run(&mut self, limit: u64) -> Progress {
        if let Some(done) = self.done {
            return done;
        }
        let stop = self.steps + limit;
        if !self.started {
            self.started = true;
            if self.enter(None) == Some(true) {
                self.done = Some(Progress::Linearizable);
                return Progress::Linearizable;
            }
        }
        loop {
            if self.steps >= stop {
                return Progress::Paused;
            }
            self.steps += 1;
            let Some(node) = self.stack.last_mut() else {
                self.done = Some(Progress::NotLinearizable);
                return Progress::NotLinearizable;
            };
            if node.next == node.candidates.len() {
                let node = self.stack.pop().expect("a node");
                for moved in self.forced_moves.pop().expect("a frame per node").into_iter().rev() {
                    self.undo(moved);
                }
                if let Some(moved) = node.arrived_by {
                    self.undo(moved);
                }
                continue;
            }
            let (q, forced, at) = (node.candidates[node.next], node.forced, node.event);
            node.next += 1;
            if self.is_linearized(q) {
                continue;
            }
            let step = self.model.step(&self.state, &self.inputs[q]);
            let useful = match &step {
                Step::Impossible => false,
                Step::Same => !self.unknown[q],
                Step::To(_) => true,
            };
            if !useful {
                continue;
            }
            self.event = at;
            let moved = self.apply(q, step);
            if q == forced {
                self.event = at + 1;
            }
            if self.enter(Some(moved)) == Some(true) {
                self.done = Some(Progress::Linearizable);
                return Progress::Linearizable;
            }
        }
    }
}
