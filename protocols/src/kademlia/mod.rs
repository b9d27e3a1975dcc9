//! Kademlia: a DHT measured the way parsec measures the IPFS Amino DHT.
//!
//! A scheduler tells one measurement server at a time to provide fresh content, then every
//! other server (of a fleet that can find it) to retrieve it, and each step is timed per
//! fleet: `default` (go-libp2p-kad-dht's classic provide), `fullrt` (the accelerated
//! client), `optprov` (optimistic provide) and `ipni` (a central indexer). The DHT itself is
//! simulated: `nodes` DHT servers with go-libp2p-kad-dht's rules (k = 20, alpha = 10,
//! beta = 3, its timeouts), an unreachable share that never answers, churn, and regions
//! with their latencies.
//!
//! Node ids: DHT servers `0..nodes` (the first [`BOOTSTRAP`] always reachable and never
//! churned: they are the bootstrappers), then the measurement servers (fleet by fleet,
//! region by region), then the indexer.
//!
//! Files: [`key`] (the key space), [`table`] (population and routing tables), [`lookup`]
//! (the iterative lookup), [`server`] (DHT server and indexer), [`measure`] (measurement
//! servers), [`netsize`] (optimistic provide's estimate), [`report`] (checks and tables).

pub mod config;
pub mod key;
pub mod lookup;
pub mod measure;
pub mod msg;
pub mod netsize;
mod report;
mod rpc;
pub mod server;
pub mod table;

use std::sync::Arc;
use std::time::Duration;

pub use config::{Config, Fleet};
pub use msg::Msg;

use sim::dist::Distribution;
use sim::scenario::Scenario;
use sim::system::{Check, System};
use sim::workload::OperationSpec;
use sim::{Fault, LinkModel, NodeId, Sim, Target, Time};

use key::Key;
use measure::Measurer;
use server::{Indexer, Server};
use table::Population;

/// The bootstrap servers: ids `0..4`.
pub const BOOTSTRAP: std::ops::Range<u32> = 0..4;

/// Kademlia as a system scenarios can name.
pub struct Kademlia;

impl System for Kademlia {
    type Msg = Msg;
    type Settings = Config;

    const NAME: &'static str = "kademlia";
    const ABOUT: &'static str =
        "Kademlia DHT (go-libp2p-kad-dht rules) measured like parsec: provide and retrieve \
                                 latency per fleet (default, fullrt, optprov, ipni)";
    /// Operations come from the system's own scheduler, not a `[workload]`.
    const OPERATIONS: &'static [OperationSpec] = &[];
    const ROLES: &'static [&'static str] = &[];

    fn validate(scenario: &Scenario<Config>) -> Result<(), (&'static str, String)> {
        if scenario.workload.is_some() {
            return Err(("provides", "kademlia schedules its own provides and retrievals: remove [workload] and set provides / interval in [settings]".into()));
        }
        scenario.settings.validate(scenario.nodes, scenario.duration)
    }

    fn add_servers(scenario: &Scenario<Config>, sim: &mut Sim<Msg>) {
        let (population, _) = layout(scenario, sim);
        let config = Arc::new(scenario.settings.clone());
        for me in 0..scenario.nodes {
            let (population, config) = (population.clone(), config.clone());
            sim.add_node(move || Server::new(population.clone(), config.clone(), me));
        }
        set_regions(scenario, &population, sim);
        schedule_churn(scenario, &population, sim);
    }

    fn add_client(_: &Scenario<Config>, _: &[NodeId], _: &mut Sim<Msg>) -> NodeId {
        unreachable!("validated: kademlia scenarios have no [workload]")
    }

    fn add_others(scenario: &Scenario<Config>, sim: &mut Sim<Msg>) {
        let (population, roster) = layout(scenario, sim);
        let config = Arc::new(scenario.settings.clone());
        let indexer = scenario.nodes + roster.len() as u32;
        for &(me, fleet) in roster.iter() {
            let (population, config, roster) = (population.clone(), config.clone(), roster.clone());
            let id = sim.add_node(move || {
                Measurer::new(population.clone(), config.clone(), me, fleet, roster.clone(), indexer)
            });
            debug_assert_eq!(id.0, me);
        }
        let id = sim.add_node(move || Indexer::new(config.clone()));
        debug_assert_eq!(id.0, indexer);
        debug_assert_eq!(population.keys.len(), sim.node_count());
    }

    fn check(scenario: &Scenario<Config>, sim: &Sim<Msg>) -> Vec<Check> {
        report::checks(scenario, sim)
    }

    fn tables(scenario: &Scenario<Config>, sim: &Sim<Msg>) -> Vec<sim::report::Table> {
        report::tables(scenario, sim)
    }
}

/// The population and the measurement roster a scenario describes, drawn from the seed's
/// `kademlia` stream (the same every time it is asked for).
fn layout(scenario: &Scenario<Config>, sim: &Sim<Msg>) -> (Arc<Population>, measure::Roster) {
    let config = &scenario.settings;
    let mut rng = sim.stream("kademlia", 0);
    let servers = scenario.nodes;
    let total_share: f64 = config.regions.iter().map(|r| r.share).sum();
    let mut keys = Vec::new();
    let mut region = Vec::new();
    let mut reachable = Vec::new();
    for id in 0..servers {
        keys.push(Key::random(&mut rng));
        let mut draw = rng.unit() * total_share;
        let mut r = config.regions.len() - 1;
        for (i, candidate) in config.regions.iter().enumerate() {
            if draw < candidate.share {
                r = i;
                break;
            }
            draw -= candidate.share;
        }
        region.push(r as u16);
        reachable.push(BOOTSTRAP.contains(&id) || rng.unit() >= config.unreachable);
    }
    let mut roster = Vec::new();
    for &fleet in &config.fleets {
        for r in 0..config.regions.len() {
            for _ in 0..config.per_region {
                roster.push((servers + roster.len() as u32, fleet));
                keys.push(Key::random(&mut rng));
                region.push(r as u16);
                reachable.push(true);
            }
        }
    }
    // The indexer sits in the first region.
    keys.push(Key::random(&mut rng));
    region.push(0);
    reachable.push(true);
    (Population::new(keys, region, reachable, servers), Arc::new(roster))
}

/// Puts every node in its region's network class and sets the links between regions.
fn set_regions(scenario: &Scenario<Config>, population: &Population, sim: &mut Sim<Msg>) {
    let base = scenario.network.link_model();
    let network = sim.network_mut();
    // Every node's class, the measurement servers' and the indexer's (added later) too.
    for (id, region) in population.region.iter().enumerate() {
        network.set_class(NodeId(id as u32), *region);
    }
    for (a, row) in scenario.settings.latency_ms.iter().enumerate() {
        for (b, ms) in row.iter().enumerate() {
            let nanos = |x: f64| Duration::from_nanos((x * 1e6) as u64);
            let latency = Distribution::Uniform { min: nanos(ms * 0.9), max: nanos(ms * 1.1) };
            network.set_class_link(a as u16, b as u16, LinkModel { latency, ..base.clone() });
        }
    }
}

/// Schedules each churning server's departures (crashes) and returns (restarts).
fn schedule_churn(scenario: &Scenario<Config>, population: &Population, sim: &mut Sim<Msg>) {
    let Some(churn) = &scenario.settings.churn else { return };
    if churn.leave_per_hour <= 0.0 {
        return;
    }
    let mut rng = sim.stream("kademlia.churn", 0);
    let end = Time::from_duration(scenario.duration);
    let up = Distribution::Exponential { mean: Duration::from_secs_f64(3600.0 / churn.leave_per_hour) };
    let down = Distribution::Exponential { mean: churn.downtime };
    let mut events = Vec::new();
    for id in BOOTSTRAP.end..population.servers {
        if !population.reachable[id as usize] {
            continue;
        }
        let mut at = Time::ZERO;
        loop {
            at += Duration::from_nanos(up.sample_nanos(&mut rng).max(1));
            if at >= end {
                break;
            }
            events.push((at, Fault::Crash(Target::Node(NodeId(id)))));
            at += Duration::from_nanos(down.sample_nanos(&mut rng).max(1));
            if at >= end {
                break;
            }
            events.push((at, Fault::Restart(Target::Node(NodeId(id)))));
        }
    }
    events.sort_by_key(|(at, _)| *at);
    for (at, fault) in events {
        sim.schedule(at, fault);
    }
}
