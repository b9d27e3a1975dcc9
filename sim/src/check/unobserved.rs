//! Writes nobody observes, collapsed into one stand-in value before a key-value check.
//!
//! Many concurrent writes to one key that all complete together (a leader cut off by a
//! partition commits its queue at the heal) make the search try their orders: the memo
//! tells states apart by the set of operations placed and the value, and each of those
//! writes leaves a different value. But a value that no read returns, no compare-and-set
//! expects (a failed compare observes a value too) and no read string begins with (an
//! append extends the value it finds) cannot be told apart from another such value by
//! anything later in the history. Replacing every unobserved written value by one fresh
//! stand-in therefore keeps the verdict (a linearization of either history is one of the
//! other, operation for operation; a property test checks it against a brute-force oracle)
//! and merges the states that differed only in which unobserved value was last written; the
//! collapsed writes are then twins, which the search tries one at a time (`jit.rs`). On the
//! flagship's seed 647 the two rules took the search from 12.8 million steps to 256 thousand.
//!
//! The stand-in contains a control character no generated value has; if any value in the
//! history contains it, nothing is collapsed.

use std::collections::{BTreeMap, BTreeSet};

use super::{CheckOp, Output};
use crate::kernel::history::Value;

/// What a collapsed write writes instead of its value.
const STAND_IN: &str = "\u{1}a value nothing reads";

fn mentions_stand_in(value: &Value) -> bool {
    match value {
        Value::Str(s) => s.contains('\u{1}'),
        Value::List(items) => items.iter().any(mentions_stand_in),
        Value::Nil | Value::Int(_) => false,
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::Int(i) => Some(i.to_string()),
        Value::Str(s) => Some(s.clone()),
        Value::Nil | Value::List(_) => None,
    }
}

/// The value an operation writes, if it writes one: a put's input or a cas's new value.
fn written(op: &CheckOp) -> Option<&Value> {
    match op.f.as_str() {
        "put" | "write" => Some(&op.input),
        "cas" if op.output != Output::Failed => match &op.input {
            Value::List(pair) if pair.len() == 2 => Some(&pair[1]),
            _ => None,
        },
        _ => None,
    }
}

/// `ops` with every unobserved written value replaced by the stand-in; `None` when there is
/// nothing to replace (or the stand-in would not be fresh).
pub fn collapse(ops: &[CheckOp]) -> Option<Vec<CheckOp>> {
    let values = ops.iter().flat_map(|op| {
        let output = match &op.output {
            Output::Value(value) => Some(value),
            Output::Failed | Output::Unknown => None,
        };
        [Some(&op.input), output, op.key.as_ref()].into_iter().flatten()
    });
    if values.into_iter().any(mentions_stand_in) {
        return None;
    }
    // Per key: the values reads returned and the values compares expected.
    let mut reads: BTreeMap<Option<&Value>, Vec<&Value>> = BTreeMap::new();
    let mut expected: BTreeMap<Option<&Value>, BTreeSet<&Value>> = BTreeMap::new();
    for op in ops {
        match (op.f.as_str(), &op.output, &op.input) {
            ("get" | "read", Output::Value(value), _) => {
                reads.entry(op.key.as_ref()).or_default().push(value)
            }
            // A failed compare observed that the value was not the expected one: that, too,
            // tells the expected value apart from the others.
            ("cas", _, Value::List(pair)) if pair.len() == 2 => {
                expected.entry(op.key.as_ref()).or_default().insert(&pair[0]);
            }
            _ => {}
        }
    }
    let observed =
        |key: Option<&Value>, value: &Value| {
            let Some(written) = text(value).filter(|t| !t.is_empty()) else { return true };
            if expected.get(&key).is_some_and(|e| e.contains(value)) {
                return true;
            }
            reads.get(&key).into_iter().flatten().any(|read| {
                *read == value || matches!(read, Value::Str(s) if s.starts_with(written.as_str()))
            })
        };
    let mut collapsed = ops.to_vec();
    let mut any = false;
    for op in &mut collapsed {
        let Some(value) = written(op) else { continue };
        if observed(op.key.as_ref(), value) {
            continue;
        }
        any = true;
        let stand_in = Value::Str(STAND_IN.to_owned());
        match op.f.as_str() {
            "cas" => {
                if let Value::List(pair) = &mut op.input {
                    pair[1] = stand_in;
                }
            }
            _ => op.input = stand_in,
        }
    }
    any.then_some(collapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: usize, f: &str, input: Value, output: Output) -> CheckOp {
        CheckOp {
            id,
            process: id as u64,
            call: id as u64 * 10,
            ret: id as u64 * 10 + 5,
            f: f.into(),
            key: None,
            input,
            output,
        }
    }

    #[test]
    fn only_unread_values_are_replaced() {
        let ops = vec![
            op(0, "put", Value::Int(1), Output::Value(Value::Nil)),
            op(1, "put", Value::Int(2), Output::Value(Value::Nil)),
            op(2, "put", Value::Int(3), Output::Value(Value::Nil)),
            op(3, "cas", Value::List(vec![Value::Int(3), Value::Int(4)]), Output::Value(Value::Nil)),
            op(4, "append", Value::Str("x,".into()), Output::Value(Value::Nil)),
            op(5, "get", Value::Nil, Output::Value(Value::Str("4x,".into()))),
            op(6, "put", Value::Int(7), Output::Value(Value::Nil)),
            op(7, "get", Value::Nil, Output::Value(Value::Int(2))),
        ];
        let collapsed = collapse(&ops).unwrap();
        let inputs: Vec<String> = collapsed.iter().map(|o| o.input.to_string()).collect();
        // 1 and 7 are never seen; 2 is read, 3 is expected by the cas, 4 begins a read string.
        assert!(inputs[0].contains("nothing reads") && inputs[6].contains("nothing reads"), "{inputs:?}");
        assert_eq!(&inputs[1..4], &["2", "3", "[3 4]"]);
    }

    #[test]
    fn nothing_to_collapse_or_a_stand_in_in_the_history_leaves_it_alone() {
        let read = op(1, "get", Value::Nil, Output::Value(Value::Int(1)));
        assert!(collapse(&[op(0, "put", Value::Int(1), Output::Value(Value::Nil)), read.clone()]).is_none());
        let odd = op(0, "put", Value::Str("\u{1}".into()), Output::Value(Value::Nil));
        assert!(collapse(&[odd, op(2, "put", Value::Int(5), Output::Value(Value::Nil)), read]).is_none());
    }
}
