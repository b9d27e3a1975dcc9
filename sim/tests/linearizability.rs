//! The linearizability checker: classic cases by hand, and agreement with a brute-force
//! oracle on thousands of small random histories per model.

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use sim::check::{
    check, check_named, Budget, CheckOp, KeyValue, ListAppend, Model, ModelName, Mutex, Output, Register,
    Step, Verdict,
};
use sim::kernel::history::Value;

const OPEN: u64 = u64::MAX;

fn op(id: usize, call: u64, ret: u64, f: &str, input: Value, output: Output) -> CheckOp {
    CheckOp { id, process: id as u64, call, ret, f: f.into(), key: None, input, output }
}

fn int(i: i64) -> Value {
    Value::Int(i)
}

fn ok(value: Value) -> Output {
    Output::Value(value)
}

fn register(init: Value) -> Register {
    Register { init, nil_read_matches_anything: false, cas: true }
}

fn linearizable<M: Model>(model: &M, ops: &[CheckOp]) -> bool {
    match check(model, ops, &Budget::default()).unwrap().verdict {
        Verdict::Linearizable => true,
        Verdict::NotLinearizable(_) => false,
        Verdict::Unknown(reason) => panic!("no budget, yet unknown: {reason}"),
    }
}

#[test]
fn stale_read_after_a_completed_write() {
    let ops = [op(0, 0, 1, "write", int(1), ok(Value::Nil)), op(1, 2, 3, "read", Value::Nil, ok(int(0)))];
    assert!(!linearizable(&register(int(0)), &ops));
    let concurrent =
        [op(0, 0, 3, "write", int(1), ok(Value::Nil)), op(1, 1, 2, "read", Value::Nil, ok(int(0)))];
    assert!(linearizable(&register(int(0)), &concurrent), "a concurrent read may see the old value");
}

/// The witness numbers the linearized operations in an order that explains them, with the
/// state after each (here the overlapping writes linearize against their invocation order),
/// and says so when nothing overlaps the operation no order explains instead of printing
/// an empty list.
#[test]
fn a_witness_is_ordered_with_states_and_never_lists_nothing() {
    let ops = [
        op(0, 0, 5, "write", int(2), ok(Value::Nil)),
        op(1, 1, 3, "write", int(1), ok(Value::Nil)),
        op(2, 4, 6, "read", Value::Nil, ok(int(2))),
        op(3, 7, 8, "read", Value::Nil, ok(int(1))),
    ];
    let Verdict::NotLinearizable(witness) =
        check(&register(int(0)), &ops, &Budget::default()).unwrap().verdict
    else {
        panic!("a read of 1 after a read of 2 is not linearizable")
    };
    let order: Vec<usize> = witness.prefix.iter().map(|op| op.id).collect();
    assert_eq!(order, vec![1, 0, 2], "write 1, then write 2, then the read of 2");
    assert_eq!(witness.states, vec!["1", "2", "2"]);
    assert_eq!(witness.stuck.id, 3);
    assert!(witness.concurrent.is_empty());
    let text = witness.to_string();
    assert!(text.contains("1. #1 process 1 write 1 [1, 3]  => state 1"), "{text}");
    assert!(text.contains("no other operation of its partition overlaps it"), "{text}");
    assert!(!text.contains(":\n\n") && !text.trim_end().ends_with(':'), "{text}");
}

#[test]
fn lost_update() {
    let cas = |id, call, ret| op(id, call, ret, "cas", Value::List(vec![int(0), int(1)]), ok(Value::Nil));
    assert!(
        !linearizable(&register(int(0)), &[cas(0, 0, 10), cas(1, 1, 11)]),
        "both cas from 0 cannot succeed"
    );
}

#[test]
fn read_of_a_value_never_written() {
    let ops = [op(0, 0, 1, "write", int(1), ok(Value::Nil)), op(1, 2, 3, "read", Value::Nil, ok(int(5)))];
    assert!(!linearizable(&register(int(0)), &ops));
}

#[test]
fn concurrent_writes_in_either_order() {
    for seen in [1, 2] {
        let ops = [
            op(0, 0, 10, "write", int(1), ok(Value::Nil)),
            op(1, 1, 11, "write", int(2), ok(Value::Nil)),
            op(2, 12, 13, "read", Value::Nil, ok(int(seen))),
        ];
        assert!(linearizable(&register(int(0)), &ops), "reads {seen}");
    }
}

#[test]
fn unknown_writes_that_must_may_and_must_not_have_happened() {
    let unknown_write = op(0, 0, OPEN, "write", int(1), Output::Unknown);
    let read = |id, call, value| op(id, call, call + 1, "read", Value::Nil, ok(int(value)));
    let model = register(int(0));
    assert!(linearizable(&model, &[unknown_write.clone(), read(1, 5, 1)]), "must have taken effect");
    assert!(linearizable(&model, &[unknown_write.clone(), read(1, 5, 0)]), "may never take effect");
    assert!(
        linearizable(&model, &[unknown_write.clone(), read(1, 5, 0), read(2, 7, 1)]),
        "may take effect late"
    );
    assert!(
        !linearizable(&model, &[unknown_write, read(1, 5, 1), read(2, 7, 0)]),
        "cannot take effect twice"
    );
}

#[test]
fn failed_cas_is_an_observation() {
    let failed = |expected| op(0, 0, 1, "cas", Value::List(vec![int(expected), int(9)]), Output::Failed);
    assert!(linearizable(&register(int(0)), &[failed(1)]), "the value was not 1");
    assert!(!linearizable(&register(int(0)), &[failed(0)]), "the value was 0, so the compare cannot fail");
}

#[test]
fn nil_reads_are_wildcards_only_when_the_origin_says_so() {
    let ops = [op(0, 0, 1, "write", int(3), ok(Value::Nil)), op(1, 2, 3, "read", Value::Nil, ok(Value::Nil))];
    assert!(!linearizable(&register(int(0)), &ops));
    assert!(linearizable(&Register { init: int(0), nil_read_matches_anything: true, cas: true }, &ops));
}

#[test]
fn mutex_and_list_append() {
    let acquire = |id, call, ret| op(id, call, ret, "acquire", Value::Nil, ok(Value::Nil));
    assert!(!linearizable(&Mutex, &[acquire(0, 0, 1), acquire(1, 2, 3)]));
    let release = op(2, 4, 5, "release", Value::Nil, ok(Value::Nil));
    assert!(
        linearizable(&Mutex, &[acquire(0, 0, 1), acquire(1, 2, 7), release]),
        "the second waits for the release"
    );
    let append = |id, call, v| op(id, call, call + 1, "append", int(v), ok(Value::Nil));
    let read = |id, call, seen: Vec<i64>| {
        op(id, call, call + 1, "read", Value::Nil, ok(Value::List(seen.into_iter().map(int).collect())))
    };
    assert!(linearizable(&ListAppend, &[append(0, 0, 1), append(1, 2, 2), read(2, 4, vec![1, 2])]));
    assert!(!linearizable(&ListAppend, &[append(0, 0, 1), append(1, 2, 2), read(2, 4, vec![2, 1])]));
}

#[test]
fn keys_are_independent_and_one_bad_key_refutes() {
    let keyed = |mut op: CheckOp, key: &str| {
        op.key = Some(Value::Str(key.into()));
        op
    };
    let good = [
        keyed(op(0, 0, 1, "put", Value::Str("x".into()), ok(Value::Nil)), "a"),
        keyed(op(1, 2, 3, "get", Value::Nil, ok(Value::Str("x".into()))), "a"),
    ];
    assert!(linearizable(&KeyValue, &good));
    let mut bad = good.to_vec();
    bad.push(keyed(op(2, 4, 5, "get", Value::Nil, ok(Value::Str("x".into()))), "b"));
    let outcome = check(&KeyValue, &bad, &Budget::default()).unwrap();
    assert_eq!(outcome.partitions, 2);
    let Verdict::NotLinearizable(witness) = outcome.verdict else { panic!("{outcome:?}") };
    assert_eq!(witness.stuck.id, 2, "{witness}");
    assert!(
        linearizable(&KeyValue, &[keyed(op(0, 0, 1, "get", Value::Nil, ok(Value::Str(String::new()))), "c")]),
        "absent reads as empty"
    );
}

#[test]
fn budget_gives_unknown_and_a_cheap_refutation_still_wins() {
    // Many concurrent writes and reads of one key: expensive. Plus one key refuted at once.
    let mut ops: Vec<CheckOp> = (0..40)
        .map(|i| {
            let mut op = op(
                i,
                i as u64,
                1_000 + i as u64,
                if i % 2 == 0 { "put" } else { "get" },
                int(i as i64),
                Output::Unknown,
            );
            op.key = Some(Value::Str("hot".into()));
            op
        })
        .collect();
    let budget = Budget { max_steps: Some(50_000), ..Budget::default() };
    assert!(matches!(
        check(&KeyValue, &ops, &budget).unwrap().verdict,
        Verdict::Linearizable | Verdict::Unknown(_)
    ));
    let mut refuted = op(99, 0, 1, "get", Value::Nil, ok(Value::Str("never written".into())));
    refuted.key = Some(Value::Str("cold".into()));
    ops.push(refuted);
    let outcome = check(&KeyValue, &ops, &budget).unwrap();
    assert!(matches!(outcome.verdict, Verdict::NotLinearizable(_)), "{outcome:?}");
    let stopped = Budget { should_stop: Some(&|| true), max_steps: None, max_states: None };
    let hard: Vec<CheckOp> = (0..18)
        .map(|i| op(i, i as u64, 1_000, "write", int(i as i64), ok(Value::Nil)))
        .chain((18..24).map(|i| op(i, i as u64, 1_000, "read", Value::Nil, ok(int(99)))))
        .collect();
    assert!(matches!(check(&register(int(0)), &hard, &stopped).unwrap().verdict, Verdict::Unknown(_)));
}

/// Tries every order consistent with real time; unknown operations may also be skipped.
/// The state is a map from key to the model's state, so the checker's split by key is
/// checked too, not assumed.
fn oracle<M: Model>(model: &M, ops: &[CheckOp]) -> bool {
    type States<S> = std::collections::BTreeMap<Option<Value>, S>;
    fn go<M: Model>(
        model: &M,
        ops: &[CheckOp],
        inputs: &[M::Input],
        placed: &mut Vec<bool>,
        states: &States<M::State>,
    ) -> bool {
        if placed.iter().all(|p| *p) {
            return true;
        }
        for i in 0..ops.len() {
            if placed[i] {
                continue;
            }
            // Every operation that returned before this one was called must come first.
            if (0..ops.len()).any(|j| !placed[j] && j != i && ops[j].ret < ops[i].call) {
                continue;
            }
            placed[i] = true;
            let state = states.get(&ops[i].key).cloned().unwrap_or_else(|| model.init());
            let after = match model.step(&state, &inputs[i]) {
                Step::Same => Some(states.clone()),
                Step::To(next) => {
                    let mut after = states.clone();
                    after.insert(ops[i].key.clone(), next);
                    Some(after)
                }
                Step::Impossible => None,
            };
            if after.is_some_and(|after| go(model, ops, inputs, placed, &after)) {
                return true;
            }
            if ops[i].output == Output::Unknown && go(model, ops, inputs, placed, states) {
                return true;
            }
            placed[i] = false;
        }
        false
    }
    let inputs: Vec<M::Input> = ops.iter().map(|op| model.prepare(op).unwrap()).collect();
    go(model, ops, &inputs, &mut vec![false; ops.len()], &States::new())
}

/// Random small histories: intervals over a short time line, some open (unknown), and
/// random inputs and outputs from small domains, so both verdicts are common.
fn history(
    fs: &'static [&'static str],
    keys: usize,
    values: Vec<Value>,
) -> impl Strategy<Value = Vec<CheckOp>> {
    let values = std::sync::Arc::new(values);
    let one = (0..fs.len(), 0..keys, 0u64..12, 1u64..6, any::<bool>(), 0usize..64, 0usize..64, 0u8..10);
    prop::collection::vec(one, 1..7).prop_map(move |raw| {
        raw.into_iter()
            .enumerate()
            .map(|(id, (f, key, call, length, _, input, output, outcome))| {
                let pick = |i: usize| values[i % values.len()].clone();
                let f = fs[f];
                let input = match f {
                    "cas" => Value::List(vec![pick(input), pick(input / 3)]),
                    "read" | "get" | "acquire" | "release" => Value::Nil,
                    _ => pick(input),
                };
                let (ret, output) = match outcome {
                    0 | 1 => (OPEN, Output::Unknown),
                    2 if f == "cas" => (call + length, Output::Failed),
                    _ => (
                        call + length,
                        Output::Value(if matches!(f, "read" | "get") { pick(output) } else { Value::Nil }),
                    ),
                };
                // Distinct times, as in a real history: calls and returns never tie.
                let (call, ret) =
                    (call * 100 + id as u64, if ret == OPEN { OPEN } else { ret * 100 + 50 + id as u64 });
                let key = (keys > 1).then(|| Value::Str(format!("k{key}")));
                CheckOp { id, process: id as u64, call, ret, f: f.into(), key, input, output }
            })
            .collect::<Vec<_>>()
    })
}

fn list_history() -> impl Strategy<Value = Vec<CheckOp>> {
    let lists = vec![
        Value::List(vec![]),
        Value::List(vec![Value::Int(1)]),
        Value::List(vec![Value::Int(2)]),
        Value::List(vec![Value::Int(1), Value::Int(2)]),
        Value::List(vec![Value::Int(2), Value::Int(1)]),
    ];
    history(&["append", "read"], 2, vec![Value::Int(1), Value::Int(2)]).prop_flat_map(move |ops| {
        let lists = lists.clone();
        prop::collection::vec(0..lists.len(), ops.len()).prop_map(move |picks| {
            let mut ops = ops.clone();
            for (op, pick) in ops.iter_mut().zip(picks) {
                if op.f == "read" && matches!(op.output, Output::Value(_)) {
                    op.output = Output::Value(lists[pick].clone());
                }
            }
            ops
        })
    })
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: 3_000, rng_seed: RngSeed::Fixed(4), ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn register_agrees_with_the_oracle(ops in history(&["read", "write"], 1, vec![Value::Nil, Value::Int(1), Value::Int(2)])) {
        let model = Register { init: Value::Nil, nil_read_matches_anything: false, cas: false };
        prop_assert_eq!(linearizable(&model, &ops), oracle(&model, &ops), "{:#?}", ops);
    }

    #[test]
    fn cas_register_agrees_with_the_oracle(ops in history(&["read", "write", "cas"], 1, vec![Value::Int(0), Value::Int(1), Value::Int(2)])) {
        for wildcard in [false, true] {
            let model = Register { init: Value::Int(0), nil_read_matches_anything: wildcard, cas: true };
            prop_assert_eq!(linearizable(&model, &ops), oracle(&model, &ops), "{:#?}", ops);
        }
    }

    #[test]
    fn key_value_agrees_with_the_oracle(ops in history(&["get", "put", "append"], 2, vec![Value::Str("x".into()), Value::Str("xx".into()), Value::Str(String::new())])) {
        prop_assert_eq!(linearizable(&KeyValue, &ops), oracle(&KeyValue, &ops), "{:#?}", ops);
    }

    /// `check_named` rewrites writes nobody observes to one stand-in value before a kv
    /// check; the verdict must stay the oracle's.
    #[test]
    fn key_value_with_unobserved_writes_collapsed_agrees_with_the_oracle(ops in history(&["get", "put", "cas", "append", "delete"], 2, vec![Value::Int(1), Value::Int(2), Value::Int(3), Value::Str("1x".into()), Value::Nil])) {
        let outcome = check_named(ModelName::KeyValue, &Value::Nil, false, &ops, &Budget::default()).unwrap();
        let expected = oracle(&KeyValue, &ops);
        prop_assert_eq!(matches!(outcome.verdict, Verdict::Linearizable), expected, "{:#?}", ops);
        if let Verdict::NotLinearizable(witness) = &outcome.verdict {
            // The witness shows the history's own operations, not the rewritten ones.
            prop_assert!(ops.contains(&witness.stuck));
        }
    }

    #[test]
    fn mutex_agrees_with_the_oracle(ops in history(&["acquire", "release"], 1, vec![Value::Nil])) {
        prop_assert_eq!(linearizable(&Mutex, &ops), oracle(&Mutex, &ops), "{:#?}", ops);
    }

    #[test]
    fn list_append_agrees_with_the_oracle(ops in list_history()) {
        prop_assert_eq!(linearizable(&ListAppend, &ops), oracle(&ListAppend, &ops), "{:#?}", ops);
    }
}

/// The random histories are not all one verdict (or the agreement above would be cheap).
#[test]
fn generated_histories_have_both_verdicts() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::new(config());
    let strategies: Vec<(&str, BoxedStrategy<Vec<CheckOp>>)> = vec![
        ("register", history(&["read", "write"], 1, vec![Value::Nil, Value::Int(1), Value::Int(2)]).boxed()),
        (
            "kv",
            history(
                &["get", "put", "append"],
                2,
                vec![Value::Str("x".into()), Value::Str("xx".into()), Value::Str(String::new())],
            )
            .boxed(),
        ),
        ("list", list_history().boxed()),
    ];
    for (name, strategy) in strategies {
        let model_says = |ops: &[CheckOp]| match name {
            "register" => linearizable(&register(Value::Nil), ops),
            "kv" => linearizable(&KeyValue, ops),
            _ => linearizable(&ListAppend, ops),
        };
        let yes =
            (0..1_000).filter(|_| model_says(&strategy.new_tree(&mut runner).unwrap().current())).count();
        assert!((100..900).contains(&yes), "{name}: {yes} of 1000 linearizable");
    }
}
