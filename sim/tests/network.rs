//! Network semantics at the engine level: loss, duplication, FIFO, cuts, messages in flight.

use crate::common;

use common::*;
use sim::kernel::hash::digest;
use sim::prelude::*;
use sim::EventKind;

fn counter(sim: &Sim<Num>, name: &str) -> u64 {
    sim.observations().counters.get(name).copied().unwrap_or(0)
}

#[test]
fn loss_rate_lands_within_a_binomial_bound() {
    let n = 100_000u64;
    let model = LinkModel { loss: Probability::new(0.1).unwrap(), ..constant(ms(1)) };
    let mut sim = Sim::new(7, model);
    sim.add_node(
        Script::default().on_start(move |ctx| (0..n).for_each(|i| ctx.send(NodeId(1), Num(i)))).factory(),
    );
    sim.add_node(counting_receiver().factory());
    sim.run_until(at_ms(100));
    let delivered = counter(&sim, "received");
    // Binomial(100,000, 0.9): mean 90,000, sd 94.9; five sd either side.
    assert!((89_526..=90_474).contains(&delivered), "delivered {delivered}");
    let stats = sim.network_stats();
    assert_eq!(stats.sent, n);
    assert_eq!(stats.delivered + stats.dropped_loss, n);
}

#[test]
fn duplicates_are_delivered_twice() {
    let model = LinkModel { duplicate: Probability::ALWAYS, ..constant(ms(1)) };
    let mut sim = Sim::new(1, model);
    sim.add_node(Script::default().on_start(|ctx| ctx.send(NodeId(1), Num(9))).factory());
    sim.add_node(counting_receiver().factory());
    sim.run_until(at_ms(10));
    assert_eq!(counter(&sim, "received"), 2);
    assert_eq!(sim.network_stats().duplicated, 1);
}

#[test]
fn fifo_links_keep_send_order_and_others_reorder() {
    let order = |fifo: bool| {
        let model = LinkModel {
            latency: Distribution::Uniform { min: ms(1), max: ms(50) },
            fifo,
            ..LinkModel::default()
        };
        let mut sim = Sim::new(3, model);
        sim.add_node(
            Script::default().on_start(|ctx| (0..200).for_each(|i| ctx.send(NodeId(1), Num(i)))).factory(),
        );
        sim.add_node(Script::default().factory());
        let events = events_until(&mut sim, at_ms(1_000));
        let digests: Vec<u64> =
            events.iter().filter(|e| e.kind == EventKind::Deliver).map(|e| e.digest).collect();
        let sent: Vec<u64> = (0..200).map(|i| digest(&Num(i))).collect();
        digests == sent
    };
    assert!(order(true), "FIFO delivers in send order");
    assert!(!order(false), "random delay reorders");
}

#[test]
fn one_way_cut_drops_one_direction_only() {
    let mut sim = Sim::new(1, constant(ms(1)));
    let ping = Script::default().on_start(|ctx| {
        let peer = NodeId(1 - ctx.id().0);
        ctx.send(peer, Num(u64::from(ctx.id().0)));
    });
    sim.add_node(ping.factory());
    sim.add_node(ping.factory());
    sim.apply(Fault::Partition(Partition::OneWay { from: vec![NodeId(0)], to: vec![NodeId(1)] }));
    let events = events_until(&mut sim, at_ms(10));
    assert_eq!(of_kind(&events, EventKind::Deliver), vec![(1, 0, Some(1))], "only 1 -> 0 arrives");
    assert_eq!(sim.network_stats().dropped_partition, 1);
}

#[test]
fn partition_drops_messages_in_flight_and_heal_does_not_revive_them() {
    // Node 0 sends at 0 ms, 10 ms, 20 ms, 30 ms; each takes 8 ms.
    // Partition at 5 ms, heal at 25 ms:
    //   sent 0 ms (in flight at 5 ms, arrives at 8 ms into the cut)  -> dropped on arrival
    //   sent 10 ms (across the cut)                                   -> dropped at send
    //   sent 20 ms (across the cut, would arrive after the heal)      -> dropped at send
    //   sent 30 ms (after the heal)                                   -> delivered at 38 ms
    let mut sim = Sim::new(1, constant(ms(8)));
    sim.add_node(sender(NodeId(1), ms(0), ms(10), at_ms(30)).factory());
    sim.add_node(counting_receiver().factory());
    let groups = Partition::Groups(vec![vec![NodeId(0)], vec![NodeId(1)]]);
    sim.schedule(at_ms(5), Fault::Partition(groups));
    sim.schedule(at_ms(25), Fault::Heal);
    let events = events_until(&mut sim, at_ms(100));
    assert_eq!(of_kind(&events, EventKind::DropPartitioned), vec![(8, 1, Some(0))]);
    assert_eq!(of_kind(&events, EventKind::Deliver), vec![(38, 1, Some(0))]);
    let stats = sim.network_stats();
    assert_eq!((stats.sent, stats.dropped_partition, stats.delivered), (4, 3, 1));
}

/// Sends `Num(t)` to node 1 at each `t` of `times` (ms).
fn send_at(times: &'static [u64]) -> Script {
    Script::default()
        .on_start(|ctx| {
            for (i, t) in times.iter().enumerate() {
                ctx.set_timer(ms(*t), i as u64);
            }
        })
        .on_timer(|ctx, i| ctx.send(NodeId(1), Num(times[i as usize])))
}

#[test]
fn a_clog_holds_messages_until_the_unclog_and_delivers_them_in_arrival_order() {
    // Sent at 1, 10, 20, 30 ms; each takes 8 ms. Clog at 5 ms, unclog at 25 ms:
    //   sent 1 ms (in flight at 5 ms, arrives at 9 ms into the clog) -> held, delivered at 25
    //   sent 10 ms (arrives at 18)                                   -> held, delivered at 25
    //   sent 20 ms (arrives at 28, after the unclog)                 -> delivered at 28
    //   sent 30 ms                                                   -> delivered at 38
    let mut sim = Sim::new(1, constant(ms(8)));
    sim.add_node(send_at(&[1, 10, 20, 30]).factory());
    sim.add_node(counting_receiver().factory());
    let groups = Partition::Groups(vec![vec![NodeId(0)], vec![NodeId(1)]]);
    sim.schedule(at_ms(5), Fault::Clog { partition: groups, reorder: false });
    sim.schedule(at_ms(25), Fault::Unclog);
    let events = events_until(&mut sim, at_ms(100));
    let delivered: Vec<(u64, u64)> = events
        .iter()
        .filter(|e| e.kind == EventKind::Deliver)
        .map(|e| (e.time.as_nanos() / 1_000_000, e.digest))
        .collect();
    let expected: Vec<(u64, u64)> =
        [(25, 1), (25, 10), (28, 20), (38, 30)].iter().map(|(at, sent)| (*at, digest(&Num(*sent)))).collect();
    assert_eq!(delivered, expected, "held messages come out at the unclog, in the order they arrived");
    let stats = sim.network_stats();
    assert_eq!((stats.sent, stats.clogged, stats.delivered, stats.dropped()), (4, 2, 4, 0));
}

#[test]
fn reorder_releases_held_messages_in_a_drawn_order() {
    let released = |reorder: bool| {
        let mut sim = Sim::new(1, constant(ms(8)));
        sim.add_node(send_at(&[1, 2, 3, 4, 5, 6, 7, 8]).factory());
        sim.add_node(counting_receiver().factory());
        let groups = Partition::Groups(vec![vec![NodeId(0)], vec![NodeId(1)]]);
        sim.schedule(at_ms(1), Fault::Clog { partition: groups, reorder });
        sim.schedule(at_ms(50), Fault::Unclog);
        let events = events_until(&mut sim, at_ms(100));
        events.iter().filter(|e| e.kind == EventKind::Deliver).map(|e| e.digest).collect::<Vec<u64>>()
    };
    let sent: Vec<u64> = (1..=8).map(|t| digest(&Num(t))).collect();
    assert_eq!(released(false), sent);
    let mut shuffled = released(true);
    assert_ne!(shuffled, sent, "reorder = true releases out of order");
    shuffled.sort_unstable();
    let mut all = sent.clone();
    all.sort_unstable();
    assert_eq!(shuffled, all, "every held message is delivered once");
}

#[test]
fn a_released_message_to_a_node_that_crashed_meanwhile_is_dropped() {
    let mut sim = Sim::new(1, constant(ms(8)));
    sim.add_node(send_at(&[2]).factory());
    sim.add_node(counting_receiver().factory());
    let groups = Partition::Groups(vec![vec![NodeId(0)], vec![NodeId(1)]]);
    sim.schedule(at_ms(1), Fault::Clog { partition: groups, reorder: true });
    sim.schedule(at_ms(15), Fault::Crash(NodeId(1).into()));
    sim.schedule(at_ms(17), Fault::Restart(NodeId(1).into()));
    sim.schedule(at_ms(20), Fault::Unclog);
    sim.run_until(at_ms(12));
    assert_eq!(sim.messages_in_flight(), 1, "a held message is in flight");
    sim.run_until(at_ms(100));
    let stats = sim.network_stats();
    assert_eq!((stats.clogged, stats.delivered, stats.dropped_crashed), (1, 0, 1));
    assert_eq!(sim.messages_in_flight(), 0);
}

#[test]
fn healing_one_partition_leaves_another_in_force() {
    // Two partitions cut 0 -> 1 (faults 0 and 1); healing fault 0 leaves fault 1's cut,
    // healing fault 1 as well opens the link.
    let mut sim = Sim::new(1, constant(ms(1)));
    sim.add_node(send_at(&[5, 15, 25]).factory());
    sim.add_node(counting_receiver().factory());
    let cut = || Partition::OneWay { from: vec![NodeId(0)], to: vec![NodeId(1)] };
    sim.schedule(at_ms(1), Fault::Partition(cut()));
    sim.schedule(at_ms(2), Fault::Partition(Partition::Groups(vec![vec![NodeId(0)], vec![NodeId(1)]])));
    sim.schedule(at_ms(10), Fault::HealOne(0));
    sim.schedule(at_ms(20), Fault::HealOne(1));
    sim.schedule(at_ms(30), Fault::HealOne(1));
    let events = events_until(&mut sim, at_ms(100));
    assert_eq!(
        of_kind(&events, EventKind::Deliver),
        vec![(26, 1, Some(0))],
        "only the send after both heals"
    );
    let outcomes: Vec<String> = sim.fault_log().iter().map(|r| r.outcome.to_string()).collect();
    assert!(outcomes[4].starts_with("skipped"), "{outcomes:?}");
}

#[test]
fn replayed_packets_arrive_late_and_count_as_duplicates() {
    let mut sim = Sim::new(1, constant(ms(1)));
    sim.add_node(send_at(&[10, 20, 30, 40, 50]).factory());
    sim.add_node(counting_receiver().factory());
    let replay = |chance| Fault::Replay { chance, delay_min: ms(100), delay_max: ms(200) };
    sim.schedule(at_ms(5), replay(Probability::ALWAYS));
    sim.schedule(at_ms(35), replay(Probability::NEVER));
    let events = events_until(&mut sim, at_ms(1_000));
    let times: Vec<u64> = of_kind(&events, EventKind::Deliver).iter().map(|d| d.0).collect();
    assert_eq!(&times[..5], &[11, 21, 31, 41, 51], "the originals on time: {times:?}");
    assert_eq!(times.len(), 8, "three late copies, of the messages sent while it was on: {times:?}");
    assert!(times[5..].iter().all(|t| (111..=231).contains(t)), "{times:?}");
    let stats = sim.network_stats();
    assert_eq!((stats.replayed, stats.duplicated, stats.delivered), (3, 3, 8));
}

#[test]
fn a_link_fault_changes_some_links_until_it_is_restored() {
    // 0 -> 1 has 30 ms of its own from 5 ms until fault 0 is undone at 25 ms.
    let mut sim = Sim::new(1, constant(ms(1)));
    sim.add_node(send_at(&[1, 10, 30]).factory());
    sim.add_node(counting_receiver().factory());
    let slow = LinkModel { latency: Distribution::Constant(ms(30)), ..LinkModel::default() };
    sim.schedule(at_ms(5), Fault::Links { from: vec![NodeId(0)], to: vec![NodeId(1)], model: slow });
    sim.schedule(at_ms(25), Fault::LinksRestore(0));
    let events = events_until(&mut sim, at_ms(100));
    assert_eq!(
        of_kind(&events, EventKind::Deliver),
        vec![(2, 1, Some(0)), (31, 1, Some(0)), (40, 1, Some(0))]
    );
    assert_eq!(sim.fault_log()[1].outcome.to_string(), "applied");
}

#[test]
fn majority_minority_lets_the_majority_talk() {
    let mut sim = Sim::new(11, constant(ms(1)));
    let broadcast = Script::default()
        .on_start(|ctx| {
            for peer in 0..ctx.node_count() as u32 {
                if peer != ctx.id().0 {
                    ctx.send(NodeId(peer), Num(0));
                }
            }
        })
        .on_message(|ctx, _, _| ctx.count("received", 1));
    for _ in 0..5 {
        sim.add_node(broadcast.factory());
    }
    let among = (0..5).map(NodeId).collect();
    sim.apply(Fault::Partition(Partition::MajorityMinority { among }));
    sim.run_until(at_ms(10));
    // 3 * 2 + 2 * 1 ordered pairs can still talk.
    assert_eq!(counter(&sim, "received"), 8);
    let Fault::Partition(Partition::Groups(groups)) = &sim.fault_log()[0].fault else {
        panic!("the log records the realized groups: {:?}", sim.fault_log());
    };
    assert_eq!(groups.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 2]);
}

#[test]
fn loopback_is_never_cut_or_lost() {
    let model = LinkModel { loss: Probability::ALWAYS, ..constant(ms(5)) };
    let mut sim = Sim::new(1, model);
    sim.add_node(
        Script::default()
            .on_start(|ctx| ctx.send(ctx.id(), Num(1)))
            .on_message(|ctx, _, _| ctx.count("received", 1))
            .factory(),
    );
    sim.apply(Fault::Partition(Partition::Cuts(vec![(NodeId(0), NodeId(0))])));
    let events = events_until(&mut sim, at_ms(10));
    assert_eq!(of_kind(&events, EventKind::Deliver), vec![(0, 0, Some(0))], "at once, not lost");
}

#[test]
fn network_fault_changes_the_default_model_mid_run() {
    let mut sim = Sim::new(1, constant(ms(1)));
    sim.add_node(sender(NodeId(1), ms(10), ms(10), at_ms(100)).factory());
    sim.add_node(counting_receiver().factory());
    sim.schedule(at_ms(55), Fault::Network(LinkModel { loss: Probability::ALWAYS, ..constant(ms(1)) }));
    sim.run_until(at_ms(105));
    // Sends at 10..=50 ms arrive; sends at 60..=100 ms are lost.
    assert_eq!(counter(&sim, "received"), 5);
    assert_eq!(sim.network_stats().dropped_loss, 5);
}
