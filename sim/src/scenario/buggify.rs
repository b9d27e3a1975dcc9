//! `[buggify]`: turns on the fault points of protocol code (see `kernel::buggify`).
//!
//! ```toml
//! [buggify]
//! points = 0.25        # chance a point is active in a run (per seed). Default: 0.25
//! fire = 0.25          # chance an active point fires at a call. Default: 0.25
//! only = ["raft.early_compaction"]   # only these can be active. Default: every point
//! ```

use serde::Deserialize;

use crate::kernel::buggify::BuggifyConfig;
use crate::kernel::rng::Probability;

/// The `[buggify]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuggifySpec {
    /// The chance that a point is active in a run. Default: 0.25.
    #[serde(default = "quarter")]
    pub points: f64,
    /// The chance that an active point fires at a call. Default: 0.25.
    #[serde(default = "quarter")]
    pub fire: f64,
    /// Only these points can be active. Default: all.
    #[serde(default)]
    pub only: Vec<String>,
}

fn quarter() -> f64 {
    0.25
}

impl BuggifySpec {
    /// The rules across its fields: `(key, message)` on failure.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        for (key, p) in [("points", self.points), ("fire", self.fire)] {
            Probability::new(p).map_err(|e| (key, e.to_string()))?;
        }
        Ok(())
    }

    /// The kernel's configuration (validated first).
    pub fn config(&self) -> BuggifyConfig {
        let probability = |p: f64| Probability::new(p).unwrap_or(Probability::NEVER);
        BuggifyConfig {
            points: probability(self.points),
            fire: probability(self.fire),
            only: (!self.only.is_empty()).then(|| self.only.iter().cloned().collect()),
        }
    }
}
