//! The Raft KV client: finds the leader, follows redirects, retries elsewhere on timeout,
//! and reports each operation honestly.
//!
//! - ok: a server answered after applying it (or, for a read, serving it).
//! - fail: it definitely did not take effect: a read that got no answer, a compare-and-set
//!   that found another value, or a write every attempt of which was refused before it was
//!   proposed.
//! - info: a write that may have been proposed (an attempt timed out, or its leader lost
//!   leadership with it in the log) and got no answer before `operation_timeout`.
//!
//! Every attempt of an operation carries the same session number (its operation id), so the
//! state machine applies a retried write once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use sim::prelude::*;

use super::config::Config;
use super::machine::{Command, KvOp};
use super::msg::{Msg, Reply, Timer};

/// How long a client waits before retrying when no server knows the leader.
pub(crate) const BACKOFF: Duration = Duration::from_millis(20);

#[derive(Debug)]
struct Pending {
    command: Command,
    server: NodeId,
    /// The current attempt's (or backoff's) timer; none before the first attempt.
    timer: Option<TimerId>,
    deadline: Time,
    maybe_applied: bool,
    /// Whether `timer` ends a backoff (then the request is sent) rather than an attempt.
    backoff: bool,
}

/// A client of servers `0..servers`.
#[derive(Debug)]
pub struct Client {
    config: Config,
    servers: u32,
    leader: Option<NodeId>,
    pending: BTreeMap<u64, Pending>,
    /// Operations given up as unknown: their responses must stay in the sessions, since an
    /// old attempt may still be applied (so `lowest` never passes them).
    unknown: BTreeSet<u64>,
}

impl Client {
    /// A client of `servers` servers.
    pub fn new(config: Config, servers: u32) -> Client {
        Client { config, servers, leader: None, pending: BTreeMap::new(), unknown: BTreeSet::new() }
    }

    fn lowest(&self) -> u64 {
        let pending = self.pending.keys().next().copied().unwrap_or(u64::MAX);
        let unknown = self.unknown.first().copied().unwrap_or(u64::MAX);
        pending.min(unknown)
    }

    fn next_server(&self, after: NodeId) -> NodeId {
        NodeId((after.0 + 1) % self.servers)
    }

    /// Sends (or resends) operation `op` to `server`, with a fresh attempt timer.
    fn attempt(&mut self, ctx: &mut Ctx<'_, Msg>, op: u64, server: NodeId, after: Duration) {
        let lowest = self.lowest();
        let Some(pending) = self.pending.get_mut(&op) else { return };
        if let Some(timer) = pending.timer {
            ctx.cancel_timer(timer);
        }
        pending.server = server;
        pending.command.lowest = lowest;
        pending.backoff = !after.is_zero();
        if after.is_zero() {
            ctx.send(server, Msg::Request { op, command: pending.command.clone() });
            pending.timer = Some(ctx.set_timer(self.config.request_timeout, Timer::Attempt(op)));
        } else {
            // Resent when this timer fires (see `on_timer`).
            pending.timer = Some(ctx.set_timer(after, Timer::Attempt(op)));
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, Msg>, op: u64, outcome: Outcome, served_by: Option<NodeId>) {
        if let Some(pending) = self.pending.remove(&op) {
            if let Some(timer) = pending.timer {
                ctx.cancel_timer(timer);
            }
            if outcome == Outcome::Info {
                self.unknown.insert(op);
            }
            ctx.complete(op, outcome, served_by);
        }
    }

    fn give_up(&mut self, ctx: &mut Ctx<'_, Msg>, op: u64) {
        let pending = &self.pending[&op];
        let outcome = if pending.maybe_applied && !pending.command.op.is_read() {
            Outcome::Info
        } else {
            Outcome::Fail
        };
        ctx.count("operations given up", 1);
        self.finish(ctx, op, outcome, None);
    }
}

impl Node for Client {
    type Msg = Msg;

    fn on_start(&mut self, _ctx: &mut Ctx<'_, Msg>) {}

    fn on_invoke(&mut self, ctx: &mut Ctx<'_, Msg>, op: Operation) {
        let Some(kv) = KvOp::from_workload(op.kind(), op.key, &op.value) else {
            panic!("a raft-kv operation carries the argument its spec names, not {op:?}");
        };
        let command = Command { client: ctx.id().0, seq: op.id, lowest: op.id, op: kv };
        let spread = self.config.spread_reads && command.op.is_read();
        let server = match self.leader {
            Some(leader) if !spread => leader,
            _ => NodeId(ctx.rng().below(u64::from(self.servers)) as u32),
        };
        let deadline = ctx.now() + self.config.operation_timeout;
        self.pending.insert(
            op.id,
            Pending { command, server, timer: None, deadline, maybe_applied: false, backoff: false },
        );
        self.attempt(ctx, op.id, server, Duration::ZERO);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        let Msg::Reply { op, reply } = msg else { return };
        let Some(pending) = self.pending.get_mut(&op) else {
            return ctx.sometimes("a reply arrived after its operation ended", true);
        };
        let current = pending.server == from;
        match reply {
            Reply::Done(value) => {
                if !self.config.spread_reads {
                    self.leader = Some(from);
                }
                self.finish(ctx, op, Outcome::Ok(value.to_value()), Some(from));
            }
            Reply::CasMismatch => {
                self.leader = Some(from);
                self.finish(ctx, op, Outcome::Fail, Some(from));
            }
            // Redirects and doubts about an earlier attempt: the current one will answer.
            Reply::NotLeader(_) | Reply::Unknown if !current => {
                if reply == Reply::Unknown {
                    pending.maybe_applied = true;
                }
            }
            Reply::NotLeader(Some(hint)) if hint != from => {
                self.leader = Some(hint);
                self.attempt(ctx, op, hint, Duration::ZERO);
            }
            Reply::NotLeader(_) => {
                self.leader = None;
                let next = self.next_server(from);
                self.attempt(ctx, op, next, BACKOFF);
            }
            Reply::Unknown => {
                pending.maybe_applied = true;
                self.leader = None;
                let next = self.next_server(from);
                self.attempt(ctx, op, next, BACKOFF);
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: Timer) {
        // A fired attempt timer is the operation's current one: a new attempt cancels the old.
        let Timer::Attempt(op) = timer else { return ctx.unexpected("clients do not tick") };
        let Some(pending) = self.pending.get_mut(&op) else { return };
        if ctx.now() >= pending.deadline {
            return self.give_up(ctx, op);
        }
        let server = pending.server;
        if pending.backoff {
            return self.attempt(ctx, op, server, Duration::ZERO);
        }
        // The attempt timed out: it may have been proposed. Try the next server.
        pending.maybe_applied = true;
        let next = self.next_server(server);
        self.leader = None;
        self.attempt(ctx, op, next, Duration::ZERO);
    }
}
