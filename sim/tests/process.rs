//! Process faults: crash, restart, pause/resume, and timers across them.

use crate::common;

use std::cell::Cell;
use std::rc::Rc;

use common::*;
use sim::prelude::*;
use sim::{EventKind, FaultOutcome, Status};

#[test]
fn crash_drops_timers_and_messages_in_flight_restart_runs_a_fresh_value() {
    let mut sim = Sim::new(1, constant(ms(10)));
    // Node 0 sends to node 1 at 0 ms (arrives 10 ms) and at 30 ms (arrives 40 ms).
    sim.add_node(
        Script::default()
            .on_start(|ctx| {
                ctx.send(NodeId(1), Num(1));
                ctx.set_timer(ms(30), 0);
            })
            .on_timer(|ctx, _| ctx.send(NodeId(1), Num(2)))
            .factory(),
    );
    // Node 1 sets a 20 ms timer at every start.
    let starts = Rc::new(Cell::new(0));
    let counter = starts.clone();
    sim.add_node(
        Script::default()
            .on_start(move |ctx| {
                counter.set(counter.get() + 1);
                ctx.set_timer(ms(20), 0);
            })
            .factory(),
    );
    sim.schedule(at_ms(5), Fault::Crash(NodeId(1).into()));
    sim.schedule(at_ms(12), Fault::Restart(NodeId(1).into()));
    let events = events_until(&mut sim, at_ms(100));
    // The message in flight at the crash is dropped on arrival; the one sent later arrives.
    assert_eq!(of_kind(&events, EventKind::DropCrashed), vec![(10, 1, Some(0))]);
    assert_eq!(of_kind(&events, EventKind::Deliver), vec![(40, 1, Some(0))]);
    // The first incarnation's timer (due at 20 ms) never fires; the second's fires at 32 ms.
    let node1_timers: Vec<_> = of_kind(&events, EventKind::Timer).into_iter().filter(|t| t.1 == 1).collect();
    assert_eq!(node1_timers, vec![(32, 1, None)]);
    assert_eq!(starts.get(), 2, "a fresh value started twice");
}

#[test]
fn volatile_state_is_lost_on_crash() {
    let mut sim = Sim::new(1, constant(ms(1)));
    struct Counter(u64);
    impl Node for Counter {
        type Msg = Num;
        fn on_start(&mut self, ctx: &mut Ctx<'_, Num>) {
            ctx.sample("value at start", self.0);
            ctx.set_timer(ms(1), 0);
        }
        fn on_message(&mut self, _: &mut Ctx<'_, Num>, _: NodeId, _: Num) {}
        fn on_timer(&mut self, ctx: &mut Ctx<'_, Num>, _: u64) {
            self.0 += 1;
            ctx.set_timer(ms(1), 0);
        }
    }
    sim.add_node(|| Counter(0));
    sim.schedule(at_ms(50), Fault::Crash(NodeId(0).into()));
    sim.schedule(at_ms(60), Fault::Restart(NodeId(0).into()));
    sim.run_until(at_ms(100));
    assert_eq!(sim.observations().samples["value at start"], vec![0, 0]);
}

#[test]
fn paused_node_handles_its_queue_on_resume() {
    let mut sim = Sim::new(1, constant(ms(1)));
    sim.add_node(sender(NodeId(1), ms(10), ms(10), at_ms(50)).factory());
    sim.add_node(
        Script::default()
            .on_start(|ctx| {
                ctx.set_timer(ms(35), 0);
            })
            .factory(),
    );
    sim.schedule(at_ms(15), Fault::Pause(NodeId(1).into()));
    sim.schedule(at_ms(100), Fault::Resume(NodeId(1).into()));
    let events = events_until(&mut sim, at_ms(200));
    let at_node1 =
        |kind| of_kind(&events, kind).into_iter().filter(|e| e.1 == 1).map(|e| e.0).collect::<Vec<_>>();
    // Sent at 10..=50 ms, arriving 1 ms later. The one at 11 ms arrives before the pause;
    // the rest and the 35 ms timer wait and run at 100 ms, in arrival order.
    assert_eq!(at_node1(EventKind::Deliver), vec![11, 100, 100, 100, 100]);
    assert_eq!(at_node1(EventKind::Timer), vec![100]);
    let order: Vec<_> =
        events.iter().filter(|e| e.time == at_ms(100) && e.node == Some(NodeId(1))).map(|e| e.kind).collect();
    use EventKind::{Deliver, Fault as F, Timer};
    assert_eq!(
        order,
        vec![F, Deliver, Deliver, Timer, Deliver, Deliver],
        "arrival order: 21, 31, timer 35, 41, 51"
    );
}

#[test]
fn crash_while_paused_drops_the_queue() {
    let mut sim = Sim::new(1, constant(ms(1)));
    sim.add_node(Script::default().on_start(|ctx| ctx.send(NodeId(1), Num(0))).factory());
    sim.add_node(counting_receiver().factory());
    sim.run_until(Time::ZERO);
    assert_eq!(sim.apply(Fault::Pause(NodeId(1).into())), FaultOutcome::Applied);
    sim.run_until(at_ms(5));
    sim.apply(Fault::Crash(NodeId(1).into()));
    sim.apply(Fault::Restart(NodeId(1).into()));
    sim.run_until(at_ms(10));
    assert!(!sim.observations().counters.contains_key("received"));
    assert_eq!(sim.network_stats().dropped_crashed, 1);
}

#[test]
fn faults_on_nodes_in_the_wrong_state_are_skipped_and_logged() {
    let mut sim = Sim::new(1, constant(ms(1)));
    sim.add_node(Script::default().factory());
    sim.run_until(at_ms(1));
    assert!(matches!(sim.apply(Fault::Restart(NodeId(0).into())), FaultOutcome::Skipped(_)));
    assert!(matches!(sim.apply(Fault::Resume(NodeId(0).into())), FaultOutcome::Skipped(_)));
    assert_eq!(sim.apply(Fault::Crash(NodeId(0).into())), FaultOutcome::Applied);
    assert!(matches!(sim.apply(Fault::Crash(NodeId(0).into())), FaultOutcome::Skipped(_)));
    assert!(matches!(sim.apply(Fault::Pause(NodeId(0).into())), FaultOutcome::Skipped(_)));
    assert_eq!(sim.status(NodeId(0)), Status::Down);
    assert_eq!(sim.fault_log().len(), 5);
}

#[test]
fn restart_before_the_first_start_boots_once() {
    let mut sim = Sim::new(1, constant(ms(1)));
    sim.add_node(Script::default().on_start(|ctx| ctx.count("starts", 1)).factory());
    assert_eq!(sim.apply(Fault::Restart(NodeId(0).into())), FaultOutcome::Applied);
    sim.run_until(at_ms(1));
    assert_eq!(sim.observations().counters["starts"], 1);
}

#[test]
fn cancelled_timers_do_not_fire_and_stale_ids_are_harmless() {
    let mut sim = Sim::new(1, constant(ms(1)));
    let fired = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let ids = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let (fired_in, ids_at_start, ids_at_timer) = (fired.clone(), ids.clone(), ids.clone());
    sim.add_node(
        Script::default()
            .on_start(move |ctx| {
                let first = ctx.set_timer(ms(10), 1);
                let second = ctx.set_timer(ms(20), 2);
                ctx.cancel_timer(first);
                ctx.cancel_timer(first);
                ids_at_start.borrow_mut().extend([first, second]);
            })
            .on_timer(move |ctx, tag| {
                fired_in.borrow_mut().push(tag);
                if tag == 2 {
                    let second = ids_at_timer.borrow()[1];
                    ctx.cancel_timer(second); // already fired: nothing happens
                    let next = ctx.set_timer(ms(5), 3);
                    ids_at_timer.borrow_mut().push(next);
                }
            })
            .factory(),
    );
    let events = events_until(&mut sim, at_ms(26));
    assert_eq!(of_kind(&events, EventKind::Timer), vec![(20, 0, None), (25, 0, None)]);
    assert_eq!(*fired.borrow(), vec![2, 3], "each fired timer hands back its own payload");
    let ids = ids.borrow();
    assert!(ids[2] != ids[0] && ids[2] != ids[1], "a reused slot gets a new id");
}

#[test]
fn step_api_and_limits() {
    let mut sim = Sim::new(1, constant(ms(1)));
    let echo = Script::default()
        .on_start(|ctx| {
            if ctx.id() == NodeId(0) {
                ctx.send(NodeId(1), Num(0));
            }
        })
        .on_message(|ctx, from, Num(n)| {
            if n < 9 {
                ctx.send(from, Num(n + 1));
            }
        });
    sim.add_node(echo.factory());
    sim.add_node(echo.factory());
    let first = sim.step().unwrap();
    assert_eq!((first.index, first.kind, first.node), (0, EventKind::Start, Some(NodeId(0))));
    assert_eq!(sim.run(Limits { until: Time::MAX, max_events: 5 }), StopReason::EventLimit);
    assert_eq!(sim.events(), 5);
    assert_eq!(sim.run(Limits { until: at_ms(3), max_events: u64::MAX }), StopReason::TimeLimit);
    assert_eq!(sim.now(), at_ms(3));
    assert_eq!(sim.run(Limits::duration(ms(1_000))), StopReason::Quiescent);
    assert_eq!(sim.network_stats().delivered, 10);
    assert_eq!(sim.now(), at_ms(10), "quiescent: the clock stays at the last event");
}

/// A node that asks two fault points at every tick and counts what fired.
fn pointed() -> Script {
    Script::default()
        .on_start(|ctx| {
            ctx.set_timer(ms(1), 0);
        })
        .on_timer(|ctx, _| {
            if ctx.buggify("test.a") {
                ctx.count("a fired", 1);
            }
            if ctx.buggify("test.b") {
                ctx.count("b fired", 1);
            }
            ctx.set_timer(ms(1), 0);
        })
}

fn run_points(seed: u64, config: Option<sim::BuggifyConfig>) -> Sim<Num> {
    let mut sim = Sim::new(seed, constant(ms(1)));
    sim.add_node(pointed().factory());
    sim.set_buggify(config);
    sim.run_until(at_ms(1_000));
    sim
}

#[test]
fn fault_points_are_off_unless_turned_on_and_then_drawn_per_seed() {
    let off = run_points(1, None);
    assert!(off.observations().counters.is_empty(), "no [buggify]: no point fires");
    assert_eq!(off.buggify_points().count(), 0, "and nothing is drawn");
    let on = |points: f64, only: Option<&[&str]>| sim::BuggifyConfig {
        points: Probability::new(points).unwrap(),
        fire: Probability::new(0.25).unwrap(),
        only: only.map(|names| names.iter().map(|n| (*n).to_owned()).collect()),
    };
    // Every point active: each fires at about a quarter of its 1,000 calls.
    let all = run_points(1, Some(on(1.0, None)));
    for (name, stat) in all.buggify_points() {
        assert!(stat.active && stat.evaluated == 1_000, "{name}: {stat:?}");
        assert!((180..=320).contains(&stat.fired), "{name}: {stat:?}");
    }
    // A point's firing does not depend on the other point being active.
    let only_a = run_points(1, Some(on(1.0, Some(&["test.a"]))));
    assert_eq!(only_a.observations().counters.get("a fired"), all.observations().counters.get("a fired"));
    assert_eq!(only_a.observations().counters.get("b fired"), None);
    // Per seed, a point is active or not as a whole: over seeds about a quarter are.
    let active: usize = (0..200)
        .map(|seed| run_points(seed, Some(on(0.25, None))).buggify_points().filter(|(_, s)| s.active).count())
        .sum();
    assert!((60..=140).contains(&active), "{active} of 400 point-runs active");
    assert_eq!(
        run_points(9, Some(on(0.25, None))).trace_hash(),
        run_points(9, Some(on(0.25, None))).trace_hash()
    );
}

#[test]
fn a_node_restarts_into_the_version_a_version_fault_names() {
    let started = |tag: &'static str| Script::default().on_start(move |ctx| ctx.count(tag, 1));
    let mut sim = Sim::new(1, constant(ms(1)));
    let node = sim.add_node(started("v0 starts").factory());
    let v1 = started("v1 starts").factory();
    assert_eq!(sim.add_version(node, move || Box::new(v1())), 1);
    let set = |version: u32| Fault::Version { node: node.into(), version, name: format!("v{version}") };
    sim.schedule(at_ms(10), set(1));
    sim.schedule(at_ms(20), Fault::Crash(node.into()));
    sim.schedule(at_ms(30), Fault::Restart(node.into()));
    sim.schedule(at_ms(40), set(7));
    sim.schedule(at_ms(50), set(0));
    sim.schedule(at_ms(60), Fault::Crash(node.into()));
    sim.schedule(at_ms(70), Fault::Restart(node.into()));
    sim.run_until(at_ms(15));
    assert_eq!(sim.version(node), 1, "set now, run from the next start");
    sim.run_until(at_ms(100));
    let counters = &sim.observations().counters;
    assert_eq!((counters["v0 starts"], counters["v1 starts"]), (2, 1), "v0, then v1, then v0 again");
    let outcomes: Vec<String> = sim.fault_log().iter().map(|r| r.outcome.to_string()).collect();
    assert_eq!(outcomes[3], "skipped: n0 has no version v7");
}
