//! Connections (`sim::kernel::connection`): ordered, reliable streams that loss and cuts do
//! not make holes in, broken by a long cut or a crash, seen closed by both ends.

use std::cell::RefCell;
use std::rc::Rc;

use crate::common;

use common::*;
use proptest::prelude::*;
use sim::prelude::*;
use sim::{ConnId, EventKind};

/// What a node saw: messages (time ms, connection, number) and closes (time ms, connection).
#[derive(Default)]
struct Seen {
    messages: Vec<(u64, ConnId, u64)>,
    closed: Vec<(u64, NodeId, ConnId)>,
}

type Log = Rc<RefCell<Seen>>;

fn ms_of(ctx: &Ctx<'_, Num>) -> u64 {
    ctx.now().as_nanos() / 1_000_000
}

/// Node 0: sends `Num(i)` to node 1 on a connection every `every` ms, `count` times,
/// connecting at its first send and, if `redial`, at every send (a new connection after a
/// close).
fn dialer(log: &Log, every: u64, count: u64, redial: bool) -> Script {
    let closes = log.clone();
    Script::default()
        .on_start(move |ctx| {
            ctx.set_timer(ms(every), 0);
        })
        .on_timer(move |ctx, i| {
            let conn = if redial || i == 0 { ctx.connect(NodeId(1)) } else { first_conn(ctx) };
            ctx.send_on(conn, Num(i));
            if i + 1 < count {
                ctx.set_timer(ms(every), i + 1);
            }
        })
        .on_closed(move |ctx, conn| closes.borrow_mut().closed.push((ms_of(ctx), ctx.id(), conn)))
}

/// The dialer's first connection (epoch 1), whether or not it is still open.
fn first_conn(ctx: &Ctx<'_, Num>) -> ConnId {
    ConnId { dialer: ctx.id(), acceptor: NodeId(1), epoch: 1 }
}

/// Node 1: logs what arrives and every close.
fn acceptor(log: &Log) -> Script {
    let (messages, closes) = (log.clone(), log.clone());
    Script::default()
        .on_message(move |ctx, _, Num(i)| {
            let conn = ctx.arrived_on().expect("sent on a connection");
            messages.borrow_mut().messages.push((ms_of(ctx), conn, i));
        })
        .on_closed(move |ctx, conn| closes.borrow_mut().closed.push((ms_of(ctx), ctx.id(), conn)))
}

fn numbers(log: &Log) -> Vec<u64> {
    log.borrow().messages.iter().map(|m| m.2).collect()
}

fn conn(epoch: u32) -> ConnId {
    ConnId { dialer: NodeId(0), acceptor: NodeId(1), epoch }
}

fn groups() -> Partition {
    Partition::Groups(vec![vec![NodeId(0)], vec![NodeId(1)]])
}

/// The network's books close: every message sent is delivered, dropped or in flight.
fn books_close(sim: &Sim<Num>) {
    let stats = sim.network_stats();
    assert_eq!(stats.sent + stats.duplicated, stats.delivered + stats.dropped() + sim.messages_in_flight());
}

#[test]
fn loss_costs_retransmissions_not_holes_and_order_holds() {
    let log = Log::default();
    let model = LinkModel {
        latency: Distribution::Uniform { min: ms(1), max: ms(80) },
        loss: Probability::new(0.3).unwrap(),
        duplicate: Probability::new(0.2).unwrap(),
        ..LinkModel::default()
    };
    let mut sim = Sim::new(5, model);
    sim.add_node(dialer(&log, 1, 300, false).factory());
    sim.add_node(acceptor(&log).factory());
    sim.run_until(at_ms(60_000));
    assert_eq!(numbers(&log), (0..300).collect::<Vec<u64>>(), "every message, once, in send order");
    let stats = sim.network_stats();
    assert!(stats.retransmitted > 50, "a 30% loss costs retransmissions: {}", stats.retransmitted);
    assert_eq!((stats.dropped(), stats.duplicated), (0, 0), "no holes, no duplicates");
    assert!(log.borrow().closed.is_empty());
    books_close(&sim);
}

#[test]
fn a_short_cut_holds_messages_until_the_heal() {
    // Sends every 10 ms from 10 to 100 ms, 5 ms latency; cut from 23 to 61 ms (keepalive 10 s).
    let log = Log::default();
    let mut sim = Sim::new(1, constant(ms(5)));
    sim.add_node(dialer(&log, 10, 10, false).factory());
    sim.add_node(acceptor(&log).factory());
    sim.schedule(at_ms(23), Fault::Partition(groups()));
    sim.schedule(at_ms(61), Fault::Heal);
    sim.run_until(at_ms(200));
    let seen = log.borrow();
    let arrivals: Vec<(u64, u64)> = seen.messages.iter().map(|&(at, _, i)| (at, i)).collect();
    // Sent at 20 ms, in flight at the cut: held on arrival. Sent at 30..60: held at send.
    // At the heal (61 ms) they go again, each 5 ms on the wire.
    assert_eq!(
        arrivals,
        vec![(15, 0), (66, 1), (66, 2), (66, 3), (66, 4), (66, 5), (75, 6), (85, 7), (95, 8), (105, 9)]
    );
    assert!(seen.closed.is_empty(), "38 ms of cut is far below the keepalive");
    books_close(&sim);
}

#[test]
fn the_message_diagram_records_stream_sends_holds_resends_and_closed_writes() {
    use sim::kernel::observe::MessageFate::{Closed, Held, Stream};
    // The short cut above, recorded: `Num(i)` is sent at 10(i+1) ms; Num(1), in flight at
    // the cut, is held on arrival (its record says it arrives at 25), Num(2..6) are held at
    // send, and all five go again at the heal (61 ms).
    let log = Log::default();
    let mut sim = Sim::new(1, constant(ms(5)));
    sim.record_messages(at_ms(0), at_ms(1_000), 100);
    sim.add_node(dialer(&log, 10, 10, false).factory());
    sim.add_node(acceptor(&log).factory());
    sim.schedule(at_ms(23), Fault::Partition(groups()));
    sim.schedule(at_ms(61), Fault::Heal);
    sim.run_until(at_ms(200));
    let sends: Vec<(u64, sim::kernel::observe::MessageFate, Option<u64>, String)> = sim
        .observations()
        .messages
        .iter()
        .map(|m| {
            (
                m.sent.as_nanos() / 1_000_000,
                m.fate,
                m.arrives.map(|t| t.as_nanos() / 1_000_000),
                m.what.clone(),
            )
        })
        .collect();
    let mut expected =
        vec![(10, Stream, Some(15), "Num(0)".to_string()), (20, Stream, Some(25), "Num(1)".into())];
    expected.extend((2..6).map(|i| (i * 10 + 10, Held, None, format!("Num({i})"))));
    expected.extend((1..6).map(|i| (61, Stream, Some(66), format!("Num({i})"))));
    expected.extend((6..10).map(|i| (i * 10 + 10, Stream, Some(i * 10 + 15), format!("Num({i})"))));
    assert_eq!(sends, expected);

    // A write on a closed connection is recorded as closed.
    let log = Log::default();
    let mut sim = Sim::new(1, constant(ms(5)));
    sim.set_keepalive(ms(100));
    sim.record_messages(at_ms(0), at_ms(1_000), 100);
    sim.add_node(dialer(&log, 100, 3, false).factory());
    sim.add_node(acceptor(&log).factory());
    sim.schedule(at_ms(150), Fault::Partition(groups()));
    sim.run_until(at_ms(1_000));
    let fates: Vec<_> =
        sim.observations().messages.iter().map(|m| (m.sent.as_nanos() / 1_000_000, m.fate)).collect();
    assert_eq!(fates, vec![(100, Stream), (200, Held), (300, Closed)], "broken at 250 ms by the keepalive");
}

#[test]
fn a_cut_longer_than_the_keepalive_breaks_the_connection_at_both_ends() {
    let log = Log::default();
    let mut sim = Sim::new(1, constant(ms(5)));
    sim.set_keepalive(ms(1_000));
    sim.add_node(dialer(&log, 100, 30, false).factory());
    sim.add_node(acceptor(&log).factory());
    sim.schedule(at_ms(250), Fault::Partition(groups()));
    sim.schedule(at_ms(1_500), Fault::Heal);
    sim.run_until(at_ms(4_000));
    let seen = log.borrow();
    assert_eq!(seen.closed, vec![(1_250, NodeId(0), conn(1)), (1_250, NodeId(1), conn(1))]);
    assert_eq!(
        numbers(&log),
        vec![0, 1],
        "sent at 100 and 200 ms; the rest is gone or sent on a closed connection"
    );
    let stats = sim.network_stats();
    assert_eq!(stats.connections.broken, 1);
    // Held at the break: sent at 300..1200 ms (10). Sent after it, on the closed connection: 18.
    assert_eq!((stats.sent, stats.delivered, stats.dropped_closed), (30, 2, 28));
    books_close(&sim);
}

#[test]
fn a_new_connection_after_a_break_carries_new_messages() {
    let log = Log::default();
    let mut sim = Sim::new(1, constant(ms(5)));
    sim.set_keepalive(ms(1_000));
    sim.add_node(dialer(&log, 100, 30, true).factory());
    sim.add_node(acceptor(&log).factory());
    sim.schedule(at_ms(250), Fault::Partition(groups()));
    sim.schedule(at_ms(1_500), Fault::Heal);
    sim.run_until(at_ms(4_000));
    let seen = log.borrow();
    let epochs: Vec<(u64, u32)> = seen.messages.iter().map(|&(_, c, i)| (i, c.epoch)).collect();
    // Messages 2..=11 were held when the connection broke; 12 (at 1.3 s) opened epoch 2
    // across the cut and waited for the heal.
    assert_eq!(&epochs[..3], &[(0, 1), (1, 1), (12, 2)]);
    assert_eq!(epochs.last(), Some(&(29, 2)));
    assert_eq!(seen.messages[2].0, 1_505, "held from 1.3 s, sent again at the heal");
    assert_eq!(sim.network_stats().connections.opened, 2);
    books_close(&sim);
}

#[test]
fn a_crash_resets_the_connection_and_the_peer_sees_it_one_latency_later() {
    let log = Log::default();
    let mut sim = Sim::new(1, constant(ms(5)));
    sim.add_node(dialer(&log, 10, 20, false).factory());
    sim.add_node(acceptor(&log).factory());
    sim.schedule(at_ms(52), Fault::Crash(NodeId(1).into()));
    sim.schedule(at_ms(80), Fault::Restart(NodeId(1).into()));
    sim.run_until(at_ms(500));
    let seen = log.borrow();
    assert_eq!(numbers(&log), vec![0, 1, 2, 3], "sent at 10..40 ms; 50 ms's was on the wire at the crash");
    assert_eq!(seen.closed, vec![(57, NodeId(0), conn(1))], "the dialer hears the reset 5 ms later");
    let stats = sim.network_stats();
    assert_eq!((stats.connections.reset, stats.dropped_closed), (1, 16));
    books_close(&sim);
}

#[test]
fn connecting_to_a_node_that_is_down_is_refused_after_a_round_trip() {
    let log = Log::default();
    let mut sim = Sim::new(1, constant(ms(5)));
    sim.add_node(dialer(&log, 10, 1, false).factory());
    sim.add_node(acceptor(&log).factory());
    sim.run_until(at_ms(1));
    sim.apply(Fault::Crash(NodeId(1).into()));
    sim.run_until(at_ms(100));
    assert_eq!(log.borrow().closed, vec![(20, NodeId(0), conn(1))], "connected at 10 ms, 5 ms each way");
    assert_eq!(sim.network_stats().connections.refused, 1);
    books_close(&sim);
}

#[test]
fn the_acceptor_answers_on_the_connection_and_a_disconnect_reaches_the_peer() {
    let log = Log::default();
    let (replies, closes) = (log.clone(), log.clone());
    let mut sim = Sim::new(1, constant(ms(5)));
    sim.add_node(
        Script::default()
            .on_start(|ctx| {
                ctx.set_timer(ms(1), 0);
            })
            .on_timer(|ctx, _| {
                let conn = ctx.connect(NodeId(1));
                ctx.send_on(conn, Num(1));
            })
            .on_message(move |ctx, _, Num(i)| {
                let conn = ctx.arrived_on().expect("a reply on the connection");
                replies.borrow_mut().messages.push((ms_of(ctx), conn, i));
                ctx.disconnect(conn);
                assert!(!ctx.is_open(conn));
            })
            .factory(),
    );
    sim.add_node(
        Script::default()
            .on_message(|ctx, from, Num(i)| {
                let conn = ctx.arrived_on().expect("on a connection");
                assert_eq!(conn.peer(ctx.id()), from);
                ctx.send_on(conn, Num(i + 1));
            })
            .on_closed(move |ctx, conn| closes.borrow_mut().closed.push((ms_of(ctx), ctx.id(), conn)))
            .factory(),
    );
    let events = events_until(&mut sim, at_ms(100));
    assert_eq!(log.borrow().messages, vec![(11, conn(1), 2)]);
    assert_eq!(log.borrow().closed, vec![(16, NodeId(1), conn(1))]);
    assert_eq!(of_kind(&events, EventKind::Closed), vec![(16, 1, Some(0))]);
    assert_eq!(sim.network_stats().connections.closed, 1);
}

#[test]
fn lost_messages_that_outlast_the_keepalive_break_the_connection() {
    let log = Log::default();
    let mut sim = Sim::new(1, LinkModel { loss: Probability::ALWAYS, ..constant(ms(5)) });
    sim.set_keepalive(ms(2_000));
    sim.add_node(dialer(&log, 10, 1, false).factory());
    sim.add_node(acceptor(&log).factory());
    sim.run_until(at_ms(5_000));
    assert_eq!(log.borrow().closed, vec![(2_010, NodeId(0), conn(1)), (2_010, NodeId(1), conn(1))]);
    let stats = sim.network_stats();
    // 200 + 400 + 800 ms waited, then the next (1.6 s) would pass 2 s.
    assert_eq!((stats.retransmitted, stats.connections.broken, stats.dropped_closed), (4, 1, 1));
}

/// One fault of a random schedule, at a time in ms.
#[derive(Clone, Debug)]
enum Step {
    Cut(u64),
    Clog(u64),
    Heal(u64),
    Unclog(u64),
    Crash(u64, u32),
    Restart(u64, u32),
    Pause(u64, u32),
    Resume(u64, u32),
}

fn step() -> impl Strategy<Value = Step> {
    let at = 0u64..3_000;
    let node = 0u32..3;
    prop_oneof![
        at.clone().prop_map(Step::Cut),
        at.clone().prop_map(Step::Clog),
        at.clone().prop_map(Step::Heal),
        at.clone().prop_map(Step::Unclog),
        (at.clone(), node.clone()).prop_map(|(t, n)| Step::Crash(t, n)),
        (at.clone(), node.clone()).prop_map(|(t, n)| Step::Restart(t, n)),
        (at.clone(), node.clone()).prop_map(|(t, n)| Step::Pause(t, n)),
        (at, node).prop_map(|(t, n)| Step::Resume(t, n)),
    ]
}

/// What the mesh's nodes saw: order violations, and when each node last heard from each
/// other node (ms).
#[derive(Default)]
struct MeshLog {
    violations: Vec<String>,
    last_heard: [[u64; 3]; 3],
}

/// Three nodes, each dialing the other two and sending numbered messages on every open
/// connection (reconnecting after a close); a receiver checks each connection's numbers.
/// The schedule's faults end at 3 s: everything heals, resumes and restarts.
fn mesh(seed: u64, loss: f64, schedule: &[Step]) -> (Sim<Num>, Rc<RefCell<MeshLog>>) {
    let violations: Rc<RefCell<MeshLog>> = Rc::default();
    let mut sim = Sim::new(
        seed,
        LinkModel {
            latency: Distribution::Uniform { min: ms(1), max: ms(40) },
            loss: Probability::new(loss).unwrap(),
            duplicate: Probability::new(0.1).unwrap(),
            ..LinkModel::default()
        },
    );
    sim.set_keepalive(ms(400));
    for _ in 0..3 {
        // Per connection seen: the next number expected. Numbers restart at 0 on a new
        // connection (the sender counts per connection).
        let expected: Rc<RefCell<std::collections::BTreeMap<ConnId, u64>>> = Rc::default();
        let sent: Rc<RefCell<std::collections::BTreeMap<ConnId, u64>>> = Rc::default();
        let violations = violations.clone();
        let sent_on_timer = sent.clone();
        sim.add_node(
            Script::default()
                .on_start(|ctx| {
                    ctx.set_timer(ms(7), 0);
                })
                .on_timer(move |ctx, _| {
                    let me = ctx.id();
                    for peer in (0..3).map(NodeId).filter(|&p| p != me) {
                        let conn = ctx.connect(peer);
                        let mut sent = sent_on_timer.borrow_mut();
                        let next = sent.entry(conn).or_default();
                        ctx.send_on(conn, Num(*next));
                        *next += 1;
                    }
                    ctx.set_timer(ms(7), 0);
                })
                .on_message(move |ctx, from, Num(i)| {
                    let conn = ctx.arrived_on().expect("on a connection");
                    let mut log = violations.borrow_mut();
                    if conn.peer(ctx.id()) != from {
                        log.violations.push(format!("{conn:?} from {from}"));
                    }
                    log.last_heard[ctx.id().index()][from.index()] = ms_of(ctx);
                    let mut expected = expected.borrow_mut();
                    let next = expected.entry(conn).or_default();
                    if i != *next {
                        log.violations.push(format!("{conn:?}: got {i}, expected {next}"));
                    }
                    *next = i + 1;
                })
                .factory(),
        );
    }
    for s in schedule {
        let all = || Partition::Groups(vec![vec![NodeId(0)], vec![NodeId(1), NodeId(2)]]);
        let (at, fault) = match *s {
            Step::Cut(t) => (t, Fault::Partition(all())),
            Step::Clog(t) => (t, Fault::Clog { partition: all(), reorder: true }),
            Step::Heal(t) => (t, Fault::Heal),
            Step::Unclog(t) => (t, Fault::Unclog),
            Step::Crash(t, n) => (t, Fault::Crash(NodeId(n).into())),
            Step::Restart(t, n) => (t, Fault::Restart(NodeId(n).into())),
            Step::Pause(t, n) => (t, Fault::Pause(NodeId(n).into())),
            Step::Resume(t, n) => (t, Fault::Resume(NodeId(n).into())),
        };
        sim.schedule(at_ms(at), fault);
    }
    sim.schedule(at_ms(3_000), Fault::Heal);
    sim.schedule(at_ms(3_000), Fault::Unclog);
    for n in 0..3 {
        sim.schedule(at_ms(3_000), Fault::Resume(NodeId(n).into()));
        sim.schedule(at_ms(3_000), Fault::Restart(NodeId(n).into()));
    }
    sim.run_until(at_ms(5_000));
    (sim, violations)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        rng_seed: proptest::test_runner::RngSeed::Fixed(27),
        ..ProptestConfig::default()
    })]

    /// Whatever the cuts, clogs, crashes and pauses: each connection delivers a gap-free
    /// prefix of what was sent on it, in order, once; once the faults end every node hears
    /// from every other again; the books close; the run replays.
    #[test]
    fn connections_deliver_in_order_without_holes(
        seed in 0u64..1_000,
        loss in 0.0f64..0.25,
        schedule in proptest::collection::vec(step(), 0..12),
    ) {
        let (sim, violations) = mesh(seed, loss, &schedule);
        let log = violations.borrow();
        prop_assert!(log.violations.is_empty(), "{:?}", log.violations);
        for (receiver, heard) in log.last_heard.iter().enumerate() {
            for (sender, &at) in heard.iter().enumerate().filter(|&(s, _)| s != receiver) {
                // After the faults end at 3 s, every connection comes back: a stuck message
                // breaks its connection within the keepalive (400 ms, short, so that loss
                // breaks some), and the sender's next send opens a new one.
                prop_assert!(at > 3_000, "n{} last heard from n{} at {} ms", receiver, sender, at);
            }
        }
        let stats = sim.network_stats();
        prop_assert_eq!(stats.sent + stats.duplicated, stats.delivered + stats.dropped() + sim.messages_in_flight());
        prop_assert_eq!(stats.duplicated, 0);
        let (again, _) = mesh(seed, loss, &schedule);
        prop_assert_eq!(sim.trace_hash(), again.trace_hash());
    }
}
