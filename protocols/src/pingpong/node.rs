//! The ping-pong node.
//!
//! Timeouts are per window slot and lazy, the way TigerBeetle and most production code
//! keep timeouts: a slot has at most one timer, armed for the deadline of the request that
//! was outstanding when it was set. When it fires, a request past its deadline is replaced,
//! and the timer is re-armed for the current request's deadline. A timer per request would
//! be set and cancelled for every message; this costs one timer event per slot per timeout.

use sim::prelude::*;

use super::{Config, Msg};

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    /// The outstanding request.
    request: u64,
    /// When it times out, on the local clock.
    deadline: Time,
    /// The slot's timer, if armed.
    timer: Option<TimerId>,
}

/// A node that keeps `window` pings outstanding and answers every ping.
#[derive(Debug)]
pub struct PingPong {
    config: Config,
    slots: Vec<Slot>,
    next_request: u64,
}

impl PingPong {
    /// A node with empty slots; they fill at start.
    pub fn new(config: Config) -> PingPong {
        let slots = vec![Slot::default(); config.window as usize];
        PingPong { config, slots, next_request: 0 }
    }

    /// Sends a new request on `slot` to a random peer.
    fn issue(&mut self, ctx: &mut Ctx<'_, Msg>, slot: usize) {
        let count = ctx.node_count() as u64;
        if count < 2 {
            return;
        }
        let me = u64::from(ctx.id().0);
        let mut peer = ctx.rng().below(count - 1);
        if peer >= me {
            peer += 1;
        }
        self.next_request += 1;
        let id = self.next_request;
        self.slots[slot].request = id;
        self.slots[slot].deadline = ctx.now() + self.config.timeout;
        ctx.send(NodeId(peer as u32), Msg::Ping { id, slot: slot as u32 });
        if self.slots[slot].timer.is_none() {
            self.slots[slot].timer = Some(ctx.set_timer(self.config.timeout));
        }
    }
}

impl Node for PingPong {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        for slot in 0..self.slots.len() {
            self.issue(ctx, slot);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Ping { id, slot } => ctx.send(from, Msg::Pong { id, slot }),
            Msg::Pong { id, slot } => {
                let slot = slot as usize;
                if self.slots.get(slot).is_some_and(|s| s.request == id) {
                    ctx.count("pongs", 1);
                    self.issue(ctx, slot);
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: TimerId) {
        let Some(slot) = self.slots.iter().position(|s| s.timer == Some(timer)) else {
            return;
        };
        self.slots[slot].timer = None;
        let now = ctx.now();
        if self.slots[slot].deadline <= now {
            ctx.count("timeouts", 1);
            self.issue(ctx, slot);
        } else {
            let remaining = self.slots[slot].deadline - now;
            self.slots[slot].timer = Some(ctx.set_timer(remaining));
        }
    }
}
