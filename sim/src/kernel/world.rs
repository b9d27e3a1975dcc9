//! The engine's state that a running handler may touch through its `Ctx`.
//!
//! It is everything but the node values themselves, so the engine can lend a handler a
//! `&mut World` while it holds the `&mut` of the node being called.

use std::collections::VecDeque;
use std::time::Duration;

use super::buggify::Buggify;
use super::clock::LocalClock;
use super::connection::{ConnCheck, ConnId, Connections};
use super::disk::DiskHandle;
use super::fault::Fault;
use super::history::Value;
use super::ids::{Message, NodeId, TimerId};
use super::io::{IoDone, IoId, IoRequest};
use super::network::{NetworkModel, Route};
use super::observe::{MessageFate, MessageRecord, Observations};
use super::partition::Cuts;
use super::queue::Queue;
use super::rng::{Probability, Rng, Seed};
use super::time::{duration_to_nanos, Time};
use super::workload::{Driver, Next, Outcome};

/// An entry of the event queue.
#[derive(Debug)]
pub(crate) enum Event<M> {
    /// First boot of a node.
    Start(NodeId),
    /// A message arriving. `incarnation` is the receiver's at send time; `admitted` is set
    /// once the message has passed the partition check on arrival (it then waits for a
    /// paused or busy receiver and is not checked again).
    Deliver { from: NodeId, to: NodeId, incarnation: u32, admitted: bool, msg: M },
    /// A timer of one incarnation of a node.
    Timer { node: NodeId, incarnation: u32, id: TimerId },
    /// A scheduled fault, with its index.
    Fault(Box<(u64, Fault)>),
    /// The workload driver's next open-loop arrival.
    Arrival,
    /// A message on a connection arriving (boxed: it is larger than a datagram's delivery,
    /// and every event is as large as the largest).
    Stream(Box<StreamDelivery<M>>),
    /// A connection's handshake arrives, or its keepalive or retransmissions ran out.
    ConnCheck { conn: ConnId, check: ConnCheck },
    /// Tells `node` (in incarnation `incarnation`) that `conn` closed.
    Closed { node: NodeId, incarnation: u32, conn: ConnId },
    /// An operation (the driver's record `record`) handed to client `client`.
    Invoke { client: NodeId, record: usize },
    /// A submitted sync completes (see `io`).
    IoDone(Box<IoDone>),
}

/// A message on a connection arriving from `from`, its `seq`-th in that direction;
/// `admitted` once it passed the connection's checks (see `connection`).
#[derive(Debug)]
pub(crate) struct StreamDelivery<M> {
    pub(crate) conn: ConnId,
    pub(crate) from: NodeId,
    pub(crate) seq: u64,
    pub(crate) admitted: bool,
    pub(crate) msg: M,
}

/// Whether a node is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not started yet, or crashed and not restarted.
    Down,
    /// Running.
    Up,
    /// Paused: events queue up until it resumes.
    Paused,
}

/// The kernel's per-node state (the node value itself lives in the engine).
#[derive(Debug)]
pub(crate) struct Process<M> {
    pub(crate) status: Status,
    /// Bumped on every crash: timers and messages of an older incarnation are dropped.
    pub(crate) incarnation: u32,
    pub(crate) clock: LocalClock,
    pub(crate) rng: Rng,
    pub(crate) network_rng: Rng,
    /// Events that arrived while paused, in arrival order.
    pub(crate) backlog: VecDeque<Event<M>>,
    /// The node is busy (in a slow fsync, or slow) until this true time.
    pub(crate) busy_until: u64,
    /// What each handler costs the node in true time, nanoseconds (a slow process).
    pub(crate) handler_cost: u64,
    /// When the disk finishes the syncs submitted so far (see `io`), true time.
    pub(crate) disk_free_at: u64,
    /// The last submitted I/O's number.
    pub(crate) last_io: u64,
}

/// A pending timer: its generation (so a stale id cancels nothing) and its payload, taken
/// when it fires or dropped when its queue entry is skipped.
#[derive(Debug)]
pub(crate) struct TimerSlot<T> {
    pub(crate) generation: u32,
    pub(crate) payload: Option<T>,
}

/// A message's record for the message diagram, described only if the window takes it.
pub(crate) fn sent_record<'a, M: std::fmt::Debug>(
    now: u64,
    from: NodeId,
    to: NodeId,
    fate: MessageFate,
    arrives: Option<u64>,
    msg: &'a M,
) -> impl FnOnce() -> MessageRecord + 'a {
    move || MessageRecord {
        sent: Time(now),
        from,
        to,
        arrives: arrives.map(Time),
        fate,
        what: format!("{msg:?}"),
    }
}

/// State shared by all nodes of a simulation.
pub(crate) struct World<M: Message> {
    pub(crate) now: u64,
    pub(crate) seed: Seed,
    pub(crate) queue: Queue<Event<M>>,
    pub(crate) processes: Vec<Process<M>>,
    pub(crate) disks: Vec<DiskHandle>,
    pub(crate) timers: Vec<TimerSlot<M::Timer>>,
    pub(crate) free_timers: Vec<u32>,
    pub(crate) network: NetworkModel,
    pub(crate) cuts: Cuts,
    /// Links that hold the messages arriving on them instead of delivering them (a clog).
    pub(crate) clogs: Cuts,
    /// The messages clogged links hold, in arrival order, released by an unclog.
    pub(crate) held: Vec<Event<M>>,
    /// Old packets replayed: a chance per message of a copy arriving much later.
    pub(crate) replay: Option<Replay>,
    /// Ordered, reliable streams between nodes (`Ctx::connect`).
    pub(crate) connections: Connections<M>,
    /// The connection the message being handled came on, if any (`Ctx::arrived_on`).
    pub(crate) arrived_on: Option<ConnId>,
    /// The clogs in force (by fault index) that release their messages out of order.
    pub(crate) clog_reorder: std::collections::BTreeSet<u64>,
    pub(crate) observations: Observations,
    /// The fault points of protocol code (`Ctx::buggify`).
    pub(crate) buggify: Buggify,
    /// Each node's last reported role ("leader", "follower"), for fault targets.
    pub(crate) roles: Vec<Option<&'static str>>,
    /// The workload driver, if the simulation has a workload.
    pub(crate) workload: Option<Driver>,
    /// Set when another simulator (madsim, turmoil) drives this world: its clock and
    /// network carry time and messages, and node-local events wait in per-node queues.
    pub(crate) hosted: Option<Box<Hosted<M>>>,
}

/// What the world keeps when another simulator drives it (`Sim::host`): the messages each
/// node sent during its handler, for the backend to carry, and each node's own events
/// (timers, workload invocations, loopback deliveries) in time order, for the node's task
/// to run when they are due. Faults and open-loop arrivals stay in the world's queue, run by
/// the backend's controller.
pub(crate) struct Hosted<M: Message> {
    pub(crate) outbox: Vec<Vec<(NodeId, M)>>,
    pub(crate) local: Vec<Queue<Event<M>>>,
    /// Nodes whose local queue got an event from another node's handler or the
    /// controller: their task must recompute when it wakes.
    pub(crate) woken: Vec<NodeId>,
}

impl<M: Message> World<M> {
    /// True time as the handler running on `node` sees it: the event's time plus what its
    /// fsyncs have cost so far.
    #[inline]
    pub(crate) fn handler_time(&self, node: NodeId) -> u64 {
        self.now + self.disks[node.index()].pending_latency()
    }

    /// Whether `node` cannot run an event due at `time`: it is paused, or busy until its
    /// fsyncs end.
    #[inline]
    pub(crate) fn is_waiting(&self, time: u64, node: NodeId) -> bool {
        let process = &self.processes[node.index()];
        process.status == Status::Paused || time < process.busy_until
    }

    /// Puts aside an event for a waiting node: in its backlog while it is paused (handled,
    /// in arrival order, at the resume), else back in the queue at the end of its fsyncs.
    pub(crate) fn set_aside(&mut self, node: NodeId, event: Event<M>) {
        let process = &mut self.processes[node.index()];
        if process.status == Status::Paused {
            process.backlog.push_back(event);
        } else {
            let at = process.busy_until;
            self.push_node_event(node, at, event);
        }
    }

    /// Queues an event that runs on `node`: in the world's queue, or in the node's own
    /// queue when another simulator drives the world.
    #[inline]
    pub(crate) fn push_node_event(&mut self, node: NodeId, at: u64, event: Event<M>) {
        match &mut self.hosted {
            None => self.queue.push(at, event),
            Some(hosted) => {
                let local = &mut hosted.local[node.index()];
                if local.peek_time().is_none_or(|first| at < first) {
                    hosted.woken.push(node);
                }
                local.push(at, event);
            }
        }
    }

    /// Whether a partition cuts `from -> to`, by link or by class (loopback never is).
    #[inline]
    pub(crate) fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.separates(&self.cuts, from, to)
    }

    /// Whether a clog holds messages on `from -> to`.
    #[inline]
    pub(crate) fn is_clogged(&self, from: NodeId, to: NodeId) -> bool {
        self.separates(&self.clogs, from, to)
    }

    #[inline(always)]
    fn separates(&self, cuts: &Cuts, from: NodeId, to: NodeId) -> bool {
        cuts.is_cut(from, to)
            || (cuts.has_class_cuts()
                && from != to
                && cuts.is_class_cut(self.network.class(from), self.network.class(to)))
    }

    pub(crate) fn send(&mut self, from: NodeId, to: NodeId, msg: M) {
        assert!(to.index() < self.processes.len(), "{from} sent to {to}, which does not exist");
        let now = self.handler_time(from);
        self.network.stats.sent += 1;
        let incarnation = self.processes[to.index()].incarnation;
        if let Some(hosted) = self.hosted.as_mut().filter(|_| from != to) {
            hosted.outbox[from.index()].push((to, msg));
            return;
        }
        if from == to {
            // Loopback is instant, unless the kind has a latency of its own (a replica process
            // beside its coordinator: PBS draws every replica's W, A, R and S).
            let rng = &mut self.processes[from.index()].network_rng;
            let delay =
                self.network.kind_latency(super::ids::kind_name(&msg)).map_or(0, |d| d.sample_nanos(rng));
            self.push_node_event(
                to,
                now.saturating_add(delay),
                Event::Deliver { from, to, incarnation, admitted: true, msg },
            );
            return;
        }
        let logged = |fate, arrives: Option<u64>, msg| sent_record(now, from, to, fate, arrives, msg);
        if self.is_cut(from, to) {
            self.network.stats.dropped_partition += 1;
            self.observations.message(logged(MessageFate::Cut, None, &msg), Time(now));
            return;
        }
        let rng = &mut self.processes[from.index()].network_rng;
        let route = self.network.route(now, from, to, msg.wire_size(), super::ids::kind_name(&msg), rng);
        if self.observations.message_window.is_some() {
            let (fate, at, again) = match &route {
                Route::Arrive(at, again) => (MessageFate::Sent, Some(*at), *again),
                _ => (MessageFate::Lost, None, None),
            };
            self.observations.message(logged(fate, at, &msg), Time(now));
            if let Some(again) = again {
                self.observations.message(logged(MessageFate::Duplicate, Some(again), &msg), Time(now));
            }
        }
        if let Route::Arrive(at, duplicate) = route {
            let replayed = self.replay.as_mut().and_then(|replay| {
                let chance = replay.chance;
                replay.rng.chance(chance).then(|| replay.rng.between(replay.delay.0, replay.delay.1))
            });
            if let Some(late) = replayed {
                // An old packet: a copy that arrives long after the original.
                let late = at + late;
                self.network.stats.duplicated += 1;
                self.network.stats.replayed += 1;
                self.observations.message(logged(MessageFate::Replayed, Some(late), &msg), Time(now));
                let copy = msg.clone();
                self.queue.push(late, Event::Deliver { from, to, incarnation, admitted: false, msg: copy });
            }
            if let Some(again) = duplicate {
                let copy = msg.clone();
                self.queue.push(at, Event::Deliver { from, to, incarnation, admitted: false, msg });
                self.queue.push(again, Event::Deliver { from, to, incarnation, admitted: false, msg: copy });
            } else {
                self.queue.push(at, Event::Deliver { from, to, incarnation, admitted: false, msg });
            }
        }
    }

    pub(crate) fn set_timer(&mut self, node: NodeId, after: Duration, payload: M::Timer) -> TimerId {
        let process = &self.processes[node.index()];
        let at = self.handler_time(node).saturating_add(process.clock.true_duration(after));
        let incarnation = process.incarnation;
        let slot = match self.free_timers.pop() {
            Some(slot) => {
                self.timers[slot as usize].payload = Some(payload);
                slot
            }
            None => {
                self.timers.push(TimerSlot { generation: 0, payload: Some(payload) });
                u32::try_from(self.timers.len() - 1).expect("fewer than 2^32 pending timers")
            }
        };
        let id = TimerId { slot, generation: self.timers[slot as usize].generation };
        self.push_node_event(node, at, Event::Timer { node, incarnation, id });
        id
    }

    /// Submits `request` to `node`'s disk (see `io`): it completes when the syncs before
    /// it are done and it took the disk's fsync latency.
    pub(crate) fn submit_io(&mut self, node: NodeId, request: IoRequest) -> IoId {
        let latency = duration_to_nanos(self.disks[node.index()].lock().config().fsync_latency);
        let now = self.handler_time(node);
        let process = &mut self.processes[node.index()];
        process.last_io += 1;
        let io = IoId(process.last_io);
        let done = process.disk_free_at.max(now).saturating_add(latency);
        process.disk_free_at = done;
        let incarnation = process.incarnation;
        self.push_node_event(node, done, Event::IoDone(Box::new(IoDone { node, incarnation, io, request })));
        io
    }

    pub(crate) fn cancel_timer(&mut self, id: TimerId) {
        if let Some(slot) = self.timers.get_mut(id.slot as usize) {
            if slot.generation == id.generation {
                slot.payload = None;
            }
        }
    }

    /// Queues what the workload driver asked for.
    pub(crate) fn schedule_workload(&mut self, next: impl IntoIterator<Item = Next>) {
        for next in next {
            match next {
                Next::Invoke(at, record) => {
                    let client = self.workload.as_ref().expect("a workload").records[record].client;
                    self.push_node_event(client, at, Event::Invoke { client, record });
                }
                Next::Arrival(at) => self.queue.push(at, Event::Arrival),
            }
        }
    }

    /// Records an operation `client` starts itself at `now`; returns its id.
    pub(crate) fn begin(&mut self, client: NodeId, now: u64, f: &str, key: u64, value: Value) -> u64 {
        let seed = self.seed;
        let driver = self.workload.get_or_insert_with(|| Driver::inert(seed.stream("workload", 0)));
        let (id, event) = driver.begin(client, now, f, key, value);
        self.observations.history.push(event);
        id
    }

    /// Records the end of operation `id` and issues what follows it.
    pub(crate) fn complete(&mut self, id: u64, outcome: Outcome, served_by: Option<NodeId>, now: u64) {
        let driver = self.workload.as_mut().expect("operations come from a workload");
        let (event, next) = driver.complete(now, id, outcome, served_by);
        self.observations.history.push(event);
        self.schedule_workload(next);
    }

    /// Frees a timer's slot when its queue entry is consumed; its id goes stale. Returns the
    /// payload if the timer was still armed.
    pub(crate) fn release_timer(&mut self, id: TimerId) -> Option<M::Timer> {
        let slot = &mut self.timers[id.slot as usize];
        slot.generation = slot.generation.wrapping_add(1);
        self.free_timers.push(id.slot);
        slot.payload.take()
    }
}

/// Replayed packets (`Fault::Replay`): each message between two nodes gets, with `chance`, a
/// copy that arrives `delay` (nanoseconds, uniform in the range) after the original would,
/// judged like any delivery when it arrives. Drawn from the stream `("replay", fault)`, so
/// turning it on changes no node's own network draws.
pub(crate) struct Replay {
    pub(crate) chance: Probability,
    pub(crate) delay: (u64, u64),
    pub(crate) rng: Rng,
}
