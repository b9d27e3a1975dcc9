//! Client histories: what clients asked for and what they were told.
//!
//! A history is the sequence of operation events a linearizability checker consumes. Each
//! operation is an `Invoke` followed by one completion: `Ok` (it happened, with this result),
//! `Fail` (it definitely did not happen) or `Info` (unknown: it may have happened at any time
//! after its invocation, or never). An invocation without a completion is treated as `Info`.
//! The kernel stamps each event with the simulated time and the node that recorded it.

use std::fmt;

use super::ids::NodeId;
use super::time::Time;

/// A value in an operation: keys, arguments and results.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// No value (a read not yet answered, a missing key).
    Nil,
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A list (a compare-and-set's `[old, new]`, a list-append read).
    List(Vec<Value>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => write!(f, "nil"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    write!(f, "{}{item}", if i == 0 { "" } else { " " })?;
                }
                write!(f, "]")
            }
        }
    }
}

/// How an operation event stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// The client issued the operation.
    Invoke,
    /// It took effect; `value` is its result.
    Ok,
    /// It definitely did not take effect.
    Fail,
    /// Its outcome is unknown.
    Info,
}

/// An operation: a function name, an optional key and a value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Op {
    /// What was asked: `read`, `write`, `cas`, `append`, `provide`, ...
    pub f: String,
    /// The key, for keyed models (`kv`); `None` for a single register.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// The argument on invoke, the result on completion.
    pub value: Value,
}

/// One event of a history.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct HistoryEvent {
    /// Simulated (true) time when it was recorded.
    pub time: Time,
    /// The node that recorded it (the client).
    pub node: NodeId,
    /// The logical process issuing operations one at a time (Jepsen's `:process`).
    pub process: u64,
    /// Invoke or a completion.
    #[serde(rename = "type")]
    pub kind: OpKind,
    /// The operation.
    #[serde(flatten)]
    pub op: Op,
    /// On a completion: the server that served it, when the client knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<NodeId>,
}
