//! Fault injection: how the engine applies a fault event to the world (see `fault` for
//! each fault's semantics). Kept apart from the dispatch loop, which only hands a fault
//! event here and records what it returns.

use super::Sim;
use crate::kernel::fault::{Fault, FaultOutcome, FaultRecord, Target};
use crate::kernel::hash::digest;
use crate::kernel::ids::{Message, NodeId};
use crate::kernel::partition::Partition;
use crate::kernel::rng::Rng;
use crate::kernel::time::duration_to_nanos;
use crate::kernel::trace::{EventKind, TraceEvent};
use crate::kernel::workload::Outcome;
use crate::kernel::world::{Event, Replay, Status};

impl<M: Message> Sim<M> {
    /// Applies fault number `index` at the current time, logs it, and records it as an event.
    pub(super) fn on_fault(&mut self, index: u64, fault: Fault) -> TraceEvent {
        let mut choices = self.world.seed.stream("fault-choice", index);
        let mut effects = self.world.seed.stream("fault", index);
        let (realized, outcome) = match self.resolve(&fault, &mut choices) {
            Ok(Some(node)) => self.realize(index, fault.resolved(node), &mut choices, &mut effects),
            Ok(None) => self.realize(index, fault, &mut choices, &mut effects),
            Err(reason) => (fault, FaultOutcome::Skipped(reason)),
        };
        if let Some(node) = realized.node() {
            let slot = index as usize;
            if self.fault_targets.len() <= slot {
                self.fault_targets.resize(slot + 1, None);
            }
            self.fault_targets[slot] = Some(node);
        }
        // Cuts and clogs may have changed: connections start or stop their keepalives.
        self.world.recheck_connections();
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
        // A hosted world boots the node when its backend restarts the node's software.
        if outcome == FaultOutcome::Applied && self.world.hosted.is_none() {
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

    /// Applies the cuts of partition (or clog) number `index`, to the partitions or, with
    /// `clog`, to the clogs; returns its realized form.
    fn cut(&mut self, index: u64, partition: &Partition, choices: &mut Rng, clog: bool) -> Partition {
        let realized = partition.realize(choices);
        let cuts = if clog { &mut self.world.clogs } else { &mut self.world.cuts };
        if let Partition::Classes(groups) = &realized {
            cuts.cut_classes(index, groups);
        }
        for (from, to) in realized.cuts(choices) {
            cuts.cut(index, from, to);
        }
        realized
    }

    /// Delivers the held messages whose links no clog holds any more, at once, in the order
    /// they arrived or, with `reorder`, in an order drawn from `effects`.
    fn release(&mut self, reorder: bool, effects: &mut Rng) {
        let now = self.now().as_nanos();
        let (mut released, held): (Vec<Event<M>>, Vec<Event<M>>) =
            std::mem::take(&mut self.world.held).into_iter().partition(|event| {
                let Event::Deliver { from, to, .. } = event else {
                    unreachable!("clogs hold deliveries only")
                };
                !self.world.is_clogged(*from, *to)
            });
        self.world.held = held;
        if reorder {
            effects.shuffle(&mut released);
        }
        for event in released {
            let Event::Deliver { to, .. } = &event else { unreachable!("clogs hold deliveries only") };
            self.world.push_node_event(*to, now, event);
        }
    }

    /// Applies a fault's effect on the world; returns its realized form and outcome.
    /// (A restart's `on_start` runs after the fault is logged, in `on_fault`.)
    fn realize(
        &mut self,
        index: u64,
        fault: Fault,
        choices: &mut Rng,
        effects: &mut Rng,
    ) -> (Fault, FaultOutcome) {
        let skipped = |reason: String| FaultOutcome::Skipped(reason);
        let now = self.now();
        let node = fault.node().unwrap_or_default();
        let status = self.world.processes.get(node.index()).map(|p| p.status);
        let outcome = match &fault {
            Fault::Partition(partition) => {
                return (Fault::Partition(self.cut(index, partition, choices, false)), FaultOutcome::Applied)
            }
            Fault::Isolate { among, .. } => {
                let partition = Partition::Isolate { node: Some(node), among: among.clone() };
                return (
                    Fault::Partition(self.cut(index, &partition, choices, false)),
                    FaultOutcome::Applied,
                );
            }
            Fault::Heal => {
                self.world.cuts.heal();
                FaultOutcome::Applied
            }
            Fault::HealOne(partition) if !self.world.cuts.heal_one(*partition) => {
                skipped(format!("fault #{partition} cut nothing that is still cut"))
            }
            Fault::HealOne(_) => FaultOutcome::Applied,
            Fault::Clog { partition, reorder } => {
                let realized = self.cut(index, partition, choices, true);
                if *reorder {
                    self.world.clog_reorder.insert(index);
                }
                return (Fault::Clog { partition: realized, reorder: *reorder }, FaultOutcome::Applied);
            }
            Fault::Unclog => {
                self.world.clogs.heal();
                let reorder = !std::mem::take(&mut self.world.clog_reorder).is_empty();
                self.release(reorder, effects);
                FaultOutcome::Applied
            }
            Fault::UnclogOne(clog) if !self.world.clogs.heal_one(*clog) => {
                skipped(format!("fault #{clog} clogs nothing that is still clogged"))
            }
            Fault::UnclogOne(clog) => {
                let reorder = self.world.clog_reorder.remove(clog);
                self.release(reorder, effects);
                FaultOutcome::Applied
            }
            Fault::Crash(_) if status == Some(Status::Down) => skipped(format!("{node} is down")),
            Fault::Crash(_) => {
                self.crash(node, effects);
                FaultOutcome::Applied
            }
            Fault::Restart(_) if status != Some(Status::Down) => skipped(format!("{node} is not down")),
            Fault::Restart(_) => FaultOutcome::Applied,
            Fault::Wipe(_) if status != Some(Status::Down) => skipped(format!("{node} is not down")),
            Fault::Wipe(_) if !self.budget.allow(node) => {
                skipped(format!("damage budget spent: {node}'s disk may not be damaged"))
            }
            Fault::Wipe(_) => {
                self.world.disks[node.index()].lock().wipe();
                FaultOutcome::Applied
            }
            Fault::Version { version, name, .. }
                if *version as usize >= self.factories[node.index()].len() =>
            {
                skipped(format!("{node} has no version {name}"))
            }
            Fault::Version { version, .. } => {
                self.versions[node.index()] = *version;
                FaultOutcome::Applied
            }
            Fault::Slow { per_event, .. } => {
                self.world.processes[node.index()].handler_cost =
                    crate::kernel::time::duration_to_nanos(*per_event);
                FaultOutcome::Applied
            }
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
                    self.world.push_node_event(node, now.as_nanos(), event);
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
                // `prefix*` names one of the files whose names start with `prefix`, drawn
                // from the effects stream (a chunk a scenario cannot name in advance).
                let chosen = match file.strip_suffix('*') {
                    Some(prefix) => {
                        let matching: Vec<String> =
                            disk.list().into_iter().filter(|n| n.starts_with(prefix)).collect();
                        (!matching.is_empty())
                            .then(|| matching[effects.between(0, matching.len() as u64 - 1) as usize].clone())
                    }
                    None => disk.exists(file).then(|| file.clone()),
                };
                match chosen {
                    None => skipped(format!("{node} has no file {file:?}")),
                    Some(_) if !self.budget.allow(node) => {
                        skipped(format!("damage budget spent: {node}'s disk may not be damaged"))
                    }
                    Some(name) => {
                        disk.corrupt(&name, *offset, *len, effects).expect("file exists");
                        FaultOutcome::Applied
                    }
                }
            }
            Fault::Disk { change, .. } => {
                let config = change.apply(self.world.disks[node.index()].lock().config());
                self.set_disk_config(node, config);
                FaultOutcome::Applied
            }
            Fault::Replay { chance, delay_min, delay_max } => {
                let delay = (duration_to_nanos(*delay_min), duration_to_nanos(*delay_max));
                let rng = self.world.seed.stream("replay", index);
                self.world.replay = (!chance.is_never()).then_some(Replay { chance: *chance, delay, rng });
                FaultOutcome::Applied
            }
            Fault::Links { from, to, model } => {
                let links: Vec<(NodeId, NodeId)> = from
                    .iter()
                    .flat_map(|&a| to.iter().filter(move |&&b| b != a).map(move |&b| (a, b)))
                    .collect();
                self.world.network.change_links(index, &links, model.clone());
                FaultOutcome::Applied
            }
            Fault::LinksRestore(links) if !self.world.network.restore_links(*links) => {
                skipped(format!("fault #{links} changed no links that are still changed"))
            }
            Fault::LinksRestore(_) => FaultOutcome::Applied,
            Fault::Network(model) => {
                self.world.network.set_default(model.clone());
                FaultOutcome::Applied
            }
        };
        (fault, outcome)
    }

    /// Drops the node's value, timers, queued and in-flight messages, and unsynced writes.
    /// The operations it was running (a crashed client's) end as info: whether they took
    /// effect is unknown, as Jepsen records a crashed process's operations.
    fn crash(&mut self, node: NodeId, effects: &mut Rng) {
        // Fence first: the node's destructors run when its value is dropped, and must not
        // reach the disk (a crashed process runs no code).
        self.world.disks[node.index()].fence();
        self.nodes[node.index()] = None;
        if self.world.roles[node.index()].is_some() {
            let at = self.now();
            self.world.observations.roles.push((at, node, None));
        }
        self.world.roles[node.index()] = None;
        let process = &mut self.world.processes[node.index()];
        process.status = Status::Down;
        process.incarnation += 1;
        process.busy_until = 0;
        self.world.reset_connections(node);
        let process = &mut self.world.processes[node.index()];
        for event in std::mem::take(&mut process.backlog) {
            match event {
                Event::Timer { id, .. } => drop(self.world.release_timer(id)),
                Event::Deliver { .. } => self.world.network.stats.dropped_crashed += 1,
                Event::Stream(_) => self.world.network.stats.dropped_closed += 1,
                Event::Closed { .. } | Event::IoDone(_) => {}
                Event::Invoke { client, record } => {
                    self.world.push_node_event(client, self.world.now, Event::Invoke { client, record })
                }
                Event::Start(_) | Event::Fault(_) | Event::Arrival | Event::ConnCheck { .. } => {
                    unreachable!("only deliveries, timers and invocations queue up")
                }
            }
        }
        let running = self.world.workload.as_ref().map(|driver| driver.invoked_at(node)).unwrap_or_default();
        for id in running {
            self.world.complete(id, Outcome::Info, None, self.world.now);
        }
        let mut disk = self.world.disks[node.index()].lock();
        let tear = disk.could_tear() && self.budget.would_allow(node);
        if disk.crash(tear, effects) {
            self.budget.allow(node);
        }
    }
}
