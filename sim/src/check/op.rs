//! The operations a linearizability check works on.
//!
//! Importers turn each origin's history into these, applying that origin's semantics
//! (what `fail` means, whether `nil` reads are wildcards); the search then knows only
//! intervals and outputs.

use std::fmt;

use crate::kernel::history::Value;

/// What an operation returned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Output {
    /// It completed and returned this (nil for a write).
    Value(Value),
    /// It completed and reported that it did not apply: a compare-and-set whose compare
    /// failed. An observation of the state, not an absence (Porcupine's reading of etcd).
    Failed,
    /// Unknown: it may take effect at any point after its invocation, with any result, or
    /// never.
    Unknown,
}

/// One operation with its real-time interval.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckOp {
    /// Position in the history (for reports).
    pub id: usize,
    /// The process that issued it.
    pub process: u64,
    /// When it was invoked (an event index or a time; only the order matters).
    pub call: u64,
    /// When it returned; `u64::MAX` for unknown outcomes.
    pub ret: u64,
    /// `read`, `write`, `cas`, `get`, `put`, `append`, `acquire`, ...
    pub f: String,
    /// The key, for keyed models.
    pub key: Option<Value>,
    /// The argument.
    pub input: Value,
    /// The result.
    pub output: Output,
}

impl CheckOp {
    /// What it did and returned, without who or when: `get key 1 -> 4`.
    pub fn action(&self) -> String {
        let mut out = self.f.clone();
        if let Some(key) = &self.key {
            out += &format!(" key {key}");
        }
        if self.input != Value::Nil {
            out += &format!(" {}", self.input);
        }
        match &self.output {
            Output::Value(Value::Nil) => {}
            Output::Value(value) => out += &format!(" -> {value}"),
            Output::Failed => out += " -> failed",
            Output::Unknown => out += " -> unknown",
        }
        out
    }
}

impl fmt::Display for CheckOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ret = if self.ret == u64::MAX { "open".to_owned() } else { self.ret.to_string() };
        write!(f, "#{} process {} {} [{}, {ret}]", self.id, self.process, self.action(), self.call)
    }
}
