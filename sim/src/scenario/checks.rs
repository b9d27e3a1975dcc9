//! `[checks]`: what a run must satisfy besides the system's own invariants.
//!
//! ```toml
//! [checks]
//! assertions = true                      # `always` assertions must hold (default)
//! liveness = { heal_by = "25s", within = "5s" }   # optional: ops = ["upload"]
//! linearizable = true                    # the history, against the system's model
//! linearizable_steps = 10000000          # the search's budget
//! allow_unknown = false                  # an exhausted budget fails the run
//! caught_by = ["raft.acknowledged_writes_kept"]  # a canary's or -unsafe finding's checks
//! [[checks.latency]]
//! op = "get"
//! phase = "after"                        # before, during or after faults; default all
//! p99 = "500ms"                          # any of p50, p90, p99, p999, max
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::text::duration;

/// The `[checks]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksSpec {
    /// Fail the run if an `always` assertion was false. Default: true.
    #[serde(default = "yes")]
    pub assertions: bool,
    /// Bounds on latency percentiles.
    #[serde(default)]
    pub latency: Vec<LatencyBound>,
    /// The system must serve again after the faults heal.
    #[serde(default)]
    pub liveness: Option<LivenessSpec>,
    /// Check the client history against the system's consistency model (linearizability,
    /// for a system that promises it). Default: on when the system has a model and the
    /// scenario a `[workload]`; parsing resolves it, so after `Scenario::parse` it is set.
    #[serde(default)]
    pub linearizable: Option<bool>,
    /// The linearizability search's budget, in search steps. Default: 10,000,000.
    #[serde(default = "linearizable_steps")]
    pub linearizable_steps: u64,
    /// An unknown linearizability verdict (budget spent) does not fail the run. Default: false.
    #[serde(default)]
    pub allow_unknown: bool,
    /// For a scenario that exists to fail (a canary, an `-unsafe` finding): the checks that
    /// catch its bug. It changes no verdict; the tests and the mutation score's sweep ask
    /// that each of these checks fails (on the seeds the scenario fails on), so a change that
    /// stops a check seeing the bug is noticed even when another check still fails.
    #[serde(default)]
    pub caught_by: Vec<String>,
}

impl ChecksSpec {
    /// Whether the run checks its history against the system's consistency model.
    pub fn is_consistency_checked(&self) -> bool {
        self.linearizable == Some(true)
    }
}

fn linearizable_steps() -> u64 {
    10_000_000
}

impl Default for ChecksSpec {
    fn default() -> ChecksSpec {
        ChecksSpec {
            assertions: true,
            latency: Vec::new(),
            liveness: None,
            linearizable: None,
            linearizable_steps: linearizable_steps(),
            allow_unknown: false,
            caught_by: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}

/// When an operation was invoked, relative to the faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Before the first fault.
    Before,
    /// From the first fault to the last one (heals and restarts included).
    During,
    /// After the last fault.
    After,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 3] = [Phase::Before, Phase::During, Phase::After];

    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Before => "before",
            Phase::During => "during",
            Phase::After => "after",
        }
    }
}

/// `[[checks.latency]]`: upper bounds on one operation's latency percentiles.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyBound {
    /// The operation name.
    pub op: String,
    /// Only operations invoked in this phase. Default: all.
    #[serde(default)]
    pub phase: Option<Phase>,
    /// Median.
    #[serde(default, with = "duration::option")]
    pub p50: Option<Duration>,
    /// 90th percentile.
    #[serde(default, with = "duration::option")]
    pub p90: Option<Duration>,
    /// 99th percentile.
    #[serde(default, with = "duration::option")]
    pub p99: Option<Duration>,
    /// 99.9th percentile.
    #[serde(default, with = "duration::option")]
    pub p999: Option<Duration>,
    /// Maximum.
    #[serde(default, with = "duration::option")]
    pub max: Option<Duration>,
}

impl LatencyBound {
    /// `(name, quantile, bound)` for every bound given; quantile 1.0 is the maximum.
    pub fn bounds(&self) -> Vec<(&'static str, f64, Duration)> {
        [
            ("p50", 0.5, self.p50),
            ("p90", 0.9, self.p90),
            ("p99", 0.99, self.p99),
            ("p999", 0.999, self.p999),
            ("max", 1.0, self.max),
        ]
        .into_iter()
        .filter_map(|(name, q, bound)| bound.map(|b| (name, q, b)))
        .collect()
    }
}

/// `liveness = { heal_by, within }`: all faults are over by `heal_by`, and for each kind of
/// operation invoked between the last fault and `within` after it, one completes ok within
/// `within` of the last fault.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivenessSpec {
    /// The last fault ends by then.
    #[serde(with = "duration")]
    pub heal_by: Duration,
    /// How soon after the last fault the system must serve.
    #[serde(with = "duration")]
    pub within: Duration,
    /// Only these kinds of operation must be served (a system whose other operations are
    /// refused by design, such as an aggregate of ranges not uploaded yet). Default: every
    /// kind invoked after the last fault.
    #[serde(default)]
    pub ops: Vec<String>,
}
