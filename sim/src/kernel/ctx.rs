//! `Ctx`: a node's only door to the world.
//!
//! The traits [`Clock`], [`Network`] and [`Timers`] are what protocol code should be written
//! against; `Ctx` implements them for the native engine, and other backends (turmoil, madsim
//! adapters) implement them too. The rest of `Ctx` (rng, disk, observation hooks) is
//! inherent.

use std::time::Duration;

use std::sync::MutexGuard;

use super::connection::ConnId;
use super::disk::{Disk, DiskHandle};
use super::history::{HistoryEvent, Op, OpKind, Value};
use super::ids::{Message, Names, NodeId, TimerId};
use super::io::{IoId, IoRequest};
use super::rng::Rng;
use super::time::Time;
use super::workload::Outcome;
use super::world::World;

/// A node's local clock.
pub trait Clock {
    /// This node's local time: offset, drift and steps applied. Never the host's clock.
    fn now(&self) -> Time;
    /// This node's monotonic clock (`CLOCK_MONOTONIC`): drift applies, steps do not, and it
    /// never goes backwards. Measure leases and timeouts on it.
    fn monotonic(&self) -> Time;
}

/// Sending messages.
pub trait Network<M> {
    /// Sends `msg` to `to`; the network decides delay, loss, duplication and partition.
    fn send(&mut self, to: NodeId, msg: M);
}

/// Timers on the node's local oscillator (drift applies, clock steps do not), each with a
/// payload of type `T` that says what it is for.
pub trait Timers<T> {
    /// Fires `on_timer(timer)` after `after` of local time, unless cancelled or the node
    /// crashes.
    fn set_timer(&mut self, after: Duration, timer: T) -> TimerId;
    /// Cancels a pending timer; does nothing if it already fired or was cancelled.
    fn cancel_timer(&mut self, timer: TimerId);
}

/// The context of one handler call on one node.
pub struct Ctx<'a, M: Message> {
    world: &'a mut World<M>,
    node: NodeId,
}

impl<'a, M: Message> Ctx<'a, M> {
    pub(crate) fn new(world: &'a mut World<M>, node: NodeId) -> Ctx<'a, M> {
        Ctx { world, node }
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.node
    }

    /// How many nodes the simulation has (ids are `0..node_count`).
    pub fn node_count(&self) -> usize {
        self.world.processes.len()
    }

    /// This node's own random stream.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.world.processes[self.node.index()].rng
    }

    /// This node's disk, for the rest of this statement or handler.
    pub fn disk(&mut self) -> MutexGuard<'_, Disk> {
        self.world.disks[self.node.index()].lock()
    }

    /// A handle on this node's disk that can be kept across handlers (by a storage engine
    /// that owns its file). Drop it with the node's state: it must not outlive a crash.
    pub fn disk_handle(&self) -> DiskHandle {
        self.world.disks[self.node.index()].clone()
    }

    /// Records a client operation event at the current (true) time.
    pub fn record(&mut self, process: u64, kind: OpKind, op: Op) {
        let time = Time(self.world.handler_time(self.node));
        let event = HistoryEvent { time, node: self.node, process, kind, op, served_by: None };
        self.world.observations.history.push(event);
    }

    /// Marks that a rare path was (or was not) reached.
    pub fn sometimes(&mut self, name: &'static str, condition: bool) {
        let time = Time(self.world.handler_time(self.node));
        self.world.observations.sometimes(time, name, condition);
    }

    /// Whether the fault point `name` fires here (FoundationDB's BUGGIFY; see `buggify`):
    /// always false unless the scenario has `[buggify]`. Name points `<system>.<what>`.
    pub fn buggify(&mut self, name: &'static str) -> bool {
        let seed = self.world.seed;
        self.world.buggify.fires(seed, name)
    }

    /// States something that must hold; a false condition is a violation that fails the run.
    pub fn always(&mut self, name: &'static str, condition: bool) {
        let time = Time(self.world.handler_time(self.node));
        self.world.observations.always(time, self.node, name, condition);
    }

    /// Says that this node got something not meant for its role (a reply sent to a server,
    /// a server's timer on a client): servers and clients share one wire type, and this is
    /// the one way to refuse what is not for them. It is a violated assertion named `what`
    /// that fails the run, because such a message means a protocol bug.
    pub fn unexpected(&mut self, what: &'static str) {
        let time = Time(self.world.handler_time(self.node));
        self.world.observations.always(time, self.node, what, false);
    }

    /// Starts an operation of this node's own, one the workload driver did not hand out (a
    /// measurement step the system drives: a provide, a retrieval). It is recorded and timed
    /// like a workload operation, from now; report its end with [`complete`](Self::complete).
    pub fn begin_operation(&mut self, f: &str, key: u64, value: Value) -> u64 {
        let now = self.world.handler_time(self.node);
        self.world.begin(self.node, now, f, key, value)
    }

    /// How many times this node has crashed: 0 on its first start, `n` after its `n`-th crash.
    pub fn incarnation(&self) -> u32 {
        self.world.processes[self.node.index()].incarnation
    }

    /// Reports how a workload operation ended (clients only), and which server served it.
    /// Panics if the operation was already completed: a client must answer exactly once.
    pub fn complete(&mut self, op: u64, outcome: Outcome, served_by: Option<NodeId>) {
        let now = self.world.handler_time(self.node);
        self.world.complete(op, outcome, served_by, now);
    }

    /// Opens a connection to `to` (an ordered, reliable stream; see `connection`), or
    /// returns the one this node already has open to it.
    pub fn connect(&mut self, to: NodeId) -> ConnId {
        self.world.connect(self.node, to)
    }

    /// Sends `msg` on `conn` (either end may): in order, without loss or duplicates, unless
    /// the connection breaks first. On a closed connection the message is dropped.
    pub fn send_on(&mut self, conn: ConnId, msg: M) {
        self.world.send_on(self.node, conn, msg);
    }

    /// Closes `conn`; the peer sees it closed one link latency later.
    pub fn disconnect(&mut self, conn: ConnId) {
        self.world.disconnect(self.node, conn);
    }

    /// Whether `conn` is still open, as far as the kernel knows (an end learns of a close
    /// from `on_closed`, which may come later).
    pub fn is_open(&self, conn: ConnId) -> bool {
        self.world.connections.is_open(conn)
    }

    /// The connection the message being handled came on; `None` for a datagram, or
    /// outside `on_message`.
    pub fn arrived_on(&self) -> Option<ConnId> {
        self.world.arrived_on
    }

    /// Reports this node's role, a variant of its system's roles enum (declared with
    /// [`names!`](crate::names), `System::ROLES` its names): `ctx.set_role(Role::Leader)`,
    /// so faults can target "the leader". Cleared when the node crashes.
    pub fn set_role<R: Names>(&mut self, role: R) {
        self.change_role(Some(role.name()));
    }

    /// Reports that this node has no role (it stepped down).
    pub fn clear_role(&mut self) {
        self.change_role(None);
    }

    fn change_role(&mut self, role: Option<&'static str>) {
        if self.world.roles[self.node.index()] != role {
            let at = Time(self.world.handler_time(self.node));
            self.world.observations.roles.push((at, self.node, role));
        }
        self.world.roles[self.node.index()] = role;
    }

    /// Reports this node's value of a series the report draws over time (Raft's term and
    /// commit index, a store's hints pending): kept when it changes, for the per-node view.
    pub fn series(&mut self, name: &'static str, value: i64) {
        let at = Time(self.world.handler_time(self.node));
        let points = self.world.observations.series.entry((name, self.node)).or_default();
        if points.last().map(|(_, last)| *last) != Some(value) && points.len() < super::observe::SERIES_POINTS
        {
            points.push((at, value));
        }
    }

    /// Adds `delta` to a counter.
    #[inline]
    pub fn count(&mut self, name: &'static str, delta: u64) {
        *self.world.observations.counters.entry(name).or_default() += delta;
    }

    /// States a fact for the system's end-of-run checks: a value of the system's own type,
    /// read back by type with [`Observations::facts`](crate::kernel::observe::Observations::facts).
    pub fn fact<F: std::any::Any>(&mut self, fact: F) {
        let time = Time(self.world.now);
        self.world.observations.facts.state(time, self.node, fact);
    }

    /// Submits an fsync of `name` and returns at once; `Node::on_io_done` reports its
    /// completion (see `io`).
    pub fn fsync_async(&mut self, name: &str) -> IoId {
        self.world.submit_io(self.node, IoRequest::Fsync(name.to_owned()))
    }

    /// Submits a sync of the whole namespace (`Disk::sync_dir`) and returns at once;
    /// `Node::on_io_done` reports its completion.
    pub fn sync_dir_async(&mut self) -> IoId {
        self.world.submit_io(self.node, IoRequest::SyncDir)
    }

    /// Records a sample (a latency in nanoseconds, a size).
    pub fn sample(&mut self, name: &'static str, value: u64) {
        self.world.observations.samples.entry(name).or_default().push(value);
    }
}

impl<M: Message> Clock for Ctx<'_, M> {
    fn now(&self) -> Time {
        let true_time = Time(self.world.handler_time(self.node));
        self.world.processes[self.node.index()].clock.read(true_time)
    }

    fn monotonic(&self) -> Time {
        let true_time = Time(self.world.handler_time(self.node));
        self.world.processes[self.node.index()].clock.monotonic(true_time)
    }
}

impl<M: Message> Network<M> for Ctx<'_, M> {
    #[inline]
    fn send(&mut self, to: NodeId, msg: M) {
        self.world.send(self.node, to, msg);
    }
}

impl<M: Message> Timers<M::Timer> for Ctx<'_, M> {
    fn set_timer(&mut self, after: Duration, timer: M::Timer) -> TimerId {
        self.world.set_timer(self.node, after, timer)
    }

    fn cancel_timer(&mut self, timer: TimerId) {
        self.world.cancel_timer(timer);
    }
}
