//! Ping-pong settings: the `[settings]` table of a ping-pong scenario.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How ping-pong nodes behave.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Requests each node keeps outstanding. Default: 1.
    pub window: u32,
    /// How long a request waits for its answer before it is replaced. Default: "1s".
    #[serde(with = "sim::scenario::duration")]
    pub timeout: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config { window: 1, timeout: Duration::from_secs(1) }
    }
}

impl Config {
    /// The rules across fields.
    pub fn validate(&self) -> Result<(), String> {
        if self.window == 0 {
            return Err("settings.window must be at least 1".into());
        }
        if self.timeout.is_zero() {
            return Err("settings.timeout must be greater than zero".into());
        }
        Ok(())
    }
}
