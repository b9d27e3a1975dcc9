//! A collective client: the workload's operations against the coordinator of the member
//! whose namespace the path is in, and the audit that reads back its share of every path
//! before the run ends (every path, not those it wrote: a client that crashed forgot those,
//! and its paths then went unchecked: found by the mutation score and client crashes).
//!
//! A put of value `v` uploads the content of `v` (`Shared::content`); a get's value is the
//! put whose content it read back exactly, nil for no file, or a `bad:` mark
//! (`Shared::identify`). A put or delete that gets no answer within `client_timeout` is
//! unknown (info); a read that gets none failed.

use std::collections::BTreeMap;
use std::rc::Rc;

use sim::kernel::workload::Operations;
use sim::prelude::*;

use super::msg::{Answer, Msg, Timer};
use super::CollectiveOp;
use super::Shared;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Put,
    Get,
    Delete,
    Mkdir,
    List,
}

/// A client of the collective.
pub struct Client {
    shared: Rc<Shared>,
    pending: BTreeMap<u64, (Kind, TimerId)>,
    /// Which client it is: it audits the paths `p` with `p % clients == index`.
    index: u64,
}

impl Client {
    /// A client (every client talks to every member).
    pub fn new(shared: Rc<Shared>, index: u64) -> Client {
        Client { shared, pending: BTreeMap::new(), index }
    }

    fn send(&mut self, ctx: &mut Ctx<'_, Msg>, op: u64, key: u64, kind: Kind, msg: Msg) {
        ctx.send(self.shared.coordinator(self.shared.owner(key)), msg);
        let timer = ctx.set_timer(self.shared.config.client_timeout, Timer::Operation(op));
        self.pending.insert(op, (kind, timer));
    }

    fn audit(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let (paths, clients, mine) =
            (self.shared.paths, self.shared.clients, self.index % self.shared.clients);
        for path in (0..paths).filter(|p| p % clients == mine) {
            let op = ctx.begin_operation(CollectiveOp::Get.name(), path, Value::Nil);
            self.send(ctx, op, path, Kind::Get, Msg::Get { op, path });
        }
    }
}

impl Node for Client {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let wait = self.shared.audit_at.saturating_since(ctx.now());
        ctx.set_timer(wait, Timer::Audit);
    }

    fn on_invoke(&mut self, ctx: &mut Ctx<'_, Msg>, op: Operation) {
        if ctx.now() >= self.shared.audit_at {
            // The audit is under way: the scenario's workload should stop before it.
            return ctx.complete(op.id, Outcome::Fail, None);
        }
        let (path, dir) = (op.key, (op.key % u64::from(self.shared.config.dirs)) as u32);
        let (kind, msg) = match (op.kind::<CollectiveOp>(), &op.value) {
            (CollectiveOp::Put, Value::Int(v)) => {
                (Kind::Put, Msg::Put { op: op.id, path, content: self.shared.content(*v as u64) })
            }
            (CollectiveOp::Get, _) => (Kind::Get, Msg::Get { op: op.id, path }),
            (CollectiveOp::Delete, _) => (Kind::Delete, Msg::Delete { op: op.id, path }),
            (CollectiveOp::Mkdir, _) => (Kind::Mkdir, Msg::Mkdir { op: op.id, dir }),
            (CollectiveOp::List, _) => (Kind::List, Msg::List { op: op.id, dir }),
            _ => return ctx.complete(op.id, Outcome::Fail, None),
        };
        self.send(ctx, op.id, op.key, kind, msg);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        let Msg::Reply { op, answer } = msg else { return ctx.unexpected("clients get replies only") };
        let Some((kind, timer)) = self.pending.remove(&op) else { return };
        ctx.cancel_timer(timer);
        let outcome = match (kind, answer) {
            (_, Answer::Failed(_)) => Outcome::Fail,
            (Kind::Get, Answer::Content(parts)) => Outcome::Ok(self.shared.identify(&parts)),
            (Kind::Get, Answer::NotFound) => Outcome::Ok(Value::Nil),
            (Kind::List, Answer::Listing(paths)) => {
                Outcome::Ok(Value::List(paths.into_iter().map(|p| Value::Int(p as i64)).collect()))
            }
            (Kind::Put | Kind::Delete | Kind::Mkdir, Answer::Done) => Outcome::Ok(Value::Nil),
            _ => return ctx.unexpected("a coordinator answered an operation with another's reply"),
        };
        ctx.complete(op, outcome, Some(from));
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: Timer) {
        match timer {
            Timer::Audit => self.audit(ctx),
            Timer::Operation(op) => {
                let Some((kind, _)) = self.pending.remove(&op) else { return };
                let outcome =
                    if matches!(kind, Kind::Get | Kind::List) { Outcome::Fail } else { Outcome::Info };
                ctx.complete(op, outcome, None);
            }
            _ => ctx.unexpected("clients set operation and audit timers"),
        }
    }
}
