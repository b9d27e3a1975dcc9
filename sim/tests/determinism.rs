//! The double-run check finds the first differing event, and stream isolation: adding an
//! unrelated node changes nothing for the others.

use crate::common;

use std::cell::Cell;
use std::rc::Rc;

use common::*;
use sim::harness::determinism::check_determinism;
use sim::prelude::*;
use sim::TraceEvent;

/// Two nodes bouncing a counter over a lossy, duplicating, jittery link.
fn bouncer() -> Script {
    Script::default()
        .on_start(|ctx| {
            if ctx.id().0 % 2 == 0 {
                ctx.send(NodeId(ctx.id().0 + 1), Num(0));
            }
            ctx.set_timer(ms(50), 0);
        })
        .on_message(|ctx, from, Num(n)| ctx.send(from, Num(n + 1)))
        .on_timer(|ctx, _| {
            // Keep the exchange alive after losses.
            let peer = NodeId(ctx.id().0 ^ 1);
            let n = ctx.rng().below(1_000);
            ctx.send(peer, Num(n));
            ctx.set_timer(ms(50), 0);
        })
}

fn lossy() -> LinkModel {
    LinkModel {
        latency: Distribution::Uniform { min: ms(1), max: ms(20) },
        loss: Probability::new(0.2).unwrap(),
        duplicate: Probability::new(0.1).unwrap(),
        ..LinkModel::default()
    }
}

fn events_at(sim: &mut Sim<Num>, nodes: &[u32]) -> Vec<TraceEvent> {
    events_until(sim, at_ms(5_000))
        .into_iter()
        .filter(|e| e.node.is_some_and(|n| nodes.contains(&n.0)))
        .map(|e| TraceEvent { index: 0, ..e })
        .collect()
}

#[test]
fn an_unrelated_pair_of_nodes_does_not_change_the_others() {
    let mut alone = Sim::new(9, lossy());
    alone.add_node(bouncer().factory());
    alone.add_node(bouncer().factory());
    let mut crowded = Sim::new(9, lossy());
    crowded.add_node(bouncer().factory());
    crowded.add_node(bouncer().factory());
    crowded.add_node(bouncer().factory()); // an unrelated client and its server
    crowded.add_node(bouncer().factory());
    let a = events_at(&mut alone, &[0, 1]);
    let b = events_at(&mut crowded, &[0, 1]);
    assert!(a.len() > 300, "{}", a.len());
    assert_eq!(a, b, "the first pair's events are identical, times and contents");
    assert!(crowded.network_stats().sent > alone.network_stats().sent);
}

#[test]
fn double_run_reports_the_first_divergent_event_in_full() {
    // A node whose behaviour depends on state outside the simulation: a counter shared by
    // every build, so the second run sees different numbers than the first.
    let shared = Rc::new(Cell::new(0u64));
    let build = || {
        let shared = shared.clone();
        let mut sim = Sim::new(1, constant(ms(1)));
        sim.add_node(bouncer().factory());
        sim.add_node(
            Script::default()
                .on_message(move |ctx, from, _| {
                    shared.set(shared.get() + 1);
                    ctx.send(from, Num(shared.get()));
                })
                .factory(),
        );
        sim
    };
    let divergence = check_determinism(build, Limits::duration(ms(100))).expect_err("nondeterministic");
    let (first, first_text) = divergence.first.clone().unwrap();
    let (second, second_text) = divergence.second.clone().unwrap();
    assert_eq!(first.index, divergence.index);
    assert_eq!((first.time, first.node, first.kind), (second.time, second.node, second.kind));
    assert_ne!(first.digest, second.digest);
    assert!(first_text.contains("Deliver n1 -> n0: Num("), "{first_text}");
    assert_ne!(first_text, second_text);
    let report = divergence.to_string();
    assert!(report.contains(&format!("diverge at event #{}", divergence.index)), "{report}");
}

#[test]
fn double_run_agrees_on_a_deterministic_run_with_faults() {
    let build = || {
        let mut sim = Sim::new(5, lossy());
        for _ in 0..4 {
            sim.add_node(bouncer().factory());
        }
        sim.schedule(
            at_ms(100),
            Fault::Partition(Partition::MajorityMinority { among: (0..4).map(NodeId).collect() }),
        );
        sim.schedule(at_ms(200), Fault::Crash(NodeId(1).into()));
        sim.schedule(at_ms(300), Fault::Restart(NodeId(1).into()));
        sim.schedule(at_ms(400), Fault::Heal);
        sim
    };
    let agreement = check_determinism(build, Limits::duration(ms(1_000))).expect("deterministic");
    assert!(agreement.events > 50);
}
