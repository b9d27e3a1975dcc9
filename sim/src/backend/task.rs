//! A node's task on a hosted backend, and what the tasks of one run share.
//!
//! Every backend runs the same loop per node: boot, then forever: sit out the last
//! handler's fsyncs, send what it sent, and wait for the first of the node's next own event
//! (a timer, an invocation), a message from the network, or a wake-up from another task.
//! Only the five primitives of [`Net`] differ between backends.

use std::cell::RefCell;
use std::rc::Rc;

use tokio::sync::Notify;

use crate::kernel::ids::{Message, NodeId};
use crate::kernel::time::Time;
use crate::kernel::wire::Wire;
use crate::Sim;

/// What a backend's runtime gives a node task.
pub(crate) trait Net {
    /// A bound socket.
    type Socket;
    /// Binds `node`'s socket.
    async fn bind(node: NodeId) -> Self::Socket;
    /// Sends `bytes` to `to`, without waiting (a node's sends do not queue behind each other).
    fn send(socket: &Self::Socket, to: NodeId, bytes: Vec<u8>);
    /// The next datagram and who sent it.
    async fn recv(socket: &Self::Socket) -> (NodeId, Vec<u8>);
    /// The simulation's time now, as the running task sees it.
    fn now() -> Time;
    /// Sleeps until `at`.
    async fn sleep_until(at: Time);
}

/// What the tasks of one hosted run share: the simulation, and a wake-up per node task and
/// for the controller. Everything runs on one thread, so a `RefCell` is enough; no borrow
/// is held across an `await`.
pub(crate) struct Shared<M: Message> {
    pub(crate) sim: RefCell<Sim<M>>,
    wake: Vec<Notify>,
    pub(crate) controller: Notify,
}

impl<M: Message + Wire> Shared<M> {
    pub(crate) fn new(sim: Sim<M>) -> Rc<Shared<M>> {
        let wake = (0..sim.node_count()).map(|_| Notify::new()).collect();
        Rc::new(Shared { sim: RefCell::new(sim), wake, controller: Notify::new() })
    }

    /// Wakes the tasks whose next own event moved earlier; a node whose software is down
    /// has no task, and the controller runs its events.
    pub(crate) fn wake_woken(&self) {
        let woken: Vec<(NodeId, bool)> = {
            let mut sim = self.sim.borrow_mut();
            let woken = sim.hosted_woken();
            woken.into_iter().map(|node| (node, sim.is_crashed(node))).collect()
        };
        for (node, crashed) in woken {
            // A crashed node has no task: the controller runs its events.
            if crashed {
                self.controller.notify_one();
            } else {
                self.wake[node.index()].notify_one();
            }
        }
    }

    /// The simulation back, once every task is gone.
    pub(crate) fn into_sim(self: Rc<Self>) -> Sim<M> {
        match Rc::try_unwrap(self) {
            Ok(shared) => shared.sim.into_inner(),
            Err(_) => panic!("a backend task outlived its runtime"),
        }
    }
}

/// Sleeps until `at`, or forever.
async fn sleep_until_some<N: Net>(at: Option<Time>) {
    match at {
        Some(at) => N::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Node `node`'s software: boots the node and runs its events until the backend stops it.
///
/// Receiving runs beside the event loop, in the same task, and never stops: a backend's
/// receive need not be cancel-safe (madsim's is not: a datagram handed to a dropped receive
/// is gone), so it is never raced against a timer.
pub(crate) async fn node_main<N: Net, M: Message + Wire>(shared: Rc<Shared<M>>, node: NodeId) {
    let socket = N::bind(node).await;
    let (arrived, mut inbox) = tokio::sync::mpsc::unbounded_channel();
    let receive = async {
        loop {
            let datagram = N::recv(&socket).await;
            if arrived.send(datagram).is_err() {
                return;
            }
        }
    };
    let run = async {
        shared.sim.borrow_mut().hosted_boot(node, N::now());
        loop {
            let (outbox, busy_until) = {
                let mut sim = shared.sim.borrow_mut();
                (sim.hosted_outbox(node), sim.busy_until(node))
            };
            shared.wake_woken();
            // As on the native engine, what a handler sent after its fsyncs leaves when they
            // end (a send made before them waits too: the conservative side).
            if busy_until > N::now() {
                N::sleep_until(busy_until).await;
            }
            for (to, msg) in outbox {
                N::send(&socket, to, msg.to_bytes());
            }
            let next = shared.sim.borrow().hosted_next(node);
            tokio::select! {
                biased;
                () = sleep_until_some::<N>(next) => shared.sim.borrow_mut().hosted_run_due(node, N::now()),
                Some((from, bytes)) = inbox.recv() => {
                    let msg = M::from_bytes(&bytes)
                        .unwrap_or_else(|e| panic!("{node} cannot decode a message from {from}: {e}"));
                    shared.sim.borrow_mut().hosted_deliver(N::now(), from, node, msg);
                }
                () = shared.wake[node.index()].notified() => {}
            }
        }
    };
    tokio::select! {
        biased;
        _ = run => {}
        _ = receive => {}
    }
}
