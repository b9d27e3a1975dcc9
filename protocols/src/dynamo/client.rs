//! The Dynamo client: the set workload's read-modify-write, with the context passed back.
//!
//! A `get` asks a coordinator and returns the union of the siblings (or the first, with
//! `siblings = "take-one"`). A `put` of element e first reads the key, resolves the
//! siblings, then writes the resolved set plus e with the context it read (Dynamo §4.4: the
//! client must pass back the clock of what it read, or its write becomes a sibling). A
//! `delete` reads, then writes a tombstone with that context. A coordinator that does not
//! answer within `client_timeout` is replaced by the next node of the key's preference list
//! (Dynamo mode; Dynago clients talk to their one node). An operation that never got a
//! read answer failed (nothing was written); one whose write timed out or missed its
//! quorum is unknown (info): some replicas may have stored it. With `workload = "register"`
//! (Dynago) a put writes its element alone, without reading first.

use std::collections::BTreeMap;
use std::rc::Rc;

use sim::prelude::*;

use super::check::DynamoFact;
use super::config::{Mode, Resolve, Workload};
use super::msg::{Msg, Timer};
use super::version::{context, VClock, Version};
use super::DynamoOp;
use super::Shared;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Get,
    Put(i64),
    Delete,
}

struct Pending {
    kind: Kind,
    key: u64,
    /// The nodes to try, in order, and which one is being tried.
    route: Vec<u32>,
    attempt: usize,
    /// What the read resolved to, once the write is out.
    read: Option<Vec<i64>>,
    timer: TimerId,
}

/// A client of the store.
pub struct Client {
    shared: Rc<Shared>,
    me: u32,
    pending: BTreeMap<u64, Pending>,
}

impl Client {
    /// Client `me` (its index among clients).
    pub fn new(shared: Rc<Shared>, me: u32) -> Client {
        Client { shared, me, pending: BTreeMap::new() }
    }

    fn route(&self, key: u64) -> Vec<u32> {
        match self.shared.config.mode {
            Mode::Dynago => vec![self.me % self.shared.servers],
            Mode::Dynamo => self.shared.ring.walk(self.shared.ring.partition(key)).to_vec(),
        }
    }

    /// Sends the read of attempt `attempt` to its node; the attempt's timer.
    fn send_read(&self, ctx: &mut Ctx<'_, Msg>, op: u64, key: u64, to: u32) -> TimerId {
        ctx.send(NodeId(to), Msg::Get { op, key });
        ctx.set_timer(self.shared.config.client_timeout, Timer::Attempt(op))
    }

    fn resolve(&self, siblings: &[Version]) -> Vec<i64> {
        match self.shared.config.siblings {
            Resolve::Merge => super::version::union(siblings),
            Resolve::TakeOne => siblings.first().map(|v| v.elements().to_vec()).unwrap_or_default(),
        }
    }

    fn on_get_reply(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, op: u64, siblings: Vec<Version>) {
        let resolved = self.resolve(&siblings);
        let timeout = self.shared.config.client_timeout;
        let Some(p) = self.pending.get_mut(&op).filter(|p| p.read.is_none()) else { return };
        ctx.cancel_timer(p.timer);
        let value = match p.kind {
            Kind::Get => {
                let items = resolved.into_iter().map(Value::Int).collect();
                self.pending.remove(&op);
                return ctx.complete(op, Outcome::Ok(Value::List(items)), Some(from));
            }
            Kind::Put(e) => {
                let mut set = resolved.clone();
                if let Err(at) = set.binary_search(&e) {
                    set.insert(at, e);
                }
                Some(Rc::new(set))
            }
            Kind::Delete => None,
        };
        let kept = value.as_deref().map_or(&[][..], Vec::as_slice);
        let removed: Vec<i64> =
            super::version::union(&siblings).into_iter().filter(|e| kept.binary_search(e).is_err()).collect();
        if !removed.is_empty() {
            ctx.fact(DynamoFact::Removes { op, key: p.key, elements: removed });
        }
        p.read = Some(resolved);
        let context = context(&siblings);
        ctx.send(from, Msg::Put { op, key: p.key, value, context });
        p.timer = ctx.set_timer(timeout, Timer::Attempt(op));
    }

    fn on_put_reply(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        from: NodeId,
        op: u64,
        written: Option<super::msg::Written>,
    ) {
        let Some(p) = self.pending.remove(&op) else { return };
        ctx.cancel_timer(p.timer);
        let Some(written) = written else {
            return ctx.complete(op, Outcome::Info, Some(from));
        };
        let element = if let Kind::Put(e) = p.kind { Some(e) } else { None };
        let fact = DynamoFact::Acknowledged {
            op,
            key: p.key,
            element,
            clock: written.clock,
            replicas: written.replicas,
        };
        ctx.fact(fact);
        ctx.complete(op, Outcome::Ok(Value::Nil), Some(from));
    }
}

impl Node for Client {
    type Msg = Msg;

    fn on_start(&mut self, _ctx: &mut Ctx<'_, Msg>) {}

    fn on_invoke(&mut self, ctx: &mut Ctx<'_, Msg>, op: Operation) {
        let kind = match (op.kind(), &op.value) {
            (DynamoOp::Get, _) => Kind::Get,
            (DynamoOp::Put, Value::Int(e)) => Kind::Put(*e),
            (DynamoOp::Delete, _) => Kind::Delete,
            (DynamoOp::Put, _) => return ctx.complete(op.id, Outcome::Fail, None),
        };
        let route = self.route(op.key);
        let (read, timer) = match (kind, self.shared.config.workload) {
            (Kind::Put(e), Workload::Register) => {
                // Dynago's own SET: the element alone, nothing read first.
                let value = Some(Rc::new(vec![e]));
                ctx.send(
                    NodeId(route[0]),
                    Msg::Put { op: op.id, key: op.key, value, context: VClock::default() },
                );
                (Some(Vec::new()), ctx.set_timer(self.shared.config.client_timeout, Timer::Attempt(op.id)))
            }
            _ => (None, self.send_read(ctx, op.id, op.key, route[0])),
        };
        self.pending.insert(op.id, Pending { kind, key: op.key, route, attempt: 0, read, timer });
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::GetReply { op, siblings } => self.on_get_reply(ctx, from, op, siblings),
            Msg::PutReply { op, written } => self.on_put_reply(ctx, from, op, written),
            Msg::Refused { op } => {
                // An HTTP error: nothing written if the read was refused, unknown if the write was.
                let Some(p) = self.pending.remove(&op) else { return };
                ctx.cancel_timer(p.timer);
                let outcome = if p.read.is_some() { Outcome::Info } else { Outcome::Fail };
                ctx.complete(op, outcome, Some(from));
            }
            _ => ctx.unexpected("clients get only replies"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: Timer) {
        let Timer::Attempt(op) = timer else { return ctx.unexpected("clients set attempt timers only") };
        let Some(p) = self.pending.get_mut(&op) else { return };
        if p.read.is_some() {
            self.pending.remove(&op);
            return ctx.complete(op, Outcome::Info, None);
        }
        let tries = match self.shared.config.mode {
            Mode::Dynamo => self.shared.config.replicas as usize,
            Mode::Dynago => 1,
        };
        p.attempt += 1;
        if p.attempt >= tries.min(p.route.len()) {
            self.pending.remove(&op);
            return ctx.complete(op, Outcome::Fail, None);
        }
        let (key, to) = (p.key, p.route[p.attempt]);
        let timer = self.send_read(ctx, op, key, to);
        if let Some(p) = self.pending.get_mut(&op) {
            p.timer = timer;
        }
    }
}
