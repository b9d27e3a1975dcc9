//! Ping-pong settings.

use std::time::Duration;

/// How ping-pong nodes behave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Number of nodes. Default: 5.
    pub nodes: u32,
    /// Requests each node keeps outstanding. Default: 1.
    pub window: u32,
    /// How long a request waits for its answer before it is replaced. Default: 1 s.
    pub timeout: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config { nodes: 5, window: 1, timeout: Duration::from_secs(1) }
    }
}
