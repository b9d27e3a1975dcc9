//! Disks and clocks seen from a node: what survives a crash, fsync latency, damage budget,
//! full disks, clock offsets, drift and steps.

use crate::common;

use common::*;
use sim::prelude::*;
use sim::{DiskConfig, DiskError, EventKind, FaultOutcome};

/// A node that appends a record per timer tick (fsyncing every other one) and reports the
/// log length it finds at every start.
fn logger() -> Script {
    Script::default()
        .on_start(|ctx| {
            let len = ctx.disk().len("log").unwrap_or(0);
            ctx.sample("recovered", len);
            ctx.set_timer(ms(10), 0);
        })
        .on_timer(|ctx, _| {
            let offset = ctx.disk().append("log", b"record").unwrap();
            if offset / 6 % 2 == 1 {
                ctx.disk().fsync("log").unwrap();
            }
            ctx.set_timer(ms(10), 0);
        })
}

#[test]
fn unsynced_writes_vanish_on_crash_synced_ones_survive() {
    let mut sim = Sim::new(1, constant(ms(1)));
    let node = sim.add_node(logger().factory());
    // Ticks at 10, 20, 30, 40, 50 ms: records 1..5; records 2 and 4 are followed by fsync.
    sim.schedule(at_ms(55), Fault::Crash(node.into()));
    sim.schedule(at_ms(60), Fault::Restart(node.into()));
    sim.run_until(at_ms(61));
    // Record 5 was written but not synced.
    assert_eq!(sim.observations().samples["recovered"], vec![0, 24]);
    assert_eq!(sim.disk(node).read_all("log").unwrap().len(), 24);
}

#[test]
fn fsync_latency_delays_what_follows_and_keeps_the_node_busy() {
    let mut sim = Sim::new(1, constant(ms(1)));
    sim.add_node(
        Script::default()
            .on_start(|ctx| {
                ctx.disk().append("wal", b"entry").unwrap();
                ctx.disk().fsync("wal").unwrap();
                ctx.send(NodeId(1), Num(1)); // leaves after the fsync: at 20 ms
            })
            .factory(),
    );
    sim.add_node(Script::default().on_start(|ctx| ctx.send(NodeId(0), Num(2))).factory());
    sim.set_disk_config(NodeId(0), DiskConfig { fsync_latency: ms(20), ..DiskConfig::default() });
    let events = events_until(&mut sim, at_ms(100));
    // Node 1's message arrives at 1 ms but node 0 is in its fsync until 20 ms.
    assert_eq!(of_kind(&events, EventKind::Deliver), vec![(20, 0, Some(1)), (21, 1, Some(0))]);
}

#[test]
fn a_wiped_node_restarts_with_its_identity_and_an_empty_disk() {
    let mut sim = Sim::new(1, constant(ms(1)));
    let node = sim.add_node(logger().factory());
    let other = sim.add_node(logger().factory());
    sim.set_damage_budget(Some(1));
    // Records 2 and 4 are synced by 55 ms; the wipe takes them too.
    sim.schedule(at_ms(55), Fault::Crash(node.into()));
    sim.schedule(at_ms(57), Fault::Wipe(node.into()));
    sim.schedule(at_ms(60), Fault::Restart(node.into()));
    sim.run_until(at_ms(61));
    assert_eq!(sim.observations().samples["recovered"], vec![0, 0, 0], "two first starts and the restart");
    assert_eq!(sim.disk(node).stats().wipes, 1);
    assert!(
        matches!(sim.apply(Fault::Wipe(other.into())), FaultOutcome::Skipped(r) if r.contains("not down"))
    );
    sim.apply(Fault::Crash(other.into()));
    let outcome = sim.apply(Fault::Wipe(other.into()));
    assert!(matches!(outcome, FaultOutcome::Skipped(r) if r.contains("budget")), "a wipe is damage");
    assert!(sim.disk(other).exists("log"), "its synced records survive");
}

#[test]
fn torn_writes_and_corruption_respect_the_damage_budget() {
    let mut sim = Sim::new(1, constant(ms(1)));
    let writer = Script::default().on_start(|ctx| {
        ctx.disk().write("data", 0, &[7u8; 4096]).unwrap();
        ctx.disk().fsync("data").unwrap();
    });
    let a = sim.add_node(writer.factory());
    let b = sim.add_node(writer.factory());
    sim.set_damage_budget(Some(1));
    sim.run_until(at_ms(1));
    let corrupt =
        |node: NodeId| Fault::Corrupt { node: node.into(), file: "data".into(), offset: 100, len: 10 };
    assert_eq!(sim.apply(corrupt(a)), FaultOutcome::Applied);
    assert_eq!(sim.apply(corrupt(a)), FaultOutcome::Applied, "the same disk again");
    assert!(matches!(sim.apply(corrupt(b)), FaultOutcome::Skipped(reason) if reason.contains("budget")));
    assert_ne!(sim.disk(a).read_all("data").unwrap(), vec![7u8; 4096]);
    assert_eq!(sim.disk(b).read_all("data").unwrap(), vec![7u8; 4096]);
    let missing = Fault::Corrupt { node: a.into(), file: "nope".into(), offset: 0, len: 1 };
    assert!(matches!(sim.apply(missing), FaultOutcome::Skipped(_)));
}

#[test]
fn torn_write_on_crash_only_within_budget() {
    // Budget 0: a crash with torn writes on loses the unsynced write cleanly.
    let tail_after_crash = |budget: Option<usize>, seed: u64| {
        let mut sim = Sim::new(seed, constant(ms(1)));
        let node = sim.add_node(
            Script::default()
                .on_start(|ctx| {
                    if !ctx.disk().exists("log") {
                        ctx.disk().append("log", &[1u8; 512]).unwrap();
                        ctx.disk().fsync("log").unwrap();
                        ctx.disk().append("log", &[2u8; 4096]).unwrap();
                    }
                })
                .factory(),
        );
        sim.set_disk_config(node, DiskConfig { torn_writes: true, ..DiskConfig::default() });
        sim.set_damage_budget(budget);
        sim.run_until(at_ms(1));
        sim.apply(Fault::Crash(node.into()));
        let len = sim.disk(node).read_all("log").unwrap().len();
        len
    };
    assert!((0..20).all(|seed| tail_after_crash(Some(0), seed) == 512));
    let lengths: std::collections::BTreeSet<usize> =
        (0..20).map(|seed| tail_after_crash(None, seed)).collect();
    assert!(lengths.len() > 3, "random sector prefixes survive: {lengths:?}");
    assert!(lengths.iter().all(|len| (len - 512) % 512 == 0));
}

#[test]
fn full_disk_fails_writes_with_an_error() {
    let mut sim = Sim::new(1, constant(ms(1)));
    sim.add_node(
        Script::default()
            .on_start(|ctx| {
                let first = ctx.disk().append("f", &[0; 600]);
                let second = ctx.disk().append("f", &[0; 600]);
                ctx.sample("ok", u64::from(first.is_ok()));
                ctx.sample("full", u64::from(matches!(second, Err(DiskError::Full { .. }))));
            })
            .factory(),
    );
    sim.set_disk_config(NodeId(0), DiskConfig { capacity: Some(1_000), ..DiskConfig::default() });
    sim.run_until(at_ms(1));
    assert_eq!(sim.observations().samples["ok"], vec![1]);
    assert_eq!(sim.observations().samples["full"], vec![1]);
}

#[test]
fn clock_offset_drift_and_steps() {
    let mut sim = Sim::new(1, constant(ms(1)));
    let node = sim.add_node(
        Script::default()
            .on_start(|ctx| {
                ctx.set_timer(ms(100), 0);
            })
            .on_timer(|ctx, _| {
                let now = ctx.now().as_nanos();
                ctx.sample("local at timer", now);
                ctx.set_timer(ms(100), 0);
            })
            .factory(),
    );
    sim.apply(Fault::ClockStep { node: node.into(), delta_nanos: 1_000_000_000 }); // +1 s offset
    sim.run_until(at_ms(100));
    assert_eq!(sim.local_time(node), at_ms(1_100));
    // 10% fast from 100 ms: a 100 ms local timer takes ~90.9 ms of true time.
    sim.apply(Fault::ClockDrift { node: node.into(), ppm: 100_000 });
    let events = events_until(&mut sim, at_ms(400));
    let timer_times: Vec<u64> =
        events.iter().filter(|e| e.kind == EventKind::Timer).map(|e| e.time.as_nanos()).collect();
    assert_eq!(timer_times[0], 200_000_000, "armed before the drift changed");
    assert_eq!(timer_times[1], 290_909_091, "a fast oscillator fires early in true time");
    // A step back moves the reading, not the timers.
    sim.apply(Fault::ClockStep { node: node.into(), delta_nanos: -5_000_000_000 });
    assert_eq!(sim.local_time(node), Time::ZERO, "saturates at zero");
    assert!(matches!(
        sim.apply(Fault::ClockDrift { node: node.into(), ppm: -1_000_000 }),
        FaultOutcome::Skipped(_)
    ));
}

/// A node that keeps a disk handle and writes through it when dropped, as a storage
/// engine's destructor might (redb's flushes and syncs).
struct FlushesOnDrop {
    disk: Option<sim::DiskHandle>,
}

impl Drop for FlushesOnDrop {
    fn drop(&mut self) {
        if let Some(disk) = &self.disk {
            let mut disk = disk.lock();
            disk.append("log", b" +destructor").unwrap();
            disk.fsync("log").unwrap();
        }
    }
}

impl Node for FlushesOnDrop {
    type Msg = Num;
    fn on_start(&mut self, ctx: &mut Ctx<'_, Num>) {
        if !ctx.disk().exists("log") {
            ctx.disk().append("log", b"synced").unwrap();
            ctx.disk().fsync("log").unwrap();
        }
        self.disk = Some(ctx.disk_handle());
    }
    fn on_message(&mut self, _: &mut Ctx<'_, Num>, _: NodeId, _: Num) {}
    fn on_timer(&mut self, _: &mut Ctx<'_, Num>, _: u64) {}
}

#[test]
fn a_crashed_node_s_destructors_do_not_reach_its_disk() {
    let mut sim = Sim::new(1, constant(ms(1)));
    let node = sim.add_node(|| FlushesOnDrop { disk: None });
    sim.run_until(at_ms(1));
    sim.apply(Fault::Crash(node.into()));
    assert_eq!(sim.disk(node).read_all("log").unwrap(), b"synced", "the crash ran no code");
    sim.apply(Fault::Restart(node.into()));
    sim.run_until(at_ms(2));
    assert_eq!(sim.disk(node).read_all("log").unwrap(), b"synced", "the new incarnation's handle is live");
}
