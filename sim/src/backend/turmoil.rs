//! The turmoil backend: each node a turmoil host, its messages UDP datagrams
//! (`turmoil::net::UdpSocket`), its timers tokio sleeps on the host's paused clock.
//!
//! Crashes and restarts are turmoil's `crash` and `bounce`; partitions are
//! `partition_oneway` and `repair_oneway` per cut link; loss is turmoil's link failure
//! (`fail_rate`, repaired at the next message: a failed link also drops what it had in
//! flight); latency is turmoil's range with its exponential curve, in whole milliseconds.
//! simctl's controller (faults, open-loop arrivals) runs between turmoil's steps, so it acts
//! on tick boundaries; turmoil runs its hosts one after another through each tick.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::time::Duration;

use turmoil::net::UdpSocket;

use super::task::{node_main, Net, Shared};
use super::{turmoil_curve, HostedLink, Plan};
use crate::kernel::engine::HostAction;
use crate::kernel::ids::{Message, NodeId};
use crate::kernel::time::Time;
use crate::kernel::wire::Wire;

/// The port every node listens on.
const PORT: u16 = 7000;

/// The largest message a node can receive (a datagram is read into one buffer).
const MAX_DATAGRAM: usize = 64 << 20;

thread_local! {
    /// Each node's address, and the node at each address, for the run on this thread.
    static ADDRESSES: RefCell<(Vec<IpAddr>, BTreeMap<IpAddr, NodeId>)> = RefCell::default();
    /// Where datagrams are read, one at a time (turmoil runs every host on this thread).
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn host_name(node: usize) -> String {
    format!("n{node}")
}

struct TurmoilNet;

impl Net for TurmoilNet {
    type Socket = UdpSocket;

    async fn bind(node: NodeId) -> UdpSocket {
        UdpSocket::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT))
            .await
            .unwrap_or_else(|e| panic!("{node} cannot bind its port: {e}"))
    }

    fn send(socket: &UdpSocket, to: NodeId, bytes: Vec<u8>) {
        let address = ADDRESSES.with(|a| a.borrow().0[to.index()]);
        // turmoil queues a datagram on its link at once; one that cannot be sent is lost,
        // as on a real network.
        let _ = socket.try_send_to(&bytes, (address, PORT));
    }

    async fn recv(socket: &UdpSocket) -> (NodeId, Vec<u8>) {
        loop {
            socket.readable().await.expect("a bound socket can be read");
            let got = BUFFER.with(|buffer| {
                let mut buffer = buffer.borrow_mut();
                if buffer.is_empty() {
                    // Zeroed by the allocator: pages are touched only as datagrams fill them.
                    *buffer = vec![0; MAX_DATAGRAM];
                }
                socket.try_recv_from(&mut buffer).ok().map(|(len, from)| {
                    assert!(
                        len < MAX_DATAGRAM,
                        "a message of {MAX_DATAGRAM} bytes or more cannot cross turmoil"
                    );
                    (buffer[..len].to_vec(), from)
                })
            });
            if let Some((bytes, from)) = got {
                let node = ADDRESSES.with(|a| a.borrow().1.get(&from.ip()).copied());
                return (node.expect("datagrams come from nodes"), bytes);
            }
        }
    }

    fn now() -> Time {
        Time::from_duration(turmoil::sim_elapsed().expect("node tasks run inside turmoil"))
    }

    async fn sleep_until(at: Time) {
        tokio::time::sleep(Duration::from_nanos(at.as_nanos().saturating_sub(Self::now().as_nanos()))).await;
    }
}

/// Runs the hosted simulation in `shared` on turmoil until `until`, ticking by `tick`.
pub(super) fn run<M: Message + Wire>(
    shared: &Rc<Shared<M>>,
    plan: &Plan,
    until: Time,
    tick: Duration,
    seed: u64,
) -> Result<(), String> {
    let nodes = shared.sim.borrow().node_count();
    let HostedLink { min, max, loss, .. } = plan.link.clone();
    let mut net = turmoil::Builder::new()
        .simulation_duration(Duration::from_nanos(until.as_nanos()) + tick * 2)
        .tick_duration(tick)
        .min_message_latency(min)
        .max_message_latency(max)
        .fail_rate(loss)
        .repair_rate(1.0)
        .udp_capacity(1 << 16)
        .rng_seed(seed)
        .build();
    if let Some(curve) = turmoil_curve(&plan.link) {
        net.set_message_latency_curve(curve);
    }
    for i in 0..nodes {
        let shared = Rc::clone(shared);
        net.host(host_name(i), move || {
            let shared = Rc::clone(&shared);
            async move {
                node_main::<TurmoilNet, M>(shared, NodeId(i as u32)).await;
                Ok(())
            }
        });
    }
    let addresses: Vec<IpAddr> = (0..nodes).map(|i| net.lookup(host_name(i))).collect();
    let by_address = addresses.iter().enumerate().map(|(i, a)| (*a, NodeId(i as u32))).collect();
    ADDRESSES.with(|a| *a.borrow_mut() = (addresses.clone(), by_address));
    let outcome = steps(&mut net, shared, &addresses, until);
    drop(net);
    ADDRESSES.with(|a| *a.borrow_mut() = Default::default());
    outcome
}

fn steps<M: Message + Wire>(
    net: &mut turmoil::Sim<'_>,
    shared: &Shared<M>,
    addresses: &[IpAddr],
    until: Time,
) -> Result<(), String> {
    loop {
        let now = Time::from_duration(net.elapsed());
        let actions = shared.sim.borrow_mut().hosted_run_global(now.min(until));
        for action in actions {
            match action {
                HostAction::Kill(node) => net.crash(addresses[node.index()]),
                HostAction::Restart(node) => net.bounce(addresses[node.index()]),
                HostAction::Pause(node) | HostAction::Resume(node) => {
                    return Err(format!("turmoil cannot pause or resume a host ({node})"))
                }
                HostAction::Cuts => {
                    for (from, to, cut) in shared.sim.borrow().link_cuts() {
                        let (from, to) = (addresses[from.index()], addresses[to.index()]);
                        if cut {
                            net.partition_oneway(from, to);
                        } else {
                            net.repair_oneway(from, to);
                        }
                    }
                }
                HostAction::Clogs => {
                    // turmoil holds both directions of a pair (check notes it).
                    let clogs = shared.sim.borrow().link_clogs();
                    let pair = |a: NodeId, b: NodeId| (a.min(b), a.max(b));
                    let held: BTreeSet<_> = clogs.iter().filter(|c| c.2).map(|c| pair(c.0, c.1)).collect();
                    for &(from, to, _) in clogs.iter().filter(|c| c.0 < c.1) {
                        let (a, b) = (addresses[from.index()], addresses[to.index()]);
                        if held.contains(&(from, to)) {
                            net.hold(a, b);
                        } else {
                            net.release(a, b);
                        }
                    }
                }
                HostAction::Network(model) => {
                    let link = super::map_link(&model, super::Backend::Turmoil, &mut Vec::new())?;
                    net.set_max_message_latency(link.max);
                    net.set_fail_rate(link.loss);
                    if let Some(curve) = turmoil_curve(&link) {
                        net.set_message_latency_curve(curve);
                    }
                }
            }
        }
        shared.wake_woken();
        if now >= until {
            return Ok(());
        }
        net.step().map_err(|e| e.to_string())?;
    }
}
