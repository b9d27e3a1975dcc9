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

use std::time::Duration;

use crate::ctx::Ctx;
use std::sync::MutexGuard;

use crate::disk::{Disk, DiskConfig, DiskHandle};
use crate::fault::{DamageBudget, Fault, FaultOutcome, FaultRecord, Target};
use crate::hash::digest;
use crate::network::{LinkModel, NetworkModel, NetworkStats};
use crate::node::{Factory, Message, Node, NodeId};
use crate::observe::Observations;
use crate::partition::Cuts;
use crate::partition::Partition;
use crate::queue::Queue;
use crate::rng::{Rng, Seed};
use crate::time::Time;
use crate::trace::{EventKind, TraceEvent, TraceHash};
use crate::workload::{Driver, OpRecord, Outcome, WorkloadConfig};
use crate::world::{Event, Process, Status, World};

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
    factories: Vec<Factory<M>>,
    world: World<M>,
    /// The next fault's index: its random streams are `("fault-choice", index)` for choosing
    /// targets and shapes and `("fault", index)` for its effects, so replaying a realized
    /// fault log (no choices left to make) draws the same effects.
    next_fault: u64,
    /// The node each fault hit, by fault index (for `Target::SameAs`).
    fault_targets: Vec<Option<NodeId>>,
    budget: DamageBudget,
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
                observations: Observations::default(),
                roles: Vec::new(),
                workload: None,
            },
            next_fault: 0,
            fault_targets: Vec::new(),
            budget: DamageBudget::default(),
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
        self.factories.push(Box::new(factory));
        self.nodes.push(None);
        self.world.processes.push(Process {
            status: Status::Down,
            incarnation: 0,
            clock: Default::default(),
            rng: seed.stream("node", u64::from(id.0)),
            network_rng: seed.stream("network", u64::from(id.0)),
            backlog: Default::default(),
            busy_until: 0,
        });
        self.world.disks.push(DiskHandle::new(Disk::default()));
        self.world.roles.push(None);
        self.world.queue.push(self.world.now, Event::Start(id));
        id
    }

    /// The named random stream `(name, index)` of this simulation's seed, for a system that
    /// draws its setup (a population, a churn schedule) from the seed.
    pub fn stream(&self, name: &str, index: u64) -> crate::rng::Rng {
        self.world.seed.stream(name, index)
    }

    /// The network model, to set overrides before or during a run.
    pub fn network_mut(&mut self) -> &mut NetworkModel {
        &mut self.world.network
    }

    /// Replaces a node's disk configuration.
    pub fn set_disk_config(&mut self, node: NodeId, config: DiskConfig) {
        self.world.disks[node.index()].lock().set_config(config);
    }

    /// Allows disk damage (corruption, torn writes) on at most `max_nodes` nodes.
    pub fn set_damage_budget(&mut self, max_nodes: Option<usize>) {
        self.budget = DamageBudget::new(max_nodes);
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
        let is_message = |event: &Event<M>| matches!(event, Event::Deliver { .. });
        let queued = self.world.queue.iter().filter(|event| is_message(event)).count();
        let waiting: usize =
            self.world.processes.iter().map(|p| p.backlog.iter().filter(|e| is_message(e)).count()).sum();
        (queued + waiting) as u64
    }

    /// How many nodes there are.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Pops queue entries up to `until` until one is an event; runs it.
    #[inline]
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
    #[inline]
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
                } else if process.status == Status::Paused {
                    process.backlog.push_back(Event::Deliver { from, to, incarnation, admitted: true, msg });
                    return None;
                } else if time < process.busy_until {
                    let busy_until = process.busy_until;
                    self.world
                        .queue
                        .push(busy_until, Event::Deliver { from, to, incarnation, admitted: true, msg });
                    return None;
                }
                self.world.now = time;
                let event = self.trace.record(TraceEvent {
                    index: 0,
                    time: Time(time),
                    node: Some(to),
                    kind,
                    peer: Some(from),
                    digest: digest(&msg),
                });
                let text = describe.then(|| format!("{kind:?} {from} -> {to}: {msg:?}"));
                if kind == EventKind::Deliver {
                    self.world.network.stats.delivered += 1;
                    self.call(to, |node, ctx| node.on_message(ctx, from, msg));
                }
                Some((event, text))
            }
            Event::Timer { node, incarnation, id } => {
                let process = &mut self.world.processes[node.index()];
                let armed = self.world.timers[id.slot as usize].armed;
                if !armed || process.status == Status::Down || process.incarnation != incarnation {
                    self.world.release_timer(id);
                    return None;
                }
                if process.status == Status::Paused {
                    process.backlog.push_back(Event::Timer { node, incarnation, id });
                    return None;
                }
                if time < process.busy_until {
                    let busy_until = process.busy_until;
                    self.world.queue.push(busy_until, Event::Timer { node, incarnation, id });
                    return None;
                }
                self.world.release_timer(id);
                self.world.now = time;
                let event = self.trace.record(TraceEvent {
                    index: 0,
                    time: Time(time),
                    node: Some(node),
                    kind: EventKind::Timer,
                    peer: None,
                    digest: 0,
                });
                let text = describe.then(|| format!("Timer at {node}: {id:?}"));
                self.call(node, |value, ctx| value.on_timer(ctx, id));
                Some((event, text))
            }
            Event::Start(node) => {
                if self.world.processes[node.index()].status != Status::Down {
                    return None; // already booted by a restart applied before its start
                }
                self.world.now = time;
                let event = self.trace.record(TraceEvent {
                    index: 0,
                    time: Time(time),
                    node: Some(node),
                    kind: EventKind::Start,
                    peer: None,
                    digest: 0,
                });
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
                let process = &mut self.world.processes[client.index()];
                if process.status == Status::Paused {
                    process.backlog.push_back(Event::Invoke { client, record });
                    return None;
                }
                if time < process.busy_until {
                    let busy_until = process.busy_until;
                    self.world.queue.push(busy_until, Event::Invoke { client, record });
                    return None;
                }
                self.world.now = time;
                let driver = self.world.workload.as_mut().expect("invocations come from a workload");
                let history = driver.on_invoke(time, record);
                let op = driver.records[record].op.clone();
                self.world.observations.history.push(history);
                let event = self.trace.record(TraceEvent {
                    index: 0,
                    time: Time(time),
                    node: Some(client),
                    kind: EventKind::Invoke,
                    peer: None,
                    digest: digest(&op),
                });
                let text = describe.then(|| format!("Invoke at {client}: {op:?}"));
                if self.world.processes[client.index()].status == Status::Down {
                    self.world.complete(op.id, Outcome::Fail, None, time);
                } else {
                    self.call(client, |node, ctx| node.on_invoke(ctx, op));
                }
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

    /// Builds a fresh value for `node` and runs `on_start` (boot and restart).
    fn boot(&mut self, node: NodeId) {
        self.nodes[node.index()] = Some((self.factories[node.index()])());
        self.world.processes[node.index()].status = Status::Up;
        self.call(node, |value, ctx| value.on_start(ctx));
    }

    /// Calls a handler on `node`, then charges what its fsyncs cost as busy time.
    #[inline]
    fn call(&mut self, node: NodeId, handler: impl FnOnce(&mut dyn Node<Msg = M>, &mut Ctx<'_, M>)) {
        let value = self.nodes[node.index()].as_deref_mut().expect("an up node has a value");
        handler(value, &mut Ctx::new(&mut self.world, node));
        let latency = self.world.disks[node.index()].take_pending_latency();
        if latency > 0 {
            self.world.processes[node.index()].busy_until = self.world.now + latency;
        }
    }

    /// Applies fault number `index` at the current time, logs it, and records it as an event.
    fn on_fault(&mut self, index: u64, fault: Fault) -> TraceEvent {
        let mut choices = self.world.seed.stream("fault-choice", index);
        let mut effects = self.world.seed.stream("fault", index);
        let (realized, outcome) = match self.resolve(&fault, &mut choices) {
            Ok(Some(node)) => self.realize(fault.resolved(node), &mut choices, &mut effects),
            Ok(None) => self.realize(fault, &mut choices, &mut effects),
            Err(reason) => (fault, FaultOutcome::Skipped(reason)),
        };
        if let Some(node) = realized.node() {
            let slot = index as usize;
            if self.fault_targets.len() <= slot {
                self.fault_targets.resize(slot + 1, None);
            }
            self.fault_targets[slot] = Some(node);
        }
        let event = self.trace.record(TraceEvent {
            index: 0,
            time: self.now(),
            node: realized.node(),
            kind: EventKind::Fault,
            peer: None,
            digest: digest(&format!("{realized:?} {outcome:?}")),
        });
        self.fault_log.push(FaultRecord {
            index,
            time: self.now(),
            fault: realized.clone(),
            outcome: outcome.clone(),
        });
        if outcome == FaultOutcome::Applied {
            if let Fault::Restart(Target::Node(node)) = realized {
                self.boot(node);
            }
        }
        event
    }

    /// The node a fault hits: `Ok(None)` for faults that hit no single node.
    fn resolve(&self, fault: &Fault, choices: &mut Rng) -> Result<Option<NodeId>, String> {
        let Some(target) = fault.target() else { return Ok(None) };
        let node = match target {
            Target::Node(node) => Some(*node),
            Target::Random(among) => choices.pick(among).copied(),
            Target::Role { role, among } => {
                let holders: Vec<NodeId> = among
                    .iter()
                    .copied()
                    .filter(|n| self.world.roles[n.index()] == Some(role.as_str()))
                    .collect();
                match choices.pick(&holders) {
                    Some(node) => Some(*node),
                    None => return Err(format!("no node is {role}")),
                }
            }
            Target::SameAs(earlier) => self.fault_targets.get(*earlier as usize).copied().flatten(),
        };
        match node {
            Some(node) if node.index() < self.nodes.len() => Ok(Some(node)),
            Some(node) => Err(format!("{node} does not exist")),
            None => Err(format!("{target} is not a node")),
        }
    }

    /// Applies a partition's cuts; returns its realized form.
    fn cut(&mut self, partition: &Partition, choices: &mut Rng) -> Fault {
        let realized = partition.realize(choices);
        if let Partition::Classes(groups) = &realized {
            self.world.cuts.cut_classes(groups);
        }
        for (from, to) in realized.cuts(choices) {
            self.world.cuts.cut(from, to);
        }
        Fault::Partition(realized)
    }

    /// Applies a fault's effect on the world; returns its realized form and outcome.
    /// (A restart's `on_start` runs after the fault is logged, in `on_fault`.)
    fn realize(&mut self, fault: Fault, choices: &mut Rng, effects: &mut Rng) -> (Fault, FaultOutcome) {
        let skipped = |reason: String| FaultOutcome::Skipped(reason);
        let now = self.now();
        let node = fault.node().unwrap_or_default();
        let status = self.world.processes.get(node.index()).map(|p| p.status);
        let outcome = match &fault {
            Fault::Partition(partition) => return (self.cut(partition, choices), FaultOutcome::Applied),
            Fault::Isolate { among, .. } => {
                let partition = Partition::Isolate { node: Some(node), among: among.clone() };
                return (self.cut(&partition, choices), FaultOutcome::Applied);
            }
            Fault::Heal => {
                self.world.cuts.heal();
                FaultOutcome::Applied
            }
            Fault::Crash(_) if status == Some(Status::Down) => skipped(format!("{node} is down")),
            Fault::Crash(_) => {
                self.crash(node, effects);
                FaultOutcome::Applied
            }
            Fault::Restart(_) if status != Some(Status::Down) => skipped(format!("{node} is not down")),
            Fault::Restart(_) => FaultOutcome::Applied,
            Fault::Pause(_) if status != Some(Status::Up) => skipped(format!("{node} is not up")),
            Fault::Pause(_) => {
                self.world.processes[node.index()].status = Status::Paused;
                FaultOutcome::Applied
            }
            Fault::Resume(_) if status != Some(Status::Paused) => skipped(format!("{node} is not paused")),
            Fault::Resume(_) => {
                let process = &mut self.world.processes[node.index()];
                process.status = Status::Up;
                for event in std::mem::take(&mut process.backlog) {
                    self.world.queue.push(now.as_nanos(), event);
                }
                FaultOutcome::Applied
            }
            Fault::ClockStep { delta_nanos, .. } => {
                self.world.processes[node.index()].clock.step(now, *delta_nanos);
                FaultOutcome::Applied
            }
            Fault::ClockDrift { ppm, .. } if *ppm <= -1_000_000 => {
                skipped(format!("drift {ppm} ppm would stop {node}'s clock"))
            }
            Fault::ClockDrift { ppm, .. } => {
                self.world.processes[node.index()].clock.set_drift(now, *ppm);
                FaultOutcome::Applied
            }
            Fault::Corrupt { file, offset, len, .. } => {
                let mut disk = self.world.disks[node.index()].lock();
                if !disk.exists(file) {
                    skipped(format!("{node} has no file {file:?}"))
                } else if !self.budget.allow(node) {
                    skipped(format!("damage budget spent: {node}'s disk may not be damaged"))
                } else {
                    disk.corrupt(file, *offset, *len, effects).expect("file exists");
                    FaultOutcome::Applied
                }
            }
            Fault::Disk { change, .. } => {
                let mut disk = self.world.disks[node.index()].lock();
                let config = change.apply(disk.config());
                disk.set_config(config);
                FaultOutcome::Applied
            }
            Fault::Network(model) => {
                self.world.network.set_default(model.clone());
                FaultOutcome::Applied
            }
        };
        (fault, outcome)
    }

    /// Drops the node's value, timers, queued and in-flight messages, and unsynced writes.
    fn crash(&mut self, node: NodeId, effects: &mut Rng) {
        // Fence first: the node's destructors run when its value is dropped, and must not
        // reach the disk (a crashed process runs no code).
        self.world.disks[node.index()].fence();
        self.nodes[node.index()] = None;
        self.world.roles[node.index()] = None;
        let process = &mut self.world.processes[node.index()];
        process.status = Status::Down;
        process.incarnation += 1;
        process.busy_until = 0;
        for event in std::mem::take(&mut process.backlog) {
            match event {
                Event::Timer { id, .. } => self.world.release_timer(id),
                Event::Deliver { .. } => self.world.network.stats.dropped_crashed += 1,
                Event::Invoke { client, record } => {
                    self.world.queue.push(self.world.now, Event::Invoke { client, record })
                }
                Event::Start(_) | Event::Fault(_) | Event::Arrival => {
                    unreachable!("only deliveries, timers and invocations queue up")
                }
            }
        }
        let mut disk = self.world.disks[node.index()].lock();
        let tear = disk.could_tear() && self.budget.would_allow(node);
        if disk.crash(tear, effects) {
            self.budget.allow(node);
        }
    }
}
