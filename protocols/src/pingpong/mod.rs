//! Ping-pong: the kernel's reference system.
//!
//! Not one of the five systems: it exists to measure and test the kernel. Every node keeps
//! `window` requests outstanding, each to a random peer, and answers every request it gets.
//! A request unanswered after `timeout` is abandoned and replaced. Its cost per message is
//! close to zero, so a benchmark of it measures the engine, not the protocol.
//!
//! The fixed points every performance comparison uses are `scenarios/pingpong/bench-5.toml`
//! and `bench-100.toml`: 5 / 100 nodes, window 1, 60 simulated seconds, latency uniform
//! 1–10 ms, no faults.

mod config;
mod msg;
mod node;

pub use config::Config;
pub use msg::Msg;
pub use node::PingPong;

use sim::scenario::Scenario;
use sim::{LinkModel, Sim};

/// A simulation of `nodes` ping-pong nodes over `network`.
pub fn build(seed: u64, nodes: u32, config: &Config, network: LinkModel) -> Sim<Msg> {
    let mut sim = Sim::new(seed, network);
    for _ in 0..nodes {
        let node_config = config.clone();
        sim.add_node(move || PingPong::new(node_config.clone()));
    }
    sim
}

/// The simulation a ping-pong scenario describes.
pub fn from_scenario(scenario: &Scenario<Config>, seed: u64) -> Sim<Msg> {
    build(seed, scenario.nodes, &scenario.settings, scenario.network.link_model())
}
