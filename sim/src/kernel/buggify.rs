//! Fault points in protocol code: FoundationDB's BUGGIFY.
//!
//! A protocol marks a rare path it can take on purpose (a shorter timeout, a dropped batch,
//! an early snapshot) with `if ctx.buggify("raft.early_compaction") { ... }`. With no
//! `[buggify]` in the scenario every point is false and nothing is drawn, so runs without it
//! are the runs they always were. With it, each point is *active* in a run or not, decided
//! once per seed (probability `points`, from the stream `("buggify-point", digest(name))`),
//! so a seed either explores a point or leaves it alone; an active point fires at each call
//! with probability `fire`, from its own stream `("buggify", digest(name))`. Streams per
//! point mean a new point changes no other point's draws and no node's own stream, and a
//! run replays with `points = 1.0, only = [its active points]`, which `faults.toml` writes.

use std::collections::{BTreeMap, BTreeSet};

use super::hash::digest;
use super::rng::{Probability, Rng, Seed};

/// How fault points behave in a run.
#[derive(Clone, Debug, PartialEq)]
pub struct BuggifyConfig {
    /// The chance that a point is active in a run.
    pub points: Probability,
    /// The chance that an active point fires at a call.
    pub fire: Probability,
    /// If set, only these points can be active.
    pub only: Option<BTreeSet<String>>,
}

/// One point, as far as the run has met it.
#[derive(Clone, Debug)]
pub struct PointStat {
    /// Whether it is active in this run.
    pub active: bool,
    /// Calls.
    pub evaluated: u64,
    /// Calls that returned true.
    pub fired: u64,
    rng: Rng,
}

/// The points of a run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Buggify {
    config: Option<BuggifyConfig>,
    pub(crate) points: BTreeMap<&'static str, PointStat>,
}

impl Buggify {
    pub(crate) fn new(config: Option<BuggifyConfig>) -> Buggify {
        Buggify { config, points: BTreeMap::new() }
    }

    /// Whether the point `name` fires at this call.
    pub(crate) fn fires(&mut self, seed: Seed, name: &'static str) -> bool {
        let Some(config) = &self.config else { return false };
        let point = self.points.entry(name).or_insert_with(|| {
            let allowed = config.only.as_ref().is_none_or(|only| only.contains(name));
            let active = allowed && seed.stream("buggify-point", digest(name)).chance(config.points);
            PointStat { active, evaluated: 0, fired: 0, rng: seed.stream("buggify", digest(name)) }
        });
        point.evaluated += 1;
        let fired = point.active && point.rng.chance(config.fire);
        point.fired += u64::from(fired);
        fired
    }

    pub(crate) fn config(&self) -> Option<&BuggifyConfig> {
        self.config.as_ref()
    }
}
