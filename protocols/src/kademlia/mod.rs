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

pub use config::{Bug, Config, Fleet};
pub use msg::Msg;
pub use report::KadFact;

use sim::harness::system::{Check, Slot, System};
use sim::kernel::dist::Distribution;
use sim::kernel::network::NetworkModel;
use sim::scenario::Scenario;
use sim::{Fault, LinkModel, Node, NodeId, Seed, Sim, Target, Time};

use key::Key;
use measure::Measurer;
use server::{Indexer, Server};
use table::Population;

/// The bootstrap servers: ids `0..4`.
pub const BOOTSTRAP: std::ops::Range<u32> = 0..4;

/// Kademlia as a system scenarios can name.
pub struct Kademlia;

/// What every Kademlia node is built from: drawn once per run from the seed.
pub struct Setup {
    config: Arc<Config>,
    population: Arc<Population>,
    roster: measure::Roster,
    /// The indexer's node id: after the DHT servers and the measurement servers.
    indexer: u32,
    /// Departures and returns of churning servers, drawn from the seed.
    churn: Vec<(Time, Fault)>,
}

/// The bug classes the DHT's scenarios must reach (docs/BUG-FINDING.md): each is stated
/// with `Ctx::sometimes` where its situation arises, so a sweep's ledger shows it.
pub(crate) mod class {
    use sim::harness::system::BugClass;

    pub const SILENT_PEER: &str = "class: a lookup's query timed out on a silent peer";
    pub const DEAD_SEED: &str = "class: a query to a bootstrap server went unanswered";
    pub const REFILLED: &str = "class: a routing table refilled after dropping a dead peer";
    pub const RECORDS_CHURNED: &str = "class: a server that churned was asked for providers and had none";
    pub const UNREACHABLE: &str = "class: a lookup's query to an unreachable server timed out";
    pub const ALL: &[BugClass] = &[
        BugClass { name: SILENT_PEER, reached_by: "scenarios/kademlia/dead-seed.toml" },
        BugClass { name: DEAD_SEED, reached_by: "scenarios/kademlia/dead-seed.toml" },
        BugClass { name: REFILLED, reached_by: "scenarios/kademlia/churn.toml" },
        BugClass { name: RECORDS_CHURNED, reached_by: "scenarios/kademlia/churn.toml" },
        BugClass { name: UNREACHABLE, reached_by: "scenarios/kademlia/unreachable.toml" },
    ];
}

impl System for Kademlia {
    type Msg = Msg;
    type Settings = Config;
    type Setup = Setup;

    const NAME: &'static str = "kademlia";
    const BUG_CLASSES: &'static [sim::harness::system::BugClass] = class::ALL;
    const ABOUT: &'static str =
        "Kademlia DHT (go-libp2p-kad-dht rules) measured like parsec: provide and retrieve \
                                 latency per fleet (default, fullrt, optprov, ipni)";

    fn validate(scenario: &Scenario<Config>) -> Result<(), (&'static str, String)> {
        scenario.settings.validate(scenario.nodes, scenario.duration)
    }

    fn setup(scenario: &Scenario<Config>, seed: Seed) -> Setup {
        let (population, roster) = layout(scenario, seed);
        let indexer = scenario.nodes + roster.len() as u32;
        let churn = churn(scenario, &population, seed);
        Setup { config: Arc::new(scenario.settings.clone()), population, roster, indexer, churn }
    }

    /// The measurement servers, then the indexer.
    fn other_nodes(setup: &Setup) -> u32 {
        setup.roster.len() as u32 + 1
    }

    fn node(setup: &Setup, slot: Slot, id: NodeId) -> Box<dyn Node<Msg = Msg>> {
        let (population, config) = (setup.population.clone(), setup.config.clone());
        match slot {
            Slot::Server(me) => Box::new(Server::new(population, config, me)),
            Slot::Other(i) if (i as usize) < setup.roster.len() => {
                let (me, fleet) = setup.roster[i as usize];
                debug_assert_eq!(me, id.0);
                Box::new(Measurer::new(population, config, me, fleet, setup.roster.clone(), setup.indexer))
            }
            // The last other node; kademlia takes no operations, so it has no clients.
            Slot::Other(_) | Slot::Client(_) => {
                debug_assert_eq!(id.0, setup.indexer);
                Box::new(Indexer::new(config))
            }
        }
    }

    fn network(scenario: &Scenario<Config>, setup: &Setup, network: &mut NetworkModel) {
        set_regions(scenario, &setup.population, network);
    }

    fn faults(_scenario: &Scenario<Config>, setup: &Setup) -> Vec<(Time, Fault)> {
        setup.churn.clone()
    }

    fn check(scenario: &Scenario<Config>, setup: &Setup, sim: &Sim<Msg>) -> Vec<Check> {
        report::checks(scenario, setup, sim)
    }

    fn tables(scenario: &Scenario<Config>, _setup: &Setup, sim: &Sim<Msg>) -> Vec<sim::report::Table> {
        report::tables(scenario, sim)
    }
}

/// The population and the measurement roster a scenario describes, drawn from the seed's
/// `kademlia` stream (the same every time it is asked for).
fn layout(scenario: &Scenario<Config>, seed: Seed) -> (Arc<Population>, measure::Roster) {
    let config = &scenario.settings;
    let mut rng = seed.stream("kademlia", 0);
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
fn set_regions(scenario: &Scenario<Config>, population: &Population, network: &mut NetworkModel) {
    let base = scenario.network.link_model();
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

/// Each churning server's departures (crashes) and returns (restarts), by time.
fn churn(scenario: &Scenario<Config>, population: &Population, seed: Seed) -> Vec<(Time, Fault)> {
    let Some(churn) = &scenario.settings.churn else { return Vec::new() };
    if churn.leave_per_hour <= 0.0 {
        return Vec::new();
    }
    let mut rng = seed.stream("kademlia.churn", 0);
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
    events
}
