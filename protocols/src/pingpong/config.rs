//! Ping-pong settings: the `[settings]` table of a ping-pong scenario.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How ping-pong nodes behave.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Requests each server keeps outstanding to other servers (0: servers only answer).
    /// Default: 1.
    pub window: u32,
    /// How long a request waits for its answer: a server replaces it, a client reports the
    /// operation as info (unknown). Default: "1s".
    #[serde(with = "sim::scenario::duration")]
    pub timeout: Duration,
    /// Servers append a checksummed record of every client echo to `replies.log` and fsync
    /// it before replying, and verify the log when they start: disk faults then show up as
    /// latency (slow fsync), missing replies (full disk) and corrupt records. Default: false.
    pub durable_replies: bool,
    /// With `durable_replies`, records are synced in groups (group commit): a server
    /// appends each record, syncs once this many are waiting or `group_window` after the
    /// first of them, and only then replies to their clients. A crash then finds unsynced
    /// records, which `[disk] crash_keeps` and `torn_writes` keep in part. Default: 1
    /// (every record synced on its own).
    pub group_commit: u32,
    /// How long a group waits for more records before it is synced. Default: "10ms".
    #[serde(with = "sim::scenario::duration")]
    pub group_window: Duration,
    /// Every message goes over a connection (`Ctx::connect`: ordered and reliable, broken
    /// by a long cut or a crash) instead of a datagram; answers go back on the connection
    /// the request came on. Default: false.
    pub connections: bool,
    /// Planted bugs, for testing the checks (canaries): `"panic-on-relay"` (a server panics
    /// relaying operation 100), `"phantom-reply"` (clients report operations whose id ends
    /// in 7 as ok at once, without asking a server). Default: none.
    pub bugs: Vec<Bug>,
}

/// A planted bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bug {
    /// A server panics relaying operation 100.
    PanicOnRelay,
    /// A client reports some operations ok without a server's reply.
    PhantomReply,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            window: 1,
            timeout: Duration::from_secs(1),
            durable_replies: false,
            group_commit: 1,
            group_window: Duration::from_millis(10),
            connections: false,
            bugs: Vec::new(),
        }
    }
}

impl Config {
    /// The rules across fields: `(key, message)` on failure.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.window > 10_000 {
            return Err(("window", format!("window must be at most 10000, got {}", self.window)));
        }
        if self.group_commit == 0 {
            return Err(("group_commit", "group_commit must be at least 1".into()));
        }
        if self.timeout.is_zero() {
            return Err(("timeout", "timeout must be greater than zero".into()));
        }
        Ok(())
    }
}
