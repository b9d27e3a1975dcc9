//! Fault targets (a node, a random node, a role, the node an earlier fault hit) and the
//! replay property: the realized fault log, scheduled again, reproduces the same run.

use crate::common;

use common::*;
use sim::prelude::*;
use sim::{DiskConfig, FaultOutcome, FaultRecord};

sim::names! {
    /// The one role of these tests.
    enum Role {
        /// Node 2.
        Leader = "leader",
    }
}

/// Node 2 says it leads; everyone chatters and keeps an fsynced log with unsynced tails.
fn chatter() -> Script {
    Script::default()
        .on_start(|ctx| {
            if ctx.id() == NodeId(2) {
                ctx.set_role(Role::Leader);
            }
            ctx.set_timer(ms(5), 0);
        })
        .on_message(|ctx, _, Num(n)| {
            ctx.disk().append("log", &n.to_le_bytes()).unwrap();
            if n % 3 == 0 {
                ctx.disk().fsync("log").unwrap();
            }
        })
        .on_timer(|ctx, _| {
            let peer = NodeId(ctx.rng().below(5) as u32);
            let n = ctx.rng().below(100);
            ctx.send(peer, Num(n));
            ctx.set_timer(ms(5), 0);
        })
}

fn cluster(seed: u64) -> Sim<Num> {
    let model = LinkModel {
        latency: Distribution::Uniform { min: ms(1), max: ms(9) },
        loss: Probability::new(0.05).unwrap(),
        ..LinkModel::default()
    };
    let mut sim = Sim::new(seed, model);
    for _ in 0..5 {
        let node = sim.add_node(chatter().factory());
        sim.set_disk_config(node, DiskConfig { torn_writes: true, sector_size: 4, ..DiskConfig::default() });
    }
    sim
}

fn all() -> Vec<NodeId> {
    (0..5).map(NodeId).collect()
}

#[test]
fn role_and_same_as_targets() {
    let mut sim = cluster(1);
    let crash = sim.schedule(at_ms(50), Fault::Crash(Target::Role { role: "leader".into(), among: all() }));
    sim.schedule(at_ms(80), Fault::Restart(Target::SameAs(crash)));
    sim.schedule(at_ms(60), Fault::Pause(Target::Role { role: "leader".into(), among: all() }));
    sim.run_until(at_ms(100));
    let log: Vec<_> = sim.fault_log().iter().map(|r| (r.index, r.fault.clone(), r.outcome.clone())).collect();
    assert_eq!(log[0], (0, Fault::Crash(NodeId(2).into()), FaultOutcome::Applied));
    assert_eq!(
        log[1],
        (
            2,
            Fault::Pause(Target::Role { role: "leader".into(), among: all() }),
            FaultOutcome::Skipped("no node is leader".into())
        ),
        "roles are cleared by a crash"
    );
    assert_eq!(log[2], (1, Fault::Restart(NodeId(2).into()), FaultOutcome::Applied));
    assert_eq!(sim.role(NodeId(2)), Some("leader"), "the restarted node reported again");
}

#[test]
fn random_targets_are_drawn_from_the_candidates() {
    let mut hit = std::collections::BTreeSet::new();
    for seed in 0..40 {
        let mut sim = cluster(seed);
        sim.schedule(at_ms(10), Fault::Crash(Target::Random(vec![NodeId(1), NodeId(3)])));
        sim.run_until(at_ms(20));
        hit.insert(sim.fault_log()[0].fault.node().unwrap());
    }
    assert_eq!(hit.into_iter().collect::<Vec<_>>(), vec![NodeId(1), NodeId(3)]);
}

fn schedule_random_faults(sim: &mut Sim<Num>) {
    let leader = || Target::Role { role: "leader".into(), among: all() };
    sim.schedule(at_ms(20), Fault::Partition(Partition::MajoritiesRing { among: all() }));
    let crash = sim.schedule(at_ms(30), Fault::Crash(Target::Random(all())));
    sim.schedule(at_ms(45), Fault::Heal);
    sim.schedule(at_ms(50), Fault::Restart(Target::SameAs(crash)));
    sim.schedule(at_ms(55), Fault::Partition(Partition::Bridge { among: all() }));
    sim.schedule(
        at_ms(60),
        Fault::Corrupt { node: Target::Random(all()), file: "log".into(), offset: 0, len: 64 },
    );
    let crash_leader = sim.schedule(at_ms(70), Fault::Crash(leader()));
    sim.schedule(at_ms(75), Fault::Heal);
    sim.schedule(at_ms(90), Fault::Restart(Target::SameAs(crash_leader)));
    sim.schedule(at_ms(95), Fault::Partition(Partition::Isolate { node: None, among: all() }));
}

fn replay(seed: u64, log: &[FaultRecord]) -> Sim<Num> {
    let mut sim = cluster(seed);
    let mut by_index = log.to_vec();
    by_index.sort_by_key(|r| r.index);
    for record in by_index {
        sim.schedule(record.time, record.fault);
    }
    sim
}

#[test]
fn the_realized_fault_log_replays_the_same_run() {
    for seed in 0..10 {
        let mut original = cluster(seed);
        schedule_random_faults(&mut original);
        original.run_until(at_ms(200));
        let log = original.fault_log().to_vec();
        for record in log.iter().filter(|r| r.outcome == FaultOutcome::Applied) {
            assert!(
                record.fault.target().is_none_or(|t| matches!(t, Target::Node(_))),
                "{record:?} is resolved"
            );
        }
        let mut again = replay(seed, &log);
        again.run_until(at_ms(200));
        assert_eq!(again.fault_log(), log.as_slice(), "seed {seed}");
        assert_eq!(again.trace_hash(), original.trace_hash(), "seed {seed}");
        for node in all() {
            assert_eq!(again.disk(node).read_all("log").ok(), original.disk(node).read_all("log").ok());
        }
    }
}
