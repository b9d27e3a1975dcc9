//! Ping-pong: the kernel's reference system.
//!
//! Not one of the systems simctl models: it exists to measure and test the kernel, and it is
//! the reference for docs/adding-a-system.md. Every server
//! keeps `window` requests outstanding, each to a random other server, and answers every
//! request it gets; a request unanswered after `timeout` is replaced. Clients turn `ping`
//! operations into echoes off random servers. Its cost per message is close to zero, so a
//! benchmark of it measures the engine, not the protocol; its scenarios exercise every
//! fault kind end to end before the real systems land.
//!
//! The fixed points every performance comparison uses are `scenarios/pingpong/bench-5.toml`
//! and `bench-100.toml`: 5 / 100 servers, window 1, 60 simulated seconds, latency uniform
//! 1–10 ms, no faults.

mod client;
mod config;
mod msg;
mod node;

pub use client::Client;
pub use config::{Bug, Config};
pub use msg::{Msg, Timer};
pub use node::PingPong;

use sim::harness::system::{Check, Slot as SystemSlot, System};
use sim::kernel::network::NetworkModel;
use sim::kernel::workload::{Arg, OperationSpec, Operations, Outcome};
use sim::scenario::{FaultAction, Scenario};
use sim::{Ctx, LinkModel, Network, Node, NodeId, Seed, Sim};
use std::time::Duration;

sim::operations! {
    /// Ping-pong's one operation.
    pub enum PingOp {
        /// An echo off a random server, relayed through a second.
        Ping = ("ping", Arg::None, 1.0),
    }
}

/// Ping-pong as a system scenarios can name.
pub struct PingPongSystem;

/// What every ping-pong node is built from.
pub struct Setup {
    config: Config,
    servers: u32,
}

impl System for PingPongSystem {
    type Msg = Msg;
    type Settings = Config;
    type Setup = Setup;

    const NAME: &'static str = "pingpong";
    const ABOUT: &'static str =
        "kernel reference workload: servers keep `window` pings outstanding to each other; \
                                 clients echo `ping` operations off random servers";
    const OPERATIONS: &'static [OperationSpec] = PingOp::SPECS;

    fn validate(scenario: &Scenario<Config>) -> Result<(), (&'static str, String)> {
        scenario.settings.validate()
    }

    fn setup(scenario: &Scenario<Config>, _seed: Seed) -> Setup {
        Setup { config: scenario.settings.clone(), servers: scenario.nodes }
    }

    fn node(setup: &Setup, slot: SystemSlot, _id: NodeId) -> Box<dyn Node<Msg = Msg>> {
        match slot {
            SystemSlot::Server(_) => Box::new(PingPong::new(setup.config.clone(), setup.servers)),
            SystemSlot::Client(_) | SystemSlot::Other(_) => {
                Box::new(Client::new(setup.config.clone(), setup.servers))
            }
        }
    }

    fn network(scenario: &Scenario<Config>, _setup: &Setup, network: &mut NetworkModel) {
        if scenario.settings.connections {
            network.use_connections();
        }
    }

    fn check(scenario: &Scenario<Config>, _setup: &Setup, sim: &Sim<Msg>) -> Vec<Check> {
        let stray = sim.operations().iter().find(|r| {
            matches!(r.completed, Some((_, Outcome::Ok(_))))
                && r.served_by.is_none_or(|s| s.0 >= scenario.nodes)
        });
        vec![
            Check::from("pingpong.served_by_a_server", stray.is_none(), || {
                format!("operation {:?} completed ok without a server's reply", stray.map(|r| &r.op))
            }),
            latency_floor(scenario, sim),
            durable_replies(scenario, sim),
        ]
    }
}

/// `pingpong.durable_replies`: with `durable_replies`, a server replies only once the
/// echo's record is synced, so the record is in its log at the end, whatever crashes, torn
/// writes and partial write-backs came between (the disk's promise that what `fsync`
/// covered survives). A server whose disk was wiped, corrupted, or lost or misdirected a
/// write is excused: those faults damage synced data by design.
fn durable_replies(scenario: &Scenario<Config>, sim: &Sim<Msg>) -> Check {
    let name = "pingpong.durable_replies";
    if !scenario.settings.durable_replies {
        return Check::skipped(name, "durable_replies = false");
    }
    let logs: Vec<Option<std::collections::BTreeSet<u64>>> = (0..scenario.nodes)
        .map(|node| {
            let disk = sim.disk(NodeId(node));
            let stats = disk.stats();
            let damaged = stats.wipes + stats.corruptions + stats.lost_writes + stats.misdirected_writes > 0;
            (!damaged).then(|| {
                disk.read_all(node::LOG).map(|log| node::records(&log).collect()).unwrap_or_default()
            })
        })
        .collect();
    let lost = sim.operations().iter().find(|r| {
        matches!(r.completed, Some((_, Outcome::Ok(_))))
            && r.served_by
                .and_then(|s| logs.get(s.index())?.as_ref())
                .is_some_and(|log| !log.contains(&r.op.id))
    });
    Check::of_whole_run(Check::from(name, lost.is_none(), || {
        let r = lost.expect("failing");
        format!(
            "{} #{} was answered by {} after its record was synced, but the record is not in its log at the end",
            r.op.f,
            r.op.id,
            r.served_by.expect("served")
        )
    }))
}

/// `pingpong.latency_floor`: the network's models are the scenario's (the kernel's links,
/// per-link and per-node overrides and bandwidths, checked through the system that
/// exercises them), and so is the disk's cost of a durable reply. An echo crosses four links: client to server, server to a relay and
/// back, server to client. Each takes at least its model's floor: the least value of its
/// latency distribution, plus the message's size over the link's bandwidth and (a small
/// message) over the node interfaces'. So an operation a server answered took at least the
/// least such sum over the relays it could have used; with `durable_replies`, plus the
/// server's write of its record (its size over `[disk] write_bandwidth`) and a sync (the
/// least `fsync_latency` the scenario sets; none under a swarm, whose disk faults draw
/// theirs). Faults only add time (loss,
/// retransmission, clogs, pauses, slow disks), unless one changes a latency or bandwidth:
/// such a scenario, or one with latencies per message kind, is not judged.
fn latency_floor(scenario: &Scenario<Config>, sim: &Sim<Msg>) -> Check {
    let name = "pingpong.latency_floor";
    let spec = &scenario.network;
    let reshaped = scenario.faults.iter().any(|f| match &f.action {
        FaultAction::Network { change, .. } | FaultAction::Link { change, .. } => {
            change.latency.is_some() || change.bandwidth.is_some()
        }
        _ => false,
    });
    if reshaped || !spec.kinds.is_empty() {
        return Check::skipped(
            name,
            "a fault changes a latency or bandwidth, or kinds have latencies of their own",
        );
    }
    let base = spec.link_model();
    // The model of `from -> to`: a link's own (the last that names it), else a node's, the
    // sender's first, else the default (NetworkModel::model's order).
    let model = |from: u32, to: u32| {
        let link = spec
            .links
            .iter()
            .rev()
            .find(|l| l.from.indices().contains(&from) && l.to.indices().contains(&to));
        let node = |n: u32| spec.nodes.iter().rev().find(|o| o.node == n).map(|o| &o.change);
        link.map(|l| &l.change)
            .or_else(|| node(from))
            .or_else(|| node(to))
            .map_or_else(|| base.clone(), |c| c.apply(&base))
    };
    let size = sim::Message::wire_size(&Msg::Echo { op: 0 });
    let transmit = |bytes_per_second: u64| size * 1_000_000_000 / bytes_per_second.max(1);
    let interface =
        spec.node_bandwidth.filter(|_| size <= sim::kernel::network::PACKET).map_or(0, |b| transmit(b.0));
    let hop = |from: u32, to: u32| -> u64 {
        if from == to {
            return 0;
        }
        let link = model(from, to);
        link.latency.floor().as_nanos() as u64 + link.bandwidth.map_or(0, transmit) + interface
    };
    let disk = &scenario.disk;
    let sync = disk.fsync_latency.unwrap_or_default().min(if scenario.swarm.is_some() {
        Duration::ZERO
    } else {
        let faults = scenario.faults.iter().filter_map(|f| match &f.action {
            FaultAction::Disk { change, .. } => change.fsync_latency,
            _ => None,
        });
        faults.min().unwrap_or(Duration::MAX)
    });
    let record = node::RECORD as u64 * 1_000_000_000 / disk.write_bandwidth.map_or(u64::MAX, |b| b.0.max(1));
    let durable = if scenario.settings.durable_replies { sync.as_nanos() as u64 + record } else { 0 };
    let servers = scenario.nodes;
    let floor = |client: u32, server: u32| {
        let relays = (0..servers).filter(|&r| r != server || servers < 2);
        hop(client, server)
            + relays.map(|r| hop(server, r) + hop(r, server)).min().unwrap_or(0)
            + durable
            + hop(server, client)
    };
    let fast = sim.operations().iter().find_map(|r| {
        let server = r.served_by.filter(|s| s.0 < servers)?.0;
        let took = r.latency_nanos()?;
        let least = floor(r.client.0, server);
        (matches!(r.completed, Some((_, Outcome::Ok(_)))) && took < least).then_some((r, server, took, least))
    });
    Check::of_whole_run(Check::from(name, fast.is_none(), || {
        let (r, server, took, least) = fast.expect("failing");
        format!(
            "{} #{} answered by n{server} took {:?}; its links' latencies and bandwidths (and its disk's costs) make it at least {:?}",
            r.op.f,
            r.op.id,
            std::time::Duration::from_nanos(took),
            std::time::Duration::from_nanos(least)
        )
    }))
}

/// Sends `msg` to `to`: with `connections` on, on this node's connection to it (opened if
/// need be), else (and to itself) as a datagram.
#[inline]
fn send(ctx: &mut Ctx<'_, Msg>, config: &Config, to: NodeId, msg: Msg) {
    if config.connections && to != ctx.id() {
        let conn = ctx.connect(to);
        ctx.send_on(conn, msg);
    } else {
        ctx.send(to, msg);
    }
}

/// Answers the message being handled, from `from`: on the connection it came on while that
/// is open, else as `send` would.
#[inline]
fn answer(ctx: &mut Ctx<'_, Msg>, config: &Config, from: NodeId, msg: Msg) {
    match ctx.arrived_on().filter(|&conn| ctx.is_open(conn)) {
        Some(conn) => ctx.send_on(conn, msg),
        None => send(ctx, config, from, msg),
    }
}

/// What a ping-pong node does when one of its connections closes: nothing but count it
/// (a request on it times out and is replaced, on a new connection).
fn closed(ctx: &mut Ctx<'_, Msg>) {
    ctx.count("connections closed", 1);
    ctx.sometimes("a connection closed", true);
}

/// A simulation of `servers` ping-pong servers over `network`, with no clients.
pub fn build(seed: u64, servers: u32, config: &Config, network: LinkModel) -> Sim<Msg> {
    let mut sim = Sim::new(seed, network);
    for _ in 0..servers {
        let config = config.clone();
        sim.add_node(move || PingPong::new(config.clone(), servers));
    }
    sim
}

/// The simulation a ping-pong scenario describes (servers, clients, workload, faults).
pub fn from_scenario(scenario: &Scenario<Config>, seed: u64) -> Sim<Msg> {
    sim::harness::run::build::<PingPongSystem>(scenario, seed)
}
