//! Requests in flight: each has a number, a peer, what it is for, and a timeout timer.

use std::collections::BTreeMap;
use std::time::Duration;

use sim::prelude::*;

use super::msg::{Msg, Timer};

/// A request waiting for its answer.
#[derive(Clone, Copy, Debug)]
pub struct Pending<P> {
    /// The peer asked.
    pub peer: u32,
    /// What the answer is for.
    pub purpose: P,
    timer: TimerId,
}

/// The requests a node has out.
#[derive(Debug)]
pub struct Rpcs<P> {
    next: u32,
    pending: BTreeMap<u32, Pending<P>>,
}

impl<P: Copy> Rpcs<P> {
    /// None out.
    pub fn new() -> Rpcs<P> {
        Rpcs { next: 0, pending: BTreeMap::new() }
    }

    /// Sends `request(rpc)` to `peer`, to fail after `timeout` unless answered.
    pub fn send(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        peer: u32,
        purpose: P,
        timeout: Duration,
        request: impl FnOnce(u32) -> Msg,
    ) {
        let rpc = self.next;
        self.next = self.next.wrapping_add(1);
        let timer = ctx.set_timer(timeout, Timer::Rpc(rpc));
        self.pending.insert(rpc, Pending { peer, purpose, timer });
        ctx.send(NodeId(peer), request(rpc));
    }

    /// The answer to `rpc` arrived from `from`: the request it answers, if it is still out.
    pub fn answered(&mut self, ctx: &mut Ctx<'_, Msg>, rpc: u32, from: NodeId) -> Option<Pending<P>> {
        let pending = self.pending.remove_entry(&rpc).filter(|(_, p)| p.peer == from.0)?;
        let pending = pending.1;
        ctx.cancel_timer(pending.timer);
        Some(pending)
    }

    /// Request `rpc`'s timer fired: the request, if it is still out.
    pub fn expired(&mut self, rpc: u32) -> Option<Pending<P>> {
        self.pending.remove(&rpc)
    }

    /// Drops every request for which `drop` holds (their answers will be ignored).
    pub fn forget(&mut self, ctx: &mut Ctx<'_, Msg>, mut drop: impl FnMut(&P) -> bool) {
        let gone: Vec<u32> =
            self.pending.iter().filter(|(_, p)| drop(&p.purpose)).map(|(rpc, _)| *rpc).collect();
        for rpc in gone {
            let pending = self.pending.remove(&rpc).expect("listed");
            ctx.cancel_timer(pending.timer);
        }
    }
}
