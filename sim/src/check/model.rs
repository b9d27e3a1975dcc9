//! Sequential specifications: what a correct single copy of the object would do.
//!
//! A model steps a state by one operation and says whether the operation's output is what
//! the object would have returned; an operation with unknown output matches any output.
//! Models may split a history into independent sub-histories (P-compositionality, Herlihy
//! and Wing §3.3), which are checked apart: a key-value store is linearizable iff each key is.

use std::fmt::Debug;
use std::hash::Hash;

use super::op::{CheckOp, Output};
use crate::history::Value;

/// A sequential specification.
pub trait Model {
    /// The object's state; cheap to clone, hash and compare (the search memoises on it).
    type State: Clone + Eq + Hash + Debug;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// The state after `op`, or `None` if `op` with its output cannot happen in `state`.
    fn step(&self, state: &Self::State, op: &CheckOp) -> Option<Self::State>;

    /// Independent sub-histories, as indices into `ops`. Default: one.
    fn partition(&self, ops: &[CheckOp]) -> Vec<Vec<usize>> {
        vec![(0..ops.len()).collect()]
    }
}

/// Splits by key: operations on different keys never interact.
fn by_key(ops: &[CheckOp]) -> Vec<Vec<usize>> {
    let mut keys: std::collections::BTreeMap<Option<&Value>, Vec<usize>> = Default::default();
    for (index, op) in ops.iter().enumerate() {
        keys.entry(op.key.as_ref()).or_default().push(index);
    }
    keys.into_values().collect()
}

/// The output a read must match, if known.
fn read_result(op: &CheckOp) -> Option<&Value> {
    match &op.output {
        Output::Value(value) => Some(value),
        Output::Failed | Output::Unknown => None,
    }
}

/// A register: `read` returns the last value written; `write` sets it; with `cas`,
/// `[expected new]` sets `new` if the value is `expected`. Covers `register` and
/// `cas-register`.
#[derive(Clone, Debug)]
pub struct Register {
    /// The initial value (`Value::Nil`: never written).
    pub init: Value,
    /// A read that returns nil is legal in any state (Knossos's reading).
    pub nil_read_matches_anything: bool,
}

impl Model for Register {
    type State = Value;

    fn init(&self) -> Value {
        self.init.clone()
    }

    fn step(&self, state: &Value, op: &CheckOp) -> Option<Value> {
        match op.f.as_str() {
            "read" => match read_result(op) {
                None => Some(state.clone()),
                Some(Value::Nil) if self.nil_read_matches_anything => Some(state.clone()),
                Some(value) => (value == state).then(|| state.clone()),
            },
            "write" => match op.output {
                Output::Failed => Some(state.clone()),
                _ => Some(op.input.clone()),
            },
            "cas" => {
                let Value::List(pair) = &op.input else { return None };
                let [expected, new] = pair.as_slice() else { return None };
                let matches = expected == state;
                match op.output {
                    Output::Value(_) => matches.then(|| new.clone()),
                    Output::Failed => (!matches).then(|| state.clone()),
                    Output::Unknown => Some(if matches { new.clone() } else { state.clone() }),
                }
            }
            _ => None,
        }
    }
}

/// A key-value map, checked key by key: `get` returns the value (an absent key reads as
/// nil or as the empty string), `put` replaces it, `append` concatenates strings,
/// `delete` removes it, `cas` with `[expected new]` as in `Register`.
#[derive(Clone, Debug, Default)]
pub struct KeyValue;

impl Model for KeyValue {
    type State = Value;

    fn init(&self) -> Value {
        Value::Nil
    }

    fn step(&self, state: &Value, op: &CheckOp) -> Option<Value> {
        let absent_read =
            |value: &Value| *state == Value::Nil && matches!(value, Value::Str(s) if s.is_empty());
        match op.f.as_str() {
            "get" | "read" => match read_result(op) {
                None => Some(state.clone()),
                Some(value) => (value == state || absent_read(value)).then(|| state.clone()),
            },
            "put" | "write" => Some(op.input.clone()),
            "append" => match (state, &op.input) {
                (Value::Nil, input) => Some(input.clone()),
                (Value::Str(old), Value::Str(more)) => Some(Value::Str(format!("{old}{more}"))),
                _ => None,
            },
            "delete" => Some(Value::Nil),
            "cas" => Register { init: Value::Nil, nil_read_matches_anything: false }.step(state, op),
            _ => None,
        }
    }

    fn partition(&self, ops: &[CheckOp]) -> Vec<Vec<usize>> {
        by_key(ops)
    }
}

/// A lock: `acquire` succeeds when it is free, `release` when it is held.
#[derive(Clone, Debug, Default)]
pub struct Mutex;

impl Model for Mutex {
    type State = bool;

    fn init(&self) -> bool {
        false
    }

    fn step(&self, held: &bool, op: &CheckOp) -> Option<bool> {
        match (op.f.as_str(), *held) {
            ("acquire", false) => Some(true),
            ("release", true) => Some(false),
            _ => None,
        }
    }
}

/// Lists per key: `append` adds its value at the end, `read` returns the whole list.
#[derive(Clone, Debug, Default)]
pub struct ListAppend;

impl Model for ListAppend {
    type State = Vec<Value>;

    fn init(&self) -> Vec<Value> {
        Vec::new()
    }

    fn step(&self, list: &Vec<Value>, op: &CheckOp) -> Option<Vec<Value>> {
        match op.f.as_str() {
            "append" => {
                let mut next = list.clone();
                next.push(op.input.clone());
                Some(next)
            }
            "read" => match read_result(op) {
                None => Some(list.clone()),
                Some(Value::List(seen)) => (seen == list).then(|| list.clone()),
                Some(Value::Nil) => list.is_empty().then(|| list.clone()),
                Some(_) => None,
            },
            _ => None,
        }
    }

    fn partition(&self, ops: &[CheckOp]) -> Vec<Vec<usize>> {
        by_key(ops)
    }
}
