//! The workload driver through the engine: closed and open loop, histories, latency measured
//! from the intended start.

use crate::common;

use std::collections::BTreeMap;

use common::*;
use sim::kernel::history::OpKind;
use sim::kernel::workload::{Arg, Keys, Mode, WorkloadConfig};
use sim::prelude::*;

/// Node 0 answers every request; node 1 is a client that forwards each operation to it and
/// completes it on the answer (the operation id travels in the message).
fn echo_pair(seed: u64, latency: std::time::Duration) -> Sim<Num> {
    let mut sim = Sim::new(seed, constant(latency));
    sim.add_node(Script::default().on_message(|ctx, from, msg| ctx.send(from, msg)).factory());
    sim.add_node(
        Script::default()
            .on_invoke(|ctx, op| ctx.send(NodeId(0), Num(op.id)))
            .on_message(|ctx, from, Num(id)| ctx.complete(id, Outcome::Ok(Value::Int(id as i64)), Some(from)))
            .factory(),
    );
    sim
}

fn config(mode: Mode) -> WorkloadConfig {
    WorkloadConfig {
        clients: vec![NodeId(1)],
        mode,
        mix: vec![("read".into(), 1.0), ("write".into(), 1.0)],
        args: BTreeMap::from([("write".to_owned(), Arg::Unique)]),
        keys: Keys::Uniform { count: 3 },
        start: at_ms(0),
        stop: at_ms(1_000),
        limit: None,
    }
}

#[test]
fn closed_loop_keeps_workers_busy_and_records_the_history() {
    let mut sim = echo_pair(1, ms(5));
    sim.set_workload(config(Mode::Closed { workers: 2 }));
    sim.run_until(at_ms(2_000));
    let ops = sim.operations();
    // Two workers, 10 ms round trips, for 1 s: 100 each.
    assert_eq!(ops.len(), 200);
    assert!(ops.iter().all(|op| op.latency_nanos() == Some(10_000_000) && op.served_by == Some(NodeId(0))));
    let history = &sim.observations().history;
    assert_eq!(history.len(), 400);
    for process in [0, 1] {
        let kinds: Vec<OpKind> = history.iter().filter(|e| e.process == process).map(|e| e.kind).collect();
        assert!(
            kinds.chunks(2).all(|pair| pair == [OpKind::Invoke, OpKind::Ok]),
            "process {process} is sequential"
        );
    }
    let write = history.iter().find(|e| e.op.f == "write" && e.kind == OpKind::Invoke).unwrap();
    assert!(matches!(write.op.value, Value::Int(_)));
    let read = history.iter().find(|e| e.op.f == "read" && e.kind == OpKind::Invoke).unwrap();
    assert_eq!(read.op.value, Value::Nil);
}

#[test]
fn open_loop_rate_and_coordinated_omission() {
    let run = |pause: bool| {
        let mut sim = echo_pair(3, ms(1));
        sim.set_workload(WorkloadConfig { stop: at_ms(10_000), ..config(Mode::Open { per_second: 200.0 }) });
        if pause {
            sim.schedule(at_ms(5_000), Fault::Pause(NodeId(1).into()));
            sim.schedule(at_ms(5_500), Fault::Resume(NodeId(1).into()));
        }
        sim.run_until(at_ms(11_000));
        sim.operations().to_vec()
    };
    let calm = run(false);
    // Poisson(2,000): sd 45.
    assert!((1_800..2_200).contains(&calm.len()), "{}", calm.len());
    assert!(calm.iter().all(|op| op.latency_nanos() == Some(2_000_000)));
    let paused = run(true);
    assert_eq!(paused.len(), calm.len(), "arrivals do not depend on the system");
    let slow: Vec<u64> =
        paused.iter().filter_map(|op| op.latency_nanos()).filter(|l| *l > 2_000_000).collect();
    // About 100 operations arrive during the 500 ms pause; each waits until the resume.
    assert!((70..130).contains(&slow.len()), "{}", slow.len());
    assert!(slow.iter().any(|l| *l > 400_000_000), "latency counts from the arrival, not the late start");
}

#[test]
fn unfinished_operations_stay_open_and_info_retires_the_process() {
    let mut sim = Sim::new(1, constant(ms(1)));
    sim.add_node(
        Script::default()
            .on_invoke(|ctx, op| {
                if op.id % 2 == 0 {
                    ctx.complete(op.id, Outcome::Info, None);
                }
            })
            .factory(),
    );
    sim.set_workload(WorkloadConfig {
        clients: vec![NodeId(0)],
        limit: Some(5),
        ..config(Mode::Closed { workers: 1 })
    });
    sim.run_until(at_ms(10));
    let history = &sim.observations().history;
    let summary: Vec<(u64, OpKind)> = history.iter().map(|e| (e.process, e.kind)).collect();
    // op 0 info (process 0), op 1 never completes (process 1, the worker's new process).
    assert_eq!(summary, vec![(0, OpKind::Invoke), (0, OpKind::Info), (1, OpKind::Invoke)]);
}

#[test]
fn a_crashed_client_s_running_operations_end_as_info_and_new_ones_wait_for_its_restart() {
    // 5 ms each way: an operation invoked at t completes at t + 10 ms. The client crashes at
    // 23 ms with the operation invoked at 20 ms running, and restarts at 50 ms.
    let mut sim = echo_pair(1, ms(5));
    sim.set_workload(config(Mode::Closed { workers: 1 }));
    sim.schedule(at_ms(23), Fault::Crash(NodeId(1).into()));
    sim.schedule(at_ms(50), Fault::Restart(NodeId(1).into()));
    sim.run_until(at_ms(61));
    let ends: Vec<(u64, OpKind)> = sim
        .observations()
        .history
        .iter()
        .filter(|e| e.kind != OpKind::Invoke)
        .map(|e| (e.time.as_nanos() / 1_000_000, e.kind))
        .collect();
    // Ok at 10 and 20; the third ends as info at the crash. The worker's next operation,
    // issued at 23 ms, waits for the client's restart: invoked at 50 ms, ok at 60 ms.
    assert_eq!(ends, vec![(10, OpKind::Ok), (20, OpKind::Ok), (23, OpKind::Info), (60, OpKind::Ok)]);
    let waited = &sim.operations()[3];
    assert_eq!(waited.invoked, Some(at_ms(50)));
    assert_eq!(sim.network_stats().dropped_crashed, 1, "the reply to the crashed client's operation");
}
