//! Collective settings: the `[settings]` table of a `collective` scenario.
//!
//! The real system's timers (health polls every 10 s with a 5 s timeout, node heartbeats
//! every 10 s, the re-registration check every 30 s with 3 dials 5 s apart, peer heartbeats
//! and state syncs every 30 s, peering retries from 1 s doubling to 5 min) are settings with
//! those defaults, so a scenario can shorten them; its constants (RF 2, 10 s per replica
//! write, chunk sizes by file size) are too.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sim::scenario::{duration, Bytes};

/// How the collective behaves.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `"collective"` (ColeGreenlee/collective at 317ed19 as its code is) or `"durable"`
    /// (the design it reaches for). Default: "durable".
    pub mode: Mode,
    /// Storage nodes per member: `[3, 3, 3]` is three members (alice, bob, carol), each a
    /// coordinator and three nodes. Servers are the coordinators first (server m is member
    /// m's), then each member's nodes in turn, so the scenario's `nodes` must be the number
    /// of members plus the sum. Default: [3, 3, 3].
    pub members: Vec<u32>,
    /// Replicas of every chunk. Default: 2.
    pub replication: u32,
    /// Durable mode: the replicas every chunk must have before a put is acknowledged.
    /// Default: `replication`.
    pub write_quorum: Option<u32>,
    /// One chunk size for every file. Default: by file size, as the real system cuts them
    /// (64 KiB under 1 MiB, 4 MiB over 100 MiB, else 1 MiB).
    pub chunk_size: Option<Bytes>,
    /// File sizes: `"3MB"` (every file), `"64KiB..16MiB"` (log-uniform: as many files
    /// between 64 and 128 KiB as between 8 and 16 MiB), or a list of these, one picked at
    /// random per file (`["3MB", "1GB"]`). Drawn per put from the seed, so every node knows
    /// a file's size from its id. Default: "64KiB..8MiB".
    pub file_size: FileSize,
    /// Directories in each member's namespace (key k is `/m{k % members}/d{k % dirs}/f{k}`).
    /// Default: 4.
    pub dirs: u32,
    /// Durable mode: chunks a write or a read moves at once (the real code: one). Default: 4.
    pub parallel_chunks: u32,
    /// How long a coordinator waits for one replica write. Default: "10s".
    #[serde(with = "duration")]
    pub store_timeout: Duration,
    /// How long a coordinator waits for one chunk read. Default: "10s".
    #[serde(with = "duration")]
    pub retrieve_timeout: Duration,
    /// A coordinator polls its nodes' health this often. Default: "10s".
    #[serde(with = "duration")]
    pub health_interval: Duration,
    /// ... and waits this long for an answer. Default: "5s".
    #[serde(with = "duration")]
    pub health_timeout: Duration,
    /// A node heartbeats its coordinator this often (same timeout as health polls).
    /// Default: "10s".
    #[serde(with = "duration")]
    pub node_heartbeat: Duration,
    /// A node checks that it is registered this often. Default: "30s".
    #[serde(with = "duration")]
    pub reregister_interval: Duration,
    /// Coordinators heartbeat their peers this often (timeout 10 s). Default: "30s".
    #[serde(with = "duration")]
    pub peer_heartbeat: Duration,
    /// Coordinators send their peers their node lists this often. Default: "30s".
    #[serde(with = "duration")]
    pub sync_interval: Duration,
    /// Durable mode: a node not healthy for this long is lost, and its chunks are copied
    /// elsewhere. Default: "30s".
    #[serde(with = "duration")]
    pub lost_after: Duration,
    /// Durable mode: ask every node for its chunks this often and delete those no file
    /// refers to. Default: "30s".
    #[serde(with = "duration")]
    pub gc_interval: Duration,
    /// `collective.replication_restored`: every chunk is back at `replication` this long
    /// after the last node lost for good went down. Default: "120s".
    #[serde(with = "duration")]
    pub restore_within: Duration,
    /// How long a client waits for a coordinator's answer. Default: "300s".
    #[serde(with = "duration")]
    pub client_timeout: Duration,
    /// For this long before the run ends, clients take no operations but read back every
    /// path they wrote (the audit `collective.acknowledged_files_intact` judges at the end).
    /// Default: "60s".
    #[serde(with = "duration")]
    pub audit: Duration,
    /// Planted bugs (the real system's documented ones), for testing the checks.
    pub bugs: Vec<Bug>,
}

impl Default for Config {
    fn default() -> Config {
        let secs = Duration::from_secs;
        Config {
            mode: Mode::Durable,
            members: vec![3, 3, 3],
            replication: 2,
            write_quorum: None,
            chunk_size: None,
            file_size: FileSize::One("64KiB..8MiB".into()),
            dirs: 4,
            parallel_chunks: 4,
            store_timeout: secs(10),
            retrieve_timeout: secs(10),
            health_interval: secs(10),
            health_timeout: secs(5),
            node_heartbeat: secs(10),
            reregister_interval: secs(30),
            peer_heartbeat: secs(30),
            sync_interval: secs(30),
            lost_after: secs(30),
            gc_interval: secs(30),
            restore_within: secs(120),
            client_timeout: secs(300),
            audit: secs(60),
            bugs: Vec::new(),
        }
    }
}

/// Which protocol the members run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The code at 317ed19.
    Collective,
    /// The design it reaches for.
    Durable,
}

/// A planted bug: one of the real system's documented ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bug {
    /// Before the per-file lock: concurrent uploads of one path interleave, each writing
    /// its chunks into the shared file entry as they land, and each replacing the path's
    /// chunk allocations with its own instead of merging them.
    ConcurrentUpload,
    /// Before registration from heartbeats: a node registers once, at start, and never
    /// again, so after a coordinator restart its coordinator does not know it.
    NoReregister,
    /// The FUSE client's read path at 317ed19 (`ReadFile`; fixed in 6bc05bd): reassembly
    /// gives every chunk index 0, so a file of several chunks reads back empty, reported as
    /// success. The model's reads are the CLI's (`ReadFileStream`), which this bug does not
    /// reach (docs/design-notes.md).
    ReassemblyIndexZero,
}

/// `file_size` as written: one size or range, or a list of them.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum FileSize {
    /// One size or range.
    One(String),
    /// One of these, picked per file.
    Choice(Vec<String>),
}

const KIB: u64 = 1024;
pub(super) const MIB: u64 = 1024 * KIB;

/// File sizes to draw from: `[min, max]`, log-uniform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// The smallest.
    pub min: u64,
    /// The largest.
    pub max: u64,
}

impl Sizes {
    /// Parses `"3MB"` or `"64KiB..16MiB"`.
    pub fn parse(text: &str) -> Result<Sizes, String> {
        let (min, max) = match text.split_once("..") {
            Some((min, max)) => (Bytes::parse(min)?.0, Bytes::parse(max)?.0),
            None => {
                let size = Bytes::parse(text)?.0;
                (size, size)
            }
        };
        if min == 0 || min > max {
            return Err(format!("file_size {text:?}: sizes are at least 1 byte and the range ascends"));
        }
        Ok(Sizes { min, max })
    }

    /// A size drawn log-uniformly with `unit` in [0, 1).
    pub fn draw(&self, unit: f64) -> u64 {
        if self.min == self.max {
            return self.min;
        }
        let (lo, hi) = (libm::log(self.min as f64), libm::log(self.max as f64));
        (libm::exp(lo + unit * (hi - lo)) as u64).clamp(self.min, self.max)
    }
}

impl Config {
    /// Write quorum in effect.
    pub fn quorum(&self) -> u32 {
        self.write_quorum.unwrap_or(self.replication)
    }

    /// Whether a file of `size` bytes takes the real code's streaming path: clients stream
    /// files over 4 MiB, which the coordinator cuts into 3 MiB chunks and stores up to 10
    /// at a time (`mode = "collective"` only).
    pub fn streams(&self, size: u64) -> bool {
        self.mode == Mode::Collective && size > 4 * MIB
    }

    /// The chunk size of a file of `size` bytes.
    pub fn chunk_size(&self, size: u64) -> u64 {
        match self.chunk_size {
            Some(fixed) => fixed.0,
            None if self.streams(size) => 3 * MIB,
            None if size < MIB => 64 * KIB,
            None if size > 100 * MIB => 4 * MIB,
            None => MIB,
        }
    }

    /// The faithful mode's chunk size for a whole-file upload of `size` bytes, given the
    /// coordinator's `ChunkManager` size `sticky` (1 MiB at start): while that is still the
    /// default, the file's best size replaces it, and every later upload uses it
    /// (`storage.go:63-70` at 317ed19: "Override with optimal size if not manually set",
    /// which sets the manager's size once). A fixed `chunk_size` setting is used as is.
    pub fn whole_file_chunk(&self, sticky: &mut u64, size: u64) -> u64 {
        if let Some(fixed) = self.chunk_size {
            return fixed.0;
        }
        if *sticky == MIB {
            *sticky = self.chunk_size(size);
        }
        *sticky
    }

    /// Chunks a write of `size` bytes stores at once.
    pub fn chunks_in_flight(&self, size: u64) -> usize {
        match self.mode {
            Mode::Durable => self.parallel_chunks as usize,
            Mode::Collective if self.streams(size) => 10,
            Mode::Collective => 1,
        }
    }

    /// The file sizes: one is picked per file, then a size drawn from it.
    pub fn sizes(&self) -> Result<Vec<Sizes>, String> {
        let texts = match &self.file_size {
            FileSize::One(text) => std::slice::from_ref(text),
            FileSize::Choice(texts) if texts.is_empty() => return Err("file_size lists no sizes".into()),
            FileSize::Choice(texts) => texts.as_slice(),
        };
        texts.iter().map(|t| Sizes::parse(t)).collect()
    }

    /// Whether `bug` is planted.
    pub fn has(&self, bug: Bug) -> bool {
        self.bugs.contains(&bug)
    }

    /// The rules across fields: `(settings key, message)` on failure.
    pub fn validate(&self, nodes: u32, run: Duration) -> Result<(), (&'static str, String)> {
        if self.members.is_empty() {
            return Err(("members", "at least one member is needed".into()));
        }
        if let Some(m) = self.members.iter().position(|n| *n == 0) {
            return Err((
                "members",
                format!("member {m} has no nodes: every member needs at least one storage node"),
            ));
        }
        let servers = self.members.len() as u32 + self.members.iter().sum::<u32>();
        if servers != nodes {
            return Err((
                "members",
                format!(
                    "{} members with {} nodes make {servers} servers (a coordinator each), but the scenario has nodes = {nodes}",
                    self.members.len(),
                    self.members.iter().sum::<u32>()
                ),
            ));
        }
        let storage: u32 = self.members.iter().sum();
        if self.replication == 0 {
            return Err(("replication", "replication must be at least 1".into()));
        }
        if self.replication > storage {
            return Err((
                "replication",
                format!("replication {} exceeds the {storage} storage nodes", self.replication),
            ));
        }
        if let Some(w) = self.write_quorum {
            if w == 0 || w > self.replication {
                return Err((
                    "write_quorum",
                    format!("write_quorum {w} must be between 1 and replication ({})", self.replication),
                ));
            }
            if self.mode == Mode::Collective {
                return Err((
                    "write_quorum",
                    "write_quorum is the durable mode's (the real code stores a chunk once one replica is)"
                        .into(),
                ));
            }
        }
        if self.chunk_size.is_some_and(|c| c.0 == 0) {
            return Err(("chunk_size", "chunk_size must be more than zero".into()));
        }
        self.sizes().map_err(|e| ("file_size", e))?;
        if self.dirs == 0 {
            return Err(("dirs", "dirs must be at least 1".into()));
        }
        if self.parallel_chunks == 0 {
            return Err(("parallel_chunks", "parallel_chunks must be at least 1".into()));
        }
        sim::scenario::nonzero(&[
            ("store_timeout", self.store_timeout),
            ("retrieve_timeout", self.retrieve_timeout),
            ("health_interval", self.health_interval),
            ("health_timeout", self.health_timeout),
            ("node_heartbeat", self.node_heartbeat),
            ("reregister_interval", self.reregister_interval),
            ("peer_heartbeat", self.peer_heartbeat),
            ("sync_interval", self.sync_interval),
            ("lost_after", self.lost_after),
            ("gc_interval", self.gc_interval),
            ("client_timeout", self.client_timeout),
        ])?;
        if self.audit >= run {
            return Err((
                "audit",
                format!("audit ({:?}) must be shorter than the run ({run:?})", self.audit),
            ));
        }
        if self.mode == Mode::Collective && self.has(Bug::NoReregister) {
            return Err((
                "bugs",
                "no-reregister shows only where metadata survives a coordinator restart: it needs mode = \"durable\"".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_follow_the_real_rule() {
        let config = Config::default();
        assert_eq!(config.chunk_size(500 << 10), 64 << 10);
        assert_eq!(config.chunk_size(3_000_000), 1 << 20);
        assert_eq!(config.chunk_size(1 << 30), 4 << 20);
        let faithful = Config { mode: Mode::Collective, ..Config::default() };
        assert_eq!(faithful.chunk_size(3_000_000), 1 << 20, "uploaded whole");
        assert_eq!(faithful.chunk_size(1 << 30), 3 << 20, "streamed");
        assert_eq!((faithful.chunks_in_flight(3_000_000), faithful.chunks_in_flight(1 << 30)), (1, 10));
    }

    #[test]
    fn the_first_non_default_chunk_size_sticks_in_the_faithful_mode() {
        let faithful = Config { mode: Mode::Collective, ..Config::default() };
        let mut sticky = MIB;
        // Medium files keep the default, so the manager's size is still open.
        assert_eq!(faithful.whole_file_chunk(&mut sticky, 3_000_000), MIB);
        // A small file's 64 KiB then sticks: a later 3 MB upload is cut into 64 KiB chunks.
        assert_eq!(faithful.whole_file_chunk(&mut sticky, 500 << 10), 64 << 10);
        assert_eq!(faithful.whole_file_chunk(&mut sticky, 3_000_000), 64 << 10);
        assert_eq!(sticky, 64 << 10);
    }

    #[test]
    fn sizes_parse_and_draw_within_range() {
        let sizes = Sizes::parse("64KiB..16MiB").unwrap();
        assert_eq!((sizes.min, sizes.max), (64 << 10, 16 << 20));
        assert_eq!(sizes.draw(0.0), 64 << 10);
        let mid = sizes.draw(0.5);
        assert!(((1 << 20) - 10..=(1 << 20) + 10).contains(&mid), "the geometric middle: {mid}");
        assert_eq!(Sizes::parse("3MB").unwrap(), Sizes { min: 3_000_000, max: 3_000_000 });
        assert!(Sizes::parse("0..1MB").is_err());
        assert!(Sizes::parse("2MB..1MB").is_err());
        assert!(Sizes::parse("lots").is_err());
    }
}
