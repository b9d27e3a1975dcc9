//! A scriptable probe node for kernel tests: each test says what the node does on start,
//! on a message and on a timer, and asserts on the trace events and observations.
#![allow(dead_code)]

use std::rc::Rc;
use std::time::Duration;

use sim::prelude::*;
use sim::{ConnId, IoId, IoResult};

/// A numbered test message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Num(pub u64);

impl Message for Num {
    /// A probe's timers carry a tag the script chooses.
    type Timer = u64;
    type Kind = ();
}

type StartFn = dyn Fn(&mut Ctx<'_, Num>);
type MessageFn = dyn Fn(&mut Ctx<'_, Num>, NodeId, Num);
type TimerFn = dyn Fn(&mut Ctx<'_, Num>, u64);
type InvokeFn = dyn Fn(&mut Ctx<'_, Num>, Operation);
type ClosedFn = dyn Fn(&mut Ctx<'_, Num>, ConnId);
type IoFn = dyn Fn(&mut Ctx<'_, Num>, IoId, IoResult);

/// What a probe does; shared by every incarnation of the node.
#[derive(Clone)]
pub struct Script {
    start: Rc<StartFn>,
    message: Rc<MessageFn>,
    timer: Rc<TimerFn>,
    invoke: Rc<InvokeFn>,
    closed: Rc<ClosedFn>,
    io_done: Rc<IoFn>,
}

impl Default for Script {
    fn default() -> Script {
        Script {
            start: Rc::new(|_| {}),
            message: Rc::new(|_, _, _| {}),
            timer: Rc::new(|_, _| {}),
            invoke: Rc::new(|ctx, op| panic!("{} is not a client: {op:?}", ctx.id())),
            closed: Rc::new(|_, _| {}),
            io_done: Rc::new(|ctx, io, _| panic!("{} submitted no {io:?}", ctx.id())),
        }
    }
}

impl Script {
    pub fn on_start(mut self, f: impl Fn(&mut Ctx<'_, Num>) + 'static) -> Script {
        self.start = Rc::new(f);
        self
    }
    pub fn on_message(mut self, f: impl Fn(&mut Ctx<'_, Num>, NodeId, Num) + 'static) -> Script {
        self.message = Rc::new(f);
        self
    }
    pub fn on_timer(mut self, f: impl Fn(&mut Ctx<'_, Num>, u64) + 'static) -> Script {
        self.timer = Rc::new(f);
        self
    }
    pub fn on_invoke(mut self, f: impl Fn(&mut Ctx<'_, Num>, Operation) + 'static) -> Script {
        self.invoke = Rc::new(f);
        self
    }
    pub fn on_closed(mut self, f: impl Fn(&mut Ctx<'_, Num>, ConnId) + 'static) -> Script {
        self.closed = Rc::new(f);
        self
    }
    pub fn on_io_done(mut self, f: impl Fn(&mut Ctx<'_, Num>, IoId, IoResult) + 'static) -> Script {
        self.io_done = Rc::new(f);
        self
    }
    /// The factory the engine calls at start and restart.
    pub fn factory(&self) -> impl Fn() -> Probe + 'static {
        let script = self.clone();
        move || Probe { script: script.clone() }
    }
}

/// The node a `Script` drives.
pub struct Probe {
    script: Script,
}

impl Node for Probe {
    type Msg = Num;
    fn on_start(&mut self, ctx: &mut Ctx<'_, Num>) {
        (self.script.start)(ctx)
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_, Num>, from: NodeId, msg: Num) {
        (self.script.message)(ctx, from, msg)
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Num>, timer: u64) {
        (self.script.timer)(ctx, timer)
    }
    fn on_invoke(&mut self, ctx: &mut Ctx<'_, Num>, op: Operation) {
        (self.script.invoke)(ctx, op)
    }
    fn on_closed(&mut self, ctx: &mut Ctx<'_, Num>, conn: ConnId) {
        (self.script.closed)(ctx, conn)
    }
    fn on_io_done(&mut self, ctx: &mut Ctx<'_, Num>, io: IoId, result: IoResult) {
        (self.script.io_done)(ctx, io, result)
    }
}

pub fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

pub fn at_ms(value: u64) -> Time {
    Time::from_duration(ms(value))
}

/// A lossless network with a constant latency.
pub fn constant(latency: Duration) -> LinkModel {
    LinkModel::with_latency(Distribution::Constant(latency))
}

/// Runs to `until` and returns every event, in order.
pub fn events_until<M: Message>(sim: &mut Sim<M>, until: Time) -> Vec<sim::TraceEvent> {
    std::iter::from_fn(|| sim.step_until(until)).collect()
}

/// The events of one kind, as (time in ms, node, peer, digest).
pub fn of_kind(events: &[sim::TraceEvent], kind: sim::EventKind) -> Vec<(u64, u32, Option<u32>)> {
    events
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| (e.time.as_nanos() / 1_000_000, e.node.map_or(u32::MAX, |n| n.0), e.peer.map(|p| p.0)))
        .collect()
}

/// Counts messages handed to `on_message` with a counter named "received".
pub fn counting_receiver() -> Script {
    Script::default().on_message(|ctx, _, _| ctx.count("received", 1))
}

/// Sends `Num(0)` to `to` at `first` and then every `every`, the last send at or before `last`.
pub fn sender(to: NodeId, first: Duration, every: Duration, last: Time) -> Script {
    Script::default()
        .on_start(move |ctx| {
            if first.is_zero() {
                ctx.send(to, Num(0));
                ctx.set_timer(every, 0);
            } else {
                ctx.set_timer(first, 0);
            }
        })
        .on_timer(move |ctx, _| {
            ctx.send(to, Num(0));
            if ctx.now() + every <= last {
                ctx.set_timer(every, 0);
            }
        })
}
