//! Hosted mode: the engine's side of a run that another simulator drives.
//!
//! A backend (madsim, turmoil: `crate::backend`) owns time and the network: each node runs
//! in a task of its own that sleeps on the backend's timers and reads the backend's sockets.
//! Everything else stays here, in the same `World` the native engine uses: node values,
//! disks, random streams, the workload driver, histories, facts and the trace hash, so a
//! hosted run is judged and reported exactly like a native one.
//!
//! The calls a backend makes: [`Sim::host`] once; per node task, [`Sim::hosted_boot`] when
//! its software starts, [`Sim::hosted_deliver`] for each message that arrives,
//! [`Sim::hosted_run_due`] when its next own event ([`Sim::hosted_next`]) is due, and after
//! each of those [`Sim::hosted_outbox`] (what to send) and [`Sim::busy_until`] (how long its
//! fsyncs keep it busy); per controller step, [`Sim::hosted_run_global`] (faults and open-loop
//! arrivals) and [`Sim::hosted_woken`] (tasks to wake).

use super::Sim;
use crate::kernel::fault::{Fault, FaultOutcome};
use crate::kernel::ids::{Message, NodeId};
use crate::kernel::network::{LinkModel, NetworkModel};
use crate::kernel::queue::Queue;
use crate::kernel::time::Time;
use crate::kernel::trace::{EventKind, TraceEvent};
use crate::kernel::world::{Event, Hosted, Status, World};

/// What a backend must do on its side after the controller applied a fault.
#[derive(Clone, Debug, PartialEq)]
pub enum HostAction {
    /// Stop the node's software (its value is already dropped here).
    Kill(NodeId),
    /// Start the node's software again; it calls `hosted_boot`.
    Restart(NodeId),
    /// Stop polling the node's tasks.
    Pause(NodeId),
    /// Poll them again.
    Resume(NodeId),
    /// The partition changed: cut exactly the links [`Sim::link_cuts`] names.
    Cuts,
    /// The clogs changed: hold exactly the links [`Sim::link_clogs`] names, and deliver
    /// what the others held.
    Clogs,
    /// Every link now follows this model.
    Network(LinkModel),
}

impl<M: Message> Sim<M> {
    /// Hands time and the network to another simulator. Call once, after the simulation is
    /// built and before anything ran.
    pub fn host(&mut self) {
        assert!(self.world.hosted.is_none() && self.events() == 0, "host a simulation once, before it runs");
        let n = self.nodes.len();
        self.world.hosted = Some(Box::new(Hosted {
            outbox: (0..n).map(|_| Vec::new()).collect(),
            local: (0..n).map(|_| Queue::default()).collect(),
            woken: Vec::new(),
        }));
        // Node events move to the nodes' own queues, in order; boots are the backend's.
        let mut global = Queue::default();
        while let Some((time, event)) = self.world.queue.pop() {
            match event {
                Event::Start(_) => {}
                Event::Invoke { client, .. } => self.world.push_node_event(client, time, event),
                Event::Timer { node, .. } => self.world.push_node_event(node, time, event),
                Event::IoDone(ref done) => self.world.push_node_event(done.node, time, event),
                Event::Deliver { to, .. } => self.world.push_node_event(to, time, event),
                Event::Stream(_) | Event::ConnCheck { .. } | Event::Closed { .. } => {
                    unreachable!("hosted connections are the backend's")
                }
                Event::Fault(_) | Event::Arrival => global.push(time, event),
            }
        }
        self.world.queue = global;
        self.hosted().woken.clear();
    }

    /// Whether another simulator drives this simulation.
    pub fn is_hosted(&self) -> bool {
        self.world.hosted.is_some()
    }

    fn hosted(&mut self) -> &mut Hosted<M> {
        self.world.hosted.as_deref_mut().expect("a hosted simulation")
    }

    /// The backend started `node`'s software at `now`: boot it (first start or restart).
    pub fn hosted_boot(&mut self, node: NodeId, now: Time) {
        self.world.now = now.as_nanos();
        self.trace.record(TraceEvent {
            index: 0,
            time: now,
            node: Some(node),
            kind: EventKind::Start,
            peer: None,
            digest: 0,
        });
        self.boot(node);
    }

    /// A message from `from` arrived at `to` over the backend's network at `now`. The
    /// backend already decided loss and partitions; a busy node runs it when it is free.
    pub fn hosted_deliver(&mut self, now: Time, from: NodeId, to: NodeId, msg: M) {
        let incarnation = self.world.processes[to.index()].incarnation;
        self.on_event(now.as_nanos(), Event::Deliver { from, to, incarnation, admitted: true, msg }, false);
    }

    /// When `node`'s next own event (timer, invocation, loopback message) is due.
    pub fn hosted_next(&self, node: NodeId) -> Option<Time> {
        let hosted = self.world.hosted.as_deref().expect("a hosted simulation");
        hosted.local[node.index()].peek_time().map(Time)
    }

    /// Runs `node`'s own events that are due by `now`, at `now` (the backend's timers
    /// fire when they fire: tokio's are millisecond-grained).
    pub fn hosted_run_due(&mut self, node: NodeId, now: Time) {
        while self.hosted_next(node).is_some_and(|due| due <= now) {
            let (_, event) = self.hosted().local[node.index()].pop().expect("peeked");
            self.on_event(now.as_nanos().max(self.world.now), event, false);
        }
    }

    /// The messages `node`'s handlers sent since the last call, for the backend to carry.
    pub fn hosted_outbox(&mut self, node: NodeId) -> Vec<(NodeId, M)> {
        std::mem::take(&mut self.hosted().outbox[node.index()])
    }

    /// The nodes whose next own event moved earlier because of another task (a workload
    /// invocation handed to a client): their tasks must wake and look again.
    pub fn hosted_woken(&mut self) -> Vec<NodeId> {
        std::mem::take(&mut self.hosted().woken)
    }

    /// Until when `node` is busy with the fsyncs its last handler made (it must not run
    /// anything before).
    pub fn busy_until(&self, node: NodeId) -> Time {
        Time(self.world.processes[node.index()].busy_until)
    }

    /// When the controller's next event is due: a fault, an open-loop arrival, or an event
    /// of a node whose software is down (an invocation it fails, a timer it drops).
    pub fn hosted_next_global(&self) -> Option<Time> {
        let hosted = self.world.hosted.as_deref().expect("a hosted simulation");
        let down = (0..self.nodes.len())
            .filter(|&i| self.is_crashed(NodeId(i as u32)))
            .filter_map(|i| hosted.local[i].peek_time());
        self.world.queue.peek_time().into_iter().chain(down).min().map(Time)
    }

    /// Runs the controller's events due by `now`; returns what the backend must mirror.
    pub fn hosted_run_global(&mut self, now: Time) -> Vec<HostAction> {
        let logged = self.fault_log.len();
        // At its own time: the controller woke for it, and what is left is the backend's
        // jitter (madsim wakes 50 ns late; turmoil acts on tick boundaries), which would move
        // a fault off the time the scenario gives it.
        while self.world.queue.peek_time().is_some_and(|due| due <= now.as_nanos()) {
            let (due, event) = self.world.queue.pop().expect("peeked");
            self.on_event(due.max(self.world.now), event, false);
        }
        for node in (0..self.nodes.len()).map(|i| NodeId(i as u32)) {
            if self.is_crashed(node) {
                self.hosted_run_due(node, now);
            }
        }
        let mut actions = Vec::new();
        for record in &self.fault_log[logged..] {
            if record.outcome != FaultOutcome::Applied {
                continue;
            }
            let node = record.fault.node();
            actions.push(match &record.fault {
                Fault::Crash(_) => HostAction::Kill(node.expect("a crash hits a node")),
                Fault::Restart(_) => HostAction::Restart(node.expect("a restart hits a node")),
                Fault::Pause(_) => HostAction::Pause(node.expect("a pause hits a node")),
                Fault::Resume(_) => HostAction::Resume(node.expect("a resume hits a node")),
                Fault::Partition(_) | Fault::Isolate { .. } | Fault::Heal | Fault::HealOne(_) => {
                    HostAction::Cuts
                }
                Fault::Clog { .. } | Fault::Unclog | Fault::UnclogOne(_) => HostAction::Clogs,
                Fault::Replay { .. } | Fault::Links { .. } | Fault::LinksRestore(_) => {
                    unreachable!(
                        "backend::check refuses replays and link faults: hosted networks carry the messages"
                    )
                }
                Fault::Network(model) => HostAction::Network(model.clone()),
                // The clock a node reads and its disk are simctl's on every backend.
                Fault::ClockStep { .. }
                | Fault::ClockDrift { .. }
                | Fault::Corrupt { .. }
                | Fault::Wipe(_)
                | Fault::Version { .. }
                | Fault::Slow { .. }
                | Fault::Disk { .. } => continue,
            });
        }
        actions
    }

    /// Whether `node` is down after a crash (a node not booted yet is down too, but its
    /// software is about to start and run its own events).
    pub fn is_crashed(&self, node: NodeId) -> bool {
        let process = &self.world.processes[node.index()];
        process.status == Status::Down && process.incarnation > 0
    }

    /// Ends a hosted run at `until`: the clock reads `until`, and what nodes reported from
    /// different backend tasks is put in time order (turmoil runs hosts one after the other
    /// through each tick, so their reports arrive out of order within a tick).
    pub fn hosted_finish(&mut self, until: Time) {
        self.world.now = self.world.now.max(until.as_nanos());
        self.world.observations.history.sort_by_key(|event| event.time);
    }

    /// Every ordered pair of distinct nodes, with whether a partition cuts it now: what a
    /// backend mirrors, link by link, after `HostAction::Cuts`.
    pub fn link_cuts(&self) -> Vec<(NodeId, NodeId, bool)> {
        self.links(World::is_cut)
    }

    /// Every ordered pair of distinct nodes, with whether a clog holds it now: what a backend
    /// mirrors after `HostAction::Clogs`.
    pub fn link_clogs(&self) -> Vec<(NodeId, NodeId, bool)> {
        self.links(World::is_clogged)
    }

    fn links(&self, test: impl Fn(&World<M>, NodeId, NodeId) -> bool) -> Vec<(NodeId, NodeId, bool)> {
        let nodes = (0..self.nodes.len() as u32).map(NodeId);
        nodes
            .clone()
            .flat_map(|from| nodes.clone().filter(move |&to| to != from).map(move |to| (from, to)))
            .map(|(from, to)| (from, to, test(&self.world, from, to)))
            .collect()
    }

    /// The faults still scheduled, in no particular order (a backend checks it can express
    /// each before the run starts).
    pub fn scheduled_faults(&self) -> impl Iterator<Item = &Fault> {
        self.world.queue.iter().filter_map(|event| match event {
            Event::Fault(fault) => Some(&fault.1),
            _ => None,
        })
    }

    /// The network model, to read.
    pub fn network(&self) -> &NetworkModel {
        &self.world.network
    }
}
