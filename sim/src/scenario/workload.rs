//! `[workload]`: who issues operations, how fast, on which keys.
//!
//! ```toml
//! [workload]
//! clients = 4                  # client nodes (after the servers). Default: 1
//! rate = "200/s"               # open loop, Poisson arrivals; or
//! concurrency = 8              # closed loop: 8 operations in flight at all times
//! mix = { get = 0.5, put = 0.5 }   # the system's operations; default: the system's mix
//! keys = 10                    # Default: 1
//! key_distribution = "zipfian" # "uniform" (default), "zipfian", "hot-key"
//! zipf_exponent = 0.99         # zipfian skew, in (0, 1). Default: 0.99
//! hot_keys = 1                 # hot-key: how many keys are hot. Default: 1
//! hot_fraction = 0.9           # hot-key: share of operations on them. Default: 0.9
//! start = "1s"                 # Default: 0
//! stop = "25s"                 # no new operations after. Default: the run's duration
//! limit = 10000                # at most this many operations. Default: no limit
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::network::probability;
use super::text::{duration, Rate};
use crate::kernel::ids::NodeId;
use crate::kernel::rng::Probability;
use crate::kernel::time::Time;
use crate::kernel::workload::{Keys, Mode, OperationSpec, WorkloadConfig};

/// The most keys a zipfian distribution may have (its setup is linear in the keys).
pub const MAX_ZIPFIAN_KEYS: u64 = 10_000_000;

/// The most operations an open-loop workload may be expected to issue in a run.
pub const MAX_OPERATIONS: u64 = 1_000_000_000;

/// The most client nodes a scenario may ask for.
pub const MAX_CLIENTS: u32 = 100_000;

/// The most operations a closed-loop workload may keep in flight (each is a worker the
/// driver allocates at the start).
pub const MAX_CONCURRENCY: u32 = 100_000;

/// How keys are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyDistribution {
    /// Every key equally likely.
    #[default]
    Uniform,
    /// YCSB's zipfian.
    Zipfian,
    /// A few hot keys take most operations.
    HotKey,
}

/// The `[workload]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Client nodes. Default: 1.
    #[serde(default = "one")]
    pub clients: u32,
    /// Open loop: arrivals per unit of time.
    #[serde(default)]
    pub rate: Option<Rate>,
    /// Closed loop: operations in flight.
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Operation weights. Default: the system's mix.
    #[serde(default)]
    pub mix: BTreeMap<String, f64>,
    /// Number of keys. Default: 1.
    #[serde(default = "one_key")]
    pub keys: u64,
    /// Default: uniform.
    #[serde(default)]
    pub key_distribution: KeyDistribution,
    /// Zipfian skew. Default: 0.99.
    #[serde(default = "zipf_exponent")]
    pub zipf_exponent: f64,
    /// Hot-key: how many keys are hot. Default: 1.
    #[serde(default = "one_key")]
    pub hot_keys: u64,
    /// Hot-key: the share of operations on hot keys. Default: 0.9.
    #[serde(default = "hot_fraction", deserialize_with = "probability")]
    pub hot_fraction: Probability,
    /// No operation before this. Default: 0.
    #[serde(default, with = "duration::option")]
    pub start: Option<Duration>,
    /// No new operation from this time. Default: the run's duration.
    #[serde(default, with = "duration::option")]
    pub stop: Option<Duration>,
    /// At most this many operations. Default: no limit.
    #[serde(default)]
    pub limit: Option<u64>,
}

fn one() -> u32 {
    1
}
fn one_key() -> u64 {
    1
}
fn zipf_exponent() -> f64 {
    0.99
}
fn hot_fraction() -> Probability {
    Probability::new(0.9).expect("0.9 is a probability")
}

impl WorkloadSpec {
    /// The rules across fields: `(key, message)` on failure.
    pub fn validate(
        &self,
        duration: Duration,
        operations: &[OperationSpec],
    ) -> Result<(), (&'static str, String)> {
        match (self.rate, self.concurrency) {
            (Some(_), Some(_)) => {
                return Err((
                    "rate",
                    "rate and concurrency cannot both be set: open loop or closed loop".into(),
                ))
            }
            (None, None) => {
                return Err(("clients", "set rate (open loop) or concurrency (closed loop)".into()))
            }
            (None, Some(workers)) if !(1..=MAX_CONCURRENCY).contains(&workers) => {
                return Err((
                    "concurrency",
                    format!("concurrency must be between 1 and {MAX_CONCURRENCY}, got {workers}"),
                ))
            }
            _ => {}
        }
        if !(1..=MAX_CLIENTS).contains(&self.clients) {
            return Err((
                "clients",
                format!("clients must be between 1 and {MAX_CLIENTS}, got {}", self.clients),
            ));
        }
        for (name, weight) in &self.mix {
            if !operations.iter().any(|op| op.name == name) {
                let known: Vec<&str> = operations.iter().map(|op| op.name).collect();
                return Err((
                    "mix",
                    format!("unknown operation {name:?}; this system's operations: {}", known.join(", ")),
                ));
            }
            if !(weight.is_finite() && *weight >= 0.0) {
                return Err((
                    "mix",
                    format!("weight of {name:?} must be a non-negative number, got {weight}"),
                ));
            }
        }
        if !self.mix.is_empty() && self.mix.values().sum::<f64>() <= 0.0 {
            return Err(("mix", "the mix weights sum to zero".into()));
        }
        if self.keys == 0 {
            return Err(("keys", "keys must be at least 1".into()));
        }
        if self.key_distribution == KeyDistribution::Zipfian && self.keys > MAX_ZIPFIAN_KEYS {
            return Err((
                "keys",
                format!("a zipfian distribution takes at most {MAX_ZIPFIAN_KEYS} keys, got {}", self.keys),
            ));
        }
        if !(self.zipf_exponent > 0.0 && self.zipf_exponent < 1.0) {
            return Err((
                "zipf_exponent",
                format!("zipf_exponent must be in (0, 1), got {}", self.zipf_exponent),
            ));
        }
        if self.hot_keys == 0 || self.hot_keys > self.keys {
            return Err((
                "hot_keys",
                format!("hot_keys must be between 1 and keys ({}), got {}", self.keys, self.hot_keys),
            ));
        }
        let start = self.start.unwrap_or_default();
        let stop = self.stop.unwrap_or(duration);
        if stop > duration {
            return Err(("stop", "stop is after the end of the run".into()));
        }
        if start >= stop {
            return Err(("start", "start must be before stop".into()));
        }
        if let Some(rate) = self.rate {
            let expected = rate.per_second * (stop - start).as_secs_f64();
            if expected > MAX_OPERATIONS as f64 {
                return Err((
                    "rate",
                    format!(
                        "{rate} for {:?} is about {expected:.0} operations; at most {MAX_OPERATIONS}",
                        stop - start
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The kernel's workload for these clients.
    pub fn config(
        &self,
        clients: Vec<NodeId>,
        duration: Duration,
        operations: &[OperationSpec],
    ) -> WorkloadConfig {
        let mix = if self.mix.is_empty() {
            operations.iter().map(|op| (op.name.to_owned(), op.weight)).collect()
        } else {
            self.mix.iter().map(|(name, weight)| (name.clone(), *weight)).collect()
        };
        let args = operations.iter().map(|op| (op.name.to_owned(), op.arg)).collect();
        let keys = match self.key_distribution {
            KeyDistribution::Uniform => Keys::Uniform { count: self.keys },
            KeyDistribution::Zipfian => Keys::Zipfian { count: self.keys, exponent: self.zipf_exponent },
            KeyDistribution::HotKey => {
                Keys::HotKey { count: self.keys, hot: self.hot_keys, fraction: self.hot_fraction }
            }
        };
        let mode = match (self.rate, self.concurrency) {
            (Some(rate), _) => Mode::Open { per_second: rate.per_second },
            (None, Some(workers)) => Mode::Closed { workers },
            (None, None) => unreachable!("validated"),
        };
        WorkloadConfig {
            clients,
            mode,
            mix,
            args,
            keys,
            start: Time::from_duration(self.start.unwrap_or_default()),
            stop: Time::from_duration(self.stop.unwrap_or(duration)),
            limit: self.limit,
        }
    }
}
