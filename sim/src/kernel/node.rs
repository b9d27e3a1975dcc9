//! The sans-IO node: what a protocol implements.
//!
//! A node is a value that reacts to events (start, message, timer) and asks for effects
//! through its [`Ctx`]. It never touches a socket, a clock, a thread or a random generator,
//! so the same code runs under any engine that implements the context, and every run of it
//! is reproducible. A crash drops the value; a restart builds a new one from the node's
//! factory, and only what was made durable on its disk survives.

use super::connection::ConnId;
use super::ctx::Ctx;
use super::ids::{Message, NodeId};
use super::io::{IoId, IoResult};
use super::workload::Operation;

/// A protocol participant: a server, a client, anything with an address.
pub trait Node {
    /// The protocol's wire type, shared by every node of one simulation.
    type Msg: Message;

    /// Called when the node boots, and again after every restart (on a fresh value).
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self::Msg>);

    /// Called when a message arrives.
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self::Msg>, from: NodeId, msg: Self::Msg);

    /// Called when a timer set by this incarnation of the node fires, with the payload it
    /// was set with.
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self::Msg>, timer: <Self::Msg as Message>::Timer);

    /// Called when a connection of this node closed (see `connection`): the peer closed
    /// it, crashed, or a cut or lost messages outlasted the keepalive. What it still carried
    /// is gone. The default does nothing.
    fn on_closed(&mut self, ctx: &mut Ctx<'_, Self::Msg>, conn: ConnId) {
        let _ = (ctx, conn);
    }

    /// Called when a sync this incarnation submitted (`Ctx::fsync_async`,
    /// `Ctx::sync_dir_async`) completed, with its result (see `io`). Only nodes that submit
    /// syncs get one: the default panics.
    fn on_io_done(&mut self, ctx: &mut Ctx<'_, Self::Msg>, io: IoId, result: IoResult) {
        panic!("{} got the completion of {io:?} ({result:?}) but submits no I/O", ctx.id());
    }

    /// Called on client nodes when the workload driver hands them an operation; the client
    /// reports its end with `Ctx::complete`. Servers never get one: the default panics.
    fn on_invoke(&mut self, ctx: &mut Ctx<'_, Self::Msg>, op: Operation) {
        panic!("{} got operation {op:?} but is not a client", ctx.id());
    }
}

/// Builds a node's value at start and at every restart.
pub type Factory<M> = Box<dyn Fn() -> Box<dyn Node<Msg = M>>>;
