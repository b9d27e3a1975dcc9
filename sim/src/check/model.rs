//! Sequential specifications: what a correct single copy of the object would do.
//!
//! A model first prepares each operation into its own compact input (operation names
//! resolved, expected results precomputed, an operation it does not know refused), once per
//! check; the search then steps states with prepared inputs only, millions of times. An
//! operation whose outcome is unknown matches any result. Models may split a history into
//! independent sub-histories (P-compositionality, Herlihy and Wing §3.3), which are checked
//! apart: a key-value store is linearizable iff each key is.

use std::fmt::Debug;
use std::hash::Hash;

use super::op::{CheckOp, Output};
use crate::kernel::history::Value;

/// What one operation does to a state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step<S> {
    /// It can happen here and leaves the state as it is (a read, a failed compare).
    Same,
    /// It can happen here and leads to this state.
    To(S),
    /// It cannot happen here with the result it had.
    Impossible,
}

/// A sequential specification.
pub trait Model {
    /// The object's state; cheap to clone, hash and compare (the search memoises on it).
    type State: Clone + Eq + Hash + Debug;
    /// An operation prepared for this model.
    type Input: Debug;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Prepares an operation; an error names what this model cannot take.
    fn prepare(&self, op: &CheckOp) -> Result<Self::Input, String>;

    /// What `input` does in `state`.
    fn step(&self, state: &Self::State, input: &Self::Input) -> Step<Self::State>;

    /// A state as a person reads it (a witness shows the state after each step).
    fn show(&self, state: &Self::State) -> String {
        format!("{state:?}")
    }

    /// Independent sub-histories, as indices into `ops`. Default: one.
    fn partition(&self, ops: &[CheckOp]) -> Vec<Vec<usize>> {
        vec![(0..ops.len()).collect()]
    }
}

/// Splits by key: operations on different keys never interact (for a keyed model's
/// [`Model::partition`]).
pub fn by_key(ops: &[CheckOp]) -> Vec<Vec<usize>> {
    let mut keys: std::collections::BTreeMap<Option<&Value>, Vec<usize>> = Default::default();
    for (index, op) in ops.iter().enumerate() {
        keys.entry(op.key.as_ref()).or_default().push(index);
    }
    keys.into_values().collect()
}

fn unknown_operation(op: &CheckOp, model: &str, known: &str) -> String {
    format!("operation {op} is not one the {model} model knows ({known})")
}

/// How a compare-and-set ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CasOutcome {
    /// It set the new value.
    Succeeded,
    /// Its compare failed: the value was not the expected one.
    Failed,
    /// Unknown.
    Unknown,
}

/// A register operation, prepared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterInput {
    /// A read that must see this value (`None`: any value).
    Read(Option<Value>),
    /// A write.
    Write(Value),
    /// A compare-and-set.
    Cas {
        /// The value it compares with.
        expected: Value,
        /// The value it sets.
        new: Value,
        /// How it ended.
        outcome: CasOutcome,
    },
}

fn cas_input(op: &CheckOp) -> Option<RegisterInput> {
    let Value::List(pair) = &op.input else { return None };
    let [expected, new] = pair.as_slice() else { return None };
    let outcome = match op.output {
        Output::Value(_) => CasOutcome::Succeeded,
        Output::Failed => CasOutcome::Failed,
        Output::Unknown => CasOutcome::Unknown,
    };
    Some(RegisterInput::Cas { expected: expected.clone(), new: new.clone(), outcome })
}

fn cas_step(state: &Value, expected: &Value, new: &Value, outcome: CasOutcome) -> Step<Value> {
    match (outcome, expected == state) {
        (CasOutcome::Succeeded | CasOutcome::Unknown, true) => Step::To(new.clone()),
        (CasOutcome::Succeeded, false) => Step::Impossible,
        (CasOutcome::Failed, true) => Step::Impossible,
        (CasOutcome::Failed | CasOutcome::Unknown, false) => Step::Same,
    }
}

/// A register: `read` returns the last value written; `write` sets it; `cas` with
/// `[expected new]` sets `new` if the value is `expected` (a failed `cas` observed that it
/// was not). Covers `register` and `cas-register`.
#[derive(Clone, Debug)]
pub struct Register {
    /// The initial value (`Value::Nil`: never written).
    pub init: Value,
    /// A read that returns nil is legal in any state (Knossos's reading).
    pub nil_read_matches_anything: bool,
    /// Whether `cas` is an operation of this register.
    pub cas: bool,
}

impl Model for Register {
    type State = Value;
    type Input = RegisterInput;

    fn show(&self, state: &Value) -> String {
        state.to_string()
    }

    fn init(&self) -> Value {
        self.init.clone()
    }

    fn prepare(&self, op: &CheckOp) -> Result<RegisterInput, String> {
        let known = if self.cas { "read, write, cas" } else { "read, write" };
        match op.f.as_str() {
            "read" => Ok(RegisterInput::Read(match &op.output {
                Output::Value(Value::Nil) if self.nil_read_matches_anything => None,
                Output::Value(value) => Some(value.clone()),
                Output::Failed | Output::Unknown => None,
            })),
            "write" => Ok(RegisterInput::Write(op.input.clone())),
            "cas" if self.cas => {
                cas_input(op).ok_or_else(|| format!("operation {op}: cas takes [expected new]"))
            }
            _ => Err(unknown_operation(op, if self.cas { "cas-register" } else { "register" }, known)),
        }
    }

    fn step(&self, state: &Value, input: &RegisterInput) -> Step<Value> {
        match input {
            RegisterInput::Read(None) => Step::Same,
            RegisterInput::Read(Some(value)) if value == state => Step::Same,
            RegisterInput::Read(Some(_)) => Step::Impossible,
            RegisterInput::Write(value) => Step::To(value.clone()),
            RegisterInput::Cas { expected, new, outcome } => cas_step(state, expected, new, *outcome),
        }
    }
}

/// A key-value operation, prepared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyValueInput {
    /// A get that must see this value (`None`: any); an absent key reads as nil or "".
    Get(Option<Value>),
    /// A put.
    Put(Value),
    /// An append of a string.
    Append(Value),
    /// A delete.
    Delete,
    /// A compare-and-set, as for registers.
    Cas(RegisterInput),
}

/// A key-value map, checked key by key: `get` returns the value (an absent key reads as
/// nil or as the empty string), `put` replaces it, `append` concatenates strings (an
/// integer is taken as its decimal text, as Redis's APPEND does),
/// `delete` removes it, `cas` with `[expected new]` as in `Register`.
#[derive(Clone, Debug, Default)]
pub struct KeyValue;

impl Model for KeyValue {
    type State = Value;
    type Input = KeyValueInput;

    fn show(&self, state: &Value) -> String {
        state.to_string()
    }

    fn init(&self) -> Value {
        Value::Nil
    }

    fn prepare(&self, op: &CheckOp) -> Result<KeyValueInput, String> {
        match op.f.as_str() {
            "get" | "read" => Ok(KeyValueInput::Get(match &op.output {
                Output::Value(value) => Some(value.clone()),
                Output::Failed | Output::Unknown => None,
            })),
            "put" | "write" => Ok(KeyValueInput::Put(op.input.clone())),
            "append" => Ok(KeyValueInput::Append(op.input.clone())),
            "delete" => Ok(KeyValueInput::Delete),
            "cas" => cas_input(op)
                .map(KeyValueInput::Cas)
                .ok_or_else(|| format!("operation {op}: cas takes [expected new]")),
            _ => Err(unknown_operation(op, "kv", "get, read, put, write, append, cas, delete")),
        }
    }

    fn step(&self, state: &Value, input: &KeyValueInput) -> Step<Value> {
        match input {
            KeyValueInput::Get(None) => Step::Same,
            KeyValueInput::Get(Some(value)) => {
                let absent = *state == Value::Nil && matches!(value, Value::Str(s) if s.is_empty());
                if value == state || absent {
                    Step::Same
                } else {
                    Step::Impossible
                }
            }
            KeyValueInput::Put(value) => Step::To(value.clone()),
            KeyValueInput::Append(more) => match (state, more) {
                (Value::Nil, more) => Step::To(more.clone()),
                (Value::Str(old), Value::Str(more)) => Step::To(Value::Str(format!("{old}{more}"))),
                (Value::Int(old), Value::Str(more)) => Step::To(Value::Str(format!("{old}{more}"))),
                _ => Step::Impossible,
            },
            KeyValueInput::Delete => Step::To(Value::Nil),
            KeyValueInput::Cas(RegisterInput::Cas { expected, new, outcome }) => {
                cas_step(state, expected, new, *outcome)
            }
            KeyValueInput::Cas(_) => unreachable!("prepared as a cas"),
        }
    }

    fn partition(&self, ops: &[CheckOp]) -> Vec<Vec<usize>> {
        by_key(ops)
    }
}

/// A mutex operation, prepared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutexInput {
    /// Take the lock.
    Acquire,
    /// Give it back.
    Release,
}

/// A lock: `acquire` succeeds when it is free, `release` when it is held.
#[derive(Clone, Debug, Default)]
pub struct Mutex;

impl Model for Mutex {
    type State = bool;
    type Input = MutexInput;

    fn show(&self, held: &bool) -> String {
        if *held { "held" } else { "free" }.to_owned()
    }

    fn init(&self) -> bool {
        false
    }

    fn prepare(&self, op: &CheckOp) -> Result<MutexInput, String> {
        match op.f.as_str() {
            "acquire" => Ok(MutexInput::Acquire),
            "release" => Ok(MutexInput::Release),
            _ => Err(unknown_operation(op, "mutex", "acquire, release")),
        }
    }

    fn step(&self, held: &bool, input: &MutexInput) -> Step<bool> {
        match (input, *held) {
            (MutexInput::Acquire, false) => Step::To(true),
            (MutexInput::Release, true) => Step::To(false),
            _ => Step::Impossible,
        }
    }
}

/// A list-append operation, prepared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListInput {
    /// Append a value.
    Append(Value),
    /// A read that must see this list (`None`: any; a result that is no list: impossible).
    Read(Option<Option<Vec<Value>>>),
}

/// Lists per key: `append` adds its value at the end, `read` returns the whole list.
#[derive(Clone, Debug, Default)]
pub struct ListAppend;

impl Model for ListAppend {
    type State = Vec<Value>;
    type Input = ListInput;

    fn show(&self, list: &Vec<Value>) -> String {
        Value::List(list.clone()).to_string()
    }

    fn init(&self) -> Vec<Value> {
        Vec::new()
    }

    fn prepare(&self, op: &CheckOp) -> Result<ListInput, String> {
        match op.f.as_str() {
            "append" => Ok(ListInput::Append(op.input.clone())),
            "read" => Ok(ListInput::Read(match &op.output {
                Output::Value(Value::List(seen)) => Some(Some(seen.clone())),
                Output::Value(Value::Nil) => Some(Some(Vec::new())),
                Output::Value(_) => Some(None),
                Output::Failed | Output::Unknown => None,
            })),
            _ => Err(unknown_operation(op, "list-append", "append, read")),
        }
    }

    fn step(&self, list: &Vec<Value>, input: &ListInput) -> Step<Vec<Value>> {
        match input {
            ListInput::Append(value) => {
                let mut next = list.clone();
                next.push(value.clone());
                Step::To(next)
            }
            ListInput::Read(None) => Step::Same,
            ListInput::Read(Some(Some(seen))) if seen == list => Step::Same,
            ListInput::Read(Some(_)) => Step::Impossible,
        }
    }

    fn partition(&self, ops: &[CheckOp]) -> Vec<Vec<usize>> {
        by_key(ops)
    }
}
