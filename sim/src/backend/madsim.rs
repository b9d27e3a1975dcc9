//! The madsim backend: each node a madsim node (`Handle::create_node`) whose init task is
//! the node's software, its messages datagrams through madsim's `Endpoint`, its timers
//! madsim sleeps.
//!
//! Crashes and restarts are madsim's `kill` and `restart`, pauses its `pause` and `resume`;
//! partitions are `NetSim::clog_link` and `unclog_link` per cut link; latency and loss are
//! madsim's network config (`send_latency`, a uniform range, and `packet_loss_rate`). The
//! seed is madsim's seed. simctl's controller (faults, open-loop arrivals) is the task that
//! `block_on` runs, on madsim's supervisor node.
//!
//! madsim simulates only in a build under `--cfg madsim` (`cargo madsim`, an alias in
//! `.cargo/config.toml`); this module is compiled only there.

use std::any::Any;
use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::rc::Rc;
use std::time::Duration;

use madsim::net::{Endpoint, NetSim};
use madsim::runtime::{Handle, Runtime};
use madsim::time::TimeHandle;

use super::task::{node_main, Net, Shared};
use super::{map_link, Backend, HostedLink, Plan};
use crate::kernel::engine::HostAction;
use crate::kernel::ids::{Message, NodeId};
use crate::kernel::time::Time;
use crate::kernel::wire::Wire;

/// The port every node listens on.
const PORT: u16 = 7000;

/// The tag every datagram carries (madsim's endpoints multiplex by tag).
const TAG: u64 = 0;

thread_local! {
    /// The run's shared state, for node tasks: madsim's init closures must be `Send + Sync`,
    /// so they carry a node id and find the rest here (madsim runs on one thread).
    static SHARED: RefCell<Option<Rc<dyn Any>>> = const { RefCell::new(None) };
}

/// Node `node`'s address: 10.0.0.0/8, from 10.0.0.1.
fn address(node: NodeId) -> IpAddr {
    let [_, a, b, c] = (node.0 + 1).to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(10, a, b, c))
}

fn node_at(ip: IpAddr) -> NodeId {
    match ip {
        IpAddr::V4(v4) => {
            let [_, a, b, c] = v4.octets();
            NodeId(u32::from_be_bytes([0, a, b, c]) - 1)
        }
        IpAddr::V6(_) => panic!("nodes have IPv4 addresses"),
    }
}

/// What madsim adds to every datagram: its endpoints sleep before a send and after a
/// receive, and a madsim sleep lasts at least a millisecond.
const ENDPOINT_DELAY: Duration = Duration::from_millis(2);

/// madsim's latency range: `min..max` less what its endpoints add, at least a nanosecond
/// wide (it draws from a half-open range).
fn latency_range(link: &HostedLink) -> Range<Duration> {
    let min = link.min.saturating_sub(ENDPOINT_DELAY);
    let max = link.max.saturating_sub(ENDPOINT_DELAY);
    min..max.max(min + Duration::from_nanos(1))
}

struct MadsimNet;

impl Net for MadsimNet {
    type Socket = Rc<Endpoint>;

    async fn bind(node: NodeId) -> Rc<Endpoint> {
        let endpoint = Endpoint::bind(SocketAddr::new(address(node), PORT)).await;
        Rc::new(endpoint.unwrap_or_else(|e| panic!("{node} cannot bind its port: {e}")))
    }

    fn send(socket: &Rc<Endpoint>, to: NodeId, bytes: Vec<u8>) {
        // madsim's send sleeps before it sends (at least a millisecond), so each send is a
        // task of the node's own, and a node's sends go out side by side. A datagram that
        // cannot be sent is lost, as on a real network.
        let socket = Rc::clone(socket);
        madsim::task::spawn_local(async move {
            let _ = socket.send_to_raw(SocketAddr::new(address(to), PORT), TAG, Box::new(bytes)).await;
        });
    }

    async fn recv(socket: &Rc<Endpoint>) -> (NodeId, Vec<u8>) {
        let (payload, from) = socket.recv_from_raw(TAG).await.expect("a bound endpoint receives");
        let bytes = payload.downcast::<Vec<u8>>().expect("send_to sends bytes");
        (node_at(from.ip()), *bytes)
    }

    fn now() -> Time {
        Time::from_duration(TimeHandle::current().elapsed())
    }

    async fn sleep_until(at: Time) {
        madsim::time::sleep(Duration::from_nanos(at.as_nanos().saturating_sub(Self::now().as_nanos()))).await;
    }
}

/// Node `node`'s software, as madsim starts (and restarts) it.
async fn software<M: Message + Wire>(node: NodeId) {
    let shared = SHARED.with(|s| s.borrow().clone()).expect("a madsim run is in progress");
    let shared = shared.downcast::<Shared<M>>().unwrap_or_else(|_| panic!("the run's message type"));
    node_main::<MadsimNet, M>(shared, node).await;
}

/// Runs the hosted simulation in `shared` on madsim with `seed` until `until`.
pub(super) fn run<M: Message + Wire>(
    shared: &Rc<Shared<M>>,
    plan: &Plan,
    until: Time,
    seed: u64,
) -> Result<(), String> {
    let mut config = madsim::Config::default();
    config.net.send_latency = latency_range(&plan.link);
    config.net.packet_loss_rate = plan.link.loss;
    let runtime = Runtime::with_seed_and_config(seed, config);
    SHARED.with(|s| *s.borrow_mut() = Some(Rc::clone(shared) as Rc<dyn Any>));
    let nodes = shared.sim.borrow().node_count();
    let controller = Rc::clone(shared);
    let outcome = runtime.block_on(async move {
        let handle = Handle::current();
        let ids: Vec<madsim::task::NodeId> = (0..nodes)
            .map(|i| {
                let node = NodeId(i as u32);
                handle
                    .create_node()
                    .name(node.to_string())
                    .ip(address(node))
                    .init(move || software::<M>(node))
                    .build()
                    .id()
            })
            .collect();
        let outcome = control(&controller, &ids, until).await;
        // madsim keeps a node's tasks until the node is killed, even past the runtime.
        for &id in &ids {
            handle.kill(id);
        }
        outcome
    });
    drop(runtime);
    SHARED.with(|s| s.borrow_mut().take());
    outcome
}

/// simctl's controller: applies faults (through madsim where it has them) and open-loop
/// arrivals when they are due, until `until`.
async fn control<M: Message + Wire>(
    shared: &Shared<M>,
    ids: &[madsim::task::NodeId],
    until: Time,
) -> Result<(), String> {
    let handle = Handle::current();
    let net = NetSim::current();
    loop {
        let now = MadsimNet::now();
        let actions = shared.sim.borrow_mut().hosted_run_global(now.min(until));
        for action in actions {
            match action {
                HostAction::Kill(node) => handle.kill(ids[node.index()]),
                HostAction::Restart(node) => handle.restart(ids[node.index()]),
                HostAction::Pause(node) => handle.pause(ids[node.index()]),
                HostAction::Resume(node) => handle.resume(ids[node.index()]),
                HostAction::Cuts => {
                    for (from, to, cut) in shared.sim.borrow().link_cuts() {
                        let (from, to) = (ids[from.index()], ids[to.index()]);
                        if cut {
                            net.clog_link(from, to);
                        } else {
                            net.unclog_link(from, to);
                        }
                    }
                }
                HostAction::Clogs => unreachable!("backend::check refuses clogs on madsim"),
                HostAction::Network(model) => {
                    let link = map_link(&model, Backend::Madsim, &mut Vec::new())?;
                    net.update_config(|config| {
                        config.send_latency = latency_range(&link);
                        config.packet_loss_rate = link.loss;
                    });
                }
            }
        }
        shared.wake_woken();
        if now >= until {
            return Ok(());
        }
        let next = shared.sim.borrow().hosted_next_global().map_or(until, |next| next.min(until));
        tokio::select! {
            biased;
            () = MadsimNet::sleep_until(next) => {}
            () = shared.controller.notified() => {}
        }
    }
}
