//! The native engine: a discrete-event loop over one priority queue.
//!
//! Events are ordered by (time, insertion sequence); time jumps to the next event. The
//! engine is generic over the message type, so a message is moved, never boxed, from `send`
//! to `on_message`. Faults are events too, so a schedule of faults interleaves with protocol
//! events deterministically.
//!
//! What the engine skips without counting an event: cancelled timers, timers of a crashed
//! incarnation, and events deferred because their node is paused or busy (they count when
//! they finally run). Deliveries dropped on arrival (partition, crash) do count: they are
//! visible network behaviour.

mod faults;
mod hosted;

pub use hosted::HostAction;

use std::sync::MutexGuard;
use std::time::Duration;

use super::buggify::{Buggify, BuggifyConfig, PointStat};
use super::ctx::Ctx;

use super::damage::{DamageBudget, Replicas};
use super::disk::{Disk, DiskConfig, DiskHandle};
use super::fault::{Fault, FaultOutcome, FaultRecord};
use super::hash::digest;
use super::ids::{Message, NodeId};
use super::io::{IoDone, IoRequest};
use super::network::{LinkModel, NetworkModel, NetworkStats};
use super::node::{Factory, Node};
use super::observe::Observations;
use super::partition::Cuts;
use super::queue::Queue;
use super::rng::Seed;
use super::time::Time;
use super::trace::{EventKind, TraceEvent, TraceHash};
use super::workload::{Driver, OpRecord, WorkloadConfig};
use super::world::{Event, Process, Status, StreamDelivery, World};

/// When `run` stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Run events up to and including this time; the clock then reads `until`.
    pub until: Time,
    /// Stop after this many events in total.
    pub max_events: u64,
}

impl Limits {
    /// Run for `duration` of simulated time from the start, with no event limit.
    pub fn duration(duration: Duration) -> Limits {
        Limits { until: Time::from_duration(duration), max_events: u64::MAX }
    }
}

/// Why `run` stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The next event is after the time limit.
    TimeLimit,
    /// The event limit was reached.
    EventLimit,
    /// Nothing is left to do.
    Quiescent,
}

/// A simulation of nodes exchanging messages of type `M`.
pub struct Sim<M: Message> {
    nodes: Vec<Option<Box<dyn Node<Msg = M>>>>,
    /// Per node, the factory of each version of its software (0: the one it was added with).
    factories: Vec<Vec<Factory<M>>>,
    /// Per node, the version it starts into.
    versions: Vec<u32>,
    world: World<M>,
    /// The next fault's index: its random streams are `("fault-choice", index)` for choosing
    /// targets and shapes and `("fault", index)` for its effects, so replaying a realized
    /// fault log (no choices left to make) draws the same effects.
    next_fault: u64,
    /// The node each fault hit, by fault index (for `Target::SameAs`).
    fault_targets: Vec<Option<NodeId>>,
    budget: DamageBudget,
    /// Every node's disk, for the per-block damage rule.
    replicas: Replicas,
    fault_log: Vec<FaultRecord>,
    trace: TraceHash,
}

impl<M: Message> Sim<M> {
    /// An empty simulation with root seed `seed` and `network` as every link's model.
    pub fn new(seed: u64, network: LinkModel) -> Sim<M> {
        let seed = Seed(seed);
        Sim {
            nodes: Vec::new(),
            factories: Vec::new(),
            versions: Vec::new(),
            world: World {
                now: 0,
                seed,
                queue: Queue::default(),
                processes: Vec::new(),
                disks: Vec::new(),
                timers: Vec::new(),
                free_timers: Vec::new(),
                network: NetworkModel::new(network),
                cuts: Cuts::default(),
                clogs: Cuts::default(),
                held: Vec::new(),
                replay: None,
                connections: Default::default(),
                arrived_on: None,
                clog_reorder: Default::default(),
                observations: Observations::default(),
                buggify: Buggify::default(),
                roles: Vec::new(),
                workload: None,
                hosted: None,
            },
            next_fault: 0,
            fault_targets: Vec::new(),
            budget: DamageBudget::default(),
            replicas: Replicas::default(),
            fault_log: Vec::new(),
            trace: TraceHash::default(),
        }
    }

    /// Adds a node built by `factory`, now and at every restart. It starts at the current
    /// time, after events already queued for that time. Its random streams are
    /// `("node", id)` and `("network", id)`, so adding it changes no other node's streams.
    pub fn add_node<N, F>(&mut self, factory: F) -> NodeId
    where
        N: Node<Msg = M> + 'static,
        F: Fn() -> N + 'static,
    {
        self.add_boxed_node(move || Box::new(factory()))
    }

    /// `add_node` for a factory that returns its node boxed (a system whose slots hold
    /// nodes of different types).
    pub fn add_boxed_node<F>(&mut self, factory: F) -> NodeId
    where
        F: Fn() -> Box<dyn Node<Msg = M>> + 'static,
    {
        let id = NodeId(u32::try_from(self.nodes.len()).expect("fewer than 2^32 nodes"));
        let seed = self.world.seed;
        self.factories.push(vec![Box::new(factory)]);
        self.versions.push(0);
        self.nodes.push(None);
        self.world.processes.push(Process {
            status: Status::Down,
            incarnation: 0,
            clock: Default::default(),
            rng: seed.stream("node", u64::from(id.0)),
            network_rng: seed.stream("network", u64::from(id.0)),
            backlog: Default::default(),
            busy_until: 0,
            handler_cost: 0,
            disk_free_at: 0,
            last_io: 0,
        });
        let disk = DiskHandle::new(Disk::default());
        disk.join(&self.replicas);
        self.world.disks.push(disk);
        self.world.roles.push(None);
        self.world.queue.push(self.world.now, Event::Start(id));
        id
    }

    /// Adds another version of `node`'s software, built by `factory`; returns its index
    /// (the node was added with version 0). `Fault::Version` picks the one it restarts into.
    pub fn add_version<F>(&mut self, node: NodeId, factory: F) -> u32
    where
        F: Fn() -> Box<dyn Node<Msg = M>> + 'static,
    {
        let versions = &mut self.factories[node.index()];
        versions.push(Box::new(factory));
        u32::try_from(versions.len() - 1).expect("fewer than 2^32 versions")
    }

    /// The version of its software `node` runs (or starts into).
    pub fn version(&self, node: NodeId) -> u32 {
        self.versions[node.index()]
    }

    /// The named random stream `(name, index)` of this simulation's seed, for a system that
    /// draws its setup (a population, a churn schedule) from the seed.
    pub fn stream(&self, name: &str, index: u64) -> crate::kernel::rng::Rng {
        self.world.seed.stream(name, index)
    }

    /// The network model, to set overrides before or during a run.
    pub fn network_mut(&mut self) -> &mut NetworkModel {
        &mut self.world.network
    }

    /// Replaces a node's disk configuration.
    pub fn set_disk_config(&mut self, node: NodeId, config: DiskConfig) {
        let mut disk = self.world.disks[node.index()].lock();
        // Per-I/O damage to files that are not replicated happens on the disks the damage
        // budget's count allows (replicated files follow the per-block rule).
        if config.damages() {
            disk.allow_damage(self.budget.allow(node));
        }
        disk.set_config(config);
        // Its errors are drawn from a stream of its own, made the first time it needs one.
        if disk.needs_error_stream() {
            disk.set_error_stream(self.world.seed.stream("disk-errors", u64::from(node.0)));
        }
    }

    /// Sets `node`'s clock before the run: `offset_nanos` off true time, running `drift_ppm`
    /// fast (negative: slow). Panics unless `drift_ppm > -1_000_000`.
    pub fn set_clock(&mut self, node: NodeId, offset_nanos: i64, drift_ppm: i64) {
        let clock = &mut self.world.processes[node.index()].clock;
        clock.step(Time::ZERO, offset_nanos);
        clock.set_drift(Time::ZERO, drift_ppm);
    }

    /// Turns protocol fault points on (`Ctx::buggify`); `None` leaves every point false.
    pub fn set_buggify(&mut self, config: Option<BuggifyConfig>) {
        self.world.buggify = Buggify::new(config);
    }

    /// The fault points the run met: name, and whether each was active, how often it was
    /// called and how often it fired.
    pub fn buggify_points(&self) -> impl Iterator<Item = (&'static str, &PointStat)> + '_ {
        self.world.buggify.points.iter().map(|(name, stat)| (*name, stat))
    }

    /// The fault point configuration, if points are on.
    pub fn buggify_config(&self) -> Option<&BuggifyConfig> {
        self.world.buggify.config()
    }

    /// Ends per-I/O disk damage and latency on every disk (`Disk::stop_injecting`): after a
    /// run, before its checks read the disks.
    pub fn stop_disk_faults(&mut self) {
        for disk in &self.world.disks {
            disk.lock().stop_injecting();
        }
    }

    /// How long a cut or clog lasts before it breaks a connection (see `connection`).
    pub fn set_keepalive(&mut self, keepalive: Duration) {
        self.world.connections.keepalive = crate::kernel::time::duration_to_nanos(keepalive).max(1);
    }

    /// Allows whole-disk damage (wipes, corruption, torn writes) on at most `max_nodes`
    /// nodes (per-I/O damage follows the per-block rule instead: see `damage`).
    pub fn set_damage_budget(&mut self, max_nodes: Option<usize>) {
        self.budget = DamageBudget::new(max_nodes);
    }

    /// The most nodes whose disks whole-disk damage may hit (`None`: unlimited).
    pub fn damage_budget(&self) -> Option<usize> {
        self.budget.max_nodes()
    }

    /// Whether `name` is a replicated file (see `set_replicated_files`).
    pub fn is_replicated(&self, name: &str) -> bool {
        self.replicas.is_replicated(name)
    }

    /// Declares the files whose names start with one of `prefixes` replicated: the servers
    /// hold them as copies of each other, block for block (see `damage`).
    pub fn set_replicated_files(&mut self, prefixes: &[&str]) {
        self.replicas.set_files(prefixes);
    }

    /// Schedules `fault` at `at` (not before now); returns its index, by which
    /// `Target::SameAs` can refer to it.
    pub fn schedule(&mut self, at: Time, fault: Fault) -> u64 {
        let index = self.take_fault_index();
        self.world.queue.push(at.as_nanos().max(self.world.now), Event::Fault(Box::new((index, fault))));
        index
    }

    /// Applies `fault` now, as an event of its own.
    pub fn apply(&mut self, fault: Fault) -> FaultOutcome {
        let index = self.take_fault_index();
        self.on_fault(index, fault);
        self.fault_log.last().expect("on_fault logs").outcome.clone()
    }

    fn take_fault_index(&mut self) -> u64 {
        self.next_fault += 1;
        self.next_fault - 1
    }

    /// Gives the simulation a workload: the driver starts issuing operations to the
    /// client nodes at `config.start`. Call once, after adding the clients.
    pub fn set_workload(&mut self, config: WorkloadConfig) {
        assert!(self.world.workload.is_none(), "a simulation has one workload");
        assert!(config.clients.iter().all(|c| c.index() < self.nodes.len()), "workload clients must exist");
        let mut driver = Driver::new(config, self.world.seed.stream("workload", 0));
        let start = driver.start();
        self.world.workload = Some(driver);
        self.world.schedule_workload(start);
    }

    /// Every workload operation so far, in issue order.
    pub fn operations(&self) -> &[OpRecord] {
        self.world.workload.as_ref().map_or(&[], |driver| &driver.records)
    }

    /// The role a node last reported (`Ctx::set_role`), cleared when it crashes.
    pub fn role(&self, node: NodeId) -> Option<&'static str> {
        self.world.roles[node.index()]
    }

    /// Runs the next event; `None` when the queue is empty.
    pub fn step(&mut self) -> Option<TraceEvent> {
        self.step_until(Time::MAX)
    }

    /// Runs the next event if it is due by `until`; `None` otherwise (time does not move).
    pub fn step_until(&mut self, until: Time) -> Option<TraceEvent> {
        self.next_event(until.as_nanos(), false).map(|(event, _)| event)
    }

    /// Like `step_until`, and also returns a description of the event (the message or
    /// fault in `Debug` form) for divergence reports and traces. Slower.
    pub fn step_described_until(&mut self, until: Time) -> Option<(TraceEvent, String)> {
        self.next_event(until.as_nanos(), true).map(|(event, text)| (event, text.unwrap_or_default()))
    }

    /// Runs events until a limit is reached or nothing is left.
    pub fn run(&mut self, limits: Limits) -> StopReason {
        let until = limits.until.as_nanos();
        loop {
            if self.trace.events() >= limits.max_events {
                return StopReason::EventLimit;
            }
            if self.next_event(until, false).is_none() {
                return match self.world.queue.peek_time() {
                    None => StopReason::Quiescent,
                    Some(_) => {
                        self.world.now = self.world.now.max(until);
                        StopReason::TimeLimit
                    }
                };
            }
        }
    }

    /// Runs until `until` (inclusive) with no event limit.
    pub fn run_until(&mut self, until: Time) -> StopReason {
        self.run(Limits { until, max_events: u64::MAX })
    }

    /// Current true time.
    pub fn now(&self) -> Time {
        Time(self.world.now)
    }

    /// The trace hash of all events so far.
    pub fn trace_hash(&self) -> u64 {
        self.trace.value()
    }

    /// How many events have run.
    pub fn events(&self) -> u64 {
        self.trace.events()
    }

    /// Message counts so far.
    pub fn network_stats(&self) -> NetworkStats {
        self.world.network.stats()
    }

    /// Records the messages (datagrams and streams) sent in [from, to], at most `limit`
    /// (the report's message diagram); off by default.
    pub fn record_messages(&mut self, from: Time, to: Time, limit: usize) {
        self.world.observations.message_window = Some((from, to, limit));
    }

    /// Histories, assertions and metrics reported by nodes.
    pub fn observations(&self) -> &Observations {
        &self.world.observations
    }

    /// The realized fault timeline.
    pub fn fault_log(&self) -> &[FaultRecord] {
        &self.fault_log
    }

    /// A node's disk (for inspection in tests and checks).
    pub fn disk(&self, node: NodeId) -> MutexGuard<'_, Disk> {
        self.world.disks[node.index()].lock()
    }

    /// Whether a node is up, down or paused.
    pub fn status(&self, node: NodeId) -> Status {
        self.world.processes[node.index()].status
    }

    /// A node's local clock reading now.
    pub fn local_time(&self, node: NodeId) -> Time {
        self.world.processes[node.index()].clock.read(self.now())
    }

    /// Queue entries waiting (events, plus cancelled timers not yet skipped).
    pub fn pending(&self) -> usize {
        self.world.queue.len()
    }

    /// Messages sent but not yet delivered or dropped: on the wire, or queued at a paused
    /// or busy node. With the network counters this closes the books:
    /// `sent + duplicated = delivered + dropped + in flight`.
    pub fn messages_in_flight(&self) -> u64 {
        let is_message = |event: &Event<M>| matches!(event, Event::Deliver { .. } | Event::Stream(_));
        let queued = self.world.queue.iter().filter(|event| is_message(event)).count();
        let waiting: usize =
            self.world.processes.iter().map(|p| p.backlog.iter().filter(|e| is_message(e)).count()).sum();
        (queued + waiting + self.world.held.len() + self.world.connections.waiting()) as u64
    }

    /// How many nodes there are.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Pops queue entries up to `until` until one is an event; runs it.
    #[inline(always)]
    fn next_event(&mut self, until: u64, describe: bool) -> Option<(TraceEvent, Option<String>)> {
        while let Some(time) = self.world.queue.peek_time() {
            if time > until {
                return None;
            }
            let (time, event) = self.world.queue.pop().expect("peeked");
            if let Some(done) = self.on_event(time, event, describe) {
                return Some(done);
            }
        }
        None
    }

    /// Handles one queue entry; `None` if it was skipped or deferred rather than run.
    #[inline(always)]
    fn on_event(
        &mut self,
        time: u64,
        event: Event<M>,
        describe: bool,
    ) -> Option<(TraceEvent, Option<String>)> {
        match event {
            Event::Deliver { from, to, incarnation, admitted, msg } => {
                let cut = !admitted && self.world.is_cut(from, to);
                let process = &mut self.world.processes[to.index()];
                let mut kind = EventKind::Deliver;
                if process.status == Status::Down || process.incarnation != incarnation {
                    self.world.network.stats.dropped_crashed += 1;
                    kind = EventKind::DropCrashed;
                } else if cut {
                    self.world.network.stats.dropped_partition += 1;
                    kind = EventKind::DropPartitioned;
                } else if !admitted && self.world.is_clogged(from, to) {
                    self.world.network.stats.clogged += 1;
                    self.world.held.push(Event::Deliver { from, to, incarnation, admitted, msg });
                    return None;
                } else if self.world.is_waiting(time, to) {
                    self.world.set_aside(to, Event::Deliver { from, to, incarnation, admitted: true, msg });
                    return None;
                }
                let event = self.happen(time, to, kind, Some(from), digest(&msg));
                let text = describe.then(|| format!("{kind:?} {from} -> {to}: {msg:?}"));
                if kind == EventKind::Deliver {
                    self.world.network.stats.delivered += 1;
                    self.call(to, |node, ctx| node.on_message(ctx, from, msg));
                }
                Some((event, text))
            }
            Event::Stream(delivery) => self.on_stream(time, *delivery, describe),
            Event::ConnCheck { conn, check } => {
                self.world.now = time;
                self.world.check_connection(conn, check);
                None
            }
            Event::Closed { node, incarnation, conn } => {
                self.on_closed(time, node, incarnation, conn, describe)
            }
            Event::IoDone(done) => self.on_io_done(time, done, describe),
            Event::Timer { node, incarnation, id } => {
                let process = &self.world.processes[node.index()];
                let armed = self.world.timers[id.slot as usize].payload.is_some();
                if !armed || process.status == Status::Down || process.incarnation != incarnation {
                    self.world.release_timer(id);
                    return None;
                }
                if self.world.is_waiting(time, node) {
                    self.world.set_aside(node, Event::Timer { node, incarnation, id });
                    return None;
                }
                let payload = self.world.release_timer(id).expect("an armed timer has its payload");
                let event = self.happen(time, node, EventKind::Timer, None, 0);
                let text = describe.then(|| format!("Timer at {node}: {payload:?}"));
                self.call(node, |value, ctx| value.on_timer(ctx, payload));
                Some((event, text))
            }
            Event::Start(node) => {
                if self.world.processes[node.index()].status != Status::Down {
                    return None; // already booted by a restart applied before its start
                }
                let event = self.happen(time, node, EventKind::Start, None, 0);
                self.boot(node);
                Some((event, describe.then(|| format!("Start {node}"))))
            }
            Event::Arrival => {
                self.world.now = time;
                let next =
                    self.world.workload.as_mut().expect("arrivals come from a workload").on_arrival(time);
                self.world.schedule_workload(next);
                None
            }
            Event::Invoke { client, record } => {
                if self.world.processes[client.index()].status == Status::Down {
                    // A client that is down invokes nothing: the operation waits for its
                    // restart (its latency, counted from its intended start, grows).
                    self.world.processes[client.index()].backlog.push_back(Event::Invoke { client, record });
                    return None;
                }
                if self.world.is_waiting(time, client) {
                    self.world.set_aside(client, Event::Invoke { client, record });
                    return None;
                }
                self.world.now = time;
                let driver = self.world.workload.as_mut().expect("invocations come from a workload");
                let history = driver.on_invoke(time, record);
                let op = driver.records[record].op.clone();
                self.world.observations.history.push(history);
                let event = self.happen(time, client, EventKind::Invoke, None, digest(&op));
                let text = describe.then(|| format!("Invoke at {client}: {op:?}"));
                self.call(client, |node, ctx| node.on_invoke(ctx, op));
                Some((event, text))
            }
            Event::Fault(fault) => {
                self.world.now = time;
                let (index, fault) = *fault;
                let text = describe.then(|| format!("Fault #{index} {fault:?}"));
                Some((self.on_fault(index, fault), text))
            }
        }
    }

    /// A message on a connection arrives (kept out of `on_event`, whose datagram path stays
    /// small enough to inline).
    #[inline(never)]
    fn on_stream(
        &mut self,
        time: u64,
        delivery: StreamDelivery<M>,
        describe: bool,
    ) -> Option<(TraceEvent, Option<String>)> {
        let StreamDelivery { conn, from, seq, admitted, msg } = delivery;
        let to = conn.peer(from);
        let msg = if admitted { msg } else { self.world.stream_arrival(time, conn, from, seq, msg)? };
        if self.world.is_waiting(time, to) {
            let delivery = StreamDelivery { conn, from, seq, admitted: true, msg };
            self.world.set_aside(to, Event::Stream(Box::new(delivery)));
            return None;
        }
        let event = self.happen(time, to, EventKind::Deliver, Some(from), digest(&msg));
        let text = describe.then(|| format!("Deliver {from} -> {to} on {conn:?}: {msg:?}"));
        self.world.network.stats.delivered += 1;
        self.world.arrived_on = Some(conn);
        self.call(to, |node, ctx| node.on_message(ctx, from, msg));
        self.world.arrived_on = None;
        Some((event, text))
    }

    /// Tells a node that a connection closed.
    #[inline(never)]
    fn on_closed(
        &mut self,
        time: u64,
        node: NodeId,
        incarnation: u32,
        conn: crate::kernel::connection::ConnId,
        describe: bool,
    ) -> Option<(TraceEvent, Option<String>)> {
        let process = &self.world.processes[node.index()];
        if process.status == Status::Down || process.incarnation != incarnation {
            return None;
        }
        if self.world.is_waiting(time, node) {
            self.world.set_aside(node, Event::Closed { node, incarnation, conn });
            return None;
        }
        let event = self.happen(time, node, EventKind::Closed, Some(conn.peer(node)), digest(&conn));
        let text = describe.then(|| format!("Closed at {node}: {conn:?}"));
        self.call(node, |value, ctx| value.on_closed(ctx, conn));
        Some((event, text))
    }

    /// A submitted sync completes: it happens on the disk now, and the node hears of it.
    #[inline(never)]
    fn on_io_done(
        &mut self,
        time: u64,
        done: Box<IoDone>,
        describe: bool,
    ) -> Option<(TraceEvent, Option<String>)> {
        let node = done.node;
        let process = &self.world.processes[node.index()];
        if process.status == Status::Down || process.incarnation != done.incarnation {
            return None; // lost with the crash: it never happened
        }
        if self.world.is_waiting(time, node) {
            self.world.set_aside(node, Event::IoDone(done));
            return None;
        }
        let IoDone { io, request, .. } = *done;
        let disk = &self.world.disks[node.index()];
        let result = match &request {
            IoRequest::Fsync(name) => disk.lock().fsync(name),
            IoRequest::SyncDir => {
                disk.lock().sync_dir();
                Ok(())
            }
        };
        // The sync's time was spent on the disk's queue, not by the handler.
        disk.take_pending_latency();
        let event = self.happen(time, node, EventKind::IoDone, None, digest(&(io, &request, &result)));
        let text = describe.then(|| format!("IoDone at {node}: {io:?} {request:?} {result:?}"));
        self.call(node, |value, ctx| value.on_io_done(ctx, io, result));
        Some((event, text))
    }

    /// An event happens at `node`: the clock moves to `time` and it joins the trace.
    #[inline(always)]
    fn happen(
        &mut self,
        time: u64,
        node: NodeId,
        kind: EventKind,
        peer: Option<NodeId>,
        digest: u64,
    ) -> TraceEvent {
        self.world.now = time;
        self.trace.record(TraceEvent { index: 0, time: Time(time), node: Some(node), kind, peer, digest })
    }

    /// Builds a fresh value for `node` and runs `on_start` (boot and restart); then the
    /// operations handed to it while it was down.
    fn boot(&mut self, node: NodeId) {
        let version = self.versions[node.index()] as usize;
        self.nodes[node.index()] = Some((self.factories[node.index()][version])());
        self.world.processes[node.index()].status = Status::Up;
        self.call(node, |value, ctx| value.on_start(ctx));
        let now = self.world.now;
        for event in std::mem::take(&mut self.world.processes[node.index()].backlog) {
            self.world.push_node_event(node, now, event);
        }
    }

    /// Calls a handler on `node`, then charges what its fsyncs cost as busy time.
    #[inline]
    fn call(&mut self, node: NodeId, handler: impl FnOnce(&mut dyn Node<Msg = M>, &mut Ctx<'_, M>)) {
        let value = self.nodes[node.index()].as_deref_mut().expect("an up node has a value");
        handler(value, &mut Ctx::new(&mut self.world, node));
        let latency = self.world.disks[node.index()].take_pending_latency()
            + self.world.processes[node.index()].handler_cost;
        if latency > 0 {
            self.world.processes[node.index()].busy_until = self.world.now + latency;
        }
    }
}
