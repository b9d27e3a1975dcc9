//! Linearizability checking: is there an order of a history's operations, consistent with
//! their real-time order, in which a sequential model explains every result?
//!
//! The search is Lowe's just-in-time linearisation with memoisation (`jit`); histories split
//! into independent partitions when the model allows (by key for key-value stores), and the
//! partitions are searched round-robin, smallest first, in slices of a shared budget, so a
//! cheap refutation in one partition is found even when another partition explodes. A
//! budget that runs out gives `Unknown`, never a hang. A failure comes with a witness.

pub mod edn;
pub mod import;
mod jit;
mod memo;
pub mod model;
pub mod op;
mod unobserved;

use std::fmt;
use std::fmt::Write as _;

use jit::Jit;
use memo::Progress;
pub use model::{by_key, KeyValue, ListAppend, Model, Mutex, Register, Step};
pub use op::{CheckOp, Output};

/// Steps each partition runs before the next one gets its turn.
const SLICE: u64 = 20_000;

/// Steps spent ordering a witness's linearized operations (beyond it, they are listed by
/// invocation, without states).
const WITNESS_STEPS: u64 = 200_000;

/// Limits on a check; whichever is reached first ends it with `Unknown`.
#[derive(Default)]
pub struct Budget<'a> {
    /// Search steps over all partitions.
    pub max_steps: Option<u64>,
    /// Memoised states over all partitions (the search's memory).
    pub max_states: Option<usize>,
    /// Asked between slices; `true` stops the search (a wall-clock deadline lives here,
    /// outside the kernel, which has no clock).
    pub should_stop: Option<&'a dyn Fn() -> bool>,
}

/// Why a history is not linearizable, in terms a person can follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The operations of the failing partition linearized on the path that got furthest
    /// through the history: in an order that explains them when one was found (`states`
    /// not empty), else by invocation.
    pub prefix: Vec<CheckOp>,
    /// The model's state after each operation of `prefix`, in that order (empty when no
    /// order was found within its budget).
    pub states: Vec<String>,
    /// The operation whose return could not be linearized there: no order of the pending
    /// operations explains its result.
    pub stuck: CheckOp,
    /// Operations of that partition whose intervals overlap the stuck one.
    pub concurrent: Vec<CheckOp>,
}

impl Witness {
    /// The witness as text, each operation described by `describe` (a run's history names
    /// clients and simulated times; an imported one has only positions).
    pub fn render(&self, describe: &dyn Fn(&CheckOp) -> String) -> String {
        const SHOWN: usize = 8;
        let mut out = String::new();
        let skipped = self.prefix.len().saturating_sub(SHOWN);
        let ordered = self.states.len() == self.prefix.len();
        let _ = writeln!(
            out,
            "{} operations linearize{}{}:",
            self.prefix.len(),
            if ordered { ", in this order" } else { " (by invocation)" },
            if skipped > 0 { format!(", the last {SHOWN} shown") } else { String::new() }
        );
        for (index, op) in self.prefix.iter().enumerate().skip(skipped) {
            let _ = write!(out, "  {}. {}", index + 1, describe(op));
            if ordered {
                let _ = write!(out, "  => state {}", self.states[index]);
            }
            out.push('\n');
        }
        let _ = writeln!(out, "then no order explains: {}", describe(&self.stuck));
        if self.concurrent.is_empty() {
            let _ = writeln!(
                out,
                "no other operation of its partition overlaps it: it must follow all of the above"
            );
        } else {
            let _ = writeln!(out, "overlapping it ({}):", self.concurrent.len());
            for op in &self.concurrent {
                let _ = writeln!(out, "  {}", describe(op));
            }
        }
        out
    }
}

impl fmt::Display for Witness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&|op| op.to_string()))
    }
}

/// A check's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Some order explains every result.
    Linearizable,
    /// No order does.
    NotLinearizable(Box<Witness>),
    /// The budget ran out first.
    Unknown(String),
}

/// What a check found, and what it cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// Search steps taken over all partitions.
    pub steps: u64,
    /// Partitions the history split into.
    pub partitions: usize,
    /// (linearized set, state) pairs remembered at the end: the search's memory.
    pub states: usize,
}

impl Outcome {
    /// The outcome with its witness's operations replaced by those of `ops` with the same
    /// ids (the history as it was, when the check ran on a rewritten copy).
    fn with_ops_of<M: Model>(mut self, ops: &[CheckOp], model: &M) -> Outcome {
        if let Verdict::NotLinearizable(witness) = &mut self.verdict {
            let by_id: std::collections::BTreeMap<usize, &CheckOp> =
                ops.iter().map(|op| (op.id, op)).collect();
            let original = |op: &mut CheckOp| {
                if let Some(found) = by_id.get(&op.id) {
                    *op = (*found).clone();
                }
            };
            witness.prefix.iter_mut().for_each(original);
            witness.concurrent.iter_mut().for_each(original);
            original(&mut witness.stuck);
            // The states again, from the operations as they were.
            if witness.states.len() == witness.prefix.len() {
                let mut state = model.init();
                let mut states = Vec::with_capacity(witness.prefix.len());
                for op in &witness.prefix {
                    let Ok(input) = model.prepare(op) else { break };
                    match model.step(&state, &input) {
                        Step::Same => {}
                        Step::To(next) => state = next,
                        Step::Impossible => break,
                    }
                    states.push(model.show(&state));
                }
                if states.len() == witness.prefix.len() {
                    witness.states = states;
                }
            }
        }
        self
    }
}

/// Checks `ops` against `model` within `budget`. An operation the model does not know is
/// an error, not a refutation.
pub fn check<M: Model>(model: &M, ops: &[CheckOp], budget: &Budget<'_>) -> Result<Outcome, String> {
    let mut inputs: Vec<Option<M::Input>> =
        ops.iter().map(|op| model.prepare(op).map(Some)).collect::<Result<_, _>>()?;
    let mut parts = model.partition(ops);
    parts.sort_by_key(Vec::len);
    let partitions = parts.len();
    let mut searches: Vec<Jit<'_, M>> = parts
        .into_iter()
        .map(|part| {
            let prepared =
                part.iter().map(|&i| inputs[i].take().expect("each operation is in one partition")).collect();
            Jit::new(model, part.into_iter().map(|i| &ops[i]).collect(), prepared)
        })
        .collect();
    let steps = |searches: &[Jit<'_, M>]| searches.iter().map(|s| s.steps).sum::<u64>();
    let remembered = |searches: &[Jit<'_, M>]| searches.iter().map(Jit::memo_len).sum::<usize>();
    let mut active: Vec<usize> = (0..searches.len()).collect();
    loop {
        let mut still = Vec::with_capacity(active.len());
        for &index in &active {
            match searches[index].run(SLICE) {
                Progress::Linearizable => {}
                Progress::Paused => still.push(index),
                Progress::NotLinearizable => {
                    let witness = witness(&searches[index]);
                    return Ok(Outcome {
                        verdict: Verdict::NotLinearizable(Box::new(witness)),
                        steps: steps(&searches),
                        partitions,
                        states: remembered(&searches),
                    });
                }
            }
        }
        active = still;
        if active.is_empty() {
            return Ok(Outcome {
                verdict: Verdict::Linearizable,
                steps: steps(&searches),
                partitions,
                states: remembered(&searches),
            });
        }
        let taken = steps(&searches);
        let states = remembered(&searches);
        let reason = if budget.max_steps.is_some_and(|max| taken >= max) {
            Some(format!("step budget of {taken} search steps spent"))
        } else if budget.max_states.is_some_and(|max| states >= max) {
            Some(format!("memory budget of {states} remembered states spent"))
        } else if budget.should_stop.is_some_and(|stop| stop()) {
            Some(format!("time budget spent after {taken} search steps"))
        } else {
            None
        };
        if let Some(reason) = reason {
            let open = active.len();
            let message = format!("{reason}; {open} of {partitions} partitions undecided, none refuted");
            return Ok(Outcome { verdict: Verdict::Unknown(message), steps: taken, partitions, states });
        }
    }
}

fn witness<M: Model>(search: &Jit<'_, M>) -> Witness {
    let stuck = search.stuck().expect("a refuted partition had a forced operation");
    let stuck_op = search.ops[stuck];
    let concurrent = search
        .ops
        .iter()
        .filter(|op| op.id != stuck_op.id && op.call < stuck_op.ret && stuck_op.call < op.ret)
        .take(12)
        .map(|op| (*op).clone())
        .collect();
    let (prefix, states) = match search.best_order(WITNESS_STEPS) {
        Some(order) => {
            order.into_iter().map(|(i, state)| (search.ops[i].clone(), search.model.show(&state))).unzip()
        }
        None => (search.best_ops().into_iter().map(|i| search.ops[i].clone()).collect(), Vec::new()),
    };
    Witness { prefix, states, stuck: stuck_op.clone(), concurrent }
}

/// The built-in models by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelName {
    /// `read`, `write`.
    Register,
    /// `read`, `write`, `cas`.
    CasRegister,
    /// `get`/`read`, `put`/`write`, `append`, `cas`, `delete`, per key.
    KeyValue,
    /// `acquire`, `release`.
    Mutex,
    /// `append`, `read`, per key.
    ListAppend,
}

impl ModelName {
    /// Every built-in model.
    pub const ALL: [ModelName; 5] = [
        ModelName::Register,
        ModelName::CasRegister,
        ModelName::KeyValue,
        ModelName::Mutex,
        ModelName::ListAppend,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ModelName::Register => "register",
            ModelName::CasRegister => "cas-register",
            ModelName::KeyValue => "kv",
            ModelName::Mutex => "mutex",
            ModelName::ListAppend => "list-append",
        }
    }

    /// The model with this name.
    pub fn parse(name: &str) -> Option<ModelName> {
        ModelName::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Checks `ops` with a built-in model. `init` is the registers' initial value; a nil read
/// matches anything when the origin says so (Knossos). An operation the model does not
/// know is an error, not a refutation.
pub fn check_named(
    model: ModelName,
    init: &crate::kernel::history::Value,
    nil_reads_match_anything: bool,
    ops: &[CheckOp],
    budget: &Budget<'_>,
) -> Result<Outcome, String> {
    let register =
        |cas| Register { init: init.clone(), nil_read_matches_anything: nil_reads_match_anything, cas };
    match model {
        ModelName::Register => check(&register(false), ops, budget),
        ModelName::CasRegister => check(&register(true), ops, budget),
        ModelName::KeyValue => match unobserved::collapse(ops) {
            // The witness shows the operations as the history has them.
            Some(collapsed) => {
                check(&KeyValue, &collapsed, budget).map(|outcome| outcome.with_ops_of(ops, &KeyValue))
            }
            None => check(&KeyValue, ops, budget),
        },
        ModelName::Mutex => check(&Mutex, ops, budget),
        ModelName::ListAppend => check(&ListAppend, ops, budget),
    }
}
