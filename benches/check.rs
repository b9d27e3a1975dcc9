//! Linearizability checker throughput and memory on generated histories.
//!
//! Run: `cargo bench --bench check`. Each case runs in a child process of this benchmark so
//! that its peak memory (VmHWM from /proc/self/status) is its own. Histories are generated
//! from a real execution: every operation takes effect at a random point inside its
//! interval, outputs follow from that order, so every history is linearizable and a sound
//! checker must say so (or run out of budget).
//!
//! Benchmarks measure wall-clock time, which the kernel never may; this file is outside
//! `sim` and `protocols`.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use sim::check::{check, Budget, CheckOp, KeyValue, Output, Register, Verdict};
use sim::kernel::history::Value;
use sim::Seed;

/// `ops` operations by `processes` sequential processes over `keys` keys. Each operation
/// lasts `1..=span` ticks after a gap of `0..gap`; its effect happens at a random tick inside.
fn history(seed: u64, ops: usize, processes: usize, keys: u64, span: u64, gap: u64) -> Vec<CheckOp> {
    let mut rng = Seed(seed).stream("check-bench", 0);
    let mut clock = vec![0u64; processes];
    // (effect time, tiebreak, op index) for each operation.
    let mut drafts = Vec::with_capacity(ops);
    for id in 0..ops {
        let process = rng.below(processes as u64) as usize;
        let call = clock[process] + rng.below(gap.max(1));
        let ret = call + 1 + rng.below(span);
        clock[process] = ret + 1;
        let effect = call + rng.between(0, ret - call);
        let key = rng.below(keys);
        let write = rng.below(2) == 0;
        drafts.push((effect, id, process, call, ret, key, write));
    }
    let mut order: Vec<usize> = (0..ops).collect();
    order.sort_by_key(|&i| (drafts[i].0, drafts[i].1));
    let mut values = std::collections::BTreeMap::new();
    let mut result = vec![Value::Nil; ops];
    for &i in &order {
        let (_, id, _, _, _, key, write) = drafts[i];
        if write {
            values.insert(key, id as i64);
        } else {
            result[i] = values.get(&key).map_or(Value::Nil, |v| Value::Int(*v));
        }
    }
    // Real time: calls and returns at distinct instants (ticks * ops + id).
    drafts
        .iter()
        .enumerate()
        .map(|(i, &(_, id, process, call, ret, key, write))| CheckOp {
            id,
            process: process as u64,
            call: call * ops as u64 + id as u64,
            ret: ret * ops as u64 + id as u64,
            f: if write { "put" } else { "get" }.into(),
            key: Some(Value::Int(key as i64)),
            input: if write { Value::Int(id as i64) } else { Value::Nil },
            output: Output::Value(if write { Value::Nil } else { result[i].clone() }),
        })
        .collect()
}

struct Case {
    name: &'static str,
    ops: usize,
    processes: usize,
    keys: u64,
    span: u64,
    gap: u64,
}

const CASES: &[Case] = &[
    Case {
        name: "kv 1k ops, 100 keys, 10 processes",
        ops: 1_000,
        processes: 10,
        keys: 100,
        span: 20,
        gap: 10,
    },
    Case {
        name: "kv 10k ops, 1k keys, 50 processes",
        ops: 10_000,
        processes: 50,
        keys: 1_000,
        span: 20,
        gap: 10,
    },
    Case {
        name: "kv 100k ops, 10k keys, 100 processes",
        ops: 100_000,
        processes: 100,
        keys: 10_000,
        span: 20,
        gap: 10,
    },
    Case {
        name: "kv 1.85k ops, 10 keys, 50 processes (shaped like c50)",
        ops: 1_850,
        processes: 50,
        keys: 10,
        span: 40,
        gap: 5,
    },
    Case { name: "register 200 ops, 1 key, 5 processes", ops: 200, processes: 5, keys: 1, span: 40, gap: 5 },
    Case {
        name: "register 200 ops, 1 key, 10 processes",
        ops: 200,
        processes: 10,
        keys: 1,
        span: 40,
        gap: 5,
    },
    Case {
        name: "register 400 ops, 1 key, 20 processes",
        ops: 400,
        processes: 20,
        keys: 1,
        span: 40,
        gap: 5,
    },
    Case {
        name: "register 1k ops, 1 key, 50 processes",
        ops: 1_000,
        processes: 50,
        keys: 1,
        span: 40,
        gap: 5,
    },
];

const TIME_BUDGET: Duration = Duration::from_secs(10);
const STATE_BUDGET: usize = 5_000_000;

fn peak_memory_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    kb / 1024.0
}

fn run_case(case: &Case) {
    let ops = history(7, case.ops, case.processes, case.keys, case.span, case.gap);
    let started = Instant::now();
    let stop = || started.elapsed() >= TIME_BUDGET;
    let budget = Budget { max_steps: None, max_states: Some(STATE_BUDGET), should_stop: Some(&stop) };
    let outcome = if case.keys == 1 {
        // One key: the register model, without the kv split.
        let ops: Vec<CheckOp> = ops
            .into_iter()
            .map(|op| CheckOp {
                key: None,
                f: if op.f == "put" { "write".into() } else { "read".into() },
                ..op
            })
            .collect();
        check(&Register { init: Value::Nil, nil_read_matches_anything: false, cas: false }, &ops, &budget)
    } else {
        check(&KeyValue, &ops, &budget)
    }
    .expect("generated operations are the model's");
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let verdict = match &outcome.verdict {
        Verdict::Linearizable => "linearizable".to_owned(),
        Verdict::NotLinearizable(_) => {
            "NOT LINEARIZABLE (checker bug: the history is linearizable)".to_owned()
        }
        Verdict::Unknown(reason) => format!("unknown: {reason}"),
    };
    println!(
        "| {} | {:.1} | {} | {} | {:.0} | {verdict} |",
        case.name,
        ms,
        outcome.steps,
        outcome.states,
        peak_memory_mb()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(index) = args.iter().position(|a| a == "--case") {
        let case = &CASES[args[index + 1].parse::<usize>().expect("a case number")];
        return run_case(case);
    }
    println!("| history | check ms | search steps | states remembered | peak memory MB | verdict |");
    println!("|---|---:|---:|---:|---:|---|");
    let me = std::env::current_exe().expect("the benchmark binary");
    for index in 0..CASES.len() {
        let output =
            std::process::Command::new(&me).args(["--case", &index.to_string()]).output().expect("runs");
        print!("{}", String::from_utf8_lossy(&output.stdout));
    }
}
