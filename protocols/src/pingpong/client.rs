//! The ping-pong client: turns each `ping` operation into an `Echo` to a random server,
//! which relays it through a second server before replying.
//!
//! A reply completes the operation ok, naming the first server. No reply within the timeout
//! completes it as info: the echo may have arrived and the reply been lost, so "it did not
//! happen" would be a lie. A reply after that is ignored.

use std::collections::BTreeMap;

use sim::prelude::*;
use sim::ConnId;

use super::{Bug, Config, Msg, Timer};

/// A client that echoes operations off random servers.
#[derive(Debug)]
pub struct Client {
    config: Config,
    servers: u32,
    /// Outstanding operations, with the timer that ends each.
    waiting: BTreeMap<u64, TimerId>,
}

impl Client {
    /// A client of `servers` servers (ids `0..servers`).
    pub fn new(config: Config, servers: u32) -> Client {
        Client { config, servers, waiting: BTreeMap::new() }
    }
}

impl Node for Client {
    type Msg = Msg;

    fn on_start(&mut self, _ctx: &mut Ctx<'_, Msg>) {}

    fn on_invoke(&mut self, ctx: &mut Ctx<'_, Msg>, op: Operation) {
        if op.id % 10 == 7 && self.config.bugs.contains(&Bug::PhantomReply) {
            return ctx.complete(op.id, Outcome::Ok(Value::Nil), None);
        }
        let server = NodeId(ctx.rng().below(u64::from(self.servers)) as u32);
        super::send(ctx, &self.config, server, Msg::Echo { op: op.id });
        let timer = ctx.set_timer(self.config.timeout, Timer::Operation(op.id));
        self.waiting.insert(op.id, timer);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        if let Msg::Reply { op } = msg {
            ctx.always("replies come from servers", from.0 < self.servers);
            if let Some(timer) = self.waiting.remove(&op) {
                ctx.cancel_timer(timer);
                ctx.complete(op, Outcome::Ok(Value::Nil), Some(from));
            } else {
                ctx.sometimes("reply arrived after its timeout", true);
            }
        }
    }

    fn on_closed(&mut self, ctx: &mut Ctx<'_, Msg>, _conn: ConnId) {
        super::closed(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: Timer) {
        match timer {
            Timer::Operation(op) => {
                if self.waiting.remove(&op).is_some() {
                    ctx.complete(op, Outcome::Info, None);
                }
            }
            Timer::Slot(_) | Timer::Flush => ctx.unexpected("clients set only operation timers"),
        }
    }
}
